"""Network streams (cognn.sources.stream): a real HTTP MJPEG stream served on localhost from the frames of a real
video, dropped mid-stream and brought back; the source reconnects, reports the gap and loses nothing."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from helpers import shared_data

from cognn.errors import CognnError
from cognn.sources import open_source, source_kind
from cognn.sources.stream import (
    StreamClock,
    StreamFrame,
    StreamLostError,
    StreamOptions,
    StreamSource,
    gap_of,
    parse_camera,
    redact_url,
)

BITS = 10
CELL = 12


def _mark(picture: np.ndarray, index: int) -> np.ndarray:
    """Write ``index`` into the top-left corner as BITS black/white squares (survives JPEG)."""
    out = picture.copy()
    for b in range(BITS):
        out[:CELL, b * CELL:(b + 1) * CELL] = 255 if index >> b & 1 else 0
    return out


def _read_mark(picture: np.ndarray) -> int:
    return sum(1 << b for b in range(BITS) if picture[2:CELL - 2, b * CELL + 2:(b + 1) * CELL - 2].mean() > 128)


class MJPEGServer:
    """A live MJPEG camera on 127.0.0.1: every connection continues from the next frame; :meth:`drop` cuts the
    current connection after frame ``after`` and refuses connections (the server is down) for ``down`` seconds."""

    def __init__(self, jpegs: list[bytes], fps: float = 30.0) -> None:
        self.jpegs = jpegs
        self.fps = fps
        self.next = 0
        self.drop_after: int | None = None
        self.down_for = 0.0
        self.connections = 0
        self.lock = threading.Lock()
        self.port = self._free_port()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                while owner.next < len(owner.jpegs):
                    with owner.lock:
                        i = owner.next
                        owner.next += 1
                    j = owner.jpegs[i]
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(j))
                        self.wfile.write(j + b"\r\n")
                        self.wfile.flush()
                    except OSError:
                        return
                    if owner.drop_after is not None and i == owner.drop_after:
                        owner.drop_after = None
                        threading.Thread(target=owner._outage, daemon=True).start()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    time.sleep(1.0 / owner.fps)

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def _outage(self) -> None:
        self.stop()
        time.sleep(self.down_for)
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream"


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    import cv2

    cap = cv2.VideoCapture(str(shared_data("video", "fanchiang_3-2.mp4")))
    out = []
    for i in range(75):
        ok, picture = cap.read()
        assert ok
        small = cv2.resize(picture, (480, 270), interpolation=cv2.INTER_AREA)
        out.append(cv2.imencode(".jpg", _mark(small, i), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    cap.release()
    return out


def test_this_opencv_opens_http_mjpeg(jpegs):
    """The OpenCV build's FFmpeg backend reads multipart/x-mixed-replace MJPEG over HTTP (what StreamSource needs)."""
    import cv2

    server = MJPEGServer(jpegs[:5], fps=100)
    try:
        cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG)
        assert cap.isOpened()
        pictures = []
        while True:
            ok, picture = cap.read()
            if not ok:
                break
            pictures.append(picture)
        cap.release()
    finally:
        server.stop()
    assert [_read_mark(p) for p in pictures] == [0, 1, 2, 3, 4]


