"""Off-UI-thread work: a capture+pose worker and a model-step worker joined by a small frame queue.

::

    CaptureWorker (QThread "cognn-capture")        ModelWorker (QThread "cognn-model")          UI thread
    source -> SkeletonFrame (pose runs here) --FrameQueue(maxsize 2)--> LivePipeline.step, recording --signal--> draw

Both workers run one loop each (their ``run`` slot is started by ``QThread.started``) and take commands through
thread-safe methods (a lock and a condition), never through the UI thread's event loop. The queue is bounded: a live
source drops the oldest waiting frame instead of falling behind; a file waits for room (nothing to drop from a replay,
it just plays slower than real time when the machine cannot keep up). Signals carry small dataclasses and numpy
arrays. :func:`start_worker` / :func:`stop_worker` own the thread plumbing; stopping waits for the thread to end.

The model worker runs :class:`cognn.live.pipeline.LivePipeline` around the recognizer: steady labels per person, action
events, the mirror option (what is drawn only; the model always gets the source's own frame) and a reset on every new
source or seek. The logic lives in :mod:`cognn.live`; this module only moves its results to the UI.
"""
from __future__ import annotations

import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QRectF, QThread, pyqtSignal, pyqtSlot
from PyQt6.QtGui import QColor, QImage, QPainter

from cognn.errors import CognnError
from cognn.layouts import get_layout

from . import overlay

__all__ = ["FrameQueue", "SourceRequest", "SourceInfo", "FrameItem", "ModelRequest", "ModelInfo", "StepResult",
           "CaptureWorker", "ModelWorker", "Recorder", "start_worker", "stop_worker", "describe_error",
           "annotate_frame", "draw_on_image", "natural_layout"]

#: errors that mean "this input cannot be used" rather than a bug: shown to the user as one sentence
USER_ERRORS = (CognnError, OSError, ValueError, RuntimeError, KeyError, EOFError)


def describe_error(exc: BaseException) -> str:
    """One sentence for the user; programming errors keep their type name so a bug report says what happened."""
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, CognnError) else f"{type(exc).__name__}: {text}"


# ----------------------------------------------------------------------------------------------------------------------
# the queue between the workers

class FrameQueue:
    """A bounded FIFO shared by two threads that can drop its oldest item instead of blocking the producer."""

    def __init__(self, maxsize: int = 2) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque = deque()
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


# ----------------------------------------------------------------------------------------------------------------------
# messages

@dataclass(frozen=True)
class SourceRequest:
    """What to open: ``spec`` as :func:`cognn.sources.open_source` takes it (a path or a camera index)."""

    spec: str | int
    layout: str = "ntu25"
    skeleton_video: str | None = None
    pose_model: str | None = None
    num_persons: int = 2
    autoplay: bool = True
    #: frames larger than this are shrunk for pose only (much faster; the drawing stays in full pixels); None: never
    pose_max_side: int | None = 640

    @property
    def live(self) -> bool:
        return isinstance(self.spec, int)

    def label(self) -> str:
        return f"camera {self.spec}" if self.live else str(self.spec)


@dataclass(frozen=True)
class SourceInfo:
    """An opened source, as the UI needs it."""

    source_id: int
    request: SourceRequest
    name: str
    layout: str
    domain: str
    fps: float
    num_frames: int | None
    live: bool
    canvas_size: tuple[int, int] | None = None


@dataclass
class FrameItem:
    """One frame travelling from the capture worker to the model worker."""

    source_id: int
    epoch: int  # changes on every open and seek: the recognizer resets when it does
    frame: Any  # cognn.sources.SkeletonFrame
    layout: str
    domain: str
    fps: float
    source_name: str
    canvas_size: tuple[int, int] | None = None
    captured: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class ModelRequest:
    """Which recognizer to build: a registry ``model`` name and/or a ``weights`` file (None: the defaults)."""

    model: str | None = None
    weights: str | None = None
    top_k: int = 5
    layout: str | None = None
    #: one state and steady label per tracked person (LiveConfig persons="single") instead of one for everybody
    per_person: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """The recognizer now in use."""

    name: str
    description: str
    classes: tuple[str, ...]
    receptive_field: int
    has_weights: bool
    layout: str
    request: ModelRequest


