"""The live session on real files (an NTU file, a real video, recordings), the app's workers without the window, and
recordings made by the app and by cognn-infer read by each other."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from helpers import REPO, load_tool, randomise, shared_data

from cognn.data.store import RecordingWriter, load_recording
from cognn.live.events import Event, events_of_recording, recorded
from cognn.live.session import LiveConfig, Session
from cognn.online import OnlineRecognizer
from cognn.pose import PoseOptions

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

CLIP = 84
CLASSES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
NTU = ("ntu", "skeletons", "S001C001P001R001A050.skeleton")  # two people, 74 frames
VIDEO = ("video", "S001C001P001R001A001_rgb.avi")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    from cognn.checkpoints import save_checkpoint
    from cognn.models import build

    torch.manual_seed(0)
    model = randomise(build("costgcn_mod", num_classes=len(CLASSES), clip_frames=CLIP), seed=5, calibrate_frames=CLIP)
    path = tmp_path_factory.mktemp("weights") / "session_costgcn_mod.safetensors"
    return str(save_checkpoint(path, model, {"classes": CLASSES, "data": "random test weights"}))


def _session(weights: str, **config) -> Session:
    return Session.from_weights(weights, config=LiveConfig(**config))


def test_session_on_an_ntu_file_matches_the_recognizer_stepped_by_hand(weights):
    with _session(weights) as session:
        src = session.open(shared_data(*NTU))
        steps = list(session.run(src))
        events = session.finish()
        src.close()
    assert len(steps) == 74 and all(s.model_frames == 1 for s in steps)  # NTU is 30 fps: one model frame each
    assert all(s.latency_ms is not None and s.latency_ms >= 0 for s in steps)
    assert any(s.frame.persons == 2 for s in steps)
    # the same frames through the model step alone give the same probabilities
    rec = OnlineRecognizer.from_weights(weights)
    from cognn.sources import open_source

    with open_source(shared_data(*NTU)) as again:
        for step, frame in zip(steps, again):
            p = rec.step(frame.skeleton, frame.timestamp, index=frame.index)
            np.testing.assert_allclose(step.prediction.probs, p.probs, atol=1e-6)
            assert step.prediction.ready == p.ready
    assert all(e.source.endswith("S001C001P001R001A050.skeleton") for e in events)
    assert all(isinstance(e, Event) for e in events)


def test_session_on_a_real_video_overlaps_pose_and_the_model(weights):
    """Reading ahead (pose of the next frame while the model steps this one) changes nothing but the speed."""
    config = {"pose": PoseOptions(max_side=480)}
    results = []
    for prefetch in (0, 2):
        with _session(weights, **config) as session:
            src = session.open(shared_data(*VIDEO))
            steps = list(session.run(src, max_frames=12, prefetch=prefetch))
            src.close()
        results.append(steps)
    plain, ahead = results
    assert len(plain) == len(ahead) == 12
    for a, b in zip(plain, ahead):
        assert a.frame.index == b.frame.index and a.frame.pose_ms > 0 and b.latency_ms >= b.frame.pose_ms
        np.testing.assert_allclose(a.frame.skeleton, b.frame.skeleton, atol=1e-5)
        np.testing.assert_allclose(a.prediction.probs, b.prediction.probs, atol=1e-5)
    picture = ahead[-1]
    assert picture.image is not None and picture.draw_px.shape == (2, 25, 2)


def test_session_records_skeletons_events_and_video_in_one_format(weights, tmp_path):
    h5, mp4 = tmp_path / "s.h5", tmp_path / "s.mp4"
    with _session(weights) as session:
        src = session.open(shared_data(*NTU))
        session.start(src)
        session.start_recording(h5, mp4, fps=src.fps)
        assert not h5.exists()  # files appear whole when the recording ends
        steps = list(session.steps(src))
        session.finish()
        written = session.stop_recording()
        src.close()
    assert written == [h5, mp4]
    rec = load_recording(h5)
    assert rec.num_frames == len(steps) == 74 and rec.source == "S001C001P001R001A050.skeleton"
    np.testing.assert_array_equal(rec.skeleton, np.stack([s.frame.skeleton for s in steps]))
    assert [e.to_dict() for e in events_of_recording(rec.events)] == \
        [e.to_dict() for e in sorted(session.events, key=lambda e: (e.start, e.person))]
    import cv2

    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 74
    cap.release()
    assert not list(tmp_path.glob(".*partial*"))


def test_recordings_of_earlier_versions_still_open(weights, tmp_path):
    """cognn-infer wrote events without "kind"; the app added "top1" rows: both read, the actions kept."""
    skel = load_recording_from_ntu()
    old = tmp_path / "old.h5"
    action = Event("alpha", 0.1, 1.2, 3, 36, 0.8, 0, "x.skeleton")
    with RecordingWriter(old, "ntu25", "camera3d", source="x.skeleton", fps=30.0) as w:
        for i, x in enumerate(skel[:20]):
            w.append(x, i / 30.0)
        w.add_event({"kind": "top1", "t": 0.0, "frame": 0, "label": "alpha", "p": 0.5, "ready": False})
        w.add_event(action.to_dict())
        w.add_event(recorded(action))
    rec = load_recording(old)
    assert events_of_recording(rec.events) == [action, action]
    with _session(weights) as session, session.open(old) as src:
        assert len(list(session.run(src))) == 20


def load_recording_from_ntu() -> np.ndarray:
    from cognn.sources import open_source

    with open_source(shared_data(*NTU)) as src:
        return np.stack([f.skeleton for f in src])


# ---------------------------------------------------------------------------------------------------------------------
# the app's workers without the window, and recordings across the app and cognn-infer

def _app_workers(qtbot, weights):
    from cognn_app.capture import CaptureWorker
    from cognn_app.messages import ModelRequest
    from cognn_app.queue import FrameQueue, start_worker
    from cognn_app.stepper import ModelWorker

    queue = FrameQueue(2)
    capture, model = CaptureWorker(queue), ModelWorker(queue, ModelRequest(weights=weights, top_k=3))
    results = []
    model.result.connect(results.append)
    model.model_changed.connect(lambda info: capture.set_session(info.session))
    with qtbot.waitSignal(model.model_changed, timeout=60_000):
        threads = [start_worker(capture, "cognn-capture"), start_worker(model, "cognn-model")]
    return capture, model, threads, results


def _stop(workers, threads):
    from cognn_app.queue import stop_worker

    for w, t in zip(workers, threads):
        assert stop_worker(w, t, 15_000)


def test_app_workers_record_what_cognn_infer_replays(qtbot, weights, tmp_path, capsys):
    pytest.importorskip("PyQt6")
    from cognn_app.messages import SourceRequest

    from cognn.cli.infer import main

    capture, model, threads, results = _app_workers(qtbot, weights)
    try:
        h5 = tmp_path / "app.h5"
        with qtbot.waitSignal(model.recording_changed, timeout=30_000):
            model.start_recording(str(h5), None)
        capture.set_speed(0.0)
        capture.open_source(SourceRequest(str(shared_data(*NTU))))
        qtbot.waitUntil(lambda: len(results) >= 74, timeout=60_000)
        with qtbot.waitSignal(model.recording_changed, timeout=30_000) as saved:
            model.stop_recording()
        assert saved.args[0] is False and str(h5) in saved.args[1]
    finally:
        _stop((capture, model), threads)
    app_top = [[label for label, _ in r.prediction.top] for r in results[:74]]
    # cognn-infer replays the app's recording with the same model: the same predictions frame by frame
    assert main([str(h5), "--weights", weights, "--top-k", "3", "-q"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [[t["label"] for t in r["top"]] for r in records] == app_top


def test_app_workers_replay_what_cognn_infer_recorded(qtbot, weights, tmp_path, capsys):
    from cognn_app.messages import SourceRequest

    from cognn.cli.infer import main

    h5 = tmp_path / "cli.h5"
    assert main([str(shared_data(*NTU)), "--weights", weights, "--top-k", "3", "--save-skeletons", str(h5)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    capture, model, threads, results = _app_workers(qtbot, weights)
    try:
        capture.set_speed(0.0)
        capture.open_source(SourceRequest(str(h5)))
        qtbot.waitUntil(lambda: len(results) >= len(records), timeout=60_000)
    finally:
        _stop((capture, model), threads)
    assert [[label for label, _ in r.prediction.top] for r in results] == [[t["label"] for t in r["top"]]
                                                                            for r in records]
    assert all(r.step.latency_ms is not None for r in results)


def test_untrained_default_is_loud(tmp_path):
    """A session without trained weights says so in its description and every prediction."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = Session.from_weights(model="coagcn_mod", layout="ntu25")
    if session.recognizer.has_weights:
        pytest.skip("a trained coagcn_mod ships")
    assert "UNTRAINED" in session.description


