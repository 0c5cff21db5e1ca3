"""A kinematic NTU-25 body: bone lengths, limb directions and forward kinematics over the NTU-25 tree.

Coordinates follow the NTU / Kinect camera convention: metres, y up, z away from the sensor, and for a person facing
the sensor their left side at the smaller x. Inside the body the same axes are used with the person facing the
sensor: ``+x`` is the person's right, ``+y`` up and ``-z`` the person's forward.

Every joint is its parent plus a bone length times a unit direction, so bone lengths are exact by construction. The
torso is posed by rotations (facing yaw, pelvis tilt, spine bend, head turn); arms and legs by unit directions of
their two long bones, given in the chest frame (arms) or the facing frame (legs, so feet stay on the floor), either
chosen directly (:func:`limb_direction`) or by two-bone inverse kinematics toward a target (:func:`two_bone_ik`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..layouts import NTU25

__all__ = ["J", "BodyShape", "BodyPose", "sample_shape", "rotation", "limb_direction", "two_bone_ik",
           "forward_kinematics", "bone_lengths", "TREE_BONES"]

#: NTU-25 joint index by name
J = {name: i for i, name in enumerate(NTU25.joint_names)}
#: the 24 (child, parent) bones of the NTU-25 tree
TREE_BONES = NTU25.edges
_LEFT, _RIGHT = -1.0, 1.0


@dataclass(frozen=True)
class BodyShape:
    """Bone lengths in metres (proportions as MediaPipe landmarks mapped to NTU-25 give them)."""

    hip_half_width: float = 0.075
    spine_lower: float = 0.28  # spine_base -> spine_mid
    spine_upper: float = 0.21  # spine_mid -> spine_shoulder
    neck: float = 0.063  # spine_shoulder -> neck
    head: float = 0.127  # neck -> head
    shoulder_half_width: float = 0.165
    shoulder_drop: float = 0.0  # MediaPipe's spine_shoulder is the shoulder midpoint
    upper_arm: float = 0.235
    forearm: float = 0.235
    hand: float = 0.055  # wrist -> palm centre
    hand_tip: float = 0.055  # palm centre -> hand tip
    thumb: float = 0.03
    thigh: float = 0.41
    shin: float = 0.365
    foot: float = 0.105

    @property
    def leg(self) -> float:
        """Hip-to-ankle length of a straight leg."""
        return self.thigh + self.shin

def sample_shape(rng: np.random.Generator) -> BodyShape:
    """A random body: overall scale 0.85-1.12 (about 1.5-1.95 m tall) and each segment varied by about 6 %."""
    base = BodyShape()
    scale = rng.uniform(0.85, 1.12)
    widths = rng.normal(1.0, 0.07)  # broad or narrow build
    values = {}
    for name in base.__dataclass_fields__:
        v = getattr(base, name) * scale * rng.normal(1.0, 0.06)
        if "width" in name:
            v *= widths
        values[name] = float(v)
    # left and right limbs share lengths (people are nearly symmetric; the jitter adds the rest)
    return BodyShape(**values)


# -- rotations and directions ------------------------------------------------------------------------------------------

def rotation(yaw: np.ndarray | float = 0.0, pitch: np.ndarray | float = 0.0, roll: np.ndarray | float = 0.0
             ) -> np.ndarray:
    """``Ry(yaw) @ Rx(pitch) @ Rz(roll)`` as ``(T, 3, 3)`` (scalars give ``(1, 3, 3)``).

    In body axes a positive ``pitch`` bends forward (toward ``-z``), a positive ``yaw`` turns the body's front toward
    ``-x`` (the body's left when facing the sensor) and a positive ``roll`` tilts the top toward ``-x``.
    """
    yaw, pitch, roll = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, np.float64)) for a in (yaw, pitch, roll)))
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(-pitch), np.sin(-pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    o, z = np.ones_like(yaw), np.zeros_like(yaw)
    ry = np.stack([np.stack([cy, z, sy], -1), np.stack([z, o, z], -1), np.stack([-sy, z, cy], -1)], -2)
    rx = np.stack([np.stack([o, z, z], -1), np.stack([z, cp, -sp], -1), np.stack([z, sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, z], -1), np.stack([sr, cr, z], -1), np.stack([z, z, o], -1)], -2)
    return ry @ rx @ rz


def limb_direction(side: float, abduction: np.ndarray | float, flexion: np.ndarray | float) -> np.ndarray:
    """Unit direction ``(T, 3)`` of a limb bone, starting from hanging straight down.

    ``flexion`` (radians) swings it forward, then ``abduction`` swings it out to the body's ``side`` (-1 left,
    +1 right): ``abduction = pi/2`` points sideways, ``pi`` straight up, ``flexion = pi/2`` straight forward.
    """
    a, f = np.broadcast_arrays(np.atleast_1d(np.asarray(abduction, np.float64)),
                               np.atleast_1d(np.asarray(flexion, np.float64)))
    return np.stack([side * np.cos(f) * np.sin(a), -np.cos(f) * np.cos(a), -np.sin(f)], -1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def two_bone_ik(target: np.ndarray, upper: float, lower: float, pole: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Directions ``(T, 3)`` of a two-bone limb whose end reaches ``target`` (relative to the limb's root).

    Targets out of reach are pulled in (the limb straightens toward them); ``pole`` ``(T, 3)`` or ``(3,)`` is where the
    middle joint (elbow, knee) should point.
    """
    target = np.atleast_2d(np.asarray(target, np.float64))
    dist = np.linalg.norm(target, axis=-1, keepdims=True)
    u = _unit(target)
    d = np.clip(dist, abs(upper - lower) + 1e-3, (upper + lower) * 0.999)
    pole = np.broadcast_to(np.asarray(pole, np.float64), target.shape)
    w = pole - (pole * u).sum(-1, keepdims=True) * u
    w = _unit(np.where(np.linalg.norm(w, axis=-1, keepdims=True) < 1e-6, np.array([0.0, 0.0, -1.0]), w))
    cos_a = np.clip((upper ** 2 + d ** 2 - lower ** 2) / (2 * upper * d), -1.0, 1.0)
    first = cos_a * u + np.sqrt(1.0 - cos_a ** 2) * w
    second = _unit(d * u - upper * first)
    return first, second


