"""One answer, the same everywhere: the app (a real offscreen window) replaying the bundled demo shows, at every frame,
the label and repetition count of cognn-infer's record of that frame, above the person and in the action-event
panel; at the end of the file its events are closed as cognn-infer closes them, and ``cognn-app --events FILE``
writes the same events file."""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from cognn_app.settings import AppSettings  # noqa: E402
from cognn_app.widgets import person_caption  # noqa: E402
from cognn_app.window import MainWindow  # noqa: E402

from cognn.cli.infer import main as infer  # noqa: E402
from cognn.sources.open import DEMO_RECORDING  # noqa: E402

WAIT_MS = 120_000
#: the model the app and cognn-infer run here (named: the default model may change)
MODEL = "gestures"
EVENT_KEYS = ("label", "start", "end", "start_frame", "end_frame", "person", "reps")


@pytest.fixture
def settings_path(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("COGNN_APP_SETTINGS", str(path))
    return path


@pytest.fixture(scope="module")
def infer_demo(tmp_path_factory):
    """cognn-infer's records and events of the demo (the bundled gesture model: it counts the demo's jumping jacks)."""
    out = tmp_path_factory.mktemp("infer")
    assert infer(["--demo", "--weights", MODEL, "-o", str(out / "demo.jsonl"), "--events", str(out / "events.jsonl"),
                  "-q"]) == 0
    records = [json.loads(line) for line in (out / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    return records, events


def _panel_open_rows(win: MainWindow) -> list[str]:
    rows = [win.events_list.item(i).text() for i in range(win.events_list.count())]
    return [r for r in rows if "(now" in r]


def _events(rows: list[dict]) -> list[tuple]:
    return [tuple(round(e[k], 3) if isinstance(e[k], float) else e[k] for k in EVENT_KEYS) for e in rows]


def test_app_records_and_events_agree_at_every_frame_of_the_demo(qtbot, settings_path, tmp_path, infer_demo):
    records, events = infer_demo
    assert any(r["reps"] for r in records) and events  # the demo has repetitions and events to agree on
    win = MainWindow(top_k=3, settings=AppSettings(settings_path), weights=MODEL)
    qtbot.addWidget(win)
    win.resize(1000, 640)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    seen: list[tuple[int, list[str], list[str], list[str]]] = []

    classes = set(win.model_info.classes)
    banners: list[str] = []

    def on_frame(r) -> None:
        win.view.repaint()
        banners.extend(win.view.banner_drawn)
        captions = [person_caption(v) for v in r.persons if v.present]
        seen.append((r.frame.index, captions, list(win.view.labels_drawn), _panel_open_rows(win)))

    win.frame_shown.connect(on_frame)
    try:
        with qtbot.waitSignal(win.source_ended, timeout=WAIT_MS):
            win.open_source(str(DEMO_RECORDING), speed=0.0)
        assert [s[0] for s in seen] == [r["frame"] for r in records]
        compared = 0
        for (index, captions, drawn, open_rows), rec in zip(seen, records):
            want = rec["label"] + (f" ×{rec['reps']}" if rec["reps"] is not None else "")
            assert drawn == captions and len(captions) == 1, (index, captions, drawn)
            answer = captions[0].removesuffix(" (warming up)")
            assert answer == want and (answer == captions[0] or not rec["ready"]), (index, captions, rec)
            for row in open_rows:  # the panel's event going on carries the overlay's count
                m = re.search(r"  ×(\d+)  ", row)
                if rec["reps"] is not None and rec["label"] in row:
                    assert m is not None and int(m.group(1)) == rec["reps"], (index, row, rec)
                    compared += 1
        # the corner gives no second answer (no top-1 of its own) and no second warm-up
        assert banners and not any(line.split()[0] in classes or "warming up" in line for line in banners)
        assert compared >= 100  # the panel's count was checked on most frames of the jumping jacks
        # the end of the file closes the events, as cognn-infer does: the panel has no open row, the same events
        assert _panel_open_rows(win) == [] and not win.open_events
        assert _events([e.to_dict() for e in win.all_events()]) == _events(events)
        assert "end of file" in win.statusBar().currentMessage()
    finally:
        win.close()


def test_app_events_file_is_cognn_infers(tmp_path, settings_path, infer_demo, capsys):
    """``cognn-app --frames N --events FILE`` (a scripted run of the demo to its end) writes the events that
    ``cognn-infer --demo --events`` writes."""
    from cognn_app.main import main

    _, events = infer_demo
    out = tmp_path / "app_events.jsonl"
    assert main(["--frames", "100000", "--weights", MODEL, "--events", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"to {out}" in err
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert _events(written) == _events(events)


def test_app_events_file_after_frames_closes_the_open_event(tmp_path, settings_path, capsys):
    """A scripted run stopped by --frames closes the event going on at its last frame, as cognn-infer --max-frames
    does, and the status bar does not call it the end of the file."""
    from cognn_app.main import main

    out_app, out_infer = tmp_path / "app.jsonl", tmp_path / "infer.jsonl"
    assert main(["--frames", "200", "--weights", MODEL, "--events", str(out_app)]) == 0
    assert "the source ended" not in capsys.readouterr().err
    assert infer(["--demo", "--weights", MODEL, "--max-frames", "200", "-o", str(tmp_path / "r.jsonl"), "--events",
                  str(out_infer), "-q"]) == 0
    app = [json.loads(line) for line in out_app.read_text(encoding="utf-8").splitlines()]
    ref = [json.loads(line) for line in out_infer.read_text(encoding="utf-8").splitlines()]
    assert app and _events(app) == _events(ref)


def test_app_writes_no_events_file_when_no_frame_came(tmp_path, settings_path, capsys):
    from cognn_app.main import main

    out = tmp_path / "none.jsonl"
    assert main(["--source", str(tmp_path / "missing.mp4"), "--events", str(out)]) == 2
    assert not out.exists()


@pytest.mark.slow
def test_panel_and_overlay_give_one_count_on_a_real_workout(qtbot, settings_path):
    """The real workout clip whose jumping jacks span two events (the label leaves during a close-up and comes
    back): at every frame the overlay's count is the open event's count, or the open row says it (``×N in a row``),
    and the events' counts add up to the overlay's run."""
    from helpers import shared_data

    clip = shared_data("video", "fanchiang_2-1.mp4")
    win = MainWindow(top_k=3, settings=AppSettings(settings_path), weights=MODEL)
    qtbot.addWidget(win)
    win.resize(1000, 640)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    mismatches, checked, last_run, in_a_row = [], 0, 0, []

    def on_frame(r) -> None:
        nonlocal checked, last_run
        for v in r.persons:
            if v.present and v.reps is not None:
                rows = [row for row in _panel_open_rows(win) if f"P{v.person + 1}  {v.shown_label}" in row]
                if rows:
                    checked += 1
                    last_run = v.reps
                    in_a_row.append("in a row" in rows[0])
                    if not re.search(rf"×{v.reps}(  | in a row)", rows[0]):
                        mismatches.append((r.frame.index, v.reps, rows[0]))

    win.frame_shown.connect(on_frame)
    try:
        with qtbot.waitSignal(win.source_ended, timeout=4 * WAIT_MS):
            win.open_source(str(clip), speed=0.0)
        assert checked >= 100 and mismatches == [], mismatches[:5]
        print(f"rows giving the run's count: {sum(in_a_row)} of {len(in_a_row)}")
        jacks = [e for e in win.all_events() if e.label == "jumping_jacks"]
        assert jacks and sum(e.reps for e in jacks) >= last_run
    finally:
        win.close()


def test_an_early_mode_model_shows_its_warm_up_once_and_complete(qtbot, settings_path):
    """The Kinetics model answers exactly from the first frames (early mode ``exact``): its bar is full and says so,
    and neither the corner nor the label above the person says "warming up" (it used to, three times, to the end of
    a clip shorter than its 10 s window)."""
    from helpers import shared_data

    clip = shared_data("kinetics", "S004C002P003R001A055_rgb.json")
    win = MainWindow(top_k=3, settings=AppSettings(settings_path), weights="kinetics400")
    qtbot.addWidget(win)
    win.resize(1000, 640)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    texts: list[str] = []

    def on_frame(_r) -> None:
        win.view.repaint()
        texts.extend(win.view.banner_drawn + win.view.labels_drawn)

    win.frame_shown.connect(on_frame)
    try:
        with qtbot.waitSignal(win.source_ended, timeout=WAIT_MS):
            win.open_source(str(clip), speed=0.0)
        assert win.frames_shown >= 70 and texts
        assert not any("warming up" in t for t in texts), [t for t in texts if "warming up" in t][:3]
        assert win.warmup.value() == win.warmup.maximum() and "exact" in win.warmup.format()
    finally:
        win.close()


def test_a_frames_limit_is_not_called_the_end_of_the_file(qtbot, settings_path):
    win = MainWindow(top_k=3, settings=AppSettings(settings_path), weights=MODEL, scripted=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_info is not None, timeout=WAIT_MS)
    win.capture.set_limit(150)
    try:
        with qtbot.waitSignal(win.source_ended, timeout=WAIT_MS):
            win.open_source(str(DEMO_RECORDING), speed=0.0)
        message = win.statusBar().currentMessage()
        assert message == "stopped after 150 frames (--frames)" and win.open_events  # the event goes on
    finally:
        win.close()