def test_stream_survives_a_dropped_connection(jpegs, capfd):
    """Dropped after frame 29, the server down for 1 s: every frame arrives once and in order, the first frame after
    the reconnection reports the gap, timestamps keep increasing, pose keeps finding the person; then the server goes
    away for good and the bounded retries end in StreamLostError. Nothing is printed by OpenCV or FFmpeg."""
    server = MJPEGServer(jpegs)
    server.drop_after, server.down_for = 29, 1.0
    opts = StreamOptions(retry_delay=0.2, retry_factor=2.0, retry_max_delay=0.8, max_attempts=4, max_lost=5.0,
                         read_timeout=2.0, open_timeout=2.0)
    frames: list[StreamFrame] = []
    t0 = time.perf_counter()
    try:
        with StreamSource(server.url, "ntu25", options=opts) as src:
            assert src.live and src.name == server.url
            statuses: list[str] = []
            polling = threading.Event()

            def poll() -> None:  # what a program shows while read() waits (the app polls it)
                while not polling.wait(0.05):
                    if src.status is not None:
                        statuses.append(src.status)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            with pytest.raises(StreamLostError, match="not back after 4 attempts"):
                for frame in src:
                    frames.append(frame)
                    if len(frames) == len(jpegs):
                        server.stop()  # gone for good now
            polling.set()
            poller.join()
            gaps = list(src.gaps)
            assert src.status is None
    finally:
        server.stop()
    took = time.perf_counter() - t0
    assert took < 25
    assert [_read_mark(f.image) for f in frames] == list(range(len(jpegs)))  # nothing lost, nothing twice
    assert server.connections >= 2  # the drop, then (served out) the reconnection attempts
    gapped = [f for f in frames if gap_of(f) is not None]
    assert [f.index for f in gapped] == [30]
    assert 1.0 <= gapped[0].gap < 4.0
    assert len(gaps) == 1 and gaps[0].index == 30 and gaps[0].attempts >= 1
    assert statuses and all(t.startswith("reconnecting") for t in statuses)
    ts = np.array([f.timestamp for f in frames])
    assert np.all(np.diff(ts) > 0)
    assert ts[30] - ts[29] == pytest.approx(gapped[0].gap, abs=1e-6)
    # MJPEG over HTTP has no clock of its own (FFmpeg invents 25 fps): the timestamps follow arrival at ~30 fps
    steps = np.diff(ts[:30])
    assert 0.6 / 30 < np.median(steps) < 1.6 / 30
    after = frames[31:]
    assert sum(f.persons >= 1 for f in after) >= 0.9 * len(after)  # pose finds her after the reconnect
    assert all(f.captured is not None and f.draw_px is not None for f in frames)
    err = capfd.readouterr().err
    assert "[http" not in err and "[tcp" not in err and "WARN" not in err and "ffmpeg" not in err.lower()


def test_stream_through_open_source(jpegs):
    """open_source routes a URL to StreamSource (with the session's pose settings); a refused URL is one sentence."""
    server = MJPEGServer(jpegs[:3], fps=100)
    try:
        assert source_kind(server.url) == "stream"
        with open_source(server.url, layout="kinetics18", num_persons=1) as src:
            assert isinstance(src, StreamSource) and src.domain == "image2d"
            frame = src.read()
            assert frame is not None and frame.skeleton.shape == (3, 18, 1)
    finally:
        server.stop()
    with pytest.raises(CognnError, match="cannot be opened"):
        StreamSource(f"http://127.0.0.1:{MJPEGServer._free_port()}/nothing", options=StreamOptions(open_timeout=1.0))


def test_stream_clock_prefers_a_plausible_stream_clock():
    """The stream's own clock is used once it has agreed with arrival for the window; a clock running 20 % fast
    (FFmpeg's invented 25 fps on a 30 fps stream) is not; jumps fall back to arrival without going backwards."""
    rng = np.random.default_rng(0)
    good = StreamClock(window=1.0)
    arrival = np.cumsum(np.full(90, 1 / 30) + rng.uniform(-0.005, 0.005, 90)) + 100.0
    stream = np.arange(90) / 30 + 7.0
    out = [good.stamp(s, a) for s, a in zip(stream, arrival)]
    assert good.using == "stream"
    assert np.allclose(np.diff(out)[40:], 1 / 30, atol=1e-9)  # exactly the stream's steps once trusted
    fast = StreamClock()  # the default 2 s window: 0.4 s of drift, over the 0.25 s allowed
    out = [fast.stamp(i * 0.040, a) for i, a in enumerate(arrival)]
    assert fast.using == "arrival"
    assert np.allclose(np.diff(out), np.diff(arrival))
    jumpy = StreamClock(window=0.5)
    times = [jumpy.stamp(s, a) for s, a in zip([0.0, 0.033, 0.066, 5.0, 0.1, None, 0.2], arrival[:7])]
    assert np.all(np.diff(times) > 0)
    with pytest.raises(ValueError, match="clock mode"):
        StreamClock("wall")


