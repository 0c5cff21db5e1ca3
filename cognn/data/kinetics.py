"""Reader for Kinetics-skeleton clips (the st-gcn release: one JSON per clip, OpenPose COCO-18 joints).

File structure::

    {"data": [{"frame_index": 1, "skeleton": [{"pose": [x0, y0, ..., x17, y17], "score": [s0, ..., s17]}, ...]},
              ...],
     "label": "flipping pancake", "label_index": 129}

``pose`` holds image coordinates normalised to [0, 1]; ``frame_index`` is 1-based in the release.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from .files import read_bytes

__all__ = ["NUM_JOINTS", "KineticsPerson", "KineticsFrame", "KineticsClip", "read_kinetics_json",
           "parse_kinetics_obj", "to_array"]

NUM_JOINTS = 18


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


def _numbers(obj: Any, n: int, path: str, where: str) -> np.ndarray:
    if not isinstance(obj, list):
        raise InputFileError(path, f"expected a list of {n} numbers, got {type(obj).__name__}", field=where)
    if len(obj) != n:
        raise InputFileError(path, f"expected {n} numbers, got {len(obj)}", field=where)
    arr = np.array(obj)
    if arr.dtype.kind not in "iuf" or arr.shape != (n,):
        bad = next((i for i, v in enumerate(obj) if isinstance(v, bool) or not isinstance(v, (int, float))), 0)
        raise InputFileError(path, f"expected a number, got {obj[bad]!r}", field=f"{where}[{bad}]")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputFileError(path, "non-finite number", field=f"{where}[{int(np.argmin(np.isfinite(arr)))}]")
    return arr


def _int_field(obj: dict, key: str, path: str, where: str, required: bool = True) -> int | None:
    if key not in obj:
        if required:
            raise InputFileError(path, "missing", field=f"{where}{key}")
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputFileError(path, f"expected an integer, got {v!r}", field=f"{where}{key}")
    return v


def parse_kinetics_obj(obj: Any, path: str | Path = "<json>") -> KineticsClip:
    """Validate and convert an already decoded Kinetics-skeleton JSON object."""
    path = str(path)
    if not isinstance(obj, dict):
        raise InputFileError(path, f"expected a JSON object at the top level, got {type(obj).__name__}")
    data = obj.get("data")
    if not isinstance(data, list):
        raise InputFileError(path, "missing" if data is None else f"expected a list, got {type(data).__name__}",
                             field="data")
    label = obj.get("label")
    if label is not None and not isinstance(label, str):
        raise InputFileError(path, f"expected a string, got {label!r}", field="label")
    label_index = _int_field(obj, "label_index", path, "", required=False)
    frames = []
    for i, fr in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(fr, dict):
            raise InputFileError(path, f"expected an object, got {type(fr).__name__}", field=where)
        fi = _int_field(fr, "frame_index", path, where + ".")
        if fi < 0:
            raise InputFileError(path, f"negative frame index {fi}", field=f"{where}.frame_index")
        skel = fr.get("skeleton")
        if not isinstance(skel, list):
            raise InputFileError(path, "missing" if skel is None else f"expected a list, got {type(skel).__name__}",
                                 field=f"{where}.skeleton")
        persons = []
        for m, p in enumerate(skel):
            pw = f"{where}.skeleton[{m}]"
            if not isinstance(p, dict):
                raise InputFileError(path, f"expected an object, got {type(p).__name__}", field=pw)
            for key in ("pose", "score"):
                if key not in p:
                    raise InputFileError(path, "missing", field=f"{pw}.{key}")
            pose = _numbers(p["pose"], 2 * NUM_JOINTS, path, f"{pw}.pose").reshape(NUM_JOINTS, 2)
            score = _numbers(p["score"], NUM_JOINTS, path, f"{pw}.score")
            persons.append(KineticsPerson(pose, score))
        frames.append(KineticsFrame(fi, persons))
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
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputFileError(p, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
    except RecursionError:
        raise InputFileError(p, "invalid JSON: nested too deeply") from None
    return parse_kinetics_obj(obj, p)


def to_array(clip: KineticsClip, num_person_out: int = 2, max_frames: int = 300, num_person_in: int = 5,
             flip_y: bool = True) -> np.ndarray:
    """float32 ``(3, max_frames, 18, num_person_out)`` with channels x, y, score, as the reference feeders build it.

    Steps, in the reference order (2s-AGCN ``kinetics_gendata`` / continual-skeletons ``kinetics400_prep``):

    1. zeros ``(3, max_frames, 18, num_person_in)``; each frame's first ``num_person_in`` persons go to slot ``m``
       (their position in the frame's list) at time index ``frame_index`` itself — the release's ``frame_index`` is
       1-based, so time index 0 stays empty, exactly as in the reference;
    2. ``x, y -= 0.5``; then ``y = -y`` if ``flip_y`` (2s-AGCN / continual-skeletons do this, the original st-gcn
       feeder does not: pass ``flip_y=False`` for st-gcn checkpoints);
    3. ``x = y = 0`` wherever ``score == 0`` (this also zeroes empty slots);
    4. per frame, persons are sorted by their summed score, highest first (stable for ties), and the first
       ``num_person_out`` are kept.

    Frames with ``frame_index >= max_frames`` are dropped (the reference would fail on them).
    """
    full = np.zeros((3, max_frames, NUM_JOINTS, num_person_in), np.float64)
    for fr in clip.frames:
        if fr.frame_index >= max_frames:
            continue
        for m, p in enumerate(fr.persons[:num_person_in]):
            full[0:2, fr.frame_index, :, m] = p.pose.T
            full[2, fr.frame_index, :, m] = p.score
    full[0:2] -= 0.5
    if flip_y:
        full[1] = -full[1]
    empty = full[2] == 0
    full[0][empty] = 0
    full[1][empty] = 0
    order = np.argsort(-full[2].sum(axis=1), axis=1, kind="stable")  # (T, M_in)
    full = np.take_along_axis(full, order[None, :, None, :], axis=3)
    return np.ascontiguousarray(full[..., :num_person_out], dtype=np.float32)
