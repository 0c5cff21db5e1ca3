"""cognn-app, round two, with a real offscreen window: a network camera (an HTTP MJPEG stream served on localhost by
the test, dropped mid-stream), repetitions shown above the person, and the message for a body out of view."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from cognn_app.settings import AppSettings  # noqa: E402
from cognn_app.window import MainWindow  # noqa: E402
from helpers import REPO, load_tool, shared_data  # noqa: E402
from test_stream import MJPEGServer, workout_stream  # noqa: E402  (the test's own MJPEG camera)

from cognn.sources.open import DEMO_RECORDING  # noqa: E402

WAIT_MS = 60_000
GESTURES = REPO / "weights" / "gestures_costgcn_mod.safetensors"


@pytest.fixture
def settings_path(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("COGNN_APP_SETTINGS", str(path))
    return path


def _window(qtbot, settings_path, **kw) -> MainWindow:
    win = MainWindow(top_k=3, settings=AppSettings(settings_path), **kw)
    qtbot.addWidget(win)
    win.resize(1000, 640)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    return win


@pytest.fixture(scope="module")
def stream_jpegs() -> list[bytes]:
    """The workout clip at 30 fps in real time (every second picture), 120 pictures, small."""
    return workout_stream(120, (384, 216), 85)


def test_window_follows_a_network_camera_through_a_dropped_connection(qtbot, settings_path, stream_jpegs):
    """Camera ▸ a URL: the stream opens as a live source; when the server drops the connection and stays down for
    2 s the window says "reconnecting" over the picture, and once frames come back it says the stream is back and
    the model restarted (the session reset its state at the gap)."""
    win = _window(qtbot, settings_path)
    server = MJPEGServer(stream_jpegs)
    server.drop_after, server.down_for = 45, 2.0
    results = []
    win.frame_shown.connect(results.append)
    try:
        with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
            assert win.open_camera(server.url)
        info = win.source_info
        assert info.live and info.name == server.url and "stream" in win.source_label.text()
        qtbot.waitUntil(lambda: win.stream_status is not None, timeout=WAIT_MS)
        assert win.stream_status.startswith("reconnecting") and win.view.notice.startswith("reconnecting")
        qtbot.waitUntil(lambda: any(r.step.gap is not None for r in results), timeout=WAIT_MS)
        back = next(r for r in results if r.step.gap is not None)
        assert back.step.reset and back.step.gap >= 1.5  # over the 1 s default: the model starts over
        assert not back.prediction.ready
        assert win.view.notice.startswith("stream back after") and win.view.notice.endswith("model restarted")
        qtbot.waitUntil(lambda: any(t.startswith("stream back after") for t in win.view.banner_drawn),
                        timeout=WAIT_MS)
        frames = [r.frame.index for r in results]
        assert frames == sorted(frames) and len(set(frames)) == len(frames)  # in order, none twice
    finally:
        win.close()
        server.stop()
    assert win.settings.last_source == f"camera:{server.url}"


def test_camera_field_takes_an_index_a_device_or_a_url(qtbot, settings_path):
    """What the camera dialog passes on: anything else is refused with one sentence; a device that is not there is a
    live source that failed (the error bar offers a retry)."""
    win = _window(qtbot, settings_path)
    try:
        with qtbot.waitSignal(win.error_shown, timeout=WAIT_MS):
            assert not win.open_camera("webcam")
        assert "device index" in win.last_error
        with qtbot.waitSignal(win.error_shown, timeout=WAIT_MS):
            assert win.open_camera("/dev/video97")
        assert win.error_bar.isVisible() and "/dev/video97" in win.error_label.text()
    finally:
        win.close()


def test_repetitions_are_shown_above_the_person(qtbot, settings_path):
    """The demo recording (generated jumping jacks) through the bundled gesture model: the label above the person
    reads "jumping_jacks ×N", the count rising as she goes on, and the action events list says how many."""
    if not GESTURES.exists():
        pytest.skip(f"{GESTURES} is not there (the bundled gesture model)")
    win = _window(qtbot, settings_path)
    texts: list[str] = []
    win.frame_shown.connect(lambda r: texts.extend(t for t, _ in win.view.person_labels()))
    try:
        with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
            win.open_source(str(DEMO_RECORDING), speed=0.0)
        qtbot.waitUntil(lambda: win.source_info is not None and win.source_info.num_frames is not None
                        and win.frames_shown >= win.source_info.num_frames, timeout=WAIT_MS)
        counts = [int(m.group(1)) for t in texts if (m := re.fullmatch(r"jumping_jacks ×(\d+)", t))]
        assert counts and counts == sorted(counts) and counts[-1] >= 5
        qtbot.waitUntil(lambda: re.search(r"jumping_jacks ×\d+", " ".join(win.view.labels_drawn)) is not None,
                        timeout=WAIT_MS)
        rows = [win.events_list.item(i).text() for i in range(win.events_list.count())]
        assert any(re.search(r"jumping_jacks  ×\d+", row) for row in rows), rows
    finally:
        win.close()


def test_body_out_of_view_is_a_banner(qtbot, settings_path, tmp_path):
    """The workout clip cropped to the top half of every picture, with the bundled Kinetics-400 model (it declares
    no partial-body training, so it needs the whole body): the banner over the picture tells the user to step
    back."""
    clip = load_tool("live_cache").crop_video(shared_data("video", "fanchiang_3-2.mp4"), tmp_path / "top.mp4", "top")
    win = _window(qtbot, settings_path, weights="kinetics400")
    posed: list[bool] = []
    win.frame_shown.connect(lambda r: posed.append(r.frame.posed))
    try:
        with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
            win.open_source(str(clip), speed=0.0)
        qtbot.waitUntil(lambda: win.frames_shown >= 90, timeout=WAIT_MS)  # 1.5 s: the monitor's window is whole
        win.pause()
        last = win.last_result
        assert last is not None and last.persons and last.persons[0].message == "step back: legs not visible"
        win.view.repaint()
        assert "step back: legs not visible" in win.view.banner_drawn
        # a 60 fps clip: every picture shown, pose on every other one (the 30 fps model's), the pose time held between
        assert posed[:6] == [True, False] * 3
        assert all(v == v for v in list(win.plot.values["pose"])[-20:])  # no NaN gaps in the timing plot
        assert "pose   –" not in win.timing_label.text()
    finally:
        win.close()
