"""Exercises on the floor, falls and sitting: generated joints for the fitness classes the standing body cannot do.

The kinematic body of :mod:`cognn.synth.body` stands: its legs hang in the facing frame and its root is the spine
base. The classes here are built on it in three ways, each returning joints ``(T, 25, 3)`` in body-world axes (metres,
y up, floor at y = 0) wrapped in a :class:`JointClip`:

* a tilted body (``plank``, ``push_up``, ``fall``): forward kinematics of a body posed as if standing, then a rigid
  rotation per frame about a horizontal axis through a pivot on the floor (the toes or knees of a plank, the feet of
  a fall). Hands that must stay on the floor are reached by inverse kinematics with targets carried back into the
  chest frame, so bone lengths stay exact.
* a posed body (``sit_up``, ``sit_down``, ``stand_up`` from a chair): the pelvis pitched back to lie, or the root
  lowered onto a seat with the feet planted, again exact forward kinematics.
* key poses (``burpee``, ``stand_up`` from lying): a few ``(25, 3)`` poses from forward kinematics, blended with
  eased timing, then every bone put back to its length along its blended direction (:func:`_relength`), which turns
  the blend into a rotation of each bone rather than a shortcut through the body.

Then the lowest joint is put on the floor frame by frame (a jump lifts it again) and the body is turned to a random
direction. :data:`FLOOR_MOTIONS` maps the class names to ``motion(rng, frames, fps, shape) -> JointClip``;
:data:`EVENTS` are the classes that happen once (a fall, sitting down, standing up), whose ``onset`` is the frame the
movement starts (before it the person stands, walks, sits or lies: not the class).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .body import TREE_BONES, BodyPose, BodyShape, J, forward_kinematics, limb_direction, rotation
from .motions import _DEFAULT, SIDES, _blend, _walk, idle, phase, swing, wiggle

__all__ = ["JointClip", "FLOOR_MOTIONS", "EVENTS", "plank", "push_up", "sit_up", "burpee", "fall", "sit_down",
           "stand_up"]

D = np.pi / 180.0
_UP = np.array([0.0, 1.0, 0.0])
_ANKLES = [J["left_ankle"], J["right_ankle"]]
_SHOULDERS = [J["left_shoulder"], J["right_shoulder"]]
_WRISTS = [J["left_wrist"], J["right_wrist"]]


class JointClip(NamedTuple):
    """Generated joints ``(T, 25, 3)`` in body-world axes (metres, y up, floor at y = 0); ``onset`` is the first frame
    of an event class (:data:`EVENTS`), ``None`` for exercises, which fill the whole clip."""

    joints: np.ndarray
    onset: int | None = None


# -- small tools -------------------------------------------------------------------------------------------------------

def _ease(u: np.ndarray | float) -> np.ndarray:
    """Smoothstep of ``u`` clipped to 0..1 (same shape)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``r @ v`` per frame: rotations ``(T, 3, 3)``, vectors ``(T, 3)`` or ``(3,)`` -> ``(T, 3)``."""
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (len(r), 3)))


def _apply_t(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``r.T @ v`` per frame (world back into the rotated frame): ``(T, 3, 3)``, ``(T, 3)`` or ``(3,)`` -> ``(T, 3)``.
    """
    return np.einsum("tji,tj->ti", r, np.broadcast_to(v, (len(r), 3)))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _chest(pose: BodyPose) -> np.ndarray:
    """The chest frame ``(T, 3, 3)`` of a pose in body-world axes, as :func:`forward_kinematics` builds it (arm
    directions and targets are given in this frame)."""
    p, s = pose.pelvis, pose.spine
    return rotation(pose.yaw) @ rotation(p[:, 2], p[:, 0], p[:, 1]) @ rotation(s[:, 2], s[:, 0], s[:, 1])


def _tilt(joints: np.ndarray, pitch: np.ndarray, pivot_body: np.ndarray, pivot_world: np.ndarray) -> np.ndarray:
    """Joints ``(T, 25, 3)`` pitched forward by ``pitch`` ``(T,)`` (radians, about the x axis) about ``pivot_body``
    (``(T, 3)`` or ``(3,)``), which lands on ``pivot_world`` (``(3,)``)."""
    r = rotation(0.0, pitch)
    return (np.einsum("tij,tvj->tvi", r, joints - np.reshape(pivot_body, (-1, 1, 3)))
            + np.reshape(pivot_world, (1, 1, 3)))


def _ground(joints: np.ndarray, air: np.ndarray | None = None) -> np.ndarray:
    """Joints ``(T, 25, 3)`` moved up or down so that the lowest joint of every frame is on the floor (plus ``air``
    ``(T,)`` metres during a jump)."""
    out = joints.copy()
    out[..., 1] -= out[..., 1].min(axis=1, keepdims=True)
    if air is not None:
        out[..., 1] += air[:, None]
    return out


def _turn(rng: np.random.Generator, joints: np.ndarray, p_back: float = 0.25) -> np.ndarray:
    """Joints ``(T, 25, 3)`` turned about the vertical through the mean spine base: within ±35° of facing the sensor,
    or (with ``p_back``) the other way round (a floor exercise seen from the feet instead of the head)."""
    yaw = rng.uniform(-35, 35) * D + np.pi * (rng.random() < p_back)
    centre = joints[:, J["spine_base"]].mean(0) * [1, 0, 1]
    return np.einsum("ij,tvj->tvi", rotation(yaw)[0], joints - centre) + centre


