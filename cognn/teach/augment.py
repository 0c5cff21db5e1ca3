"""Augmentations of 2-D skeleton clips in the ``image2d`` plain form ``(T, 3, V, M)`` (x, y in picture units centred
on the picture, y down; score; zeros where a joint is not seen), for learning from a few real clips.

Each one is what a different camera or person would give: a mirror image (left and right joints swapped), another
tempo, another distance, framing, tilt and picture shape, joints the pose estimator drops, legs out of the picture.
Joints that leave the picture become unseen (zeros), as MediaPipe's mapping makes them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layouts import get_layout

__all__ = ["AugmentConfig", "AUGMENT_VERSION", "augment_clip", "mirror_pairs"]


def mirror_pairs(layout: str) -> np.ndarray:
    """Joint permutation that swaps left and right (by the joints' names)."""
    names = list(get_layout(layout).joint_names)
    perm = np.arange(len(names))
    for i, n in enumerate(names):
        for a, b in (("left", "right"), ("right", "left")):
            if a in n:
                other = n.replace(a, b)
                if other in names:
                    perm[i] = names.index(other)
    return perm


#: bumped when the same config and seed draw another copy (part of the feature cache's key)
AUGMENT_VERSION = 2


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes (each drawn once per augmented clip)."""

    mirror: float = 0.5  # probability
    speed: tuple[float, float] = (0.75, 1.35)  # tempo factor (> 1: faster)
    scale: tuple[float, float] = (0.6, 1.25)  # size in the picture
    #: x scale over y scale, log-uniform: coordinates are fractions of the picture's width and height, so a body
    #: filmed by a phone held upright looks about 3x wider than in a landscape video
    aspect: tuple[float, float] = (0.4, 2.5)
    shift: float = 0.15  # picture units
    rotate_deg: float = 10.0  # in-plane tilt
    drop_joint: float = 0.04  # per joint and frame
    drop_legs: float = 0.15  # probability that knees and ankles are out of the picture
    jitter: float = 0.004  # picture units, per joint and frame


def _resample_time(x: np.ndarray, factor: float) -> np.ndarray:
    t = x.shape[0]
    n = max(2, int(round(t / factor)))
    idx = np.clip(np.round(np.arange(n) * factor).astype(np.int64), 0, t - 1)
    return x[idx]


def augment_clip(clip: np.ndarray, rng: np.random.Generator, layout: str = "kinetics18",
                 config: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy of ``clip`` ``(T, 3, V, M)``; returns it and, for each of its frames, the source frame it
    came from (to carry per-frame labels over)."""
    c = config
    x = np.asarray(clip, np.float32)
    factor = float(rng.uniform(*c.speed))
    t = x.shape[0]
    n = max(2, int(round(t / factor)))
    src = np.clip(np.round(np.arange(n) * factor).astype(np.int64), 0, t - 1)
    x = x[src].copy()
    seen = x[:, 2] > 0  # (T, V, M)
    if rng.random() < c.mirror:
        x = x[:, :, mirror_pairs(layout)]
        seen = seen[:, mirror_pairs(layout)]
        x[:, 0] = np.where(seen, -x[:, 0], 0.0)
    s = float(rng.uniform(*c.scale))
    a = float(np.exp(0.5 * rng.uniform(*np.log(c.aspect))))  # x over y stretched by a**2, log-uniformly
    ang = np.deg2rad(rng.uniform(-c.rotate_deg, c.rotate_deg))
    ca, sa = np.cos(ang), np.sin(ang)
    # scale and rotate about the body's centre over the clip, then move it
    cx = float(np.median(x[:, 0][seen])) if seen.any() else 0.0
    cy = float(np.median(x[:, 1][seen])) if seen.any() else 0.0
    dx, dy = rng.uniform(-c.shift, c.shift, 2)
    px, py = x[:, 0] - cx, x[:, 1] - cy
    nx = s * a * (ca * px - sa * py) + cx * s + dx
    ny = s / a * (sa * px + ca * py) + cy * s + dy
    nx = nx + rng.normal(0, c.jitter, nx.shape)
    ny = ny + rng.normal(0, c.jitter, ny.shape)
    seen = seen & (np.abs(nx) <= 0.5) & (np.abs(ny) <= 0.5)
    seen &= rng.random(seen.shape) >= c.drop_joint
    if rng.random() < c.drop_legs:
        names = list(get_layout(layout).joint_names)
        legs = [i for i, nm in enumerate(names) if any(p in nm for p in ("knee", "ankle", "foot", "heel"))]
        seen[:, legs] = False
    x[:, 0] = np.where(seen, nx, 0.0)
    x[:, 1] = np.where(seen, ny, 0.0)
    x[:, 2] = np.where(seen, x[:, 2], 0.0)
    return x.astype(np.float32), src
