"""Exercises for the fitness classes (the standing ones here, the rest from :mod:`cognn.synth.floor`), and
generated clips rendered as a camera would see them in 2-D.

Motions (``motion(rng, frames, fps, shape) -> BodyPose``, as :mod:`cognn.synth.motions`): ``lateral_raise`` (both
arms out to the sides up to shoulder height), ``front_raise`` (forward to shoulder height), ``bicep_curl`` (the
forearms up, upper arms still), ``high_knees`` (running in place, knees to hip height), ``clap`` (overhead claps:
the arms swing out and up until the hands meet), ``lunge`` (forward or side lunges), besides the gesture model's
``squat``, ``jumping_jacks``, waves and ``none`` kinds (walking through the picture is ``walk``). The classes the
standing body cannot do by itself (``plank``, ``push_up``, ``sit_up``, ``burpee`` and the events ``fall``,
``sit_down``, ``stand_up``) come from :mod:`cognn.synth.floor` as joints; :data:`GENERATED` names every class
:func:`generate_2d` draws, and :func:`generate_2d_labelled` also gives the frame an event starts (the frames before
it are not its class).

:func:`render_2d` puts joints ``(T, 25, 3)`` (body world, floor at y = 0) in front of a pinhole camera: another
direction (the person seen from the front to the side), distance, height, tilt, field of view and picture shape for
every clip (with ``aim``, tilted toward the body: people on the floor; without it, a fifth of the clips framed
closely, from just above the head to between the hips and the feet), then maps NTU-25 to OpenPose-18 in the
``image2d`` plain form (``x / w - 0.5``, ``y / h - 0.5``, y down; score 1, zeros outside the picture), with
MediaPipe-like jitter and dropped joints.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .body import BodyPose, BodyShape, J, forward_kinematics, limb_direction, rotation, sample_shape
from .floor import EVENTS, FLOOR_MOTIONS
from .motions import (
    _DEFAULT,
    SIDES,
    idle,
    jumping_jacks,
    none,
    phase,
    squat,
    swing,
    walk_to_and_fro,
    wave_left,
    wave_right,
)

__all__ = ["EXERCISES", "GENERATED", "EVENTS", "lunge", "lateral_raise", "front_raise", "bicep_curl", "high_knees",
           "overhead_clap", "walk", "render_2d", "generate_2d", "generate_2d_labelled"]

D = np.pi / 180.0


def _arm_swing(rng: np.random.Generator, frames: int, fps: float, shape: BodyShape, lo_hz: float, hi_hz: float,
               abd: tuple[float, float], flex: tuple[float, float], elbow: float) -> BodyPose:
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    ph = phase(rng, frames, fps, lo_hz, hi_hz)
    p = swing(ph, rng.uniform(1.0, 1.8))
    alternate = rng.random() < 0.2
    for side, s in SIDES:
        q = swing(ph + np.pi, rng.uniform(1.0, 1.8)) if alternate and side == "left" else p
        a = abd[0] + (abd[1] - abd[0]) * q
        f = flex[0] + (flex[1] - flex[0]) * q
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"] = limb_direction(s, a, f)
        pose.arms[f"{side}_lower"] = limb_direction(s, a, f + elbow)
    return pose


def lateral_raise(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Both arms out to the sides, up to about shoulder height, and down."""
    top = rng.uniform(75, 100) * D
    return _arm_swing(rng, frames, fps, shape, 0.25, 0.55, (rng.uniform(5, 15) * D, top),
                      (rng.uniform(0, 15) * D, rng.uniform(0, 20) * D), rng.uniform(0, 20) * D)


