"""Frame sources: where skeleton frames come from, one :class:`SkeletonFrame` at a time (no Qt).

:func:`open_source` opens any supported input and returns a :class:`FrameSource`:

* a video file (``.mp4``, ``.avi``, ...): MediaPipe pose in VIDEO mode on every decoded frame, mapped to the layout
  (:mod:`cognn.pose`), people kept in stable slots; timestamps from the video position;
* an NTU RGB+D ``.skeleton`` file (``ntu25``, Kinect camera metres, 30 fps; ``draw_px`` from the colour-image
  coordinates stored in the file, 1920x1080);
* a Kinetics-skeleton ``.json`` file (``kinetics18``, 30 fps; ``draw_px`` = normalised coordinates x a canvas);
* a cognn HDF5 recording (``cognn-recording``) or one sample of a dataset file (``cognn-dataset``; ``"data.h5#12"``
  opens sample 12, a bare path sample 0);
* an ``int``: a camera index, read with OpenCV, timestamps from the monotonic clock.

Every skeleton is ``(C, V, M)`` float32 in the source's domain (:mod:`cognn.domains`): NTU camera-space metres, or
``image2d`` = image coordinates normalised to [0, 1] minus 0.5 (y pointing down, as in the image) and the joint
score, zeros where the score is 0. Absent persons are zeros. Bad files raise :class:`~cognn.errors.InputFileError`.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from .domains import CAMERA3D, IMAGE2D, LAYOUT_DOMAIN
from .errors import CognnError, InputFileError
from .layouts import Layout, get_layout
from .pose.video import open_video, video_fps

__all__ = ["SkeletonFrame", "FrameSource", "SequenceSource", "VideoSource", "CameraSource", "open_source",
           "expand_inputs", "dataset_length", "source_kind", "project_to_canvas", "VIDEO_EXTENSIONS",
           "SKELETON_EXTENSIONS", "KINETICS_EXTENSIONS", "HDF5_EXTENSIONS", "SUPPORTED_EXTENSIONS", "NTU_FPS",
           "NTU_COLOR_SIZE", "KINETICS_CANVAS"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
SKELETON_EXTENSIONS = (".skeleton",)
KINETICS_EXTENSIONS = (".json",)
HDF5_EXTENSIONS = (".h5", ".hdf5")
SUPPORTED_EXTENSIONS = VIDEO_EXTENSIONS + SKELETON_EXTENSIONS + KINETICS_EXTENSIONS + HDF5_EXTENSIONS

#: frame rate of NTU RGB+D and of the Kinetics-skeleton release (both sampled at 30 fps)
NTU_FPS = 30.0
#: Kinect v2 colour image size, the space of the ``colorX``/``colorY`` joint coordinates in ``.skeleton`` files
NTU_COLOR_SIZE = (1920, 1080)
#: canvas for drawing Kinetics-skeleton joints (normalised coordinates, no image size in the file)
KINETICS_CANVAS = (640, 480)
#: approximate Kinect v2 colour focal length in pixels, used to project camera-space skeletons for drawing
_KINECT_FOCAL = 1050.0
_DEFAULT_FPS = 30.0


@dataclass
class SkeletonFrame:
    """One frame of a source."""

    #: 0-based frame index in the source
    index: int
    #: seconds from the start of the source (video position, camera clock, or index / fps for skeleton files)
    timestamp: float
    #: (C, V, M) float32 in the source's domain; zeros for absent persons
    skeleton: np.ndarray
    #: persons seen in this frame
    persons: int
    #: BGR frame for pixel sources (or the ``skeleton_video`` frame), else None
    image: np.ndarray | None = None
    #: (M, V, 2) pixel coordinates for drawing on ``image`` (or on a canvas of the source's ``canvas_size``); NaN where
    #: unknown
    draw_px: np.ndarray | None = None
    #: pose-estimation time in milliseconds for pixel sources
    pose_ms: float | None = None


@runtime_checkable
class FrameSource(Protocol):
    """An iterable of :class:`SkeletonFrame` from the current position on.

    Attributes: ``layout`` (:class:`~cognn.layouts.Layout`), ``domain``, ``fps`` (nominal), ``num_frames`` (None for
    live sources), ``name``, ``canvas_size`` ``(width, height)`` for drawing ``draw_px``, ``position`` (index of the
    next frame), ``live``. ``read()`` returns the next frame or None at the end; ``seek(index)`` (files only; raises
    for live sources), ``close()``; usable as a context manager.
    """

    layout: Layout
    domain: str
    fps: float
    num_frames: int | None
    name: str
    canvas_size: tuple[int, int]
    live: bool

    @property
    def position(self) -> int: ...

    def read(self) -> SkeletonFrame | None: ...

    def seek(self, index: int) -> None: ...

    def close(self) -> None: ...

    def __iter__(self) -> Iterator[SkeletonFrame]: ...

    def __enter__(self) -> "FrameSource": ...

    def __exit__(self, *exc) -> None: ...


class _SourceBase:
    """Iteration and context-manager plumbing shared by every source."""

    live = False

    def read(self) -> SkeletonFrame | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[SkeletonFrame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.layout.name} {self.domain}>"


# ---------------------------------------------------------------------------------------------------------------------
# drawing coordinates

def project_to_canvas(skeleton: np.ndarray, domain: str, canvas_size: tuple[int, int]) -> np.ndarray:
    """Pixel positions ``(M, V, 2)`` for drawing a skeleton ``(C, V, M)`` on a canvas ``(width, height)``.

    ``image2d``: ``(x + 0.5) * width, (y + 0.5) * height``, NaN where the score is 0. ``camera3d``: a pinhole
    projection like the Kinect colour camera (x grows to the right of the image, y up), scaled to the canvas, so a
    person facing the camera is seen as in NTU's colour images, which are mirrored (their right hand on the image's
    right); a person whose depth is not positive (hip-centred data) is drawn as if 3 m away. Absent joints are NaN.
    """
    s = np.asarray(skeleton, np.float32)
    w, h = canvas_size
    out = np.full((s.shape[2], s.shape[1], 2), np.nan, np.float32)
    if domain == IMAGE2D:
        for m in range(s.shape[2]):
            ok = s[2, :, m] > 0
            out[m, ok, 0] = (s[0, ok, m] + 0.5) * w
            out[m, ok, 1] = (s[1, ok, m] + 0.5) * h
        return out
    scale = w / NTU_COLOR_SIZE[0]
    f = _KINECT_FOCAL * scale
    for m in range(s.shape[2]):
        ok = np.abs(s[:, :, m]).sum(0) > 0
        if not ok.any():
            continue
        z = s[2, ok, m].astype(np.float64)
        if np.median(z) < 0.5:
            z = z + 3.0
        z = np.maximum(z, 0.1)
        out[m, ok, 0] = w / 2 + f * s[0, ok, m] / z
        out[m, ok, 1] = h / 2 - f * s[1, ok, m] / z
    return out


def _nan_where_zero(px: np.ndarray) -> np.ndarray:
    """``(2, T, V, M)`` pixel coordinates -> ``(T, M, V, 2)`` with NaN where both are 0 (joint not tracked)."""
    out = np.ascontiguousarray(px.transpose(1, 3, 2, 0), dtype=np.float32)
    out[(out == 0).all(-1)] = np.nan
    return out


# ---------------------------------------------------------------------------------------------------------------------
# video frames by index (for a skeleton file replayed over its video)

class _VideoFrames:
    """Random access to the BGR frames of a video file (sequential reads are cheap, seeks reposition)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._cap = open_video(self.path)
        self._next = 0

    def get(self, index: int) -> np.ndarray | None:
        import cv2

        if self._cap is None:
            return None
        if index != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = self._cap.read()
        self._next = index + 1
        return frame if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# ---------------------------------------------------------------------------------------------------------------------
