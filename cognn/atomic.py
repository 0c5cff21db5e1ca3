"""Outputs that appear whole or not at all: every writer in cognn goes through :class:`AtomicOutput`.

A file is written under a unique temporary name in the target's own folder (created exclusively, so two runs
writing the same target never share it; with the umask's permissions, as any new file) and renamed over the target
only when it is complete. A failed or interrupted run removes its temporary file; a run killed outright leaves one
``.NAME.PID-TOKEN.partial[.ext]`` beside the target, which the next run writing that target removes and names
(:func:`clean_stale`). :func:`check_output` refuses, before anything is created, an output that is one of the inputs,
a folder, a device or a fifo, or that lies in a folder that does not exist or cannot be written.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

from .errors import CognnError

__all__ = ["AtomicOutput", "OutputError", "check_output", "clean_stale", "is_stream", "partial_name", "same_file"]

#: longest file name most file systems take (bytes)
NAME_MAX = 255
_TAG = ".partial"


class OutputError(CognnError):
    """An output path that cannot or must not be written (one sentence naming it)."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (hard links and symlinks included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def check_output(path: str | os.PathLike, what: str = "output", inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """The output ``path`` as a :class:`Path`, or :class:`OutputError` saying why it cannot be written.

    Refused: one of ``inputs`` (it would be destroyed), an existing folder, block device or socket, a folder that
    does not exist, is not a folder, or cannot be written. A character device or a fifo (``/dev/null``, a pipe) is
    written directly (see :attr:`AtomicOutput.direct`).
    """
    p = Path(path).expanduser()
    for src in inputs:
        if same_file(p, src):
            raise OutputError(f"{what} {p} is also an input; write it somewhere else (the input would be lost)")
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"{what} {p} cannot be used ({e.strerror or e})") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{what} {p} is a folder; give a file name")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise OutputError(f"{what} {p} is not a regular file (a block device or socket); give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"the folder of {what} {p} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{what} {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {p} cannot be written: no permission to create files in {parent}")
    return p


def partial_name(path: Path, token: str, keep_suffix: bool) -> str:
    """``.NAME.TOKEN.partial`` (``+ .ext`` with ``keep_suffix``), with NAME shortened to fit :data:`NAME_MAX`."""
    suffix = path.suffix if keep_suffix else ""
    tail = f".{token}{_TAG}{suffix}"
    room = NAME_MAX - 1 - len(tail.encode())
    name = path.name.encode()[:room].decode("utf-8", "ignore")
    return f".{name}{tail}"


def is_stream(path: Path) -> bool:
    """True for an existing character device or fifo (written in place, never renamed over)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed runs left beside ``path``; returns what was removed.

    Only files of processes that no longer exist are removed: a run writing the same target right now keeps its own.
    """
    p = Path(path).expanduser()
    parent = p.parent if str(p.parent) else Path(".")
    stem = partial_name(p, "", keep_suffix=False).split(f".{_TAG}")[0]  # ".NAME" as shortened
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not name.startswith(stem + ".") or _TAG not in name:
            continue
        token = name[len(stem) + 1:].split(_TAG)[0]
        pid_text = token.split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        try:
            if entry.is_file() and not entry.is_symlink():
                entry.unlink()
                removed.append(entry)
        except OSError:
            pass
    return removed


class AtomicOutput:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit` (or a clean ``with`` exit).

    ``keep_suffix`` ends the temporary name with the target's extension (for writers that choose a format by it,
    such as video writers). :attr:`temp` is created empty at once (exclusively, mode ``0o666`` less the umask); a
    writer may reopen it by name. :meth:`abort` (or an exception in the ``with`` block) removes it.
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "output",
                 inputs: tuple[str | os.PathLike, ...] = (), keep_suffix: bool = False) -> None:
        self.path = check_output(path, what, inputs)
        self.what = what
        self.done = True  # nothing to clean up until the temporary file exists
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
        while True:
            token = f"{os.getpid()}-{secrets.token_hex(4)}"
            temp = parent / partial_name(self.path, token, keep_suffix)
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            except OSError as e:
                raise OutputError(f"{what} {self.path} cannot be written ({e.strerror or e})") from None
            os.close(fd)
            break
        self.temp = temp
        self.done = False

    def commit(self) -> Path:
        """Rename the temporary file to the target; returns the target."""
        if self.done or self.direct:
            self.done = True
            return self.path
        try:
            os.replace(self.temp, self.path)
        except OSError as e:
            self.abort()
            raise OutputError(f"{self.what} {self.path} could not be written ({e.strerror or e})") from None
        self.done = True
        return self.path

    def abort(self) -> None:
        """Remove the temporary file (the target, if it existed before, is left as it was)."""
        if self.done:
            return
        self.done = True
        if self.direct:
            return
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "done", True):
            self.abort()
