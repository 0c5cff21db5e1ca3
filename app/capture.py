"""The capture worker: opens sources through the live session, runs pose (in the source) and paces replays.

::

    CaptureWorker (QThread "cognn-capture")           FrameQueue (maxsize 2)          ModelWorker (app.stepper)
    session.open(spec) -> SkeletonFrame (pose here) -------------------------------> session.step

Sources are opened by :meth:`cognn.live.session.Session.open` of the session in use (set by the window when a model
is loaded; the window loads a model of a skeleton file's own layout before opening it), with this thread's own
:class:`cognn.pose.PoseTracker` (pose runs here, so the pose model lives here). Commands
come through thread-safe methods (a lock and a condition), never through the UI thread's event loop. A live source
drops the oldest waiting frame instead of falling behind; a file waits for room.
"""
from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

from cognn.live.session import Session
from cognn.sources import FrameSource, gap_of

from .messages import USER_ERRORS, FrameItem, SourceInfo, SourceRequest, describe_error
from .queue import Commands, FrameQueue

__all__ = ["CaptureWorker"]


class CaptureWorker(QObject):
    """Reads frames from a source, paces file replays at ``fps × speed`` and puts them on the frame queue.

    Commands (any thread): :meth:`set_session`, :meth:`open_source`, :meth:`play`, :meth:`pause`, :meth:`step`,
    :meth:`seek`, :meth:`set_speed`, :meth:`stop`. ``opener`` replaces the session's opening (tests).
    """

    opened = pyqtSignal(object)  # SourceInfo
    failed = pyqtSignal(str, bool, bool)  # message, live (a camera: offer a retry), a source is still open
    ended = pyqtSignal(int)  # source_id: the file has no more frames
    playing_changed = pyqtSignal(bool)
    stopped = pyqtSignal()

    def __init__(self, queue: FrameQueue, opener: Callable[[SourceRequest], FrameSource] | None = None) -> None:
        super().__init__()
        self.queue = queue
        self._opener = opener
        self._cmd = Commands()
        self._session: Session | None = None
        self._request: SourceRequest | None = None
        self._close_requested = False
        self._seek_to: int | None = None
        self._steps = 0
        self._playing = False
        self._speed = 1.0  # 0 = as fast as possible
        self._source: FrameSource | None = None
        self._it: Any = None
        self._info: SourceInfo | None = None
        self._source_id = 0
        self._epoch = 0
        self._next_due = 0.0
        self.frames_sent = 0  # frames of this source put on the queue and not dropped since
        self.frames_read = 0  # frames of this source read so far
        #: read at most this many frames of each source, then pause (scripted runs: exactly N frames)
        self.limit: int | None = None
        #: the last end of a source came from :attr:`limit` (``--frames``), not from the end of the file
        self.stopped_by_limit = False
        #: the pose tracker of pixel sources (this thread's), kept between sources of the same layout and options
        self.tracker: Any = None

    # -- commands (thread-safe) ----------------------------------------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        """The session whose :meth:`~cognn.live.session.Session.open` opens the next sources."""
        with self._cmd.cv:
            self._session = session
            self._cmd.cv.notify_all()

    def open_source(self, request: SourceRequest) -> None:
        """Close the current source and open ``request`` (in the worker thread, once a session is set)."""
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

    def source_status(self) -> str | None:
        """What a live stream is doing while no frame comes ("reconnecting (attempt 2, lost 1.4 s ago)"), else None;
        safe to call from the UI thread while this worker waits for a frame."""
        return getattr(self._source, "status", None)

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
        """Continue from frame ``index`` of a file (ignored for live sources); the model starts over."""
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

    def set_limit(self, frames: int | None) -> None:
        """Read at most ``frames`` frames of each source (then pause as at its end); None: no limit."""
        with self._cmd.cv:
            self.limit = None if frames is None else max(1, int(frames))
            self._cmd.cv.notify_all()

    # -- the loop (worker thread) ------------------------------------------------------------------------------------
    def _has_work(self) -> bool:
        opening = self._request is not None and (self._session is not None or self._opener is not None)
        return (opening or self._close_requested or self._seek_to is not None
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
            self._close_tracker()
            self.stopped.emit()

    def _tracker_for(self, session: Session, layout: str) -> Any:
        """This thread's pose tracker for the session's pose options and ``layout`` (made anew when they change)."""
        from cognn.pose import PoseTracker

        opts = session.config.pose
        persons = session.recognizer.model.num_persons
        t = self.tracker
        if t is None or (t.layout.name, t.num_persons, t.options, t.domain) != (layout, persons, opts, session.domain):
            self._close_tracker()
            self.tracker = PoseTracker(layout, persons, opts, domain=session.domain)
        return self.tracker

    def _close_tracker(self) -> None:
        t, self.tracker = self.tracker, None
        if t is not None:
            try:
                t.close()
            except USER_ERRORS:
                pass

    def _open_request(self, request: SourceRequest) -> FrameSource:
        if self._opener is not None:
            return self._opener(request)
        from cognn.sources import is_pixel

        session = self._session
        assert session is not None
        tracker = self._tracker_for(session, session.layout) if is_pixel(request.spec) else None
        return session.open(request.spec, skeleton_video=request.skeleton_video, tracker=tracker)

    def _loop(self) -> None:
        cv = self._cmd.cv
        while True:
            with cv:
                while not self._cmd.stopped and not self._has_work():
                    cv.wait(0.25)
                if self._cmd.stopped:
                    return
                request = None
                if self._session is not None or self._opener is not None:
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
                                name=str(getattr(source, "name", request.label())), layout=source.layout.name,
                                domain=str(getattr(source, "domain", "")), fps=fps,
                                num_frames=None if num is None else int(num), live=request.live,
                                canvas_size=None if canvas is None else (int(canvas[0]), int(canvas[1])))
        self.frames_sent = 0
        self.frames_read = 0
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
            self.stopped_by_limit = self.limit is not None and self.frames_read >= self.limit
            if self.stopped_by_limit:
                raise StopIteration
            frame = next(self._it)
            self.frames_read += 1
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
        # the first frame after a lost stream carries the gap (the session closes the events going on and restarts
        # the model there): it waits for room and is taken before the next frame can push it out as stale
        gap = info.live and gap_of(frame) is not None
        if self.queue.put(item, drop=info.live and not gap, abort=self._abort_put):
            self.frames_sent += 1 - (self.queue.dropped - dropped)
            while gap and len(self.queue) and not self._abort_put():
                time.sleep(0.005)

    def _close(self) -> None:
        source, self._source, self._it = self._source, None, None
        if source is not None:
            try:
                source.close()
            except USER_ERRORS:
                pass
