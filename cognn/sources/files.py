"""Skeleton files as sources: NTU ``.skeleton``, Kinetics-skeleton ``.json``, cognn HDF5 recordings and dataset samples.

Each is read whole (the readers in :mod:`cognn.data` check it) and replayed from memory by :class:`SequenceSource`:

* NTU RGB+D ``.skeleton`` (``ntu25``, Kinect camera metres, 30 fps; ``draw_px`` from the colour-image coordinates
  stored in the file, 1920x1080);
* Kinetics-skeleton ``.json`` (``kinetics18``, ``image2d``, 30 fps; persons ranked by summed score per frame as the
  reference feeder does; ``draw_px`` = normalised coordinates x a canvas);
* a cognn HDF5 recording, or one sample of a cognn dataset file.

An optional ``video`` shows its frame ``i`` under skeleton frame ``i``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..domains import CAMERA3D, IMAGE2D
from ..errors import InputFileError
from ..layouts import Layout, get_layout
from .frame import DEFAULT_FPS, KINETICS_CANVAS, NTU_COLOR_SIZE, NTU_FPS, SkeletonFrame, SourceBase, project_to_canvas

if TYPE_CHECKING:
    import cv2

__all__ = ["SequenceSource", "ntu_source", "kinetics_source", "recording_source", "dataset_source"]


def _nan_where_zero(px: np.ndarray) -> np.ndarray:
    """``(2, T, V, M)`` pixel coordinates -> ``(T, M, V, 2)`` with NaN where both are 0 (joint not tracked)."""
    out = np.ascontiguousarray(px.transpose(1, 3, 2, 0), dtype=np.float32)
    out[(out == 0).all(-1)] = np.nan
    return out


class _VideoFrames:
    """Random access to the BGR frames of a video file (sequential reads are cheap, seeks reposition)."""

    def __init__(self, path: str | os.PathLike) -> None:
        from ..pose.video import open_video

        self.path = Path(path)
        self._cap: cv2.VideoCapture | None = open_video(self.path)
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


class SequenceSource(SourceBase):
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
        self.canvas_size = (int(canvas_size[0]), int(canvas_size[1]))
        self.num_frames: int | None = int(self._skeleton.shape[0])
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
        if i >= len(self._skeleton):
            return None
        captured = time.perf_counter()
        self._pos += 1
        skel = self._skeleton[i].copy()
        px = (self._draw_px[i].copy() if self._draw_px is not None
              else project_to_canvas(skel, self.domain, self.canvas_size))
        image = self._video.get(i) if self._video is not None else None
        return SkeletonFrame(index=i, timestamp=float(self._timestamps[i]), skeleton=skel,
                             persons=int(self._persons[i]), image=image, draw_px=px, pose_ms=None, captured=captured)

    def seek(self, index: int) -> None:
        if not 0 <= index <= len(self._skeleton):
            raise IndexError(f"{self.name}: frame {index} outside 0..{len(self._skeleton)}")
        self._pos = int(index)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()


def _require_layout(path: Path, asked: Layout, have: str, what: str) -> None:
    if asked.name != have:
        raise InputFileError(path, f"is {what} (layout {have}), but the model uses layout {asked.name}")


def _fit_persons(skeleton: np.ndarray, num_persons: int) -> np.ndarray:
    """``(T, C, V, M')`` -> ``(T, C, V, num_persons)``: extra slots dropped, missing ones zero."""
    m = skeleton.shape[-1]
    if m == num_persons:
        return skeleton
    if m > num_persons:
        return skeleton[..., :num_persons]
    out = np.zeros(skeleton.shape[:-1] + (num_persons,), np.float32)
    out[..., :m] = skeleton
    return out


def _fps_from_timestamps(ts: np.ndarray) -> float:
    if len(ts) > 1 and ts[-1] > ts[0]:
        return float((len(ts) - 1) / (ts[-1] - ts[0]))
    return DEFAULT_FPS


def ntu_source(path: Path, layout: Layout, num_persons: int, video: str | os.PathLike | None) -> SequenceSource:
    """An NTU RGB+D ``.skeleton`` file."""
    from ..data.ntu import read_ntu_skeleton, to_array

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


def kinetics_source(path: Path, layout: Layout, num_persons: int, video: str | os.PathLike | None
                    ) -> SequenceSource:
    """A Kinetics-skeleton ``.json`` file: frames in the st-gcn feeder's form (:func:`cognn.data.kinetics.to_frames`).
    """
    from ..data.kinetics import read_kinetics_json, to_frames

    clip = read_kinetics_json(path)  # read first: a .json file is named a Kinetics-skeleton file only once it is one
    if not clip.frames:
        raise InputFileError(path, "the file holds no frame", field="data")
    if not any(fr.persons for fr in clip.frames):
        n = len(clip.frames)
        raise InputFileError(path, f"holds {n} frame{'s' if n != 1 else ''} but no skeleton in any", field="data")
    _require_layout(path, layout, "kinetics18", "a Kinetics-skeleton .json file")
    skel, persons = to_frames(clip, num_persons)
    t = len(skel)
    return SequenceSource(path.name, skel, np.arange(t) / NTU_FPS, layout, IMAGE2D, NTU_FPS, persons=persons,
                          canvas_size=KINETICS_CANVAS, video=video, path=path)


def recording_source(path: Path, layout: Layout, num_persons: int, video: str | os.PathLike | None
                     ) -> SequenceSource:
    """A cognn HDF5 recording (``cognn-infer --save-skeletons`` or the app's Record)."""
    from ..data.store import load_recording

    rec = load_recording(path)
    _require_layout(path, layout, rec.layout, f"a {rec.layout} recording")
    if rec.num_frames == 0:
        raise InputFileError(path, "the recording holds no frame", field="skeleton")
    fps = rec.fps or _fps_from_timestamps(rec.timestamps)
    canvas = rec.attrs.get("canvas_size")
    size = (int(canvas[0]), int(canvas[1])) if canvas is not None and len(canvas) == 2 else None
    persons = rec.attrs.get("persons")
    persons = np.asarray(persons) if persons is not None and np.shape(persons) == (rec.num_frames,) else None
    return SequenceSource(path.name, _fit_persons(rec.skeleton, num_persons), rec.timestamps, layout,
                          rec.domain, fps, persons=persons, canvas_size=size, video=video, path=path)


def dataset_source(path: Path, sample: int, layout: Layout, num_persons: int, video: str | os.PathLike | None
                   ) -> SequenceSource:
    """Sample ``sample`` of a cognn dataset file (its trailing zero padding is not part of the clip)."""
    from ..data.store import open_dataset

    with open_dataset(path) as ds:
        _require_layout(path, layout, ds.layout.name, f"a {ds.layout.name} dataset")
        if not -len(ds) <= sample < len(ds):
            raise InputFileError(path, f"sample {sample} does not exist (the file holds {len(ds)} samples)")
        data, _, name = ds.sample(sample)
        domain = ds.domain
        index = sample % len(ds)
    clip = data.transpose(1, 0, 2, 3)  # (T, C, V, M)
    filled = np.flatnonzero(np.abs(clip).reshape(len(clip), -1).sum(-1) > 0)
    clip = clip[: filled[-1] + 1] if len(filled) else clip[:1]
    t = len(clip)
    return SequenceSource(f"{path.name}#{index} ({name})", _fit_persons(clip, num_persons), np.arange(t) / NTU_FPS,
                          layout, domain, NTU_FPS, video=video, path=path)
