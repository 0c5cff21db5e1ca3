"""Prediction records: one per input frame (and person), as ``cognn-infer`` writes them (JSON lines or CSV).

Fields, in order: ``source`` (the input as given), ``frame`` (0-based input frame), ``timestamp`` (seconds),
``persons`` (seen in the frame), ``ready`` (the prediction is exact: the receptive field holds only real frames),
``held`` (no new output at this frame: a strided model's latest answer, or a frame that released no model frame,
such as every other picture of a 60 fps video for a 30 fps model, shown again), ``label`` and ``label_score``
(the label shown to a person: the steady label, or "uncertain" when nothing is probable enough or the class was
withheld), ``top`` (K ``{label, score}``,
highest first), ``model_ms`` (the latest model step), ``pose_ms`` (pixel inputs, else null),
``latency_ms`` (capture of the picture to the result, pose included), ``model`` and ``weights_trained``; then
``steady`` (the steady label before the alarm policy and the body check: where it differs from ``label``, a class
was withheld and "uncertain" shown instead, :mod:`cognn.live.alarms`), ``reps`` (repetitions of the repetitive
class being counted now, :mod:`cognn.live.reps`, else null), ``body`` (what the user is told about a body out of
view, e.g. "step back: legs not visible", :mod:`cognn.live.visibility`, else null), ``gap`` (seconds a stream was
lost before this frame, else null), ``reset`` (true when the continual state was reset at this frame: a gap of at
least ``gap_reset``) and ``hold_s`` (seconds a held class such as a plank has been shown, else null). With one
state per person ``person`` comes after ``weights_trained``. The later fields
(:data:`LIVE_FIELDS`) come last (in CSV after the ``topK`` columns), so no column of earlier versions moves.
Non-finite numbers never reach a record (they become null).
"""
from __future__ import annotations

import csv
import json
import math
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .step import LiveStep

__all__ = ["FIELDS", "PERSON_FIELDS", "LIVE_FIELDS", "make_records", "RecordWriter", "RECORD_FORMATS"]

FIELDS = ("source", "frame", "timestamp", "persons", "ready", "held", "label", "label_score", "model_ms", "pose_ms",
          "latency_ms", "model", "weights_trained")
PERSON_FIELDS = ("person",)
#: fields added later: after everything else (in CSV after the ``topK`` columns), so no column moves
LIVE_FIELDS = ("steady", "reps", "body", "gap", "reset", "hold_s")
RECORD_FORMATS = ("jsonl", "csv")


def _num(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def make_records(step: LiveStep, source: str, model: str, trained: bool,
                 per_person: bool = False) -> list[dict[str, Any]]:
    """The records of one input frame: the latest prediction of the first person (of each person with
    ``per_person``), with the frame's index, timestamp and timing."""
    frame = step.frame
    out = []
    for view in step.persons if per_person else step.persons[:1]:
        p = view.prediction
        shown = view.shown.label if view.shown is not None else view.label.label
        rec: dict[str, Any] = {
            "source": source, "frame": int(frame.index), "timestamp": _num(frame.timestamp, 6),
            "persons": int(frame.persons), "ready": bool(p.ready), "held": bool(p.held or step.model_frames == 0),
            "label": shown, "label_score": _num(view.label.score, 6),
            "top": [{"label": label, "score": _num(score, 6)} for label, score in p.top],
            "model_ms": _num(p.model_ms, 4), "pose_ms": _num(frame.pose_ms, 3), "latency_ms": _num(step.latency_ms, 3),
            "model": model, "weights_trained": bool(trained)}
        if per_person:
            rec["person"] = int(view.person)
        rec.update({"steady": view.label.label, "reps": None if view.reps is None else int(view.reps),
                    "body": view.body.message if view.body is not None else None,
                    "gap": _num(step.gap, 3), "reset": bool(step.reset), "hold_s": _num(view.hold_s, 2)})
        out.append(rec)
    return out


class RecordWriter:
    """Writes records to a text stream as JSON lines or flattened CSV (``top1_label, top1_score, ... topK``, then
    :data:`LIVE_FIELDS`)."""

    def __init__(self, stream: TextIO, fmt: str, top_k: int, per_person: bool = False) -> None:
        if fmt not in RECORD_FORMATS:
            raise ValueError(f"records are written as {' or '.join(RECORD_FORMATS)}, not {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.top_k = top_k
        self.fields = FIELDS + (PERSON_FIELDS if per_person else ())
        self.count = 0
        self._csv: csv.DictWriter[str] | None = None
        if fmt == "csv":
            cols = (list(self.fields) + [f"top{i}_{k}" for i in range(1, top_k + 1) for k in ("label", "score")]
                    + list(LIVE_FIELDS))
            self._csv = csv.DictWriter(stream, fieldnames=cols, lineterminator="\n")
            self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        self.count += 1
        if self._csv is None:
            self.stream.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            return
        row = {k: record.get(k) for k in self.fields + LIVE_FIELDS}
        for k, v in row.items():
            if v is None:
                row[k] = ""
            elif isinstance(v, bool):
                row[k] = "true" if v else "false"
        for i in range(self.top_k):
            item = record["top"][i] if i < len(record["top"]) else {"label": "", "score": ""}
            row[f"top{i + 1}_label"] = item["label"]
            row[f"top{i + 1}_score"] = "" if item["score"] is None else item["score"]
        self._csv.writerow(row)