# skeleton sequences held in memory

class SequenceSource(_SourceBase):
    """A skeleton sequence held in memory: NTU / Kinetics files, recordings and dataset samples.

    ``skeleton`` ``(T, C, V, M)``; ``timestamps`` ``(T,)`` seconds; ``persons`` ``(T,)`` (default: non-empty slots);
    ``draw_px`` ``(T, M, V, 2)`` (default: :func:`project_to_canvas`); ``video`` an optional video file whose frames
    become ``image`` (the same index).
    """

    def __init__(self, name: str, skeleton: np.ndarray, timestamps: np.ndarray, layout: str | Layout, domain: str,
                 fps: float, *, persons: np.ndarray | None = None, draw_px: np.ndarray | None = None,
                 canvas_size: tuple[int, int] | None = None, video: str | os.PathLike | None = None,
                 path: str | os.PathLike | None = None) -> None:
        self.name = name
        self.path = None if path is None else Path(path)
        self.layout = get_layout(layout)
        self.domain = domain
        self.fps = float(fps)
        self._skeleton = np.ascontiguousarray(skeleton, dtype=np.float32)
        self._timestamps = np.asarray(timestamps, np.float64)
        if persons is None:
            persons = (np.abs(self._skeleton).sum(axis=(1, 2)) > 0).sum(-1)
        self._persons = np.asarray(persons, np.int64)
        self._draw_px = draw_px
        if canvas_size is None:
            canvas_size = NTU_COLOR_SIZE if domain == CAMERA3D else KINETICS_CANVAS
        self._video = _VideoFrames(video) if video is not None else None
        self.canvas_size = tuple(canvas_size)
        self.num_frames = int(self._skeleton.shape[0])
        self._pos = 0

    @property
    def position(self) -> int:
        return self._pos

    @property
    def skeleton(self) -> np.ndarray:
        """The whole sequence ``(T, C, V, M)`` (read-only view)."""
        view = self._skeleton.view()
        view.flags.writeable = False
        return view

    @property
    def timestamps(self) -> np.ndarray:
        return self._timestamps.copy()

    def read(self) -> SkeletonFrame | None:
        i = self._pos
        if i >= self.num_frames:
            return None
        self._pos += 1
        skel = self._skeleton[i].copy()
        px = (self._draw_px[i].copy() if self._draw_px is not None
              else project_to_canvas(skel, self.domain, self.canvas_size))
        image = self._video.get(i) if self._video is not None else None
        return SkeletonFrame(index=i, timestamp=float(self._timestamps[i]), skeleton=skel,
                             persons=int(self._persons[i]), image=image, draw_px=px, pose_ms=None)

    def seek(self, index: int) -> None:
        if not 0 <= index <= self.num_frames:
            raise IndexError(f"{self.name}: frame {index} outside 0..{self.num_frames}")
        self._pos = int(index)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()


