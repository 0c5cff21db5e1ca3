"""THE way from a picture to a skeleton: pose, landmark smoothing, person slots, mapping to a layout and domain.

:class:`PoseTracker` is used by every pixel path in cognn — the video and camera sources, clip extraction for
training (:func:`extract_skeletons`), the replay of stored landmarks (:func:`cognn.pose.landmarks.to_skeletons`) and
the evaluation tools — so a person reaches a model as the same numbers whichever way they came in::

    frame (BGR) --resize to max_side--> MediaPipe (VIDEO mode) --PersonSlots--> One-Euro per tracked person
                --people_to_domain--> skeleton (C, V, M) in the model's layout and domain, draw_px (M, V, 2)

:class:`PoseOptions` holds every choice on the way (pose model file, processing size, smoothing, un-mirroring, root
translation); one set of defaults serves the app, ``cognn-infer`` and training.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..domains import IMAGE2D, LAYOUT_DOMAIN
from ..layouts import Layout, get_layout
from .mapping import KINETICS18_FROM_MP, NTU25_FROM_MP, people_to_domain
from .slots import PersonSlots, arrange
from .smoothing import DEFAULT_SMOOTHING, LandmarkSmoother, SmoothingConfig

__all__ = ["PoseOptions", "PoseFrame", "PoseTracker", "Estimator", "extract_skeletons", "DEFAULT_MAX_SIDE",
           "DEFAULT_SEARCH_EVERY"]

#: frames are shrunk to this longest side for pose (the landmark model's input is 256 px; 640 keeps small people
#: findable); drawing coordinates stay in the original pixels
DEFAULT_MAX_SIDE = 640
#: a frame with fewer people than slots looks for more every this many frames: 1, on every frame (MediaPipe's own
#: way); a larger interval is faster but was measured to lose people and change results (docs/benchmarks.md)
DEFAULT_SEARCH_EVERY = 1


class Estimator(Protocol):
    """What :class:`PoseTracker` needs of a pose estimator (:class:`cognn.pose.PoseEstimator` or a replay)."""

    num_poses: int

    def process(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> list[Any]: ...

    def new_stream(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PoseOptions:
    """Every choice on the way from pixels to a skeleton (defaults measured, see docs/live.md)."""

    #: MediaPipe ``.task`` file (None: the bundled model, or $COGNN_POSE_MODEL)
    model: str | None = None
    #: longest side of the frame pose sees (None: the full frame)
    max_side: int | None = DEFAULT_MAX_SIDE
    #: One-Euro smoothing of the landmarks of each tracked person
    smoothing: SmoothingConfig = DEFAULT_SMOOTHING
    #: un-mirror mirrored footage (NTU RGB videos) before pose; the image shown is then the flipped one
    flip_horizontal: bool = False
    #: place 3-D skeletons in camera space by a pinhole fit (camera3d); off: the hip centre at the origin
    translation: bool = True
    #: horizontal field of view assumed for that fit
    hfov_deg: float = 65.0
    #: with fewer people in view than slots, look for more on every n-th frame only, and only track the others: a
    #: frame then costs what one person's tracking costs, not a detection too (see PoseEstimator; 1: every frame)
    search_every: int = DEFAULT_SEARCH_EVERY

    def __post_init__(self) -> None:
        if self.max_side is not None and self.max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels (or None), got {self.max_side}")
        if self.search_every < 1:
            raise ValueError(f"search_every must be at least 1 (every frame), got {self.search_every}")


@dataclass
class PoseFrame:
    """One picture turned into a skeleton."""

    #: (C, V, M) float32 in the tracker's layout and domain; zeros for empty slots
    skeleton: np.ndarray
    #: people detected (may exceed the slots)
    persons: int
    #: (M, V, 2) pixel coordinates in ``image`` for drawing; NaN where unknown
    draw_px: np.ndarray
    #: milliseconds the pose model took
    pose_ms: float
    #: the picture the skeleton belongs to (flipped when the options say so)
    image: np.ndarray
    #: track id per slot (None = empty)
    track_ids: tuple[int | None, ...] = field(default_factory=tuple)


class PoseTracker:
    """Pictures -> skeletons of ``layout`` in ``domain`` (default: the layout's), people kept in ``num_persons``
    slots (see the module docstring).

    ``estimator``: an open estimator to use (kept open by :meth:`close`); by default a MediaPipe VIDEO-mode
    :class:`cognn.pose.PoseEstimator` is made from ``options.model`` and closed by :meth:`close`.
    """

    def __init__(self, layout: str | Layout, num_persons: int = 2, options: PoseOptions = PoseOptions(), *,
                 domain: str | None = None, estimator: Estimator | None = None) -> None:
        self.layout = get_layout(layout)
        self.domain = domain or LAYOUT_DOMAIN[self.layout.name]
        self.num_persons = int(num_persons)
        self.options = options
        self._own = estimator is None
        if estimator is None:
            from .landmarker import PoseEstimator

            estimator = PoseEstimator(options.model, mode="video", num_poses=self.num_persons,
                                      search_every=options.search_every)
        self.estimator = estimator
        self.slots = PersonSlots(self.num_persons)
        self.smoother = LandmarkSmoother(options.smoothing)
        self._px_matrix = NTU25_FROM_MP if self.layout.name == "ntu25" else KINETICS18_FROM_MP

    @property
    def model_path(self) -> Path | None:
        path = getattr(self.estimator, "model_path", None)
        return None if path is None else Path(path)

    def new_stream(self) -> None:
        """A new video or camera: forget pose tracking, person slots and smoothing."""
        self.estimator.new_stream()
        self.slots.reset()
        self.smoother.reset()

    def close(self) -> None:
        if self._own:
            self.estimator.close()

    def __enter__(self) -> PoseTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _smooth(self, people: list[Any], track_ids: tuple[int | None, ...], detections: tuple[int | None, ...],
                size: np.ndarray, timestamp: float) -> list[Any]:
        from .landmarker import PersonPose

        self.smoother.keep_only(i for i in self.slots.track_ids if i is not None)
        if not self.options.smoothing.enabled or not people:
            return people
        out = list(people)
        for det, track in zip(detections, track_ids):
            if det is None or track is None:
                continue
            p = people[det]
            world = self.smoother(track, p.world, timestamp, name="world")
            norm = self.smoother(track, p.image_norm, timestamp, name="image")
            out[det] = PersonPose(image_px=norm[:, :2] * size, image_norm=norm, world=world,
                                  visibility=p.visibility)
        return out

    def picture(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The picture as pose sees and the user is shown it (un-mirrored when the options say so)."""
        import cv2

        return cv2.flip(frame_bgr, 1) if self.options.flip_horizontal else frame_bgr

    def process(self, frame_bgr: np.ndarray, timestamp: float) -> PoseFrame:
        """One BGR picture taken at ``timestamp`` seconds -> :class:`PoseFrame`."""
        import cv2

        opts = self.options
        image = self.picture(frame_bgr)
        small, scale = image, 1.0
        if opts.max_side is not None and max(image.shape[:2]) > opts.max_side:
            scale = opts.max_side / max(image.shape[:2])
            small = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        t0 = time.perf_counter()
        people = list(self.estimator.process(small, timestamp))
        pose_ms = 1000.0 * (time.perf_counter() - t0)
        assignment = self.slots.update([p.centre() for p in people], [p.score for p in people])
        people = self._smooth(people, assignment.track_ids, assignment.detections,
                              np.array([w, h], np.float32), float(timestamp))
        v = self.layout.num_joints
        joints = people_to_domain(people, self.layout.name, w, h, self.domain, translation=opts.translation,
                                  hfov_deg=opts.hfov_deg)
        skel = arrange(assignment, list(joints), (v, 3)).transpose(2, 1, 0)  # (3, V, M)
        px = np.full((self.num_persons, v, 2), np.nan, np.float32)
        for slot, det in enumerate(assignment.detections):
            if det is not None:
                px[slot] = (self._px_matrix @ people[det].image_px) / scale
        if self.domain == IMAGE2D:
            px[skel.transpose(2, 1, 0)[..., 2] <= 0] = np.nan
        return PoseFrame(np.ascontiguousarray(skel, dtype=np.float32), len(people), px, pose_ms, image,
                         assignment.track_ids)


def extract_skeletons(path: str | os.PathLike, layout: str = "ntu25", max_frames: int | None = None,
                      estimator: Estimator | None = None, *, num_persons: int = 2,
                      options: PoseOptions | None = None, translation: bool = True, hfov_deg: float = 65.0,
                      flip_horizontal: bool = False, max_side: int | None = DEFAULT_MAX_SIDE,
                      smoothing: SmoothingConfig = DEFAULT_SMOOTHING) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A whole video through :class:`PoseTracker` (the live path), for training on clips and for evaluation.

    Returns ``skeleton`` ``(T, 3, V, M)`` float32 in the layout's domain, ``timestamps`` ``(T,)`` seconds (video
    position) and ``info`` (fps, size, track ids ``(T, M)`` with -1 for empty, pose time, ...). ``options`` (else the
    keyword arguments) choose the pose settings. A given ``estimator`` is restarted and left open.
    """
    from .video import iter_video_frames

    lay = get_layout(layout)
    opts = options or PoseOptions(max_side=max_side, smoothing=smoothing, flip_horizontal=flip_horizontal,
                                  translation=translation, hfov_deg=hfov_deg)
    frames_iter = iter_video_frames(path, max_frames=max_frames)  # opens the file now: bad paths fail before pose
    tracker = PoseTracker(lay, num_persons, opts, estimator=estimator)
    if estimator is not None:
        tracker.new_stream()
    frames, stamps, tracks = [], [], []
    size = (0, 0)
    pose_ms = 0.0
    with_people = 0
    try:
        for _, ts, frame in frames_iter:
            pf = tracker.process(frame, ts)
            if not size[0]:
                s = 1.0 if opts.max_side is None else min(1.0, opts.max_side / max(frame.shape[:2]))
                size = (round(frame.shape[1] * s), round(frame.shape[0] * s))
            pose_ms += pf.pose_ms
            with_people += bool(pf.persons)
            frames.append(pf.skeleton)
            tracks.append([-1 if i is None else i for i in pf.track_ids])
            stamps.append(ts)
    finally:
        tracker.close()
    skeleton = np.stack(frames).astype(np.float32)
    info = {
        "path": str(path), "layout": lay.name, "domain": tracker.domain, "num_frames": len(frames),
        "width": size[0], "height": size[1], "frames_with_people": with_people,
        "fps": (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else None,
        "track_ids": np.asarray(tracks, dtype=np.int64), "pose_ms_per_frame": pose_ms / len(frames),
        "model": str(tracker.model_path), "translation": opts.translation, "hfov_deg": opts.hfov_deg,
        "flip_horizontal": opts.flip_horizontal, "smoothing": opts.smoothing.enabled,
    }
    return skeleton, np.asarray(stamps, dtype=np.float64), info
