"""cognn-app with a real offscreen window (QT_QPA_PLATFORM=offscreen from conftest.py): replays of a real NTU skeleton
file and a real video, model switching, replay controls, recording, errors, shutdown and the scripted screenshot."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from cognn_app.main import main  # noqa: E402
from cognn_app.overlay import fit_rect  # noqa: E402
from cognn_app.queue import FrameQueue  # noqa: E402
from cognn_app.settings import AppSettings  # noqa: E402
from cognn_app.window import MainWindow  # noqa: E402
from helpers import shared_data  # noqa: E402
from PyQt6.QtCore import QRectF, Qt, QThread  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402

from cognn.live.session import warmup_text  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # untrained weights: the UI says so

SKELETON = ("ntu", "skeletons", "S001C001P001R001A001.skeleton")
VIDEO = ("video", "S001C001P001R001A001_rgb.avi")
WAIT_MS = 60_000


@pytest.fixture
def settings_path(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("COGNN_APP_SETTINGS", str(path))
    return path


@pytest.fixture
def window(qtbot, settings_path):
    win = MainWindow(model="costgcn", top_k=5, settings=AppSettings(settings_path))
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    yield win
    win.close()


def _play(qtbot, win: MainWindow, spec, frames: int, **kw) -> None:
    with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
        win.open_source(spec, speed=0.0, **kw)
    qtbot.waitUntil(lambda: win.frames_shown >= frames, timeout=WAIT_MS)
    win.pause()
    _settle(qtbot, win)


def _settle(qtbot, win: MainWindow) -> None:
    """Wait until every frame read from the source has been shown (the pipeline is empty)."""
    def idle() -> bool:
        before = (win.frames_shown, win.capture.frames_sent)
        qtbot.wait(60)
        return before == (win.frames_shown, win.capture.frames_sent) and before[0] == before[1]

    qtbot.waitUntil(idle, timeout=WAIT_MS)


def _inside(points: np.ndarray, rect: QRectF) -> np.ndarray:
    ok = np.isfinite(points).all(-1)
    x, y = points[..., 0], points[..., 1]
    return ok & (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())


def test_skeleton_replay_updates_overlay_predictions_timing_and_controls(qtbot, window):
    path = shared_data(*SKELETON)
    _play(qtbot, window, path, 24)
    info, r = window.source_info, window.last_result
    assert info.layout == "ntu25" and info.num_frames == 103 and not info.live
    # overlay: one person on a clean canvas, drawn inside the view
    assert r.image is None and r.frame.persons == 1
    window.view.repaint()
    assert window.view.persons_drawn == 1
    pts = window.view.skeleton_points()
    assert pts.shape == (2, 25, 2)
    assert _inside(pts[0], QRectF(window.view.rect())).all()
    assert not np.isfinite(pts[1]).any()  # the empty second slot is not drawn
    # predictions: warm start gives top-k from the first frame, flagged as warming up
    pred = r.prediction
    assert len(window.last_top) == 5 and window.bars.top == window.last_top  # strided costgcn: every 4th frame
    probs = [p for _, p in window.last_top]
    assert probs == sorted(probs, reverse=True) and 0.0 <= probs[-1] <= probs[0] <= 1.0
    assert not pred.ready and pred.warmup[1] == window.model_info.receptive_field
    # warm-up in seconds of stream at the model's rate (the source's own frame rate may differ)
    assert window.warmup.format() == f"warming up {warmup_text(pred.warmup, window.model_info.fps)}"
    assert window.weights_notice.isHidden() == pred.has_weights
    # timing: one plot sample per shown frame, model time measured, no pose for a skeleton file
    assert len(window.plot.values["model"]) == window.frames_shown
    assert all(v > 0 for v in window.plot.values["model"])
    assert np.isnan(window.plot.values["pose"]).all()
    assert "model" in window.timing_label.text() and "fps" in window.timing_label.text()
    assert window.timeline.segments() >= 1 and (window.timeline.top1[: r.frame.index + 1] >= 0).all()
    # replay controls: single step, then a seek that restarts the warm-up
    index = window.last_result.frame.index
    shown = window.frames_shown
    qtbot.keyClick(window, Qt.Key.Key_Right)  # the single-step shortcut
    qtbot.waitUntil(lambda: window.frames_shown == shown + 1, timeout=WAIT_MS)
    _settle(qtbot, window)
    assert window.last_result.frame.index == index + 1 and window.frames_shown == shown + 1
    window.seek(80)
    qtbot.waitUntil(lambda: window.last_result.frame.index == 80, timeout=WAIT_MS)
    assert window.last_result.prediction.warmup[0] == 1
    assert window.slider.value() == 80
    qtbot.keyClick(window, Qt.Key.Key_Minus)  # slower
    assert window.capture.speed == 4.0 and window.speed_box.currentText() == "4×"
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    assert window.capture.speed == 0.0
    # keyboard: Space plays to the end of the file
    with qtbot.waitSignal(window.source_ended, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.last_result.frame.index == 102


def test_video_replay_runs_pose_and_draws_on_the_picture(qtbot, window):
    path = shared_data(*VIDEO)
    _play(qtbot, window, path, 6)
    r = window.last_result
    assert r.image is not None and r.image_size == (1920, 1080)
    assert r.frame.pose_ms is not None and r.frame.pose_ms > 0
    assert r.frame.persons >= 1
    window.view.repaint()
    assert window.view.persons_drawn >= 1
    # the skeleton lies over the person in the picture: inside the drawn image, in its middle part
    image_rect = fit_rect(1920, 1080, QRectF(window.view.rect()))
    pts = window.view.skeleton_points()
    person = pts[0][np.isfinite(pts[0]).all(-1)]
    assert len(person) >= 20 and _inside(person, image_rect).all()
    x = (person[:, 0] - image_rect.left()) / image_rect.width()
    assert 0.25 < np.median(x) < 0.75
    assert not np.isnan(window.plot.values["pose"][-1])
    assert "pose" in window.timing_label.text() and "–" not in window.timing_label.text().split("ms")[0]
    assert len(window.last_top) == 5


def test_switching_model_keeps_the_stream_going(qtbot, window):
    path = shared_data(*SKELETON)
    _play(qtbot, window, path, 5)
    with qtbot.waitSignal(window.model_loaded, timeout=WAIT_MS) as blocker:
        window.set_model("coagcn_mod")
    info = blocker.args[0]
    assert info.name == "coagcn_mod" and window.model_info.name == "coagcn_mod"
    assert window.model_actions["coagcn_mod"].isChecked()
    shown = window.frames_shown
    window.play()
    qtbot.waitUntil(lambda: window.frames_shown >= shown + 5, timeout=WAIT_MS)
    pred = window.last_result.prediction
    assert pred.warmup[1] == info.receptive_field == 300
    assert pred.warmup[0] <= window.frames_shown - shown + 1  # the new model started over
    assert len(pred.top) == 5 == len(window.last_top)  # stride 1: a prediction every frame


def test_step_precision_is_chosen_in_the_model_menu_and_remembered(qtbot, window, settings_path):
    path = shared_data(*SKELETON)
    _play(qtbot, window, path, 5)
    assert window.precision_actions["fp32"].isChecked()
    with qtbot.waitSignal(window.model_loaded, timeout=WAIT_MS) as blocker:
        window.precision_actions["int8"].trigger()
    info = blocker.args[0]
    assert info.request.precision == "int8" and info.session.recognizer.model.precision == "int8"
    assert window.precision_actions["int8"].isChecked() and AppSettings(settings_path).precision == "int8"
    shown = window.frames_shown
    window.play()
    qtbot.waitUntil(lambda: window.frames_shown >= shown + 5, timeout=WAIT_MS)
    assert window.last_result.prediction.top  # the int8 step answers
    with qtbot.waitSignal(window.model_loaded, timeout=WAIT_MS):  # another model keeps the precision
        window.set_model("coagcn_mod")
    assert window.model_info.session.recognizer.model.precision == "int8"


def test_bundled_weights_by_name_are_kept():
    from cognn_app.main import _weights_exist

    assert _weights_exist("kinetics400") and _weights_exist("gestures")
    assert not _weights_exist("no_such_model_or_file")


def test_close_stops_every_thread(qtbot, settings_path):
    win = MainWindow(model="costgcn_mod", settings=AppSettings(settings_path))
    qtbot.addWidget(win)
    win.show()
    path = shared_data(*SKELETON)
    _play(qtbot, win, path, 3)
    threads = [win.capture_thread, win.model_thread]
    assert all(t.isRunning() for t in threads)
    win.play()
    win.close()
    assert not any(t.isRunning() for t in threads)
    assert all(t.isFinished() for t in threads)
    assert win.capture._source is None  # the source (a camera, a video) was released
    assert QThread.currentThread() is win.thread()
    # the settings persist
    s = AppSettings(settings_path)
    assert s.model == "costgcn_mod" and s.last_source == str(path) and s.window_size is not None


def test_unreadable_file_shows_an_error_and_nothing_crashes(qtbot, window, tmp_path):
    bad = tmp_path / "broken.skeleton"
    bad.write_text("12\nnot a skeleton file\n")
    with qtbot.waitSignal(window.error_shown, timeout=WAIT_MS) as blocker:
        window.open_source(bad)
    assert "broken.skeleton" in blocker.args[0]
    assert window.error_dialog is not None and window.error_dialog.isVisible()
    assert window.capture_thread.isRunning() and window.model_thread.isRunning()
    # the app still works afterwards
    _play(qtbot, window, shared_data(*SKELETON), 2)


def test_unreadable_weights_are_reported_and_the_default_model_takes_over(qtbot, settings_path, tmp_path):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"\x00not safetensors at all")
    win = MainWindow(weights=str(bad), settings=AppSettings(settings_path), scripted=True)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    assert win.last_error is not None and "weights.safetensors" in win.last_error
    assert win.model_info.request.weights is None
    win.close()


def test_camera_failure_offers_a_retry(qtbot, window):
    with qtbot.waitSignal(window.error_shown, timeout=WAIT_MS):
        window.open_source(97)
    assert window.error_bar.isVisible() and window.retry_button.isVisible()
    assert "97" in window.error_label.text()
    with qtbot.waitSignal(window.error_shown, timeout=WAIT_MS):
        qtbot.mouseClick(window.retry_button, Qt.MouseButton.LeftButton)
    assert window.error_bar.isVisible()


def test_recording_saves_skeletons_and_annotated_video(qtbot, window, tmp_path):
    import cv2

    from cognn.data.store import load_recording

    h5, mp4 = tmp_path / "session.h5", tmp_path / "session.mp4"
    window.start_recording(str(h5), str(mp4))
    qtbot.waitUntil(lambda: window.recording, timeout=WAIT_MS)
    _play(qtbot, window, shared_data(*SKELETON), 12)
    with qtbot.waitSignal(window.model.recording_changed, timeout=WAIT_MS):
        window.stop_recording()
    rec = load_recording(h5)
    assert rec.layout == "ntu25" and rec.skeleton.shape[1:] == (3, 25, 2)
    assert rec.num_frames == window.frames_shown
    assert np.abs(rec.skeleton[:, :, :, 0]).sum() > 0 and (np.diff(rec.timestamps) > 0).all()
    # one recording format with cognn-infer: the action events of the stream (none yet while warming up)
    from cognn.live.events import events_of_recording

    assert [e.to_dict() for e in events_of_recording(rec.events)] == [e.to_dict() for e in window.all_events()]
    assert tuple(rec.attrs["canvas_size"]) == (1920, 1080) and rec.fps == pytest.approx(30.0)
    cap = cv2.VideoCapture(str(mp4))
    ok, img = cap.read()
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert ok and n == rec.num_frames and img.std() > 5
    # the app replays its own recording
    _play(qtbot, window, h5, 5)
    assert window.source_info.num_frames == rec.num_frames and window.view.persons_drawn == 1


# ----------------------------------------------------------------------------------------------------------------------
# the live pipeline in the app: per-person labels, action events, mirror view, reset on seek

EVENTS_VIDEO = ("video", "fanchiang_2-1.mp4")


def test_video_events_panel_person_labels_saved_events_and_recorded_events(qtbot, settings_path, tmp_path):
    from cognn.data.store import load_recording
    from cognn.live.events import read_events

    win = MainWindow(settings=AppSettings(settings_path), scripted=True)  # the default (trained gestures) model
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    classes = set(win.model_info.classes)
    h5 = tmp_path / "session.h5"
    win.start_recording(str(h5), None)
    qtbot.waitUntil(lambda: win.recording, timeout=WAIT_MS)
    with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
        win.open_source(shared_data(*EVENTS_VIDEO), speed=0.0)
    # ~90 frames of pose before the first steady gesture (about 8 frames/s on two shared cores)
    qtbot.waitUntil(lambda: win.events_list.count() >= 1 or win.frames_shown >= 160, timeout=120_000)
    win.pause()
    _settle(qtbot, win)
    assert win.events_list.count() >= 1, f"no event in {win.frames_shown} frames"
    events = win.all_events()
    assert events and all(e.label in classes and e.label not in ("none", "uncertain") for e in events)
    assert all(str(e.source).endswith("fanchiang_2-1.mp4") for e in events)
    assert events[0].label in win.events_list.item(0).text()
    # the person's steady label is drawn above them
    r = win.last_result
    assert r.persons and r.persons[0].present and r.persons[0].anchor is not None
    win.view.repaint()
    labels = win.view.person_labels()
    assert labels and win.view.labels_drawn == [t for t, _ in labels]
    text, anchor = labels[0]
    assert text == r.persons[0].text() and text.split()[0] in classes | {"uncertain"}
    pts = win.view.skeleton_points()
    person = pts[0][np.isfinite(pts[0]).all(-1)]
    assert anchor.y() < person[:, 1].min() and person[:, 0].min() <= anchor.x() <= person[:, 0].max()
    # save events: JSON lines and CSV, read back
    for name in ("events.jsonl", "events.csv"):
        out = win.save_events(tmp_path / name)
        assert out is not None and out.is_file()
        back = read_events(out)
        assert [(e.label, e.person, e.start_frame) for e in back] == [(e.label, e.person, e.start_frame)
                                                                     for e in events]
    # the recording keeps the action events (the open one ended at the last frame)
    with qtbot.waitSignal(win.model.recording_changed, timeout=WAIT_MS):
        win.stop_recording()
    rec = load_recording(h5)
    actions = [e for e in rec.events if e.get("kind") == "action"]
    assert actions and {e["label"] for e in actions} <= classes and rec.num_frames == win.frames_shown
    # a new source starts a new event list
    with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
        win.open_source(shared_data(*SKELETON), autoplay=False)
    assert win.events_list.count() == 0 and win.all_events() == []
    win.close()


def test_mirror_flips_the_drawing_but_not_the_model_input(qtbot, window):
    path = shared_data(*SKELETON)
    _play(qtbot, window, path, 10)
    r0 = window.last_result
    index = r0.frame.index
    assert not r0.mirrored and not window.mirrored
    plain = _drawn_points(window)
    skeleton = np.array(r0.frame.skeleton, copy=True)
    probs = None if r0.prediction.probs is None else np.array(r0.prediction.probs, copy=True)
    window.mirror_action.trigger()  # the View menu's checkable entry
    assert window.mirrored and window.model.mirror
    window.seek(0)  # the pipeline starts over: the same frames again give the same predictions
    qtbot.waitUntil(lambda: window.last_result.frame.index == 0, timeout=WAIT_MS)
    assert window.last_result.prediction.warmup[0] == 1
    window.capture.step(index)
    qtbot.waitUntil(lambda: window.last_result.frame.index == index, timeout=WAIT_MS)
    _settle(qtbot, window)
    r1 = window.last_result
    assert r1.mirrored
    # the model saw the source's own frame: same skeleton, same prediction
    np.testing.assert_array_equal(r1.frame.skeleton, skeleton)
    if probs is None:
        assert r1.prediction.probs is None
    else:
        np.testing.assert_allclose(r1.prediction.probs, probs, rtol=1e-5, atol=1e-6)
    # only the drawing is mirrored: x -> canvas width - x (NTU colour pixels of a 1920-wide canvas)
    mirrored = _drawn_points(window)
    ok = np.isfinite(plain).all(-1)
    width = window.source_info.canvas_size[0]
    np.testing.assert_allclose(mirrored[ok][:, 0], width - plain[ok][:, 0], rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(r1.frame.draw_px, r0.frame.draw_px)  # the frame's own coordinates untouched
    np.testing.assert_allclose(mirrored[ok][:, 1], plain[ok][:, 1], rtol=1e-5, atol=1e-4)
    window.view.repaint()
    assert window.view.persons_drawn == 1
    assert window.view.labels_drawn and "warming up" in window.view.labels_drawn[0]  # newcomer: warming up
    window.set_mirror(False)
    assert not window.mirror_action.isChecked() and not window.model.mirror


def _drawn_points(win: MainWindow) -> np.ndarray:
    """The shown skeleton in source drawing coordinates (before the fit to the widget)."""
    return np.asarray(win.view._points(win.last_result), np.float64)


def test_mirror_flag_mirrors_video_drawing_only(qtbot, settings_path):
    win = MainWindow(model="costgcn", settings=AppSettings(settings_path), mirror=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    assert win.mirror_action.isChecked() and win.model.mirror
    _play(qtbot, win, shared_data(*VIDEO), 2)
    r = win.last_result
    assert r.mirrored and r.image_size == (1920, 1080)
    assert win.capture.tracker.options.smoothing.enabled  # pose landmarks One-Euro smoothed
    ok = np.isfinite(r.frame.draw_px).all(-1)
    assert ok.sum() >= 20
    np.testing.assert_allclose(r.draw_px[ok][:, 0], 1920 - r.frame.draw_px[ok][:, 0], atol=1e-3)
    np.testing.assert_allclose(r.draw_px[ok][:, 1], r.frame.draw_px[ok][:, 1], atol=1e-3)
    win.close()


def test_frame_queue_drops_stale_frames_or_waits():
    q = FrameQueue(2)
    for i in range(5):
        q.put(i, drop=True)
    assert len(q) == 2 and q.dropped == 3 and q.get() == 3 and q.get() == 4 and q.get(0.01) is None
    q.put("a", drop=False)
    q.put("b", drop=False)
    assert not q.put("c", drop=False, abort=lambda: True) and len(q) == 2 and q.dropped == 3


def test_cli_user_errors_exit_2_without_traceback(capsys, settings_path, tmp_path):
    assert main(["--source", str(tmp_path / "missing.avi")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cognn-app: error:") and "missing.avi" in err and "Traceback" not in err
    assert main(["--model", "nope", "--source", str(tmp_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["--screenshot", str(tmp_path / "x.png")]) == 2
    assert "--frames" in capsys.readouterr().err
    from cognn_app.main import build_parser

    assert build_parser().parse_args(["--mirror"]).mirror and not build_parser().parse_args([]).mirror


def test_scripted_screenshot_is_not_blank(qtbot, settings_path, tmp_path, capsys):
    out = tmp_path / "shot.png"
    rc = main(["--source", str(shared_data(*SKELETON)), "--model", "costgcn", "--frames", "15",
               "--screenshot", str(out)])
    assert rc == 0, capsys.readouterr().err
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    small = img.scaled(160, 100).convertToFormat(QImage.Format.Format_RGB888)
    ptr = small.constBits()
    ptr.setsize(small.sizeInBytes())
    px = np.frombuffer(ptr, np.uint8).reshape(100, small.bytesPerLine())[:, :480].reshape(-1, 3)
    assert px.std() > 20 and len(np.unique(px // 16, axis=0)) > 20



def test_hostile_files_show_a_message_and_the_app_stays_responsive(qtbot, window, tmp_path):
    """A checkpoint whose pickle nests shared lists 30 levels deep (a "billion laughs"), and a recording whose
    skeletons live in another file (HDF5 external storage): each is refused with a message, in seconds."""
    import h5py
    import torch

    nested: list = ["x"]
    for _ in range(30):
        nested = [nested, nested]
    bomb = tmp_path / "bomb.ckpt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}, "hyper_parameters": {"deep": nested}}, bomb)
    with qtbot.waitSignal(window.error_shown, timeout=WAIT_MS) as blocker:
        window.set_weights(str(bomb))
    assert "bomb.ckpt" in blocker.args[0]
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(3 * 25 * 2 * 4, dtype=np.float32).tobytes())
    from cognn.data.store import RecordingWriter

    crafted = tmp_path / "crafted.h5"
    with RecordingWriter(crafted, "ntu25", "camera3d", source="x", fps=30.0) as w:
        w.append(np.ones((3, 25, 2), np.float32), 0.0)
    with h5py.File(crafted, "r+") as f:
        del f["skeleton"]
        f.create_dataset("skeleton", shape=(4, 3, 25, 2), dtype=np.float32,
                         external=[(str(secret), 0, secret.stat().st_size)])
    with qtbot.waitSignal(window.error_shown, timeout=WAIT_MS) as blocker:
        window.open_source(crafted)
    assert "crafted.h5" in blocker.args[0]
    _play(qtbot, window, shared_data(*SKELETON), 2)  # still responsive
