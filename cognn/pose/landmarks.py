"""Raw MediaPipe landmarks of a video, kept per frame so later stages (smoothing, mapping) can be replayed.

:func:`extract_landmarks` runs the pose model once over a video and returns a :class:`LandmarkClip`; it can be
saved to and loaded from a plain ``.npz`` file (no pickled objects) to avoid running pose again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from .smoothing import SmoothingConfig

__all__ = ["LandmarkClip", "ReplayEstimator", "extract_landmarks", "save_landmarks", "load_landmarks",
           "to_skeletons"]

_ARRAYS = ("timestamps", "world", "image_norm", "visibility", "count")


@dataclass
class LandmarkClip:
    """Up to ``P`` detected people per frame, in MediaPipe's detection order (not tracked).

    ``timestamps`` ``(T,)`` seconds from the video position; ``world`` ``(T, P, 33, 3)`` metres (hip-centred);
    ``image_norm`` ``(T, P, 33, 3)``; ``visibility`` ``(T, P, 33)``; ``count`` ``(T,)`` people detected (slots
    ``>= count`` are zeros). ``width``/``height``: the size of the frames pose saw.
    """

    source: str
    width: int
    height: int
    timestamps: np.ndarray
    world: np.ndarray
    image_norm: np.ndarray
    visibility: np.ndarray
    count: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(len(self.timestamps))

    def people(self, t: int) -> list:
        """The detected people of frame ``t`` as :class:`cognn.pose.PersonPose` objects."""
        from .landmarker import PersonPose

        size = np.array([self.width, self.height], np.float32)
        return [PersonPose(image_px=self.image_norm[t, p, :, :2] * size, image_norm=self.image_norm[t, p].copy(),
                           world=self.world[t, p].copy(), visibility=self.visibility[t, p].copy())
                for p in range(int(self.count[t]))]

    def segment(self, start: int, stop: int) -> LandmarkClip:
        """Frames ``start..stop-1`` (timestamps kept)."""
        sl = slice(start, stop)
        return LandmarkClip(self.source, self.width, self.height, self.timestamps[sl], self.world[sl],
                            self.image_norm[sl], self.visibility[sl], self.count[sl])


def extract_landmarks(path: str | os.PathLike, *, max_frames: int | None = None, num_poses: int = 2,
                      max_side: int | None = 640, estimator=None) -> LandmarkClip:
    """Run MediaPipe pose (VIDEO mode) over a video; timestamps from the video position.

    ``max_side`` downsizes large frames before pose (faster; ``width``/``height`` are then the downsized size).
    A given ``estimator`` is restarted and left open.
    """
    import cv2

    from .landmarker import PoseEstimator
    from .video import iter_video_frames

    frames = iter_video_frames(path, max_frames=max_frames)
    own = estimator is None
    est = PoseEstimator(mode="video", num_poses=num_poses) if own else estimator
    if not own:
        est.new_stream()
    stamps, worlds, norms, vis, counts = [], [], [], [], []
    size = (0, 0)
    try:
        for _, ts, frame in frames:
            if max_side is not None and max(frame.shape[:2]) > max_side:
                scale = max_side / max(frame.shape[:2])
                frame = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                                   interpolation=cv2.INTER_AREA)
            size = (frame.shape[1], frame.shape[0])
            people = est.process(frame, ts)[:num_poses]
            w = np.zeros((num_poses, 33, 3), np.float32)
            n = np.zeros((num_poses, 33, 3), np.float32)
            v = np.zeros((num_poses, 33), np.float32)
            for p, person in enumerate(people):
                w[p], n[p], v[p] = person.world, person.image_norm, person.visibility
            stamps.append(ts)
            worlds.append(w)
            norms.append(n)
            vis.append(v)
            counts.append(len(people))
    finally:
        if own:
            est.close()
    return LandmarkClip(str(path), size[0], size[1], np.asarray(stamps, np.float64), np.stack(worlds),
                        np.stack(norms), np.stack(vis), np.asarray(counts, np.int64))


def save_landmarks(clip: LandmarkClip, path: str | os.PathLike) -> Path:
    """Write ``clip`` as an ``.npz`` file (plain arrays only)."""
    path = Path(path)
    np.savez_compressed(path, source=np.array(clip.source), size=np.array([clip.width, clip.height], np.int64),
                        **{k: getattr(clip, k) for k in _ARRAYS})
    return path


def load_landmarks(path: str | os.PathLike) -> LandmarkClip:
    """Read a file written by :func:`save_landmarks`; :class:`InputFileError` if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS + ("source", "size") if k not in z.files]
            if missing:
                raise InputFileError(path, f"not a landmark file: missing {', '.join(missing)}")
            data = {k: z[k] for k in _ARRAYS}
            source, size = str(z["source"]), z["size"]
    except (OSError, ValueError) as e:
        if isinstance(e, InputFileError):
            raise
        raise InputFileError(path, f"cannot be read as a landmark file ({e})") from None
    t = len(data["timestamps"])
    shapes = {"world": (t, None, 33, 3), "image_norm": (t, None, 33, 3), "visibility": (t, None, 33), "count": (t,)}
    for k, want in shapes.items():
        got = data[k].shape
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
            raise InputFileError(path, f"array {k} has shape {got}, expected {want}", field=k)
    return LandmarkClip(source, int(size[0]), int(size[1]), data["timestamps"].astype(np.float64),
                        data["world"].astype(np.float32), data["image_norm"].astype(np.float32),
                        data["visibility"].astype(np.float32), data["count"].astype(np.int64))


class ReplayEstimator:
    """Stands in for a :class:`cognn.pose.PoseEstimator`: returns the stored people of a clip, one frame per call."""

    def __init__(self, clip: LandmarkClip) -> None:
        self.clip = clip
        self.num_poses = int(clip.world.shape[1])
        self._t = 0

    def new_stream(self) -> None:
        self._t = 0

    def process(self, frame_bgr=None, timestamp_s: float | None = None) -> list:
        t = self._t
        self._t += 1
        return self.clip.people(t) if t < self.clip.num_frames else []

    def close(self) -> None:
        pass


def to_skeletons(clip: LandmarkClip, layout: str = "ntu25", domain: str | None = None, *,
                 smoothing: SmoothingConfig | None = None, num_persons: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Replay a clip through :class:`cognn.pose.tracker.PoseTracker` (smoothing — None = off —, person slots and the
    mapping to ``layout`` in ``domain``) exactly as a live pose source does.

    Returns ``skeleton`` ``(T, 3, V, M)`` float32 and ``timestamps`` ``(T,)``.
    """
    from .smoothing import NO_SMOOTHING
    from .tracker import PoseOptions, PoseTracker

    opts = PoseOptions(max_side=None, smoothing=smoothing or NO_SMOOTHING)
    tracker = PoseTracker(layout, num_persons, opts, domain=domain, estimator=ReplayEstimator(clip))
    tracker.new_stream()
    dummy = np.zeros((clip.height, clip.width, 1), np.uint8)  # only its size is read
    out = np.stack([tracker.process(dummy, float(t)).skeleton for t in clip.timestamps]) if clip.num_frames else \
        np.zeros((0, 3, tracker.layout.num_joints, num_persons), np.float32)
    return out.astype(np.float32), clip.timestamps.copy()