def front_raise(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Both arms forward, up to about shoulder height, and down."""
    top = rng.uniform(75, 105) * D
    return _arm_swing(rng, frames, fps, shape, 0.25, 0.55, (rng.uniform(3, 10) * D, rng.uniform(3, 12) * D),
                      (rng.uniform(0, 10) * D, top), rng.uniform(0, 15) * D)


def bicep_curl(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """The forearms curled up towards the shoulders and lowered, upper arms by the body (both or in turn)."""
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    ph = phase(rng, frames, fps, 0.3, 0.7)
    alternate = rng.random() < 0.4
    top = rng.uniform(110, 145) * D
    for side, s in SIDES:
        p = swing(ph + (np.pi if alternate and side == "left" else 0.0), rng.uniform(1.0, 1.6))
        a = rng.uniform(3, 12) * D
        f_up = rng.uniform(-5, 15) * D + 10 * D * p
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"] = limb_direction(s, a, f_up)
        pose.arms[f"{side}_lower"] = limb_direction(s, a * 0.5, f_up + rng.uniform(0, 15) * D + top * p)
    return pose


def high_knees(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Running in place with the knees to hip height, arms pumping."""
    pose = idle(rng, frames, fps, shape)
    ph = phase(rng, frames, fps, 1.2, 2.2)
    lift = rng.uniform(70, 100) * D
    arm = rng.uniform(20, 50) * D
    elbow = rng.uniform(60, 100) * D
    for side, s in SIDES:
        p = ph + (0 if side == "left" else np.pi)
        up = np.clip(np.sin(p), 0, None) ** rng.uniform(0.7, 1.2)
        hip = lift * up
        pose.legs[f"{side}_upper"] = limb_direction(s, 3 * D, hip)
        pose.legs[f"{side}_lower"] = limb_direction(s, 3 * D, hip - hip * rng.uniform(1.1, 1.6))
        a = -arm * np.sin(p)
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"] = limb_direction(s, 10 * D, a)
        pose.arms[f"{side}_lower"] = limb_direction(s, 8 * D, a + elbow)
    pose.root[:, 1] += 0.03 * np.abs(np.sin(ph))
    return pose


def overhead_clap(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Claps overhead: the arms sweep out and up until the hands meet above the head, the legs stay."""
    pose = idle(rng, frames, fps, shape, arm_style="hang")
    ph = phase(rng, frames, fps, 0.5, 1.1)
    p = swing(ph, rng.uniform(1.0, 1.6))
    top = rng.uniform(160, 178) * D
    for side, s in SIDES:
        a = rng.uniform(5, 20) * D + (top - 10 * D) * p
        f = rng.uniform(-5, 15) * D
        pose.arms.pop(f"{side}_target", None)
        pose.arms[f"{side}_upper"] = limb_direction(s, a, f)
        pose.arms[f"{side}_lower"] = limb_direction(s, a + rng.uniform(0, 15) * D * p, f)
    return pose


def walk(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Walking through the picture side-on or at an angle (the ``none`` kind of the gesture model), or, in 40 % of the
    clips, towards the camera and away (a person walking towards the camera grows in the picture as a falling one
    does; without these the fitness model called it a fall)."""
    if rng.random() < 0.4:
        return walk_to_and_fro(rng, frames, fps, shape)
    return none(rng, frames, fps, shape, kind="walk_across")


def lunge(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Lunges, the legs taking turns (or one leg throughout): a step forward (or, in a third of the clips, out to the
    side) with the hips going down over the bent front knee, and back to standing; the trunk upright (forward
    lunge) or leaning over the bent leg (side lunge), the hands on the hips, by the sides or holding a weight. Half
    the side lunges start from a wide stance with the feet planted: only the hips travel, over one knee and back
    (lateral lunges done in place)."""
    pose = idle(rng, frames, fps, shape, arm_style=str(rng.choice(["hang", "clasp", "hip"])))
    ph = phase(rng, frames, fps, 0.25, 0.5)
    p = swing(ph, rng.uniform(1.2, 2.0))
    lead = np.where(np.floor(ph / (2 * np.pi)) % 2 == 0, 1.0, -1.0)  # the stepping leg: +1 right, -1 left
    if rng.random() < 0.3:
        lead[:] = lead[0]
    side_lunge = rng.random() < 1 / 3
    planted = side_lunge and rng.random() < 0.5
    stride = rng.uniform(0.55, 0.9) if not side_lunge else rng.uniform(0.45, 0.7)
    depth = rng.uniform(0.2, 0.45)
    facing = rotation(pose.yaw)
    root0 = pose.root.copy()
    out = np.clip(1.6 * p, 0.0, 1.0)  # the foot is out before the hips are all the way down
    if planted:  # both feet half a stride out all along; the hips go over the bent knee and back
        out = np.full(frames, 0.5)
        shift = np.stack([lead * rng.uniform(0.3, 0.5) * stride * p, -depth * p, rng.uniform(0.0, 0.1) * p], -1)
        pose.pelvis[:, 0] += rng.uniform(15, 35) * D * p
    elif side_lunge:
        shift = np.stack([lead * 0.45 * stride * out, -depth * p, rng.uniform(0.0, 0.1) * p], -1)
        pose.pelvis[:, 0] += rng.uniform(15, 35) * D * p
    else:
        shift = np.stack([np.zeros(frames), -depth * p, -0.45 * stride * out], -1)
        pose.pelvis[:, 0] += rng.uniform(-5, 10) * D * p
    pose.root = root0 + np.einsum("tij,tj->ti", facing, shift)
    pose.head[:, 0] -= rng.uniform(0, 15) * D * p
    feet_at = root0.mean(0) * [1, 0, 1]
    floor_y = shape.leg * (1 - rng.uniform(0.995, 1.0))
    for side, s in SIDES:
        stepping = out if planted else (lead == s).astype(np.float64) * out
        x = s * (shape.hip_half_width + 0.04) + (s * stride * stepping if side_lunge else 0.0)
        z = -stride * stepping if not side_lunge else np.zeros(frames)
        foot = np.stack([np.broadcast_to(x, (frames,)), np.full(frames, floor_y), z - 0.02], -1)
        pose.legs[f"{side}_target"] = feet_at + np.einsum("tij,tj->ti", facing, foot)
        pose.legs[f"{side}_pole"] = np.array([s * 0.2, 0.0, -1.0])
    return pose


def _squat(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    """Squats (:func:`cognn.synth.motions.squat`); in a quarter of the clips the arms are held out in front at
    shoulder height all along, hands together or apart (bodyweight squats as often taught)."""
    pose = squat(rng, frames, fps, shape)
    if rng.random() < 0.25:
        spread = rng.uniform(-8, 12) * D  # below zero: the hands meet
        for side, s in SIDES:
            f = rng.uniform(75, 100) * D + rng.normal(0, 2 * D, frames)
            pose.arms.pop(f"{side}_target", None)
            pose.arms[f"{side}_upper"] = limb_direction(s, np.full(frames, spread), f)
            pose.arms[f"{side}_lower"] = limb_direction(s, np.full(frames, spread - 5 * D), f + rng.uniform(0, 10) * D)
    return pose


def _wave(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    return (wave_left if rng.random() < 0.5 else wave_right)(rng, frames, fps, shape)


def _still(rng: np.random.Generator, frames: int, fps: float = 30.0, shape: BodyShape = _DEFAULT) -> BodyPose:
    return none(rng, frames, fps, shape)


#: standing fitness class -> motion (the floor classes and events: :data:`cognn.synth.floor.FLOOR_MOTIONS`)
EXERCISES: dict[str, Callable[..., BodyPose]] = {
    "squat": _squat, "jumping_jack": jumping_jacks, "high_knees": high_knees, "bicep_curl": bicep_curl,
    "lateral_raise": lateral_raise, "front_raise": front_raise, "wave": _wave, "clap": overhead_clap,
    "walk": walk, "none": _still, "lunge": lunge,
}
#: every class :func:`generate_2d` draws: the standing ones, then those of :mod:`cognn.synth.floor`
GENERATED: tuple[str, ...] = (*EXERCISES, *FLOOR_MOTIONS)

#: NTU-25 joint for each OpenPose-18 joint (eyes and ears: placed from the head, see render_2d)
_OPENPOSE_FROM_NTU = (J["head"], J["spine_shoulder"], J["right_shoulder"], J["right_elbow"], J["right_wrist"],
                      J["left_shoulder"], J["left_elbow"], J["left_wrist"], J["right_hip"], J["right_knee"],
                      J["right_ankle"], J["left_hip"], J["left_knee"], J["left_ankle"])


#: share of the standing clips framed closely (:func:`_frame_closely`): a laptop's camera, a phone propped up near
#: the person; hands raised overhead leave the picture at the top, the legs at the bottom
_TIGHT = 0.2


def _frame_closely(out: np.ndarray, room: float, cut: float) -> None:
    """Zoom the picture ``(T, 3, 18)`` in place (one camera for the clip, x and y alike) so that its top edge lies
    ``room`` (a share of the framed height) above the highest the head goes, and its bottom edge ``cut`` of the way
    from the hips down to the feet (as they are on average), centred on the neck."""
    head = float(out[:, 1, [0, 14, 15, 16, 17]].min())  # y grows downwards
    hips = float(np.median(out[:, 1, [8, 11]]))
    feet = float(np.median(out[:, 1, [10, 13]]))
    bottom = hips + cut * (feet - hips)
    top = head - room * (bottom - head)
    zoom = 1.0 / max(bottom - top, 1e-6)
    centre = float(np.median(out[:, 0, 1]))
    out[:, 0] = (out[:, 0] - centre) * zoom
    out[:, 1] = (out[:, 1] - top) * zoom - 0.5


def render_2d(joints: np.ndarray, rng: np.random.Generator, aim: bool = False) -> np.ndarray:
    """Body-world joints ``(T, 25, 3)`` -> OpenPose-18 ``(T, 3, 18)`` in the image2d plain form (module docstring).

    With ``aim`` the camera tilts toward the middle of the body's extent over the clip (plus 30 % of the drawn tilt),
    as someone filming a person on the floor would; without it, the camera looks about level. ``rng`` is drawn from
    the same way either way, so clips rendered without ``aim`` are unchanged."""
    t = len(joints)
    centre = joints[:, J["spine_base"]].mean(0) * [1, 0, 1]
    yaw = rng.uniform(-80, 80) * D
    body = np.einsum("ij,tvj->tvi", rotation(yaw)[0], joints - centre)
    dist = rng.uniform(2.2, 4.5)
    cam_h = rng.uniform(0.6, 1.6)
    tilt = rng.uniform(-15, 10) * D
    cam = body - np.array([rng.uniform(-0.4, 0.4), cam_h, -dist])  # camera at the origin, z forward
    if aim:  # a positive tilt looks down
        mid = (cam.reshape(-1, 3).min(0) + cam.reshape(-1, 3).max(0)) / 2
        tilt = float(np.arctan2(-mid[1], mid[2])) + 0.3 * tilt
    cam = np.einsum("ij,tvj->tvi", rotation(0.0, tilt)[0], cam)
    aspect = float(rng.choice([16 / 9, 4 / 3, 9 / 16, 1.0]))
    hfov = rng.uniform(50, 75) * D
    fx = 1.0 / (2 * np.tan(hfov / 2))  # picture widths per unit of x/z
    fy = fx * aspect  # picture heights per unit of y/z
    z = np.maximum(cam[..., 2], 0.3)
    x = fx * cam[..., 0] / z
    y = -fy * cam[..., 1] / z
    pts = np.stack([x, y], -1)  # (T, 25, 2)
    out = np.zeros((t, 3, 18), np.float32)
    for j, src in enumerate(_OPENPOSE_FROM_NTU):
        out[:, :2, j] = pts[:, src]
    head, neck = pts[:, J["head"]], pts[:, J["spine_shoulder"]]
    across = pts[:, J["left_shoulder"]] - pts[:, J["right_shoulder"]]
    up = head - neck
    for j, (side, lift) in zip(range(14, 18), ((-0.12, 0.15), (0.12, 0.15), (-0.28, 0.0), (0.28, 0.0))):
        out[:, :2, j] = head + side * across + lift * up
    tight, room, cut = rng.random() < _TIGHT, rng.uniform(0.02, 0.12), rng.uniform(0.15, 1.0)
    if tight and not aim:  # framed close: the top edge just above the head, the bottom between hips and feet
        _frame_closely(out, room, cut)
    out[:, :2] += rng.normal(0, rng.uniform(0.001, 0.005), out[:, :2].shape)
    seen = (np.abs(out[:, 0]) <= 0.5) & (np.abs(out[:, 1]) <= 0.5) & (rng.random((t, 18)) > 0.02)
    out[:, 2] = seen
    out[:, :2] *= seen[:, None]
    return out


def generate_2d_labelled(label: str, rng: np.random.Generator, frames: int, fps: float = 30.0
                         ) -> tuple[np.ndarray, int | None]:
    """One generated clip of class ``label`` as ``(T, 3, 18, 2)`` image2d (one person, slot 1 empty) and, for the
    event classes (:data:`EVENTS`: ``fall``, ``sit_down``, ``stand_up``), the frame the event starts (``None`` for
    the others, which show their class over the whole clip). Before the onset the person stands, walks, sits or
    lies; the event's own movement takes up to about 2 s (getting up from lying up to about 5 s) after it.

    The standing classes (:data:`EXERCISES`) are drawn exactly as :func:`generate_2d` always drew them (same
    ``rng`` draws, same arrays)."""
    if label not in GENERATED:
        raise ValueError(f"no generated motion for {label!r}; generated: {', '.join(GENERATED)}")
    shape = sample_shape(rng)
    if label in EXERCISES:
        joints, onset = forward_kinematics(shape, EXERCISES[label](rng, frames, fps, shape)), None
    else:
        joints, onset = FLOOR_MOTIONS[label](rng, frames, fps, shape)
    out = np.zeros((frames, 3, 18, 2), np.float32)
    out[..., 0] = render_2d(joints, rng, aim=label in FLOOR_MOTIONS)
    return out, onset


def generate_2d(label: str, rng: np.random.Generator, frames: int, fps: float = 30.0) -> np.ndarray:
    """One generated clip of class ``label`` (any of :data:`GENERATED`) as ``(T, 3, 18, 2)`` image2d (one person,
    slot 1 empty); :func:`generate_2d_labelled` also gives an event's onset frame."""
    return generate_2d_labelled(label, rng, frames, fps)[0]
