"""``cognn-app``: the desktop app (live camera or replay of a file, skeleton overlay, top-k actions, step timing).

Scripted use: ``cognn-app --source FILE --frames N --screenshot OUT.png`` plays N frames as fast as the pipeline
goes, saves a screenshot of the whole window and exits with status 0 (2 on a user error, 3 where no window can open:
missing system libraries or no display, each with one line on stderr).
``--mirror`` draws a mirror image (the model still sees the source's own frame); ``--per-person`` labels each person.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

PROG = "cognn-app"
#: the window size of scripted runs (screenshots come out the same on every machine)
SCRIPTED_SIZE = (1280, 760)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


SHORTCUTS = """keys:
  Space        play / pause                 Right, .      single step
  Left         back 5 s                     Shift+Right   forward 5 s
  Home         restart                      + / -         faster / slower
  O            open a file                  C             open a camera
  W            load weights                 M             mirror view
  Ctrl+R       record                       Ctrl+E        save the action events
  Ctrl+S       save a screenshot            Q             quit

examples:
  cognn-app                                        # the bundled demo recording
  cognn-app --camera 0
  cognn-app --source clip.mp4 --weights kinetics400
  cognn-app --source datasets/samples/demo.h5 --frames 150 --screenshot shot.png
  cognn-app --source clip.mp4 --events events.jsonl    # the action events, written when the app stops"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Online skeleton-based action recognition: a live camera or a replayed file, "
                                       "the skeletons, the top-k actions and the cost of every step.",
                epilog=SHORTCUTS, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", metavar="INDEX|DEVICE|URL", help="open a camera: an index (0 is the default camera), "
                     "a device path (/dev/video0) or a stream URL (rtsp://..., http://... MJPEG)")
    src.add_argument("--source", metavar="FILE",
                     help="a video, an NTU .skeleton file, a Kinetics .json file or a cognn HDF5 recording/dataset")
    p.add_argument("--model", metavar="NAME", help="continual model name, e.g. costgcn_mod (default: the weights' "
                                                   "model, else the default model)")
    p.add_argument("--weights", metavar="PATH|NAME", help="a weights file or a bundled model's name (e.g. kinetics400, "
                   "gestures; default: the bundled default model)")
    p.add_argument("--skeleton-video", metavar="VIDEO", help="RGB video to draw an NTU .skeleton replay on")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="actions to list (default 5)")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8", "auto"], default=None,
                   help="precision of the model step's products (default fp32, or the last one chosen in the "
                        "Model menu; auto: the fastest measured on this machine; bf16/int8 speed and agreement: "
                        "docs/benchmarks.md)")
    p.add_argument("--mirror", action="store_true",
                   help="draw a mirror image (selfie view); the pose model still sees the camera's own frame")
    p.add_argument("--per-person", action="store_true",
                   help="one recognizer state and steady label per tracked person (default: one for everybody)")
    p.add_argument("--frames", type=int, metavar="N", help="play N frames, then (with --screenshot) save and exit "
                   "(without --source or --camera: of the bundled demo, as on a first start)")
    p.add_argument("--screenshot", metavar="OUT.png", help="save a screenshot of the window after --frames and exit")
    p.add_argument("--events", metavar="FILE", help="write the session's action events to FILE (.jsonl or .csv) when "
                   "the app stops or a scripted run ends (the events going on close then, as in cognn-infer)")
    p.add_argument("--speed", type=float, default=None,
                   help="replay speed for files (1 = real time, 0 = as fast as possible; scripted default 0)")
    return p


