"""Network and device streams: a camera index, a device path (``/dev/video0``) or a URL (``rtsp://``, ``http(s)://``
MJPEG, anything OpenCV's FFmpeg backend opens) as a live :class:`~cognn.sources.frame.FrameSource` that survives
losing the stream.

* **Timestamps** (:class:`StreamClock`): the stream's own clock (``CAP_PROP_POS_MSEC``) while it advances plausibly —
  increasing, and its offset from the arrival time staying within ``max_jitter`` over the last few seconds — else the
  arrival time (``time.perf_counter()`` when the picture was decoded). The clock is chosen frame by frame and the
  output advances by the chosen clock's step, so timestamps never jump back. FFmpeg's MJPEG-over-HTTP demuxer
  invents a 25 fps clock whatever the real rate: it is caught by that test and arrival times are used.
* **Losses**: a read that fails (the connection dropped, or nothing came for ``read_timeout`` seconds) reopens the
  stream with exponential backoff (``retry_delay`` doubling up to ``retry_max_delay``, at most ``max_attempts``
  attempts and ``max_lost`` seconds), then raises :class:`StreamLostError`. The first frame after a loss carries
  ``gap`` (seconds since the last frame before it, arrival clock) and its timestamp moves on by that much; the loss
  is also kept in :attr:`StreamSource.gaps`. Deciding what a gap means (resetting the model state when it is longer
  than some limit) is the session's: see :func:`gap_of`. Frames already read are never dropped.
* **Reading** runs in a thread that decodes pictures as they arrive (so arrival times are true even while pose
  is busy) into a bounded buffer (``buffer`` pictures; when it is full the reader waits, nothing is dropped); pose
  runs in :meth:`StreamSource.read`.
* **Quiet**: FFmpeg's own log (``Stream ends prematurely``, ``Connection refused``) is turned off by setting
  ``OPENCV_FFMPEG_LOGLEVEL=-8`` when this module is imported (unless set already; OpenCV reads it when it first
  uses FFmpeg, so it takes effect when ``cognn.sources`` is imported before any video is opened, as in every cognn
  command); OpenCV's own warnings are silenced around every capture call, and fd 2 as well while a stream is being
  opened (:func:`cognn.pose.quiet.opencv_quiet`).
"""
from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domains import LAYOUT_DOMAIN
from ..errors import CognnError
from ..handoff import put_unless_stopped
from ..layouts import Layout, get_layout
from ..pose.tracker import PoseOptions, PoseTracker
from .frame import SkeletonFrame
from .pixels import _PixelSource

# FFmpeg's log level as OpenCV sets it when it first uses FFmpeg (-8 = AV_LOG_QUIET); see the module docstring
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

