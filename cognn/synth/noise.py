"""Pose-estimation artefacts on clean skeletons ``(T, 25, 3)`` in camera metres, as MediaPipe mapped to NTU-25 shows.

Measured on MediaPipe world landmarks of still people (mapped to NTU-25): frame-to-frame noise of a few millimetres in
x and y and two to three times that in depth, more at the hands; slow drifts of a centimetre; a metric scale taken
from an average-body prior; legs outside the picture guessed as a standing pose that barely follows the body;
occasional frames with nobody detected and single-frame glitches of a limb.
"""
from __future__ import annotations

import numpy as np

from ..layouts import NTU25
from .body import J

__all__ = ["LEG_JOINTS", "HAND_JOINTS", "jitter", "scale_and_depth", "hide_legs", "glitches", "dropouts"]

LEG_JOINTS = tuple(J[f"{s}_{j}"] for s in ("left", "right") for j in ("knee", "ankle", "foot"))
HAND_JOINTS = tuple(J[f"{s}_{j}"] for s in ("left", "right") for j in ("wrist", "hand", "hand_tip", "thumb"))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], frames: int, width: int) -> np.ndarray:
    """Gaussian noise ``(frames, *shape)`` low-passed by a moving average of ``width`` frames (unit variance)."""
    raw = rng.normal(size=(frames + width,) + shape)
    c = np.cumsum(raw, axis=0)
    out = (c[width:] - c[:-width]) / np.sqrt(width)
    return out[:frames]


def jitter(joints: np.ndarray, rng: np.random.Generator, level: float = 1.0) -> np.ndarray:
    """White plus slowly drifting noise; depth noise is 2.5x the image-plane noise and the hands get 1.8x."""
    t, v, _ = joints.shape
    per_joint = np.ones(v)
    per_joint[list(HAND_JOINTS)] = 1.8
    per_joint[[J["left_elbow"], J["right_elbow"], J["left_foot"], J["right_foot"]]] = 1.3
    axis = np.array([1.0, 1.0, 2.5])
    sigma = 0.0025 * level * per_joint[:, None] * axis
    white = rng.normal(size=joints.shape) * sigma
    drift = _smooth_noise(rng, (v, 3), t, int(rng.integers(8, 30))) * 2.5 * sigma
    return joints + white + drift


def scale_and_depth(joints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A body-size error of the metric prior (scale 0.9-1.15 about the spine base) and depth squashed to 60-110 %."""
    base = joints[:, J["spine_base"]][:, None]
    rel = (joints - base) * rng.uniform(0.9, 1.15)
    rel[..., 2] *= rng.uniform(0.6, 1.1)
    return base + rel


def hide_legs(joints: np.ndarray, rng: np.random.Generator, mode: str = "guess") -> np.ndarray:
    """Legs outside the picture: ``"guess"`` (a standing pose that follows the real legs only 0-40 % and drifts, as
    MediaPipe's inferred landmarks do) or ``"zero"`` (missing joints as zeros)."""
    out = joints.copy()
    legs = list(LEG_JOINTS)
    if mode == "zero":
        out[:, legs] = 0.0
        return out
    if mode != "guess":
        raise ValueError(f"mode must be 'guess' or 'zero', not {mode!r}")
    base = joints[:, J["spine_base"]][:, None]
    rel = joints[:, legs] - base
    neutral = np.median(rel, axis=0, keepdims=True)
    follow = rng.uniform(0.0, 0.4)
    drift = _smooth_noise(rng, (len(legs), 3), len(joints), int(rng.integers(10, 40))) * rng.uniform(0.01, 0.04)
    out[:, legs] = base + (1 - follow) * neutral + follow * rel + drift
    return out


def glitches(joints: np.ndarray, rng: np.random.Generator, rate: float = 0.01) -> np.ndarray:
    """Single-frame errors at about ``rate`` per frame: an arm swapped with the other, or one joint thrown off."""
    out = joints.copy()
    t = len(joints)
    arms_l = [J[f"left_{j}"] for j in ("elbow", "wrist", "hand", "hand_tip", "thumb")]
    arms_r = [J[f"right_{j}"] for j in ("elbow", "wrist", "hand", "hand_tip", "thumb")]
    for i in np.flatnonzero(rng.random(t) < rate):
        n = int(rng.integers(1, 4))
        sl = slice(i, min(t, i + n))
        if rng.random() < 0.3:
            out[sl, arms_l], out[sl, arms_r] = joints[sl, arms_r], joints[sl, arms_l]
        else:
            out[sl, int(rng.integers(NTU25.num_joints))] += rng.normal(0, 0.08, 3)
    return out


def dropouts(skeleton: np.ndarray, rng: np.random.Generator, bursts: int = 1, max_len: int = 6,
             keep_first: int = 1) -> np.ndarray:
    """Zero whole frames of one person ``(T, V, 3)`` in ``bursts`` runs of 1-``max_len`` frames (nobody detected),
    never within the first ``keep_first`` frames."""
    out = skeleton.copy()
    t = len(out)
    for _ in range(bursts):
        if t <= keep_first:
            break
        start = int(rng.integers(keep_first, t))
        out[start:start + int(rng.integers(1, max_len + 1))] = 0.0
    return out
