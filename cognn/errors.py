"""The one error type cognn raises for bad user input (files, arguments, shapes)."""
from __future__ import annotations

from pathlib import Path


class CognnError(Exception):
    """Base class for errors that are the user's to fix; the CLIs print them as one sentence."""


class InputFileError(CognnError, ValueError):
    """A file that cannot be read as what it claims to be.

    The message always names the file and, where known, the line or field that is wrong.
    """

    def __init__(self, path: str | Path | None, problem: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        self.line = line
        self.field = field
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        loc = f" ({', '.join(where)})" if where else ""
        name = self.path if self.path is not None else "<input>"
        super().__init__(f"{name}{loc}: {problem}")