__all__ = ["StreamOptions", "StreamFrame", "StreamGap", "StreamClock", "StreamSource", "StreamLostError",
           "parse_camera", "is_stream_spec", "redact_url", "gap_of", "DEFAULT_STREAM"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class StreamLostError(CognnError):
    """A stream went away and could not be reopened within the configured attempts and time."""


@dataclass(frozen=True)
class StreamOptions:
    """How a stream is opened, timed and reopened."""

    #: seconds one open attempt may take (FFmpeg URLs)
    open_timeout: float = 10.0
    #: a read waiting longer than this counts as a lost stream (FFmpeg URLs)
    read_timeout: float = 5.0
    #: first wait before reopening; each further attempt waits ``retry_factor`` times longer, up to ``retry_max_delay``
    retry_delay: float = 0.25
    retry_factor: float = 2.0
    retry_max_delay: float = 5.0
    #: reopen attempts per loss (0: a loss ends the stream with StreamLostError at once)
    max_attempts: int = 10
    #: give up when the stream has been away this many seconds
    max_lost: float = 60.0
    #: "auto" (the stream's clock while plausible, else arrival), "stream" (its clock whenever it increases), "arrival"
    clock: str = "auto"
    #: largest spread (seconds) of the offset stream clock - arrival over ``clock_window`` for the stream clock to count
    max_jitter: float = 0.25
    #: seconds of agreement needed before the stream clock is trusted, and the window it is judged over
    clock_window: float = 2.0
    #: pictures decoded ahead of pose at most (the reader waits when the buffer is full)
    buffer: int = 64
    #: keep OpenCV/FFmpeg messages off the terminal
    quiet: bool = True

    def __post_init__(self) -> None:
        if self.clock not in ("auto", "stream", "arrival"):
            raise ValueError(f"clock must be 'auto', 'stream' or 'arrival', not {self.clock!r}")
        if min(self.open_timeout, self.read_timeout) <= 0 or self.retry_delay < 0 or self.retry_factor < 1:
            raise ValueError("timeouts must be > 0, retry_delay >= 0 and retry_factor >= 1")
        if self.max_attempts < 0 or self.max_lost < 0 or self.buffer < 1:
            raise ValueError("max_attempts and max_lost must be >= 0 and buffer >= 1")


DEFAULT_STREAM = StreamOptions()


@dataclass
class StreamFrame(SkeletonFrame):
    """A :class:`SkeletonFrame` of a stream; ``gap`` is set on the first frame after a loss."""

    #: seconds between the last frame before a loss and this one (arrival clock); None when nothing was lost
    gap: float | None = None


def gap_of(frame: SkeletonFrame) -> float | None:
    """The gap (seconds) a frame reports after a lost stream, None for any other frame or source."""
    gap = getattr(frame, "gap", None)
    return None if gap is None else float(gap)


@dataclass(frozen=True)
class StreamGap:
    """One loss of the stream, as reported on the first frame after it."""

    #: index of the first frame after the loss
    index: int
    #: timestamps (source clock) of the last frame before the loss and of the first after it
    start: float
    end: float
    #: reopen attempts it took
    attempts: int
    #: why the stream was considered lost
    reason: str = "read failed"

    @property
    def seconds(self) -> float:
        return self.end - self.start


class StreamClock:
    """Timestamps of a live stream from the stream's own clock where plausible, the arrival time otherwise.

    :meth:`stamp` takes the stream's time of a frame (None when it has none) and its arrival time and returns the
    output timestamp: 0 for the first frame, then the previous one plus the step of the chosen clock. The stream
    clock is chosen while it increases by less than ``max_step`` a frame and ``arrival - stream`` has varied by at most
    ``max_jitter`` over the last ``window`` seconds (and the window is full); ``mode="stream"`` skips the second test,
    ``mode="arrival"`` never uses the stream clock. :meth:`restart` starts a new connection (the stream clock
    restarts; the next step is the arrival gap).
    """

    def __init__(self, mode: str = "auto", *, max_jitter: float = 0.25, window: float = 2.0,
                 max_step: float = 1.0) -> None:
        if mode not in ("auto", "stream", "arrival"):
            raise ValueError(f"clock mode must be 'auto', 'stream' or 'arrival', not {mode!r}")
        self.mode = mode
        self.max_jitter = float(max_jitter)
        self.window = float(window)
        self.max_step = float(max_step)
        self._last_out: float | None = None
        self._last_arrival: float | None = None
        self._last_stream: float | None = None
        self._offsets: deque[tuple[float, float]] = deque()
        #: "stream" or "arrival": the clock the latest timestamp came from
        self.using = "arrival"

    def restart(self) -> None:
        """A new connection: forget the stream clock (the arrival clock and the output go on)."""
        self._last_stream = None
        self._offsets.clear()

    def _plausible(self, stream_t: float, arrival: float) -> bool:
        q = self._offsets
        q.append((arrival, arrival - stream_t))
        while q and arrival - q[0][0] > self.window:
            q.popleft()
        if self.mode == "stream":
            return True
        offsets = [o for _, o in q]
        full = arrival - q[0][0] >= 0.9 * self.window
        return full and max(offsets) - min(offsets) <= self.max_jitter

    def stamp(self, stream_t: float | None, arrival: float) -> float:
        """The output timestamp (seconds) of a frame with the stream time ``stream_t`` that arrived at ``arrival``."""
        prev_stream, self._last_stream = self._last_stream, stream_t
        step_arrival = 0.0 if self._last_arrival is None else max(0.0, arrival - self._last_arrival)
        self._last_arrival = arrival
        use_stream = False
        step = step_arrival
        if self.mode != "arrival" and stream_t is not None and np.isfinite(stream_t):
            jumped = prev_stream is not None and not prev_stream < stream_t <= prev_stream + self.max_step
            if jumped:
                self._offsets.clear()  # the stream clock jumped or stood still: judge it afresh
            if self._plausible(stream_t, arrival) and prev_stream is not None and not jumped:
                use_stream, step = True, stream_t - prev_stream
        else:
            self._last_stream = None
            self._offsets.clear()
        self.using = "stream" if use_stream else "arrival"
        if self._last_out is None:
            out = 0.0
        else:
            out = self._last_out + max(step, 1e-4)  # strictly increasing: a repeated time would be dropped
        self._last_out = out
        return out


def parse_camera(value: str | int) -> int | str:
    """A ``--camera`` value: a device index (``"0"`` -> 0), a device path or a URL (returned as given). Raises
    CognnError for anything else, naming it."""
    if isinstance(value, bool):
        raise CognnError(f"--camera {value!r}: give a device index, a device path or a URL")
    if isinstance(value, int):
        if value < 0:
            raise CognnError(f"--camera {value}: a device index is 0 or more")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if _URL.match(text) or text.startswith("/dev/"):
        return text
    raise CognnError(f"--camera {value!r}: give a device index (0), a device path (/dev/video0) or a URL "
                     "(rtsp://..., http://...)")


def is_stream_spec(spec: object) -> bool:
    """True for a URL (``scheme://...``) or a device path (``/dev/...``) given as a string."""
    return isinstance(spec, str) and (bool(_URL.match(spec.strip())) or spec.strip().startswith("/dev/"))


def redact_url(spec: str | int) -> str:
    """The spec as shown to people: a URL's password replaced by ``***``."""
    if isinstance(spec, int):
        return f"camera {spec}"
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", spec)


@contextmanager
def _cv_silent(enabled: bool = True) -> Iterator[None]:
    """OpenCV's own logging off for the duration (no fd redirection: safe to hold while other threads print)."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if not enabled or logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _open_capture(target: int | str, options: StreamOptions) -> Any:
    """``cv2.VideoCapture`` for an index, a device path or a URL (FFmpeg with open/read timeouts)."""
    import cv2

    from ..pose.quiet import opencv_quiet

    def make() -> Any:
        if isinstance(target, int) or target.startswith("/dev/"):
            return cv2.VideoCapture(target)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(options.open_timeout * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(options.read_timeout * 1000)]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)

    if options.quiet:
        with opencv_quiet():
            return make()
    return make()


def _stream_time(cap: Any) -> float | None:
    """``CAP_PROP_POS_MSEC`` in seconds, None when missing or negative."""
    import math

    import cv2

    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    return ms / 1000.0 if ms is not None and math.isfinite(ms) and ms >= 0 else None


#: one decoded picture: (picture, stream time, arrival time, reopen attempts before it or None)
_Item = tuple[np.ndarray, "float | None", float, "int | None"]
_END = object()


class StreamSource(_PixelSource):
    """A live stream through pose (see the module docstring): the interface of
    :class:`~cognn.sources.pixels.CameraSource` (``live=True``, no seeking), frames of type :class:`StreamFrame`.

    ``spec``: a device index, a device path or a URL; ``options``: timeouts, reconnection, buffer and clock.
    Raises CognnError naming the stream when it cannot be opened at first.
    """

    live = True

    def __init__(self, spec: int | str, layout: str | Layout = "ntu25", *, num_persons: int = 2,
                 pose: PoseOptions = PoseOptions(), tracker: PoseTracker | None = None,
                 options: StreamOptions = DEFAULT_STREAM) -> None:
        from ..pose.video import video_fps

        self.spec = parse_camera(spec)
        self.options = options
        self.name = redact_url(self.spec)
        self.layout = get_layout(layout)
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.num_frames = None
        #: every loss of the stream so far
        self.gaps: list[StreamGap] = []
        #: while the reader is reopening a lost stream: ``(time.perf_counter() when lost, attempts so far)``
        self._lost: tuple[float, int] | None = None
        self.clock = StreamClock(options.clock, max_jitter=options.max_jitter, window=options.clock_window)
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=options.buffer)
        self._closed = False
        self._done = False
        self._cap: Any = None
        first = self._connect(None)
        if first is None:
            raise CognnError(f"{self.name} cannot be opened (no such device or stream, not reachable, in use by "
                             "another program, or no permission)")
        self.fps = video_fps(self._cap)
        self.canvas_size = (int(first[0].shape[1]), int(first[0].shape[0]))
        self._pos = 0
        self._last_arrival: float | None = None
        self._last_ts: float | None = None
        self._queue.put(first)
        # reading starts now, so that the pictures arriving while the pose model loads keep their arrival times
        self._thread = threading.Thread(target=self._reader, name=f"cognn-stream {self.name}", daemon=True)
        self._thread.start()
        try:
            self._tracker_for(num_persons, pose, tracker)
        except BaseException:
            self.close()
            raise

    # -- the reader thread -------------------------------------------------------------------------------------------
    def _connect(self, attempts: int | None) -> _Item | None:
        """Open the capture and read its first picture, or None."""
        cap = _open_capture(self.spec, self.options)
        ok, picture, stream_t = False, None, None
        if cap.isOpened():
            with _cv_silent(self.options.quiet):
                ok, picture = cap.read()
                stream_t = _stream_time(cap)
        if not ok or picture is None:
            cap.release()
            return None
        self._cap = cap
        return picture, stream_t, time.perf_counter(), attempts

    def _finite_end(self) -> bool:
        """True when the capture is a finite file (over HTTP, say) read to its end: no reopening then."""
        import cv2

        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        pos = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        return bool(0 < count < 1e9 and pos >= count - 1)

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _put(self, item: object) -> bool:
        return put_unless_stopped(self._queue, item, self._stop)

    def _reader(self) -> None:
        try:
            while not self._stop.is_set():
                with _cv_silent(self.options.quiet):
                    ok, picture = self._cap.read()
                    arrival = time.perf_counter()
                    stream_t = _stream_time(self._cap) if ok else None
                if ok and picture is not None:
                    item: object = (picture, stream_t, arrival, None)
                elif self._finite_end():
                    item = _END
                else:
                    item = self._reconnect("read failed or timed out")
                    if item is None:
                        return
                if not self._put(item) or item is _END:
                    return
        except BaseException as e:  # handed to read()
            self._put(e)
        finally:
            self._release()

    def _reconnect(self, reason: str) -> _Item | None:
        """Reopen with exponential backoff: the first picture (with the attempts it took); None when the source is
        closed meanwhile; StreamLostError when the attempts or the time run out."""
        opts = self.options
        self._release()
        lost_at = time.perf_counter()
        delay = opts.retry_delay
        attempts = 0
        self._lost = (lost_at, 0)
        while attempts < opts.max_attempts:
            if time.perf_counter() + delay - lost_at > opts.max_lost or self._stop.wait(delay):
                break
            attempts += 1
            self._lost = (lost_at, attempts)
            got = self._connect(attempts)
            if got is not None:
                self._lost = None
                return got
            delay = min(opts.retry_max_delay, max(delay * opts.retry_factor, 0.05))
        self._lost = None
        if self._stop.is_set():
            return None
        raise StreamLostError(f"{self.name}: the stream was lost ({reason}) and not back after {attempts} "
                              f"attempt{'s' if attempts != 1 else ''} over {time.perf_counter() - lost_at:.1f} s")

    @property
    def status(self) -> str | None:
        """``"reconnecting (attempt 2, lost 1.4 s ago)"`` while a lost stream is being reopened, else None (safe to
        read from any thread: a program shows it while :meth:`read` waits)."""
        lost = self._lost
        if lost is None:
            return None
        ago = time.perf_counter() - lost[0]
        tries = f"attempt {lost[1]}, " if lost[1] else ""
        return f"reconnecting ({tries}lost {ago:.1f} s ago)"

    # -- frames ------------------------------------------------------------------------------------------------------
    def read(self) -> StreamFrame | None:
        """The next frame (pose runs here); after a loss, the first frame after the reconnection, with its ``gap``.
        None once closed or at the end of a finite stream; StreamLostError when the stream does not come back."""
        if self._closed or self._done:
            return None
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if self._closed or not self._thread.is_alive() and self._queue.empty():
                    self._done = True
                    return None
        if item is _END:
            self._done = True
            return None
        if isinstance(item, BaseException):
            self._done = True
            raise item
        picture, stream_t, arrival, attempts = item
        return self._stamped(picture, stream_t, arrival, attempts)

    def _stamped(self, picture: np.ndarray, stream_t: float | None, arrival: float,
                 attempts: int | None) -> StreamFrame:
        gap = None
        if attempts is not None:
            self.clock.restart()
            if self._last_arrival is not None:
                gap = arrival - self._last_arrival
        ts = self.clock.stamp(stream_t, arrival)
        if gap is not None:
            self.gaps.append(StreamGap(self._pos, float(self._last_ts or 0.0), ts, int(attempts or 0)))
            self.canvas_size = (int(picture.shape[1]), int(picture.shape[0]))
        self._last_arrival, self._last_ts = arrival, ts
        base = self._frame(picture, ts, arrival)
        return StreamFrame(**{f: getattr(base, f) for f in _FRAME_FIELDS}, gap=gap)

    def seek(self, index: int) -> None:
        raise ValueError(f"{self.name} is a live source; it cannot seek")

    def close(self) -> None:
        """Stop the reader (a reconnection in progress gives up), release the capture and the pose tracker."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            while True:  # unblock a reader waiting to put
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            thread.join(timeout=self.options.read_timeout + self.options.open_timeout + 1.0)
        else:
            self._release()
        if hasattr(self, "tracker"):
            self._close_tracker()


_FRAME_FIELDS = tuple(SkeletonFrame.__dataclass_fields__)
