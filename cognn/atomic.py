"""Outputs that appear whole or not at all: every writer in cognn goes through :class:`AtomicOutput`.

A file is written under a unique temporary name in the target's own folder (created exclusively, so two runs
writing the same target never share it; with the umask's permissions, as any new file) and renamed over the target
only when it is complete (after an ``fsync``, so a crash right after the rename cannot leave an empty target). A
failed or interrupted run removes its temporary file; a run killed outright leaves one
``.NAME.PID-HOST-TOKEN.partial[.ext]`` beside the target, which the next run writing that target removes and names
(:func:`clean_stale`: only files of processes of this host that no longer exist). Long names are shortened so that
the temporary name always fits the file system's 255 bytes. :func:`check_output` refuses, before anything is created,
an output that is one of the inputs, a folder, a device or a fifo where a regular file is needed, or that lies in a
folder that does not exist or cannot be written.
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
import signal
import socket
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from .errors import CognnError

__all__ = ["AtomicOutput", "OutputError", "check_output", "check_outputs", "clean_stale", "is_stream", "partial_name",
           "same_file"]

#: longest file name most file systems take (bytes)
NAME_MAX = 255
_TAG = ".partial"
#: room kept for ".PID-HOST-RANDOM" whatever the pid: 10 digits of pid, 6 of host, 8 random, 3 separators
_TOKEN_ROOM = 1 + 10 + 1 + 6 + 1 + 8


class OutputError(CognnError):
    """An output path that cannot or must not be written (one sentence naming it)."""


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back for a few statements (a file created and recorded, renamed and marked
    done), so that Ctrl-C can never leave a temporary file that nothing will remove; a signal that came meanwhile is
    delivered at the end."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _host_tag() -> str:
    """6 hex digits naming this machine, so that a run never removes the temporary file of a run elsewhere (a folder
    shared over the network) whose process id merely does not exist here."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (hard links and symlinks included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            return False


def _reason(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "the disk is full"
    if e.errno == errno.EDQUOT:
        return "the disk quota is exceeded"
    if e.errno == errno.EFBIG:
        return "the file is larger than the system allows"
    if e.errno == errno.EROFS:
        return "the file system is read-only"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return e.strerror or str(e)


def _stat(path: str | os.PathLike) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


#: write ends of fifos found to have a reader, kept open until the process ends: closing the probe would end the
#: reader's input (it sees the end of its stream) before the real output is opened
_FIFO_PROBES: dict[str, int] = {}


def _check_fifo_reader(p: Path, what: str) -> None:
    """Refuse a named pipe that nothing reads (opening it would block forever); the check never blocks."""
    key = str(p)
    if key in _FIFO_PROBES:
        return
    try:
        fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise OutputError(f"{what} {p} is a named pipe (fifo) that no program reads (writing would wait "
                              "forever); start its reader first, or write to '-' (stdout) and pipe that") from None
        raise OutputError(f"{what} {p} cannot be used ({_reason(e)})") from None
    _FIFO_PROBES[key] = fd


def check_output(path: str | os.PathLike, what: str = "output", inputs: tuple[str | os.PathLike, ...] = (), *,
                 allow_stream: bool = True) -> Path:
    """The output ``path`` as a :class:`Path`, or :class:`OutputError` saying why it cannot be written.

    Refused: one of ``inputs`` (it would be destroyed), an existing folder, block device or socket, a folder that
    does not exist, is not a folder, or cannot be written. A character device or a fifo (``/dev/null``, a pipe) is
    written directly (see :attr:`AtomicOutput.direct`) when ``allow_stream``, else refused (formats such as HDF5
    need a regular file they can seek in).
    """
    p = Path(path).expanduser()
    if not str(path):
        raise OutputError(f"the {what} file name is empty")
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as e:
        raise OutputError(f"{what} {p} cannot be used ({_reason(e)})") from None
    except ValueError:
        raise OutputError(f"{what} {str(p)!r} is not a valid file name") from None
    if st is not None and inputs:
        key = (st.st_dev, st.st_ino)
        for src in inputs:
            s = _stat(src)
            if s is None:
                head = str(src).rpartition("#")[0]  # "file.h5#3": sample 3 of file.h5
                s = _stat(head) if head else None
            if s is not None and (s.st_dev, s.st_ino) == key:
                raise OutputError(f"{what} {p} is also an input ({src}); write it somewhere else (the input would "
                                  "be lost)")
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{what} {p} is a folder; give a file name")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            if not allow_stream:
                kind = "a character device" if stat.S_ISCHR(st.st_mode) else "a named pipe (fifo)"
                raise OutputError(f"{what} {p} is {kind}; this output must be a regular file")
            if stat.S_ISFIFO(st.st_mode):
                _check_fifo_reader(p, what)
        elif not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{what} {p} is not a regular file (a block device or socket); give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"{what} {p} cannot be written: the output folder does not exist ({parent})")
    if not parent.is_dir():
        raise OutputError(f"{what} {p} cannot be written: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {p} cannot be written: no permission to create files in {parent}")
    if len(p.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise OutputError(f"{what} {p} cannot be written: the file name is longer than {NAME_MAX} bytes")
    return p


def _identity(path: str | os.PathLike) -> tuple[Path, tuple[int, int] | None]:
    """The resolved path (symbolic links followed, ``./x`` and ``x`` alike) and, for an existing file, its
    (device, inode): two names of one file (a hard link) share the second."""
    p = Path(path).expanduser()
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError, ValueError):
        resolved = Path(os.path.abspath(p))
    st = _stat(p)
    return resolved, (None if st is None else (st.st_dev, st.st_ino))


