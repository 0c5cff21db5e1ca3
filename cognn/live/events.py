"""Action events: the stream of steady labels cut into ``{label, start, end, peak_score, person}`` segments.

:class:`EventSegmenter` follows one label stream per person. An event opens when a person's label becomes a class
that is not ignored (``"uncertain"`` and ``"none"`` by default), and closes when the label changes, the person
leaves, or the stream ends (:meth:`EventSegmenter.flush`). ``start``/``end`` are the timestamps (seconds) of the
first and last frame that carried the label, ``start_frame``/``end_frame`` their source frame indices, and
``peak_score`` the highest score seen; ``reps`` the repetitions counted during it (set by the session for repetitive
classes, :mod:`cognn.live.reps`). Events shorter than ``min_duration`` seconds are dropped. With ``merge_gap``
> 0, an event interrupted only by ignored labels for at most that long continues instead of starting a new one.

:func:`write_events` / :func:`read_events` store events as JSON lines (``.jsonl``) or CSV (``.csv``).
"""
from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..data.files import read_text
from ..errors import InputFileError
from .labels import UNCERTAIN

__all__ = ["Event", "EventSegmenter", "segment_labels", "write_events", "read_events", "EVENT_FIELDS",
           "DEFAULT_IGNORE", "EVENT_FORMATS", "recorded", "events_of_recording", "RECORDED_KIND"]

#: labels that never make an event
DEFAULT_IGNORE = (UNCERTAIN, "none")
EVENT_FORMATS = ("jsonl", "csv")


@dataclass
class Event:
    """One action of one person."""

    label: str
    #: seconds (source clock) of the first and last frame with the label
    start: float
    end: float
    #: source frame indices of the first and last frame with the label
    start_frame: int
    end_frame: int
    #: highest score of the label during the event
    peak_score: float
    #: the person's track id (in pair mode: the pair's)
    person: int = 0
    #: the input it was seen in (a file name or camera), when known
    source: str = ""
    #: repetitions counted during the event (repetitive classes, cognn.live.reps), else None
    reps: int | None = None
    #: an alarm class's event, reported the moment the class was shown (its ``end``: that moment)
    alarm: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"], d["peak_score"] = round(self.start, 4), round(self.end, 4), round(self.peak_score, 4)
        return d


EVENT_FIELDS = tuple(f.name for f in fields(Event))


class EventSegmenter:
    """Turns per-person label streams into :class:`Event` objects (see the module docstring)."""

    def __init__(self, *, min_duration: float = 0.5, ignore: Iterable[str] = DEFAULT_IGNORE,
                 merge_gap: float = 0.0, source: str = "") -> None:
        if min_duration < 0 or merge_gap < 0:
            raise ValueError(f"min_duration and merge_gap must be >= 0, got {min_duration} and {merge_gap}")
        self.min_duration = float(min_duration)
        self.ignore = frozenset(ignore)
        self.merge_gap = float(merge_gap)
        #: copied into every event
        self.source = source
        self.reset()

    def reset(self) -> None:
        """Forget open events (new source, seek); closed events are not returned."""
        self._open: dict[int, Event] = {}
        self._paused: dict[int, Event] = {}

    @property
    def open_events(self) -> dict[int, Event]:
        """The event going on for each person now (its ``end`` is the latest frame so far)."""
        return dict(self._open)

    def current(self, person: int = 0) -> Event | None:
        """The event going on for ``person`` (the live object: the session adds its repetitions), or None."""
        return self._open.get(person)

    def _finish(self, event: Event | None) -> list[Event]:
        return [event] if event is not None and event.duration >= self.min_duration else []

    def update(self, label: str, score: float, timestamp: float, frame: int, person: int = 0) -> list[Event]:
        """Feed one person's steady label for one frame; returns the events this closed (oldest first)."""
        t = float(timestamp)
        closed: list[Event] = []
        paused = self._paused.get(person)
        if paused is not None and (label not in self.ignore or t - paused.end > self.merge_gap):
            if label == paused.label and t - paused.end <= self.merge_gap:
                self._open[person] = paused
            else:
                closed += self._finish(paused)
            del self._paused[person]
        cur = self._open.get(person)
        if cur is not None and cur.label != label:
            del self._open[person]
            if label in self.ignore and self.merge_gap > 0:
                self._paused[person] = cur
            else:
                closed += self._finish(cur)
            cur = None
        if label in self.ignore:
            return closed
        score = float(score) if math.isfinite(score) else 0.0
        if cur is None:
            self._open[person] = Event(label, t, t, int(frame), int(frame), score, person, self.source)
        else:
            cur.end, cur.end_frame = max(cur.end, t), max(cur.end_frame, int(frame))
            cur.peak_score = max(cur.peak_score, score)
        return closed

    def end_person(self, person: int) -> list[Event]:
        """The person left: close their event."""
        out = self._finish(self._paused.pop(person, None)) + self._finish(self._open.pop(person, None))
        return out

    def flush(self) -> list[Event]:
        """End of the stream: close every open event."""
        out: list[Event] = []
        for person in sorted(set(self._open) | set(self._paused)):
            out += self.end_person(person)
        return sorted(out, key=lambda e: (e.start, e.person))


