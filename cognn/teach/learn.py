"""From labelled clips to a continual model with a new head: augmented copies, backbone features (cached), windows,
the fit.

A clip comes with a label per frame (``-1``: leave the frame out, e.g. the seconds around a transition). For each
augmented copy the backbone's pooled positions are computed once (:func:`cognn.teach.features.positions`) and kept in
the feature cache, keyed by the clip's content, the copy's seed and the backbone's weights; the training windows are
the pool's averages at every answer the continual model gives, labelled with the frame the answer is given at.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import AtomicOutput
from ..data.conventions import prepare_clip
from ..errors import CognnError
from ..models.base import CoSkeletonNet
from .augment import AUGMENT_VERSION, AugmentConfig, augment_clip
from .features import answer_frames, positions, step_features

__all__ = ["LabelledClip", "Windows", "augment_key", "clip_copy", "clip_windows", "collect_windows", "model_digest",
           "skeleton_digest"]

#: bumped when what the feature cache holds changes
_FEATURE_VERSION = 1


def skeleton_digest(skeleton: np.ndarray) -> str:
    """A short digest of a clip's content (its float32 bytes): the key of what is cached about it."""
    return hashlib.sha1(np.ascontiguousarray(skeleton, np.float32).tobytes()).hexdigest()[:16]


@dataclass
class LabelledClip:
    """One clip in the image2d/camera3d plain form ``(T, 3, V, M)`` at 30 fps with a class index per frame
    (``-1``: not used), the person it shows (for leave-one-person-out) and its name."""

    name: str
    skeleton: np.ndarray
    frame_labels: np.ndarray
    person: str = ""
    weight: float = 1.0

    def digest(self) -> str:
        """The skeleton's digest (the labels do not change the features: a clip labelled anew reuses them)."""
        return skeleton_digest(self.skeleton)


@dataclass
class Windows:
    """Training windows: features ``(S, C')``, labels ``(S,)``, the clip each came from ``(S,)`` (an index into
    ``names``), whether it is the clip itself (copy 0) and per-sample weights."""

    features: np.ndarray
    labels: np.ndarray
    clip: np.ndarray
    original: np.ndarray
    weight: np.ndarray
    names: list[str] = field(default_factory=list)

    def subset(self, mask: np.ndarray) -> Windows:
        return Windows(self.features[mask], self.labels[mask], self.clip[mask], self.original[mask], self.weight[mask],
                       self.names)

    def join(self, other: Windows) -> Windows:
        """These windows and ``other``'s, whose clip indices are shifted past this one's names (a clip index of -1,
        no clip, stays -1)."""
        shift = len(self.names)
        return Windows(np.concatenate([self.features, other.features]), np.concatenate([self.labels, other.labels]),
                       np.concatenate([self.clip, np.where(other.clip >= 0, other.clip + shift, -1)]),
                       np.concatenate([self.original, other.original]), np.concatenate([self.weight, other.weight]),
                       self.names + other.names)


def model_digest(model: CoSkeletonNet) -> str:
    """A short digest of the backbone's weights and geometry (the feature cache's key part)."""
    h = hashlib.sha1(f"{model.name}|{model.layout.name}|{model.base_channels}|{model.num_persons}".encode())
    for k, v in sorted(model.state_dict().items()):
        if k.startswith("fc."):
            continue
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _cached_positions(model: CoSkeletonNet, digest: str, clip: np.ndarray, key: str, convention: str,
                      cache: Path | None) -> np.ndarray:
    path = None if cache is None else cache / f"pos-{digest}-{key}-v{_FEATURE_VERSION}.npy"
    if path is not None and path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.ndim == 2 and arr.dtype == np.float32 and np.isfinite(arr).all():
                return arr
        except (OSError, ValueError):
            pass
    prepared = prepare_clip(np.ascontiguousarray(clip.transpose(1, 0, 2, 3)), convention, model.layout)
    pos = positions(model, prepared)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with AtomicOutput(path, what="feature cache") as out, open(out.temp, "wb") as f:
                np.save(f, pos)
        except (OSError, CognnError):  # a cache that cannot be written only costs the next run this clip again
            pass
    return pos


def augment_key(augment: AugmentConfig) -> str:
    """A short digest of how augmented copies are drawn (the ranges and :data:`AUGMENT_VERSION`): a copy's cached
    features are its own, never those of a copy drawn another way."""
    return hashlib.sha1(f"{AUGMENT_VERSION}|{augment!r}".encode()).hexdigest()[:8]


def clip_copy(clip: LabelledClip, copy: int, seed: int, layout: str,
              augment: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``copy`` of a clip (0: the clip itself, else an augmented copy drawn from the clip's content, the copy
    number and ``seed``, so it is the same in every run) and, per frame, the source frame it came from."""
    if copy == 0:
        return clip.skeleton, np.arange(len(clip.skeleton))
    rng = np.random.default_rng([seed, copy, int(clip.digest()[:8], 16)])
    return augment_clip(clip.skeleton, rng, layout, augment)


def clip_windows(model: CoSkeletonNet, clip: LabelledClip, *, copies: int, convention: str, seed: int = 0,
                 cache: Path | None = None, augment: AugmentConfig = AugmentConfig(),
                 digest: str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(features (S, C'), labels (S,))]`` for the clip itself and ``copies`` augmented copies: one window per
    answer the continual model gives within the clip (none past its last frame), labelled by that frame."""
    digest = digest or model_digest(model)
    out = []
    base = clip.digest()
    drawn = augment_key(augment)
    for copy in range(copies + 1):
        x, src = clip_copy(clip, copy, seed, model.layout.name, augment)
        key = f"{base}-{seed}-{copy}" + (f"-{drawn}" if copy else "")  # the clip itself does not depend on augment
        pos = _cached_positions(model, digest, x, key, convention, cache)
        feats = step_features(pos, model.pool_size)
        frames = answer_frames(model, len(feats))
        keep = frames < len(x)
        labels = clip.frame_labels[src[frames[keep]]]
        out.append((feats[keep], labels))
    return out


def collect_windows(model: CoSkeletonNet, clips: Sequence[LabelledClip], *, copies: int, convention: str,
                    seed: int = 0, cache: Path | None = None, augment: AugmentConfig = AugmentConfig(),
                    progress: Callable[[int, int, str], None] | None = None, keep_unlabelled: bool = False) -> Windows:
    """Every clip's windows (:func:`clip_windows`), frames labelled ``-1`` left out (kept with
    ``keep_unlabelled``: to run a head over whole clips)."""
    digest = model_digest(model)
    feats, labels, clip_ix, original, weight = [], [], [], [], []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress(i, len(clips), clip.name)
        for copy, (f, y) in enumerate(clip_windows(model, clip, copies=copies, convention=convention, seed=seed,
                                                   cache=cache, augment=augment, digest=digest)):
            use = (y >= 0) | keep_unlabelled
            feats.append(f[use])
            labels.append(y[use])
            clip_ix.append(np.full(int(use.sum()), i))
            original.append(np.full(int(use.sum()), copy == 0))
            weight.append(np.full(int(use.sum()), clip.weight, np.float32))
    if progress is not None:
        progress(len(clips), len(clips), "")
    c = model.fc.in_features
    cat = (lambda xs, empty: np.concatenate(xs) if xs else empty)
    return Windows(cat(feats, np.zeros((0, c), np.float32)), cat(labels, np.zeros(0, np.int64)),
                   cat(clip_ix, np.zeros(0, np.int64)), cat(original, np.zeros(0, bool)),
                   cat(weight, np.zeros(0, np.float32)), [c_.name for c_ in clips])