def test_camera_values_and_redaction():
    assert parse_camera("0") == 0 and parse_camera(2) == 2
    assert parse_camera("/dev/video0") == "/dev/video0"
    assert parse_camera("rtsp://cam.local:554/live") == "rtsp://cam.local:554/live"
    with pytest.raises(CognnError, match="device index"):
        parse_camera("webcam")
    assert redact_url("rtsp://admin:secret@10.0.0.2/h264") == "rtsp://admin:***@10.0.0.2/h264"
    assert source_kind("/dev/video0") == "stream" and source_kind("http://host/clip.mp4") == "stream"


# -- cognn-infer on a stream that drops -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workout_jpegs() -> list[bytes]:
    """The jumping-jacks clip (59.94 fps) at 30 fps in real time: every second picture, 150 pictures, 5 s."""
    return workout_stream(150, (480, 270), 90)


def workout_stream(count: int, size: tuple[int, int], quality: int) -> list[bytes]:
    """The jumping-jacks clip at 30 fps (every second picture of its 59.94), ``count`` JPEG pictures of ``size``,
    each marked with its number (:func:`_mark`): what the test's MJPEG camera serves."""
    import cv2

    cap = cv2.VideoCapture(str(shared_data("video", "fanchiang_3-2.mp4")))
    out: list[bytes] = []
    i = 0
    while len(out) < count:
        ok, picture = cap.read()
        assert ok
        if i % 2 == 0:
            small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            out.append(cv2.imencode(".jpg", _mark(small, len(out)), [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes())
        i += 1
    cap.release()
    return out


def test_cognn_infer_survives_a_dropped_connection(workout_jpegs, tmp_path, capsys):
    """``cognn-infer --camera http://127.0.0.1:PORT/stream`` on a live MJPEG camera that drops the connection after
    4 s (frame 119) and is down for 1.5 s: the run goes on after the reconnection and ends at --max-frames; every
    frame has its record, once and in order; the first frame after the loss is marked (``gap``, ``reset``: the model
    starts over) and so is the recording; the jumping-jacks event going on when the stream went away is closed at the
    last frame before it and kept (in --events and the recording), nothing written before the loss is lost."""
    from cognn.cli.infer import main
    from cognn.data.store import load_recording
    from cognn.live.events import events_of_recording, read_events

    server = MJPEGServer(workout_jpegs)
    server.drop_after, server.down_for = 119, 1.5
    out, events, h5 = tmp_path / "live.jsonl", tmp_path / "events.jsonl", tmp_path / "live.h5"
    try:
        rc = main(["--camera", server.url, "--weights", "gestures", "--max-frames", str(len(workout_jpegs)),
                   "-o", str(out), "--events", str(events), "--save-skeletons", str(h5), "--gap-reset", "1.0"])
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "[http" not in err and "Traceback" not in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(len(workout_jpegs)))
    assert all(r["source"] == server.url for r in records)
    gapped = [r for r in records if r["gap"] is not None]
    assert [r["frame"] for r in gapped] == [120] and gapped[0]["reset"] is True and 1.5 <= gapped[0]["gap"] < 5.0
    assert sum(r["reset"] for r in records) == 1
    ts = [r["timestamp"] for r in records]
    assert all(b > a for a, b in zip(ts, ts[1:])) and ts[120] - ts[119] == pytest.approx(gapped[0]["gap"], abs=2e-3)
    # the model starts over: it is warm before the loss, warming up again after it
    assert records[119]["ready"] and not records[120]["ready"]
    before = [r for r in records[:120] if r["label"] == "jumping_jacks"]
    assert before, "the model saw the jumping jacks before the loss"
    kept = read_events(events)
    # (event times are model-frame times: at most a quarter model frame after the input frame that released them)
    assert kept and kept[0].label == "jumping_jacks" and kept[0].end <= ts[119] + 0.01 and kept[0].reps >= 1
    rec = load_recording(h5)
    assert rec.num_frames == len(workout_jpegs)
    gaps = [e for e in rec.events if e.get("kind") == "gap"]
    assert len(gaps) == 1 and gaps[0]["frame"] == 120 and gaps[0]["reset"] is True
    assert [e.to_dict() for e in events_of_recording(rec.events)] == [e.to_dict() for e in kept]
