"""One continual model stepping many streams in batches, each stream answered as if it ran alone.

:class:`BatchedModel` owns a :class:`~cognn.models.base.CoSkeletonNet` and the step states of every stream
(:class:`StreamModel`, one per stream). :meth:`BatchedModel.step_many` takes a frame of each of some streams and runs
them as few batched ``forward_step`` calls as their phases allow (one, for streams past warm-up of a stride-1 model;
:mod:`cognn.models.stacking`): the states of the streams are stacked into the batch, stepped, and split back as views.
When the same streams step together again, the batch state is used as it is (no copy): a pool of slots that is only
rebuilt when a stream joins, leaves or skips a tick.

:class:`StreamModel` is what one stream's :class:`~cognn.online.OnlineRecognizer` sees as its model: the shared net's
attributes, its own state (``clean_state``/``get_state``/``set_state``, ``steps_seen``, ``ready``) and a
``forward_step`` that waits for the batch. So a :class:`~cognn.live.session.Session` per stream runs unchanged.

:class:`Batcher` gathers the steps of the streams being worked on in threads (one thread per stream, each in its
session's ``step``): a batch runs when every stream that is being worked on waits for its model step, so the batch
holds every stream with a frame waiting at that moment, and a stream's answer never waits for a frame that has not
arrived.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..models.base import CoSkeletonNet
from ..models.stacking import can_batch, phase_key, ready_after, split, stack

__all__ = ["BatchedModel", "StreamModel", "Batcher", "BatchStats"]


@dataclass
class BatchStats:
    """Counters of a :class:`BatchedModel`: batched calls, rows stepped, time in the step."""

    calls: int = 0
    rows: int = 0
    restacks: int = 0
    seconds: float = 0.0
    largest: int = 0

    @property
    def mean_batch(self) -> float:
        return self.rows / self.calls if self.calls else 0.0


class StreamModel:
    """One stream's view of a :class:`BatchedModel`: the net's attributes, the stream's own step state."""

    def __init__(self, owner: BatchedModel, serial: int = 0) -> None:
        self._owner = owner
        #: the stream's place in a batch (streams keep their order, so an unchanged batch is reused as it is)
        self.serial = serial
        #: the stream's normalised step state (None: fresh)
        self.state: dict | None = None
        self.steps_seen = 0
        self._ready = False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._owner.net, name)

    @property
    def warm_start(self) -> bool:
        return bool(self._owner.net.warm_start)

    @warm_start.setter
    def warm_start(self, value: bool) -> None:
        if bool(value) != bool(self._owner.net.warm_start):
            raise ValueError("every stream of a batched model shares its warm start setting")

    @property
    def ready(self) -> bool:
        return self._ready

    def to(self, *args: Any, **kwargs: Any) -> StreamModel:
        """The shared net stays where the :class:`BatchedModel` put it."""
        return self

    def eval(self) -> StreamModel:
        return self

    def clean_state(self) -> None:
        self.state = None
        self.steps_seen = 0
        self._ready = False

    def get_state(self, copy: bool = True) -> dict:
        state = self.state
        if copy and state is not None:
            from ..models.base import _clone

            state = _clone(state)
        return {"state": state, "steps": self.steps_seen, "ready": self._ready}

    def set_state(self, state: dict) -> None:
        self.state, self.steps_seen, self._ready = state["state"], state["steps"], state["ready"]

    def forward_step(self, frame: Tensor, update_state: bool = True) -> Tensor | None:
        """One frame ``(1, C, V, M)`` of this stream, stepped in the next batch."""
        if not update_state:
            saved = self.get_state()
            try:
                return self.forward_step(frame)
            finally:
                self.set_state(saved)
        return self._owner.step(self, frame)


