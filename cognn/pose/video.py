"""Video files -> frames with timestamps -> skeleton sequences in a layout's input domain."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..domains import LAYOUT_DOMAIN
from ..errors import InputFileError
from ..layouts import get_layout
from .landmarker import PersonPose, PoseEstimator
from .mapping import (estimate_root_translation, mediapipe_to_kinetics18, mediapipe_to_ntu25, normalize_kinetics)
from .slots import PersonSlots, arrange

__all__ = ["iter_video_frames", "extract_skeletons", "people_to_layout", "open_video", "video_fps"]

_DEFAULT_FPS = 30.0


def open_video(path: Path):
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


def video_fps(cap) -> float:
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


def _frames(cap, p: Path, max_frames: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
    import cv2

    try:
        dt = 1.0 / video_fps(cap)
        t0: float | None = None
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
                ok_ts = cand is not None and prev < cand <= prev + max(1.0, 10 * dt)
                ts = cand if ok_ts else prev + dt
            prev = ts
            yield index, ts, frame
            index += 1
        if index == 0 and (max_frames is None or max_frames > 0):
            raise InputFileError(p, "no frame could be decoded (not a video, or an unsupported codec)")
    finally:
        cap.release()


def people_to_layout(people: list[PersonPose], layout: str, width: int, height: int, *, translation: bool = True,
                     hfov_deg: float = 65.0) -> np.ndarray:
    """Map detected people to ``(N, V, 3)`` in the layout's domain (NTU: metres; Kinetics: normalised + score)."""
    lay = get_layout(layout)
    if not people:
        return np.zeros((0, lay.num_joints, 3), np.float32)
    if lay.name == "ntu25":
        world = np.stack([p.world for p in people])
        root = None
        if translation:
            root = estimate_root_translation(world, np.stack([p.image_norm for p in people]), width, height,
                                             hfov_deg=hfov_deg, visibility=np.stack([p.visibility for p in people]))
        return mediapipe_to_ntu25(world, root=root)
    if lay.name == "kinetics18":
        k18 = mediapipe_to_kinetics18(np.stack([p.image_px for p in people]),
                                      np.stack([p.visibility for p in people]), width, height)
        return normalize_kinetics(k18, width, height)
    raise ValueError(f"no MediaPipe mapping for layout {lay.name!r}")


def extract_skeletons(path: str | os.PathLike, layout: str = "ntu25", max_frames: int | None = None,
                      estimator: PoseEstimator | None = None, *, num_persons: int = 2, translation: bool = True,
                      hfov_deg: float = 65.0, flip_horizontal: bool = False, max_side: int | None = None,
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run pose, mapping and person slots over a video.

    Returns ``skeleton`` ``(T, 3, V, M)`` float32 in the layout's domain (``ntu25``: Kinect camera metres, with the
    body placed by :func:`estimate_root_translation` when ``translation``; ``kinetics18``: normalised x, y and
    score), ``timestamps`` ``(T,)`` seconds, and ``info`` (fps, size, track ids ``(T, M)`` with -1 for empty, ...).
    ``flip_horizontal`` un-mirrors mirrored footage such as NTU RGB videos; ``max_side`` downsizes large frames
    before pose (faster, results nearly equal).  A given ``estimator`` is restarted (tracking state and timestamps
    forgotten) and left open; otherwise a VIDEO-mode estimator is created and closed here.
    """
    import cv2

    lay = get_layout(layout)
    source = iter_video_frames(path, max_frames=max_frames)  # opens the file now: bad paths fail before pose loads
    own = estimator is None
    est = PoseEstimator(mode="video", num_poses=num_persons) if own else estimator
    if not own:
        est.new_stream()
    slots = PersonSlots(num_persons)
    frames, stamps, tracks = [], [], []
    size = (0, 0)
    pose_s = 0.0
    with_people = 0
    try:
        for _, ts, frame in source:
            if flip_horizontal:
                frame = cv2.flip(frame, 1)
            if max_side is not None and max(frame.shape[:2]) > max_side:
                scale = max_side / max(frame.shape[:2])
                frame = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                                   interpolation=cv2.INTER_AREA)
            h, w = frame.shape[:2]
            size = (w, h)
            t = time.perf_counter()
            people = est.process(frame, ts)
            pose_s += time.perf_counter() - t
            with_people += bool(people)
            assignment = slots.update([p.centre() for p in people], [p.score for p in people])
            joints = people_to_layout(people, lay.name, w, h, translation=translation, hfov_deg=hfov_deg)
            frames.append(arrange(assignment, list(joints), (lay.num_joints, 3)).transpose(2, 1, 0))
            tracks.append([-1 if i is None else i for i in assignment.track_ids])
            stamps.append(ts)
    finally:
        if own:
            est.close()
    skeleton = np.stack(frames).astype(np.float32)
    info = {
        "path": str(path), "layout": lay.name, "domain": LAYOUT_DOMAIN[lay.name], "num_frames": len(frames),
        "width": size[0], "height": size[1], "frames_with_people": with_people,
        "fps": (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else None,
        "track_ids": np.asarray(tracks, dtype=np.int64), "pose_ms_per_frame": 1000.0 * pose_s / len(frames),
        "model": str(est.model_path), "translation": translation, "hfov_deg": hfov_deg,
        "flip_horizontal": flip_horizontal,
    }
    return skeleton, np.asarray(stamps, dtype=np.float64), info
