"""Reading an input file's bytes with one error type: InputFileError naming the file and the problem."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputFileError


def read_bytes(path: str | Path) -> bytes:
    """The whole file; a missing file, a folder or an unreadable file raise :class:`InputFileError`."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(p, "file not found") from None
    except IsADirectoryError:
        raise InputFileError(p, "is a directory, not a file") from None
    except OSError as e:
        raise InputFileError(p, f"cannot read: {e.strerror or e}") from None
