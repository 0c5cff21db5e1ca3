"""What a run tells its user: one-line messages and warnings on stderr, tqdm bars only on a terminal, and nothing
from ranks other than 0."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["Reporter"]

T = TypeVar("T")


class Reporter:
    """Messages (``say``; silenced by ``quiet``), warnings (``warn``; always) and progress bars (terminal only)."""

    def __init__(self, *, quiet: bool = False, main: bool = True, bars: bool | None = None) -> None:
        self.quiet = quiet
        self.main = main
        tty = sys.stderr.isatty()
        self.bars = main and not quiet and (tty if bars is None else bars)
        self._epoch_bar = None

    def _write(self, msg: str) -> None:
        if self._epoch_bar is not None:
            self._epoch_bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def say(self, msg: str) -> None:
        """A progress message."""
        if self.main and not self.quiet:
            self._write(msg)

    def warn(self, msg: str) -> None:
        """A warning (shown even when quiet)."""
        if self.main:
            self._write(msg)

    def batches(self, iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T] | Iterable[T]:
        """``iterable`` with a transient bar (batches, rate, ETA) when bars are on."""
        if not self.bars:
            return iterable
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False, unit="batch", file=sys.stderr,
                    dynamic_ncols=True, position=1 if self._epoch_bar is not None else 0)

    def start_epochs(self, total: int, done: int) -> None:
        """Open the run's epoch bar (ETA for the whole run)."""
        if self.bars:
            from tqdm import tqdm

            self._epoch_bar = tqdm(total=total, initial=done, desc="training", unit="epoch", file=sys.stderr,
                                   dynamic_ncols=True, position=0)

    def epoch_done(self) -> None:
        if self._epoch_bar is not None:
            self._epoch_bar.update(1)

    def close(self) -> None:
        if self._epoch_bar is not None:
            self._epoch_bar.close()
            self._epoch_bar = None
