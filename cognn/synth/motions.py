"""One small function per gesture class: ``motion(rng, frames, fps) -> BodyPose``.

Each function draws its own tempo, amplitude, phase and style from ``rng`` and returns the pose of one person over
``frames`` frames at ``fps`` frames per second; :data:`MOTIONS` maps the class names to them. Angles are in radians,
directions and targets follow :mod:`cognn.synth.body`. Every pose starts from :func:`idle` (sway, breathing, small
arm drift, a facing yaw within ±30°), so the classes differ only by what the person does.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .body import BodyPose, BodyShape, limb_direction, rotation

__all__ = ["CLASSES", "MOTIONS", "NONE_KINDS", "idle", "none", "wave_left", "wave_right", "clap", "jumping_jacks",
           "squat", "arm_raise", "punch", "march", "bow", "walk_to_and_fro"]

D = np.pi / 180.0
SIDES = (("left", -1.0), ("right", 1.0))
_DEFAULT = BodyShape()


# -- signals -----------------------------------------------------------------------------------------------------------

def wiggle(rng: np.random.Generator, frames: int, fps: float, std: float, max_hz: float = 0.5, n: int = 3
           ) -> np.ndarray:
    """Smooth random signal ``(T,)``: ``n`` sinusoids below ``max_hz`` with a total standard deviation ``std``."""
    t = np.arange(frames) / fps
    f = rng.uniform(0.05, 1.0, n) * max_hz
    ph = rng.uniform(0, 2 * np.pi, n)
    amp = rng.uniform(0.5, 1.0, n)
    amp *= std * np.sqrt(2.0 / (amp ** 2).sum())
    return (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t + ph[:, None])).sum(0)


def phase(rng: np.random.Generator, frames: int, fps: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Cycle phase ``(T,)`` in radians at a tempo drawn in ``[lo_hz, hi_hz]`` that drifts by about ±8 %."""
    f0 = rng.uniform(lo_hz, hi_hz)
    f = f0 * (1.0 + wiggle(rng, frames, fps, 0.08, 0.3, 2))
    return rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(f) / fps


