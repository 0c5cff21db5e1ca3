"""The model worker: the live session's step on every frame from the queue, recording, and results for the view.

It builds the :class:`cognn.live.session.Session` (model, steady labels per person, events, mirror option) in its
own thread, so switching model never blocks the UI; starts a new stream on every new source or seek; and turns each
:class:`~cognn.live.session.LiveStep` into a :class:`~cognn_app.messages.StepResult` with the picture already
shrunk to the view and the skeletons drawn on it. Recording is the session's (one format with ``cognn-infer``).
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

from cognn.live.session import LiveConfig, Session

from . import overlay
from .messages import USER_ERRORS, FrameItem, ModelInfo, ModelRequest, StepResult, describe_error
from .queue import Commands, FrameQueue

__all__ = ["ModelWorker", "build_session", "model_info"]


def build_session(request: ModelRequest, mirror: bool = False) -> Session:
    """The session for a request: its weights (a file or a bundled model's name, else the default for the layout);
    a step graph made by ``cognn-export`` (``.onnx``) runs in ONNX Runtime (docs/onnx.md)."""
    config = LiveConfig(persons="single" if request.per_person else "all", mirror=mirror)
    backend = "onnx" if request.weights and str(request.weights).lower().endswith(".onnx") else "torch"
    return Session.from_weights(request.weights, model=request.model, layout=request.layout, config=config,
                                top_k=request.top_k, classes=request.classes, backend=backend,
                                precision=request.precision if backend == "torch" else "fp32")


def model_info(session: Session, request: ModelRequest) -> ModelInfo:
    """What the UI shows about a session's model."""
    rec = session.recognizer
    return ModelInfo(name=rec.model_name, description=rec.description, classes=tuple(rec.classes),
                     receptive_field=rec.receptive_field, fps=session.fps, has_weights=rec.has_weights,
                     layout=session.layout, request=request, session=session)


class ModelWorker(QObject):
    """Steps the session on every frame from the queue, records when asked, and emits a :class:`StepResult` per
    frame (see the module docstring)."""

    result = pyqtSignal(object)  # StepResult
    model_changed = pyqtSignal(object)  # ModelInfo
    failed = pyqtSignal(str)
    recording_changed = pyqtSignal(bool, str)  # recording, message (paths written when it stops)
    stopped = pyqtSignal()
    finished = pyqtSignal(object)  # the events closed at the end of the stream (after finish_stream())

    def __init__(self, queue: FrameQueue, request: ModelRequest,
                 factory: Callable[[ModelRequest, bool], Session] | None = None, torch_threads: int | None = 1,
                 mirror: bool = False) -> None:
        super().__init__()
        self.queue = queue
        #: intra-op threads for torch (process-wide); one step of one frame gains nothing from more, and the capture
        #: worker's pose estimation needs the other cores (None: leave torch's setting alone)
        self.torch_threads = torch_threads
        self._factory = factory or build_session
        self._cmd = Commands()
        self._pending: ModelRequest | None = request
        self._request = request
        self.session: Session | None = None
        self._mirror = bool(mirror)
        self._epoch: tuple[int, int] | None = None
        self._view_size: tuple[int, int] | None = None
        self._record: tuple[str | None, str | None] | None = None
        self._record_wanted: tuple[str | None, str | None] | None = None
        self._stop_record = False
        self._finish = False
        self.steps = 0

    # -- commands (thread-safe) ----------------------------------------------------------------------------------------
    def load(self, request: ModelRequest) -> None:
        """Build a new session (model name, weights, top-k) before the next frame."""
        with self._cmd.cv:
            self._pending = request
            self._cmd.cv.notify_all()

    @property
    def request(self) -> ModelRequest:
        return self._request

    @property
    def mirror(self) -> bool:
        return self._mirror

    def set_mirror(self, on: bool) -> None:
        """Mirror what is drawn from the next frame on (the model keeps getting the source's own frame)."""
        self._mirror = bool(on)

    def set_view_size(self, width: int, height: int) -> None:
        """The view's size in pixels: images are shrunk to it in this thread, not in the UI's paint."""
        self._view_size = (max(16, int(width)), max(16, int(height)))

    def start_recording(self, skeleton_path: str | None, video_path: str | None) -> None:
        """Record the following frames: skeletons and events to an HDF5 recording and/or the annotated video."""
        with self._cmd.cv:
            self._record = (skeleton_path, video_path)
            self._stop_record = False
            self._cmd.cv.notify_all()

    def finish_stream(self) -> None:
        """End the stream as at the end of a file, after the frames already queued: the events going on close
        (through the alarm policy, with their repetitions, as ``cognn-infer`` closes them) and :attr:`finished`
        carries them; the next frame starts a new stream."""
        with self._cmd.cv:
            self._finish = True
            self._cmd.cv.notify_all()

    def finish_now(self) -> list:
        """:meth:`finish_stream` in the caller's thread, once the worker has stopped (the app closing); returns
        the events it closed."""
        return self._finish_stream()

    def _finish_stream(self) -> list:
        session = self.session
        if session is None or self._epoch is None:
            return []
        prior = {id(e) for e in session.events}
        tail = [e for e in session.finish() if id(e) not in prior]
        self._epoch = None
        return tail

    def stop_recording(self) -> None:
        with self._cmd.cv:
            self._stop_record = True
            self._cmd.cv.notify_all()

    def stop(self) -> None:
        with self._cmd.cv:
            self._cmd.stopped = True
            self._cmd.cv.notify_all()

    # -- the loop (worker thread) ------------------------------------------------------------------------------------
    @pyqtSlot()
    def run(self) -> None:
        try:
            if self.torch_threads is not None:
                import torch

                torch.set_num_threads(self.torch_threads)
            while not self._cmd.stopped:
                self._commands()
                item = self.queue.get(0.05)
                if item is not None and not self._cmd.stopped:
                    self._process(item)
        except BaseException as exc:
            traceback.print_exc()
            self.failed.emit(f"model step stopped: {describe_error(exc)}")
        finally:
            self._finish_recording()
            if self.session is not None:
                self.session.close()
            self.stopped.emit()

    def _commands(self) -> None:
        with self._cmd.cv:
            pending, self._pending = self._pending, None
            record, self._record = self._record, None
            stop_record, self._stop_record = self._stop_record, False
            finish, self._finish = self._finish, False
        if pending is not None:
            self._build(pending)
        if finish:
            self.finished.emit(self._finish_stream())
        if stop_record:
            if self._record_wanted is not None:  # no frame came since the recording was asked for
                self._record_wanted = None
                self.recording_changed.emit(False, "nothing recorded (no frame came)")
            else:
                self._finish_recording()
        if record is not None:
            self._finish_recording()
            self._record_wanted = record  # files open with the next frame (its rate and canvas are needed)
            self.recording_changed.emit(True, "recording")

    def _build(self, request: ModelRequest) -> bool:
        try:
            session = self._factory(request, self._mirror)
        except USER_ERRORS as exc:
            self.failed.emit(f"cannot load the model: {describe_error(exc)}")
            fallback = ModelRequest(top_k=request.top_k, layout=request.layout, per_person=request.per_person,
                                    precision=request.precision)
            if self.session is None and request != fallback:  # nothing to run yet: the default keeps frames moving
                return self._build(fallback)
            return False
        old, self.session = self.session, session
        if old is not None:
            if old.recording:  # a recording goes on with the new model
                self._finish_recording(old)
            old.close()
        self._request = request
        self._epoch = None
        self.model_changed.emit(model_info(session, request))
        return True

    def _start_recording(self, session: Session, item: FrameItem) -> None:
        paths, self._record_wanted = self._record_wanted, None
        assert paths is not None
        try:
            session.start_recording(paths[0], paths[1], fps=item.fps)
        except USER_ERRORS as exc:
            self.recording_changed.emit(False, f"recording failed: {describe_error(exc)}")

    def _process(self, item: FrameItem) -> None:
        session = self.session
        if session is None or item.layout != session.layout:
            return  # a frame of a source opened for another model: the window reopens it for this one
        key = (item.source_id, item.epoch)
        if self._epoch != key:  # a new source or a seek: the stream starts over (states, labels, open events)
            session.start(item.source_name, canvas_size=item.canvas_size)
            self._epoch = key
        session.set_mirror(self._mirror)
        if self._record_wanted is not None:
            self._start_recording(session, item)
        started = time.perf_counter()
        try:
            step = session.step(item.frame)
        except USER_ERRORS as exc:
            if session.recording:
                raise
            self.recording_changed.emit(False, f"recording failed: {describe_error(exc)}")
            return
        self.steps += 1
        image, size, drawn = None, None, None
        if step.image is not None:
            size = (int(step.image.shape[1]), int(step.image.shape[0]))
            image = overlay.bgr_to_qimage(step.image, self._view_size)
            drawn = overlay.draw_on_image(image, step.draw_px, size, item.layout)
        pred = step.prediction
        top1 = int(np.argmax(pred.probs)) if pred is not None and pred.probs is not None and pred.top else -1
        self.result.emit(StepResult(source_id=item.source_id, epoch=item.epoch, step=step, image=image,
                                    image_size=size, persons_drawn=drawn, layout=item.layout, domain=item.domain,
                                    top1=top1, dropped=self.queue.dropped,
                                    queue_ms=1000.0 * (started - item.queued), mirrored=session.config.mirror))

    def _finish_recording(self, session: Any = None) -> None:
        session = session or self.session
        if session is None or not session.recording:
            return
        try:
            paths = session.stop_recording()
        except USER_ERRORS as exc:
            self.recording_changed.emit(False, f"recording failed: {describe_error(exc)}")
            return
        self.recording_changed.emit(False, "saved " + ", ".join(str(p) for p in paths) if paths else "nothing saved")