@dataclass
class StepResult:
    """One frame after the model step, ready to draw."""

    source_id: int
    epoch: int
    frame: Any  # SkeletonFrame (its ``image`` is kept: the recorder and tests may read it)
    prediction: Any  # cognn.online.Prediction
    image: QImage | None  # the frame shrunk to the view size, made off the UI thread
    image_size: tuple[int, int] | None  # (width, height) of the original image, the space of ``frame.draw_px``
    #: persons already drawn on ``image`` by the worker (None: the view draws the skeletons itself)
    persons_drawn: int | None
    layout: str
    domain: str
    top1: int  # class index of the top-1 prediction, -1 when there is none
    latency_ms: float  # capture -> result
    dropped: int  # frames dropped by the queue so far
    queue_ms: float = 0.0
    #: what to draw: skeleton pixel coordinates ``(M, V, 2)`` of ``image_size`` (mirrored when the view is); the
    #: model's input ``frame.skeleton`` / ``frame.draw_px`` are never changed
    draw_px: Any = None
    #: mirrored drawing (image and ``draw_px``)
    mirrored: bool = False
    #: :class:`cognn.live.pipeline.PersonView` per tracked person (steady label, anchor in ``draw_px`` coordinates)
    persons: list = field(default_factory=list)
    #: action events (:class:`cognn.live.events.Event`) that ended at this frame, and those still open by person
    events: list = field(default_factory=list)
    open_events: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------------------
# thread plumbing

def start_worker(worker: QObject, name: str) -> QThread:
    """Move ``worker`` to a new QThread called ``name`` whose start runs ``worker.run``; returns the started thread."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    thread.start()
    return thread


def stop_worker(worker: Any, thread: QThread | None, timeout_ms: int = 5000) -> bool:
    """Ask ``worker`` to stop, end its thread's event loop and wait for it; True when the thread has finished."""
    worker.stop()
    if thread is None:
        return True
    thread.quit()
    return thread.wait(timeout_ms)