def swing(ph: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """0..1 periodic profile of a phase (0 at phase 0, 1 at pi); ``sharpness > 1`` lingers at both ends."""
    c = np.cos(ph)
    return 0.5 - 0.5 * np.sign(c) * np.abs(c) ** (1.0 / sharpness)


def envelope(rng: np.random.Generator, frames: int, fps: float, p_partial: float = 0.3) -> np.ndarray:
    """0..1 activity ``(T,)``: 1 for the whole clip, or (with ``p_partial``) a ramp into and/or out of the gesture
    that keeps it active for at least 60 % of the frames."""
    if rng.random() >= p_partial:
        return np.ones(frames)
    ramp = max(2, int(rng.uniform(0.3, 0.7) * fps))
    span = int(rng.uniform(0.6, 0.9) * frames)
    start = int(rng.integers(0, frames - span + 1))
    t = np.arange(frames)
    up = np.clip((t - start + ramp / 2) / ramp, 0, 1)
    down = np.clip((start + span - t + ramp / 2) / ramp, 0, 1)
    mode = rng.integers(3)  # 0: ramp in, 1: ramp out, 2: both
    e = up if mode == 0 else down if mode == 1 else np.minimum(up, down)
    return e * e * (3 - 2 * e)


def _blend(rest: np.ndarray, active: np.ndarray, e: np.ndarray) -> np.ndarray:
    v = rest * (1 - e[:, None]) + active * e[:, None]
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _lerp(rest: np.ndarray, active: np.ndarray, e: np.ndarray) -> np.ndarray:
    return rest * (1 - e[:, None]) + active * e[:, None]


# -- the idle body -----------------------------------------------------------------------------------------------------

def _rest_arms(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, side: str, s: float,
               style: str | None = None) -> None:
    """A resting arm: hanging, hand on the hip, hands clasped in front, or folded across the chest."""
    style = style or rng.choice(["hang", "hang", "hang", "hip", "clasp", "fold"])
    if style == "hang":
        abd = rng.uniform(3, 18) * D + wiggle(rng, frames, fps, 2 * D, 0.4)
        flex = rng.uniform(-8, 12) * D + wiggle(rng, frames, fps, 3 * D, 0.4)
        bend = rng.uniform(5, 35) * D
        pose.arms[f"{side}_upper"] = limb_direction(s, abd, flex)
        pose.arms[f"{side}_lower"] = limb_direction(s, abd * 0.7, flex + bend)
        pose.arms.pop(f"{side}_target", None)
        return
    if style == "hip":
        target = np.array([s * rng.uniform(-0.02, 0.08), -rng.uniform(0.38, 0.46), rng.uniform(-0.02, 0.06)])
        pole = np.array([s * 1.0, 0.0, 0.3])
    elif style == "clasp":
        target = np.array([-s * rng.uniform(0.12, 0.17), -rng.uniform(0.35, 0.5), -rng.uniform(0.15, 0.25)])
        pole = np.array([s * 0.5, -0.8, 0.3])
    else:  # fold
        target = np.array([-s * rng.uniform(0.2, 0.3), -rng.uniform(0.12, 0.22), -rng.uniform(0.15, 0.22)])
        pole = np.array([s * 0.4, -1.0, 0.0])
    drift = np.stack([wiggle(rng, frames, fps, 0.01, 0.4) for _ in range(3)], -1)
    pose.arms[f"{side}_target"] = target + drift
    pose.arms[f"{side}_pole"] = pole


def _stand_legs(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float) -> None:
    for side, s in SIDES:
        abd = rng.uniform(0, 8) * D + wiggle(rng, frames, fps, 0.5 * D, 0.3)
        flex = rng.uniform(-3, 5) * D
        pose.legs[f"{side}_upper"] = limb_direction(s, abd, flex)
        pose.legs[f"{side}_lower"] = limb_direction(s, abd, flex - rng.uniform(0, 5) * D)


def idle(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT,
         arm_style: str | None = None) -> BodyPose:
    """A person standing: sway, breathing, a facing yaw within ±30°, resting arms."""
    w = lambda std, hz=0.5: wiggle(rng, frames, fps, std, hz)  # noqa: E731
    pose = BodyPose(frames)
    pose.root = np.stack([w(0.012), shape.leg + w(0.004), w(0.012)], -1)
    pose.yaw = rng.uniform(-30, 30) * D + w(3 * D, 0.2)
    pose.pelvis = np.stack([rng.uniform(-5, 8) * D + w(1.5 * D), w(1.5 * D), w(2 * D)], -1)
    pose.spine = np.stack([rng.uniform(-4, 12) * D + w(2 * D), w(2 * D), w(3 * D)], -1)
    pose.head = np.stack([rng.uniform(-12, 15) * D + w(4 * D), w(3 * D), w(8 * D, 0.3)], -1)
    style = arm_style or str(rng.choice(["hang", "hang", "mixed", "clasp", "fold", "hip"]))
    for side, s in SIDES:
        if style == "mixed":
            _rest_arms(rng, pose, frames, fps, side, s)
        elif style in ("clasp", "fold", "hip", "hang"):
            _rest_arms(rng, pose, frames, fps, side, s, style)
    _stand_legs(rng, pose, frames, fps)
    return pose


def _free_arm(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, side: str, s: float) -> None:
    """The arm that does not gesture: hanging or on the hip, held still or moving a little."""
    _rest_arms(rng, pose, frames, fps, side, s, str(rng.choice(["hang", "hang", "hang", "hip", "clasp"])))


# -- classes -----------------------------------------------------------------------------------------------------------

def _fidget(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, side: str, s: float) -> None:
    """Slow, non-periodic arm movement: reaching, touching the face, holding something, gesturing while talking."""
    n = int(rng.integers(2, 5))
    keys = np.sort(rng.uniform(-0.3, 1.3, n)) * frames
    pts = np.stack([s * rng.uniform(-0.25, 0.25, n), rng.uniform(-0.5, 0.1, n), -rng.uniform(0.05, 0.4, n)], -1)
    if rng.random() < 0.4:  # a hand to the face and back (drinking, phone, scratching)
        pts[rng.integers(n)] = [-s * rng.uniform(0.1, 0.2), rng.uniform(0.05, 0.2), -rng.uniform(0.1, 0.2)]
    t = np.arange(frames)
    target = np.stack([np.interp(t, keys, pts[:, k]) for k in range(3)], -1)
    k = max(1, int(rng.uniform(0.3, 0.8) * fps))  # smooth the corners: movements take 0.3-0.8 s
    kernel = np.hanning(2 * k + 1)
    kernel /= kernel.sum()
    padded = np.pad(target, ((k, k), (0, 0)), mode="edge")
    target = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(3)], -1)
    pose.arms[f"{side}_target"] = target
    pose.arms[f"{side}_pole"] = np.array([s * 0.6, -0.8, 0.2])


def _walk(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float) -> None:
    """An ordinary walking gait (legs swing forward and back, arms counter-swing), possibly while turning."""
    ph = phase(rng, frames, fps, 0.7, 1.1)
    amp = rng.uniform(15, 30) * D
    for side, s in SIDES:
        p = ph + (0 if side == "left" else np.pi)
        hip = amp * np.sin(p)
        knee = rng.uniform(25, 55) * D * np.clip(np.sin(p + 0.8), 0, None) ** 2
        pose.legs[f"{side}_upper"] = limb_direction(s, 2 * D, hip)
        pose.legs[f"{side}_lower"] = limb_direction(s, 2 * D, hip - knee)
        arm = -0.6 * amp * np.sin(p)
        pose.arms[f"{side}_upper"] = limb_direction(s, 8 * D, arm)
        pose.arms[f"{side}_lower"] = limb_direction(s, 6 * D, arm + rng.uniform(10, 35) * D)
        pose.arms.pop(f"{side}_target", None)
    pose.root[:, 1] += 0.015 * np.cos(2 * ph)
    pose.yaw = pose.yaw + np.linspace(0, rng.uniform(-60, 60) * D, frames) * (rng.random() < 0.4)


