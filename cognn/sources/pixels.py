"""Pixel sources: a video file or a camera, every picture turned into a skeleton by :class:`cognn.pose.PoseTracker`.

A video is decoded ahead in a background thread (:class:`_DecodeAhead`), so decoding the next picture overlaps pose
on this one: at 1080p decoding costs about a third of pose. Timestamps: a video's come from its position
(``CAP_PROP_POS_MSEC``, from 0; the previous one + 1/fps where the container gives none or an implausible one); a
camera's from the monotonic clock at capture. Each frame also carries
``captured`` (``time.perf_counter()`` right after the picture was decoded), from which latency is measured.
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty, Queue
from typing import TYPE_CHECKING, Any

import numpy as np

from ..domains import LAYOUT_DOMAIN
from ..errors import CognnError, InputFileError
from ..handoff import put_unless_stopped
from ..layouts import Layout, get_layout
from ..pose.tracker import PoseOptions, PoseTracker
from .frame import SkeletonFrame, SourceBase

if TYPE_CHECKING:
    import cv2

__all__ = ["VideoSource", "CameraSource"]


class _PixelSource(SourceBase):
    """Pose on every picture: the shared part of videos and cameras."""

    num_frames: int | None  # None for live sources

    def _tracker_for(self, num_persons: int, pose: PoseOptions, tracker: PoseTracker | None) -> None:
        if tracker is not None:
            if tracker.layout.name != self.layout.name:
                raise ValueError(f"the pose tracker maps to {tracker.layout.name}, the source reads {self.layout.name}")
            tracker.new_stream()
        self._own_tracker = tracker is None
        self.tracker = tracker if tracker is not None else PoseTracker(self.layout, num_persons, pose)
        self.domain = self.tracker.domain

    def _frame(self, picture: np.ndarray, timestamp: float, captured: float) -> SkeletonFrame:
        index = self._pos
        last = self._last_posed
        if last is not None and (index - self._pose_origin) % self._pose_every:
            self._pos += 1
            return SkeletonFrame(index=index, timestamp=timestamp, skeleton=last.skeleton, persons=last.persons,
                                 image=self.tracker.picture(picture), draw_px=last.draw_px, pose_ms=None,
                                 captured=captured, posed=False)
        pf = self.tracker.process(picture, timestamp)
        self._pos += 1
        frame = SkeletonFrame(index=index, timestamp=timestamp, skeleton=pf.skeleton, persons=pf.persons,
                              image=pf.image, draw_px=pf.draw_px, pose_ms=pf.pose_ms, captured=captured)
        self._last_posed = frame
        return frame

    def _restart_pose(self) -> None:
        """A new stream from the current position (open, seek): pose starts with the next picture."""
        self._last_posed = None
        self._pose_origin = self._pos

    def _close_tracker(self) -> None:
        if self._own_tracker:
            self.tracker.close()

    _pos = 0
    #: pose runs on every n-th picture from ``_pose_origin`` on (1: all of them)
    _pose_every = 1
    _pose_origin = 0
    _last_posed: SkeletonFrame | None = None

    @property
    def position(self) -> int:
        return self._pos


class VideoSource(_PixelSource):
    """A video file through pose: every decoded frame becomes one :class:`SkeletonFrame` with its image.

    ``pose`` chooses the pose settings (model, processing size, smoothing, un-mirroring); ``tracker`` reuses an open
    :class:`PoseTracker` (restarted here, left open by :meth:`close`).
    """

    def __init__(self, path: str | os.PathLike, layout: str | Layout = "ntu25", *, num_persons: int = 2,
                 pose: PoseOptions = PoseOptions(), tracker: PoseTracker | None = None) -> None:
        import cv2

        from ..pose.video import open_video, video_fps

        self.path = Path(path)
        self.name = self.path.name
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self._cap: cv2.VideoCapture | None = open_video(self.path)
        try:
            ok, first = self._cap.read()
            if not ok or first is None:
                raise InputFileError(self.path, "no frame could be decoded (not a video, or an unsupported codec)")
            self._first_captured = time.perf_counter()
            self.fps = video_fps(self._cap)
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.num_frames: int | None = count if count > 0 else None
            self.canvas_size = (int(first.shape[1]), int(first.shape[0]))
            self._t0 = self._raw_time()
            self._pending: tuple[np.ndarray, float | None] | None = (first, self._t0)
            self._pos = 0
            self._prev_ts: float | None = None
            self._ahead: _DecodeAhead | None = None
            self._tracker_for(num_persons, pose, tracker)
        except BaseException:
            self._cap.release()
            raise

    def _raw_time(self) -> float | None:
        import cv2

        assert self._cap is not None  # open while pictures are decoded
        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if ms is not None and math.isfinite(ms) and ms >= 0 else None

    def _timestamp(self, raw: float | None) -> float:
        dt = 1.0 / self.fps
        prev = self._prev_ts
        cand = None if raw is None or self._t0 is None else raw - self._t0
        if prev is None:
            ts = cand if cand is not None and cand >= 0 else self._pos * dt
        elif cand is not None and prev < cand <= prev + max(1.0, 10 * dt):
            ts = cand
        else:
            ts = prev + dt
        self._prev_ts = ts
        return ts

    def read(self) -> SkeletonFrame | None:
        if self._cap is None:
            return None
        if self._pending is not None:
            picture, raw = self._pending
            self._pending = None
            captured = self._first_captured
        else:
            if self._ahead is None:
                self._ahead = _DecodeAhead(self._cap, self._raw_time)
            item = self._ahead.get()
            if item is None:
                return None
            picture, captured, raw = item
        return self._frame(picture, self._timestamp(raw), captured)

    def seek(self, index: int) -> None:
        import cv2

        if self._cap is None:
            raise ValueError(f"{self.name}: the source is closed")
        if index < 0 or (self.num_frames is not None and index > self.num_frames):
            raise IndexError(f"{self.name}: frame {index} outside 0..{self.num_frames}")
        self._stop_ahead()
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        self._pending = None
        self._pos = int(index)
        self._prev_ts = None
        self.tracker.new_stream()
        self._restart_pose()

    def pose_at_most(self, fps: float) -> int:
        """Run pose only on the pictures a model at ``fps`` frames/s needs: every n-th, n = the video's rate over
        ``fps`` rounded down (a 60 fps video for a 30 fps model: every other picture, the ones on the model's grid
        of times; 24-50 fps: every picture). The others come as held frames (``posed=False``) with the last posed
        skeleton. Counts from the next picture on; returns n."""
        n = int(self.fps / fps + 0.05) if fps > 0 and math.isfinite(fps) and math.isfinite(self.fps) else 1
        self._pose_every = max(1, n)
        self._restart_pose()
        return self._pose_every

    def _stop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.stop()
            self._ahead = None

    def close(self) -> None:
        if self._cap is not None:
            self._stop_ahead()
            self._cap.release()
            self._cap = None
            self._close_tracker()


class _DecodeAhead:
    """Decodes a capture's pictures in a background thread, up to ``depth`` ahead of :meth:`get`: each item is
    ``(picture, perf_counter right after decoding, the container's time of it)``, then ``None`` at the end (or an
    exception from the decoder, raised by :meth:`get`). Only this thread touches the capture until :meth:`stop`."""

    def __init__(self, cap: Any, raw_time: Callable[[], float | None], depth: int = 2) -> None:
        self._cap = cap
        self._raw_time = raw_time
        self._queue: Queue[Any] = Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="cognn-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ok, picture = self._cap.read()
                item: Any = (picture, time.perf_counter(), self._raw_time()) if ok and picture is not None else None
            except Exception as e:  # handed to the reader
                item = e
            put_unless_stopped(self._queue, item, self._stop)
            if item is None or isinstance(item, Exception):
                return

    def get(self) -> tuple[np.ndarray, float, float | None] | None:
        if self._done:
            return None
        item = self._queue.get()
        if isinstance(item, Exception):
            self._done = True
            raise item
        if item is None:
            self._done = True
        return item

    def stop(self) -> None:
        """Stop decoding and wait for the thread (the capture is the caller's again)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except Empty:
                break
        self._thread.join(timeout=5.0)


class CameraSource(_PixelSource):
    """A live camera (OpenCV device index); timestamps from the monotonic clock at capture, from 0."""

    live = True

    def __init__(self, index: int, layout: str | Layout = "ntu25", *, num_persons: int = 2,
                 pose: PoseOptions = PoseOptions(), tracker: PoseTracker | None = None) -> None:
        from ..pose.video import video_fps

        self.name = f"camera {index}"
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.num_frames = None
        cap = _open_camera(index)
        ok, first = (cap.read() if cap.isOpened() else (False, None))
        if not ok or first is None:
            cap.release()
            raise CognnError(f"camera {index} cannot be opened (no such device, in use by another program, or no "
                             "permission); try another --camera index")
        self._cap: cv2.VideoCapture | None = cap
        self.fps = video_fps(cap)
        self.canvas_size = (int(first.shape[1]), int(first.shape[0]))
        self._clock0 = time.monotonic()
        self._pending: np.ndarray | None = first
        self._pos = 0
        try:
            self._tracker_for(num_persons, pose, tracker)
        except BaseException:
            cap.release()
            raise

    def read(self) -> SkeletonFrame | None:
        if self._cap is None:
            return None
        if self._pending is not None:
            picture, self._pending = self._pending, None
            ts = 0.0
        else:
            ok, picture = self._cap.read()
            if not ok or picture is None:
                return None
            ts = time.monotonic() - self._clock0
        return self._frame(picture, ts, time.perf_counter())

    def seek(self, index: int) -> None:
        raise ValueError(f"{self.name} is a live source; it cannot seek")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
            self._close_tracker()


def _open_camera(index: int) -> cv2.VideoCapture:
    """``cv2.VideoCapture(index)`` with OpenCV's own warnings about missing devices kept off the terminal."""
    import cv2

    from ..pose.quiet import opencv_quiet

    with opencv_quiet():
        return cv2.VideoCapture(int(index))
