"""cognn-serve over the network: the WebSocket protocol, POST /infer, back-pressure, safety, the command itself."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, shared_data

aiohttp = pytest.importorskip("aiohttp", reason="cognn-serve needs aiohttp (the serve extra)")

pytestmark = pytest.mark.usefixtures("one_thread")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """The app on a free localhost port, its event loop in a thread."""

    def __init__(self, **cfg) -> None:
        from aiohttp import web

        from cognn.serve.server import ServeConfig, make_app

        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.app = make_app(ServeConfig(**cfg))
        self.runner = web.AppRunner(self.app)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    r = Running(max_message=64 * 1024)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def clip() -> list:
    from cognn.sources import open_source

    path = shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton")
    with open_source(str(path), layout="ntu25", num_persons=2) as src:
        return list(src)[:40]


def people(frame) -> list:
    return [frame.skeleton[:, :, m].T.tolist() for m in range(frame.skeleton.shape[2])]


def frame_msg(frame, seq: int) -> str:
    return json.dumps({"type": "frame", "t": frame.timestamp, "seq": seq, "people": people(frame)})


async def _answers_of(ws, last_seq: int) -> list[dict]:
    got = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 120)
        assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        a = json.loads(msg.data)
        got.append(a)
        if a.get("seq") == last_seq:
            return got


def test_stream_answers_every_frame_with_record_fields(server: Running, clip: list) -> None:
    from cognn.live.records import FIELDS, LIVE_FIELDS

    async def go() -> tuple[dict, list[dict], dict]:
        async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
            await ws.send_str(json.dumps({"type": "hello", "model": "gestures", "input": "skeleton"}))
            ready = await ws.receive_json()
            answers = []
            for i, f in enumerate(clip):  # paced at the model's rate: nothing dropped
                await ws.send_str(frame_msg(f, i))
                answers += await _answers_of(ws, i)
            await ws.send_str(json.dumps({"type": "end"}))
            return ready, answers, await ws.receive_json()

    ready, answers, end = asyncio.run(go())
    assert ready["type"] == "ready" and ready["model"] == "costgcn_mod" and ready["joints"] == 25
    assert ready["classes"][0] == "none" and ready["fps"] == 30.0
    assert [a["seq"] for a in answers] == list(range(len(clip)))
    for a in answers:
        assert set(FIELDS) | set(LIVE_FIELDS) | {"top"} <= set(a)
        assert a["dropped"] == 0 and a["weights_trained"] is True and len(a["top"]) == 5
    assert answers[-1]["label"] in ready["classes"] + ["uncertain"]
    assert end["type"] == "events" and isinstance(end["events"], list)


def test_bad_message_closes_only_its_stream(server: Running, clip: list) -> None:
    """Malformed JSON, a wrong frame, an oversized message and a made-up model path each close their own stream
    with a reason; a stream beside them is answered throughout."""

    async def go() -> list:
        async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as good:
            await good.send_str(json.dumps({"type": "hello", "model": "gestures"}))
            await good.receive_json()
            closes = []
            bad_inputs = [
                [json.dumps({"type": "hello"}), "not json"],
                [json.dumps({"type": "hello"}), json.dumps({"type": "frame", "t": 0.0, "people": [[[1, 2]]]})],
                [json.dumps({"type": "hello"}), json.dumps({"type": "frame", "t": "x"})],
                [json.dumps({"type": "hello"}), "[" * 70000],
                [json.dumps({"type": "hello", "model": "../weights/gestures_costgcn_mod.safetensors"})],
                [json.dumps({"type": "hello", "model": "/etc/passwd"})],
                [json.dumps({"type": "hello", "model": "gestures", "layout": "kinetics18"})],
                [json.dumps({"type": "hello", "model": "gestures", "input": "image", "width": 640, "height": 480})],
            ]
            for i, msgs in enumerate(bad_inputs):
                async with s.ws_connect(server.url + "/ws") as bad:
                    for m in msgs:
                        await bad.send_str(m)
                    while True:
                        msg = await asyncio.wait_for(bad.receive(), 60)
                        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                            closes.append((msg.data, msg.extra, bad.close_code))
                            break
                await good.send_str(frame_msg(clip[i], i))  # the good stream goes on
                (answer,) = await _answers_of(good, i)
                assert answer["type"] == "answer"
            return closes

    closes = asyncio.run(go())
    codes = [c[2] for c in closes]
    reasons = [str(c[1] or "") for c in closes]
    assert codes[:3] == [1003, 1003, 1003] and codes[3] == 1009 and codes[4:] == [1003] * 4, closes
    assert "malformed JSON" in reasons[0] and "person 0" in reasons[1] and "t must be" in reasons[2]
    assert "no model" in reasons[4] and "no model" in reasons[5]
    assert "takes layout ntu25" in reasons[6] and "image domain" in reasons[7]


def test_a_fast_sender_drops_its_oldest_frames_and_is_told(server: Running, clip: list) -> None:
    async def go() -> list[dict]:
        async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
            await ws.send_str(json.dumps({"type": "hello", "model": "gestures"}))
            await ws.receive_json()
            for i, f in enumerate(clip):  # all at once: far faster than 30 frames a second
                await ws.send_str(frame_msg(f, i))
            return await _answers_of(ws, len(clip) - 1)

    answers = asyncio.run(go())
    dropped = sum(a["dropped"] for a in answers)
    assert dropped > 0 and answers[-1]["dropped_total"] == dropped
    assert len(answers) + dropped == len(clip)  # every frame answered or said dropped
    seqs = [a["seq"] for a in answers]
    assert seqs == sorted(seqs) and seqs[-1] == len(clip) - 1  # the newest kept, in order


def test_post_infer_answers_a_clip(server: Running, clip: list) -> None:
    async def go() -> tuple[int, dict, int, str]:
        async with aiohttp.ClientSession() as s:
            body = {"model": "gestures", "frames": [{"t": f.timestamp, "people": people(f)} for f in clip]}
            async with s.post(server.url + "/infer", json=body) as r:
                good = (r.status, await r.json())
            async with s.post(server.url + "/infer", json={"model": "gestures", "frames": "x"}) as r:
                return good[0], good[1], r.status, await r.text()

    status, body, bad_status, bad_text = asyncio.run(go())
    assert status == 200 and body["model"] == "costgcn_mod" and len(body["records"]) == len(clip)
    assert [r["frame"] for r in body["records"]] == list(range(len(clip)))
    assert bad_status == 400 and "frames must be a list" in bad_text


def test_token_is_required_where_one_is_set(clip: list) -> None:
    r = Running(token="s3cret")
    try:
        async def go() -> tuple[int, str]:
            async with aiohttp.ClientSession() as s:
                async with s.get(r.url + "/ws") as resp:
                    denied = resp.status
                async with s.ws_connect(r.url + "/ws?token=s3cret") as ws:
                    await ws.send_str(json.dumps({"type": "hello"}))
                    return denied, (await ws.receive_json())["type"]

        denied, ready = asyncio.run(go())
        assert denied == 401 and ready == "ready"
    finally:
        r.stop()


def test_mediapipe_landmarks_are_mapped_as_the_camera_path_maps_them() -> None:
    """Real MediaPipe landmarks of a real picture, sent as a browser sends them: the server's skeleton is the one the
    camera path's tracker makes of the same detection."""
    import cv2
    import numpy as np

    from cognn.pose import PoseEstimator
    from cognn.pose.tracker import PoseOptions, PoseTracker
    from cognn.serve.protocol import ClientPeople, Hello
    from cognn.serve.streams import Capacity, ModelHost, ServeStream

    img = cv2.imread(str(shared_data("images", "h36m_S1_Directions_1.54138969_000001.jpg")))
    with PoseEstimator(mode="image") as est:
        found = est.process(img)
    assert found, "the picture shows a person"
    p = found[0]
    h, w = img.shape[:2]
    sent = [{"landmarks": np.concatenate([p.image_norm, p.visibility[:, None]], 1).tolist(),
             "world": p.world.tolist()}]
    host = ModelHost("gestures")
    stream = ServeStream(host, Hello("gestures", "mediapipe", w, h), lambda _: None, capacity=Capacity(10))
    try:
        frame = stream.frame(sent, 0.0, 0)
    finally:
        stream.close()
    camera = PoseTracker("ntu25", 2, PoseOptions(max_side=None), domain="camera3d", estimator=ClientPeople(2))
    camera.estimator.people = list(found[:1])  # type: ignore[attr-defined]
    ref = camera.process(img, 0.0)
    assert frame.persons == 1 and np.abs(frame.skeleton[:, :, 0]).sum() > 0
    np.testing.assert_allclose(frame.skeleton, ref.skeleton, atol=1e-4)