class _Commands:
    """A condition variable plus a stop flag, shared by the two workers' command methods."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.stopped = False

    def notify(self) -> None:
        with self.cv:
            self.cv.notify_all()


# ----------------------------------------------------------------------------------------------------------------------
# capture + pose

def natural_layout(spec: str | int, default: str) -> str:
    """The layout a source is read in: a skeleton file's own (NTU ``.skeleton`` ntu25, Kinetics ``.json``
    kinetics18, an HDF5 file's ``layout`` attribute); pixel sources (videos, cameras) take ``default``, the model's."""
    if isinstance(spec, int):
        return default
    path = Path(str(spec).rsplit("#", 1)[0] if "#" in str(spec) else str(spec))
    ext = path.suffix.lower()
    if ext == ".skeleton":
        return "ntu25"
    if ext == ".json":
        return "kinetics18"
    if ext in (".h5", ".hdf5") and path.is_file():
        try:
            import h5py

            with h5py.File(path, "r") as f:
                value = f.attrs.get("layout", default)
            value = value.decode() if isinstance(value, bytes) else str(value)
            return get_layout(value).name
        except (OSError, ValueError):
            return default  # opening it reports the problem
    return default


def _default_opener(request: SourceRequest, estimator=None):
    from cognn.sources import open_source

    return open_source(request.spec, layout=natural_layout(request.spec, request.layout),
                       pose_model=request.pose_model, num_persons=request.num_persons,
                       skeleton_video=request.skeleton_video, pose_max_side=request.pose_max_side,
                       estimator=estimator)


def _is_pixel(request: SourceRequest) -> bool:
    from cognn.sources import source_kind

    return request.live or source_kind(str(request.spec)) == "video"


class CaptureWorker(QObject):
    """Reads frames from a :class:`~cognn.sources.FrameSource` (pose runs inside the source for pixel sources),
    paces file replays at ``fps × speed`` and puts them on the frame queue.

    Commands (any thread): :meth:`open_source`, :meth:`play`, :meth:`pause`, :meth:`step`, :meth:`seek`,
    :meth:`set_speed`, :meth:`stop`.
    """

    opened = pyqtSignal(object)  # SourceInfo
    failed = pyqtSignal(str, bool, bool)  # message, live (a camera: offer a retry), a source is still open
    ended = pyqtSignal(int)  # source_id: the file has no more frames
    playing_changed = pyqtSignal(bool)
    stopped = pyqtSignal()

    def __init__(self, queue: FrameQueue, opener: Callable[[SourceRequest], Any] | None = None) -> None:
        super().__init__()
        self.queue = queue
        self._opener = opener or _default_opener
        self._cmd = _Commands()
        self._request: SourceRequest | None = None
        self._close_requested = False
        self._seek_to: int | None = None
        self._steps = 0
        self._playing = False
        self._speed = 1.0  # 0 = as fast as possible
        self._source = None
        self._it = None
        self._info: SourceInfo | None = None
        self._source_id = 0
        self._epoch = 0
        self._next_due = 0.0
        self.frames_sent = 0  # frames of this source put on the queue and not dropped since
        #: the pose estimator of pixel sources, kept between sources: landmarks One-Euro smoothed
        #: (:class:`cognn.live.smoothing.SmoothedEstimator`, filters restarted on every open and seek)
        self._estimator = None
        self._estimator_key: tuple | None = None

    # -- commands (thread-safe) ----------------------------------------------------------------------------------------
    def open_source(self, request: SourceRequest) -> None:
        """Close the current source and open ``request`` (in the worker thread)."""
        with self._cmd.cv:
            self._request = request
            self._seek_to = None
            self._steps = 0
            self._cmd.cv.notify_all()

    def close_source(self) -> None:
        with self._cmd.cv:
            self._close_requested = True
            self._cmd.cv.notify_all()

    def play(self) -> None:
        self._set_playing(True)

    def pause(self) -> None:
        self._set_playing(False)

    def toggle(self) -> None:
        self._set_playing(not self._playing)

    def _set_playing(self, on: bool) -> None:
        with self._cmd.cv:
            changed = self._playing != on
            self._playing = on
            self._next_due = 0.0
            self._cmd.cv.notify_all()
        if changed:
            self.playing_changed.emit(on)

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    def step(self, n: int = 1) -> None:
        """Pause and read ``n`` more frames."""
        self.pause()
        with self._cmd.cv:
            self._steps += max(0, int(n))
            self._cmd.cv.notify_all()

    def seek(self, index: int) -> None:
        """Continue from frame ``index`` of a file (ignored for live sources); the recognizer starts over."""
        with self._cmd.cv:
            self._seek_to = max(0, int(index))
            self._cmd.cv.notify_all()

    def set_speed(self, speed: float) -> None:
        """Replay speed factor for files (1 = real time, 0 = as fast as the pipeline goes)."""
        with self._cmd.cv:
            self._speed = max(0.0, float(speed))
            self._next_due = 0.0
            self._cmd.cv.notify_all()

    def stop(self) -> None:
        with self._cmd.cv:
            self._cmd.stopped = True
            self._cmd.cv.notify_all()

    # -- the loop (worker thread) ------------------------------------------------------------------------------------
    def _has_work(self) -> bool:
        return (self._request is not None or self._close_requested or self._seek_to is not None
                or (self._source is not None and (self._playing or self._steps > 0)))

    def _abort_put(self) -> bool:
        return self._cmd.stopped or self._request is not None or self._seek_to is not None or self._close_requested

    @pyqtSlot()
    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug: report it instead of killing the thread silently
            traceback.print_exc()
            self.failed.emit(f"capture stopped: {describe_error(exc)}", False, False)
        finally:
            self._close()
            self._close_estimator()
            self.stopped.emit()

    def _pose_estimator(self, request: SourceRequest):
        from cognn.live.smoothing import DEFAULT_SMOOTHING, SmoothedEstimator
        from cognn.pose import PoseEstimator

        key = (request.pose_model, request.num_persons)
        if self._estimator is None or self._estimator_key != key:
            self._close_estimator()
            est = PoseEstimator(request.pose_model, mode="video", num_poses=request.num_persons)
            self._estimator = SmoothedEstimator(est, DEFAULT_SMOOTHING, own=True)
            self._estimator_key = key
        return self._estimator

    def _close_estimator(self) -> None:
        est, self._estimator = self._estimator, None
        if est is not None:
            try:
                est.close()
            except USER_ERRORS:
                pass

    def _open_request(self, request: SourceRequest):
        if self._opener is not _default_opener:
            return self._opener(request)
        return _default_opener(request, self._pose_estimator(request) if _is_pixel(request) else None)

    def _loop(self) -> None:
        cv = self._cmd.cv
        while True:
            with cv:
                while not self._cmd.stopped and not self._has_work():
                    cv.wait(0.25)
                if self._cmd.stopped:
                    return
                request, self._request = self._request, None
                close, self._close_requested = self._close_requested, False
                seek, self._seek_to = self._seek_to, None
            if close or request is not None:
                self._close()
            if request is not None:
                self._open(request)
                continue
            if seek is not None:
                self._seek(seek)
                continue
            if self._source is None:
                continue
            with cv:
                stepping = self._steps > 0 and not self._playing
                wait = 0.0 if stepping else self._due_in()
                if wait > 0:
                    cv.wait(min(wait, 0.25))
                    continue  # re-check the commands, then the clock
                if stepping:
                    self._steps -= 1
            self._read_one()

    def _due_in(self) -> float:
        info = self._info
        if info is None or info.live or self._speed <= 0:
            return 0.0
        now = time.perf_counter()
        if self._next_due == 0.0 or self._next_due < now - 0.25:  # just started, or far behind: no catch-up burst
            self._next_due = now
        return self._next_due - now

    def _open(self, request: SourceRequest) -> None:
        self.queue.clear()
        try:
            source = self._open_request(request)
        except USER_ERRORS as exc:
            self._set_playing(False)
            self.failed.emit(describe_error(exc), request.live, False)
            return
        self._source_id += 1
        self._epoch += 1
        self._source = source
        self._it = iter(source)
        fps = getattr(source, "fps", None)
        fps = float(fps) if fps and math.isfinite(float(fps)) and fps > 0 else 30.0
        num = getattr(source, "num_frames", None)
        canvas = getattr(source, "canvas_size", None)
        self._info = SourceInfo(source_id=self._source_id, request=request,
                                name=str(getattr(source, "name", request.label())),
                                layout=get_layout(getattr(source, "layout", request.layout)).name,
                                domain=str(getattr(source, "domain", "")), fps=fps,
                                num_frames=None if num is None else int(num), live=request.live,
                                canvas_size=None if canvas is None else (int(canvas[0]), int(canvas[1])))
        self.frames_sent = 0
        self.opened.emit(self._info)
        self._set_playing(request.autoplay)

    def _seek(self, index: int) -> None:
        info = self._info
        if self._source is None or info is None or info.live:
            return
        if info.num_frames is not None:
            index = min(index, max(info.num_frames - 1, 0))
        try:
            self._source.seek(index)
            self._it = iter(self._source)
        except USER_ERRORS as exc:
            self.failed.emit(f"cannot seek to frame {index}: {describe_error(exc)}", False, True)
            return
        self._epoch += 1
        self.frames_sent -= self.queue.clear()
        self._next_due = 0.0
        with self._cmd.cv:
            if not self._playing:
                self._steps = max(self._steps, 1)  # show the frame sought to

    def _read_one(self) -> None:
        info = self._info
        assert info is not None and self._it is not None
        try:
            frame = next(self._it)
        except StopIteration:
            self._set_playing(False)
            with self._cmd.cv:
                self._steps = 0
            if info.live:
                self._close()
                self.failed.emit(f"{info.name}: the camera stopped delivering frames (disconnected?)", True, False)
            else:
                self.ended.emit(info.source_id)
            return
        except USER_ERRORS as exc:
            self._set_playing(False)
            self._close()
            self.failed.emit(describe_error(exc), info.live, False)
            return
        if not info.live and self._speed > 0:
            self._next_due += 1.0 / (info.fps * self._speed)
        item = FrameItem(source_id=info.source_id, epoch=self._epoch, frame=frame, layout=info.layout,
                         domain=info.domain, fps=info.fps, source_name=info.name, canvas_size=info.canvas_size)
        dropped = self.queue.dropped
        if self.queue.put(item, drop=info.live, abort=self._abort_put):
            self.frames_sent += 1 - (self.queue.dropped - dropped)

    def _close(self) -> None:
        source, self._source, self._it = self._source, None, None
        if source is not None:
            try:
                source.close()
            except USER_ERRORS:
                pass


# ----------------------------------------------------------------------------------------------------------------------
# model step + recording

def _default_factory(request: ModelRequest):
    from cognn.online import OnlineRecognizer

    kwargs: dict[str, Any] = {"model": request.model, "top_k": request.top_k}
    if request.layout is not None:
        kwargs["layout"] = request.layout
    return OnlineRecognizer.from_weights(request.weights, **kwargs)


def _recognizer_layout(rec: Any) -> str:
    model = getattr(rec, "model", None)
    lay = getattr(model, "layout", None) or getattr(rec, "layout", None) or "ntu25"
    return get_layout(lay).name


def model_info(rec: Any, request: ModelRequest) -> ModelInfo:
    """What the UI shows about a recognizer."""
    return ModelInfo(name=str(rec.model_name), description=str(getattr(rec, "description", rec.model_name)),
                     classes=tuple(rec.classes), receptive_field=int(rec.receptive_field),
                     has_weights=bool(getattr(rec, "has_weights", True)), layout=_recognizer_layout(rec),
                     request=request)


class ModelWorker(QObject):
    """Steps the live pipeline (:class:`cognn.live.pipeline.LivePipeline` around the online recognizer) on every frame
    from the queue, records when asked, and emits a :class:`StepResult` per frame. Builds recognizers in its own
    thread, so switching model never blocks the UI."""

    result = pyqtSignal(object)  # StepResult
    model_changed = pyqtSignal(object)  # ModelInfo
    failed = pyqtSignal(str)
    recording_changed = pyqtSignal(bool, str)  # recording, message (paths written when it stops)
    stopped = pyqtSignal()

    def __init__(self, queue: FrameQueue, request: ModelRequest,
                 factory: Callable[[ModelRequest], Any] | None = None, torch_threads: int | None = 1,
                 mirror: bool = False) -> None:
        super().__init__()
        self.queue = queue
        #: intra-op threads for torch (process-wide); one step of one frame gains nothing from more, and the capture
        #: worker's pose estimation needs the other cores (None: leave torch's setting alone)
        self.torch_threads = torch_threads
        self._factory = factory or _default_factory
        self._cmd = _Commands()
        self._pending: ModelRequest | None = request
        self._request = request
        self._rec = None
        self._pipe = None  # cognn.live.pipeline.LivePipeline around self._rec
        self._mirror = bool(mirror)
        self._epoch: tuple[int, int] | None = None
        self._view_size: tuple[int, int] | None = None
        self._record: tuple[str | None, str | None] | None = None
        self._stop_record = False
        self._recorder: Recorder | None = None
        self.steps = 0

    # -- commands (thread-safe) ----------------------------------------------------------------------------------------
    def load(self, request: ModelRequest) -> None:
        """Build a new recognizer (model name, weights, top-k) before the next frame."""
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
        """Record the following frames: skeletons to an HDF5 recording and/or the annotated video (mp4v)."""
        with self._cmd.cv:
            self._record = (skeleton_path, video_path)
            self._stop_record = False
            self._cmd.cv.notify_all()

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
            self.stopped.emit()

    def _commands(self) -> None:
        with self._cmd.cv:
            pending, self._pending = self._pending, None
            record, self._record = self._record, None
            stop_record, self._stop_record = self._stop_record, False
        if pending is not None:
            self._build(pending)
        if stop_record:
            self._finish_recording()
        if record is not None:
            self._finish_recording()
            self._recorder = Recorder(record[0], record[1])
            self.recording_changed.emit(True, "recording")

    def _build(self, request: ModelRequest) -> bool:
        try:
            rec = self._factory(request)
        except USER_ERRORS as exc:
            self.failed.emit(f"cannot load the model: {describe_error(exc)}")
            fallback = ModelRequest(top_k=request.top_k, layout=request.layout, per_person=request.per_person)
            if self._rec is None and request != fallback:  # nothing to run yet: the default model keeps frames moving
                return self._build(fallback)
            return False
        from cognn.live.pipeline import LiveConfig, LivePipeline

        try:
            pipe = LivePipeline(rec, LiveConfig(persons="single" if request.per_person else "all",
                                                mirror=self._mirror))
        except USER_ERRORS as exc:
            self.failed.emit(f"cannot start the live pipeline: {describe_error(exc)}")
            return False
        self._rec, self._pipe = rec, pipe
        self._request = request
        self._epoch = None
        self.model_changed.emit(model_info(rec, request))
        return True

    def _process(self, item: FrameItem) -> None:
        if self._rec is None:
            return
        if _recognizer_layout(self._rec) != item.layout:
            req = self._request
            if not self._build(ModelRequest(req.model or self._rec.model_name, req.weights, req.top_k, item.layout,
                                            req.per_person)):
                if not self._build(ModelRequest(req.model or self._rec.model_name, None, req.top_k, item.layout,
                                                req.per_person)):
                    return
        pipe = self._pipe
        key = (item.source_id, item.epoch)
        if self._epoch != key:  # a new source or a seek: the stream starts over (states, labels, open events)
            pipe.reset(item.source_name)
            self._epoch = key
        if pipe.config.mirror != self._mirror:
            pipe.config = replace(pipe.config, mirror=self._mirror)
        if item.canvas_size:
            pipe._canvas_width = int(item.canvas_size[0])  # mirroring a skeleton-only source
        started = time.perf_counter()
        step = pipe.step(item.frame)
        pred = step.prediction
        if pred is None:  # no model frame since the reset (a frame without a usable timestamp): step it as it is
            pred = self._rec.step(item.frame)
        self.steps += 1
        frame = item.frame
        image, size, drawn = None, None, None
        if getattr(step, "image", None) is not None:
            size = (int(step.image.shape[1]), int(step.image.shape[0]))
            image = overlay.bgr_to_qimage(step.image, self._view_size)
            drawn = draw_on_image(image, step.draw_px, size, item.layout)
        top1 = -1
        if pred.probs is not None and len(pred.top):
            top1 = int(np.argmax(pred.probs))
        if self._recorder is not None:
            try:
                self._recorder.add(item, pred, size, step.events)
            except USER_ERRORS as exc:
                self._recorder.abort()
                self._recorder = None
                self.recording_changed.emit(False, f"recording failed: {describe_error(exc)}")
        now = time.perf_counter()
        self.result.emit(StepResult(source_id=item.source_id, epoch=item.epoch, frame=frame, prediction=pred,
                                    image=image, image_size=size, persons_drawn=drawn, layout=item.layout,
                                    domain=item.domain, top1=top1,
                                    latency_ms=1000.0 * (now - item.captured), dropped=self.queue.dropped,
                                    queue_ms=1000.0 * (started - item.captured), draw_px=step.draw_px,
                                    mirrored=bool(pipe.config.mirror), persons=list(step.persons),
                                    events=list(step.events),
                                    open_events={k: replace(e) for k, e in step.open_events.items()}))

    def _finish_recording(self) -> None:
        rec, self._recorder = self._recorder, None
        if rec is None:
            return
        try:
            if self._pipe is not None:  # the events going on are kept too, ended at the last frame recorded
                rec.add_events(self._pipe.segmenter.open_events.values())
            paths = rec.close()
        except USER_ERRORS as exc:
            self.recording_changed.emit(False, f"recording failed: {describe_error(exc)}")
            return
        self.recording_changed.emit(False, "saved " + ", ".join(str(p) for p in paths) if paths else "nothing saved")


class Recorder:
    """Writes the session: skeletons to a ``cognn-recording`` HDF5 file (:class:`cognn.data.store.RecordingWriter`)
    and the annotated frames to an mp4v video. Files open on the first frame (when its layout and size are known)."""

    def __init__(self, skeleton_path: str | None, video_path: str | None) -> None:
        if skeleton_path is None and video_path is None:
            raise ValueError("nothing to record: give a skeleton path, a video path or both")
        self.skeleton_path = None if skeleton_path is None else Path(skeleton_path)
        self.video_path = None if video_path is None else Path(video_path)
        self._writer = None
        self._video = None
        self._video_size: tuple[int, int] | None = None
        self._viewport = overlay.Viewport()
        self._last_t: float | None = None
        self._last_src_t: float | None = None
        self._last_top: str | None = None
        self.frames = 0

    def _open(self, item: FrameItem, image_size: tuple[int, int] | None) -> None:
        from cognn.data.store import RecordingWriter

        skel = np.asarray(item.frame.skeleton)
        if self.skeleton_path is not None:
            extra = {"canvas_size": list(item.canvas_size)} if item.canvas_size else None
            self._writer = RecordingWriter(self.skeleton_path, item.layout, item.domain, num_persons=skel.shape[-1],
                                           source=item.source_name, fps=item.fps, extra_attrs=extra)
        if self.video_path is not None:
            import cv2

            if not self.video_path.parent.is_dir():
                from cognn.errors import InputFileError

                raise InputFileError(self.video_path, "the output folder does not exist")
            w, h = image_size or (960, 720)
            scale = min(1.0, 1280 / w)
            self._video_size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))
            self._video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"), item.fps,
                                          self._video_size)
            if not self._video.isOpened():
                from cognn.errors import InputFileError

                raise InputFileError(self.video_path, "OpenCV cannot write an mp4v video here")

    def _timestamp(self, item: FrameItem) -> float:
        """Source time, kept non-decreasing across seeks (a jump back continues one frame after the last)."""
        t = float(item.frame.timestamp)
        if self._last_t is None:
            out = t
        elif self._last_src_t is not None and self._last_src_t <= t <= self._last_src_t + 5.0:
            out = self._last_t + (t - self._last_src_t)
        else:
            out = self._last_t + 1.0 / item.fps
        self._last_t, self._last_src_t = out, t
        return out

    def add(self, item: FrameItem, pred: Any, image_size: tuple[int, int] | None, events: Any = ()) -> None:
        """Append one frame, its prediction and the action events (:class:`cognn.live.events.Event`) that ended at
        it (kept in the recording's events with ``"kind": "action"``; top-1 changes have ``"kind": "top1"``)."""
        if self._writer is None and self._video is None:
            self._open(item, image_size)
        t = self._timestamp(item)
        if self._writer is not None:
            self._writer.append(np.asarray(item.frame.skeleton, np.float32), t)
            top = pred.top[0][0] if pred.top else None
            if top is not None and top != self._last_top:
                self._writer.add_event({"kind": "top1", "t": t, "frame": int(item.frame.index), "label": top,
                                        "p": float(pred.top[0][1]), "ready": bool(pred.ready)})
                self._last_top = top
        self.add_events(events)
        if self._video is not None:
            assert self._video_size is not None
            self._video.write(annotate_frame(item.frame, pred, item.layout, item.domain, self._video_size,
                                             self._viewport))
        self.frames += 1

    def add_events(self, events: Any) -> None:
        """Keep action events (:class:`cognn.live.events.Event`) in the recording, as ``{"kind": "action", ...}``."""
        if self._writer is not None:
            for event in events:
                self._writer.add_event({"kind": "action", **event.to_dict()})

    def close(self) -> list[Path]:
        """Finish the files; returns the paths written."""
        out = []
        if self._writer is not None:
            out.append(self._writer.close())
            self._writer = None
        if self._video is not None:
            self._video.release()
            self._video = None
            out.append(self.video_path)
        return out

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self._video is not None:
            self._video.release()
            self._video = None


def draw_on_image(image: QImage, draw_px: np.ndarray | None, source_size: tuple[int, int], layout: str) -> int:
    """Draw the skeletons ``draw_px`` ``(M, V, 2)`` (pixels of the source image of ``source_size``) on ``image`` (the
    source image resized); returns the persons drawn. Done in the worker so the UI thread only copies pixels."""
    if draw_px is None:
        return 0
    p = QPainter(image)
    try:
        mapper = overlay.Viewport.mapper(QRectF(0, 0, *source_size), QRectF(0, 0, image.width(), image.height()))
        width = max(2.5, min(image.width(), image.height()) / 140)
        return overlay.draw_skeletons(p, mapper(draw_px), get_layout(layout), width=width)
    finally:
        p.end()


def annotate_frame(frame: Any, pred: Any, layout: str, domain: str, size: tuple[int, int],
                   viewport: overlay.Viewport | None = None) -> np.ndarray:
    """The frame (or a dark canvas) at ``size`` ``(width, height)`` with skeletons, top-k and timing drawn on it, as a
    BGR ``uint8`` array for ``cv2.VideoWriter``. Without an image the skeleton is fitted by ``viewport`` (keep one
    per video so the view does not jump)."""
    w, h = size
    img = QImage(w, h, QImage.Format.Format_RGB888)
    img.fill(QColor(24, 24, 28))
    p = QPainter(img)
    try:
        target = QRectF(0, 0, w, h)
        lay = get_layout(layout)
        if frame.image is not None:
            src_w, src_h = frame.image.shape[1], frame.image.shape[0]
            p.drawImage(target, overlay.bgr_to_qimage(frame.image, (w, h)))
            pts = frame.draw_px
            mapper = overlay.Viewport.mapper(QRectF(0, 0, src_w, src_h), target)
        else:
            pts = frame.draw_px if frame.draw_px is not None else overlay.project_skeleton(frame.skeleton, domain)
            vp = viewport if viewport is not None else overlay.Viewport()
            vp.include(pts)
            canvas = vp.canvas()
            mapper = None if canvas is None else overlay.Viewport.mapper(
                canvas, overlay.fit_rect(canvas.width(), canvas.height(), target.adjusted(0, h * 0.12, 0, 0)))
        if pts is not None and mapper is not None:
            overlay.draw_skeletons(p, mapper(pts), lay, width=max(2.0, w / 320))
        lines = [(f"{label}  {100 * prob:.0f}%", QColor(255, 255, 255)) for label, prob in pred.top[:3]]
        if not pred.ready:
            lines.append((f"warming up {pred.warmup[0]}/{pred.warmup[1]}", QColor(255, 200, 80)))
        if not pred.has_weights:
            lines.append(("untrained weights", QColor(255, 110, 110)))
        pose = "" if frame.pose_ms is None else f"pose {frame.pose_ms:.0f} ms  "
        lines.append((f"{pose}model {pred.model_ms:.1f} ms", QColor(200, 200, 200)))
        overlay.draw_banner(p, QRectF(8, 8, w - 16, h - 16), lines, pixels=max(11, h // 36))
    finally:
        p.end()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint8).reshape(h, img.bytesPerLine())[:, :3 * w].reshape(h, w, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1])
