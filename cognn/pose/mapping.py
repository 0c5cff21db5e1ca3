"""Map MediaPipe's 33 pose landmarks to the NTU-25 (Kinect v2) and Kinetics-18 (OpenPose COCO-18) layouts.

Every output joint is a fixed linear combination of MediaPipe landmarks, so each mapping is one ``(V, 33)`` matrix
applied with a matmul; all functions accept a single frame ``(33, C)`` or any batch ``(..., 33, C)``.

**Sides.** MediaPipe's "left" is the person's own left when the frame is the camera's own (unmirrored) view; it maps
to the layouts' ``left_*`` joints, which are also the person's left (NTU: checked against the Kinect skeleton of
S001C001P001R001A001).  A mirrored (selfie) frame swaps sides; note that NTU's RGB videos are themselves mirrored
(Kinect colour x grows with camera-space x), so flip them horizontally before pose to compare with their skeletons.

**NTU-25 coordinates** (domain ``camera3d``): Kinect camera space, metres, x toward the sensor's left (a person
facing the camera has the left shoulder at the smaller x), y up, z away from the sensor.  MediaPipe world landmarks
are x right, y down, z away in the camera's view (of an unmirrored frame), so ``ntu = (-x, -y, z)``, a proper
rotation of 180 degrees about z.  MediaPipe world landmarks are centred on the hip midpoint in every frame; by default
the NTU skeleton keeps that (spine base at the origin).  Pass ``root`` (e.g. from :func:`estimate_root_translation`,
which fits the 3-D pose to the 2-D landmarks with a pinhole camera) to place the body in camera space; this matters for
whole-body motion and for the relative position of two people, not for one person after the reference preprocessing,
which centres every frame on the first body's spine-mid joint.

=====  ===============  ==============================================================================
 NTU    joint            MediaPipe landmark index, or ``=`` formula for a synthesised joint
=====  ===============  ==============================================================================
  0     spine_base       = hip midpoint ``(23 + 24) / 2`` (MediaPipe's world origin)
  1     spine_mid        = spine_base + 0.57 (spine_shoulder - spine_base)  [Kinect ratio, 4 NTU files]
  2     neck             = spine_shoulder + 1/3 (head - spine_shoulder)  [Kinect ratio 0.33-0.35]
  3     head             = ear midpoint ``(7 + 8) / 2``
  4     left_shoulder    11
  5     left_elbow       13
  6     left_wrist       15
  7     left_hand        = (15 + 17 + 19) / 3  (wrist, pinky and index knuckles: palm centre)
  8     right_shoulder   12
  9     right_elbow      14
 10     right_wrist      16
 11     right_hand       = (16 + 18 + 20) / 3
 12     left_hip         = spine_base + 0.65 (23 - spine_base)  [Kinect hips are narrower, see below]
 13     left_knee        25
 14     left_ankle       27
 15     left_foot        = 27 + 2/3 (31 - 27)  (toward the foot index, Kinect foot ~0.1 m from the ankle)
 16     right_hip        = spine_base + 0.65 (24 - spine_base)
 17     right_knee       26
 18     right_ankle      28
 19     right_foot       = 28 + 2/3 (32 - 28)
 20     spine_shoulder   = shoulder midpoint ``(11 + 12) / 2``
 21     left_hand_tip    = 19 + 1/4 (19 - 15)  (a little beyond the index knuckle)
 22     left_thumb       = left_hand + (21 - 15)  (the thumb offset applied at the palm centre)
 23     right_hand_tip   = 20 + 1/4 (20 - 16)
 24     right_thumb      = right_hand + (22 - 16)
=====  ===============  ==============================================================================

Kinect v2 places its hip joints closer together than MediaPipe (hip/shoulder width 0.42-0.47 in four NTU skeleton
files vs about 0.70 for MediaPipe on the A001 video), hence the 0.65 factor.  MediaPipe's metric scale comes from an
average-body prior: the small A001 subject comes out larger than Kinect measures (arms +5 %, shoulders +20 %, thighs
+27 %); bone-length ratios agree within 20 % after one global scale factor.

**Kinetics-18** (domain ``image2d``): OpenPose COCO-18 order, pixels plus a score (MediaPipe visibility).  The neck is
the shoulder midpoint (score = the smaller shoulder score); the other 17 joints are MediaPipe's nose, eyes (2, 5),
ears, shoulders, elbows, wrists, hips, knees and ankles.  Joints outside the image or below ``min_score`` become
``(0, 0, 0)`` like undetected OpenPose joints.  :func:`normalize_kinetics` then gives the model input (st-gcn feeder
convention: ``x / w - 0.5``, ``y / h - 0.5``, no y flip, zeros where the score is 0).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["MP_NUM_LANDMARKS", "NTU25_FROM_MP", "KINETICS18_FROM_MP", "mediapipe_to_ntu25", "ntu25_visibility",
           "mediapipe_to_kinetics18", "normalize_kinetics", "estimate_root_translation", "mp_world_to_ntu_axes",
           "people_to_domain", "mediapipe_to_domain"]

MP_NUM_LANDMARKS = 33

# MediaPipe landmark indices used below
_NOSE, _L_EYE, _R_EYE, _L_EAR, _R_EAR = 0, 2, 5, 7, 8
_L_SH, _R_SH, _L_EL, _R_EL, _L_WR, _R_WR = 11, 12, 13, 14, 15, 16
_L_PINKY, _R_PINKY, _L_INDEX, _R_INDEX, _L_THUMB, _R_THUMB = 17, 18, 19, 20, 21, 22
_L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANK, _R_ANK = 23, 24, 25, 26, 27, 28
_L_FOOT_IDX, _R_FOOT_IDX = 31, 32

SPINE_MID_FRACTION = 0.57
NECK_FRACTION = 1.0 / 3.0
HIP_NARROWING = 0.65
FOOT_FRACTION = 2.0 / 3.0
HAND_TIP_EXTENSION = 0.25

#: NTU camera axes from MediaPipe world axes: ``ntu = mp * _NTU_AXES``
_NTU_AXES = np.array([-1.0, -1.0, 1.0], dtype=np.float32)


def _onehot(i: int) -> np.ndarray:
    v = np.zeros(MP_NUM_LANDMARKS, dtype=np.float64)
    v[i] = 1.0
    return v


def _mean(*idx: int) -> np.ndarray:
    return sum((_onehot(i) for i in idx), np.zeros(MP_NUM_LANDMARKS, dtype=np.float64)) / len(idx)


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + t * (b - a)


def _ntu_matrix() -> np.ndarray:
    e = _onehot
    base = _mean(_L_HIP, _R_HIP)
    sp_sh = _mean(_L_SH, _R_SH)
    head = _mean(_L_EAR, _R_EAR)
    l_hand = _mean(_L_WR, _L_PINKY, _L_INDEX)
    r_hand = _mean(_R_WR, _R_PINKY, _R_INDEX)
    rows = [
        base,                                               # 0 spine_base
        _lerp(base, sp_sh, SPINE_MID_FRACTION),             # 1 spine_mid
        _lerp(sp_sh, head, NECK_FRACTION),                  # 2 neck
        head,                                               # 3 head
        e(_L_SH), e(_L_EL), e(_L_WR), l_hand,               # 4-7 left arm
        e(_R_SH), e(_R_EL), e(_R_WR), r_hand,               # 8-11 right arm
        _lerp(base, e(_L_HIP), HIP_NARROWING), e(_L_KNEE), e(_L_ANK),
        _lerp(e(_L_ANK), e(_L_FOOT_IDX), FOOT_FRACTION),    # 12-15 left leg
        _lerp(base, e(_R_HIP), HIP_NARROWING), e(_R_KNEE), e(_R_ANK),
        _lerp(e(_R_ANK), e(_R_FOOT_IDX), FOOT_FRACTION),    # 16-19 right leg
        sp_sh,                                              # 20 spine_shoulder
        _lerp(e(_L_WR), e(_L_INDEX), 1.0 + HAND_TIP_EXTENSION),  # 21 left_hand_tip
        l_hand + e(_L_THUMB) - e(_L_WR),                    # 22 left_thumb
        _lerp(e(_R_WR), e(_R_INDEX), 1.0 + HAND_TIP_EXTENSION),  # 23 right_hand_tip
        r_hand + e(_R_THUMB) - e(_R_WR),                    # 24 right_thumb
    ]
    return np.stack(rows).astype(np.float32)


def _kinetics_matrix() -> np.ndarray:
    e = _onehot
    rows = [e(_NOSE), _mean(_L_SH, _R_SH), e(_R_SH), e(_R_EL), e(_R_WR), e(_L_SH), e(_L_EL), e(_L_WR),
            e(_R_HIP), e(_R_KNEE), e(_R_ANK), e(_L_HIP), e(_L_KNEE), e(_L_ANK), e(_R_EYE), e(_L_EYE), e(_R_EAR),
            e(_L_EAR)]
    return np.stack(rows).astype(np.float32)


#: ``(25, 33)`` weights: NTU joint ``v`` = ``sum_j W[v, j] * landmark[j]`` (before the axis change)
NTU25_FROM_MP = _ntu_matrix()
#: ``(18, 33)`` weights for the OpenPose COCO-18 order
KINETICS18_FROM_MP = _kinetics_matrix()


def _source_index(weights: np.ndarray) -> np.ndarray:
    """``(V, K)`` indices of the landmarks each joint is built from, padded by repeating the first one."""
    src = [np.flatnonzero(row) for row in weights]
    k = max(len(r) for r in src)
    return np.stack([np.concatenate([r, np.repeat(r[:1], k - len(r))]) for r in src])


_NTU_SOURCES = _source_index(NTU25_FROM_MP)
_KIN_SOURCES = _source_index(KINETICS18_FROM_MP)


def _check(a: np.ndarray, channels: int, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim < 2 or a.shape[-2] != MP_NUM_LANDMARKS or a.shape[-1] != channels:
        raise ValueError(f"{name} must have shape (..., {MP_NUM_LANDMARKS}, {channels}), got {a.shape}")
    return a


def _min_over_sources(vis: np.ndarray, sources: np.ndarray) -> np.ndarray:
    vis = np.asarray(vis, dtype=np.float32)
    if vis.shape[-1:] != (MP_NUM_LANDMARKS,):
        raise ValueError(f"visibility must have shape (..., {MP_NUM_LANDMARKS}), got {vis.shape}")
    return vis[..., sources].min(-1)


def mp_world_to_ntu_axes(xyz: np.ndarray) -> np.ndarray:
    """Change MediaPipe camera axes (x right, y down, z away) to Kinect/NTU axes (x left, y up, z away)."""
    return np.asarray(xyz, dtype=np.float32) * _NTU_AXES


def mediapipe_to_ntu25(world: np.ndarray, visibility: np.ndarray | None = None, *,
                       root: np.ndarray | None = None) -> np.ndarray:
    """MediaPipe world landmarks ``(..., 33, 3)`` -> NTU-25 joints ``(..., 25, 3)`` float32 in Kinect camera axes.

    ``visibility`` is accepted for symmetry with :func:`mediapipe_to_kinetics18` and does not change the result: NTU
    has no confidence channel and MediaPipe predicts every joint (like Kinect's "inferred" joints); use
    :func:`ntu25_visibility` for per-joint confidences.  ``root`` ``(..., 3)`` in NTU axes (metres) is added to every
    joint; without it the spine base is at the origin.
    """
    del visibility
    w = _check(world, 3, "world")
    out = np.matmul(NTU25_FROM_MP, w) * _NTU_AXES
    if root is not None:
        out = out + np.asarray(root, dtype=np.float32)[..., None, :]
    return out.astype(np.float32, copy=False)


def ntu25_visibility(visibility: np.ndarray) -> np.ndarray:
    """Per-NTU-joint visibility ``(..., 25)``: the smallest visibility of the landmarks each joint is built from."""
    return _min_over_sources(visibility, _NTU_SOURCES)


def mediapipe_to_kinetics18(image_px: np.ndarray, visibility: np.ndarray, width: int, height: int, *,
                            min_score: float = 0.1) -> np.ndarray:
    """Image landmarks in pixels ``(..., 33, 2)`` -> OpenPose-18 ``(..., 18, 3)``: x, y in pixels and the score.

    Joints outside ``[0, width) x [0, height)`` or with a score below ``min_score`` are set to ``(0, 0, 0)``.
    """
    px = _check(image_px, 2, "image_px")
    out = np.empty(px.shape[:-2] + (KINETICS18_FROM_MP.shape[0], 3), np.float32)
    xy = np.matmul(KINETICS18_FROM_MP, px, out=out[..., :2])
    out[..., 2] = _min_over_sources(visibility, _KIN_SOURCES)
    keep = (xy >= 0).all(-1) & (xy < np.array([width, height], np.float32)).all(-1)
    keep &= (out[..., 2] >= min_score) & (out[..., 2] > 0)
    out *= keep[..., None]
    return out


def normalize_kinetics(k18: np.ndarray, width: int, height: int, *, flip_y: bool = False) -> np.ndarray:
    """Pixels + score ``(..., 18, 3)`` -> the Kinetics-skeleton domain: ``x/w - 0.5``, ``y/h - 0.5``, zeros where
    the score is 0.  ``flip_y`` negates y as some st-gcn forks do (the st-gcn/mmskeleton feeder does not)."""
    k = np.asarray(k18, dtype=np.float32)
    sy = -1.0 if flip_y else 1.0
    out = k * np.array([1.0 / width, sy / height, 1.0], np.float32) - np.array([0.5, sy * 0.5, 0.0], np.float32)
    out[..., :2] *= k[..., 2:3] != 0
    return out


def estimate_root_translation(world: np.ndarray, image_norm: np.ndarray, width: int, height: int, *,
                              hfov_deg: float = 65.0, visibility: np.ndarray | None = None,
                              min_visibility: float = 0.5) -> np.ndarray:
    """Camera-space position of MediaPipe's world origin (the hip midpoint) in NTU axes, metres, ``(..., 3)``.

    Fits the translation ``t`` that makes the pinhole projection of ``world + t`` match the 2-D landmarks (linear
    least squares, weighted by visibility; principal point at the image centre, focal length from the horizontal
    field of view — 84 degrees for Kinect v2 colour, roughly 60-70 for webcams).  Depth scales with the assumed
    focal length.  Frames with fewer than 3 usable landmarks give zeros.
    """
    w = _check(world, 3, "world")
    n = np.asarray(image_norm, dtype=np.float32)
    if n.shape[-2:] not in ((MP_NUM_LANDMARKS, 2), (MP_NUM_LANDMARKS, 3)):
        raise ValueError(f"image_norm must have shape (..., 33, 2|3), got {n.shape}")
    f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
    uv = (n[..., :2] - np.float32(0.5)) * np.array([width / f, height / f], np.float32)  # (..., 33, 2) ray slopes
    if visibility is None:
        wt = np.ones(uv.shape[:-1], np.float32)
    else:
        vis = np.asarray(visibility, dtype=np.float32)
        wt = vis * (vis >= min_visibility)
    # per landmark: t_xy - uv * t_z = uv * z - xy; columns u, v, bx, by
    g = np.concatenate([uv, uv * w[..., 2:3] - w[..., :2]], axis=-1)
    wg = g * wt[..., None]
    lin = wg.sum(-2)  # Su, Sv, Bx, By
    gram = np.matmul(np.swapaxes(g, -1, -2), wg)
    # normal equations [[S, 0, -Su], [0, S, -Sv], [-Su, -Sv, Q]] t = [Bx, By, C], solved in closed form
    bad = (wt > 0).sum(-1) < 3
    s_ = wt.sum(-1) + bad
    su, bb = lin[..., :2], lin[..., 2:]
    q = gram[..., 0, 0] + gram[..., 1, 1]
    c = -(gram[..., 0, 2] + gram[..., 1, 3])
    denom = q - (su * su).sum(-1) / s_ + bad
    tz = (c + (su * bb).sum(-1) / s_) / denom
    t = np.concatenate([(bb + su * tz[..., None]) / s_[..., None], tz[..., None]], axis=-1)
    return (t * (_NTU_AXES * ~bad[..., None])).astype(np.float32)


def people_to_domain(people: Sequence, layout: str, width: int, height: int, domain: str | None = None, *,
                     translation: bool = True, hfov_deg: float = 65.0) -> np.ndarray:
    """Detected people (:class:`cognn.pose.PersonPose`) -> ``(N, V, 3)`` joints of ``layout`` in ``domain``.

    The one mapping from MediaPipe output to a model's input space (default domain: the layout's own).
    ``camera3d``: world landmarks turned to NTU camera axes (metres), placed in camera space by a pinhole fit of the
    2-D landmarks when ``translation`` (:func:`estimate_root_translation`). ``image2d``: pixel landmarks mapped to the
    layout, normalised to ``x / width - 0.5``, ``y / height - 0.5`` with the joint's visibility as the score (zeros
    where it is 0). Any layout works with either domain.
    """
    from ..domains import CAMERA3D, IMAGE2D, LAYOUT_DOMAIN
    from ..layouts import get_layout

    lay = get_layout(layout)
    domain = domain or LAYOUT_DOMAIN[lay.name]
    matrix = {"ntu25": NTU25_FROM_MP, "kinetics18": KINETICS18_FROM_MP}.get(lay.name)
    if matrix is None:
        raise ValueError(f"no MediaPipe mapping for layout {lay.name!r}")
    if domain not in (CAMERA3D, IMAGE2D):
        raise ValueError(f"unknown input domain {domain!r}; known: {CAMERA3D}, {IMAGE2D}")
    if not people:
        return np.zeros((0, lay.num_joints, 3), np.float32)
    vis = np.stack([p.visibility for p in people])
    if domain == CAMERA3D:
        world = np.stack([p.world for p in people])
        root = None
        if translation:
            root = estimate_root_translation(world, np.stack([p.image_norm for p in people]), width, height,
                                             hfov_deg=hfov_deg, visibility=vis)
        if lay.name == "ntu25":
            return mediapipe_to_ntu25(world, root=root)
        xyz = mp_world_to_ntu_axes(np.matmul(matrix, world))
        return (xyz if root is None else xyz + root[..., None, :]).astype(np.float32)
    px = np.stack([p.image_px for p in people])
    if lay.name == "kinetics18":
        return normalize_kinetics(mediapipe_to_kinetics18(px, vis, width, height), width, height)
    joints = np.concatenate([np.matmul(matrix, px), ntu25_visibility(vis)[..., None]], axis=-1).astype(np.float32)
    return normalize_kinetics(joints, width, height)


def mediapipe_to_domain(person, layout: str, domain: str, width: int, height: int, *, root: bool = True,
                        hfov_deg: float = 65.0) -> np.ndarray:
    """One person -> ``(V, 3)`` (:func:`people_to_domain` for a single detection)."""
    return people_to_domain([person], layout, width, height, domain, translation=root, hfov_deg=hfov_deg)[0]
