"""Reader for Kinetics-skeleton clips (the st-gcn release: one JSON per clip, OpenPose COCO-18 joints).

File structure::

    {"data": [{"frame_index": 1, "skeleton": [{"pose": [x0, y0, ..., x17, y17], "score": [s0, ..., s17]}, ...]},
              ...],
     "label": "flipping pancake", "label_index": 129}

``pose`` holds image coordinates normalised to [0, 1]; ``frame_index`` is 1-based in the release.

What a damaged or hostile file gets (each refusal is one :class:`~cognn.errors.InputFileError` naming the file and
the field):

* the file must be a regular file of at most :data:`~cognn.data.files.MAX_INPUT_BYTES` (the release's files are
  under 1 MB);
* ``frame_index`` must be an integer from 0 to :func:`max_frame_index` of the number of frame records: ten times the
  records, at least 300 (a Kinetics clip is 10 s at 30 fps), never more than :data:`MAX_FRAME_INDEX` (10 minutes at
  30 fps). Readers allocate one frame per index, so an index of a million in a small file is refused, not padded;
* a joint whose ``x`` or ``y`` is not finite (``NaN``, ``Infinity``, a number beyond float range) or beyond
  :data:`~cognn.data.files.VALUE_LIMIT`, or whose ``score`` is not finite, negative or beyond that limit, is
  **zeroed** (x = y = score = 0: an undetected joint, which every consumer already handles) and the file is read on,
  with one :class:`~cognn.data.files.InputValueWarning` naming the file and the count. One broken joint of an
  OpenPose run should not lose a clip, and no such value is ever passed on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from .files import VALUE_LIMIT, kind_of, parse_json, read_bytes, warn_values

__all__ = ["NUM_JOINTS", "MAX_FRAME_INDEX", "KineticsPerson", "KineticsFrame", "KineticsClip", "read_kinetics_json",
           "parse_kinetics_obj", "max_frame_index", "to_array", "to_frames"]

NUM_JOINTS = 18
#: largest ``frame_index`` accepted in any file: 10 minutes at 30 fps (the release's clips have at most 300 frames)
MAX_FRAME_INDEX = 18_000


def max_frame_index(num_records: int) -> int:
    """Largest ``frame_index`` a file with ``num_records`` frame records may use: 10 per record, at least 300 (one
    Kinetics clip), at most :data:`MAX_FRAME_INDEX`."""
    return min(MAX_FRAME_INDEX, max(300, 10 * num_records))


@dataclass
class KineticsPerson:
    """One detected person: ``pose`` ``(18, 2)`` (x, y in [0, 1]) and ``score`` ``(18,)``, float64 as decoded."""

    pose: np.ndarray
    score: np.ndarray


@dataclass
class KineticsFrame:
    """The persons detected in one frame (``frame_index`` as stored in the file)."""

    frame_index: int
    persons: list[KineticsPerson]


@dataclass
class KineticsClip:
    """A parsed Kinetics-skeleton JSON file. ``label``/``label_index`` are ``None`` when the file has none."""

    name: str
    frames: list[KineticsFrame]
    label: str | None
    label_index: int | None


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond float range
        return float("inf")


def _numbers(obj: Any, n: int, path: str, where: str) -> np.ndarray:
    """``n`` JSON numbers as float64 (non-finite values kept: the caller zeroes their joints)."""
    if not isinstance(obj, list):
        raise InputFileError(path, f"expected a list of {n} numbers, got {kind_of(obj)}", field=where)
    if len(obj) != n:
        raise InputFileError(path, f"expected {n} numbers, got {len(obj)}", field=where)
    for i, v in enumerate(obj):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputFileError(path, f"expected a number, got {_short(v)}", field=f"{where}[{i}]")
    return np.array([_float(v) for v in obj], np.float64)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_field(obj: dict, key: str, path: str, where: str, required: bool = True) -> int | None:
    if key not in obj:
        if required:
            raise InputFileError(path, "missing", field=f"{where}{key}")
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputFileError(path, f"expected an integer, got {_short(v)}", field=f"{where}{key}")
    return v


def parse_kinetics_obj(obj: Any, path: str | Path = "<json>") -> KineticsClip:
    """Validate and convert an already decoded Kinetics-skeleton JSON object."""
    path = str(path)
    if not isinstance(obj, dict):
        raise InputFileError(path, f"expected a JSON object at the top level, got {kind_of(obj)}")
    data = obj.get("data")
    if not isinstance(data, list):
        raise InputFileError(path, "missing" if data is None else f"expected a list, got {kind_of(data)}",
                             field="data")
    label = obj.get("label")
    if label is not None and not isinstance(label, str):
        raise InputFileError(path, f"expected a string, got {label!r}", field="label")
    label_index = _int_field(obj, "label_index", path, "", required=False)
    if label_index is not None and not -2**31 <= label_index < 2**31:
        raise InputFileError(path, f"label index {_short(label_index)} is out of range", field="label_index")
    frames = []
    top = max_frame_index(len(data))
    zeroed = 0
    first_bad = ""
    for i, fr in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(fr, dict):
            raise InputFileError(path, f"expected an object, got {kind_of(fr)}", field=where)
        fi = _int_field(fr, "frame_index", path, where + ".")
        assert fi is not None  # a required field
        if fi < 0:
            raise InputFileError(path, f"negative frame index {fi}", field=f"{where}.frame_index")
        if fi > top:
            raise InputFileError(path, f"frame index {_short(fi)} is out of range: {len(data)} frame record(s) may "
                                       f"use indices up to {top} (never more than {MAX_FRAME_INDEX})",
                                 field=f"{where}.frame_index")
        skel = fr.get("skeleton")
        if not isinstance(skel, list):
            raise InputFileError(path, "missing" if skel is None else f"expected a list, got {kind_of(skel)}",
                                 field=f"{where}.skeleton")
        persons = []
        for m, p in enumerate(skel):
            pw = f"{where}.skeleton[{m}]"
            if not isinstance(p, dict):
                raise InputFileError(path, f"expected an object, got {kind_of(p)}", field=pw)
            for key in ("pose", "score"):
                if key not in p:
                    raise InputFileError(path, "missing", field=f"{pw}.{key}")
            pose = _numbers(p["pose"], 2 * NUM_JOINTS, path, f"{pw}.pose").reshape(NUM_JOINTS, 2)
            score = _numbers(p["score"], NUM_JOINTS, path, f"{pw}.score")
            with np.errstate(invalid="ignore"):
                bad = ~(np.abs(pose) <= VALUE_LIMIT).all(axis=1) | ~((score >= 0) & (score <= VALUE_LIMIT))
            if bad.any():
                if not zeroed:
                    first_bad = f"{pw}, joint {int(np.flatnonzero(bad)[0])}"
                zeroed += int(bad.sum())
                pose[bad] = 0.0
                score[bad] = 0.0
            persons.append(KineticsPerson(pose, score))
        frames.append(KineticsFrame(fi, persons))
    if zeroed:
        warn_values(path, f"{zeroed} joint(s) held non-finite or absurd values (NaN, inf, a negative score or "
                          f"beyond {VALUE_LIMIT:g}) and were zeroed (first in {first_bad})")
    return KineticsClip(name=Path(path).name.rsplit(".", 1)[0], frames=frames, label=label, label_index=label_index)


def read_kinetics_json(path: str | Path) -> KineticsClip:
    """Read one Kinetics-skeleton JSON file; any problem raises :class:`InputFileError` naming the file/field."""
    p = Path(path)
    raw = read_bytes(p)
    if not raw.strip():
        raise InputFileError(p, "empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(p, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})",
                             line=raw.count(b"\n", 0, e.start) + 1) from None
    obj = parse_json(text, p, "Kinetics skeleton")
    return parse_kinetics_obj(obj, p)


def to_array(clip: KineticsClip, num_person_out: int = 2, max_frames: int = 300, num_person_in: int = 5,
             flip_y: bool = True, *, convention: str | None = None) -> np.ndarray:
    """float32 ``(3, max_frames, 18, num_person_out)`` with channels x, y, score, as the reference feeders build it:
    the frames of :func:`to_frames` (the plain st-gcn form every cognn source gives) at their ``frame_index`` — the
    release's index is 1-based, so time index 0 stays empty, exactly as in the reference — zero-padded, then the
    preprocessing ``convention`` applied frame by frame with the very function live input goes through
    (:func:`cognn.data.conventions.prepare_clip`). Without ``convention``, ``flip_y`` chooses it: True for the
    2s-AGCN / continual-skeletons preparation (y negated), False for the original st-gcn feeder.

    Frames with ``frame_index >= max_frames`` are dropped (the reference would fail on them).
    """
    from .conventions import AGCN_KINETICS, STGCN_KINETICS, prepare_clip

    frames, _ = to_frames(clip, num_person_out, num_person_in)
    base = min(1, min(fr.frame_index for fr in clip.frames)) if clip.frames else 0
    out = np.zeros((3, max_frames, NUM_JOINTS, num_person_out), np.float32)
    for t, frame in enumerate(frames[: max(0, max_frames - base)]):
        out[:, t + base] = frame
    return prepare_clip(out, convention or (AGCN_KINETICS if flip_y else STGCN_KINETICS), "kinetics18")


def to_frames(clip: KineticsClip, num_person_out: int = 2, num_person_in: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The clip as the st-gcn feeder sees it, frame by frame: float32 ``(T, 3, 18, num_person_out)`` and the persons
    listed per frame ``(T,)``.

    ``T`` spans frame 1 (or 0, when the clip uses it) to the last ``frame_index``: the release numbers frames from 1,
    and frames without anybody before the first person are kept as empty frames, so time stays as in the video. Per
    frame, as :func:`to_array` without its padding and y flip: the first ``num_person_in`` persons, ``x, y -
    0.5`` (y pointing down, the image's), ``x = y = 0`` where the score is 0, persons ranked by summed score (stable),
    the first ``num_person_out`` kept. This is the ``image2d`` domain every cognn source produces; the checkpoint's
    preprocessing convention (:mod:`cognn.data.conventions`) is applied after it.
    """
    if not clip.frames:
        return np.zeros((0, 3, NUM_JOINTS, num_person_out), np.float32), np.zeros(0, np.int64)
    base = min(1, min(fr.frame_index for fr in clip.frames))
    t = max(fr.frame_index for fr in clip.frames) - base + 1
    full = np.zeros((t, 3, NUM_JOINTS, num_person_in), np.float64)
    persons = np.zeros(t, np.int64)
    slot = np.zeros(t, np.int64)
    for fr in clip.frames:
        i = fr.frame_index - base
        persons[i] += len(fr.persons)
        for p in fr.persons:
            if slot[i] >= num_person_in:
                break
            full[i, 0:2, :, slot[i]] = p.pose.T
            full[i, 2, :, slot[i]] = p.score
            slot[i] += 1
    full[:, 0:2] -= 0.5
    empty = full[:, 2] == 0
    full[:, 0][empty] = 0
    full[:, 1][empty] = 0
    order = np.argsort(-full[:, 2].sum(axis=1), axis=1, kind="stable")  # (T, M_in)
    full = np.take_along_axis(full, order[:, None, None, :], axis=3)
    return np.ascontiguousarray(full[..., :num_person_out], dtype=np.float32), persons
