"""The server's streams: one :class:`~cognn.live.session.Session` per stream, their model steps batched.

:class:`ModelHost` loads a model once (the checkpoint's recognizer settings, a :class:`~cognn.serve.batch.BatchedModel`
and its :class:`~cognn.serve.batch.Batcher`) and makes a session per stream whose recognizer's model is the stream's
:class:`~cognn.serve.batch.StreamModel`: resampling, labels, alarms, body checks, events and repetitions are the
session's own code, as in the app and ``cognn-infer``. :class:`ModelCatalog` says which models a client may name.

:class:`ServeStream` is one stream: a bounded queue of frames, a worker thread that steps them in order through the
session, and a callback that gets each answer (``cognn-infer``'s record fields, ``dropped``, the events that ended).
Back-pressure: a frame arriving when the stream's queue is full, when the stream sends faster than its allowance
(twice the model's rate, in a burst of the queue's length) or when the server holds more queued frames than its
capacity, pushes out that stream's oldest waiting frame (the newest is always kept, so a stream's last frame is always
answered); the next answer says how many were dropped.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CognnError
from ..live.records import make_records
from ..live.session import LiveConfig, LiveStep, Session
from ..online import OnlineRecognizer
from ..sources import SkeletonFrame
from .batch import BatchedModel, Batcher
from .protocol import ClientPeople, Hello, ProtocolError, domain_allows, image_skeleton, mediapipe_people, skeleton_of

__all__ = ["ModelCatalog", "ModelHost", "ServeStream", "Capacity"]


class ModelCatalog:
    """The models a client may name: the bundled ones (names and aliases of ``weights/manifest.json``) and the
    checkpoint files the server was started with (by file name, or stem). Never a path a client makes up."""

    def __init__(self, files: Sequence[str | Path] = (), *, default: str | None = None) -> None:
        from ..weights import load_manifest

        self.files: dict[str, Path] = {}
        for f in files:
            p = Path(f).expanduser().resolve()
            if not p.is_file():
                raise CognnError(f"{f}: no such weights file")
            self.files[p.name] = p
            self.files.setdefault(p.stem, p)
        self.bundled: dict[str, str] = {}
        for e in load_manifest():
            if e.kind == "model":
                self.bundled[e.name] = e.name
                alias = getattr(e, "alias", None)
                if alias:
                    self.bundled[alias] = e.name
        self.default = default or (next(iter(self.files)) if self.files else
                                   next((a for a, n in self.bundled.items() if a != n), None) or
                                   next(iter(self.bundled), None))
        if self.default is None:
            raise CognnError("no model to serve: give --weights FILE (weights/manifest.json lists none)")

    def names(self) -> list[str]:
        return sorted(set(self.files) | set(self.bundled))

    def resolve(self, name: str | None) -> str:
        """The canonical name of a model a client named (ProtocolError for any other name)."""
        name = name or self.default
        assert name is not None
        if name in self.files:
            return self.files[name].name
        if name in self.bundled:
            return self.bundled[name]
        raise ProtocolError(f"no model {name!r} here; models: {', '.join(self.names())}")

    def weights(self, canonical: str) -> str | Path:
        return self.files.get(canonical, canonical)


class Capacity:
    """Frames queued on the whole server, against a limit (the server over capacity drops frames)."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.queued = 0
        self.lock = threading.Lock()


class ModelHost:
    """One model served to many streams (see the module docstring)."""

    def __init__(self, weights: str | Path, *, device: str = "cpu", precision: str | None = None,
                 config: LiveConfig = LiveConfig(), top_k: int = 5) -> None:
        self.template = OnlineRecognizer.from_weights(weights, device=device, precision=precision, top_k=top_k)
        if self.template.backend != "torch":
            raise CognnError("cognn-serve batches the torch step; give a checkpoint, not an ONNX step")
        self.batched = BatchedModel(self.template.model)
        self.batcher = Batcher(self.batched)
        self.config = config
        self.name = self.template.model_name
        probe = self.session()
        self.fps = probe.fps
        self.domain = probe.domain

    def session(self) -> Session:
        """A new session of its own, stepping through the batched model."""
        t = self.template
        rec = OnlineRecognizer(self.batched.stream(), t.all_classes, top_k=t.top_k, warm_start=t.model.warm_start,
                               has_weights=t.has_weights, modality=t.modality, description=t.description,
                               meta=t.meta)
        rec.weights_path = t.weights_path
        return Session(rec, self.config)

    def facts(self) -> dict[str, Any]:
        m = self.template.model
        return {"model": self.name, "description": self.template.description, "layout": self.template.layout.name,
                "domain": self.domain, "joints": int(self.template.layout.num_joints), "channels": int(m.in_channels),
                "persons": int(m.num_persons), "fps": self.fps, "classes": list(self.template.classes),
                "weights_trained": bool(self.template.has_weights)}


