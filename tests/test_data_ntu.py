"""NTU .skeleton reader, body selection and the reference preprocessing, on the real sample files."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cognn.data.ntu import JOINT_FIELDS, SampleName, parse_ntu_bytes, parse_sample_name, read_ntu_skeleton, to_array
from cognn.data.transforms import OnlineNormalizer, alignment_rotations, bone, motion, pad_to, pre_normalization, rotate
from cognn.errors import InputFileError
from cognn.layouts import NTU25

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SKEL = DATA / "ntu" / "skeletons"
FILES = sorted(SKEL.glob("*.skeleton")) if SKEL.is_dir() else []
needs_data = pytest.mark.skipif(not FILES, reason=f"real NTU samples not found in {SKEL}")


def _file(name: str) -> Path:
    return SKEL / f"{name}.skeleton"


# ---------------------------------------------------------------------------------------------------------------------
# oracles written straight from the reference's description (per-line Python parsing, loops)

def oracle_read(raw: bytes) -> list[list[tuple[list[str], np.ndarray]]]:
    lines = raw.decode("ascii").splitlines()
    it = iter(lines)
    frames = []
    for _ in range(int(next(it))):
        bodies = []
        for _ in range(int(next(it))):
            info = next(it).split()
            nj = int(next(it))
            joints = np.array([[float(v) for v in next(it).split()] for _ in range(nj)])
            bodies.append((info, joints))
        frames.append(bodies)
    return frames


def oracle_to_array(raw: bytes, max_body: int = 4, keep: int = 2) -> np.ndarray:
    frames = oracle_read(raw)
    data = np.zeros((max_body, len(frames), 25, 3))
    for n, f in enumerate(frames):
        for m, (_, joints) in enumerate(f):
            if m < max_body:
                data[m, n] = joints[:, :3]
    energy = []
    for s in data:
        s = s[s.sum(-1).sum(-1) != 0]
        energy.append(s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std() if len(s) else 0)
    index = np.array(energy).argsort(kind="stable")[::-1][:keep]
    return data[index].transpose(3, 1, 2, 0).astype(np.float32)


def synthetic(bodies_per_frame: list[int], seed: int = 0, crlf: bool = False) -> bytes:
    """A valid .skeleton text with the given number of bodies per frame; body k moves with amplitude k+1."""
    rng = np.random.default_rng(seed)
    out = [str(len(bodies_per_frame))]
    for _t, nb in enumerate(bodies_per_frame):
        out.append(str(nb))
        for b in range(nb):
            out.append(f"{7205759403793 + b} 0 1 1 1 1 0 0.0{b} -0.5 2")
            out.append("25")
            for j in range(25):
                xyz = rng.normal(size=3) * (b + 1) * 0.1 + np.array([b, 0.1 * j, 3.0])
                rest = rng.uniform(0, 500, size=4)
                out.append(" ".join(f"{v:.7g}" for v in xyz) + " " + " ".join(f"{v:.4f}" for v in rest)
                           + " 0.1 -0.2 0.3 0.9 2")
    return ("\r\n" if crlf else "\n").join(out).encode() + (b"\r\n" if crlf else b"\n")


# ---------------------------------------------------------------------------------------------------------------------
# reading

@needs_data
@pytest.mark.parametrize("name, frames, bodies", [
    ("S001C001P001R001A001", 103, 1), ("S001C001P001R001A050", 74, 2), ("S001C001P001R001A011", 82, 1),
    ("S002C001P003R001A003", 100, 1)])
def test_known_facts(name, frames, bodies):
    s = read_ntu_skeleton(_file(name))
    assert s.name == name and s.num_frames == frames == len(s.frames)
    assert s.max_bodies == bodies
    if name.endswith("A050"):
        assert all(len(f) == 2 for f in s.frames)
    b = s.frames[0][0]
    assert b.joints.shape == (25, len(JOINT_FIELDS)) and b.joints.dtype == np.float32
    assert b.body_id.isdigit() and len(b.body_id) >= 15  # 64-bit Kinect ids kept exactly, as text


@needs_data
def test_first_body_fields_match_file_text():
    s = read_ntu_skeleton(_file("S001C001P001R001A001"))
    b = s.frames[0][0]
    # line 3 of the file: "72057594037931101 0 1 1 1 1 0 0.02764709 0.05745083 2"
    assert (b.body_id, b.clipped_edges, b.hand_left_confidence, b.hand_left_state, b.hand_right_confidence,
            b.hand_right_state, b.is_restricted, b.tracking_state) == ("72057594037931101", 0, 1, 1, 1, 1, 0, 2)
    assert b.lean_x == 0.02764709 and b.lean_y == 0.05745083
    assert b.joints[0].tolist() == np.float32([0.2181153, 0.1725972, 3.785547, 277.419, 191.8218, 1036.233,
                                               519.1677, -0.2059419, 0.05349901, 0.9692109, -0.1239193, 2]).tolist()


@needs_data
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_values_equal_per_line_float_parse(path):
    raw = path.read_bytes()
    s = parse_ntu_bytes(raw, path)
    ref = oracle_read(raw)
    assert [len(f) for f in s.frames] == [len(f) for f in ref]
    for fr, rf in zip(s.frames, ref):
        for b, (info, joints) in zip(fr, rf):
            assert b.body_id == info[0]
            np.testing.assert_array_equal(b.joints, joints.astype(np.float32))


@needs_data
def test_lf_variant_parses_identically():
    crlf = read_ntu_skeleton(_file("S001C001P001R001A001"))
    lf = read_ntu_skeleton(SKEL / "lf_variant" / "S001C001P001R001A001.skeleton")
    assert lf.num_frames == crlf.num_frames
    for a, b in zip(crlf.frames, lf.frames):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert {k: v for k, v in vars(x).items() if k != "joints"} == \
                   {k: v for k, v in vars(y).items() if k != "joints"}
            np.testing.assert_array_equal(x.joints, y.joints)


def test_frames_without_bodies_and_many_bodies():
    counts = [0, 1, 3, 5, 0, 2, 4, 0]
    for crlf in (False, True):
        raw = synthetic(counts, crlf=crlf)
        s = parse_ntu_bytes(raw, "S001C001P001R001A001.skeleton")
        assert [len(f) for f in s.frames] == counts
        np.testing.assert_array_equal(to_array(s), oracle_to_array(raw))


def test_zero_frames():
    s = parse_ntu_bytes(b"0\r\n", "x.skeleton")
    assert s.num_frames == 0 and s.frames == []
    assert to_array(s).shape == (3, 0, 25, 2)


def test_exponent_and_long_numbers_fall_back_exactly():
    raw = synthetic([1], seed=3).replace(b" 0.1 -0.2 0.3 0.9 2", b" 1.5E-05 -2e3 0.12345678901234567 -0 2", 1)
    s = parse_ntu_bytes(raw, "x.skeleton")
    np.testing.assert_array_equal(s.frames[0][0].joints[0, 7:], np.float32([1.5e-05, -2e3, 0.12345678901234567,
                                                                             -0.0, 2]))


# ---------------------------------------------------------------------------------------------------------------------
# body selection

@needs_data
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_to_array_matches_reference_selection(path):
    raw = path.read_bytes()
    x = to_array(parse_ntu_bytes(raw, path))
    assert x.dtype == np.float32 and x.shape == (3, read_ntu_skeleton(path).num_frames, 25, 2)
    np.testing.assert_array_equal(x, oracle_to_array(raw))


def test_selection_keeps_two_most_energetic_sorted():
    # body slots 0..3 move with amplitude 1..4: the output must be slots 3 then 2
    raw = synthetic([4] * 20, seed=1)
    s = parse_ntu_bytes(raw, "x.skeleton")
    x = to_array(s)
    full = np.stack([np.stack([f[m].joints[:, :3] for f in s.frames]) for m in range(4)])  # (M, T, V, 3)
    np.testing.assert_array_equal(x[..., 0], full[3].transpose(2, 0, 1))
    np.testing.assert_array_equal(x[..., 1], full[2].transpose(2, 0, 1))
    # a fifth body is never read (the reference reads at most 4)
    s5 = parse_ntu_bytes(synthetic([5] * 6, seed=2), "x.skeleton")
    assert to_array(s5).shape == (3, 6, 25, 2)


@needs_data
def test_color_channels_follow_the_same_bodies():
    s = read_ntu_skeleton(_file("S001C001P001R001A050"))
    xyz = to_array(s)
    col = to_array(s, channels="color")
    assert col.shape == (2, 74, 25, 2) and col.dtype == np.float32
    # pick the body of slot 0 by matching x, then its colour pixels must match
    for m in range(2):
        src = [b for b in range(2) if np.array_equal(s.frames[0][b].joints[:, 0], xyz[0, 0, :, m])][0]
        np.testing.assert_array_equal(col[:, 0, :, m], s.frames[0][src].joints[:, 5:7].T)
    assert 0 < col[0].max() < 1920 and 0 < col[1].max() < 1080
    with pytest.raises(ValueError):
        to_array(s, channels="rgb")


# ---------------------------------------------------------------------------------------------------------------------
# sample names

def test_parse_sample_name():
    sn = parse_sample_name("S001C002P003R002A013")
    assert sn == SampleName(1, 2, 3, 2, 13) and sn.label == 12 and str(sn) == "S001C002P003R002A013"
    assert parse_sample_name("/x/y/S017C003P020R001A120.skeleton") == SampleName(17, 3, 20, 1, 120)
    for bad in ["S001C002P003R002", "S1C2P3R2A13", "S001C002P003R002A000", "hello", "S001C002P003R002A013x", ""]:
        with pytest.raises(InputFileError, match="not an NTU RGB\\+D sample name"):
            parse_sample_name(bad)


# ---------------------------------------------------------------------------------------------------------------------
# malformed input: InputFileError naming the file and the line

GOOD = synthetic([1, 2, 0, 1], seed=5)
GOOD_LINES = GOOD.decode().split("\n")


def _lines(lines: list[str]) -> bytes:
    return "\n".join(lines).encode()


def _err(raw: bytes, name: str = "S001C001P001R001A001.skeleton") -> InputFileError:
    with pytest.raises(InputFileError) as ei:
        parse_ntu_bytes(raw, name)
    assert name in str(ei.value)
    return ei.value


def test_good_synthetic_parses():
    assert [len(f) for f in parse_ntu_bytes(GOOD).frames] == [1, 2, 0, 1]


@pytest.mark.parametrize("case, line, text", [
    ("truncated mid-joint-line", 20, "truncated"),
    ("truncated at line end", 31, "truncated"),
    ("wrong joint count", 4, "24 joints"),
    ("non-numeric field", 5, "not a number"),
    ("frame count too large", 114, "truncated"),
    ("frame count too small", 86, "frame count"),
    ("body line short", 3, "fields"),
    ("joint line long", 7, "fields"),
    ("negative body count", 2, "non-negative integer"),
    ("fractional frame count", 1, "non-negative integer"),
    ("blank line inside", 3, "fields"),
    ("integer field fractional", 3, "integer"),
])
def test_malformed_ntu(case, line, text):
    ls = list(GOOD_LINES)
    if case == "truncated mid-joint-line":
        raw = _lines(ls[:19] + [ls[19][:15]])
    elif case == "truncated at line end":
        raw = _lines(ls[:30])
    elif case == "wrong joint count":
        ls[3] = "24"
        raw = _lines(ls[:4] + ls[5:])
    elif case == "non-numeric field":
        ls[4] = ls[4].replace(" ", " abc ", 1)
        raw = _lines(ls)
    elif case == "frame count too large":
        ls[0] = "5"
        raw = _lines(ls)
    elif case == "frame count too small":
        ls[0] = "3"
        raw = _lines(ls)
    elif case == "body line short":
        ls[2] = " ".join(ls[2].split()[:9])
        raw = _lines(ls)
    elif case == "joint line long":
        ls[6] += " 7"
        raw = _lines(ls)
    elif case == "negative body count":
        ls[1] = "-1"
        raw = _lines(ls)
    elif case == "fractional frame count":
        ls[0] = "4.0"
        raw = _lines(ls)
    elif case == "blank line inside":
        raw = _lines(ls[:2] + [""] + ls[2:])
    else:
        ls[2] = ls[2].replace(" 0 1 1 1 1 0 ", " 0 1.5 1 1 1 0 ")
        raw = _lines(ls)
    e = _err(raw)
    assert e.line == line, str(e)
    assert f"line {line}" in str(e) and text in str(e), str(e)


def test_empty_binary_and_missing(tmp_path):
    for raw in (b"", b"   \r\n\n"):
        assert "empty" in str(_err(raw))
    e = _err(b"\x00\x01\xff\xfe" * 50)
    assert "not a text file" in str(e) and e.line == 1
    e = _err(GOOD[:200] + "é".encode() + GOOD[200:])
    assert "not a text file" in str(e)
    with pytest.raises(InputFileError, match="file not found"):
        read_ntu_skeleton(tmp_path / "nope.skeleton")
    with pytest.raises(InputFileError, match="directory"):
        read_ntu_skeleton(tmp_path)


# ---------------------------------------------------------------------------------------------------------------------
# reference preprocessing

def oracle_pre_normalization(data: np.ndarray) -> np.ndarray:
    """The reference pre_normalization written as plain loops (zaxis (0, 1), xaxis (8, 4))."""
    def rot(axis, theta):
        if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
            return np.eye(3)
        axis = np.asarray(axis) / math.sqrt(np.dot(axis, axis))
        a = math.cos(theta / 2.0)
        b, c, d = -axis * math.sin(theta / 2.0)
        return np.array([[a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
                         [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
                         [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c]])

    def angle(v1, v2):
        if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
            return 0
        u2 = np.asarray(v2) / np.linalg.norm(v2)
        return np.arccos(np.clip(np.dot(v1 / np.linalg.norm(v1), u2), -1.0, 1.0))

    s = np.transpose(data.copy(), [0, 4, 2, 3, 1])
    n_, m_, t_, v_, _ = s.shape
    for i in range(n_):
        for p in range(m_):
            person = s[i, p]
            if person.sum() == 0:
                continue
            if person[0].sum() == 0:
                tmp = person[person.sum(-1).sum(-1) != 0].copy()
                person *= 0
                person[:len(tmp)] = tmp
            for f in range(t_):
                if person[f].sum() == 0 and person[f:].sum() == 0:
                    reps = int(np.ceil((t_ - f) / f))
                    s[i, p, f:] = np.concatenate([person[:f]] * reps, 0)[:t_ - f]
                    break
    for i in range(n_):
        if s[i].sum() == 0:
            continue
        c = s[i, 0][:, 1:2, :].copy()
        for p in range(m_):
            if s[i, p].sum() != 0:
                s[i, p] = (s[i, p] - c) * (s[i, p].sum(-1) != 0).reshape(t_, v_, 1)
    for j0, j1, target in ((0, 1, [0, 0, 1]), (8, 4, [1, 0, 0])):
        for i in range(n_):
            if s[i].sum() == 0:
                continue
            v = s[i, 0, 0, j1] - s[i, 0, 0, j0] if target[2] else s[i, 0, 0, j0] - s[i, 0, 0, j1]
            mat = rot(np.cross(v, target), angle(v, target))
            for p in range(m_):
                if s[i, p].sum() == 0:
                    continue
                for f in range(t_):
                    if s[i, p, f].sum() != 0:
                        for j in range(v_):
                            s[i, p, f, j] = np.dot(mat, s[i, p, f, j])
    return np.transpose(s, [0, 4, 2, 3, 1])


@pytest.fixture(scope="module")
def real_batch():
    if not FILES:
        pytest.skip(f"real NTU samples not found in {SKEL}")
    return np.stack([pad_to(to_array(read_ntu_skeleton(f)), 300) for f in FILES])


def test_pre_normalization_equals_reference_loops(real_batch):
    out = pre_normalization(real_batch)
    assert out.shape == real_batch.shape and out.dtype == np.float32
    # the loop oracle is slow: compare on the first 40 frames padded the same way
    small = real_batch.copy()
    small[:, :, 40:] = 0
    np.testing.assert_array_equal(pre_normalization(small), oracle_pre_normalization(small))


def test_pre_normalization_geometry(real_batch):
    out = pre_normalization(real_batch)
    for i, f in enumerate(FILES):
        x = out[i, :, :, :, 0]  # person 0, (C, T, V)
        np.testing.assert_array_equal(x[:, :, 1], 0)  # origin: spine-mid of person 0 at 0 in every frame
        shoulders = x[:, 0, 8] - x[:, 0, 4]
        assert abs(shoulders[1]) < 1e-6 and abs(shoulders[2]) < 1e-6 and shoulders[0] > 0.2, shoulders
        spine = x[:, 0, 1] - x[:, 0, 0]
        # the second (shoulder) rotation tilts the spine again slightly, as in the reference
        tilt = np.degrees(np.arccos(spine[2] / np.linalg.norm(spine)))
        assert tilt < 10, (f.name, tilt)
        # padding: null frames repeat the sequence
        t = read_ntu_skeleton(f).num_frames
        np.testing.assert_array_equal(out[i, :, t:2 * t], out[i, :, :t][:, :min(t, 300 - t)])


def test_first_rotation_makes_spine_parallel_to_z(real_batch):
    s = real_batch[0].transpose(3, 1, 2, 0)[0, 0].copy()  # person 0, frame 0, (V, 3)
    s = s - s[1]
    mz, mx = alignment_rotations(s)
    r = rotate(s[None], mz)[0]
    spine = r[1] - r[0]
    assert abs(spine[0]) < 1e-6 and abs(spine[1]) < 1e-6 and spine[2] > 0
    r2 = rotate(r[None], mx)[0]
    sh = r2[8] - r2[4]
    assert abs(sh[1]) < 1e-6 and abs(sh[2]) < 1e-6 and sh[0] > 0


def test_online_normalizer_equals_clip_version(real_batch):
    for i, f in enumerate(FILES):
        t = read_ntu_skeleton(f).num_frames
        clip = pre_normalization(real_batch[i])
        norm = OnlineNormalizer("ntu25")
        live = np.stack([norm(real_batch[i][:, k]) for k in range(t)], axis=1)
        np.testing.assert_array_equal(live, clip[:, :t])
        assert norm.ready
        norm.reset()
        np.testing.assert_array_equal(norm.transform(real_batch[i][:, :t]), clip[:, :t])


def test_online_normalizer_waits_for_person():
    norm = OnlineNormalizer()
    assert not norm.ready
    np.testing.assert_array_equal(norm(np.zeros((3, 25, 2))), 0)
    assert not norm.ready


def test_null_frame_padding_and_empty_sample():
    x = np.zeros((3, 10, 25, 2), np.float32)
    c, k, j = np.meshgrid(np.arange(3), np.arange(3), np.arange(25), indexing="ij")
    x[:, 3:6, :, 0] = (k + 1) * (j + 1) * (c + 1) / 10
    out = pre_normalization(x)
    # frames 3..5 moved to the front, then repeated: a, b, c, a, b, c, a, b, c, a
    assert not np.array_equal(out[:, 0], out[:, 1])
    for t in range(3, 10):
        np.testing.assert_array_equal(out[:, t], out[:, t % 3])
    np.testing.assert_array_equal(pre_normalization(np.zeros((2, 3, 5, 25, 2))), 0)
    with pytest.raises(ValueError, match="3-D"):
        pre_normalization(x, "kinetics18")


def test_pad_bone_motion():
    x = np.random.default_rng(0).normal(size=(3, 7, 25, 2)).astype(np.float32)
    p = pad_to(x, 10)
    assert p.shape == (3, 10, 25, 2) and not p[:, 7:].any() and np.array_equal(p[:, :7], x)
    with pytest.raises(ValueError):
        pad_to(x, 5)
    assert pad_to(x, 5, truncate=True).shape == (3, 5, 25, 2)
    b = bone(x, NTU25)
    for c, par in NTU25.bone_pairs:
        np.testing.assert_array_equal(b[:, :, c], x[:, :, c] - x[:, :, par])
    assert not b[:, :, 20].any()  # the centre is its own parent
    m = motion(x[None])[0]
    np.testing.assert_array_equal(m[:, :-1], x[:, 1:] - x[:, :-1])
    assert not m[:, -1].any()


def test_non_finite_joint_values_zeroed_with_a_warning():
    from cognn.data.files import InputValueWarning

    name = "S001C001P001R001A001.skeleton"
    ref = parse_ntu_bytes(GOOD, name)
    for bad in (b"nan", b"inf", b"1e39", b"-1e300"):
        raw = GOOD.replace(b" 0.1 -0.2 0.3 0.9 2", b" 0.1 -0.2 " + bad + b" 0.9 2", 1)
        assert raw != GOOD
        with pytest.warns(InputValueWarning) as rec:
            s = parse_ntu_bytes(raw, name)
        msg = str(rec[0].message)
        assert name in msg and "1 joint(s)" in msg and "line 5" in msg and "finite" in msg, msg
        j = s.frames[0][0].joints
        assert np.isfinite(j).all() and not j[0].any()  # line 5 = first joint of the first body, all 12 columns
        np.testing.assert_array_equal(j[1:], ref.frames[0][0].joints[1:])
