"""Video files -> decoded frames with timestamps (pose runs in :mod:`cognn.pose.tracker`)."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputFileError

if TYPE_CHECKING:
    import cv2

__all__ = ["iter_video_frames", "open_video", "video_fps"]

_DEFAULT_FPS = 30.0


def open_video(path: Path) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture``, or InputFileError naming the file and the problem."""
    import cv2

    if not path.exists():
        raise InputFileError(path, "video file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputFileError(path, "OpenCV cannot open this file as a video")
    return cap


def video_fps(cap: Any) -> float:
    """Container frame rate, or 30 if it is missing or absurd (only a fallback: timestamps come first)."""
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and math.isfinite(fps) and 1.0 <= fps <= 1000.0 else _DEFAULT_FPS


def iter_video_frames(path: str | os.PathLike, *, max_frames: int | None = None
                      ) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, timestamp_s, frame_bgr)`` for each decoded frame.

    Timestamps come from ``CAP_PROP_POS_MSEC``, shifted so the first frame is at 0; where the container gives none,
    or one that does not increase plausibly, the previous timestamp + 1/fps is used instead.
    Raises :class:`InputFileError` for a missing file, one OpenCV cannot open, or one with no decodable frame.
    """
    p = Path(path)
    return _frames(open_video(p), p, max_frames)


def _frames(cap: cv2.VideoCapture, p: Path, max_frames: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
    import cv2

    try:
        dt = 1.0 / video_fps(cap)
        t0 = 0.0  # the first frame's raw time, set with it
        prev: float | None = None
        index = 0
        while max_frames is None or index < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            raw = ms / 1000.0 if ms is not None and math.isfinite(ms) and ms >= 0 else None
            if prev is None:
                t0 = raw if raw is not None else 0.0
                ts = 0.0
            else:
                cand = None if raw is None else raw - t0
                ts = cand if cand is not None and prev < cand <= prev + max(1.0, 10 * dt) else prev + dt
            prev = ts
            yield index, ts, frame
            index += 1
        if index == 0 and (max_frames is None or max_frames > 0):
            raise InputFileError(p, "no frame could be decoded (not a video, or an unsupported codec)")
    finally:
        cap.release()
