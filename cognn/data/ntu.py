"""Reader for NTU RGB+D ``.skeleton`` text files (Kinect v2, 25 joints) and sample names.

File grammar (one item per line, CRLF or LF)::

    <num_frames>
    per frame:  <num_bodies>
      per body: <bodyID> <clipedEdges> <handLeftConfidence> <handLeftState> <handRightConfidence>
                <handRightState> <isRestricted> <leanX> <leanY> <trackingState>
                <num_joints = 25>
                25 x  <x> <y> <z> <depthX> <depthY> <colorX> <colorY> <orientationW> <orientationX>
                      <orientationY> <orientationZ> <trackingState>

The whole file is tokenised and converted to numbers with numpy in one pass (no per-line Python work except one
small step per body); any deviation from the grammar raises :class:`~cognn.errors.InputFileError` naming the line.

Bounds, checked before anything is allocated for the frames: the file must be a regular file of at most
:data:`~cognn.data.files.MAX_INPUT_BYTES`; the frame count at most :data:`MAX_FRAMES` (10 minutes at 30 fps; NTU
samples have at most 300 frames); frames and bodies are only counted as far as the file's lines go (each needs its
lines, so the counts can never run ahead of the file's size). A joint with a non-finite value (``nan``, ``inf``, a
number beyond float range) or an absurd one (beyond :data:`~cognn.data.files.VALUE_LIMIT`) is zeroed, all 12
columns, as an untracked joint, with an :class:`~cognn.data.files.InputValueWarning` naming the file, the count and
the first line; a non-finite ``leanX`` / ``leanY`` becomes 0 the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InputFileError
from .files import VALUE_LIMIT, read_bytes, warn_values

__all__ = ["JOINT_FIELDS", "NUM_JOINTS", "MAX_FRAMES", "NtuBody", "NtuSkeleton", "SampleName", "read_ntu_skeleton", "to_image2d",
           "parse_ntu_bytes", "to_array", "parse_sample_name"]

NUM_JOINTS = 25
#: most frames a ``.skeleton`` file may declare: 10 minutes at the Kinect's 30 fps (NTU samples have at most 300)
MAX_FRAMES = 18_000
#: the 12 columns of :attr:`NtuBody.joints`
JOINT_FIELDS = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW", "orientationX",
                "orientationY", "orientationZ", "trackingState")
_BODY_FIELDS = 10
_CHANNELS = {"xyz": (0, 1, 2), "color": (5, 6), "depth": (3, 4)}


@dataclass
class NtuBody:
    """One tracked body in one frame. ``joints`` is float32 ``(25, 12)`` with columns :data:`JOINT_FIELDS`.

    The tracking fields are the body line's ``clipedEdges handLeftConfidence handLeftState handRightConfidence
    handRightState isRestricted leanX leanY trackingState``, in snake case.
    """

    body_id: str
    clipped_edges: int
    hand_left_confidence: int
    hand_left_state: int
    hand_right_confidence: int
    hand_right_state: int
    is_restricted: int
    lean_x: float
    lean_y: float
    tracking_state: int
    joints: np.ndarray


@dataclass
class NtuSkeleton:
    """A parsed ``.skeleton`` file: ``frames[t]`` is the list of bodies of frame ``t`` (possibly empty)."""

    name: str
    num_frames: int
    frames: list[list[NtuBody]]

    @property
    def max_bodies(self) -> int:
        """The largest number of bodies in any frame."""
        return max((len(f) for f in self.frames), default=0)


class SampleName(NamedTuple):
    """The fields of an NTU sample name ``SsssCcccPpppRrrrAaaa`` (all 1-based, as in the name)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """0-based class index (``action - 1``)."""
        return self.action - 1

    def __str__(self) -> str:
        return (f"S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}"
                f"R{self.replication:03d}A{self.action:03d}")


