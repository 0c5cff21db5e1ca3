"""Custom actions from a folder of clips: one sub-folder per action holding videos, NTU ``.skeleton`` files or
``cognn-recording`` HDF5 files.

Each clip becomes one NTU-25 training sample ``(3, 300, 25, 2)``: video pose comes from
:func:`cognn.pose.extract_skeletons` (cached in ``DIR/.cognn-cache``, keyed by the video's SHA-1 and the pose model),
the sequence is resampled to 30 fps by its timestamps, cut to its middle 10 s when longer, zero-padded, and put through
the reference :func:`~cognn.data.transforms.pre_normalization`. The clips are split per class into training and
validation sets.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.files import file_digest
from ..domains import CAMERA3D
from ..errors import CognnError, InputFileError
from ..layouts import get_layout
from .data import ArraySource

if TYPE_CHECKING:
    from ..pose.landmarker import PoseEstimator

__all__ = ["VIDEO_EXTENSIONS", "SKELETON_EXTENSIONS", "RECORDING_EXTENSIONS", "CACHE_DIR", "MIN_CLIPS_PER_CLASS",
           "scan_clip_folder", "file_sha1", "resample", "fit_length", "stratified_split", "ClipSets",
           "prepare_clips"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
SKELETON_EXTENSIONS = (".skeleton",)
RECORDING_EXTENSIONS = (".h5", ".hdf5")
CACHE_DIR = ".cognn-cache"
#: below this many clips in a class, training warns (about 10 works, 100 is comfortable)
MIN_CLIPS_PER_CLASS = 10
LAYOUT = "ntu25"
FPS = 30.0
#: video frames are downsized to this longest side before pose (part of the cache key)
POSE_MAX_SIDE = 640
_CACHE_VERSION = 2  # 2: landmarks smoothed as live

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def scan_clip_folder(root: str | Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (the sub-folder names, sorted) and ``(file, label)`` pairs of every usable clip under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "is not a folder (expected one sub-folder of clips per action)")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    exts = VIDEO_EXTENSIONS + SKELETON_EXTENSIONS + RECORDING_EXTENSIONS
    classes: list[str] = []
    files: list[tuple[Path, int]] = []
    for folder in folders:
        clips = sorted(p for p in folder.iterdir() if p.suffix.lower() in exts and not p.name.startswith(".")
                       and p.is_file())
        if not clips:
            continue
        for clip in clips:
            files.append((clip, len(classes)))
        classes.append(folder.name)
    if len(classes) < 2:
        raise InputFileError(root, f"found {len(classes)} action folder(s) with clips; at least 2 are needed "
                                   f"(one sub-folder per action holding {', '.join(exts)} files)")
    return classes, files


def file_sha1(path: str | Path) -> str:
    """Hex SHA-1 of a file's bytes (the clip cache's key)."""
    return file_digest(path, "sha1")


def resample(skeleton: np.ndarray, timestamps: np.ndarray, fps: float = FPS) -> np.ndarray:
    """``(T, C, V, M)`` frames at ``timestamps`` (seconds) -> frames every ``1/fps`` s (nearest earlier-or-equal frame).

    Timestamps that do not increase (or are missing) leave the frames as they are.
    """
    t = np.asarray(timestamps, np.float64)
    if len(skeleton) < 2 or len(t) != len(skeleton) or not np.all(np.isfinite(t)) or t[-1] <= t[0]:
        return skeleton
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fps + 1e-6)) + 1) / fps
    idx = np.clip(np.searchsorted(t, grid + 1e-6, side="right") - 1, 0, len(t) - 1)
    return skeleton[idx]


def fit_length(skeleton: np.ndarray, frames: int, persons: int = 2) -> tuple[np.ndarray, bool]:
    """``(T, 3, V, M)`` -> ``(3, frames, V, persons)``: the middle ``frames`` frames of longer clips (flag True),
    zeros after shorter ones; persons beyond ``persons`` dropped, missing ones zero."""
    t, c, v, m = skeleton.shape
    cut = t > frames
    if cut:
        start = (t - frames) // 2
        skeleton = skeleton[start:start + frames]
        t = frames
    out = np.zeros((c, frames, v, persons), np.float32)
    k = min(m, persons)
    out[:, :t, :, :k] = skeleton[:, :, :, :k].transpose(1, 0, 2, 3)
    return out, cut


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices, split per class: a class of ``n >= 2`` clips gives
    ``max(1, round(val_fraction * n))`` (but at most ``n - 1``) to validation; a single clip goes to training."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = 0 if len(idx) < 2 or val_fraction <= 0 else min(len(idx) - 1, max(1, round(val_fraction * len(idx))))
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return np.sort(np.asarray(train, np.int64)), np.sort(np.asarray(val, np.int64))


# ---------------------------------------------------------------------------------------------------------------------
# reading one clip

class _PoseRunner:
    """Pose extraction for the videos of a folder, with one estimator and the on-disk cache."""

    def __init__(self, cache: Path | None, pose_model: str | Path | None, log: Log) -> None:
        self.cache = cache
        self.pose_model = pose_model
        self.log = log
        self._estimator: PoseEstimator | None = None
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            from ..pose.landmarker import resolve_model_path

            model = resolve_model_path(self.pose_model)
            self._key = f"{file_sha1(model)[:12]}-{LAYOUT}-s{POSE_MAX_SIDE}-v{_CACHE_VERSION}"
        return self._key

    def skeleton(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        from ..data.store import load_recording, save_recording

        cached = None
        if self.cache is not None:
            cached = self.cache / f"{file_sha1(path)}-{self.key}.h5"
            if cached.is_file():
                try:
                    rec = load_recording(cached)
                    return rec.skeleton, rec.timestamps
                except InputFileError as e:
                    self.log(f"warning: ignoring a broken pose cache entry ({e}); extracting again")
        from ..pose.tracker import extract_skeletons  # the live path: pose, smoothing, slots, mapping

        if self._estimator is None:
            from ..pose.landmarker import PoseEstimator

            self._estimator = PoseEstimator(self.pose_model, mode="video", num_poses=2)
        self.log(f"extracting pose from {path}")
        skel, stamps, info = extract_skeletons(path, LAYOUT, estimator=self._estimator, max_side=POSE_MAX_SIDE)
        if cached is not None:
            try:
                save_recording(cached, skel, stamps, LAYOUT, CAMERA3D, source=str(path), fps=info.get("fps"),
                               extra_attrs={"pose_key": self.key})
            except OSError as e:
                self.log(f"warning: cannot write the pose cache {cached} ({e})")
        return skel, stamps

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None


def _read_clip(path: Path, pose: _PoseRunner) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 3, 25, M)`` joints in NTU camera space and their timestamps."""
    suffix = path.suffix.lower()
    if suffix in SKELETON_EXTENSIONS:
        from ..data.ntu import read_ntu_skeleton, to_array

        arr = to_array(read_ntu_skeleton(path))  # (3, T, 25, 2)
        return arr.transpose(1, 0, 2, 3), np.arange(arr.shape[1]) / FPS
    if suffix in RECORDING_EXTENSIONS:
        from ..data.store import load_recording

        rec = load_recording(path)
        if rec.layout != LAYOUT or rec.domain != CAMERA3D:
            raise InputFileError(path, f"recording in layout {rec.layout} / domain {rec.domain}; custom actions "
                                       f"need {LAYOUT} / {CAMERA3D}")
        return rec.skeleton, rec.timestamps
    return pose.skeleton(path)


