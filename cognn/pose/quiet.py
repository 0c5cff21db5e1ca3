"""Keeping native libraries' log lines off the user's terminal (MediaPipe and OpenCV write to fd 2 directly)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["stderr_silenced", "opencv_quiet"]


@contextlib.contextmanager
def stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (native code writes there directly)."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def opencv_quiet() -> Iterator[None]:
    """OpenCV's logging off and fd 2 silenced: opening a missing camera or an odd file prints nothing."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    level = logging.getLogLevel() if logging is not None else None
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        with stderr_silenced():
            yield
    finally:
        if logging is not None and level is not None:
            logging.setLogLevel(level)