_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_sample_name(name: str | Path) -> SampleName:
    """Parse ``"S001C002P003R002A013"`` (a bare name, a file name or a path; extensions are ignored)."""
    stem = Path(str(name)).name.split(".")[0]
    m = _NAME_RE.fullmatch(stem)
    if m is None or 0 in (vals := tuple(int(g) for g in m.groups())):
        raise InputFileError(str(name), "not an NTU RGB+D sample name: expected 'SsssCcccPpppRrrrAaaa' with "
                                        "3-digit numbers from 001, e.g. 'S001C002P003R002A013'")
    return SampleName(*vals)


# ---------------------------------------------------------------------------------------------------------------------
# vectorised tokeniser / number parser

_WS = np.zeros(256, bool)
_WS[[9, 10, 11, 12, 13, 32]] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[48:58] = True
# per-byte codes whose sums over a token count its digits, dots, minus signs and other characters (8 bits each);
# the running sums wrap modulo 2**32, but their difference over one short token is exact
_CODE = np.where(_WS, 0, 1 << 24).astype(np.uint32)
_CODE[48:58] = 1
_CODE[ord(".")] = 1 << 8
_CODE[ord("-")] = 1 << 16
_POW10 = 10.0 ** np.arange(23)
_MAX_FAST_DIGITS = 15
_MAX_FAST_LEN = 200


class _Tokens:
    """All whitespace-separated tokens of a file with their numeric values and per-line counts.

    Plain decimals (``-12.345``, at most 15 digits) are converted in bulk: mantissa and scale are exact in float64, so
    ``mantissa / 10**scale`` is the correctly rounded value, identical to ``float(token)``. Other tokens (exponents,
    long numbers, ``nan``) go through ``float()``; tokens that are not numbers raise :class:`InputFileError`.
    """

    def __init__(self, raw: bytes, path: str) -> None:
        arr = np.frombuffer(raw, np.uint8)
        code = _CODE.take(arr)  # take() is about twice as fast as fancy indexing here
        ws = code == 0
        edge = np.diff(ws.view(np.int8), prepend=np.int8(1), append=np.int8(1))
        starts = np.flatnonzero(edge == -1)
        ends = np.flatnonzero(edge == 1)
        n = len(starts)
        self.raw, self.path, self.starts, self.ends = raw, path, starts, ends
        self.newlines = newlines = np.flatnonzero(arr == 10)
        # first token of each line and tokens per line
        first = np.empty(len(newlines) + 2, np.int64)
        first[0] = 0
        first[1:-1] = np.searchsorted(starts, newlines)
        first[-1] = n
        self.first = first[:-1]
        self.counts = np.diff(first)
        vals = np.zeros(n)
        lens = ends - starts
        if n and lens.max() > _MAX_FAST_LEN:  # junk: the 8-bit counters below could overflow
            fast = np.zeros(n, bool)
            ndot: np.ndarray = np.zeros(n, np.uint32)
            lead_minus = fast
        else:
            csum = np.zeros(len(arr) + 1, np.uint32)
            np.cumsum(code, out=csum[1:])
            fields = csum.take(ends) - csum.take(starts)
            ndig = (fields & 0xFF).astype(np.int64)
            ndot = (fields >> 8) & 0xFF
            nminus = (fields >> 16) & 0xFF
            lead_minus = arr.take(starts) == 45
            fast = ((fields >> 24 == 0) & (ndot <= 1) & (nminus == lead_minus) & (ndig >= 1)
                    & (ndig <= _MAX_FAST_DIGITS))
            # digits in file order; digit k of token t has (digits up to the end of t) - k - 1 digits to its right
            dval = np.compress(code == 1, arr) - 48
            dtok = np.repeat(np.arange(n), ndig)
            right = np.cumsum(ndig).take(dtok) - np.arange(len(dtok)) - 1
            mant = np.bincount(dtok, weights=dval * _POW10.take(np.minimum(right, len(_POW10) - 1)), minlength=n)
            dots = np.flatnonzero(arr == 46)
            ptok = np.repeat(np.arange(n), ndot.astype(np.int64))
            scale = np.zeros(n, np.int64)
            scale[ptok] = ndig.take(ptok) - ((csum.take(dots) - csum.take(starts.take(ptok))) & 0xFF).astype(np.int64)
            vals = mant / _POW10.take(np.clip(scale, 0, len(_POW10) - 1))
            vals[lead_minus] *= -1.0
        for t in np.flatnonzero(~fast).tolist():  # exponents, long numbers, nan/inf ... or junk
            self._slow(vals, t)
        self.vals = vals
        self.is_int = fast & (ndot == 0)
        self.is_uint = self.is_int & ~lead_minus

    def line_of(self, t: int) -> int:
        """1-based line of token ``t``."""
        return int(np.searchsorted(self.newlines, self.starts[t])) + 1

    def _slow(self, vals: np.ndarray, t: int) -> None:
        text = self.raw[self.starts[t]:self.ends[t]]
        try:
            vals[t] = float(text)
            return
        except ValueError:
            pass
        bad = [b for b in text if b < 32 or b > 126]
        if bad:
            problem = f"not a text file (byte 0x{bad[0]:02x})"
        else:
            problem = f"not a number: {text[:40].decode('ascii')!r}"
        raise InputFileError(self.path, problem, line=self.line_of(t))

    def text(self, t: int) -> str:
        return self.raw[self.starts[t]:self.ends[t]].decode("ascii", "replace")