class BatchedModel:
    """A continual net shared by many :class:`StreamModel` streams (see the module docstring)."""

    def __init__(self, net: CoSkeletonNet) -> None:
        if not isinstance(net, CoSkeletonNet):
            raise TypeError("a batched model steps a continual cognn model (CoSkeletonNet)")
        self.net = net.eval()
        self.batching = can_batch(net)
        self._bridged = bool(net.warm_start) and net.early_mode == "bridged"
        self.stats = BatchStats()
        self.batcher: Batcher | None = None
        #: per phase key: the streams of the latest batch and the batch state they were split from
        self._held: dict[tuple, tuple[tuple[int, ...], list[dict], dict]] = {}
        self._lock = threading.Lock()
        self._serial = 0

    def stream(self) -> StreamModel:
        """A new stream (fresh state)."""
        self._serial += 1
        return StreamModel(self, self._serial)

    def step(self, stream: StreamModel, frame: Tensor) -> Tensor | None:
        """One stream's frame: through the :class:`Batcher` when one is attached, else stepped alone."""
        if self.batcher is not None:
            return self.batcher.step(stream, frame)
        return self.step_many([(stream, frame)])[0]

    def step_many(self, items: Sequence[tuple[StreamModel, Tensor]]) -> list[Tensor | None]:
        """A frame ``(1, C, V, M)`` for each of some distinct streams: their answers (logits ``(1, K)`` or None), in
        order, from as few batched steps as their phases allow."""
        with self._lock, torch.inference_mode():
            results: list[Tensor | None] = [None] * len(items)
            groups: dict[tuple, list[int]] = {}
            for i, (s, _) in enumerate(items):
                key = phase_key(self.net, s.state) if self.batching else ("alone", i)
                if key == ("fresh",) and self._bridged:
                    key = ("alone", i)  # a bridged warm-up keeps a second stream in its state: stepped alone
                groups.setdefault(key, []).append(i)
            held = self._held
            self._held = {}
            for key, idx in groups.items():
                idx.sort(key=lambda i: items[i][0].serial)  # the same streams in the same order as last time
                self._run(key, idx, items, results, held.get(key))
            return results

    def _run(self, key: tuple, idx: list[int], items: Sequence[tuple[StreamModel, Tensor]],
             results: list[Tensor | None], held: tuple[tuple[int, ...], list[dict], dict] | None) -> None:
        net = self.net
        streams = [items[i][0] for i in idx]
        frames = torch.cat([items[i][1] for i in idx]) if len(idx) > 1 else items[idx[0]][1]
        ids = tuple(id(s) for s in streams)
        if key == ("fresh",) or (len(streams) == 1 and streams[0].state is None):
            net.clean_state()
        elif held is not None and held[0] == ids and all(s.state is h for s, h in zip(streams, held[1])):
            net.set_state(held[2])  # the same streams as last time, untouched since: the batch state as it is
        elif len(streams) == 1:
            net.set_state(streams[0].state)  # type: ignore[arg-type]  # not None: checked above
        else:
            self.stats.restacks += 1
            net.set_state(stack(net, [s.state for s in streams]))  # type: ignore[misc]
        t0 = time.perf_counter()
        y = net.forward_step(frames)
        self.stats.seconds += time.perf_counter() - t0
        self.stats.calls += 1
        self.stats.rows += len(idx)
        self.stats.largest = max(self.stats.largest, len(idx))
        state = net.get_state(copy=False)
        net.clean_state()  # the net holds no stream's buffers between batches
        if state.get("bridge") is not None:
            parts = [state]  # a bridged warm-up steps alone (phase_key): its state as it is
        else:
            parts = split(net, state, [1] * len(streams))
        for j, (s, part) in enumerate(zip(streams, parts)):
            s.state = part
            s.steps_seen += 1
            s._ready = ready_after(net, state, s.steps_seen)
            results[idx[j]] = None if y is None else y[j:j + 1]
        if len(streams) > 1:
            self._held[phase_key(net, parts[0])] = (ids, parts, state)


class Batcher:
    """Runs the model steps of streams worked on in threads as batches (see the module docstring).

    A stream is *busy* from the moment a frame is queued for it (:meth:`enter`) until its worker finds its queue empty
    (:meth:`leave`); model steps go through :meth:`step`, which waits until every busy stream waits too, then one of
    them runs the batch for all. So a batch holds every stream with a frame waiting, and waits for nothing else.
    """

    def __init__(self, model: BatchedModel) -> None:
        self.model = model
        self._cond = threading.Condition()
        self._busy = 0
        self._pending: list[tuple[StreamModel, Tensor, list[Any]]] = []
        self._running = False
        self._holding = 0
        model.batcher = self

    def enter(self) -> None:
        """A stream has a frame waiting: the next batch waits for its step."""
        with self._cond:
            self._busy += 1

    def leave(self) -> None:
        """A stream has no frame waiting any more."""
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """No batch starts inside: frames queued for many streams at once step as one batch after it."""
        with self._cond:
            self._holding += 1
        try:
            yield
        finally:
            with self._cond:
                self._holding -= 1
                self._cond.notify_all()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Around one piece of work with model steps, in a thread of its own (busy while inside)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def step(self, stream: StreamModel, frame: Tensor) -> Tensor | None:
        box: list[Any] = []
        with self._cond:
            self._pending.append((stream, frame, box))
            self._cond.notify_all()
            while not box:
                if (not self._running and not self._holding and self._pending
                        and len(self._pending) >= self._busy):
                    batch, self._pending = self._pending, []
                    self._running = True
                    self._cond.release()
                    try:
                        outs: list[Any] = self._run(batch)
                    finally:
                        self._cond.acquire()
                        self._running = False
                    for (_, _, b), out in zip(batch, outs):
                        b.append(out)
                    self._cond.notify_all()
                else:
                    self._cond.wait()
        out = box[0]
        if isinstance(out, BaseException):
            raise out
        return out

    def _run(self, batch: list[tuple[StreamModel, Tensor, list[Any]]]) -> list[Any]:
        try:
            return list(self.model.step_many([(s, f) for s, f, _ in batch]))
        except Exception as e:  # every stream of the batch gets the error
            return [e] * len(batch)