# -- pose and forward kinematics ---------------------------------------------------------------------------------------

@dataclass
class BodyPose:
    """Per-frame pose of one body (all arrays have ``T`` rows).

    ``root`` is the spine-base position in body-world axes; ``yaw`` the facing direction; ``pelvis`` and ``spine``
    ``(T, 3)`` are (pitch, roll, twist) of the pelvis relative to the facing frame and of the chest relative to the
    pelvis; ``head`` likewise relative to the chest.

    ``arms`` keys per side (``left_``/``right_``): ``upper``, ``lower`` and optional ``hand`` unit directions in the
    chest frame, or ``target`` (the wrist relative to the shoulder, chest frame) with an optional ``pole`` for
    inverse kinematics. ``legs`` keys: ``upper``, ``lower`` directions in the facing frame, or ``target`` (the ankle in
    body-world axes, e.g. a foot planted on the floor) with an optional ``pole``.
    """

    frames: int
    root: np.ndarray = None  # type: ignore[assignment]
    yaw: np.ndarray = None  # type: ignore[assignment]
    pelvis: np.ndarray = None  # type: ignore[assignment]
    spine: np.ndarray = None  # type: ignore[assignment]
    head: np.ndarray = None  # type: ignore[assignment]
    arms: dict[str, np.ndarray] = field(default_factory=dict)
    legs: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = self.frames
        z3 = np.zeros((t, 3))
        self.root = z3.copy() if self.root is None else self.root
        self.yaw = np.zeros(t) if self.yaw is None else self.yaw
        self.pelvis = z3.copy() if self.pelvis is None else self.pelvis
        self.spine = z3.copy() if self.spine is None else self.spine
        self.head = z3.copy() if self.head is None else self.head
        for side, s in (("left", _LEFT), ("right", _RIGHT)):
            self.arms.setdefault(f"{side}_upper", limb_direction(s, np.full(t, 0.12), np.zeros(t)))
            self.arms.setdefault(f"{side}_lower", limb_direction(s, np.full(t, 0.08), np.full(t, 0.15)))
            self.legs.setdefault(f"{side}_upper", limb_direction(s, np.full(t, 0.03), np.zeros(t)))
            self.legs.setdefault(f"{side}_lower", limb_direction(s, np.full(t, 0.03), np.zeros(t)))


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