def _ntu_source(path: Path, layout: Layout, num_persons: int, video) -> SequenceSource:
    from .data.ntu import read_ntu_skeleton, to_array

    _require_layout(path, layout, "ntu25", "an NTU RGB+D .skeleton file")
    skel = read_ntu_skeleton(path)
    if skel.num_frames == 0:
        raise InputFileError(path, "the file holds no frame")
    xyz = to_array(skel, max_bodies=num_persons, channels="xyz")  # (3, T, 25, M)
    color = to_array(skel, max_bodies=num_persons, channels="color")  # (2, T, 25, M), same body order
    persons = np.array([len(bodies) for bodies in skel.frames])
    t = xyz.shape[1]
    return SequenceSource(path.name, xyz.transpose(1, 0, 2, 3), np.arange(t) / NTU_FPS, layout, CAMERA3D, NTU_FPS,
                          persons=persons, draw_px=_nan_where_zero(color), canvas_size=NTU_COLOR_SIZE, video=video,
                          path=path)


def _kinetics_source(path: Path, layout: Layout, num_persons: int, video) -> SequenceSource:
    from .data.kinetics import read_kinetics_json

    _require_layout(path, layout, "kinetics18", "a Kinetics-skeleton .json file")
    clip = read_kinetics_json(path)
    if not clip.frames:
        raise InputFileError(path, "the file holds no frame", field="data")
    base = min(1, min(fr.frame_index for fr in clip.frames))  # the release numbers frames from 1
    t = max(fr.frame_index for fr in clip.frames) - base + 1
    v = layout.num_joints
    skel = np.zeros((t, 3, v, num_persons), np.float32)
    persons = np.zeros(t, np.int64)
    people: list[list] = [[] for _ in range(t)]
    for fr in clip.frames:
        people[fr.frame_index - base].extend(fr.persons)
    for i, ps in enumerate(people):
        persons[i] = len(ps)
        if not ps:
            continue
        # as the reference feeder: persons ranked by summed score (stable), the best num_persons kept
        order = np.argsort([-float(p.score.sum()) for p in ps], kind="stable")[:num_persons]
        for m, j in enumerate(order):
            p = ps[j]
            seen = p.score > 0
            skel[i, 0, :, m] = np.where(seen, p.pose[:, 0] - 0.5, 0.0)
            skel[i, 1, :, m] = np.where(seen, p.pose[:, 1] - 0.5, 0.0)
            skel[i, 2, :, m] = p.score
    return SequenceSource(path.name, skel, np.arange(t) / NTU_FPS, layout, IMAGE2D, NTU_FPS, persons=persons,
                          canvas_size=KINETICS_CANVAS, video=video, path=path)


