"""The live session on real files (an NTU file, a real video, recordings), the app's workers without the window, and
recordings made by the app and by cognn-infer read by each other."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from helpers import randomise, shared_data

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
    from cognn.cli.infer import main
    from cognn_app.messages import SourceRequest

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
    from cognn.cli.infer import main
    from cognn_app.messages import SourceRequest

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