def _sway(rng: np.random.Generator, frames: int, fps: float, std: float) -> np.ndarray:
    """Small smooth drift ``(T, 25, 3)`` of every joint (three slow sinusoids each), for blended key poses that would
    otherwise hold perfectly still."""
    t = np.arange(frames) / fps
    f = rng.uniform(0.1, 0.8, (3, 25, 3, 1))
    ph = rng.uniform(0, 2 * np.pi, (3, 25, 3, 1))
    return std / np.sqrt(1.5) * np.sin(2 * np.pi * f * t + ph).sum(0).transpose(2, 0, 1)


def _outward_bones() -> tuple[tuple[int, int], ...]:
    """(child, parent) pairs of the NTU-25 tree re-rooted at the spine base, parents before children."""
    links: dict[int, list[int]] = {i: [] for i in range(25)}
    for a, b in TREE_BONES:
        links[a].append(b)
        links[b].append(a)
    order, seen, queue = [], {J["spine_base"]}, [J["spine_base"]]
    while queue:
        p = queue.pop(0)
        for c in links[p]:
            if c not in seen:
                seen.add(c)
                order.append((c, p))
                queue.append(c)
    return tuple(order)


_OUTWARD = _outward_bones()


def _relength(joints: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Blended joints ``(T, 25, 3)`` with every bone put back to its length in ``reference`` ``(25, 3)``, keeping the
    bone's blended direction (walking out from the spine base)."""
    out = joints.copy()
    for c, p in _OUTWARD:
        length = np.linalg.norm(reference[c] - reference[p])
        out[:, c] = out[:, p] + length * _unit(joints[:, c] - joints[:, p])
    return out


def _keyframes(keys: np.ndarray, times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Key poses ``(K, 25, 3)`` at ``times`` ``(K,)`` (seconds, ascending) blended with eased segments at ``t``
    ``(T,)`` -> ``(T, 25, 3)``; before the first key it is held, after the last likewise."""
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    u = _ease((t - times[i]) / np.maximum(times[i + 1] - times[i], 1e-6))[:, None, None]
    return keys[i] * (1 - u) + keys[i + 1] * u


def _reach_arms(pose: BodyPose, to_world: np.ndarray, joints: np.ndarray, hands: list[np.ndarray],
                poles: list[np.ndarray], palms: list[np.ndarray] | None = None) -> None:
    """Set inverse-kinematics targets so the wrists reach ``hands`` (world, ``(3,)`` or ``(T, 3)`` per side in
    :data:`SIDES` order), elbows toward ``poles`` (world directions); ``to_world`` ``(T, 3, 3)`` maps the chest frame
    to the world and ``joints`` ``(T, 25, 3)`` are the world joints of the same pose (only the shoulders are read)."""
    for k, (side, _s) in enumerate(SIDES):
        shoulder = joints[:, J[f"{side}_shoulder"]]
        pose.arms[f"{side}_target"] = _apply_t(to_world, hands[k] - shoulder)
        pose.arms[f"{side}_pole"] = _apply_t(to_world, poles[k])
        if palms is not None:
            pose.arms[f"{side}_hand"] = _unit(_apply_t(to_world, palms[k]))


# -- face down: planks and push-ups ------------------------------------------------------------------------------------

def _reach_pitch(v: np.ndarray, u: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Forward pitch ``(T,)`` of a rigid tilt about the x axis through a pivot that puts the body point ``v``
    ``(T, 3)`` (relative to the pivot, body axes) at distance ``d`` ``(T,)`` from the world point ``u`` ``(3,)``
    (relative to the pivot): the solution nearer upright. ``R v . u = (|v|^2 + |u|^2 - d^2) / 2`` is
    ``a cos(pitch) + b sin(pitch) = c``."""
    a = u[1] * v[:, 1] + u[2] * v[:, 2]
    b = u[1] * v[:, 2] - u[2] * v[:, 1]
    c = ((v ** 2).sum(1) + (u ** 2).sum() - d ** 2) / 2 - v[:, 0] * u[0]
    return np.arctan2(b, a) - np.arccos(np.clip(c / np.maximum(np.hypot(a, b), 1e-9), -1.0, 1.0))


def _support(rng: np.random.Generator, frames: int, fps: float, shape: BodyShape, reach: np.ndarray, *,
             forearms: bool = False, knees: bool = False, surface: float = 0.0, lean: float = 0.1) -> np.ndarray:
    """Joints ``(T, 25, 3)`` of a body face down, held on its hands (or ``forearms``) and its toes (or ``knees``).

    The body is posed straight (hips a little high or low, breathing), tilted about its toes or knees on the floor;
    at ``reach`` 1 the arms (upper arms for ``forearms``) point down to the support at height ``surface`` (0: the
    floor, a bench for incline push-ups), ``lean`` 0 vertical, 1 square to the body. ``reach`` ``(T,)`` is the
    shoulder-to-support distance per frame as a fraction of that: below 1 the body goes down and the elbows bend
    (a push-up) while the hands stay planted.
    """
    w = lambda std, hz=0.4: wiggle(rng, frames, fps, std, hz)  # noqa: E731
    pose = BodyPose(frames)
    pose.root = np.tile([0.0, shape.leg, 0.0], (frames, 1))
    pose.pelvis[:, 0] = rng.uniform(-8, 12) * D + w(1.5 * D)  # > 0: hips high (a pike), < 0: sagging
    pose.pelvis[:, 1] = w(1.0 * D)
    pose.spine[:, 0] = rng.uniform(-5, 5) * D + w(1.0 * D)
    pose.head[:, 0] = rng.uniform(-35, 5) * D + w(4 * D)  # looking at the floor or ahead
    pose.head[:, 2] = w(5 * D, 0.3)
    for side, s in SIDES:
        abd = rng.uniform(0, 6) * D
        pose.legs[f"{side}_upper"] = limb_direction(s, abd, np.zeros(frames))
        pose.legs[f"{side}_lower"] = limb_direction(s, abd, np.zeros(frames))
    body = forward_kinematics(shape, pose)
    contact = [J["left_knee"], J["right_knee"]] if knees else [J["left_foot"], J["right_foot"]]
    pivot_b = body[:, contact].mean(1)
    pivot_w = np.array([0.0, 0.05 if knees else 0.0, 0.0])  # a knee joint sits above the kneecap
    v = body[:, _SHOULDERS].mean(1) - pivot_b
    # the pose at reach 1: the pitch where the support (of length a from the shoulders) ends at its height
    a = shape.upper_arm if forearms else (shape.upper_arm + shape.forearm) * rng.uniform(0.92, 0.96)
    height = 0.05 if forearms else surface + 0.04
    lean = 0.0 if forearms else lean
    grid = np.linspace(0.0, np.pi / 2, 1801)
    vm = v.mean(0)
    sh_y = np.cos(grid) * vm[1] + np.sin(grid) * vm[2]
    sh_z = -np.sin(grid) * vm[1] + np.cos(grid) * vm[2]
    down = _unit((1 - lean) * np.array([0.0, -1.0, 0.0]) + lean * np.stack([0 * grid, -np.sin(grid),
                                                                            -np.cos(grid)], -1))
    k = int(np.argmin(np.abs(pivot_w[1] + sh_y + a * down[:, 1] - height)))
    base = pivot_w + np.array([vm[0], sh_y[k], sh_z[k]]) + a * down[k]  # midpoint of the hands (elbows)
    pitch = _reach_pitch(v, base - pivot_w, reach * a)
    world = _tilt(body, pitch, pivot_b, pivot_w)
    to_world = rotation(0.0, pitch) @ _chest(pose)
    hw = shape.shoulder_half_width
    hands, poles, palms = [], [], []
    if forearms:
        inward = rng.uniform(0, 25) * D  # forearms parallel or hands together
        for _side, s in SIDES:
            elbow = base + np.array([s * hw * rng.uniform(0.6, 1.0), 0.0, 0.0])
            hands.append(elbow + np.array([-s * np.sin(inward), 0.0, -np.cos(inward)]) * shape.forearm * 0.97
                         - [0.0, 0.01, 0.0])
            poles.append(np.array([s * 0.2, -1.0, 0.3]))
    else:
        wide, ahead = rng.uniform(0.0, 0.12), rng.uniform(0.0, 0.06)
        flare = rng.uniform(0.3, 1.0)
        for _side, s in SIDES:
            hands.append(base + np.array([s * (hw + wide), 0.0, -ahead]))
            poles.append(np.array([s * flare, 0.3, 1.0]))  # elbows out and back toward the feet
            palms.append(np.array([s * 0.2, -0.15, -1.0]))  # hands flat, fingers forward
    _reach_arms(pose, to_world, world, hands, poles, palms if palms else None)
    if knees:  # shins back along the floor or the feet raised
        raise_ = rng.uniform(0, 45) * D
        for side, s in SIDES:
            shin = np.array([s * rng.uniform(-0.05, 0.1), np.sin(raise_), np.cos(raise_)])
            pose.legs[f"{side}_lower"] = _unit(_apply_t(rotation(0.0, pitch), shin))
    return _tilt(forward_kinematics(shape, pose), pitch, pivot_b, pivot_w)


def plank(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT, *,
          variant: str | None = None) -> JointClip:
    """A plank held: on the forearms (``variant`` ``"forearm"``, 70 %) or on straight arms (``"straight"``), body
    nearly horizontal, breathing, the hips a little high or low."""
    variant = variant or ("forearm" if rng.random() < 0.7 else "straight")
    if variant not in ("forearm", "straight"):
        raise ValueError(f"unknown plank variant {variant!r}")
    breath = 1.0 + wiggle(rng, frames, fps, 0.015, 0.4)
    joints = _support(rng, frames, fps, shape, breath, forearms=variant == "forearm", lean=rng.uniform(0.0, 0.2))
    return JointClip(_turn(rng, _ground(joints)))


def push_up(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT, *,
            variant: str | None = None) -> JointClip:
    """Push-ups at 0.4-1.0 Hz: from a straight-arm plank the body goes down as the elbows bend and comes back up,
    hands planted a little wider than the shoulders. ``variant``: ``"floor"`` (65 %), ``"knees"`` (20 %, the body
    pivots on the knees) or ``"incline"`` (15 %, hands on a bench 0.4-0.8 m high)."""
    variant = variant or str(rng.choice(["floor", "knees", "incline"], p=[0.65, 0.2, 0.15]))
    if variant not in ("floor", "knees", "incline"):
        raise ValueError(f"unknown push-up variant {variant!r}")
    ph = phase(rng, frames, fps, 0.4, 1.0)
    depth = np.clip(rng.uniform(0.4, 0.65) * (1.0 + wiggle(rng, frames, fps, 0.08, 0.3)), 0.2, 0.7)
    reach = 1.0 - depth * swing(ph, rng.uniform(1.0, 1.8))
    incline = variant == "incline"
    joints = _support(rng, frames, fps, shape, reach, knees=variant == "knees",
                      surface=rng.uniform(0.4, 0.8) if incline else 0.0,
                      lean=rng.uniform(0.3, 0.7) if incline else rng.uniform(0.0, 0.25))
    return JointClip(_turn(rng, _ground(joints)))


# -- on the back: sit-ups ----------------------------------------------------------------------------------------------

def sit_up(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT, *,
           arms: str | None = None) -> JointClip:
    """Sit-ups at 0.3-0.7 Hz: lying on the back, knees bent and feet on the floor, the trunk curls up to 50-90°
    above the floor and back down; ``arms`` ``"head"`` (hands behind the head), ``"chest"`` (crossed) or
    ``"reach"`` (reaching to the knees)."""
    arms = arms or str(rng.choice(["head", "chest", "reach"], p=[0.45, 0.35, 0.2]))
    w = lambda std, hz=0.4: wiggle(rng, frames, fps, std, hz)  # noqa: E731
    p = swing(phase(rng, frames, fps, 0.3, 0.7), rng.uniform(1.0, 2.0))
    top, low = rng.uniform(50, 90) * D, rng.uniform(0, 6) * D
    curl = rng.uniform(10, 30) * D * np.sin(np.pi / 2 * np.clip(1.6 * p, 0, 1))  # the upper back curls first
    pose = BodyPose(frames)
    hip_y = rng.uniform(0.08, 0.12)
    pose.root = np.tile([0.0, hip_y, 0.0], (frames, 1))
    pose.pelvis[:, 0] = -np.pi / 2 + low + (top - low) * p - 0.6 * curl + w(1.5 * D)
    pose.pelvis[:, 1] = w(2 * D)
    pose.spine[:, 0] = curl
    pose.spine[:, 2] = w(3 * D)
    pose.head[:, 0] = rng.uniform(5, 25) * D + rng.uniform(0, 20) * D * p + w(3 * D)
    reach = shape.leg * rng.uniform(0.55, 0.72)  # hip to ankle: the knees bent 60-100°
    for side, s in SIDES:
        x = s * (shape.hip_half_width + rng.uniform(0.0, 0.12))
        ankle = np.array([x, 0.07, -np.sqrt(max(reach ** 2 - (hip_y - 0.07) ** 2, 0.01))])
        pose.legs[f"{side}_target"] = ankle + np.stack([w(0.005), 0 * p, w(0.01)], -1)
        pose.legs[f"{side}_pole"] = np.array([s * 0.2, 1.0, -0.3])  # knees up
        hw = shape.shoulder_half_width
        if arms == "head":
            pose.arms[f"{side}_target"] = np.array([-s * (hw - rng.uniform(0.03, 0.08)), rng.uniform(0.1, 0.16),
                                                    rng.uniform(0.05, 0.1)])
            pose.arms[f"{side}_pole"] = np.array([s * 1.0, 0.4, 0.1])  # elbows out to the sides
        elif arms == "chest":
            pose.arms[f"{side}_target"] = np.array([-s * rng.uniform(0.2, 0.3), -rng.uniform(0.1, 0.2),
                                                    -rng.uniform(0.12, 0.2)])
            pose.arms[f"{side}_pole"] = np.array([s * 0.4, -1.0, 0.0])
        else:
            flex = rng.uniform(45, 80) * D + rng.uniform(0, 20) * D * p
            pose.arms[f"{side}_upper"] = limb_direction(s, rng.uniform(5, 15) * D, flex)
            pose.arms[f"{side}_lower"] = limb_direction(s, rng.uniform(5, 15) * D, flex + rng.uniform(0, 15) * D)
    return JointClip(_turn(rng, _ground(forward_kinematics(shape, pose))))


# -- burpees: key poses ------------------------------------------------------------------------------------------------

def _align(joints: np.ndarray, src: list[int], dst: np.ndarray) -> np.ndarray:
    """Joints ``(..., 25, 3)`` moved over the floor so the mean of joints ``src`` lies above or below ``dst``'s
    ``(3,)``."""
    return joints + (dst - joints[..., src, :].mean(-2, keepdims=True)) * [1, 0, 1]


def _standing_key(rng: np.random.Generator, shape: BodyShape, arms_up: bool = False) -> np.ndarray:
    """A standing pose ``(25, 3)``, feet on the floor, arms hanging or (``arms_up``) stretched overhead."""
    pose = BodyPose(1)
    pose.root = np.array([[0.0, shape.leg, 0.0]])
    pose.pelvis[:, 0] = rng.uniform(-3, 6) * D
    pose.head[:, 0] = rng.uniform(-10, 10) * D
    for side, s in SIDES:
        abd, flex = (rng.uniform(150, 178), rng.uniform(-5, 20)) if arms_up else (rng.uniform(5, 15),
                                                                                   rng.uniform(-5, 10))
        pose.arms[f"{side}_upper"] = limb_direction(s, abd * D, flex * D)
        pose.arms[f"{side}_lower"] = limb_direction(s, (abd + rng.uniform(0, 10)) * D,
                                                    (flex + (0 if arms_up else rng.uniform(5, 25))) * D)
        spread = rng.uniform(2, 6) * D
        pose.legs[f"{side}_upper"] = limb_direction(s, spread, 0.0)
        pose.legs[f"{side}_lower"] = limb_direction(s, spread, 0.0)
    return _ground(forward_kinematics(shape, pose))[0]


def _crouch_key(rng: np.random.Generator, shape: BodyShape) -> np.ndarray:
    """A deep squat ``(25, 3)`` with both hands on the floor in front of the feet (the start of a burpee, getting up
    from the floor)."""
    pose = BodyPose(1)
    pose.root = np.array([[0.0, shape.leg * rng.uniform(0.4, 0.55), rng.uniform(0.1, 0.25)]])
    pose.pelvis[:, 0] = rng.uniform(50, 70) * D
    pose.spine[:, 0] = rng.uniform(10, 25) * D
    pose.head[:, 0] = rng.uniform(-30, 0) * D
    for side, s in SIDES:
        pose.legs[f"{side}_target"] = np.array([[s * (shape.hip_half_width + rng.uniform(0.05, 0.15)), 0.0, 0.0]])
        pose.legs[f"{side}_pole"] = np.array([s * 0.4, 0.0, -1.0])
    body = forward_kinematics(shape, pose)
    ahead = rng.uniform(0.15, 0.35)
    hw = shape.shoulder_half_width
    hands = [np.array([s * (hw + rng.uniform(0.0, 0.08)), 0.04, -ahead]) for _side, s in SIDES]
    _reach_arms(pose, _chest(pose), body, hands, [np.array([s * 0.6, 0.0, 0.5]) for _side, s in SIDES],
                [np.array([s * 0.2, -0.15, -1.0]) for _side, s in SIDES])
    return _ground(forward_kinematics(shape, pose))[0]


def burpee(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> JointClip:
    """Burpees, one every 2-4 s: stand, squat with the hands on the floor, jump the feet back to a plank (40 %: with
    a push-up), jump the feet back to the squat, jump up with the arms overhead, land standing. A third of the clips
    show the gentler kind: the feet step back and in again, and the person rises without a jump, arms down."""
    stand = _standing_key(rng, shape)
    crouch = _crouch_key(rng, shape)
    feet = crouch[_ANKLES].mean(0)
    stand = _align(stand, _ANKLES, feet)
    jumps = rng.random() >= 1 / 3
    jump = _align(_standing_key(rng, shape, arms_up=jumps), _ANKLES, feet)
    bottom = rng.uniform(0.4, 0.6)
    planks = _ground(_support(rng, 2, fps, shape, np.array([1.0, bottom]), lean=rng.uniform(0.0, 0.2)))
    planks = _align(planks, _WRISTS, crouch[_WRISTS].mean(0))
    keys = np.stack([stand, crouch, planks[0], planks[1], jump])
    STAND, CROUCH, PLANK, LOW, JUMP = range(5)
    period = rng.uniform(2.0, 4.0)
    with_push = rng.random() < 0.4
    span = frames / fps
    times: list[float] = []
    order: list[int] = []
    take_offs: list[tuple[float, float]] = []
    tc = -rng.uniform(0.0, period)
    while tc < span:
        down, hold, back, push, rest, fwd, up, land = rng.uniform([0.3, 0.05, 0.2, 0.6, 0.0, 0.2, 0.25, 0.2],
                                                                  [0.5, 0.2, 0.35, 1.0, 0.3, 0.35, 0.35, 0.3])
        steps = [down, hold, back] + ([push / 2, push / 2] if with_push else []) + [rest, fwd, up, land]
        scale = min(1.0, 0.85 * period / sum(steps))
        steps = [d * scale for d in steps]
        poses = [CROUCH, CROUCH, PLANK] + ([LOW, PLANK] if with_push else []) + [PLANK, CROUCH, JUMP, STAND]
        clock = tc + period - sum(steps)  # standing until then
        times += [tc, clock]
        order += [STAND, STAND]
        for d, k in zip(steps, poses):
            clock += d
            times.append(clock)
            order.append(k)
        take_offs.append((clock - steps[-1] - 0.35 * steps[-2], clock - 0.5 * steps[-1]))
        tc = clock
    t = np.arange(frames) / fps
    joints = _keyframes(keys[order], np.array(times), t)
    joints = _relength(joints + _sway(rng, frames, fps, 0.004), stand)
    height = rng.uniform(0.05, 0.25) if jumps else 0.0
    air = np.zeros(frames)
    for a, b in take_offs:
        air += height * np.sin(np.pi * np.clip((t - a) / (b - a), 0, 1))
    return JointClip(_turn(rng, _ground(joints, air)))


# -- events: falls, sitting down, standing up --------------------------------------------------------------------------

#: where a fall goes, relative to the person's facing (radians of yaw), and how often
_FALLS = {"forward": (0.0, 0.35), "backward": (np.pi, 0.3), "left": (np.pi / 2, 0.175), "right": (-np.pi / 2, 0.175)}


def _lying_limbs(rng: np.random.Generator, frames: int, fps: float, direction: str, s: float
                 ) -> dict[str, np.ndarray]:
    """Directions ``(T, 3)`` of the limbs of side ``s`` once lying after a fall toward ``direction``: each one lies
    on the floor or points away from it (face down the legs and arms do not bend forward, face up the knees may be
    up, on the side the lower limbs stay under the body's plane and bend forward along the floor), with small
    movements. Keys ``legs_upper``, ``legs_lower``, ``arms_upper``, ``arms_lower``."""
    w = lambda std: wiggle(rng, frames, fps, std, 0.4)  # noqa: E731
    side_fall = direction in ("left", "right")
    below = side_fall and (s < 0) == (direction == "left")  # the side the body lies on
    if direction == "forward":
        hip, knee = rng.uniform(-10, 0), rng.uniform(0, 60)
    elif direction == "backward":
        hip = rng.uniform(0, 40)
        knee = rng.uniform(0, hip)
    else:
        hip, knee = rng.uniform(0, 60), rng.uniform(0, 90)
    spread = rng.uniform(0, 4) if below else rng.uniform(3, 15)
    if side_fall and below:  # the arm under the body: forward along the floor or stretched beyond the head
        abd, flex = (rng.uniform(0, 5), rng.uniform(60, 100)) if rng.random() < 0.5 else (rng.uniform(170, 180), 0.0)
        bend = 0.0
    elif side_fall:
        abd, flex, bend = rng.uniform(0, 30), rng.uniform(0, 90), rng.uniform(0, 40)
    else:  # by the sides or stretched beyond the head; elbows bend away from the floor
        abd = rng.uniform(5, 40) if rng.random() < 0.5 else rng.uniform(150, 178)
        flex = rng.uniform(-10, 0) if direction == "forward" else rng.uniform(0, 15)
        bend = rng.uniform(-30, 0) if direction == "forward" else rng.uniform(0, 40)
    return {"legs_upper": limb_direction(s, (spread + w(1)) * D, (hip + w(2)) * D),
            "legs_lower": limb_direction(s, (spread + w(1)) * D, (hip - knee + w(2)) * D),
            "arms_upper": limb_direction(s, (abd + w(3)) * D, (flex + w(3)) * D),
            "arms_lower": limb_direction(s, (abd + w(3)) * D, (flex + bend + w(4)) * D)}


def fall(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT, *,
         direction: str | None = None) -> JointClip:
    """A fall: standing (30 %: walking slowly) for 1-3 s, then toppling over the feet forward, backward or sideways
    (``direction``) in 0.4-1.2 s with the knees buckling and the arms thrown out, then lying on the floor with small
    movements. ``onset`` is the frame the fall starts (earlier in clips shorter than about 6 s)."""
    names = list(_FALLS)
    direction = direction or names[int(rng.choice(len(names), p=[_FALLS[n][1] for n in names]))]
    if direction not in _FALLS:
        raise ValueError(f"unknown fall direction {direction!r}; known: {', '.join(names)}")
    w = lambda std, hz=0.4: wiggle(rng, frames, fps, std, hz)  # noqa: E731
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    t = np.arange(frames) / fps
    dur = rng.uniform(0.4, 1.2)
    start = min(rng.uniform(1.0, 3.0), max(0.2, 0.35 * frames / fps))
    onset = min(int(round(start * fps)), frames - 1)
    if rng.random() < 0.3:  # walking slowly until the fall
        _walk(rng, pose, frames, fps)
        ahead = _apply(rotation(pose.yaw), np.array([0.0, 0.0, -1.0])) * (t < start)[:, None]
        pose.root = pose.root + np.cumsum(ahead, 0) * rng.uniform(0.3, 0.7) / fps
    react = _ease((t - start) / (0.6 * dur))  # the limbs react during the first 60 % of the fall
    settle = _ease((t - start - dur) / rng.uniform(0.4, 1.0))  # and settle once on the floor
    tipping = np.clip((t - start) / dur, 0, 1) ** 2  # slow, then faster and faster
    forward = direction == "forward"
    for side, s in SIDES:
        knee = rng.uniform(20, 60) * D
        spread = rng.uniform(0, 15) * D
        if forward:  # hands forward to break the fall
            abd, flex = rng.uniform(10, 35) * D, rng.uniform(60, 120) * D
        elif direction == "backward":
            abd, flex = rng.uniform(30, 80) * D, rng.uniform(-40, 10) * D
        else:  # sideways: the arms out
            abd, flex = rng.uniform(40, 110) * D, rng.uniform(0, 50) * D
        bend = rng.uniform(10, 40) * D
        reacting = {"legs_upper": limb_direction(s, spread, knee),
                    "legs_lower": limb_direction(s, spread, knee - rng.uniform(40, 90) * D),
                    "arms_upper": limb_direction(s, abd, flex), "arms_lower": limb_direction(s, abd, flex + bend)}
        lying = _lying_limbs(rng, frames, fps, direction, s)
        for key, d in reacting.items():
            limbs = pose.legs if key.startswith("legs") else pose.arms
            name = f"{side}_{key.split('_')[1]}"
            limbs[name] = _blend(_blend(limbs[name], d, react), lying[key], settle)
    # lying, the trunk bends only away from the floor: face down it arches, face up or on the side it curls a little
    lo, hi = {"forward": (-10, 0), "backward": (0, 10)}.get(direction, (0, 25))
    jackknife = rng.uniform(0, 25) * D * react * (1 - settle)
    pose.pelvis[:, 0] = pose.pelvis[:, 0] * (1 - settle) + jackknife + (rng.uniform(lo, hi) * D + w(2 * D)) * settle
    pose.spine[:, 0] = pose.spine[:, 0] * (1 - settle) + rng.uniform(lo, hi) * D * settle
    if direction in ("left", "right"):  # on the side the broad shoulders hold the chest up: the trunk slopes down
        pose.pelvis[:, 1] += (1 if direction == "right" else -1) * rng.uniform(12, 22) * D * settle
    pose.head[:, 0] += (-1 if forward else 1) * rng.uniform(0, 25) * D * react
    turn = rng.choice([-1, 1]) * rng.uniform(30, 70) * D if forward else 0.0  # face down: the face to one side
    pose.head[:, 2] += (turn + w(15 * D, 0.3)) * settle
    body = forward_kinematics(shape, pose)
    pivot = body[onset, _ANKLES].mean(0) * [1, 0, 1]
    heading = pose.yaw[onset] + _FALLS[direction][0] + rng.uniform(-20, 20) * D
    pitch = rng.uniform(85, 95) * D * tipping + w(1.5 * D) * settle
    over = rotation(heading) @ rotation(0.0, pitch) @ rotation(-heading)
    joints = np.einsum("tij,tvj->tvi", over, body - pivot) + pivot
    return JointClip(_ground(joints), onset)


def _chair(rng: np.random.Generator, frames: int, fps: float, shape: BodyShape, down: bool) -> JointClip:
    """Sitting down on a chair (``down``) or standing up from it: the feet stay planted while the hips go back and
    down to knee height (or up and forward) in 0.8-2 s, the trunk leaning forward on the way and upright at both
    ends; hands to the thighs or hanging."""
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    span = frames / fps
    t = np.arange(frames) / fps
    dur = rng.uniform(0.8, 2.0)
    start = max(0.0, min(rng.uniform(0.5, 2.5), span - dur - 0.5))
    onset = min(int(round(start * fps)), frames - 1)
    b = _ease((t - start) / dur)
    if not down:
        b = 1 - b
    seat = shape.shin + rng.uniform(0.0, 0.08)  # the hip joint at about knee height
    back = shape.thigh * rng.uniform(0.75, 0.95) * _ease(1.5 * b)  # the hips go back early, down later
    facing = rotation(pose.yaw)
    feet_at = pose.root.mean(0) * [1, 0, 1]
    pose.root = pose.root + _apply(facing, np.stack([0 * b, (seat - shape.leg) * b, back], -1))
    lean = rng.uniform(20, 45) * D * np.sin(np.pi * b)
    pose.pelvis[:, 0] += (rng.uniform(-10, 10) * D - pose.pelvis[:, 0].mean()) * b + lean
    pose.head[:, 0] -= 0.4 * lean
    for side, s in SIDES:
        floor = np.array([s * (shape.hip_half_width + rng.uniform(0.0, 0.12)), 0.0, rng.uniform(-0.1, 0.0)])
        pose.legs[f"{side}_target"] = feet_at + _apply(facing, floor)
        pose.legs[f"{side}_pole"] = np.array([s * rng.uniform(0.1, 0.4), 0.0, -1.0])
    if rng.random() < 0.7:  # hands come to rest on the thighs
        for side, s in SIDES:
            abd, flex = rng.uniform(5, 20) * D, rng.uniform(15, 40) * D
            pose.arms[f"{side}_upper"] = _blend(pose.arms[f"{side}_upper"], limb_direction(s, abd, flex), b)
            pose.arms[f"{side}_lower"] = _blend(pose.arms[f"{side}_lower"],
                                                limb_direction(s, abd, flex + rng.uniform(40, 60) * D), b)
    return JointClip(_ground(forward_kinematics(shape, pose)), onset)


def _lying_key(rng: np.random.Generator, shape: BodyShape, surface: float, dangle: bool) -> np.ndarray:
    """Lying on the back ``(25, 3)`` on the floor or a bed ``surface`` metres high; legs straight or bent on it, or
    (``dangle``) the knees over the bed's edge and the shins hanging."""
    pose = BodyPose(1)
    pose.root = np.array([[0.0, surface + 0.1, 0.0]])
    pose.pelvis[:, 0] = -np.pi / 2 + rng.uniform(0, 8) * D
    pose.head[:, 0] = rng.uniform(0, 20) * D
    bent = not dangle and rng.random() < 0.5
    for side, s in SIDES:
        spread = rng.uniform(3, 12) * D
        pose.arms[f"{side}_upper"] = limb_direction(s, rng.uniform(5, 30) * D, 0.0)
        pose.arms[f"{side}_lower"] = limb_direction(s, rng.uniform(5, 30) * D, rng.uniform(0, 30) * D)
        if bent:
            pose.legs[f"{side}_target"] = np.array([[s * (shape.hip_half_width + 0.1), surface + 0.07,
                                                     -shape.leg * rng.uniform(0.6, 0.8)]])
            pose.legs[f"{side}_pole"] = np.array([s * 0.2, 1.0, -0.3])
        else:
            pose.legs[f"{side}_upper"] = limb_direction(s, spread, rng.uniform(80, 92) * D)
            pose.legs[f"{side}_lower"] = limb_direction(s, spread, rng.uniform(0, 25) * D if dangle else
                                                        rng.uniform(80, 92) * D)
    return forward_kinematics(shape, pose)[0]


def _seated_key(rng: np.random.Generator, shape: BodyShape, surface: float, lean: float) -> np.ndarray:
    """Sitting ``(25, 3)``: on the floor (``surface`` 0: knees up, hands on the floor behind) or on the edge of a bed
    (feet on the floor, hands beside the hips), the trunk pitched ``lean`` radians forward (negative: back)."""
    pose = BodyPose(1)
    floor = surface == 0.0
    pose.root = np.array([[0.0, surface + (0.1 if floor else 0.05), 0.0]])
    pose.pelvis[:, 0] = lean
    pose.spine[:, 0] = rng.uniform(0, 15) * D
    for side, s in SIDES:
        x = s * (shape.hip_half_width + rng.uniform(0.05, 0.15))
        ahead = shape.leg * rng.uniform(0.5, 0.65) if floor else shape.thigh * rng.uniform(0.8, 1.0)
        pose.legs[f"{side}_target"] = np.array([[x, 0.06, -ahead]])
        pose.legs[f"{side}_pole"] = np.array([s * 0.3, 1.0 if floor else 0.0, -0.3 if floor else -1.0])
    body = forward_kinematics(shape, pose)
    hw = shape.shoulder_half_width
    hands = [np.array([s * (hw + rng.uniform(0.03, 0.1)), surface + 0.04,
                       rng.uniform(0.0, 0.2) if floor else rng.uniform(-0.05, 0.1)]) for _side, s in SIDES]
    _reach_arms(pose, _chest(pose), body, hands, [np.array([s * 0.3, 0.0, 1.0]) for _side, s in SIDES])
    return forward_kinematics(shape, pose)[0]


def _get_up(rng: np.random.Generator, frames: int, fps: float, shape: BodyShape) -> JointClip:
    """Getting up from lying on the floor (lie, sit up, roll onto the feet into a squat, stand) or on a bed (lie
    across it, sit up on its edge, lean forward, stand); ``onset`` is the start of the sitting up."""
    span = frames / fps
    bed = rng.random() < 0.5
    surface = shape.leg * rng.uniform(0.45, 0.6) if bed else 0.0  # a bed about 0.35-0.5 m high
    lying = _lying_key(rng, shape, surface, dangle=bed)
    if bed:
        seated = _seated_key(rng, shape, surface, rng.uniform(-5, 10) * D)
        rising = _seated_key(rng, shape, surface, rng.uniform(25, 45) * D)
        rising[:, 1] += 0.03
        rising = _align(rising, _ANKLES, seated[_ANKLES].mean(0))
        rising[:, 2] -= 0.08
    else:
        seated = _seated_key(rng, shape, 0.0, rng.uniform(-25, -5) * D)
        rising = _align(_crouch_key(rng, shape), _ANKLES, seated[_ANKLES].mean(0))
    standing = _align(_standing_key(rng, shape), _ANKLES, seated[_ANKLES].mean(0))
    steps = rng.uniform([0.8, 0.2, 0.6, 0.8], [1.6, 0.8, 1.2, 1.5])
    steps *= min(1.0, 0.7 * span / steps.sum())
    start = max(0.0, min(rng.uniform(0.5, 2.0), span - steps.sum() - 0.3))
    times = start + np.concatenate([[0.0], np.cumsum(steps)])
    t = np.arange(frames) / fps
    joints = _keyframes(np.stack([lying, seated, seated, rising, standing]), times, t)
    joints = _relength(joints + _sway(rng, frames, fps, 0.004), standing)
    if bed:
        joints[..., 1] -= np.minimum(joints[..., 1].min(axis=1, keepdims=True), 0.0)  # dangling feet: not below
    else:
        joints = _ground(joints)
    return JointClip(_turn(rng, joints, p_back=0.0), min(int(round(start * fps)), frames - 1))


def sit_down(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> JointClip:
    """Standing for 0.5-2.5 s, sitting down on a chair in 0.8-2 s (``onset``: the start), then seated."""
    return _chair(rng, frames, fps, shape, down=True)


def stand_up(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT, *,
             from_lying: bool | None = None) -> JointClip:
    """Seated on a chair, then standing up in 0.8-2 s; in a quarter of the clips (or ``from_lying``) getting up from
    lying on the floor or on a bed instead. ``onset``: the frame the getting up starts."""
    if from_lying is None:
        from_lying = bool(rng.random() < 0.25)
    return _get_up(rng, frames, fps, shape) if from_lying else _chair(rng, frames, fps, shape, down=False)


#: fitness class -> motion ``(rng, frames, fps, shape) -> JointClip``
FLOOR_MOTIONS: dict[str, Callable[..., JointClip]] = {
    "plank": plank, "push_up": push_up, "sit_up": sit_up, "burpee": burpee, "fall": fall, "sit_down": sit_down,
    "stand_up": stand_up,
}
#: the classes that happen once in a clip (their JointClip has an onset)
EVENTS: tuple[str, ...] = ("fall", "sit_down", "stand_up")