def _check_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.model is not None:
        from cognn.models import names

        if a.model not in names():
            p.error(f"unknown model {a.model!r}; choose one of: {', '.join(names('continual'))}")
    for flag, path in (("--source", a.source), ("--skeleton-video", a.skeleton_video)):
        if path is not None and not Path(path).is_file():
            p.error(f"{flag}: {path}: no such file")
    if a.weights is not None:  # a file, or a bundled model's name (kinetics400, gestures, any manifest entry)
        from cognn.errors import CognnError
        from cognn.weights import resolve_weights

        try:
            a.weights = str(resolve_weights(a.weights))
        except CognnError as e:
            p.error(f"--weights: {e}")
    if a.frames is not None and a.frames < 1:
        p.error(f"--frames must be at least 1, got {a.frames}")
    if a.top_k is not None and a.top_k < 1:
        p.error(f"--top-k must be at least 1, got {a.top_k}")
    if a.camera is not None:
        from cognn.errors import CognnError
        from cognn.sources import parse_camera

        try:
            a.camera = parse_camera(a.camera)
        except CognnError as e:
            p.error(str(e))
    if a.screenshot is not None:
        if a.frames is None:
            p.error("--screenshot needs --frames N (how many frames to play first)")
        parent = Path(a.screenshot).resolve().parent
        if not parent.is_dir():
            p.error(f"--screenshot: the folder {parent} does not exist")
    if a.events is not None:
        from cognn.atomic import OutputError, check_output

        if not a.events.lower().endswith((".jsonl", ".csv")):
            p.error(f"--events writes .jsonl or .csv files, not {a.events}")
        try:
            check_output(a.events, "--events", tuple(x for x in (a.source, a.skeleton_video) if x))
        except OutputError as e:
            p.error(str(e))
    if a.speed is not None and a.speed < 0:
        p.error(f"--speed must be >= 0, got {a.speed}")


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the exit status."""
    try:
        import PyQt6.QtWidgets  # noqa: F401
    except ImportError:
        print(f"{PROG}: error: the app needs PyQt6, which is not installed; install it with "
              "pip install -c constraints.txt -e \".[app]\" (from the cognn folder)", file=sys.stderr)
        return 2
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
        _check_args(parser, a)
    except SystemExit as e:
        return int(e.code or 0)
    from PyQt6.QtWidgets import QApplication

    from .display import display_problem

    problem = None if QApplication.instance() is not None else display_problem()
    if problem is not None:  # Qt would abort the process (exit 134) with a message naming one library
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 3
    # OpenCV logs every failed camera probe to stderr; the app reports camera problems itself, in one sentence
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    scripted = a.frames is not None
    previous_handler = _quiet_qt_noise()
    previous_format = warnings.formatwarning
    warnings.formatwarning = lambda message, *_args, **_kw: f"{PROG}: warning: {message}\n"
    try:
        return _run(a, scripted)
    finally:  # main() may run inside another program (tests): leave its handlers as they were
        warnings.formatwarning = previous_format
        _restore_qt_handler(previous_handler)


def _weights_exist(weights: str) -> bool:
    """A weights file, or a bundled model's short name (``kinetics400``)."""
    from cognn.weights import resolve_weights

    if Path(weights).is_file():
        return True
    try:
        resolve_weights(weights)
    except Exception:  # not a bundled name either
        return False
    return True