def _apply_t(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("tji,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


def _arm(pose: BodyPose, shape: BodyShape, side: str, s: float) -> tuple[np.ndarray, np.ndarray]:
    if f"{side}_target" in pose.arms:
        pole = pose.arms.get(f"{side}_pole", np.array([s * 0.5, -0.8, 0.3]))
        return two_bone_ik(pose.arms[f"{side}_target"], shape.upper_arm, shape.forearm, pole)
    return pose.arms[f"{side}_upper"], pose.arms[f"{side}_lower"]


def forward_kinematics(shape: BodyShape, pose: BodyPose) -> np.ndarray:
    """Joint positions ``(T, 25, 3)`` in body-world axes (y up, the body facing ``-z`` at zero yaw)."""
    t = pose.frames
    out = np.zeros((t, 25, 3))
    facing = rotation(pose.yaw)
    r_pelvis = facing @ rotation(pose.pelvis[:, 2], pose.pelvis[:, 0], pose.pelvis[:, 1])
    r_mid = r_pelvis @ rotation(pose.spine[:, 2] / 2, pose.spine[:, 0] / 2, pose.spine[:, 1] / 2)
    r_chest = r_pelvis @ rotation(pose.spine[:, 2], pose.spine[:, 0], pose.spine[:, 1])
    r_head = r_chest @ rotation(pose.head[:, 2], pose.head[:, 0], pose.head[:, 1])
    up = np.array([0.0, 1.0, 0.0])
    out[:, J["spine_base"]] = pose.root
    out[:, J["spine_mid"]] = pose.root + _apply(r_mid, up * shape.spine_lower)
    out[:, J["spine_shoulder"]] = out[:, J["spine_mid"]] + _apply(r_chest, up * shape.spine_upper)
    out[:, J["neck"]] = out[:, J["spine_shoulder"]] + _apply(r_head, up * shape.neck)
    out[:, J["head"]] = out[:, J["neck"]] + _apply(r_head, up * shape.head)
    for side, s in (("left", _LEFT), ("right", _RIGHT)):
        sh = out[:, J["spine_shoulder"]] + _apply(r_chest, np.array([s * shape.shoulder_half_width,
                                                                     -shape.shoulder_drop, 0.0]))
        upper_c, lower_c = _arm(pose, shape, side, s)
        palm_c = pose.arms.get(f"{side}_hand", lower_c)
        elbow = sh + shape.upper_arm * _apply(r_chest, upper_c)
        wrist = elbow + shape.forearm * _apply(r_chest, lower_c)
        palm = _apply(r_chest, palm_c)
        hand = wrist + shape.hand * palm
        # the thumb points forward and toward the midline of the palm, as with relaxed hands
        ref = np.array([-s * 0.4, 0.2, -1.0])
        across = ref - (palm_c @ ref)[:, None] * palm_c
        across = np.where(np.linalg.norm(across, axis=-1, keepdims=True) < 1e-3, np.array([0.0, 1.0, 0.0]), across)
        thumb_dir = _apply(r_chest, _unit(0.5 * palm_c + _unit(across)))
        out[:, J[f"{side}_shoulder"]] = sh
        out[:, J[f"{side}_elbow"]] = elbow
        out[:, J[f"{side}_wrist"]] = wrist
        out[:, J[f"{side}_hand"]] = hand
        out[:, J[f"{side}_hand_tip"]] = hand + shape.hand_tip * palm
        out[:, J[f"{side}_thumb"]] = hand + shape.thumb * thumb_dir
        hip = pose.root + _apply(r_pelvis, np.array([s * shape.hip_half_width, 0.0, 0.0]))
        if f"{side}_target" in pose.legs:
            pole = pose.legs.get(f"{side}_pole", np.array([s * 0.25, 0.0, -1.0]))
            thigh_f, shin_f = two_bone_ik(_apply_t(facing, pose.legs[f"{side}_target"] - hip), shape.thigh,
                                          shape.shin, pole)
        else:
            thigh_f, shin_f = pose.legs[f"{side}_upper"], pose.legs[f"{side}_lower"]
        knee = hip + shape.thigh * _apply(facing, thigh_f)
        ankle = knee + shape.shin * _apply(facing, shin_f)
        toe = _unit(_apply(facing, np.array([0.0, 0.0, -1.0])) + 0.3 * _apply(facing, shin_f))
        out[:, J[f"{side}_hip"]] = hip
        out[:, J[f"{side}_knee"]] = knee
        out[:, J[f"{side}_ankle"]] = ankle
        out[:, J[f"{side}_foot"]] = ankle + shape.foot * toe
    return out


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Lengths ``(..., 24)`` of the NTU-25 tree bones of joints ``(..., 25, 3)``."""
    child = np.array([c for c, _ in TREE_BONES])
    parent = np.array([p for _, p in TREE_BONES])
    return np.linalg.norm(joints[..., child, :] - joints[..., parent, :], axis=-1)
