"""Repetition counting (cognn.live.reps): generated periodic motion with pose-like noise, the attribution of
repetitions to steady labels, the Kinetics-18 image layout, and real workout clips counted by eye (docs/reps.md)."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, load_tool, shared_data

from cognn.layouts import KINETICS18, NTU25
from cognn.live.reps import (
    DEFAULT_SIGNALS,
    SIGNALS,
    RepConfig,
    RepCounter,
    body_signals,
    count_cycles,
    repetitive_classes,
)
from cognn.synth.body import forward_kinematics, sample_shape
from cognn.synth.generate import generate_person
from cognn.synth.motions import idle
from cognn.synth.noise import glitches, jitter, scale_and_depth

FPS = 30.0


def _truth(clean: np.ndarray, signal: str) -> int:
    """Repetitions in clean joints ``(T, 25, 3)``: whole cycles of the signal from below 25 % of its whole range (or
    from between the sides at the start), above 75 % and back below 25 % (for marching every move from one side to
    the other: a knee lift); an independent count: fixed thresholds over the whole clip, no noise."""
    c = np.array([body_signals(f.T, "ntu25", "camera3d", [signal])[0][signal][0] for f in clean])
    halves = SIGNALS[signal].halves
    lo, hi = c.min(), c.max()
    state, n = None, 0
    for v in c:
        new = "up" if v > lo + 0.75 * (hi - lo) else "rest" if v < lo + 0.25 * (hi - lo) else (state or "mid")
        if new == state or (state is None and new == "up" and not halves):
            continue
        n += (state is not None and new != "mid") if halves else (state == "up" and new == "rest")
        state = new
    return n


def _count(joints: np.ndarray, label: str, config: RepConfig = RepConfig()) -> int:
    counter = RepCounter(config)
    for i, f in enumerate(joints):
        counter.update(f.T, i / FPS, label)
    return sum(r.count for r in counter.finish())


@pytest.mark.parametrize("label, noise", [("jumping_jacks", 3.0), ("arm_raise", 3.0), ("squat", 3.0),
                                          ("march", 2.0)])
def test_generated_repetitions_with_pose_noise(label, noise):
    """Generated motion (cognn.synth: varied bodies, tempo, amplitude, facing) seen through MediaPipe-like jitter
    (``noise`` times the typical level, the top of the training range for arms and squats; marching, whose signal
    leaves out the noisy depth, at twice it), a body-size error and single-frame glitches: the counter is within one
    repetition of the clean count on every clip and exact on most."""
    errors = []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        clean = generate_person(label, rng, frames=360, fps=FPS)  # 12 s, floor at y = 0
        noisy = glitches(jitter(scale_and_depth(clean, rng), rng, noise), rng, 0.01)
        truth = _truth(clean, DEFAULT_SIGNALS[label])
        assert truth >= 3
        errors.append(_count(noisy, label) - truth)
    assert max(abs(e) for e in errors) <= 1, errors
    assert sum(e == 0 for e in errors) >= 6, errors


def test_standing_still_counts_nothing():
    """A person standing (breathing, sway, arm drift) with strong jitter never completes a repetition."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        shape = sample_shape(rng)
        still = jitter(forward_kinematics(shape, idle(rng, 600, FPS, shape)), rng, 3.0)
        for label in DEFAULT_SIGNALS:
            assert _count(still, label) == 0, label


def test_sine_signal_hysteresis():
    """A plain periodic signal with noise: 8 cycles -> 8 repetitions; a tiny one under ``min_range`` -> none; a
    noise spike of one frame does not count (median filter)."""
    t = np.arange(0, 8.0, 1 / FPS)
    rng = np.random.default_rng(1)
    wave = -np.cos(2 * np.pi * t) + rng.normal(0, 0.08, t.size)  # rest low, 1 Hz
    assert len(count_cycles(wave, t)) == 8
    assert count_cycles(0.1 * wave, t) == []
    flat = np.full(t.size, -1.0)
    flat[100] = 2.0
    assert count_cycles(flat, t) == []


