"""Recording a session: its skeletons and action events to a cognn HDF5 recording, and/or the annotated video.

One format for the app and ``cognn-infer`` (``--save-skeletons``, ``--render``): the recording holds every input
frame's skeleton ``(C, V, M)`` with its timestamp, the source's canvas size and frame rate, and the action events as
``{"kind": "action", label, start, end, start_frame, end_frame, peak_score, person, source, reps}`` and the gaps of a
lost stream as ``{"kind": "gap", frame, t, seconds, reset}``; the video is what
:meth:`cognn.live.session.Session.annotate` draws. Both are written under temporary names and appear when the
recording is closed (:mod:`cognn.atomic`); an aborted recording leaves nothing.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .events import Event, recorded

if TYPE_CHECKING:
    from .step import LiveStep

__all__ = ["Recorder", "gap_record", "GAP_KIND"]

#: the ``kind`` of a stream gap in a recording's event list
GAP_KIND = "gap"


def gap_record(frame: int, timestamp: float, seconds: float, reset: bool) -> dict[str, Any]:
    """A lost stream as a recording stores it: ``{"kind": "gap", frame, t, seconds, reset}`` (``frame``/``t``: the
    first frame after the loss; ``reset``: the continual state started over there)."""
    return {"kind": GAP_KIND, "frame": int(frame), "t": round(float(timestamp), 4),
            "seconds": round(float(seconds), 4) if math.isfinite(seconds) else None, "reset": bool(reset)}


class Recorder:
    """Writes the steps of one session (see the module docstring). Files open on the first step, when the picture
    size is known; timestamps are kept increasing across seeks (a jump back continues one frame after the last)."""

    def __init__(self, skeletons: str | os.PathLike | None, video: str | os.PathLike | None, *, layout: str,
                 domain: str, num_persons: int, source: str = "", fps: float | None = None,
                 canvas_size: tuple[int, int] | None = None, inputs: tuple[str | os.PathLike, ...] = ()) -> None:
        from ..atomic import check_output

        if skeletons is None and video is None:
            raise ValueError("nothing to record: give a skeleton file, a video file or both")
        self.skeleton_path = None if skeletons is None else check_output(skeletons, "recording", inputs)
        self.video_path = None if video is None else check_output(video, "video", inputs)
        self.layout, self.domain, self.num_persons = layout, domain, int(num_persons)
        self.source = source
        self.fps = float(fps) if fps and math.isfinite(fps) and fps > 0 else None
        self.canvas_size = canvas_size
        self.inputs = inputs
        self._writer: Any = None
        self._video: Any = None
        self._last_t: float | None = None
        self._last_src_t: float | None = None
        self.frames = 0
        #: held pictures (pose skipped) were left out of the skeletons
        self._thinned = False

    @property
    def wants_video(self) -> bool:
        return self.video_path is not None

    def _open(self, fps: float) -> None:
        from ..data.store import RecordingWriter
        from ..render import VideoRenderer

        if self.skeleton_path is not None and self._writer is None:
            extra = {"canvas_size": list(self.canvas_size)} if self.canvas_size else None
            self._writer = RecordingWriter(self.skeleton_path, self.layout, self.domain, self.num_persons,
                                           source=self.source, fps=fps, extra_attrs=extra, inputs=self.inputs)
        if self.video_path is not None and self._video is None:
            self._video = VideoRenderer(self.video_path, fps, inputs=self.inputs)

    def _timestamp(self, t: float, fps: float) -> float:
        if self._last_t is None:
            out = t
        elif self._last_src_t is not None and self._last_src_t < t <= self._last_src_t + 5.0:
            out = self._last_t + (t - self._last_src_t)
        else:
            out = self._last_t + 1.0 / fps
        self._last_t, self._last_src_t = out, t
        return out

    def add(self, step: LiveStep, annotate: Callable[[LiveStep], np.ndarray] | None = None) -> None:
        """Append one step: its skeleton, the events that ended at it, and its annotated picture."""
        fps = self.fps or 30.0
        if self._writer is None and self._video is None:
            self._open(fps)
        t = self._timestamp(float(step.frame.timestamp), fps)
        if self._writer is not None:
            if step.frame.posed:
                self._writer.append(np.asarray(step.frame.skeleton, np.float32), t)
            elif not self._thinned:  # a held picture adds no skeleton of its own: the stored rate is not the source's
                self._thinned = True
                self._writer.set_fps(None)  # readers take the rate from the timestamps
        self.add_events(step.events)
        if step.gap is not None and self._writer is not None:
            self._writer.add_event(gap_record(int(step.frame.index), t, float(step.gap), bool(step.reset)))
        if self._video is not None and annotate is not None:
            self._video.write(annotate(step))
        self.frames += 1

    def add_events(self, events: Iterable[Event]) -> None:
        """Keep action events in the recording."""
        if self._writer is not None:
            for event in events:
                self._writer.add_event(recorded(event))

    def close(self) -> list[Path]:
        """Finish the files; returns the paths written (nothing when no step came)."""
        out: list[Path] = []
        if self._writer is not None:
            out.append(Path(self._writer.close()))
            self._writer = None
        if self._video is not None:
            out.append(self._video.close())
            self._video = None
        return out

    def abort(self) -> None:
        """Discard what was written."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._video is not None:
            self._video.abort()
            self._video = None