# ---------------------------------------------------------------------------------------------------------------------
# the whole folder

@dataclass
class ClipSets:
    """Training and validation samples of a clip folder (``val`` is None when no class has two clips)."""

    train: ArraySource
    val: ArraySource | None
    classes: list[str]
    counts: list[int]


def prepare_clips(root: str | Path, *, frames: int = 300, val_fraction: float = 0.2, seed: int = 1,
                  pose_model: str | Path | None = None, use_cache: bool = True, log: Log = _quiet,
                  warn: Log = _quiet) -> ClipSets:
    """Read every clip under ``root`` into NTU-25 samples and split them per class (see the module docstring)."""
    from ..data.transforms import PREPROCESSING_NAME, pre_normalization

    root = Path(root)
    classes, files = scan_clip_folder(root)
    cache = root / CACHE_DIR if use_cache else None
    if cache is not None:
        try:
            cache.mkdir(exist_ok=True)
        except OSError as e:
            warn(f"warning: cannot create the pose cache {cache} ({e}); pose will be extracted on every run")
            cache = None
    pose = _PoseRunner(cache, pose_model, log)
    data, labels, names = [], [], []
    try:
        for path, label in files:
            skel, stamps = _read_clip(path, pose)
            if not np.any(skel):
                warn(f"warning: {path}: no person found in any frame; clip skipped")
                continue
            clip, cut = fit_length(resample(np.asarray(skel, np.float32), stamps), frames)
            if cut:
                warn(f"warning: {path} is longer than {frames / FPS:.0f} s; only its middle {frames / FPS:.0f} s "
                     "are used")
            data.append(pre_normalization(clip, LAYOUT))
            labels.append(label)
            names.append(f"{classes[label]}/{path.name}")
    finally:
        pose.close()
    labels_arr = np.asarray(labels, np.int64)
    counts = [int((labels_arr == i).sum()) for i in range(len(classes))]
    empty = [c for c, n in zip(classes, counts) if n == 0]
    if empty:
        raise CognnError(f"no usable clip in the action folder(s) {', '.join(empty)} under {root}")
    few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < MIN_CLIPS_PER_CLASS]
    if few:
        warn(f"warning: fewer than {MIN_CLIPS_PER_CLASS} clips in {', '.join(few)}; expect a weak model "
             f"(about 10 clips per action works, 100 is comfortable)")
    lay = get_layout(LAYOUT)
    everything = ArraySource(np.stack(data), labels_arr, classes, lay, CAMERA3D, PREPROCESSING_NAME,
                             f"clips in {root}", names)
    train_idx, val_idx = stratified_split(labels_arr, val_fraction, seed)
    train = everything.subset(train_idx, f"custom actions {root.name} ({len(train_idx)} training clips)")
    val = everything.subset(val_idx, f"custom actions {root.name} ({len(val_idx)} validation clips)") \
        if len(val_idx) else None
    return ClipSets(train, val, classes, counts)