def _h5_format(path: Path) -> str:
    import h5py

    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a file")
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format", "")
    except OSError:
        raise InputFileError(path, "not an HDF5 file") from None
    return fmt.decode("utf-8") if isinstance(fmt, bytes) else str(fmt)


def _fit_persons(path: Path, skeleton: np.ndarray, num_persons: int) -> np.ndarray:
    """``(T, C, V, M')`` -> ``(T, C, V, num_persons)``: extra slots dropped, missing ones zero."""
    m = skeleton.shape[-1]
    if m == num_persons:
        return skeleton
    if m > num_persons:
        return skeleton[..., :num_persons]
    out = np.zeros(skeleton.shape[:-1] + (num_persons,), np.float32)
    out[..., :m] = skeleton
    return out


def _recording_source(path: Path, layout: Layout, num_persons: int, video) -> SequenceSource:
    from .data.store import load_recording

    rec = load_recording(path)
    _require_layout(path, layout, rec.layout, f"a {rec.layout} recording")
    if rec.num_frames == 0:
        raise InputFileError(path, "the recording holds no frame", field="skeleton")
    fps = rec.fps or _fps_from_timestamps(rec.timestamps)
    canvas = rec.attrs.get("canvas_size")
    canvas = tuple(int(c) for c in canvas) if canvas is not None and len(canvas) == 2 else None
    persons = rec.attrs.get("persons")
    persons = np.asarray(persons) if persons is not None and np.shape(persons) == (rec.num_frames,) else None
    return SequenceSource(path.name, _fit_persons(path, rec.skeleton, num_persons), rec.timestamps, layout,
                          rec.domain, fps, persons=persons, canvas_size=canvas, video=video, path=path)


def _dataset_source(path: Path, sample: int, layout: Layout, num_persons: int, video) -> SequenceSource:
    from .data.store import open_dataset

    with open_dataset(path) as ds:
        _require_layout(path, layout, ds.layout.name, f"a {ds.layout.name} dataset")
        if not -len(ds) <= sample < len(ds):
            raise InputFileError(path, f"sample {sample} does not exist (the file holds {len(ds)} samples)")
        data, _, name = ds.sample(sample)
        domain = ds.domain
    clip = data.transpose(1, 0, 2, 3)  # (T, C, V, M)
    filled = np.flatnonzero(np.abs(clip).reshape(len(clip), -1).sum(-1) > 0)
    clip = clip[: filled[-1] + 1] if len(filled) else clip[:1]  # trailing zero padding is not part of the clip
    t = len(clip)
    return SequenceSource(f"{path.name}#{sample % len(ds) if len(ds) else sample} ({name})",
                          _fit_persons(path, clip, num_persons), np.arange(t) / NTU_FPS, layout, domain, NTU_FPS,
                          video=video, path=path)


