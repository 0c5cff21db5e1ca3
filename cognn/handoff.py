"""Handing items from a background thread to a consumer through a bounded queue, without hanging at shutdown.

Every reader thread of cognn (video decoding ahead, network cameras, the session's prefetch) puts what it read on a
bounded queue; a plain ``put`` would block forever once the consumer has stopped taking. :func:`put_unless_stopped`
waits for room in short slices and gives up as soon as the stop event is set.
"""
from __future__ import annotations

import threading
from queue import Full, Queue
from typing import TypeVar

__all__ = ["put_unless_stopped"]

T = TypeVar("T")


def put_unless_stopped(queue: Queue[T], item: T, stop: threading.Event, poll: float = 0.05) -> bool:
    """Put ``item`` on ``queue`` as soon as there is room; False (item dropped) when ``stop`` was set first."""
    while not stop.is_set():
        try:
            queue.put(item, timeout=poll)
            return True
        except Full:
            continue
    return False
