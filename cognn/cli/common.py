"""What every cognn command does the same way: parse, run, and turn user errors into one sentence and an exit code."""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import CognnError


def err(msg: str) -> None:
    """Print a message for the user on stderr (stdout is for results)."""
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def one_line_warnings(prog: str) -> Iterator[None]:
    """Warnings (a file whose bad joints were zeroed, untrained weights) printed as ``prog: warning: ...``, one line
    each, instead of Python's file-and-line form."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, *_args, **_kw: f"{prog}: warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = previous


#: signals that stop a run as Ctrl-C does: ``kill``, ``docker stop`` and systemd send SIGTERM, a closed terminal SIGHUP
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


#: the process that installed :func:`_as_interrupt` (a forked child inherits the handler but not this role)
_INSTALLED_BY: int | None = None


def _as_interrupt(signum: int, frame: Any) -> None:
    """Hand SIGTERM or SIGHUP to whatever handles Ctrl-C now (Python's own, :class:`WholeUnits`, a stop flag). In a
    forked child (a pool or data-loading worker, which ignores Ctrl-C) the signal does what it does by default: the
    parent stops its workers with SIGTERM."""
    import os

    if os.getpid() != _INSTALLED_BY:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler != signal.SIG_IGN:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP handled like Ctrl-C for the duration: the same clean stop (temporary files removed, what
    was written kept, exit 130) instead of dying on the spot with ``.partial`` files left behind. A signal set to be
    ignored (``nohup``) stays ignored. Only in the main thread (where Python runs signal handlers)."""
    global _INSTALLED_BY
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import os

    _INSTALLED_BY = os.getpid()
    previous = {}
    for s in STOP_SIGNALS:
        if signal.getsignal(s) == signal.SIG_DFL:
            previous[s] = signal.signal(s, _as_interrupt)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this (worker) process receive SIGTERM when its parent dies, so that no orphan goes on writing after the
    run was killed (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a watchdog thread polls the parent). A parent that
    died before this call is noticed at once."""
    import os

    set_ok = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            set_ok = libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            set_ok = False
    if parent_pid is None:
        import multiprocessing

        parent = multiprocessing.parent_process()
        parent_pid = parent.pid if parent is not None and parent.pid is not None else os.getppid()
    expected = parent_pid
    if not set_ok:
        def watch() -> None:
            import time

            while os.getppid() == expected:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="cognn-parent-watch", daemon=True).start()
    if os.getppid() != expected:  # the parent died before prctl: no signal would come
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held back (delivered at the end) while worker processes start: a process started
    meanwhile inherits the blocked mask, so a Ctrl-C during its start-up cannot kill its interpreter half-made
    ("Fatal Python error: init_sys_streams"); the worker unblocks them once its handlers are in place."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, *STOP_SIGNALS})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def unblock_signals() -> None:
    """Undo an inherited :func:`signals_blocked` mask (in a worker, after its handlers are set)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, *STOP_SIGNALS})


class WholeUnits:
    """Ctrl-C held back while one unit of work runs (a frame: its model step, its records and its rendered picture),
    raised as KeyboardInterrupt as soon as the unit is done; between units (waiting for the next frame) it interrupts
    at once. An interrupted run so keeps whole frames: as many records as rendered pictures. Only where Python's own
    handler is in place, in the main thread (a pool worker that ignores SIGINT is left alone)."""

    def __init__(self) -> None:
        self._inside = False
        self._pending = False
        self._previous: Any = None

    def __enter__(self) -> WholeUnits:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self._inside:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """One unit of work, never cut in the middle by Ctrl-C."""
        self._inside = True
        try:
            yield
        finally:
            self._inside = False
            if self._pending:  # also when the unit failed: the user asked to stop, which comes first
                self._pending = False
                raise KeyboardInterrupt


def run_main(prog: str, parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
             argv: Sequence[str] | None, *, interrupted: str = "interrupted") -> int:
    """Parse ``argv`` and call ``run(args)``: 2 for usage and user errors (``prog: error: ...``), 130 on Ctrl-C."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage and the message
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        with one_line_warnings(prog), stop_signals_as_interrupt():
            return run(args)
    except CognnError as e:
        err(f"{prog}: error: {e}")
        return 2
    except KeyboardInterrupt:
        err(f"{prog}: {interrupted}")
        return 130


def _int_at_least(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected at least {least} ({what}), got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of at least 0."""
    return _int_at_least(text, 0, "a whole number")


def weights_path(text: str) -> Path:
    """argparse type: a checkpoint path (checked when the command reads it), or a bundled model's name
    (``kinetics400``, ``gestures``, any manifest entry) as the path of its file; an unknown bare name is an error that
    lists the bundled ones."""
    import os

    from ..weights import resolve_weights

    given = Path(text).expanduser()
    if given.exists() or given.suffix or os.sep in text:
        return given
    try:
        return resolve_weights(text)
    except CognnError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