def _fps_from_timestamps(ts: np.ndarray) -> float:
    if len(ts) > 1 and ts[-1] > ts[0]:
        return float((len(ts) - 1) / (ts[-1] - ts[0]))
    return _DEFAULT_FPS


def _require_layout(path: Path, asked: Layout, have: str, what: str) -> None:
    if asked.name != have:
        raise InputFileError(path, f"is {what} (layout {have}), but the model uses layout {asked.name}")


# ---------------------------------------------------------------------------------------------------------------------
# pixel sources: pose on every frame

class _PoseTracker:
    """BGR frames -> (skeleton (C, V, M), persons, draw_px (M, V, 2), pose_ms) with people kept in slots."""

    def __init__(self, layout: Layout, num_persons: int, pose_model, estimator=None, *,
                 max_side: int | None = None) -> None:
        from .pose import PersonSlots, PoseEstimator

        self.layout = layout
        self.num_persons = num_persons
        self.max_side = max_side
        self._own = estimator is None
        self.estimator = PoseEstimator(pose_model, mode="video", num_poses=num_persons) if self._own else estimator
        if not self._own:
            self.estimator.new_stream()
        self.slots = PersonSlots(num_persons)
        from .pose.mapping import KINETICS18_FROM_MP, NTU25_FROM_MP

        self._px_matrix = NTU25_FROM_MP if layout.name == "ntu25" else KINETICS18_FROM_MP

    def reset(self) -> None:
        self.estimator.new_stream()
        self.slots.reset()

    def process(self, frame: np.ndarray, timestamp: float) -> tuple[np.ndarray, int, np.ndarray, float]:
        import cv2

        from .pose import arrange, people_to_layout

        small, scale = frame, 1.0
        if self.max_side is not None and max(frame.shape[:2]) > self.max_side:
            scale = self.max_side / max(frame.shape[:2])
            small = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        t0 = time.perf_counter()
        people = self.estimator.process(small, timestamp)
        pose_ms = 1000.0 * (time.perf_counter() - t0)
        assignment = self.slots.update([p.centre() for p in people], [p.score for p in people])
        v = self.layout.num_joints
        joints = people_to_layout(people, self.layout.name, w, h)
        skel = arrange(assignment, list(joints), (v, 3)).transpose(2, 1, 0)  # (3, V, M)
        px = np.full((self.num_persons, v, 2), np.nan, np.float32)
        for slot, det in enumerate(assignment.detections):
            if det is not None:
                px[slot] = (self._px_matrix @ people[det].image_px) / scale
        if self.layout.name == "kinetics18":
            px[skel.transpose(2, 1, 0)[..., 2] <= 0] = np.nan
        return np.ascontiguousarray(skel, dtype=np.float32), len(people), px, pose_ms

    def close(self) -> None:
        if self._own:
            self.estimator.close()


