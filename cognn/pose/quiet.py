"""Keeping native libraries' log lines off the user's terminal (MediaPipe, LiteRT and OpenCV write to fd 2 directly).

:func:`stderr_silenced` sends file descriptor 2 to a scratch file while native code runs, and on the way out passes
on every line that is not a native log line: text Python threads write meanwhile (a progress line, a warning) still
reaches the terminal, a line later. Process-wide: fd 2 is one per process, so callers in several threads share one
redirect, counted, and the real stderr comes back when the last one leaves (two overlapping plain redirects would
otherwise restore each other's /dev/null).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

__all__ = ["stderr_silenced", "opencv_quiet", "is_native_log_line"]

#: the log lines of MediaPipe (absl/glog), LiteRT/TensorFlow Lite, OpenCV and FFmpeg (through OpenCV)
_NATIVE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.\-/]+:\d+\] "  # absl / glog
    rb"|(?:INFO|WARNING|ERROR|VERBOSE): (?:\[[\w.\-/]+:\d+\] |Created TensorFlow Lite "
    rb"|Logging before InitGoogle|All log messages before absl)"  # LiteRT / TF Lite
    rb"|\[ ?(?:WARN|ERROR|INFO|DEBUG|FATAL)(?::\d+)?(?:@[\d.]+)?\] "  # OpenCV
    rb"|\[[\w\-]+ @ 0x[0-9a-f]+\] )")  # FFmpeg


def is_native_log_line(line: bytes) -> bool:
    """Whether ``line`` is a native library's log line (dropped while :func:`stderr_silenced` is on)."""
    return _NATIVE.match(line) is not None


#: the scratch file is emptied once this much of it has been passed on
_KEEP_AT_MOST = 1 << 20


class _Redirect:
    """The one fd-2 redirect of this process (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved: int | None = None
        self.scratch: IO[bytes] | None = None
        self.read_to = 0  # bytes of the scratch file already passed on or dropped

    def enter(self) -> bool:
        with self.lock:
            if self.depth == 0:
                try:
                    sys.stderr.flush()
                except (AttributeError, ValueError, OSError):
                    pass
                try:
                    saved = os.dup(2)
                except OSError:  # no fd 2 (some embedded interpreters)
                    return False
                if self.scratch is None:
                    self.scratch = tempfile.TemporaryFile(prefix="cognn-stderr-")
                os.dup2(self.scratch.fileno(), 2)
                self.saved = saved
            self.depth += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth > 0:
                self._pass_on(self.saved, whole_lines=True)
                return
            saved, self.saved = self.saved, None
            if saved is None:
                return
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            self._pass_on(2, whole_lines=False)
            if self.read_to > _KEEP_AT_MOST and self.scratch is not None:  # now and then, not each time: a write
                # that had found fd 2 just before it came back may land late, and is passed on next time
                os.ftruncate(self.scratch.fileno(), 0)
                os.lseek(self.scratch.fileno(), 0, os.SEEK_SET)
                self.read_to = 0

    def flush(self) -> None:
        """Pass on what is left (at exit: a write that landed just after the last redirect ended)."""
        with self.lock:
            if self.depth == 0:
                self._pass_on(2, whole_lines=False)

    def _pass_on(self, fd: int | None, whole_lines: bool) -> None:
        """The scratch file's new lines that are not native log lines, written to ``fd`` (the real stderr)."""
        if fd is None or self.scratch is None:
            return
        data = _read_from(self.scratch.fileno(), self.read_to, shared_offset=whole_lines)
        if whole_lines:
            data = data[:data.rfind(b"\n") + 1]
        self.read_to += len(data)
        kept = b"".join(line for line in data.splitlines(keepends=True) if not is_native_log_line(line))
        with contextlib.suppress(OSError):
            while kept:
                kept = kept[os.write(fd, kept):]


def _read_from(fd: int, offset: int, shared_offset: bool) -> bytes:
    """The bytes of ``fd`` from ``offset`` on. With ``shared_offset`` (fd 2 still writes through the same file
    position) only ``os.pread`` may read, since seeking would move where the next write lands."""
    if not hasattr(os, "pread"):
        if shared_offset:
            return b""
        os.lseek(fd, offset, os.SEEK_SET)
        read = os.read
        return b"".join(iter(lambda: read(fd, 1 << 16), b""))
    chunks = []
    while chunk := os.pread(fd, 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


_REDIRECT = _Redirect()
atexit.register(_REDIRECT.flush)


@contextlib.contextmanager
def stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Native log lines written to file descriptor 2 meanwhile are dropped; other lines pass, on the way out."""
    if not enabled or not _REDIRECT.enter():
        yield
        return
    try:
        yield
    finally:
        _REDIRECT.leave()


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
