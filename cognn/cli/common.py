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
        with one_line_warnings(prog):
            return run(args)
    except CognnError as e:
        err(f"{prog}: error: {e}")
        return 2
    except KeyboardInterrupt:
        err(f"{prog}: {interrupted}")
        return 130


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 (a positive integer), got {value}")
    return value


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
