"""The app's Teach panel, driven offscreen like a user: a real video stands in for the camera, three takes of an
action and one of "nothing" are recorded with the countdown, Learn makes a model with cognn.teach, and the window
loads it and lists it under Model ▸ Taught models."""
from __future__ import annotations

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from cognn_app.settings import AppSettings  # noqa: E402
from cognn_app.window import MainWindow  # noqa: E402
from helpers import shared_data  # noqa: E402

from cognn.checkpoints import read_checkpoint  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.slow]
WAIT_MS = 120_000
ACTION = ("video", "real", "jumping_jack", "MrPose__jacks.mp4")
NOTHING = ("video", "selinkesler_Office.mp4")


def test_teach_panel_records_takes_learns_and_loads_the_model(qtbot, tmp_path, monkeypatch):
    action, nothing = shared_data(*ACTION), shared_data(*NOTHING)
    monkeypatch.setenv("COGNN_APP_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("COGNN_TEACH_DIR", str(tmp_path / "teach"))
    win = MainWindow(weights="fitness", settings=AppSettings(tmp_path / "settings.ini"))
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    win.show_teach_panel()
    panel = win.teach_panel
    panel.take_seconds = 3.0
    with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
        win.open_source(action, speed=1.0)
    panel.name_edit.setText("Star Jump")
    assert panel.record_takes(takes=3)
    for _ in range(3):
        with qtbot.waitSignal(panel.take_done, timeout=WAIT_MS):
            pass
    assert panel.actions() == {"star_jump": 3}
    for take in (panel.folder / "star_jump").iterdir():
        rec = read_recording_frames(take)
        assert rec > 30, f"{take.name}: {rec} frames"
    with qtbot.waitSignal(win.source_opened, timeout=WAIT_MS):
        win.open_source(nothing, speed=1.0)
    assert panel.record_takes("none", 1)
    with qtbot.waitSignal(panel.take_done, timeout=WAIT_MS):
        pass
    with qtbot.waitSignal(panel.learnt, timeout=WAIT_MS) as learnt:
        assert panel.learn()
    path = learnt.args[0]
    assert read_checkpoint(path).meta["classes"] == ["none", "star_jump"]
    qtbot.waitUntil(lambda: win.model_info is not None and list(win.model_info.classes) == ["none", "star_jump"],
                    timeout=WAIT_MS)
    assert any(a.data() == path and a.isChecked() is not None for a in win.taught_menu.actions())
    assert "learnt star_jump" in panel.status.text()
    win.close()


def read_recording_frames(path) -> int:
    from cognn.data.store import load_recording

    return int(load_recording(path).skeleton.shape[0])