def _smooth_keys(rng: np.random.Generator, frames: int, fps: float, lo: np.ndarray, hi: np.ndarray,
                 every: tuple[float, float]) -> np.ndarray:
    """A smooth, non-repeating path ``(T, D)``: random key points in the box ``[lo, hi]`` every ``every`` seconds,
    joined by eased segments (no two segments alike, unlike the periodic gestures)."""
    span = frames / fps
    times = [rng.uniform(-every[1], 0.0)]
    while times[-1] < span + every[1]:
        times.append(times[-1] + rng.uniform(*every))
    keys = rng.uniform(lo, hi, (len(times), len(lo)))
    t = np.arange(frames) / fps
    i = np.clip(np.searchsorted(times, t) - 1, 0, len(times) - 2)
    u = (t - np.take(times, i)) / (np.take(times, i + 1) - np.take(times, i))
    u = u * u * (3 - 2 * u)
    return keys[i] * (1 - u[:, None]) + keys[i + 1] * u[:, None]


def _flow(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, shape: BodyShape) -> None:
    """Free, slow whole-body movement (tai chi, stretching, dancing, explaining with both hands): the wrists follow
    non-repeating paths over a wide range, each its own or the two hands together (mirrored or side by side, as in
    tai chi), the torso turns and leans, the weight shifts and the knees bend."""
    fast = rng.random() < 0.3
    every = (0.5, 1.2) if fast else (1.0, 2.5)
    reach = shape.upper_arm + shape.forearm
    lo = np.array([-0.5 * reach, -0.95 * reach, -0.95 * reach])
    hi = np.array([0.95 * reach, 0.9 * reach, 0.2 * reach])
    together = rng.choice(["own", "mirrored", "parallel"], p=[0.4, 0.3, 0.3])
    lead = _smooth_keys(rng, frames, fps, lo, hi, every)
    for side, s in SIDES:
        if together == "own" or side == "left":
            path = _smooth_keys(rng, frames, fps, lo, hi, every) if together == "own" else lead.copy()
            path[:, 0] *= s  # outward for either side
        elif together == "mirrored":
            path = lead * [s, 1, 1] + np.stack([wiggle(rng, frames, fps, 0.03, 0.4) for _ in range(3)], -1)
        else:  # both hands at one place (holding a ball, as in tai chi): the left hand's path, from the right shoulder
            path = lead * [-1, 1, 1] - [2 * shape.shoulder_half_width, 0, 0]
        pose.arms[f"{side}_target"] = path
        pose.arms[f"{side}_pole"] = np.array([s * 0.8, -0.6, 0.2])
    pose.spine += _smooth_keys(rng, frames, fps, np.array([-8, -12, -30]) * D, np.array([25, 12, 30]) * D, every)
    pose.yaw = pose.yaw + _smooth_keys(rng, frames, fps, np.array([-25 * D]), np.array([25 * D]), every)[:, 0]
    if rng.random() < 0.5:  # the weight shifts from one leg to the other
        pose.root[:, 0] += _smooth_keys(rng, frames, fps, np.array([-0.12]), np.array([0.12]), every)[:, 0]
    if rng.random() < 0.7:  # knees bend and straighten: the hips go down with the feet kept on the floor
        drop = _smooth_keys(rng, frames, fps, np.array([0.0]), np.array([rng.uniform(0.03, 0.12)]), every)[:, 0]
        _plant_feet(rng, pose, shape, drop, rng.uniform(0.1, 0.45))


def _lift(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, shape: BodyShape) -> None:
    """One lift (a weightlifter's clean and jerk, putting a box on a shelf): bend down with both hands low, stand up
    with the hands at the shoulders, push them overhead with a dip of the knees, hold, and lower them."""
    reach = shape.upper_arm + shape.forearm
    t = np.arange(frames) / fps
    start = rng.uniform(-1.0, 0.5)
    marks = start + np.cumsum(rng.uniform([0.3, 0.5, 0.4, 0.4, 0.5, 0.5], [0.8, 1.0, 0.9, 0.8, 1.5, 1.0]))
    # hand height relative to the shoulder and forward reach at each mark: low, shoulders, dip, overhead, hold, down
    height = np.array([-0.95, -0.95, -0.1, -0.15, 0.95, 0.95, -0.9]) * reach
    forward = np.array([0.35, 0.35, 0.25, 0.25, 0.05, 0.05, 0.1]) * reach
    knees = np.array([0.1, rng.uniform(0.2, 0.4), 0.02, rng.uniform(0.05, 0.15), 0.02, 0.02, 0.0])
    bend = np.array([rng.uniform(20, 50), rng.uniform(30, 60), 5, 5, 0, 0, 0]) * D
    times = np.concatenate([[start], marks])
    y, z = np.interp(t, times, height), np.interp(t, times, forward)
    for side, s in SIDES:
        x = -s * rng.uniform(0.0, 0.1) + s * 0.1 * (y > 0.5 * reach)
        pose.arms[f"{side}_target"] = np.stack([np.full(frames, x), y, -z], -1)
        pose.arms[f"{side}_pole"] = np.array([s * 0.6, -0.8, 0.2])
    pose.pelvis[:, 0] += np.interp(t, times, bend)
    wide = rng.random() < 0.4  # feet wide apart, as after a jerk
    _plant_feet(rng, pose, shape, np.interp(t, times, knees), rng.uniform(0.15, 0.35) + 0.2 * wide)