class VideoSource(_SourceBase):
    """A video file through pose: every decoded frame becomes one :class:`SkeletonFrame` with its image.

    Timestamps come from the video position (``CAP_PROP_POS_MSEC``, shifted to start at 0), falling back to the
    previous timestamp + 1/fps where the container gives none or an implausible one. ``flip_horizontal`` un-mirrors
    mirrored footage (NTU's RGB videos are mirrored) before pose; ``image`` and ``draw_px`` are then the flipped frame.
    ``max_side`` downsizes large frames for pose only (faster); ``draw_px`` stays in the original pixels.
    """

    def __init__(self, path: str | os.PathLike, layout: str | Layout = "ntu25", *, pose_model=None,
                 num_persons: int = 2, estimator=None, flip_horizontal: bool = False,
                 max_side: int | None = None) -> None:
        import cv2

        self.path = Path(path)
        self.name = self.path.name
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.flip_horizontal = flip_horizontal
        self._cap = open_video(self.path)
        try:
            ok, first = self._cap.read()
            if not ok or first is None:
                raise InputFileError(self.path, "no frame could be decoded (not a video, or an unsupported codec)")
            self.fps = video_fps(self._cap)
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.num_frames = count if count > 0 else None
            self.canvas_size = (int(first.shape[1]), int(first.shape[0]))
            self._t0 = self._raw_time()
            self._pending: tuple[np.ndarray, float | None] | None = (first, self._t0)
            self._pos = 0
            self._prev_ts: float | None = None
            self._tracker = _PoseTracker(self.layout, num_persons, pose_model, estimator, max_side=max_side)
        except BaseException:
            self._cap.release()
            raise

    def _raw_time(self) -> float | None:
        import cv2

        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if ms is not None and math.isfinite(ms) and ms >= 0 else None

    @property
    def position(self) -> int:
        return self._pos

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
        import cv2

        if self._cap is None:
            return None
        if self._pending is not None:
            frame, raw = self._pending
            self._pending = None
        else:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return None
            raw = self._raw_time()
        ts = self._timestamp(raw)
        if self.flip_horizontal:
            frame = cv2.flip(frame, 1)
        skel, persons, px, pose_ms = self._tracker.process(frame, ts)
        index = self._pos
        self._pos += 1
        return SkeletonFrame(index=index, timestamp=ts, skeleton=skel, persons=persons, image=frame, draw_px=px,
                             pose_ms=pose_ms)

    def seek(self, index: int) -> None:
        import cv2

        if self._cap is None:
            raise ValueError(f"{self.name}: the source is closed")
        if index < 0 or (self.num_frames is not None and index > self.num_frames):
            raise IndexError(f"{self.name}: frame {index} outside 0..{self.num_frames}")
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        self._pending = None
        self._pos = int(index)
        self._prev_ts = None
        self._tracker.reset()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
            self._tracker.close()


class CameraSource(_SourceBase):
    """A live camera (OpenCV device index); timestamps from the monotonic clock at capture, from 0."""

    live = True

    def __init__(self, index: int, layout: str | Layout = "ntu25", *, pose_model=None, num_persons: int = 2,
                 estimator=None, max_side: int | None = None) -> None:
        import cv2

        self.name = f"camera {index}"
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.num_frames = None
        cap = cv2.VideoCapture(int(index))
        ok, first = (cap.read() if cap.isOpened() else (False, None))
        if not ok or first is None:
            cap.release()
            raise CognnError(f"camera {index} cannot be opened (no such device, in use by another program, or no "
                             "permission); try another --camera index")
        self._cap = cap
        self.fps = video_fps(cap)
        self.canvas_size = (int(first.shape[1]), int(first.shape[0]))
        self._clock0 = time.monotonic()
        self._pending: np.ndarray | None = first
        self._pos = 0
        try:
            self._tracker = _PoseTracker(self.layout, num_persons, pose_model, estimator, max_side=max_side)
        except BaseException:
            cap.release()
            raise

    @property
    def position(self) -> int:
        return self._pos

    def read(self) -> SkeletonFrame | None:
        if self._cap is None:
            return None
        if self._pending is not None:
            frame, self._pending = self._pending, None
            ts = 0.0
        else:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return None
            ts = time.monotonic() - self._clock0
        skel, persons, px, pose_ms = self._tracker.process(frame, ts)
        index = self._pos
        self._pos += 1
        return SkeletonFrame(index=index, timestamp=ts, skeleton=skel, persons=persons, image=frame, draw_px=px,
                             pose_ms=pose_ms)

    def seek(self, index: int) -> None:
        raise ValueError(f"{self.name} is a live source; it cannot seek")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
            self._tracker.close()


# ---------------------------------------------------------------------------------------------------------------------
# entry points

def _split_sample(spec: str) -> tuple[str, int | None]:
    """``"data.h5#12"`` -> ``("data.h5", 12)``; anything else -> ``(spec, None)``."""
    head, sep, tail = spec.rpartition("#")
    if sep and tail.isdigit() and head.lower().endswith(HDF5_EXTENSIONS):
        return head, int(tail)
    return spec, None


def source_kind(path: str | os.PathLike) -> str | None:
    """``"video"``, ``"ntu"``, ``"kinetics"``, ``"hdf5"`` by file extension, or None if unsupported."""
    ext = Path(_split_sample(str(path))[0]).suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in SKELETON_EXTENSIONS:
        return "ntu"
    if ext in KINETICS_EXTENSIONS:
        return "kinetics"
    if ext in HDF5_EXTENSIONS:
        return "hdf5"
    return None