def _jacks(seed: int = 3, frames: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = generate_person("jumping_jacks", rng, frames=frames, fps=FPS)
    return jitter(clean, rng, 1.0)


def test_lookback_and_runs():
    """Repetitions done before the label names the action count (within ``lookback``), never twice; a moment of
    another label continues the run; a switch to a class of the same signal continues the count; a different signal
    starts a new run; totals and runs add up."""
    joints = _jacks()
    truth = _truth(joints, "arms")
    times = np.arange(len(joints)) / FPS

    def feed(labels: list[str]) -> RepCounter:
        c = RepCounter(RepConfig(lookback=4.0, merge_gap=1.0))
        for f, t, lab in zip(joints, times, labels):
            c.update(f.T, t, lab)
        c.finish()
        return c

    late = ["none"] * 90 + ["jumping_jacks"] * (len(joints) - 90)  # named after 3 s, as the model does
    c = feed(late)
    assert len(c.runs) == 1 and abs(c.runs[0].count - truth) <= 1
    assert c.runs[0].times[0] < 3.0  # a repetition from before the label
    blip = list(late)
    blip[150:160] = ["uncertain"] * 10  # 0.33 s of "uncertain": the same run
    c2 = feed(blip)
    assert len(c2.runs) == 1 and c2.runs[0].count == c.runs[0].count
    relabel = ["none"] * 90 + ["arm_raise"] * 60 + ["jumping_jacks"] * (len(joints) - 150)
    c3 = feed(relabel)
    assert len(c3.runs) == 1 and c3.runs[0].label == "jumping_jacks" and c3.runs[0].count == c.runs[0].count
    assert c3.totals == {"jumping_jacks": c.runs[0].count}
    split = ["jumping_jacks"] * 150 + ["none"] * 60 + ["jumping_jacks"] * (len(joints) - 210)
    c4 = feed(split)  # 2 s of "none": two runs; the second's lookback does not take the first's repetitions
    assert len(c4.runs) == 2
    assert sum(r.count for r in c4.runs) <= truth
    assert c4.totals["jumping_jacks"] == sum(r.count for r in c4.runs)
    other = ["jumping_jacks"] * 150 + ["squat"] * (len(joints) - 150)
    c5 = feed(other)
    assert [r.label for r in c5.runs] == ["jumping_jacks", "squat"]
    assert c5.runs[1].count == 0  # the arms moved, not the hips


def test_state_per_frame_and_reset():
    joints = _jacks(frames=240)
    c = RepCounter()
    states = [c.update(f.T, i / FPS, "jumping_jacks") for i, f in enumerate(joints)]
    assert states[-1].label == "jumping_jacks" and states[-1].count == sum(s.new for s in states) > 0
    assert states[-1].totals == {"jumping_jacks": states[-1].count}
    assert any(s.level is not None and 0 <= s.level <= 1 for s in states)
    assert c.update(None, 8.1, "none").label is None  # nobody seen: nothing counted, the run pauses
    c.reset()
    assert c.update(joints[0].T, 0.0, "jumping_jacks").count == 0 and c.runs == []


def test_kinetics18_image_layout():
    """The same motion as Kinetics-18 image coordinates (y down, a score channel, missing joints zero) counts the
    same as the NTU-25 metres it came from."""
    joints = _jacks(seed=5)
    names = {"nose": "head", "neck": "spine_shoulder", "right_eye": "head", "left_eye": "head", "right_ear": "head",
             "left_ear": "head"}
    idx = [NTU25.joint_names.index(names.get(n, n)) for n in KINETICS18.joint_names]
    img = np.zeros((len(joints), 3, 18), np.float32)
    img[:, 0] = -joints[:, idx, 0] / 5.0  # x to the right of the image
    img[:, 1] = -(joints[:, idx, 1] - 1.0) / 5.0  # y down
    img[:, 2] = 0.9
    img[::7, :, 0] = 0.0  # now and then the nose is not found
    counter = RepCounter(layout="kinetics18", domain="image2d")
    for i, f in enumerate(img):
        counter.update(f, i / FPS, "jumping_jacks")
    assert sum(r.count for r in counter.finish()) == _count(joints, "jumping_jacks")


def test_a_side_view_hiding_one_wrist_still_counts():
    """A pair of joints with one side out of view (the far wrist of a push-up filmed from the side) gives its signal
    from the side in view, so a repetition's low point is not lost; with both sides gone the signal is missing."""
    joints = _jacks(seed=5)
    names = {"nose": "head", "neck": "spine_shoulder", "right_eye": "head", "left_eye": "head", "right_ear": "head",
             "left_ear": "head"}
    idx = [NTU25.joint_names.index(names.get(n, n)) for n in KINETICS18.joint_names]
    img = np.zeros((len(joints), 3, 18), np.float32)
    img[:, 0] = -joints[:, idx, 0] / 5.0
    img[:, 1] = -(joints[:, idx, 1] - 1.0) / 5.0
    img[:, 2] = 0.9
    left_wrist, right_wrist = KINETICS18.joint_names.index("left_wrist"), KINETICS18.joint_names.index("right_wrist")
    up = img[:, 1, left_wrist] < np.median(img[:, 1, left_wrist])  # the far wrist hidden whenever the arms are up
    img[up, :, left_wrist] = 0.0
    values = np.array([body_signals(f, "kinetics18", "image2d", ["arms"])[0]["arms"][0] for f in img])
    assert np.isfinite(values).all()
    counter = RepCounter(layout="kinetics18", domain="image2d")
    for i, f in enumerate(img):
        counter.update(f, i / FPS, "jumping_jacks")
    assert sum(r.count for r in counter.finish()) == _count(joints, "jumping_jacks")
    both = img[0].copy()
    both[:, [left_wrist, right_wrist]] = 0.0
    assert np.isnan(body_signals(both, "kinetics18", "image2d", ["arms"])[0]["arms"][0])


def test_repetitive_classes_from_metadata():
    classes = ["none", "wave_left", "jumping_jacks", "squat", "arm_raise", "march"]
    assert repetitive_classes({}, classes) == {"jumping_jacks": "arms", "squat": "squat", "arm_raise": "arms",
                                               "march": "knees"}
    assert repetitive_classes({"repetitive": ["squat"]}, classes) == {"squat": "squat"}
    assert repetitive_classes({"alarms": {"repetitive": {"pushup": "arms"}}}) == {"pushup": "arms"}
    with pytest.raises(ValueError, match="'pushup'"):
        repetitive_classes({"repetitive": ["pushup"]})
    with pytest.raises(ValueError, match="exit < enter"):
        RepConfig(enter=0.3, exit=0.6)


# -- real clips, counted by eye (docs/reps.md) -------------------------------------------------------------------------

def _tool():
    return load_tool("measure_reps")


@pytest.mark.parametrize("clip", ["fanchiang_3-2.mp4", "fanchiang_2-1.mp4"])
def test_real_workout_clips_against_counts_by_eye(clip, one_thread):
    """The live path (MediaPipe pose, smoothing, resampling to 30 fps, the bundled gesture model's steady labels,
    ready predictions only) counts the jumping jacks of both workout clips within one of the count made by eye
    (5 and 11); pose is cached in .cache/reps (the first run takes about a minute)."""
    path = shared_data("video", clip)
    weights = REPO / "weights" / "gestures_costgcn_mod.safetensors"
    if not weights.exists():
        pytest.skip(f"{weights} is not there (the bundled gesture model)")
    tool = _tool()
    cls, by_eye = tool.BY_EYE[clip]
    frames = tool.pose_frames(path)
    session = tool.make_session(weights)
    result = tool.run_clip(session, frames, clip)
    assert abs(result.count((cls,)) - by_eye) <= 1, [r.to_dict() for r in result.runs]
    assert all(r.label == cls for r in result.runs)


@pytest.mark.parametrize("clip, crop", [("fanchiang_3-2.mp4", None), ("fanchiang_2-1.mp4", None),
                                        ("fanchiang_3-2.mp4", "top"), ("fanchiang_2-1.mp4", "top")])
def test_session_counts_the_workout_clips_as_counted_by_eye(clip, crop, one_thread):
    """The live session as cognn-infer and the app run it (the bundled gesture model with the live defaults of its
    metadata: alarm policy, repetitive classes, body parts in view) counts the jumping jacks of both workout clips
    within one of the count made by eye (5 and 11), whole and cropped to the top half of the picture: the count
    shown above the person ("jumping_jacks ×N") at its highest, and the repetitions of the events together."""
    weights = REPO / "weights" / "gestures_costgcn_mod.safetensors"
    if not weights.exists():
        pytest.skip(f"{weights} is not there (the bundled gesture model)")
    from cognn.live.session import Session

    tool = _tool()
    cls, by_eye = tool.BY_EYE[clip]
    path = shared_data("video", clip)
    cache = load_tool("live_cache")
    frames = cache.pose_frames(path, crop=crop)
    session = Session.from_weights(weights)
    session.start(clip, canvas_size=cache.frame_size(path, crop=crop))
    steps = [session.step(f) for f in frames]
    events = session.finish()
    shown = [v.reps for s in steps for v in s.persons if v.reps is not None and v.shown_label == cls]
    assert shown and abs(max(shown) - by_eye) <= 1, max(shown)
    assert {e.label for e in events} == {cls}
    assert abs(sum(e.reps for e in events) - by_eye) <= 1, [e.to_dict() for e in events]
    assert any(v.text() == f"{cls} ×{max(shown)}" for s in steps for v in s.persons)