def parse_ntu_bytes(raw: bytes, path: str | Path = "<bytes>") -> NtuSkeleton:
    """Parse the content of a ``.skeleton`` file (see :func:`read_ntu_skeleton`)."""
    path = str(path)
    name = Path(path).name.split(".")[0]
    if not raw.strip():
        raise InputFileError(path, "empty file", line=1)
    tk = _Tokens(raw, path)
    counts = tk.counts.tolist()
    first = tk.first.tolist()
    nlines = len(counts)
    last_content = max(i for i, c in enumerate(counts) if c)

    def count_line(li: int, what: str) -> int:
        if li > last_content:
            raise InputFileError(path, f"file ends where {what} was expected (truncated file?)", line=li + 1)
        t = first[li]
        if counts[li] != 1 or not tk.is_uint[t]:
            got = "an empty line" if counts[li] == 0 else repr(" ".join(tk.text(i) for i in range(t, t + counts[li])))
            raise InputFileError(path, f"expected {what} (one non-negative integer), got {got}", line=li + 1)
        return int(tk.vals[t])

    num_frames = count_line(0, "the frame count")
    if num_frames > MAX_FRAMES:
        raise InputFileError(path, f"declares {num_frames} frames, more than the {MAX_FRAMES} (10 minutes at 30 fps) "
                                   "cognn reads from a .skeleton file", line=1)
    body_lines: list[int] = []  # line of each body's info line
    per_frame: list[int] = []
    li = 1
    for f in range(num_frames):
        nb = count_line(li, f"the body count of frame {f + 1} of {num_frames}")
        per_frame.append(nb)
        li += 1
        for _ in range(nb):
            if li > last_content:
                raise InputFileError(path, f"file ends inside frame {f + 1} of {num_frames} (truncated file?)",
                                     line=li + 1)
            if counts[li] != _BODY_FIELDS:
                raise InputFileError(path, f"body line of frame {f + 1} has {counts[li]} fields, expected "
                                           f"{_BODY_FIELDS}", line=li + 1)
            nj = count_line(li + 1, f"the joint count of a body in frame {f + 1}")
            if nj != NUM_JOINTS:
                raise InputFileError(path, f"body in frame {f + 1} has {nj} joints, expected {NUM_JOINTS}",
                                     line=li + 2)
            body_lines.append(li)
            li += 2 + NUM_JOINTS
            if li > nlines:
                raise InputFileError(path, f"file ends inside the joints of a body in frame {f + 1} "
                                           "(truncated file?)", line=nlines)
    if li <= last_content:
        raise InputFileError(path, f"unexpected data after the last of {num_frames} frames (the frame count "
                                   "disagrees with the content)", line=li + 1)

    bl = np.asarray(body_lines, np.int64)
    joint_lines = bl[:, None] + 2 + np.arange(NUM_JOINTS)
    bad = tk.counts[joint_lines] != len(JOINT_FIELDS)
    if bad.any():
        line = int(joint_lines[bad][0])
        raise InputFileError(path, f"joint line has {counts[line]} fields, expected {len(JOINT_FIELDS)}",
                             line=line + 1)
    tok0 = tk.first[joint_lines[:, 0]]
    joints = tk.vals[tok0[:, None] + np.arange(NUM_JOINTS * len(JOINT_FIELDS))]
    joints = joints.reshape(len(bl), NUM_JOINTS, len(JOINT_FIELDS))
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(joints) <= VALUE_LIMIT)  # also catches nan
    zeroed = 0
    first_line = 0
    if bad.any():
        b, j, _ = np.argwhere(bad)[0]
        first_line = int(joint_lines[b, j]) + 1
        bad_joint = bad.any(axis=2)
        zeroed = int(bad_joint.sum())
        joints[bad_joint] = 0.0
    joints = joints.astype(np.float32)

    info_tok = tk.first[bl][:, None] + np.arange(_BODY_FIELDS)
    int_cols = [1, 2, 3, 4, 5, 6, 9]
    not_int = ~tk.is_int[info_tok[:, int_cols]]
    if not_int.any():
        b, c = np.argwhere(not_int)[0]
        raise InputFileError(path, f"body field {int_cols[c] + 1} must be an integer, got "
                                   f"{tk.text(int(info_tok[b, int_cols[c]]))!r}", line=int(bl[b]) + 1)
    info_vals = tk.vals[info_tok]
    with np.errstate(invalid="ignore"):
        bad_lean = ~(np.abs(info_vals[:, 7:9]) <= VALUE_LIMIT)
    n_lean = int(bad_lean.sum())
    if n_lean:
        line = int(bl[int(np.argwhere(bad_lean)[0, 0])]) + 1
        first_line = min(first_line, line) if zeroed else line
        info_vals[:, 7:9][bad_lean] = 0.0
    if zeroed or n_lean:
        parts = ([f"{zeroed} joint(s)"] if zeroed else []) + ([f"{n_lean} leanX/leanY value(s)"] if n_lean else [])
        warn_values(path, f"{' and '.join(parts)} held non-finite or absurd values (NaN, inf or beyond "
                          f"{VALUE_LIMIT:g}) and were zeroed (first at line {first_line})")
    info = info_vals.tolist()
    frames: list[list[NtuBody]] = []
    k = 0
    for nb in per_frame:
        bodies = []
        for _ in range(nb):
            v = info[k]
            bodies.append(NtuBody(tk.text(int(info_tok[k, 0])), int(v[1]), int(v[2]), int(v[3]), int(v[4]),
                                  int(v[5]), int(v[6]), v[7], v[8], int(v[9]), joints[k]))
            k += 1
        frames.append(bodies)
    return NtuSkeleton(name=name, num_frames=num_frames, frames=frames)