def _kick(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float) -> None:
    """Kicks or leg swings (martial arts, football, stretching): one leg swings forward or sideways and back."""
    ph = phase(rng, frames, fps, 0.4, 1.0)
    p = swing(ph, rng.uniform(1.5, 3.0))
    side, s = SIDES[int(rng.integers(2))]
    forward = rng.random() < 0.6
    lift = rng.uniform(40, 95) * D * p
    knee = rng.uniform(0, 60) * D * p * (1 - p)
    if forward:
        pose.legs[f"{side}_upper"] = limb_direction(s, 3 * D, lift)
        pose.legs[f"{side}_lower"] = limb_direction(s, 3 * D, lift - knee)
    else:
        pose.legs[f"{side}_upper"] = limb_direction(s, 3 * D + lift, 0 * p)
        pose.legs[f"{side}_lower"] = limb_direction(s, 3 * D + lift, -knee)
    pose.spine[:, 0] -= rng.uniform(0, 15) * D * p  # leaning back for balance
    for arm_side, sa in SIDES:  # arms up in a guard or out for balance
        if rng.random() < 0.5:
            pose.arms[f"{arm_side}_target"] = np.array([-sa * 0.1, rng.uniform(-0.05, 0.15), -0.2]) + np.stack(
                [wiggle(rng, frames, fps, 0.02, 0.5) for _ in range(3)], -1)
            pose.arms[f"{arm_side}_pole"] = np.array([sa * 0.6, -0.8, 0.3])


def _plant_feet(rng: np.random.Generator, pose: BodyPose, shape: BodyShape, drop: np.ndarray, stance: float) -> None:
    """Lower the hips by ``drop`` ``(T,)`` metres while both feet stay where they stand ``stance`` metres apart."""
    facing = rotation(pose.yaw)
    feet_at = pose.root.mean(0) * [1, 0, 1]
    pose.root = pose.root - drop[:, None] * [0, 1, 0]
    for side, s in SIDES:
        floor = np.array([s * (shape.hip_half_width + stance / 2), 0.0, rng.uniform(-0.05, 0.05)])
        pose.legs[f"{side}_target"] = feet_at + np.einsum("tij,j->ti", facing, floor)
        pose.legs[f"{side}_pole"] = np.array([s * 0.3, 0.0, -1.0])


def _walk_across(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float) -> None:
    """Walking through the picture: side-on or at an angle to the camera, moving along the facing direction."""
    _walk(rng, pose, frames, fps)
    side_on = rng.choice([-1.0, 1.0]) * rng.uniform(45, 100) * D
    pose.yaw = pose.yaw + side_on
    speed = rng.uniform(0.5, 1.4)
    forward = np.einsum("tij,j->ti", rotation(pose.yaw), np.array([0.0, 0.0, -1.0]))
    pose.root = pose.root + np.cumsum(forward, 0) * speed / fps