# ---------------------------------------------------------------------------------------------------------------------
# round two: false alarms, repetitions, partial bodies and stream gaps, wired into the session (the bundled gesture
# model with its live defaults; real clips through the live pose path, cached by tools/live_cache.py)

GESTURES = REPO / "weights" / "gestures_costgcn_mod.safetensors"


def _live_cache():
    return load_tool("live_cache")


def _clip(name: str, crop: str | None = None):
    """(frames, picture size) of a real clip through the live pose path."""
    cache = _live_cache()
    path = shared_data("video", name)
    return cache.pose_frames(path, crop=crop), cache.frame_size(path, crop=crop)


def _gestures(**config) -> Session:
    if not GESTURES.exists():
        pytest.skip(f"{GESTURES} is not there (the bundled gesture model)")
    return Session.from_weights(GESTURES, config=LiveConfig(**config))


def _through(session: Session, frames, size, name="clip"):
    session.start(name, canvas_size=size)
    steps = [session.step(f) for f in frames]
    return steps, session.finish()


def test_gesture_checkpoint_ships_its_live_defaults():
    """The bundled gesture model's metadata (field ``live``) holds the measured alarm policy, its repetitive classes
    and the body parts it needs; the session takes them; the manifest's sha256 matches the rewritten file."""
    from cognn.checkpoints import read_checkpoint
    from cognn.live.alarms import DEFAULT_ALARMS
    from cognn.weights import load_manifest, verify_sha256

    session = _gestures()
    live = read_checkpoint(GESTURES).meta["live"]
    assert live["alarms"]["default_threshold"] == DEFAULT_ALARMS.default_threshold == 0.9
    assert session.alarm_policy.default_threshold == 0.9
    assert set(session.repetitive) == {"jumping_jacks", "squat", "arm_raise", "march"}
    assert session.body_requirement.needs == ("head", "shoulders", "arms")
    assert session.body_requirement.for_label("squat")[-1] == "legs"
    assert "classes shown at >= 0.9" in session.description
    entry = next(e for e in load_manifest() if e.path.name == GESTURES.name)
    assert verify_sha256(entry)