def segment_labels(items: Iterable[tuple[str, float, float, int]], **kwargs) -> list[Event]:
    """Events of one person's whole label stream ``(label, score, timestamp, frame)``."""
    seg = EventSegmenter(**kwargs)
    events: list[Event] = []
    for label, score, t, frame in items:
        events += seg.update(label, score, t, frame)
    return events + seg.flush()


def _format(path: Path, fmt: str | None) -> str:
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt == "json":
        fmt = "jsonl"
    if fmt not in EVENT_FORMATS:
        raise ValueError(f"{path}: events are written as .jsonl or .csv, not {path.suffix or 'no extension'!r}")
    return fmt


def write_events(path: str | os.PathLike, events: Iterable[Event], fmt: str | None = None) -> Path:
    """Write events as JSON lines or CSV (``fmt`` or the file's extension), whole or not at all; returns the path."""
    from ..atomic import AtomicOutput

    path = Path(path)
    fmt = _format(path, fmt)
    rows = [e.to_dict() for e in events]
    with AtomicOutput(path, what="events file") as out, open(out.temp, "w", encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(f, fieldnames=list(EVENT_FIELDS), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return path


#: the ``kind`` of an action event in a recording's event list
RECORDED_KIND = "action"


def recorded(event: Event) -> dict[str, Any]:
    """An event as a recording stores it (``{"kind": "action", ...}``, the app's and ``cognn-infer``'s format)."""
    return {"kind": RECORDED_KIND, **event.to_dict()}


def events_of_recording(rows: Iterable[dict[str, Any]], path: str | os.PathLike | None = None) -> list[Event]:
    """The action events of a recording's event list. Recordings of earlier versions still read: ``cognn-infer``
    wrote events without ``kind``, the app added ``{"kind": "top1"}`` rows (skipped)."""
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("kind", RECORDED_KIND) != RECORDED_KIND:
            continue
        out.append(_event({k: v for k, v in row.items() if k != "kind"}, Path(path or "<recording>"), i + 1))
    return out


def _event(row: dict[str, Any], path: Path, line: int) -> Event:
    try:
        return Event(label=str(row["label"]), start=float(row["start"]), end=float(row["end"]),
                     start_frame=int(row["start_frame"]), end_frame=int(row["end_frame"]),
                     peak_score=float(row["peak_score"]), person=int(row.get("person", 0) or 0),
                     source=str(row.get("source", "") or ""),
                     reps=None if row.get("reps") in (None, "") else int(row["reps"]))
    except KeyError as e:
        raise InputFileError(path, f"event without {e.args[0]!r}", line=line) from None
    except (TypeError, ValueError) as e:
        raise InputFileError(path, f"bad event value ({e})", line=line) from None


def read_events(path: str | os.PathLike, fmt: str | None = None) -> list[Event]:
    """Read events written by :func:`write_events`; :class:`InputFileError` names the file and line of a bad one."""
    path = Path(path)
    try:
        fmt = _format(path, fmt)
    except ValueError as e:
        raise InputFileError(path, str(e).split(": ", 1)[-1]) from None
    text = read_text(path, "events")
    if fmt == "csv":
        reader = csv.DictReader(text.splitlines())
        optional = ("person", "source", "reps")
        missing = [k for k in EVENT_FIELDS if k not in (reader.fieldnames or []) and k not in optional]
        if missing:
            raise InputFileError(path, f"CSV header lacks {', '.join(missing)}", line=1)
        return [_event(row, path, i + 2) for i, row in enumerate(reader)]
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputFileError(path, f"not JSON ({e.msg})", line=i) from None
        if not isinstance(row, dict):
            raise InputFileError(path, "an event must be a JSON object", line=i)
        out.append(_event(row, path, i))
    return out
