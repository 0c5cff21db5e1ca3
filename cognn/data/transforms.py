"""The reference NTU preprocessing (2s-AGCN / continual-skeletons ``pre_normalization``), its causal twin for live
use, and the bone / motion modalities. Arrays are ``(N, C, T, V, M)`` or one sample ``(C, T, V, M)``.

Reference ``pre_normalization`` (all "empty" tests are ``sum == 0``, as in the reference):

1. per sample and person: a person whose first frame is empty has its non-empty frames moved to the front; then, at
   the first empty frame after which everything is empty, the frames so far are repeated to fill the rest;
2. per frame, person 0's origin joint (spine-mid, joint 1) of *that frame* is subtracted from every person, only at
   the joints that are non-zero;
3. one rotation, from person 0's first frame, turns the bone spine-base -> spine-mid (joints 0 -> 1) parallel to +z;
   it is applied to every non-empty frame of every person;
4. a second rotation, from person 0's first frame after step 3, turns the shoulder vector joint 8 - joint 4
   (right shoulder minus left shoulder) parallel to +x.

Rotations are built exactly as the reference does (axis = v x e, angle = arccos of the unit vectors' dot product,
quaternion-style matrix with the identity below 1e-6), in float64 from float32 joints, results stored as float32.
"""
from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..domains import CAMERA3D, LAYOUT_DOMAIN
from ..layouts import Layout, get_layout

__all__ = ["pre_normalization", "normalize_sample", "pad_null_frames", "center", "rotation_matrix",
           "angle_between", "alignment_rotations", "rotate", "OnlineNormalizer", "pad_to", "bone", "motion",
           "PREPROCESSING_NAME", "PREPROCESSING_VERSION"]

#: name and version recorded in dataset files written with :func:`pre_normalization`
PREPROCESSING_NAME = "2s-agcn-pre-normalization"
PREPROCESSING_VERSION = 1


def _axes(layout: str | Layout) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """(origin joint, z-axis bone (bottom, top), x-axis bone (from, to)) of a 3-D layout."""
    lay = get_layout(layout)
    if LAYOUT_DOMAIN.get(lay.name) != CAMERA3D:
        raise ValueError(f"the reference preprocessing is defined for 3-D layouts only, not {lay.name!r} "
                         "(Kinetics data is used as the feeder builds it)")
    z = (lay.index("spine_base"), lay.index("spine_mid"))
    x = (lay.index("right_shoulder"), lay.index("left_shoulder"))
    return lay.origin, z, x


# ---------------------------------------------------------------------------------------------------------------------
# rotation helpers (reference numerics)

def rotation_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
    """float64 ``(3, 3)`` rotation by ``theta`` about ``axis`` (identity when either is below 1e-6)."""
    axis = np.asarray(axis)
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
        [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
        [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
    ])


def angle_between(v1: npt.ArrayLike, v2: npt.ArrayLike) -> float:
    """Angle in radians between two vectors (0 when either is below 1e-6)."""
    v1, v2 = np.asarray(v1), np.asarray(v2)
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0.0
    u1 = v1 / np.linalg.norm(v1)
    u2 = v2 / np.linalg.norm(v2)
    return float(np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0)))


def _align(v: np.ndarray, target: list[int]) -> np.ndarray:
    return rotation_matrix(np.cross(v, target), angle_between(v, target))


