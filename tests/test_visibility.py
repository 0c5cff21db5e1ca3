"""Partial bodies (cognn.live.visibility): joints in view, reliably visible parts over a second, the per-checkpoint
requirement, the message to the user; real clips cropped to the upper body."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, load_tool, shared_data

from cognn.layouts import KINETICS18, NTU25
from cognn.live.visibility import (
    FULL_BODY,
    BodyRequirement,
    VisibilityConfig,
    VisibilityMonitor,
    joints_seen,
    part_joints,
    requirement_from_meta,
)

#: what a checkpoint trained with legs out of the picture declares (the bundled gesture model's training data:
#: cognn.synth hides the legs in a quarter of the clips); squats and marching are told by the legs
UPPER_BODY_META = {"body": {"needs": ["head", "shoulders", "arms"], "classes": {"squat": ["legs"],
                                                                              "march": ["legs"]}}}
LEGS = [NTU25.joint_names.index(n) for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")]


def test_joints_seen_in_the_picture_and_by_score():
    px = np.full((25, 2), 50.0)
    px[LEGS, 1] = 130.0  # below a 100-pixel-high picture
    px[0] = np.nan
    seen = joints_seen(px, (200, 100))
    assert not seen[LEGS].any() and not seen[0] and seen[3]
    assert not joints_seen(px, (200, 100), margin=0.3)[3]  # 50 px is outside the middle 40 %
    skel = np.ones((3, 18), np.float32)
    skel[2, 10] = 0.2  # a low score in image2d
    assert list(np.flatnonzero(~joints_seen(np.full((18, 2), 5.0), (10, 10), skeleton=skel, domain="image2d"))) == [10]
    assert joints_seen(None, (10, 10), skeleton=skel, domain="image2d").sum() == 17
    zero = np.ones((3, 25), np.float32)
    zero[:, LEGS] = 0
    assert not joints_seen(None, (0, 0), skeleton=zero, domain="camera3d")[LEGS].any()


def test_monitor_needs_a_second_and_tells_what_is_missing():
    mon = VisibilityMonitor(FULL_BODY, "ntu25", config=VisibilityConfig(window=1.0))
    seen = np.ones(25, bool)
    seen[LEGS] = False
    views = [mon.update(seen, i / 30) for i in range(40)]
    assert views[5].settled is False and views[5].message is None and views[5].can_run
    last = views[-1]
    assert last.settled and not last.parts["legs"] and last.parts["arms"]
    assert last.missing == ("legs",) and not last.can_run and last.message == "step back: legs not visible"
    glimpses = [mon.update(np.ones(25, bool) if i % 3 == 0 else seen, 2 + i / 30) for i in range(30)]
    assert not glimpses[-1].parts["legs"]  # legs seen on a third of the frames: not reliably visible
    assert mon.update(np.zeros(25, bool), 3.5).parts["legs"] is False
    mon.reset()
    assert mon.update(np.zeros(25, bool), 10.0).message is None  # not settled yet
    nobody = [mon.update(np.zeros(25, bool), 10 + i / 30) for i in range(40)][-1]
    assert nobody.message == "nobody in view"


def test_requirements_per_checkpoint_and_class():
    req = requirement_from_meta(UPPER_BODY_META, "ntu25")
    assert req.needs == ("head", "shoulders", "arms") and req.for_label("squat")[-1] == "legs"
    assert requirement_from_meta({}, "ntu25") == BodyRequirement(tuple(part_joints("ntu25")))
    assert "hands" not in requirement_from_meta({}, "kinetics18").needs  # Kinetics-18 has no hand joints
    assert requirement_from_meta({"body": {"needs": ["hands"]}}, "kinetics18").needs == ()
    with pytest.raises(ValueError, match="unknown body part"):
        requirement_from_meta({"body": {"needs": ["tail"]}})
    mon = VisibilityMonitor(req, "ntu25")
    seen = np.ones(25, bool)
    seen[LEGS] = False
    view = [mon.update(seen, i / 30, label="squat") for i in range(40)][-1]
    assert view.can_run and view.allows("jumping_jacks") and not view.allows("squat")
    assert view.message == "step back: legs not visible (needed for squat)"
    assert [mon.update(seen, 2 + i / 30, label="wave_left") for i in range(3)][-1].message is None
    k18 = VisibilityMonitor(requirement_from_meta({}, "kinetics18"), "kinetics18")
    assert len(k18.update(np.ones(len(KINETICS18.joint_names), bool), 0.0).visible) == 18


# -- real clips cropped to the upper body ------------------------------------------------------------------------------

def _cache():
    return load_tool("live_cache")


def _views(frames, size, req, label=None, domain="camera3d"):
    """The monitor's views after the first second (when it has a whole window)."""
    mon = VisibilityMonitor(req, "ntu25", domain=domain)
    views = [mon.update_frame(f, 0, size=size, label=label) for f in frames]
    return [v for v, f in zip(views, frames) if f.timestamp >= 1.0]


