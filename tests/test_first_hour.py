"""A new user's first hour: every bundled model name works in every command, the app explains a machine where no
window can open instead of aborting, and ONNX export works from the README's install (or names the extra)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from cognn.weights import load_manifest

#: every model name a user may type: each manifest entry's name and alias (the lead adds models in parallel)
BUNDLED_NAMES = [n for e in load_manifest() if e.kind == "model" for n in (e.name, e.alias) if n]


def test_the_manifest_lists_the_documented_names():
    assert {"kinetics400", "gestures"} <= set(BUNDLED_NAMES)


@pytest.mark.parametrize("name", BUNDLED_NAMES)
def test_the_app_takes_every_bundled_name(name, capsys):
    from cognn_app.main import _check_args, build_parser

    parser = build_parser()
    args = parser.parse_args(["--weights", name])
    _check_args(parser, args)  # used to say "--weights: kinetics400: no such file"
    entry = next(e for e in load_manifest() if name in (e.name, e.alias))
    assert Path(args.weights) == entry.path and capsys.readouterr().err == ""


def test_the_app_names_the_bundled_models_for_a_wrong_name(capsys):
    from cognn_app.main import main

    assert main(["--weights", "kinetics4000", "--frames", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cognn-app: error: --weights:") and "kinetics400" in err and "gestures" in err


@pytest.mark.parametrize("name", BUNDLED_NAMES)
def test_info_takes_every_bundled_name(name, capsys):
    from cognn.cli.info import main

    assert main([name, "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    entry = next(e for e in load_manifest() if name in (e.name, e.alias))
    assert Path(info["file"]) == entry.path and info["model"] == entry.model and info["meta"]["layout"] == entry.layout


def test_convert_takes_a_bundled_name(tmp_path, capsys):
    from cognn.checkpoints import read_checkpoint
    from cognn.cli.convert import main

    out = tmp_path / "g.safetensors"
    assert main(["gestures", str(out)]) == 0, capsys.readouterr().err
    assert read_checkpoint(out).meta["classes"] == next(e for e in load_manifest() if e.alias == "gestures").classes


def test_commands_refuse_abbreviated_options(capsys):
    """``--weight`` for ``--weights`` and ``--max-frame`` for ``--max-frames`` are errors, not guesses."""
    from cognn_app.main import main as app

    from cognn.cli.infer import main as infer
    from cognn.cli.info import main as info

    assert app(["--weight", "gestures"]) == 2
    assert infer(["--demo", "--max-frame", "3"]) == 2
    assert info(["gestures", "--js"]) == 2
    assert capsys.readouterr().err.count("unrecognized arguments") == 3


# --- the app on a machine where Qt cannot open a window ---------------------------------------------------------


def test_the_apt_line_names_every_library_of_the_xcb_plugin():
    """The README's apt line is the app's, and it covers each system library the installed xcb plugin links."""
    from cognn_app.display import APT_LINE, XCB_LIBRARIES

    assert APT_LINE in (REPO / "README.md").read_text(encoding="utf-8")
    import PyQt6

    plugin = Path(PyQt6.__file__).parent / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        pytest.skip(f"{plugin} is not there (not a Linux PyQt6 wheel)")
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    qt_own = Path(PyQt6.__file__).parent / "Qt6" / "lib"
    system = {line.split()[0] for line in ldd.splitlines() if "=>" in line and str(qt_own) not in line
              and ("xcb" in line or "X11" in line or "xkb" in line)}
    assert system <= set(XCB_LIBRARIES), sorted(system - set(XCB_LIBRARIES))


def test_missing_libraries_are_named():
    from cognn_app.display import missing_libraries

    assert missing_libraries(["libc.so.6", "libcognn-absent.so.9"]) == ["libcognn-absent.so.9"]


def test_the_app_explains_instead_of_aborting_where_no_window_can_open(tmp_path):
    """With the xcb plugin and no X server (and, on this machine, without libxcb-icccm4 and libxcb-keysyms1), Qt
    aborts the process (exit 134); the app says why in one sentence and exits with status 3."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=":97", COGNN_APP_SETTINGS=str(tmp_path / "app.ini"))
    proc = subprocess.run([sys.executable, "-m", "cognn_app.main", "--frames", "1"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cognn-app: error:"), proc.stderr
    assert "apt-get install" in lines[0] or "does not answer" in lines[0]


# --- ONNX export from the README's install ----------------------------------------------------------------------


def test_the_readme_install_brings_onnx():
    """The README installs ".[app]": that extra carries onnx and onnxruntime, so cognn-export works after it."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = {d.split(">")[0].split("=")[0].strip() for d in extras["app"]}
    assert {"onnx", "onnxruntime"} <= names
    assert '-e ".[app]"' in (REPO / "README.md").read_text(encoding="utf-8")


def test_export_without_onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    """Where onnx is missing (an install without the app or onnx extra) cognn-export says what to install."""
    from cognn.cli.export import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert main(["gestures", str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err
    assert "onnx" in err and '".[onnx]"' in err and "Traceback" not in err and not (tmp_path / "g.onnx").exists()


# --- the small things (item 9) ----------------------------------------------------------------------------------


def test_rendered_text_outline_is_centred_on_the_text():
    """The caption's dark edge surrounds the text evenly (it was a copy shifted by one pixel: a ghost)."""
    import numpy as np

    from cognn.render import _text

    img = np.full((80, 400, 3), 128, np.uint8)
    _text(img, "jumping_jacks x13", (20, 50), 1.0, (255, 255, 255), 2)
    white = np.argwhere((img == 255).all(-1))
    dark = np.argwhere((img < 40).all(-1))
    (wy0, wx0), (wy1, wx1) = white.min(0), white.max(0)
    (dy0, dx0), (dy1, dx1) = dark.min(0), dark.max(0)
    assert abs((wx0 - dx0) - (dx1 - wx1)) <= 1 and abs((wy0 - dy0) - (dy1 - wy1)) <= 1, (white.min(0), dark.min(0))


def test_readme_key_bindings_are_the_apps():
    """Every key of ``cognn-app --help`` is in the README's list, with the same job (no "Shift+Left/Right seek")."""
    import re

    from cognn_app.main import SHORTCUTS

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [re.split(r"\s{2,}", line.strip()) for line in SHORTCUTS.split("examples:")[0].splitlines()[1:]]
    keys = [k.split(",")[0] for row in rows if len(row) == 4 for k in (row[0], row[2])]
    assert len(keys) >= 12
    for key in keys:
        if key:
            assert re.search(rf"(?<![\w+]){re.escape(key)}(?![\w+])", readme), key
    assert "Shift+Left/Right" not in readme


def test_readme_gesture_classes_are_the_models():
    """The README's gesture row names every class of the bundled gesture model and counts them right."""
    entry = next(e for e in load_manifest() if e.alias == "gestures")
    row = next(line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `gestures`"))
    classes = entry.class_names()
    assert f"| {len(classes)}:" in row
    for c in classes:
        assert (f"`{c}`" if c == "none" else c.replace("_", " ")) in row, c


def test_app_first_start_can_be_scripted_and_says_where_the_screenshot_went(tmp_path, capsys, monkeypatch):
    from cognn_app.main import main

    monkeypatch.setenv("COGNN_APP_SETTINGS", str(tmp_path / "app.ini"))
    shot = tmp_path / "shot.png"
    assert main(["--frames", "5", "--screenshot", str(shot)]) == 0  # no source: the demo, as on a first start
    assert shot.stat().st_size > 0 and f"saved the screenshot to {shot}" in capsys.readouterr().err


def test_a_failed_camera_run_writes_no_events_file(tmp_path, capsys):
    from cognn.cli.infer import main

    events = tmp_path / "live.jsonl"
    assert main(["--camera", "/dev/cognn-no-such-camera", "--max-frames", "3", "--events", str(events)]) == 1
    assert not events.exists() and "was not written" in capsys.readouterr().err


def test_a_json_without_skeletons_is_not_called_a_kinetics_file(tmp_path, capsys):
    import json as json_

    from cognn.cli.infer import main

    bad = tmp_path / "notes.json"
    bad.write_text(json_.dumps({"data": [{"frame_index": 1, "skeleton": []}]}), encoding="utf-8")
    assert main([str(bad), "--weights", "gestures", "-o", str(tmp_path / "r.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "no skeleton" in err and "Kinetics-skeleton" not in err


def test_inputs_with_the_same_file_name_are_told_apart_in_the_summary(tmp_path, capsys):
    import shutil

    from cognn.cli.infer import main
    from cognn.sources.open import DEMO_RECORDING

    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(DEMO_RECORDING, tmp_path / d / "demo.h5")
    assert main([str(tmp_path / "a" / "demo.h5"), str(tmp_path / "b" / "demo.h5"), "--max-frames", "120",
                 "-o", str(tmp_path / "r.jsonl")]) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a' / 'demo.h5'}: " in err and f"{tmp_path / 'b' / 'demo.h5'}: " in err


@pytest.mark.slow
def test_mediapipe_prints_nothing_of_its_own(tmp_path):
    """On real clips where MediaPipe logged "Using NORM_RECT without IMAGE_DIMENSIONS" (its first landmark
    projection of each native landmarker), every stderr line is cognn-infer's."""
    from helpers import shared_data

    clips = [next(shared_data("video", "real", d).glob("*.mp4")) for d in ("jumping_jack", "fall", "burpee")]
    env = {**os.environ, "COGNN_THREADS": "1"}
    for clip in clips:
        proc = subprocess.run([sys.executable, "-m", "cognn.cli.infer", str(clip), "--max-frames", "90", "-q",
                               "-o", str(tmp_path / "r.jsonl")], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        foreign = [line for line in proc.stderr.splitlines() if line and not line.startswith("cognn-infer")]
        assert foreign == [], (clip.name, foreign)


def test_train_and_eval_take_bundled_names():
    from cognn.cli.evaluate import build_parser as eval_parser
    from cognn.cli.train import build_parser as train_parser

    gestures = next(e for e in load_manifest() if e.alias == "gestures").path
    kinetics = next(e for e in load_manifest() if "kinetics400" in (e.name, e.alias)).path
    assert train_parser().parse_args(["--model", "costgcn_mod", "--clips", "x", "--init", "gestures"]).init == gestures
    assert eval_parser().parse_args(["--weights", "kinetics400", "--data", "x.h5"]).weights == kinetics