class ServeStream:
    """One client's stream (see the module docstring). ``send`` gets every answer (from the worker thread)."""

    def __init__(self, host: ModelHost, hello: Hello, send: Callable[[dict[str, Any]], None], *,
                 capacity: Capacity, queue: int = 8, name: str = "") -> None:
        why = domain_allows(hello.input, host.domain)
        if why:
            raise ProtocolError(why)
        own = host.template.layout.name
        if hello.layout is not None and hello.input != "mediapipe" and hello.layout != own:
            raise ProtocolError(f"{host.name} takes layout {own}, not {hello.layout} (send input 'mediapipe' "
                                "landmarks to have them mapped)")
        self.host = host
        self.hello = hello
        self.send = send
        self.name = name or hello.name or "stream"
        self.session = host.session()
        self.session.start(self.name, canvas_size=(hello.width, hello.height) if hello.width else None)
        m = host.template.model
        self._shape = (int(m.in_channels), int(host.template.layout.num_joints), int(m.num_persons))
        self._people = ClientPeople(int(m.num_persons))
        self._tracker = None
        if hello.input == "mediapipe":
            from ..pose.tracker import PoseOptions, PoseTracker

            opts = PoseOptions(max_side=None, smoothing=host.config.pose.smoothing)
            self._tracker = PoseTracker(host.template.layout, m.num_persons, opts, domain=host.domain,
                                        estimator=self._people)
            self._picture = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (hello.height, hello.width, 3))
        self.capacity = capacity
        self.queue_len = max(1, int(queue))
        self._queue: deque[tuple[SkeletonFrame, int | None]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        #: a frame is waiting or being worked on: the batches wait for this stream's step
        self._busy = False
        self.dropped = 0
        self._dropped_unsaid = 0
        self.answered = 0
        self._index = 0
        self._last_t: float | None = None
        #: token bucket of the stream's allowance: twice the model's rate, a burst of the queue's length
        self._rate = 2.0 * max(host.fps, 1.0)
        self._tokens = float(self.queue_len)
        self._refill = time.monotonic()
        self._thread = threading.Thread(target=self._work, name=f"cognn-serve-{self.name}", daemon=True)
        self._thread.start()

    @property
    def last_t(self) -> float | None:
        return self._last_t

    def frame(self, people: list[Any], t: float, seq: int | None) -> SkeletonFrame:
        """A frame message's people -> the session's :class:`SkeletonFrame` (ProtocolError for a bad one)."""
        c, v, m = self._shape
        h = self.hello
        captured = time.perf_counter()
        draw_px = None
        if h.input == "skeleton":
            skel, persons = skeleton_of(people, c, v, m)
        elif h.input == "image":
            skel, persons = image_skeleton(people, v, m, h.width, h.height)
        else:
            self._people.people = mediapipe_people(people, h.width, h.height)
            assert self._tracker is not None
            pf = self._tracker.process(self._picture, t)
            skel, persons, draw_px = pf.skeleton, pf.persons, pf.draw_px
        frame = SkeletonFrame(self._index, t, skel, persons, draw_px=draw_px, captured=captured)
        self._index += 1
        self._last_t = t
        return frame

    def put(self, frame: SkeletonFrame, seq: int | None) -> None:
        """Queue a frame; the oldest waiting one makes way when the stream or the server is over its allowance."""
        now = time.monotonic()
        self._tokens = min(float(self.queue_len), self._tokens + (now - self._refill) * self._rate)
        self._refill = now
        cap = self.capacity
        with self._cond:
            if self._closed:
                return
            over = len(self._queue) >= self.queue_len or self._tokens < 1.0
            with cap.lock:
                over = bool(self._queue) and (over or cap.queued >= cap.limit)  # the newest frame is always kept
                if not over:
                    cap.queued += 1
            if over:  # the oldest waiting frame makes way; the new one takes its place in the server's count
                self._queue.popleft()
                self.dropped += 1
                self._dropped_unsaid += 1
            self._tokens = max(0.0, self._tokens - 1.0)
            self._queue.append((frame, seq))
            if not self._busy:
                self._busy = True
                self.host.batcher.enter()
            self._cond.notify()

    def _idle(self) -> None:
        """No frame waiting (called holding ``_cond``): the batches stop waiting for this stream."""
        if self._busy:
            self._busy = False
            self.host.batcher.leave()

    def _work(self) -> None:
        try:
            self._loop()
        finally:  # however the worker ends, the batches stop waiting for this stream
            with self._cond:
                self._idle()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                frame, seq = self._queue.popleft()
                dropped, self._dropped_unsaid = self._dropped_unsaid, 0
            with self.capacity.lock:
                self.capacity.queued -= 1
            try:
                step = self.session.step(frame)
                answer = self.answer(step, seq, dropped)
                self.answered += 1
                self.send(answer)
            except Exception as e:  # the stream ends with the reason; no other stream is touched
                self.close()
                try:
                    self.send({"type": "error", "reason": f"{type(e).__name__}: {e}"})
                except Exception:  # noqa: BLE001 - nobody left to tell (the connection's loop is gone)
                    pass
                return
            with self._cond:
                if not self._queue:
                    self._idle()

    def answer(self, step: LiveStep, seq: int | None, dropped: int) -> dict[str, Any]:
        """The answer to one frame: the record fields of ``cognn-infer``, the dropped frames, the events ended."""
        t = self.host.template
        recs = make_records(step, self.name, t.model_name, t.has_weights)
        rec: dict[str, Any] = recs[0] if recs else {"source": self.name, "frame": int(step.frame.index),
                                                    "timestamp": float(step.frame.timestamp), "label": None}
        return {"type": "answer", "seq": seq, **rec, "dropped": dropped, "dropped_total": self.dropped,
                "events": [e.to_dict() for e in step.events]}

    def wait_room(self, waiting: int, timeout: float = 600.0) -> None:
        """Block until fewer than ``waiting`` frames wait (a whole clip fed without dropping any, memory bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if len(self._queue) < waiting or self._closed:
                    return
            time.sleep(0.002)

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the worker thread to end (after :meth:`close`)."""
        self._thread.join(timeout)

    def finish(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait for the queued frames to be answered, end the stream; its events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._queue:
                    break
            time.sleep(0.005)
        self.close()
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return [e.to_dict() for e in self.session.finish()]

    def close(self) -> None:
        """Stop the worker after the frame it is on; queued frames are forgotten."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            left = len(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        with self.capacity.lock:
            self.capacity.queued -= left