def check_outputs(outputs: Sequence[tuple[str | os.PathLike, str]],
                  inputs: Sequence[tuple[str | os.PathLike, str]] = ()) -> None:
    """Refuse, before anything is written, a run whose outputs collide: an output that is any input of the run
    (recordings, weights, class lists, policies, the pose model) or another output of the same run.

    ``outputs`` and ``inputs`` are ``(path, what)`` pairs (``what`` such as ``"--events"``, ``"--weights"``);
    ``"-"`` (stdout) and character devices (``/dev/null``) are never compared. Paths are compared resolved
    (symbolic links followed) and, for existing files, by device and inode (hard links). Raises
    :class:`OutputError` naming both.
    """
    seen: list[tuple[Path, tuple[int, int] | None, str, str]] = []
    for path, what in inputs:
        text = str(path)
        if not text or text == "-":
            continue
        resolved, ident = _identity(text)
        if ident is None and "#" in text:  # "file.h5#3": sample 3 of file.h5
            resolved, ident = _identity(text.rpartition("#")[0])
        seen.append((resolved, ident, what, text))
    n_inputs = len(seen)
    for path, what in outputs:
        text = str(path)
        if not text or text == "-":
            continue
        st = _stat(text)
        if st is not None and stat.S_ISCHR(st.st_mode):  # /dev/null may take several outputs
            continue
        resolved, ident = _identity(text)
        for i, (other, other_ident, other_what, other_text) in enumerate(seen):
            if resolved == other or (ident is not None and ident == other_ident):
                if i < n_inputs:
                    raise OutputError(f"{what} {text} is the same file as the input {other_what} {other_text}; "
                                      "write it somewhere else (the input would be lost)")
                raise OutputError(f"{what} {text} is the same file as {other_what} {other_text}; give each output "
                                  "its own file (one would overwrite the other)")
        seen.append((resolved, ident, what, text))


def partial_name(path: Path, token: str, keep_suffix: bool) -> str:
    """``.NAME.TOKEN.partial`` (``+ .ext`` with ``keep_suffix``), with NAME shortened to fit :data:`NAME_MAX`.

    How much NAME is shortened does not depend on ``token`` (room is kept for the longest token), so every temporary
    file of one target starts with the same ``.NAME.``.
    """
    suffix = path.suffix if keep_suffix else ""
    room = NAME_MAX - 1 - _TOKEN_ROOM - len(_TAG) - len(suffix.encode("utf-8", "surrogateescape"))
    name = path.name.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore")
    return f".{name}.{token}{_TAG}{suffix}"