def test_false_alarms_become_uncertain_and_make_no_event():
    """Tai chi (an action the gesture model does not know): its steady labels say wave_right with confidence; with
    the checkpoint's policy the session shows "uncertain" instead and makes no event; without a policy the false
    alarm is shown and becomes an event. An allow-list withholds a class the model is sure of."""
    from cognn.live.alarms import NO_ALARMS
    from cognn.live.records import make_records

    frames, size = _clip("ta_chi.mp4")
    steps, events = _through(_gestures(), frames, size, "ta_chi.mp4")
    views = [v for s in steps for v in s.persons if v.ready]
    steady = {v.label.label for v in views}
    assert steady & {"wave_right", "wave_left"}, steady  # the model's false alarm is there...
    wrong = sum(v.shown_label not in ("none", "uncertain") for v in views)
    assert events == [] and wrong < 0.5 * 30  # ...not an event, shown for less than the half second an event takes
    withheld = next(v for v in views if v.label.label == "wave_right")
    assert withheld.shown.reason == "below threshold" and withheld.text() == "uncertain"
    rec = next(r for s in steps for r in make_records(s, "ta_chi.mp4", "m", True) if r["steady"] == "wave_right")
    assert rec["label"] == "uncertain" and rec["reps"] is None and rec["gap"] is None and rec["reset"] is False
    raw_steps, raw_events = _through(_gestures(alarms=NO_ALARMS), frames, size, "ta_chi.mp4")
    assert {e.label for e in raw_events} & {"wave_right", "wave_left"}
    raw_wrong = sum(v.shown_label not in ("none", "uncertain") for s in raw_steps for v in s.persons if v.ready)
    assert raw_wrong >= 5 * max(wrong, 1)  # 102 frames vs 13 when measured
    jj, jj_size = _clip("fanchiang_3-2.mp4")
    steps, events = _through(_gestures(allow=("squat", "march")), jj, jj_size)
    assert events == [] and not any(v.shown_label == "jumping_jacks" for s in steps for v in s.persons)
    assert any(v.shown is not None and v.shown.reason == "not allowed" for s in steps for v in s.persons)
    with pytest.raises(ValueError, match="does not have: kick"):
        _gestures(allow=("kick",))


def test_repetitions_shown_above_the_person_and_in_events_and_records(tmp_path):
    """The workout clip (5 jumping jacks counted by eye): the label above her reads "jumping_jacks ×N" up to ×5, the
    event carries reps 5, and so do its record fields, the events file and the recording."""
    from cognn.live.events import read_events
    from cognn.live.records import RecordWriter, make_records

    frames, size = _clip("fanchiang_3-2.mp4")
    session = _gestures()
    session.start("fanchiang_3-2.mp4", canvas_size=size)
    session.start_recording(tmp_path / "jj.h5", fps=30.0)
    steps = [session.step(f) for f in frames]
    events = session.finish()
    session.stop_recording()
    texts = [v.text() for s in steps for v in s.persons]
    assert "jumping_jacks ×5" in texts and not any("×6" in t for t in texts)
    counts = [v.reps for s in steps for v in s.persons if v.reps is not None]
    assert counts == sorted(counts) and counts[-1] == 5  # the count only goes up
    assert [(e.label, e.reps) for e in events] == [("jumping_jacks", 5)]
    recs = [r for s in steps for r in make_records(s, "jj", "m", True)]
    assert max(r["reps"] or 0 for r in recs) == 5 and all(r["label"] == r["steady"] or r["label"] == "uncertain"
                                                           for r in recs)
    for fmt in ("jsonl", "csv"):
        path = session.write_events(tmp_path / f"ev.{fmt}")
        assert [(e.label, e.reps) for e in read_events(path)] == [("jumping_jacks", 5)]
    import io

    buf = io.StringIO()
    writer = RecordWriter(buf, "csv", 2)
    for r in recs:
        writer.write(r)
    header = buf.getvalue().splitlines()[0].split(",")
    assert header[-6:] == ["steady", "reps", "body", "gap", "reset", "hold_s"] and header[13] == "top1_label"
    assert [(e.label, e.reps) for e in events_of_recording(load_recording(tmp_path / "jj.h5").events)] == \
        [("jumping_jacks", 5)]


