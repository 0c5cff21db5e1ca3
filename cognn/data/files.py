"""Input files and input values, checked the same way by every reader: one sentence naming the file and the problem.

* :func:`check_input_file` refuses, before anything is opened, a path that is not a regular file (a folder, a fifo, a
  device, a socket, a broken or looping symbolic link) or that is larger than a bound; symbolic links to regular files
  are followed. :func:`read_bytes` reads such a file whole, never blocking on a fifo swapped in meanwhile.
* :func:`zero_bad_joints` zeroes the joints that hold a non-finite value (NaN, inf) or an absurd one (beyond
  :data:`VALUE_LIMIT` in absolute value), so that no reader passes such values on; :func:`warn_zeroed` tells the user
  with an :class:`InputValueWarning` naming the file and the count. A zero joint is what every cognn format already
  uses for "not tracked", so the rest of a recording stays usable.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError

__all__ = ["MAX_INPUT_BYTES", "MAX_TEXT_BYTES", "MAX_JSON_DEPTH", "MAX_JSON_DIGITS", "MAX_LINE_BYTES", "VALUE_LIMIT",
           "InputValueWarning", "check_input_file", "read_bytes", "read_text", "parse_json", "json_depth", "excerpt",
           "longest_line", "check_line_length", "kind_of",
           "file_digest", "zero_bad_joints", "warn_values", "warn_zeroed"]

#: largest text input (NTU ``.skeleton``, Kinetics JSON) read whole: 64 MiB. The real files are 0.1-2 MB (an NTU
#: sample of 300 frames and 2 bodies is about 1.5 MB); parsing needs about 25 bytes of memory per input byte.
MAX_INPUT_BYTES = 64 * 2**20
#: the most cognn reads of a small text file the user names (class lists, alarm policies, event files)
MAX_TEXT_BYTES = 16 * 2**20
#: deepest nesting of arrays and objects cognn parses in a JSON document (its own files need 6)
MAX_JSON_DEPTH = 64
#: most digits of a JSON integer (Python's own limit is 4300, with a message of its own; no field needs 20)
MAX_JSON_DIGITS = 1000
#: longest line of a line-based text input (class list, NTU ``.skeleton``, events): real lines are under 200 bytes
MAX_LINE_BYTES = 64 * 2**10
#: longest excerpt of an input quoted in a message
_EXCERPT = 40
#: joint values beyond this magnitude are treated as broken (metres, pixels and normalised coordinates are all far
#: smaller; squaring such a value in float32 would overflow to inf further down)
VALUE_LIMIT = 1e6


class InputValueWarning(UserWarning):
    """An input file held values that cognn replaced (non-finite or absurd joints zeroed, a bad attribute dropped)."""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 2**30 else f"{n / 2**30:.1f} GB"


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (fifo), not a regular file; cognn reads only regular files"
    if stat.S_ISCHR(mode):
        return "is a character device, not a regular file; cognn reads only regular files"
    if stat.S_ISBLK(mode):
        return "is a block device, not a regular file; cognn reads only regular files"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file; cognn reads only regular files"
    return "is not a regular file; cognn reads only regular files"


def check_input_file(path: str | os.PathLike, *, max_bytes: int | None = None) -> Path:
    """``path`` as a :class:`Path` if it is a readable regular file (symbolic links followed) of at most
    ``max_bytes`` bytes (no bound when None); otherwise :class:`InputFileError` saying what it is.

    Nothing is opened: a fifo or a device is recognised from its metadata, so the check never blocks.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise InputFileError(p, f"is a broken symbolic link (its target {os.readlink(p)} does not exist)") from None
        raise InputFileError(p, "file not found") from None
    except NotADirectoryError:
        raise InputFileError(p, "file not found (a part of the path is not a folder)") from None
    except PermissionError:
        raise InputFileError(p, "cannot read: permission denied") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputFileError(p, "is a symbolic link that loops (it never reaches a file)") from None
        if e.errno == errno.ENAMETOOLONG:
            raise InputFileError(p, "the file name is too long") from None
        raise InputFileError(p, f"cannot read: {e.strerror or e}") from None
    except ValueError:  # an embedded NUL byte
        raise InputFileError(str(path).replace("\0", "\\0"), "not a valid file name") from None
    problem = _kind(st.st_mode)
    if problem is not None:
        raise InputFileError(p, problem)
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputFileError(p, f"is {_mb(st.st_size)}, more than the {_mb(max_bytes)} cognn reads from this "
                                "kind of file (not a file of this kind?)")
    return p