def open_source(spec: str | os.PathLike | int, *, layout: str | Layout = "ntu25", pose_model=None,
                num_persons: int = 2, skeleton_video: str | os.PathLike | None = None, estimator=None,
                flip_horizontal: bool = False, pose_max_side: int | None = None) -> FrameSource:
    """Open a video, NTU ``.skeleton``, Kinetics ``.json``, cognn HDF5 file (``"file.h5#i"``: dataset sample ``i``)
    or an ``int`` camera index as a :class:`FrameSource` in ``layout``.

    ``pose_model``: MediaPipe ``.task`` file for pixel sources (default: the bundled one); ``estimator``: an open
    :class:`cognn.pose.PoseEstimator` to reuse (restarted, left open); ``skeleton_video``: a video shown under a
    skeleton file (frame ``i`` with skeleton frame ``i``). Raises :class:`InputFileError` naming the file and the
    problem (missing, unsupported extension, corrupt, wrong layout), :class:`CognnError` for a camera that fails.
    """
    lay = get_layout(layout)
    if isinstance(spec, bool):
        raise TypeError("spec must be a path or a camera index")
    if isinstance(spec, int):
        return CameraSource(spec, lay, pose_model=pose_model, num_persons=num_persons, estimator=estimator,
                            max_side=pose_max_side)
    text, sample = _split_sample(os.fspath(spec))
    path = Path(text)
    kind = source_kind(path)
    if kind is None:
        if path.is_dir():
            raise InputFileError(path, "is a folder; give the files in it (cognn-infer accepts folders)")
        raise InputFileError(path, f"unsupported file type {path.suffix or '(no extension)'!r}; supported: "
                                   f"{', '.join(SUPPORTED_EXTENSIONS)}")
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a file")
    if kind == "video":
        if skeleton_video is not None:
            raise ValueError("skeleton_video applies to skeleton files, not to videos")
        return VideoSource(path, lay, pose_model=pose_model, num_persons=num_persons, estimator=estimator,
                           flip_horizontal=flip_horizontal, max_side=pose_max_side)
    if kind == "ntu":
        return _ntu_source(path, lay, num_persons, skeleton_video)
    if kind == "kinetics":
        return _kinetics_source(path, lay, num_persons, skeleton_video)
    fmt = _h5_format(path)
    if fmt == "cognn-recording":
        if sample is not None:
            raise InputFileError(path, "is a recording; '#index' selects a sample of a dataset file")
        return _recording_source(path, lay, num_persons, skeleton_video)
    if fmt == "cognn-dataset":
        return _dataset_source(path, sample or 0, lay, num_persons, skeleton_video)
    raise InputFileError(path, f"HDF5 file of format {fmt!r}; expected a cognn recording or dataset file"
                         if fmt else "HDF5 file without a cognn 'format' attribute (not a recording or dataset)")


def dataset_length(path: str | os.PathLike) -> int | None:
    """Number of samples if ``path`` is a cognn dataset file, else None (no error for other files)."""
    p = Path(path)
    if source_kind(p) != "hdf5" or not p.is_file():
        return None
    try:
        if _h5_format(p) != "cognn-dataset":
            return None
        import h5py

        with h5py.File(p, "r") as f:
            return int(f["data"].shape[0]) if "data" in f else None
    except (InputFileError, OSError, KeyError):
        return None


def expand_inputs(paths: list[str | os.PathLike]) -> list[str]:
    """Input specs in order: folders expanded recursively (supported extensions, sorted), dataset files into one
    ``"file.h5#i"`` per sample; everything else (including missing or unsupported paths) passed on unchanged so that
    opening it reports the problem."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and source_kind(f) is not None)
            items = [str(f) for f in found]
        else:
            items = [os.fspath(p)]
        for item in items:
            n = dataset_length(item) if _split_sample(item)[1] is None else None
            if n is not None and n > 1:
                out.extend(f"{item}#{i}" for i in range(n))
            else:
                out.append(item)
    return out