def _with_gap(frames, at: int, seconds: float):
    """The frames as a live stream that was lost before frame ``at`` for ``seconds``: StreamFrames, the later ones
    shifted by the gap, the first after it reporting it."""
    from dataclasses import fields

    from cognn.sources.stream import StreamFrame

    names = [f.name for f in fields(frames[0])]
    out = []
    for f in frames:
        d = {n: getattr(f, n) for n in names}
        if f.index >= at:
            d["timestamp"] = f.timestamp + seconds
        out.append(StreamFrame(**d, gap=seconds if f.index == at else None))
    return out


def test_a_long_gap_closes_the_events_and_restarts_the_model(tmp_path):
    """A stream lost for 2 s at 4 s into the workout clip: the jumping-jacks event going on ends at the last frame
    before the loss and is kept (with its repetitions), the model starts over (warming up again), the steps and the
    recording mark the gap; a gap under ``gap_reset`` is bridged (the model stays ready). Nothing closed before is
    lost."""
    frames, size = _clip("fanchiang_3-2.mp4")
    at = next(f.index for f in frames if f.timestamp >= 4.0)
    gapped = _with_gap(frames, at, 2.0)
    session = _gestures()
    session.start("stream", canvas_size=size)
    session.start_recording(tmp_path / "gap.h5", fps=30.0)
    steps = [session.step(f) for f in gapped]
    events = session.finish()
    session.stop_recording()
    marked = [s for s in steps if s.gap is not None]
    assert [(s.frame.index, s.gap, s.reset) for s in marked] == [(at, 2.0, True)]
    assert steps[at - 1].persons[0].ready and not steps[at].persons[0].ready  # warming up again
    closed = steps[at].events
    assert [e.label for e in closed] == ["jumping_jacks"] and closed[0].end <= frames[at - 1].timestamp + 1e-6
    assert closed[0].reps >= 1 and closed[0] in events
    gaps = [e for e in load_recording(tmp_path / "gap.h5").events if e.get("kind") == "gap"]
    assert len(gaps) == 1 and gaps[0]["frame"] == at and gaps[0]["reset"] is True and gaps[0]["seconds"] == 2.0
    short = _gestures(gap_reset=3.0)
    steps, _ = _through(short, gapped, size, "stream")
    assert steps[at].gap == 2.0 and not steps[at].reset and steps[at].persons[0].ready
    with pytest.raises(ValueError, match="gap_reset"):
        LiveConfig(gap_reset=-1.0)


def test_repetitions_withheld_as_uncertain_go_to_the_next_event_of_their_class(weights):
    """The rule that gives an event its repetitions: those the counter logged for the class (while the model's
    steady label named it, shown or withheld as uncertain) after the previous kept event of the class and after the
    last kept event of another class that ended before it began: a squat named but not surely enough for a while
    still counts in the next squat event; squats before a shown bravo do not."""
    session = _session(weights)
    session.start("rule", canvas_size=(100, 100))
    session._rep_log[0] = [(t, "alpha") for t in (1.0, 2.0, 3.0, 5.0, 6.0, 14.0, 15.0, 16.5, 22.0, 23.0)]
    first = Event("alpha", 0.5, 3.5, 0, 0, 0.9)
    assert session._reps_of(first, first.end) == 3
    session._kept_end[(0, "alpha")] = first.end
    later = Event("alpha", 12.0, 16.0, 0, 0, 0.9)  # 5 and 6: withheld, more than the 4 s look-back before it
    assert session._reps_of(later, later.end) == 4
    session._kept_end[(0, "alpha")] = later.end
    session._kept_end[(0, "bravo")] = 19.0  # bravo shown 17-19: alpha's 16.5 belongs to nothing after it
    last = Event("alpha", 25.0, 27.0, 0, 0, 0.9)
    assert session._reps_of(last, last.end) == 2
    assert session._reps_of(Event("alpha", 18.0, 27.0, 0, 0, 0.9)) == 3  # bravo ended after it began: no bound