def walk_to_and_fro(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT
                    ) -> BodyPose:
    """Walking along a line of 1-2 m towards the camera and away (within 25 degrees of straight on, before the
    camera's own direction), turning at each end: a person who grows and shrinks in the picture while the legs swing,
    as a corridor or a living-room camera sees them (walking side-on is the ``walk_across`` kind of :func:`none`)."""
    pose = idle(rng, frames, fps, shape)
    _walk(rng, pose, frames, fps)
    speed = rng.uniform(0.5, 1.3)
    half = rng.uniform(0.5, 1.0)  # metres from the middle of the line to either end
    line = rng.uniform(-25, 25) * D
    t = np.arange(frames) / fps
    u = (t * speed / (2 * half) + rng.uniform(0, 2)) % 2  # 0-1 there, 1-2 back
    pos = (np.where(u < 1, u, 2 - u) * 2 - 1) * half
    facing = line + np.where(u < 1, 0.0, np.pi)
    k = max(1, int(0.5 * fps))  # a turn takes about half a second
    facing = np.convolve(np.pad(facing, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")
    pose.yaw = pose.yaw + facing
    ahead = rotation(line)[0] @ np.array([0.0, 0.0, -1.0])
    pose.root = pose.root + pos[:, None] * ahead
    return pose


def _sit(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, shape: BodyShape) -> None:
    """Sitting on a chair: thighs forward, shins down, the hips at seat height; hands resting, on a table or busy."""
    seat = rng.uniform(0.42, 0.55)
    pose.root[:, 1] = seat + pose.root[:, 1] - pose.root[:, 1].mean()
    pose.pelvis[:, 0] = rng.uniform(-15, 5) * D + wiggle(rng, frames, fps, 2 * D, 0.3)
    pose.spine[:, 0] += rng.uniform(0, 25) * D
    for side, s in SIDES:
        spread = rng.uniform(3, 20) * D
        pose.legs[f"{side}_upper"] = limb_direction(s, spread, np.full(frames, rng.uniform(75, 100) * D))
        pose.legs[f"{side}_lower"] = limb_direction(s, spread * 0.5, np.full(frames, rng.uniform(-10, 25) * D))
        pose.legs.pop(f"{side}_target", None)
    style = rng.choice(["lap", "table", "busy"])
    for side, s in SIDES:
        if style == "busy" and rng.random() < 0.7:
            _fidget(rng, pose, frames, fps, side, s)
            continue
        y = -rng.uniform(0.3, 0.45) if style == "lap" else -rng.uniform(0.15, 0.3)
        z = -rng.uniform(0.2, 0.35) if style == "lap" else -rng.uniform(0.3, 0.5)
        drift = np.stack([wiggle(rng, frames, fps, 0.015, 0.4) for _ in range(3)], -1)
        pose.arms[f"{side}_target"] = np.array([-s * rng.uniform(0.0, 0.15), y, z]) + drift
        pose.arms[f"{side}_pole"] = np.array([s * 0.7, -0.7, 0.1])


def _one_bend(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float, shape: BodyShape) -> None:
    """A single bend during the clip: picking something up, tying a shoe, leaning over a desk; one hand reaches."""
    start, dur = rng.uniform(-0.2, 0.6) * frames, rng.uniform(1.5, 4.0) * fps
    t = np.arange(frames)
    p = np.clip(np.minimum((t - start) / (0.3 * dur), (start + dur - t) / (0.3 * dur)), 0, 1)
    p = p * p * (3 - 2 * p)
    angle = rng.uniform(30, 80) * D * p
    pose.pelvis[:, 0] += 0.6 * angle
    pose.spine[:, 0] += 0.4 * angle
    pose.spine[:, 2] += rng.uniform(-25, 25) * D * p
    side, s = SIDES[int(rng.integers(2))]
    pose.arms.pop(f"{side}_target", None)
    reach_upper = limb_direction(s, 10 * D, np.full(frames, 40 * D))
    reach_lower = limb_direction(s, 8 * D, np.full(frames, 50 * D))
    pose.arms[f"{side}_upper"] = _blend(pose.arms[f"{side}_upper"], reach_upper, p)
    pose.arms[f"{side}_lower"] = _blend(pose.arms[f"{side}_lower"], reach_lower, p)
    if rng.random() < 0.5:
        _plant_feet(rng, pose, shape, rng.uniform(0.05, 0.15) * p, rng.uniform(0.1, 0.3))


def _warm_up(rng: np.random.Generator, pose: BodyPose, frames: int, fps: float) -> None:
    """Exercises that are not among the gestures: torso twists or side bends, arms out or on the hips."""
    ph = phase(rng, frames, fps, 0.25, 0.8)
    kind = rng.choice(["twist", "side_bend", "circles"])
    if kind == "twist":
        pose.spine[:, 2] += rng.uniform(20, 45) * D * np.sin(ph)
        pose.pelvis[:, 2] += rng.uniform(0, 15) * D * np.sin(ph)
        arms_out = rng.random() < 0.5
        for side, s in SIDES:
            if arms_out:
                pose.arms.pop(f"{side}_target", None)
                pose.arms[f"{side}_upper"] = limb_direction(s, np.full(frames, rng.uniform(60, 95) * D), 0 * ph)
                pose.arms[f"{side}_lower"] = limb_direction(s, np.full(frames, rng.uniform(60, 130) * D), 0 * ph)
            else:
                _rest_arms(rng, pose, frames, fps, side, s, "hip")
    elif kind == "side_bend":
        pose.spine[:, 1] += rng.uniform(15, 35) * D * np.sin(ph)
        for side, s in SIDES:
            _rest_arms(rng, pose, frames, fps, side, s, str(rng.choice(["hip", "hang"])))
    else:  # arm circles held out to the sides
        r = rng.uniform(8, 25) * D
        for side, s in SIDES:
            pose.arms.pop(f"{side}_target", None)
            abd = rng.uniform(75, 95) * D + r * np.sin(ph)
            flex = r * np.cos(ph)
            pose.arms[f"{side}_upper"] = limb_direction(s, abd, flex)
            pose.arms[f"{side}_lower"] = limb_direction(s, abd + 5 * D, flex)


#: the kinds of "none" clips and their relative frequency
NONE_KINDS = {"idle": 1.0, "fidget": 2.0, "both": 1.0, "turn": 1.0, "walk_across": 1.2, "shift": 0.7,
              "flow": 2.5, "sit": 1.2, "bend": 1.0, "warm_up": 1.2, "lift": 0.8, "kick": 0.6}


def none(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT,
         kind: str | None = None) -> BodyPose:
    """No gesture: everything else a person in front of a camera does. Standing idle, fidgeting, touching the face,
    turning, shifting weight, walking through the picture (not in place: that is ``march``), free slow movement (tai
    chi, stretching, talking with both hands), sitting, a single bend to pick something up, warm-up exercises, a lift
    overhead or kicks; ``kind`` picks one of :data:`NONE_KINDS` instead of drawing it."""
    if kind is not None and kind not in NONE_KINDS:
        raise ValueError(f"unknown kind of 'none' {kind!r}; known: {', '.join(NONE_KINDS)}")
    pose = idle(rng, frames, fps, shape)
    if kind is None:
        names, weights = list(NONE_KINDS), np.array(list(NONE_KINDS.values()))
        kind = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if kind in ("fidget", "both"):
        sides = SIDES if kind == "both" else [SIDES[int(rng.integers(2))]]
        for side, s in sides:
            _fidget(rng, pose, frames, fps, side, s)
    elif kind == "turn":
        pose.yaw = pose.yaw + wiggle(rng, frames, fps, rng.uniform(10, 35) * D, 0.3, 2)
        pose.head[:, 2] += wiggle(rng, frames, fps, 15 * D, 0.4, 2)
    elif kind == "walk_across":
        _walk_across(rng, pose, frames, fps)
    elif kind == "shift":
        shift = wiggle(rng, frames, fps, 0.04, 0.25, 2)
        pose.root[:, 0] += shift
        pose.pelvis[:, 1] += shift * 2.0
    elif kind == "flow":
        _flow(rng, pose, frames, fps, shape)
    elif kind == "sit":
        _sit(rng, pose, frames, fps, shape)
    elif kind == "bend":
        _one_bend(rng, pose, frames, fps, shape)
    elif kind == "warm_up":
        _warm_up(rng, pose, frames, fps)
    elif kind == "lift":
        _lift(rng, pose, frames, fps, shape)
    elif kind == "kick":
        _kick(rng, pose, frames, fps)
    return pose


def _wave(rng: np.random.Generator, frames: int, fps: float, shape: BodyShape, side: str, s: float) -> BodyPose:
    pose = idle(rng, frames, fps, shape)
    other, so = SIDES[1] if side == "left" else SIDES[0]
    _free_arm(rng, pose, frames, fps, other, so)
    e = envelope(rng, frames, fps)
    ph = phase(rng, frames, fps, 1.2, 3.5)
    amp = rng.uniform(12, 40) * D
    if rng.random() < 0.75:  # forearm waving with the elbow out to the side and bent
        up_abd = rng.uniform(65, 140) * D + wiggle(rng, frames, fps, 3 * D, 0.5)
        up_flex = rng.uniform(-5, 45) * D
        lo_abd = rng.uniform(165, 195) * D + amp * np.sin(ph)
        lo_flex: np.ndarray | float = rng.uniform(0, 30) * D + 0.3 * amp * np.sin(ph + rng.uniform(0, np.pi))
    else:  # the whole arm up, swinging side to side
        up_abd = rng.uniform(140, 170) * D + 0.5 * amp * np.sin(ph)
        up_flex = rng.uniform(0, 30) * D
        lo_abd = up_abd + rng.uniform(0, 25) * D + amp * np.sin(ph + 0.4)
        lo_flex = up_flex
    rest_u, rest_l = pose.arms[f"{side}_upper"], pose.arms[f"{side}_lower"]
    pose.arms.pop(f"{side}_target", None)
    pose.arms[f"{side}_upper"] = _blend(rest_u, limb_direction(s, up_abd, up_flex), e)
    pose.arms[f"{side}_lower"] = _blend(rest_l, limb_direction(s, lo_abd, lo_flex), e)
    pose.arms[f"{side}_hand"] = _blend(rest_l, limb_direction(s, lo_abd + 0.3 * amp * np.sin(ph + 0.5), lo_flex), e)
    pose.spine[:, 1] += s * e * rng.uniform(0, 6) * D  # leaning away a little
    return pose


def wave_left(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Waving with the person's left hand."""
    return _wave(rng, frames, fps, shape, "left", -1.0)


def wave_right(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Waving with the person's right hand."""
    return _wave(rng, frames, fps, shape, "right", 1.0)


def clap(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Clapping in front of the chest (sometimes overhead)."""
    pose = idle(rng, frames, fps, shape)
    ph = phase(rng, frames, fps, 1.5, 4.0)
    gap = rng.uniform(0.15, 0.5) * swing(ph, rng.uniform(1.0, 2.0)) + 0.05
    overhead = rng.random() < 0.15
    centre = np.array([0.0, rng.uniform(0.35, 0.5), -rng.uniform(0.1, 0.25)]) if overhead else \
        np.array([0.0, rng.uniform(-0.3, 0.05), -rng.uniform(0.25, 0.42)])
    centre = centre + np.stack([wiggle(rng, frames, fps, 0.02, 0.5) for _ in range(3)], -1)
    half_width = shape.shoulder_half_width  # the targets are relative to each shoulder
    for side, s in SIDES:
        target = centre.copy()
        target[:, 0] += s * (gap / 2) - s * half_width
        pose.arms[f"{side}_target"] = target
        pose.arms[f"{side}_pole"] = np.array([s * 0.7, -0.7 if not overhead else 0.2, 0.2])
        pose.arms[f"{side}_hand"] = np.tile([-s * 0.3, 0.8, -0.5], (frames, 1)) / np.linalg.norm([0.3, 0.8, 0.5])
    return pose


def jumping_jacks(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Jumping jacks: arms from the sides to overhead while the feet jump apart, and back (or stepping variants)."""
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    ph = phase(rng, frames, fps, 0.7, 1.6)
    p = swing(ph, rng.uniform(1.0, 1.8))
    a0, a1 = rng.uniform(5, 20) * D, rng.uniform(130, 185) * D
    flex = rng.uniform(-10, 25) * D
    bend = rng.uniform(0, 30) * D
    for side, s in SIDES:
        abd = a0 + (a1 - a0) * p
        pose.arms[f"{side}_upper"] = limb_direction(s, abd, flex)
        pose.arms[f"{side}_lower"] = limb_direction(s, abd + bend * np.sin(np.pi * p), flex)
        pose.arms.pop(f"{side}_target", None)
    step = rng.random() < 0.2  # step jacks: one foot steps out at a time, no jump
    leg_out = rng.uniform(12, 32) * D
    knee = rng.uniform(5, 20) * D
    for side, s in SIDES:
        if step:
            lp = p * (np.sin(ph / 2 + (0 if side == "left" else np.pi)) > 0)
        else:
            lp = p
        abd = 2 * D + leg_out * lp
        land = knee * np.abs(np.cos(ph)) ** 4  # knees give a little on landing
        pose.legs[f"{side}_upper"] = limb_direction(s, abd, land)
        pose.legs[f"{side}_lower"] = limb_direction(s, abd, -land)
    if not step:
        pose.root[:, 1] += rng.uniform(0.03, 0.14) * np.abs(np.sin(ph)) - 0.03 * np.abs(np.cos(ph)) ** 4
    return pose


def squat(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Squats: hips down and back with the feet planted, the torso leaning forward, arms forward or held in."""
    pose = idle(rng, frames, fps, shape, arm_style=str(rng.choice(["hang", "clasp", "fold", "hip"])))
    ph = phase(rng, frames, fps, 0.33, 0.7)
    p = swing(ph, rng.uniform(1.0, 2.0))
    depth = rng.uniform(0.15, 0.45)
    facing = rotation(pose.yaw)
    stance = rng.uniform(0.1, 0.25)
    root0 = pose.root.copy()
    back = np.stack([np.zeros(frames), -depth * p, rng.uniform(0.05, 0.25) * p], -1)
    pose.root = root0 + np.einsum("tij,tj->ti", facing, back)
    pose.pelvis[:, 0] += rng.uniform(10, 40) * D * p
    pose.spine[:, 0] += rng.uniform(0, 20) * D * p
    pose.head[:, 0] -= rng.uniform(0, 25) * D * p
    feet_at = root0.mean(0) * [1, 0, 1]
    for side, s in SIDES:
        floor = np.array([s * (shape.hip_half_width + stance), shape.leg * (1 - rng.uniform(0.995, 1.0)), -0.02])
        pose.legs[f"{side}_target"] = feet_at + np.einsum("tij,j->ti", facing, floor)
        pose.legs[f"{side}_pole"] = np.array([s * rng.uniform(0.1, 0.5), 0.0, -1.0])
    if rng.random() < 0.45:  # arms reach forward for balance as the hips go down
        for side, s in SIDES:
            f = rng.uniform(60, 95) * D * p
            pose.arms.pop(f"{side}_target", None)
            pose.arms[f"{side}_upper"] = limb_direction(s, np.full(frames, 8 * D), f)
            pose.arms[f"{side}_lower"] = limb_direction(s, np.full(frames, 5 * D), f + 5 * D)
    return pose


def arm_raise(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Both arms raised overhead and lowered again, slowly, sideways or forward; the legs stay still."""
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    ph = phase(rng, frames, fps, 0.33, 0.6)
    p = swing(ph, rng.uniform(1.0, 1.6))
    top = rng.uniform(140, 180) * D
    plane = rng.choice(["side", "side", "front", "scaption"])
    bend = rng.uniform(0, 20) * D
    for side, s in SIDES:
        lift = 8 * D + (top - 8 * D) * p
        if plane == "side":
            up, lo = limb_direction(s, lift, 0 * lift + 5 * D), limb_direction(s, lift + bend, 5 * D)
        elif plane == "front":
            up, lo = limb_direction(s, 8 * D, lift), limb_direction(s, 8 * D, lift + bend)
        else:
            up, lo = limb_direction(s, lift, 0.35 * lift), limb_direction(s, lift + bend, 0.35 * lift)
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"], pose.arms[f"{side}_lower"] = up, lo
    pose.spine[:, 0] -= rng.uniform(0, 6) * D * p  # a slight arch at the top
    return pose


def punch(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Punching forward from a guard, alternating hands or repeating one."""
    pose = idle(rng, frames, fps, shape)
    reach = (shape.upper_arm + shape.forearm) * rng.uniform(0.85, 1.0)
    t = np.arange(frames) / fps
    interval = rng.uniform(0.35, 0.9)
    alternate = rng.random() < 0.6
    lead = int(rng.integers(2))
    t0 = rng.uniform(0, interval)
    n = int(frames / fps / interval) + 3
    starts = t0 - interval + np.arange(n) * interval * rng.uniform(0.9, 1.1, n)
    out_s, back_s = rng.uniform(0.08, 0.16), rng.uniform(0.15, 0.3)
    height = rng.uniform(-0.05, 0.1)
    for k, (side, s) in enumerate(SIDES):
        guard = np.array([-s * rng.uniform(0.05, 0.12), rng.uniform(0.0, 0.15), -rng.uniform(0.15, 0.25)])
        hit = np.array([-s * rng.uniform(0.0, 0.12), height, -reach])
        ext = np.zeros(frames)
        for i, st in enumerate(starts):
            if alternate and i % 2 != k or not alternate and k != lead:
                continue
            rise = np.clip((t - st) / out_s, 0, 1)
            fall = np.clip(1 - (t - st - out_s - 0.05) / back_s, 0, 1)
            ext = np.maximum(ext, np.minimum(rise, fall))
        ext = ext * ext * (3 - 2 * ext)
        pose.arms[f"{side}_target"] = _lerp(np.tile(guard, (frames, 1)), np.tile(hit, (frames, 1)), ext)
        pose.arms[f"{side}_pole"] = np.array([s * 0.6, -0.8, 0.3])
        pose.spine[:, 2] += -s * rng.uniform(5, 18) * D * ext  # the shoulder drives the punch
    return pose


def march(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Walking in place: knees lifted in turn, arms swinging against the legs."""
    pose = idle(rng, frames, fps, shape)
    ph = phase(rng, frames, fps, 0.6, 1.3)
    lift = rng.uniform(35, 85) * D
    arm = rng.uniform(10, 45) * D
    elbow = rng.uniform(10, 90) * D
    for side, s in SIDES:
        p = ph + (0 if side == "left" else np.pi)
        up = np.clip(np.sin(p), 0, None) ** rng.uniform(0.8, 1.5)
        hip = lift * up
        knee = hip * rng.uniform(1.0, 1.6)
        pose.legs[f"{side}_upper"] = limb_direction(s, 2 * D, hip)
        pose.legs[f"{side}_lower"] = limb_direction(s, 2 * D, hip - knee)
        a = -arm * np.sin(p)
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"] = limb_direction(s, 8 * D, a)
        pose.arms[f"{side}_lower"] = limb_direction(s, 6 * D, a + elbow)
    pose.root[:, 1] += 0.012 * np.cos(2 * ph)
    return pose


def bow(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Bowing: bend forward from the hips, hold, and straighten up (repeated with pauses)."""
    pose = idle(rng, frames, fps, shape, arm_style=str(rng.choice(["hang", "hang", "clasp"])))
    period = rng.uniform(1.8, 3.0)
    down, hold = rng.uniform(0.5, 1.1), rng.uniform(0.2, 1.2)
    t = (np.arange(frames) / fps + rng.uniform(0, period)) % period
    p = np.clip(np.minimum(t / down, (2 * down + hold - t) / down), 0, 1)
    p = p * p * (3 - 2 * p)
    angle = rng.uniform(25, 75) * D * p
    share = rng.uniform(0.4, 0.7)
    pose.pelvis[:, 0] += share * angle
    pose.spine[:, 0] += (1 - share) * angle
    pose.head[:, 0] += rng.uniform(0, 20) * D * p
    facing = rotation(pose.yaw)
    pose.root += np.einsum("tij,tj->ti", facing, np.stack([0 * p, -0.02 * p, 0.08 * p], -1))
    if rng.random() < 0.6 and "left_target" not in pose.arms:  # arms hang with gravity instead of following the torso
        tilt = rotation(0.0, pose.pelvis[:, 0] + pose.spine[:, 0])
        down_c = np.einsum("tji,j->ti", tilt, np.array([0.0, -1.0, 0.0]))
        for side, _s in SIDES:
            pose.arms[f"{side}_upper"] = _blend(pose.arms[f"{side}_upper"], down_c, p)
            pose.arms[f"{side}_lower"] = _blend(pose.arms[f"{side}_lower"], down_c, p)
    return pose


#: the classes in label order and the function that draws each
MOTIONS: dict[str, Callable[..., BodyPose]] = {
    "none": none, "wave_left": wave_left, "wave_right": wave_right, "clap": clap,
    "jumping_jacks": jumping_jacks, "squat": squat, "arm_raise": arm_raise, "punch": punch, "march": march,
    "bow": bow,
}
CLASSES: tuple[str, ...] = tuple(MOTIONS)