def rotate(frames: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Rotate ``(..., V, 3)`` float32 joints by a float64 matrix (in float64), skipping frames whose sum is 0.

    Written element-wise (no BLAS) so a frame gives the same bits whether rotated alone or in a batch.
    """
    flat = frames.reshape(-1, frames.shape[-2], 3)
    keep = flat.sum(axis=(1, 2)) != 0
    out = flat.copy()
    x = flat[keep].astype(np.float64)
    rot = x[..., 0:1] * matrix[:, 0] + x[..., 1:2] * matrix[:, 1] + x[..., 2:3] * matrix[:, 2]
    out[keep] = rot.astype(frames.dtype)
    return out.reshape(frames.shape)


def alignment_rotations(frame0: np.ndarray, layout: str | Layout = "ntu25") -> tuple[np.ndarray, np.ndarray]:
    """The two reference rotations from person 0's first (already centred) frame ``(V, 3)`` float32.

    Returns ``(matrix_z, matrix_x)``: apply ``matrix_z`` first, then ``matrix_x``.
    """
    _, (zb, zt), (xr, xl) = _axes(layout)
    mz = _align(frame0[zt] - frame0[zb], [0, 0, 1])
    f1 = rotate(frame0[None], mz)[0]
    mx = _align(f1[xr] - f1[xl], [1, 0, 0])
    return mz, mx


# ---------------------------------------------------------------------------------------------------------------------
# the steps on one sample laid out (M, T, V, C)

def pad_null_frames(s: np.ndarray) -> np.ndarray:
    """Step 1 on one sample ``(M, T, V, C)``, in place: compact leading gaps, repeat the sequence over trailing ones."""
    for person in s:
        if person.sum() == 0:
            continue
        if person[0].sum() == 0:
            valid = person.sum(-1).sum(-1) != 0
            tmp = person[valid].copy()
            person *= 0
            person[: len(tmp)] = tmp
        frame_sums = person.sum(-1).sum(-1)
        for i_f in np.flatnonzero(frame_sums == 0).tolist():
            if i_f > 0 and person[i_f:].sum() == 0:
                rest = len(person) - i_f
                reps = int(np.ceil(rest / i_f))
                person[i_f:] = np.concatenate([person[:i_f]] * reps, 0)[:rest]
                break
    return s


def center(s: np.ndarray, origin: int) -> np.ndarray:
    """Step 2 on ``(M, T, V, C)``, in place: subtract person 0's origin joint per frame at non-zero joints."""
    if s.sum() == 0:
        return s
    main = s[0][:, origin:origin + 1, :].copy()  # (T, 1, C)
    for i_p in range(len(s)):
        if s[i_p].sum() == 0:
            continue
        mask = (s[i_p].sum(-1) != 0)[..., None]
        s[i_p] = (s[i_p] - main) * mask
    return s


def _rotate_sample(s: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    for i_p in range(len(s)):
        if s[i_p].sum() != 0:
            s[i_p] = rotate(s[i_p], matrix)
    return s


def normalize_sample(sample: np.ndarray, layout: str | Layout = "ntu25") -> np.ndarray:
    """Reference preprocessing of one sample ``(C, T, V, M)``; returns a new float32 array."""
    origin, _, _ = _axes(layout)
    v = get_layout(layout).num_joints
    if np.ndim(sample) != 4 or np.shape(sample)[0] != 3 or np.shape(sample)[2] != v:
        raise ValueError(f"expected one sample (3, T, {v}, M), got shape {np.shape(sample)}")
    s = np.array(sample, dtype=np.float32).transpose(3, 1, 2, 0).copy()  # (M, T, V, C)
    pad_null_frames(s)
    center(s, origin)
    if s.sum() != 0:
        for m in alignment_rotations(s[0, 0], layout):
            _rotate_sample(s, m)
    return np.ascontiguousarray(s.transpose(3, 1, 2, 0))


def pre_normalization(data: np.ndarray, layout: str | Layout = "ntu25") -> np.ndarray:
    """The reference ``pre_normalization`` on ``(N, C, T, V, M)`` (or one ``(C, T, V, M)`` sample); returns float32."""
    data = np.asarray(data)
    if data.ndim == 4:
        return normalize_sample(data, layout)
    if data.ndim != 5 or data.shape[1] != 3:
        raise ValueError(f"expected (N, 3, T, V, M) or (3, T, V, M), got shape {data.shape}")
    return np.stack([normalize_sample(x, layout) for x in data]) if len(data) else data.astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------------
# causal version

class OnlineNormalizer:
    """Frame-by-frame version of :func:`pre_normalization` for live input.

    Each frame ``(C=3, V, M)`` is centred on person 0's origin joint of that same frame (as the reference does for
    every frame) and rotated by the two reference rotations, which are fixed from the first frame in which person 0
    is present and kept until :meth:`reset`. Frames before that are returned as zeros. The trailing-gap padding of
    the clip version is not causal and is not applied (empty frames stay empty).
    """

    def __init__(self, layout: str | Layout = "ntu25") -> None:
        self.layout = get_layout(layout)
        self.origin, _, _ = _axes(self.layout)
        self.matrices: tuple[np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget the reference frame (new source, seek, new person)."""
        self.matrices = None

    @property
    def ready(self) -> bool:
        """Whether the reference rotations have been fixed."""
        return self.matrices is not None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Normalise one frame ``(3, V, M)``; returns float32 ``(3, V, M)``."""
        return self.transform(np.asarray(frame)[:, None])[:, 0]

    def transform(self, frames: np.ndarray) -> np.ndarray:
        """Normalise consecutive frames ``(3, T, V, M)`` (the same as calling the object on each in turn)."""
        v = self.layout.num_joints
        if np.ndim(frames) != 4 or np.shape(frames)[0] != 3 or np.shape(frames)[2] != v:
            raise ValueError(f"expected frames (3, T, {v}, M), got shape {np.shape(frames)}")
        s = np.array(frames, dtype=np.float32).transpose(3, 1, 2, 0).copy()  # (M, T, V, C)
        if self.matrices is None:
            present = np.flatnonzero(s[0].sum(-1).sum(-1) != 0)
            if len(present) == 0:
                return np.zeros(np.shape(frames), np.float32)
            s[:, : present[0]] = 0
            center(s, self.origin)
            self.matrices = alignment_rotations(s[0, present[0]], self.layout)
        else:
            center(s, self.origin)
        for m in self.matrices:
            _rotate_sample(s, m)
        return np.ascontiguousarray(s.transpose(3, 1, 2, 0))


# ---------------------------------------------------------------------------------------------------------------------
# length and modalities

def pad_to(data: np.ndarray, length: int = 300, truncate: bool = False) -> np.ndarray:
    """Zero-pad ``(..., C, T, V, M)`` at the end of time to ``length`` frames.

    Longer input raises ValueError unless ``truncate`` is true (then the first ``length`` frames are kept).
    """
    data = np.asarray(data)
    t = data.shape[-3]
    if t > length:
        if not truncate:
            raise ValueError(f"sequence has {t} frames, more than {length}")
        return data[..., :length, :, :].copy()
    out = np.zeros(data.shape[:-3] + (length,) + data.shape[-2:], data.dtype)
    out[..., :t, :, :] = data
    return out


def bone(data: np.ndarray, layout: str | Layout) -> np.ndarray:
    """Bone modality of ``(..., C, T, V, M)``: each joint minus its parent along ``layout.bone_pairs``.

    Joints not listed keep their joint value, as in the reference ``gen_bone_data``.
    """
    lay = get_layout(layout)
    data = np.asarray(data)
    if data.shape[-2] != lay.num_joints:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints, data has {data.shape[-2]}")
    child = np.array([c for c, _ in lay.bone_pairs])
    parent = np.array([p for _, p in lay.bone_pairs])
    out = data.copy()
    out[..., child, :] = data[..., child, :] - data[..., parent, :]
    return out


def motion(data: np.ndarray) -> np.ndarray:
    """Motion modality of ``(..., C, T, V, M)``: frame ``t+1`` minus frame ``t``; the last frame is zero."""
    data = np.asarray(data)
    out = np.zeros_like(data)
    out[..., :-1, :, :] = data[..., 1:, :, :] - data[..., :-1, :, :]
    return out