def test_real_clip_cropped_to_the_upper_body(one_thread):
    """A real workout clip with every picture cropped to its top half (written as an mp4v video, then the live pose
    path; cached in .cache/reps): the legs are reported out of view, a full-body model is told it cannot run and the
    user to step back; a model declaring the upper body runs, but not its leg classes. The uncropped clip: nothing
    missing. The bundled gesture model (trained with legs out of the picture) still counts the 5 jumping jacks on the
    cropped clip."""
    cache = _cache()
    path = shared_data("video", "fanchiang_3-2.mp4")
    cropped = cache.pose_frames(path, crop="top")
    size = cache.frame_size(path, crop="top")
    assert size == (1920, 540) and len(cropped) == 301
    full_req, upper = FULL_BODY, requirement_from_meta(UPPER_BODY_META)
    v_full = _views(cropped, size, full_req)
    assert np.mean([not v.parts["legs"] for v in v_full]) >= 0.95
    assert np.mean([(not v.can_run) and v.message == "step back: legs not visible" for v in v_full]) >= 0.95
    assert np.mean([v.parts["head"] and v.parts["shoulders"] for v in v_full]) >= 0.95
    v_up = _views(cropped, size, upper, label="squat")
    assert np.mean([v.can_run and v.allows("jumping_jacks") and not v.allows("squat") for v in v_up]) >= 0.95
    assert np.mean([v.message == "step back: legs not visible (needed for squat)" for v in v_up]) >= 0.95
    whole = cache.pose_frames(path)
    v_whole = _views(whole, cache.frame_size(path), full_req)
    assert np.mean([v.can_run and v.message is None for v in v_whole]) >= 0.95

    weights = REPO / "weights" / "gestures_costgcn_mod.safetensors"
    if not weights.exists():
        pytest.skip(f"{weights} is not there (the bundled gesture model)")
    tool = load_tool("measure_reps")
    result = tool.run_clip(tool.make_session(weights), cropped, path.name)
    assert [(r.label, r.count) for r in result.runs] == [("jumping_jacks", 5)]


def test_real_upper_body_clip():
    """Archery filmed from the waist up (no cropping): MediaPipe folds the legs it cannot see into the picture, so
    the picture test alone takes them for visible; its visibility score (the score channel of an image2d skeleton,
    cached in .cache/reps) does not: legs out of view, the upper body in, "step back"."""
    cache = _cache()
    path = shared_data("video", "paddlevideo_example.avi")
    size = cache.frame_size(path)
    camera = _views(cache.pose_frames(path), size, FULL_BODY)
    assert np.mean([v.parts["legs"] for v in camera]) >= 0.5  # the limitation of the picture test
    frames = cache.pose_frames(path, domain="image2d")
    views = _views(frames, size, FULL_BODY, domain="image2d")
    assert np.mean([not v.parts["legs"] and v.parts["shoulders"] and v.parts["arms"] for v in views]) >= 0.9
    assert np.mean([v.message is not None and v.message.startswith("step back") for v in views]) >= 0.9
    seen = [joints_seen(None, size, visibility=f.skeleton[2, :, 0]) for f in frames]  # the score alone
    assert np.mean([s[LEGS].mean() < 0.5 for s in seen]) >= 0.7  # frame by frame; the window steadies it


def test_session_on_a_clip_cropped_to_the_upper_body(one_thread):
    """The live session on the workout clip cropped to its top half: with the gesture model's own declaration
    (trained with the legs out of the picture) nothing is withheld and no message shown; with a full-body
    requirement (what a checkpoint without a declaration gets) the user is told to step back, the record says so,
    and no class is shown or becomes an event: "uncertain" instead of garbage."""
    weights = REPO / "weights" / "gestures_costgcn_mod.safetensors"
    if not weights.exists():
        pytest.skip(f"{weights} is not there (the bundled gesture model)")
    from cognn.live.records import make_records
    from cognn.live.session import LiveConfig, Session

    cache = _cache()
    path = shared_data("video", "fanchiang_3-2.mp4")
    frames, size = cache.pose_frames(path, crop="top"), cache.frame_size(path, crop="top")
    results = {}
    for name, body in (("own", None), ("full", FULL_BODY)):
        session = Session.from_weights(weights, config=LiveConfig(body=body))
        session.start(path.name, canvas_size=size)
        steps = [session.step(f) for f in frames]
        results[name] = (steps, session.finish())
    steps, events = results["own"]
    assert [e.label for e in events] == ["jumping_jacks"]
    assert all(v.message is None for s in steps for v in s.persons)
    steps, events = results["full"]
    later = [v for s in steps if s.frame.timestamp >= 1.0 for v in s.persons]
    assert np.mean([v.message == "step back: legs not visible" for v in later]) >= 0.95
    assert events == [] and not any(v.shown_label == "jumping_jacks" for v in later)
    withheld = [v for v in later if v.label.label == "jumping_jacks"]
    sure = [v for v in withheld if v.shown.reason != "below threshold"]  # confident: the alarm policy lets it by
    assert sure and all("legs" in v.shown.reason for v in sure)  # "hips, legs, feet not visible"
    rec = make_records(steps[-1], path.name, "m", True)[0]
    assert rec["body"] == "step back: legs not visible" and rec["label"] != "jumping_jacks"