def read_ntu_skeleton(path: str | Path) -> NtuSkeleton:
    """Read an NTU RGB+D ``.skeleton`` file (CRLF or LF; any number of bodies per frame, including none)."""
    return parse_ntu_bytes(read_bytes(path), path)


def _body_energy(s: np.ndarray) -> float:
    """Reference "energy" of one body slot ``(T, V, 3)``: sum over axes of the std over its non-zero frames."""
    s = s[s.sum(-1).sum(-1) != 0]
    if len(s) == 0:
        return 0.0
    return float(s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std())


def to_array(skel: NtuSkeleton, max_bodies: int = 2, channels: str = "xyz", max_read: int = 4) -> np.ndarray:
    """Joint coordinates as float32 ``(C, T, 25, max_bodies)``, bodies chosen as in the reference ``ntu_gendata``.

    The first ``max_read`` bodies of each frame fill slots by their position in the frame; the slots are ranked by
    energy (sum over x, y, z of the standard deviation over the frames where the slot is non-zero, computed on x, y, z
    whatever ``channels`` is) and the ``max_bodies`` most energetic are kept, highest first (ties: higher slot first,
    as the reference's ``argsort()[::-1]``). Empty slots are zeros. ``channels``: ``"xyz"`` (C=3, metres),
    ``"color"`` (C=2, colour-image pixels ``colorX, colorY``) or ``"depth"`` (C=2, depth-image pixels).
    The output equals the reference's float32 array; the energies are computed in float64 from the float32 joints
    (the reference uses the float64 text values), which could only reorder bodies whose energies agree to ~1e-7.
    """
    if channels not in _CHANNELS:
        raise ValueError(f"unknown channels {channels!r}; use one of {', '.join(_CHANNELS)}")
    need = sorted({0, 1, 2, *_CHANNELS[channels]})  # x, y, z for the energies, and the output's columns
    cols = [need.index(c) for c in _CHANNELS[channels]]
    t = skel.num_frames
    slots = max(max_read, max_bodies)
    full = np.zeros((slots, t, NUM_JOINTS, len(need)), np.float32)  # the joints are float32: no precision lost
    for n, bodies in enumerate(skel.frames):
        for m, body in enumerate(bodies[:max_read]):
            full[m, n] = body.joints[:, need]
    energy = np.array([_body_energy(full[m, :, :, :3].astype(np.float64)) for m in range(slots)])
    order = np.argsort(energy, kind="stable")[::-1][:max_bodies]
    out = full[order][..., cols]  # (M, T, V, C)
    return np.ascontiguousarray(out.transpose(3, 1, 2, 0), dtype=np.float32)