def _run(a: argparse.Namespace, scripted: bool) -> int:
    from PyQt6.QtCore import QEventLoop, QTimer
    from PyQt6.QtWidgets import QApplication

    from cognn.sources import DEMO_RECORDING

    from .settings import AppSettings
    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(PROG)
    # a scripted run neither depends on nor changes the user's remembered session (reproducible pictures)
    settings = AppSettings.ephemeral() if scripted else AppSettings()
    model = a.model if a.model is not None else (None if a.weights else settings.model)
    weights = a.weights if a.weights is not None else (None if a.model else settings.weights)
    if a.weights is None and weights is not None and not _weights_exist(weights):
        weights = None  # a remembered file that has gone away
    top_k = a.top_k or settings.top_k or 5
    precision = a.precision or settings.precision or "fp32"
    win = MainWindow(model=model, weights=weights, top_k=top_k, settings=settings, scripted=scripted,
                     mirror=a.mirror, per_person=a.per_person, precision=precision)
    if scripted:
        win.resize(SCRIPTED_SIZE[0], SCRIPTED_SIZE[1])
    status = {"code": 0}

    # the run's own event loop ends when the window closes: QApplication.quit() would leave the application
    # unable to run event loops afterwards (a later window in the same process would never get its signals)
    loop = QEventLoop()
    win.closed.connect(loop.quit)
    quit_on_last = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)

    def fail(message: str) -> None:
        if scripted:
            status["code"] = 2
            win.close()

    win.error_shown.connect(fail)
    if scripted:
        win.capture.set_limit(a.frames)
        _script(win, a, status)
    win.show()
    spec = a.camera if a.camera is not None else a.source
    if spec is None and scripted and DEMO_RECORDING.is_file():
        spec = str(DEMO_RECORDING)  # a scripted first start (--frames without a source): the bundled demo
    elif spec is None and not scripted:
        last = settings.last_source
        if last and not last.startswith("camera:") and Path(last).is_file():
            spec = last
        elif DEMO_RECORDING.is_file():  # a first start: the bundled demo recording, so there is something to see
            spec = str(DEMO_RECORDING)
    if spec is not None:
        speed = a.speed if a.speed is not None else (0.0 if scripted else None)
        QTimer.singleShot(0, lambda: win.open_source(spec, skeleton_video=a.skeleton_video, speed=speed))
    try:
        if win.isVisible():
            loop.exec()
    finally:
        win.shutdown()  # the stream ends: the events going on close
        app.setQuitOnLastWindowClosed(quit_on_last)
    if a.events is not None:
        _write_events(win, a.events, status)
    return status["code"]


def _write_events(win: Any, path: str, status: dict) -> None:
    """The session's events to ``path``; none is written where no frame came (a camera that failed to open)."""
    if win.frames_shown == 0:
        print(f"{PROG}: no frame came, so no events file was written ({path})", file=sys.stderr)
        status["code"] = status["code"] or 1
        return
    from cognn.errors import CognnError
    from cognn.live.events import write_events

    try:
        write_events(path, win.all_events())
    except (OSError, ValueError, CognnError) as exc:
        print(f"{PROG}: error: cannot write the events to {path}: {exc}", file=sys.stderr)
        status["code"] = 2
        return
    print(f"{PROG}: wrote {len(win.all_events())} action events to {path}", file=sys.stderr)


def _quiet_qt_noise():
    """Drop Qt's "does not support propagateSizeHints()" line (offscreen/minimal platforms print it once per window
    and it means nothing to a user); every other Qt message still goes to stderr. Returns the previous handler."""
    from PyQt6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    return qInstallMessageHandler(handler)


def _restore_qt_handler(previous) -> None:
    from PyQt6.QtCore import qInstallMessageHandler

    qInstallMessageHandler(previous)


def _script(win: Any, a: argparse.Namespace, status: dict) -> None:
    """Play ``a.frames`` frames, save ``a.screenshot``, close (the end of the file also counts as done)."""
    from PyQt6.QtCore import QTimer

    done = {"fired": False}

    def finish(note: str = "") -> None:
        if done["fired"]:
            return
        done["fired"] = True
        win.pause()
        if note:
            print(f"{PROG}: {note}", file=sys.stderr)

        def save() -> None:
            if a.screenshot is not None:
                if win.save_screenshot(a.screenshot):
                    print(f"{PROG}: saved the screenshot to {a.screenshot} (after {win.frames_shown} frames)",
                          file=sys.stderr)
                else:
                    status["code"] = 2
            win.close()

        QTimer.singleShot(50, save)  # let the last frame paint first

    def check(_=None) -> None:
        if win.frames_shown >= a.frames:
            finish()

    win.frame_shown.connect(check)
    win.source_ended.connect(lambda: finish(f"the source ended after {win.frames_shown} frames"))

if __name__ == "__main__":
    sys.exit(main())
