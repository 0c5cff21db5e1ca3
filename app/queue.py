"""Thread plumbing of the app: the bounded frame queue between the workers, and starting/stopping worker threads."""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QThread

__all__ = ["FrameQueue", "Commands", "start_worker", "stop_worker"]


class FrameQueue:
    """A bounded FIFO shared by two threads that can drop its oldest item instead of blocking the producer."""

    def __init__(self, maxsize: int = 2) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._cv = threading.Condition()
        self.dropped = 0  # items dropped since creation

    def __len__(self) -> int:
        with self._cv:
            return len(self._items)

    def put(self, item: Any, *, drop: bool = True, abort: Callable[[], bool] | None = None) -> bool:
        """Add ``item``. When full, ``drop=True`` discards the oldest item; ``drop=False`` waits for room until
        ``abort()`` turns true (then ``item`` is discarded and False returned)."""
        with self._cv:
            while len(self._items) >= self.maxsize:
                if drop:
                    self._items.popleft()
                    self.dropped += 1
                    continue
                if abort is not None and abort():
                    return False
                self._cv.wait(0.05)
            self._items.append(item)
            self._cv.notify_all()
            return True

    def get(self, timeout: float = 0.05) -> Any | None:
        """The oldest item, or None when nothing arrives within ``timeout`` seconds."""
        with self._cv:
            if not self._items:
                self._cv.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cv.notify_all()
            return item

    def clear(self) -> int:
        """Drop everything waiting; returns how many items were dropped."""
        with self._cv:
            n = len(self._items)
            self._items.clear()
            self._cv.notify_all()
            return n


class Commands:
    """A condition variable plus a stop flag: how the UI thread talks to a worker's loop."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.stopped = False


def start_worker(worker: QObject, name: str) -> QThread:
    """Move ``worker`` to a new QThread called ``name`` whose start runs ``worker.run``; returns the started thread."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)  # type: ignore[attr-defined]
    thread.start()
    return thread


def stop_worker(worker: Any, thread: QThread | None, timeout_ms: int = 5000) -> bool:
    """Ask ``worker`` to stop, end its thread's event loop and wait for it; True when the thread has finished."""
    worker.stop()
    if thread is None:
        return True
    thread.quit()
    return thread.wait(timeout_ms)