#: OpenPose-18 joint -> NTU joint whose colour-image position stands in for it (None: no counterpart, score 0)
_NTU_FOR_OPENPOSE18 = (3, 20, 8, 9, 10, 4, 5, 6, 16, 17, 18, 12, 13, 14, None, None, None, None)
#: the colour camera of NTU RGB+D
NTU_COLOR_SIZE = (1920, 1080)


def to_image2d(skel: NtuSkeleton, layout: str = "kinetics18", max_bodies: int = 2) -> np.ndarray:
    """The bodies' colour-image positions in the ``image2d`` plain form of ``layout`` (only ``kinetics18``): float32
    ``(T, 3, 18, max_bodies)`` with ``x / 1920 - 0.5``, ``y / 1080 - 0.5`` (y down) and score 1 where NTU has the
    joint (head for the nose, spine-shoulder for the neck; eyes and ears have none: zeros, score 0)."""
    if layout != "kinetics18":
        raise ValueError(f"NTU colour positions map to kinetics18 only, not {layout!r}")
    color = to_array(skel, max_bodies=max_bodies, channels="color")  # (2, T, 25, M)
    present = np.any(color != 0, axis=0)  # (T, 25, M)
    t, m = color.shape[1], color.shape[3]
    out = np.zeros((t, 3, 18, m), np.float32)
    w, h = NTU_COLOR_SIZE
    for j, src in enumerate(_NTU_FOR_OPENPOSE18):
        if src is None:
            continue
        ok = present[:, src, :]
        out[:, 0, j, :] = np.where(ok, color[0, :, src, :] / w - 0.5, 0.0)
        out[:, 1, j, :] = np.where(ok, color[1, :, src, :] / h - 0.5, 0.0)
        out[:, 2, j, :] = ok
    return out