def read_bytes(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The whole file, after :func:`check_input_file`; any problem raises :class:`InputFileError`.

    The file is opened without blocking and checked again through the open descriptor, so a fifo or a device that
    replaces the file between the check and the read is refused too; at most ``max_bytes`` bytes are ever read.
    """
    p = check_input_file(path, max_bytes=max_bytes)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise InputFileError(p, "is a directory, not a file") from None
    except FileNotFoundError:
        raise InputFileError(p, "file not found") from None
    except OSError as e:
        raise InputFileError(p, f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        problem = _kind(st.st_mode)
        if problem is not None:
            raise InputFileError(p, problem)
        chunks: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if total > max_bytes:
                raise InputFileError(p, f"is more than the {_mb(max_bytes)} cognn reads from this kind of file "
                                        "(it grew while being read?)")
        return b"".join(chunks)
    except OSError as e:
        raise InputFileError(p, f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike, what: str = "text", max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A small UTF-8 text file, read as :func:`read_bytes` reads (no fifo, device or directory; at most ``max_bytes``);
    :class:`InputFileError` names the file and says it is not ``what``."""
    data = read_bytes(path, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(Path(path), f"is not a UTF-8 {what} file (byte {e.start})") from None


def excerpt(text: str | bytes, limit: int = _EXCERPT) -> str:
    """At most ``limit`` characters of ``text`` as a quoted Python literal, with "..." when cut: what a message may
    echo of an input (never a whole 60 MB line)."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    cut = len(text) > limit
    return repr(text[:limit]) + ("..." if cut else "")


def kind_of(value: Any) -> str:
    """What a value read from a file is, in words a user knows (``null``, ``a list of 3 items``, ``text 'abc'``),
    never Python's type names such as ``NoneType``."""
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, (int, float)):
        return f"the number {value:.6g}" if isinstance(value, float) else (
            f"the number {value}" if abs(value) < 10**15 else "a very large number")
    if isinstance(value, str):
        return f"the text {excerpt(value)}"
    if isinstance(value, dict):
        return f"a map (JSON object) of {len(value)} entries"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    return "a value of another kind"


def longest_line(data: bytes) -> tuple[int, int]:
    """(length in bytes, 1-based number) of the longest line of ``data``, found without splitting it."""
    import numpy as np

    if not data:
        return 0, 1
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    bounds = np.concatenate(([-1], ends, [len(data)]))
    lengths = np.diff(bounds) - 1
    i = int(lengths.argmax())
    return int(lengths[i]), i + 1


def check_line_length(path: str | os.PathLike, data: bytes, what: str, limit: int = MAX_LINE_BYTES) -> None:
    """Refuse ``data`` (the bytes of ``path``) when a line is longer than ``limit`` bytes: it is not a ``what``
    file, and parsing it as one would take memory and time for nothing."""
    length, line = longest_line(data)
    if length > limit:
        raise InputFileError(Path(path), f"line of {_mb(length) if length >= 2**20 else f'{length:,} bytes'} "
                                         f"(longer than the {limit // 1024} KB of any line of {what} files; not such "
                                         "a file?)", line=line)


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


class _TooManyDigitsError(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_DIGITS:
        raise _TooManyDigitsError(digits)
    return int(text)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped), computed without recursion."""
    import numpy as np

    skeleton = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    if not skeleton:
        return 0
    a = np.frombuffer(skeleton, np.uint8)
    step = ((a == 91) | (a == 123)).astype(np.int32) - ((a == 93) | (a == 125)).astype(np.int32)
    return int(np.cumsum(step, dtype=np.int32).max(initial=0))


def parse_json(text: str, path: str | os.PathLike | None, what: str = "JSON", *,
               max_depth: int = MAX_JSON_DEPTH, line: int | None = None) -> Any:
    """``text`` parsed as JSON with bounded nesting (:data:`MAX_JSON_DEPTH`) and integers (:data:`MAX_JSON_DIGITS`
    digits); :class:`InputFileError` naming ``path`` (and ``line``) in one sentence, quoting nothing long."""
    where = None if path is None else Path(path)
    depth = json_depth(text)
    if depth > max_depth:
        raise InputFileError(where, f"invalid JSON ({what} file nested {depth:,} levels deep; cognn reads at "
                                    f"most {max_depth})", line=line)
    try:
        return json.loads(text, parse_int=_bounded_int)
    except _TooManyDigitsError as e:
        raise InputFileError(where, f"invalid JSON ({what} file with a number of {e.digits:,} digits; cognn reads "
                                    f"at most {MAX_JSON_DIGITS})", line=line) from None
    except json.JSONDecodeError as e:
        raise InputFileError(where, f"invalid JSON: {e.msg} (column {e.colno})",
                             line=e.lineno if line is None else line) from None
    except (ValueError, RecursionError) as e:
        raise InputFileError(where, f"invalid JSON ({type(e).__name__})", line=line) from None


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks (the weights manifest lists sha256; caches key on sha1)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def zero_bad_joints(x: np.ndarray, channel_axis: int, limit: float = VALUE_LIMIT) -> tuple[np.ndarray, int]:
    """``x`` with every joint zeroed (all its channels) where any channel is non-finite or beyond ``limit`` in
    absolute value, and the number of joints zeroed. ``x`` is returned as it is (not copied) when nothing is wrong."""
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(np.abs(x) <= limit)  # NaN compares False, so it counts as bad
    if not bad.any():
        return x, 0
    joint_bad = bad.any(axis=channel_axis, keepdims=True)
    out = np.where(joint_bad, np.zeros((), x.dtype), x)
    return out, int(joint_bad.sum())


def warn_values(path: str | os.PathLike, problem: str, *, stacklevel: int = 3) -> None:
    """Warn (:class:`InputValueWarning`) ``"<path>: <problem>"``: values of ``path`` were replaced."""
    warnings.warn(InputValueWarning(f"{path}: {problem}"), stacklevel=stacklevel)


def warn_zeroed(path: str | os.PathLike, count: int, where: str = "", *, stacklevel: int = 4) -> None:
    """Warn (:class:`InputValueWarning`) that ``count`` joints of ``path`` were zeroed (nothing when ``count`` is 0);
    ``where`` (e.g. ``"sample 3"``) is added in brackets."""
    if count:
        loc = f" ({where})" if where else ""
        warn_values(f"{path}{loc}", f"{count} joint(s) held non-finite or absurd values (NaN, inf or beyond "
                                    f"{VALUE_LIMIT:g}) and were zeroed", stacklevel=stacklevel)
