"""Kinetics-skeleton JSON reader and the reference feeder conversion, on the real sample files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cognn.data.kinetics import read_kinetics_json, to_array
from cognn.errors import InputFileError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KIN = DATA / "kinetics"
FILES = sorted(KIN.glob("*.json")) if KIN.is_dir() else []
needs_data = pytest.mark.skipif(not FILES, reason=f"real Kinetics-skeleton samples not found in {KIN}")
PANCAKE = KIN / "--33Lscn6sk.json"
NTU_JSON = KIN / "S004C002P003R001A055_rgb.json"


def oracle_feeder(video_info: dict, flip_y: bool, t_max: int = 300, m_in: int = 5, m_out: int = 2) -> np.ndarray:
    """The 2s-AGCN / st-gcn feeder steps as plain loops on the decoded JSON."""
    d = np.zeros((3, t_max, 18, m_in))
    for frame in video_info["data"]:
        for m, sk in enumerate(frame["skeleton"]):
            if m >= m_in:
                break
            d[0, frame["frame_index"], :, m] = sk["pose"][0::2]
            d[1, frame["frame_index"], :, m] = sk["pose"][1::2]
            d[2, frame["frame_index"], :, m] = sk["score"]
    d[0:2] = d[0:2] - 0.5
    if flip_y:
        d[1:2] = -d[1:2]
    d[0][d[2] == 0] = 0
    d[1][d[2] == 0] = 0
    for t in range(t_max):
        order = sorted(range(m_in), key=lambda m: -d[2, t, :, m].sum())  # stable
        d[:, t] = d[:, t][:, :, order]
    return d[:, :, :, :m_out].astype(np.float32)


@needs_data
def test_known_facts():
    c = read_kinetics_json(PANCAKE)
    assert (c.name, c.label, c.label_index, len(c.frames)) == ("--33Lscn6sk", "flipping pancake", 129, 189)
    assert [f.frame_index for f in c.frames] == list(range(1, 190))
    assert max(len(f.persons) for f in c.frames) == 3
    p = c.frames[0].persons[0]
    assert p.pose.shape == (18, 2) and p.score.shape == (18,)
    assert p.pose[0].tolist() == [0.491, 0.22] and p.score[0] == 0.641
    n = read_kinetics_json(NTU_JSON)
    assert (n.label, n.label_index, len(n.frames)) == ("hugging other person", 55, 76)
    assert max(len(f.persons) for f in n.frames) == 4


@needs_data
@pytest.mark.parametrize("flip_y", [True, False])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_to_array_matches_reference_feeder(path, flip_y):
    x = to_array(read_kinetics_json(path), flip_y=flip_y)
    assert x.shape == (3, 300, 18, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, oracle_feeder(json.loads(path.read_text()), flip_y))


@needs_data
def test_conversion_details():
    c = read_kinetics_json(PANCAKE)
    x = to_array(c)
    assert not x[:, 0].any()  # frame_index is 1-based: time index 0 stays empty, as in the reference
    assert not x[:, 190:].any()
    # frame 1, person with the highest summed score first; x - 0.5, y negated
    best = max(c.frames[0].persons, key=lambda p: p.score.sum())
    np.testing.assert_allclose(x[0, 1, :, 0], np.where(best.score > 0, best.pose[:, 0] - 0.5, 0), atol=1e-7)
    np.testing.assert_allclose(x[1, 1, :, 0], np.where(best.score > 0, 0.5 - best.pose[:, 1], 0), atol=1e-7)
    s = x[2].sum(axis=1)  # (T, M): sorted per frame
    assert (s[:, 0] >= s[:, 1]).all()
    # every score-0 joint has x = y = 0
    assert not x[0:2][:, x[2] == 0].any()
    # the NTU-derived file has all scores 0: everything is zeroed
    assert not to_array(read_kinetics_json(NTU_JSON)).any()


@needs_data
def test_frames_beyond_max_frames_are_dropped():
    c = read_kinetics_json(PANCAKE)
    x = to_array(c, max_frames=100)
    assert x.shape == (3, 100, 18, 2)
    np.testing.assert_array_equal(x, to_array(c)[:, :100])


# ---------------------------------------------------------------------------------------------------------------------
# malformed input

def _write(tmp_path: Path, content, name: str = "clip.json") -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return p


def _person(**kw):
    p = {"pose": [0.5] * 36, "score": [0.9] * 18}
    p.update(kw)
    return p


def _clip(frames=None, **kw):
    c = {"data": frames if frames is not None else [{"frame_index": 1, "skeleton": [_person()]}],
         "label": "x", "label_index": 3}
    c.update(kw)
    return c


def test_minimal_and_unlabelled(tmp_path):
    c = read_kinetics_json(_write(tmp_path, _clip()))
    assert c.label_index == 3 and len(c.frames) == 1
    raw = _clip()
    del raw["label"], raw["label_index"]
    c = read_kinetics_json(_write(tmp_path, raw))
    assert c.label is None and c.label_index is None
    assert read_kinetics_json(_write(tmp_path, _clip(frames=[]))).frames == []


@pytest.mark.parametrize("content, where", [
    (b'{"data": [', "line 1"),
    (b'{"data": []}\n}', "line 2"),
    ([1, 2], "top level"),
    ({"label": "x"}, "'data'"),
    (_clip(frames={"a": 1}), "'data'"),
    (_clip(frames=[5]), "'data[0]'"),
    (_clip(frames=[{"skeleton": []}]), "'data[0].frame_index'"),
    (_clip(frames=[{"frame_index": "1", "skeleton": []}]), "'data[0].frame_index'"),
    (_clip(frames=[{"frame_index": True, "skeleton": []}]), "'data[0].frame_index'"),
    (_clip(frames=[{"frame_index": -1, "skeleton": []}]), "'data[0].frame_index'"),
    (_clip(frames=[{"frame_index": 1}]), "'data[0].skeleton'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [[]]}]), "'data[0].skeleton[0]'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [{"pose": [0.5] * 36}]}]), "'data[0].skeleton[0].score'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [_person(pose=[0.5] * 34)]}]), "'data[0].skeleton[0].pose'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [_person(score=[0.5] * 17 + ["a"])]}]),
     "'data[0].skeleton[0].score[17]'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [_person(score=[0.5] * 17 + [None])]}]),
     "'data[0].skeleton[0].score[17]'"),
    (_clip(frames=[{"frame_index": 1, "skeleton": [_person(pose=[[0.5, 0.5]] * 18)]}]),
     "'data[0].skeleton[0].pose'"),
    (_clip(label_index="3"), "'label_index'"),
    (_clip(label=3), "'label'"),
    (_clip(frames=[{"frame_index": 301, "skeleton": []}]), "'data[0].frame_index'"),
    (b'{"data": [{"frame_index": ' + b"9" * 5000 + b', "skeleton": []}]}', "invalid JSON"),
])
def test_malformed_json(tmp_path, content, where):
    p = _write(tmp_path, content)
    with pytest.raises(InputFileError) as ei:
        read_kinetics_json(p)
    assert str(p) in str(ei.value) and where in str(ei.value), str(ei.value)


def test_empty_binary_missing(tmp_path):
    for content, text in ((b"", "empty"), (b"  \n", "empty"), (b'{"data": "\xff\xfe"}', "not UTF-8"),
                          (b"\x00\x01\x02\x03", "invalid JSON")):
        with pytest.raises(InputFileError, match=text):
            read_kinetics_json(_write(tmp_path, content))
    with pytest.raises(InputFileError, match="file not found"):
        read_kinetics_json(tmp_path / "missing.json")
    with pytest.raises(InputFileError, match="directory"):
        read_kinetics_json(tmp_path)
    with pytest.raises(InputFileError, match="nested too deeply|invalid JSON"):
        read_kinetics_json(_write(tmp_path, b"[" * 100000))


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e300", b"1" * 400])
def test_non_finite_or_absurd_joint_zeroed_with_a_warning(tmp_path, literal):
    from cognn.data.files import InputValueWarning

    raw = (b'{"data": [{"frame_index": 1, "skeleton": [{"pose": [0.25, ' + literal + b", 0.5" * 34 + b'], "score": ['
           + b", ".join([b"0.5"] * 18) + b"]}]}]}")
    p = _write(tmp_path, raw)
    with pytest.warns(InputValueWarning) as rec:
        c = read_kinetics_json(p)
    msg = str(rec[0].message)
    assert str(p) in msg and "1 joint(s)" in msg and "data[0].skeleton[0], joint 0" in msg, msg
    person = c.frames[0].persons[0]
    assert np.isfinite(person.pose).all() and np.isfinite(person.score).all()
    assert person.pose[0].tolist() == [0, 0] and person.score[0] == 0
    assert (person.pose[1:] == 0.5).all() and (person.score[1:] == 0.5).all()
    x = to_array(c)
    assert np.isfinite(x).all() and not x[:, 1, 0, 0].any()


def test_negative_score_zeroed(tmp_path):
    from cognn.data.files import InputValueWarning

    raw = _clip(frames=[{"frame_index": 1, "skeleton": [_person(score=[-1e308] + [0.5] * 17)]}])
    with pytest.warns(InputValueWarning, match="1 joint"):
        c = read_kinetics_json(_write(tmp_path, raw))
    assert c.frames[0].persons[0].score[0] == 0 and c.frames[0].persons[0].score.min() == 0


def test_frame_index_bounds(tmp_path):
    from cognn.data.kinetics import MAX_FRAME_INDEX, max_frame_index

    assert max_frame_index(1) == 300 and max_frame_index(100) == 1000 and max_frame_index(10**6) == MAX_FRAME_INDEX
    ok = _clip(frames=[{"frame_index": 300, "skeleton": [_person()]}])
    assert read_kinetics_json(_write(tmp_path, ok)).frames[0].frame_index == 300
    for fi in (10**6, 10**9, 2**63, 10**30):
        p = _write(tmp_path, _clip(frames=[{"frame_index": fi, "skeleton": [_person()]}] * 76))
        with pytest.raises(InputFileError) as ei:
            read_kinetics_json(p)
        assert str(p) in str(ei.value) and "frame index" in str(ei.value) and "up to 760" in str(ei.value)