def is_stream(path: Path) -> bool:
    """True for an existing character device or fifo (written in place, never renamed over)."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed runs left beside ``path``; returns what was removed.

    Only files of processes of this host that no longer exist are removed: a run writing the same target right now,
    here or on another machine sharing the folder, keeps its own.
    """
    p = Path(path).expanduser()
    parent = p.parent if str(p.parent) else Path(".")
    host = _host_tag()
    stems = {partial_name(p, "", keep_suffix=k).split(f".{_TAG}")[0] + "." for k in (False, True)}
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        stem = next((s for s in stems if name.startswith(s)), None)
        if stem is None or _TAG not in name:
            continue
        token = name[len(stem):].split(_TAG)[0]
        parts = token.split("-")
        if len(parts) != 3 or not parts[0].isdigit() or parts[1] != host or _pid_alive(int(parts[0])):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


class AtomicOutput:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit` (or a clean ``with`` exit).

    ``keep_suffix`` ends the temporary name with the target's extension (for writers that choose a format by it,
    such as video writers). :attr:`temp` is created empty at once (exclusively, mode ``0o666`` less the umask); a
    writer may reopen it by name. :meth:`abort` (or an exception in the ``with`` block) removes it.
    ``allow_stream=False`` refuses a character device or fifo target (see :func:`check_output`).
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "output",
                 inputs: tuple[str | os.PathLike, ...] = (), keep_suffix: bool = False,
                 allow_stream: bool = True) -> None:
        self.done = True  # nothing to clean up until the temporary file exists
        self.path = check_output(path, what, inputs, allow_stream=allow_stream)
        self.what = what
        #: True for a character device or fifo target, written in place (no temporary file)
        self.direct = is_stream(self.path)
        if self.direct:
            self.cleaned: list[Path] = []
            self.temp = self.path
            self.done = False
            return
        #: temporary files of killed runs that were removed (callers may report them)
        self.cleaned = clean_stale(self.path)
        parent = self.path.parent if str(self.path.parent) else Path(".")
        host = _host_tag()
        while True:
            token = f"{os.getpid()}-{host}-{secrets.token_hex(4)}"
            temp = parent / partial_name(self.path, token, keep_suffix)
            with _signals_held():
                try:
                    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
                except FileExistsError:
                    continue
                except OSError as e:
                    why = "its folder does not accept new files" if e.errno == errno.ENOENT else _reason(e)
                    raise OutputError(f"{what} {self.path} cannot be written ({why})") from None
                os.close(fd)
                self.temp = temp
                self.done = False
            break

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it to the target; returns the target."""
        if self.done or self.direct:
            self.done = True
            return self.path
        try:
            fd = os.open(self.temp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            with _signals_held():
                os.replace(self.temp, self.path)
                self.done = True
        except OSError as e:
            self.abort()
            raise self.failed(e) from None
        return self.path

    def abort(self) -> None:
        """Remove the temporary file (the target, if it existed before, is left as it was)."""
        with _signals_held():
            if self.done:
                return
            self.done = True
            if self.direct:
                return
            try:
                self.temp.unlink()
            except OSError:
                pass

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
            if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
                # a full disk, a quota, a file too large: one sentence naming the output (the previous file, if
                # any, is untouched and no temporary file is left)
                raise self.failed(exc) from None

    def failed(self, e: OSError) -> OutputError:
        """The :class:`OutputError` saying that this output could not be written because of ``e``."""
        return OutputError(f"{self.what} {self.path} could not be written ({_reason(e)}); nothing was changed there")

    def __del__(self) -> None:
        if not getattr(self, "done", True):
            self.abort()