def test_command_refuses_a_public_address_without_token_and_stops_on_sigterm(tmp_path: Path, clip: list) -> None:
    """A public address without a token is refused; SIGTERM closes the streams going on (code 1001, "going away")
    and the server stops cleanly."""
    exe = [sys.executable, "-m", "cognn.cli.serve"]
    env = {**os.environ, "COGNN_SERVE_TOKEN": ""}
    out = subprocess.run([*exe, "--host", "0.0.0.0", "--port", str(free_port())], capture_output=True, text=True,
                         env=env, timeout=120, cwd=REPO)
    assert out.returncode == 2 and "needs --token" in out.stderr
    port = free_port()
    proc = subprocess.Popen([*exe, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=REPO)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on http://127.0.0.1:" in line, line
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)

        async def stream_then_sigterm() -> int | None:
            async with aiohttp.ClientSession() as s, s.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_str(json.dumps({"type": "hello", "model": "gestures"}))
                await asyncio.wait_for(ws.receive_json(), 120)
                for i, f in enumerate(clip[:5]):
                    await ws.send_str(frame_msg(f, i))
                await _answers_of(ws, 4)
                proc.send_signal(signal.SIGTERM)
                msg = await asyncio.wait_for(ws.receive(), 60)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
                return ws.close_code

        code = asyncio.run(stream_then_sigterm())
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 1001
    assert proc.returncode == 0 and "stopped" in rest and "terminate called" not in rest, rest


