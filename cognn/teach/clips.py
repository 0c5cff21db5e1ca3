"""Clips as a backbone sees them: the skeletons of a video, recording or skeleton file in a checkpoint's layout and
domain, at 30 fps, with the pose of each video extracted once and cached.

Videos go through :func:`cognn.pose.extract_skeletons`, the live pixel path (MediaPipe, One-Euro smoothing, the
layout mapping), so a model taught on them sees what it will see from a camera. Recordings (``cognn-recording`` HDF5)
must already be in the layout and domain. NTU ``.skeleton`` files carry 2-D colour-image coordinates besides their
3-D joints; for an image-domain layout those are mapped (1920x1080 pictures). Kinetics-skeleton JSON is read as the
st-gcn feeder reads it.

The cache holds one ``cognn-recording`` per clip and pose setting, named by the clip's SHA-1: editing, renaming or
moving a clip never serves a stale entry, and a broken entry is extracted again.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import file_digest
from ..domains import LAYOUT_DOMAIN
from ..errors import InputFileError
from ..layouts import get_layout
from ..train.clips import resample

__all__ = ["CLIP_EXTENSIONS", "FPS", "ClipReader", "default_cache_dir"]

FPS = 30.0
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
CLIP_EXTENSIONS = VIDEO_EXTENSIONS + (".skeleton", ".json", ".h5", ".hdf5")
#: part of every cache key: bump when what is cached changes
_CACHE_VERSION = 1

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def default_cache_dir() -> Path:
    """``$COGNN_CACHE`` or ``~/.cache/cognn``: where pose and features are kept for folders that are not writable."""
    env = os.environ.get("COGNN_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cognn"


class ClipReader:
    """Reads clips for one layout (its domain follows: ``kinetics18`` -> image2d, ``ntu25`` -> camera3d), caching the
    pose of videos under ``cache`` (None: no cache). One MediaPipe estimator serves every video; :meth:`close` it."""

    def __init__(self, layout: str, cache: Path | None, *, num_persons: int = 2, log: Log = _quiet) -> None:
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.cache = cache
        self.num_persons = num_persons
        self.log = log
        self._estimator: Any = None
        self._key: str | None = None

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    def __enter__(self) -> ClipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pose_key(self) -> str:
        """The pose model's digest, layout, persons and cache version: the part of a cache name that is not the clip."""
        if self._key is None:
            from ..pose.landmarker import resolve_model_path

            model = resolve_model_path(None)
            self._key = f"{file_digest(model, 'sha1')[:12]}-{self.layout.name}-m{self.num_persons}-v{_CACHE_VERSION}"
        return self._key

    def read(self, path: str | os.PathLike) -> np.ndarray:
        """``(T, 3, V, M)`` float32 at 30 fps in the layout's plain domain form (see the module docstring)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            skel, stamps = self._video(p)
        elif suffix in (".h5", ".hdf5"):
            skel, stamps = self._recording(p)
        elif suffix == ".skeleton":
            skel, stamps = self._ntu(p)
        elif suffix == ".json":
            skel, stamps = self._kinetics(p)
        else:
            raise InputFileError(p, f"is not a clip cognn reads ({', '.join(CLIP_EXTENSIONS)})")
        x = resample(np.asarray(skel, np.float32), stamps, FPS)
        if x.shape[3] < self.num_persons:
            x = np.concatenate([x, np.zeros((*x.shape[:3], self.num_persons - x.shape[3]), np.float32)], axis=3)
        return np.ascontiguousarray(x[..., :self.num_persons], dtype=np.float32)

    def raw(self, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        """A video's (or recording's) frames as the pose path gave them, ``(T, 3, V, M)`` and timestamps (seconds),
        not resampled: what a live session is fed."""
        p = Path(path)
        if p.suffix.lower() in VIDEO_EXTENSIONS:
            return self._video(p)
        if p.suffix.lower() in (".h5", ".hdf5"):
            return self._recording(p)
        x = self.read(p)
        return x, np.arange(len(x)) / FPS

    def _video(self, p: Path) -> tuple[np.ndarray, np.ndarray]:
        from ..data.store import load_recording, save_recording

        cached = None
        if self.cache is not None:
            cached = self.cache / f"{file_digest(p, 'sha1')}-{self.pose_key}.h5"
            if cached.is_file():
                try:
                    rec = load_recording(cached)
                    return rec.skeleton, rec.timestamps
                except InputFileError as e:
                    self.log(f"warning: ignoring a broken pose cache entry ({e}); extracting again")
        from ..pose.landmarker import PoseEstimator
        from ..pose.tracker import extract_skeletons

        if self._estimator is None:
            self._estimator = PoseEstimator(None, mode="video", num_poses=self.num_persons)
        self.log(f"pose of {p.name}")
        skel, stamps, info = extract_skeletons(p, self.layout.name, estimator=self._estimator,
                                               num_persons=self.num_persons)
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                save_recording(cached, skel, stamps, self.layout, self.domain, source=p.name, fps=info.get("fps"),
                               extra_attrs={"pose_key": self.pose_key}, inputs=[p])
            except OSError as e:
                self.log(f"warning: cannot write the pose cache {cached} ({e})")
        return skel, stamps

    def _recording(self, p: Path) -> tuple[np.ndarray, np.ndarray]:
        from ..data.store import load_recording

        rec = load_recording(p)
        if rec.layout != self.layout.name or rec.domain != self.domain:
            raise InputFileError(p, f"is a recording in layout {rec.layout} / {rec.domain}; this model needs "
                                    f"{self.layout.name} / {self.domain} (record it again with this model)")
        return rec.skeleton, rec.timestamps

    def _ntu(self, p: Path) -> tuple[np.ndarray, np.ndarray]:
        from ..data.ntu import read_ntu_skeleton, to_array

        seq = read_ntu_skeleton(p)
        if self.layout.name == "ntu25":
            arr = to_array(seq)  # (3, T, 25, 2)
            return arr.transpose(1, 0, 2, 3), np.arange(arr.shape[1]) / FPS
        from ..data.ntu import to_image2d

        arr = to_image2d(seq, self.layout.name)  # (T, 3, V, M)
        return arr, np.arange(arr.shape[0]) / FPS

    def _kinetics(self, p: Path) -> tuple[np.ndarray, np.ndarray]:
        if self.layout.name != "kinetics18":
            raise InputFileError(p, "is Kinetics-skeleton JSON (OpenPose-18, 2-D); this model needs "
                                    f"{self.layout.name}")
        from ..data.kinetics import read_kinetics_json, to_frames

        arr, _ = to_frames(read_kinetics_json(p), num_person_out=self.num_persons)  # (T, 3, 18, M)
        if not len(arr):
            raise InputFileError(p, "holds no frame with a person")
        return arr, np.arange(arr.shape[0]) / FPS