def test_web_page_and_its_local_files_are_served(server: Running) -> None:
    """The page, its script and the bundled pose model come from the server itself (no outside network)."""

    async def go() -> list[tuple[int, int, str]]:
        out = []
        async with aiohttp.ClientSession() as s:
            for path in ("/", "/static/app.js", "/weights/pose_landmarker_full.task", "/health"):
                async with s.get(server.url + path) as r:
                    body = await r.read()
                    out.append((r.status, len(body), body[:4000].decode("latin-1")))
        return out

    page, script, task, health = asyncio.run(go())
    assert page[0] == 200 and "/static/app.js" in page[2]
    assert script[0] == 200 and "/vendor/vision_bundle.mjs" in script[2] and '"mediapipe"' in script[2]
    bundled = REPO / "weights" / "pose_landmarker_full.task"
    assert task[0] == 200 and task[1] == bundled.stat().st_size
    assert health[0] == 200 and json.loads(health[2])["ok"] is True


def test_clients_name_models_never_paths(tmp_path: Path) -> None:
    """A checkpoint the server was started with is named by its file name (or stem); a path, even to that very
    file, is refused, as is any bundled name the manifest does not list."""
    from cognn.serve.protocol import ProtocolError
    from cognn.serve.streams import ModelCatalog

    mine = tmp_path / "mine.safetensors"
    mine.write_bytes((REPO / "weights" / "gestures_costgcn_mod.safetensors").read_bytes())
    cat = ModelCatalog([mine])
    assert cat.resolve("mine") == cat.resolve("mine.safetensors") == "mine.safetensors"
    assert cat.weights("mine.safetensors") == mine.resolve()
    assert cat.resolve(None) == "mine.safetensors"  # the first --weights is the default
    assert cat.resolve("gestures") == "gestures_costgcn_mod"
    for bad in (str(mine), "../mine.safetensors", "weights/gestures_costgcn_mod.safetensors", "costgcn"):
        with pytest.raises(ProtocolError, match="no model"):
            cat.resolve(bad)
