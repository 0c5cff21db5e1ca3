"""The ``cognn-serve`` application: WebSocket streams at ``/ws``, one-off clips at ``POST /infer``, the web page at
``/``.

A WebSocket connection is one stream (:mod:`~cognn.serve.protocol` for the messages): a hello, answered with the
model's facts (``{"type": "ready", ...}``), then frames, each answered with ``cognn-infer``'s record fields
(``{"type": "answer", ...}``), and ``{"type": "end"}``, answered with the stream's events before the server closes
it. A malformed or oversized message closes that stream only, with the reason (close code 1003 or 1009).

``POST /infer`` takes one JSON object, a hello's fields and ``frames`` (a list of frame messages without ``type``),
and returns ``{"model": ..., "records": [...], "events": [...]}``: the same session, batched with the live streams.

Safety: the server listens on 127.0.0.1 unless told otherwise; elsewhere a token is required (``Authorization:
Bearer TOKEN`` or ``?token=TOKEN``); a client names a model, never a path (:class:`~cognn.serve.streams.ModelCatalog`).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ..errors import CognnError
from ..live.session import LiveConfig
from .protocol import ProtocolError, parse_frame, parse_hello
from .streams import Capacity, ModelCatalog, ModelHost, ServeStream

__all__ = ["ServeConfig", "make_app", "LOCAL_HOSTS", "HOSTS"]

log = logging.getLogger("cognn.serve")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: which server process answers (streams behind a load balancer can tell their server apart)
SERVER_ID = f"{socket.gethostname()}:{os.getpid()}"
#: answers waiting to be sent to one client before the stream is closed as not reading
MAX_UNSENT = 1024
#: frames of a POST /infer clip waiting at most (the request waits for room; nothing is dropped)
CLIP_QUEUE = 64
WEB_DIR = Path(__file__).resolve().parent / "web"


@dataclass
class ServeConfig:
    """The server's settings (``cognn-serve`` options)."""

    weights: list[str] = field(default_factory=list)
    default_model: str | None = None
    token: str | None = None
    device: str = "cpu"
    precision: str | None = None
    #: frames a stream may have waiting (older ones are dropped beyond it)
    queue: int = 8
    #: frames waiting on the whole server before every stream's new frames push out its oldest
    capacity: int = 16384
    #: the largest message a client may send, bytes
    max_message: int = 256 * 1024
    #: the largest number of streams at once
    max_streams: int = 4096
    #: where the web page's MediaPipe files were installed (``cognn-serve --setup-web``)
    web_cache: Path | None = None
    live: LiveConfig = field(default_factory=LiveConfig)


class Hosts:
    """The models being served, each loaded on first use."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self.catalog = ModelCatalog(cfg.weights, default=cfg.default_model)
        self._hosts: dict[str, ModelHost] = {}
        self._lock = threading.Lock()

    def loaded(self) -> dict[str, ModelHost]:
        with self._lock:
            return dict(self._hosts)

    def get(self, name: str | None) -> ModelHost:
        canonical = self.catalog.resolve(name)
        with self._lock:
            host = self._hosts.get(canonical)
            if host is None:
                try:
                    host = ModelHost(self.catalog.weights(canonical), device=self.cfg.device,
                                     precision=self.cfg.precision, config=self.cfg.live)
                except CognnError as e:
                    raise ProtocolError(f"model {canonical!r} cannot be served: {e}") from None
                self._hosts[canonical] = host
            return host


#: the app's models (``app[HOSTS].get(name)`` loads one)
HOSTS = web.AppKey("hosts", Hosts)


def _authorized(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    given = request.query.get("token") or ""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = auth[len("Bearer "):]
    return hmac.compare_digest(given.encode(), token.encode())


def make_app(cfg: ServeConfig) -> web.Application:
    """The aiohttp application (see the module docstring)."""
    hosts = Hosts(cfg)
    capacity = Capacity(cfg.capacity)
    app = web.Application(client_max_size=cfg.max_message * 64)
    app[HOSTS] = hosts
    streams: set[ServeStream] = set()
    sockets: set[web.WebSocketResponse] = set()

    async def going_away(_: web.Application) -> None:  # SIGTERM / Ctrl-C: every stream told, then closed
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"the server is stopping")

    async def workers_done(_: web.Application) -> None:  # no worker thread left inside a model step at exit
        for s in list(streams):
            s.close()
        for s in list(streams):
            await asyncio.to_thread(s.join, 5.0)

    app.on_shutdown.append(going_away)
    app.on_cleanup.append(workers_done)

    async def health(request: web.Request) -> web.Response:
        batches = {name: {"calls": h.batched.stats.calls, "rows": h.batched.stats.rows,
                          "mean_batch": round(h.batched.stats.mean_batch, 2), "largest": h.batched.stats.largest,
                          "restacks": h.batched.stats.restacks, "step_seconds": round(h.batched.stats.seconds, 3)}
                   for name, h in hosts.loaded().items()}
        return web.json_response({"ok": True, "streams": len(streams), "models": hosts.catalog.names(),
                                  "batches": batches})

    async def stream(request: web.Request) -> web.StreamResponse:
        if not _authorized(request, cfg.token):
            raise web.HTTPUnauthorized(text="a token is required (Authorization: Bearer TOKEN or ?token=TOKEN)\n")
        if len(streams) >= cfg.max_streams:
            raise web.HTTPServiceUnavailable(text="the server holds as many streams as it may\n")
        ws = web.WebSocketResponse(max_msg_size=cfg.max_message, heartbeat=30.0)
        await ws.prepare(request)
        sockets.add(ws)
        try:
            await _run_stream(ws, hosts, capacity, cfg, streams, request.remote or "client")
        finally:
            sockets.discard(ws)
        return ws

    async def infer(request: web.Request) -> web.Response:
        if not _authorized(request, cfg.token):
            raise web.HTTPUnauthorized(text="a token is required\n")
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ProtocolError("the request is one JSON object")
            hello = parse_hello({**body, "type": "hello"})
            frames = body.get("frames")
            if not isinstance(frames, list):
                raise ProtocolError("frames must be a list of frame messages")
            host = await asyncio.to_thread(hosts.get, hello.model)
            return web.json_response(await asyncio.to_thread(_clip, host, hello, frames, capacity))
        except (ProtocolError, ValueError) as e:
            raise web.HTTPBadRequest(text=f"{e}\n") from None

    async def page(request: web.Request) -> web.StreamResponse:
        index = WEB_DIR / "index.html"
        if not index.is_file():
            return web.Response(text="cognn-serve: streams at /ws, clips at POST /infer\n")
        return web.FileResponse(index)

    async def pose_model(request: web.Request) -> web.StreamResponse:
        from ..weights import default_entry

        entry = default_entry("pose")
        if entry is None or not entry.path.is_file():
            raise web.HTTPNotFound(text="no bundled pose model (weights/manifest.json)\n")
        return web.FileResponse(entry.path)

    app.router.add_get("/", page)
    app.router.add_get("/weights/pose_landmarker_full.task", pose_model)
    app.router.add_get("/health", health)
    app.router.add_get("/ws", stream)
    app.router.add_post("/infer", infer)
    if WEB_DIR.is_dir():
        app.router.add_static("/static/", WEB_DIR)
    if cfg.web_cache is not None:
        app.router.add_static("/vendor/", cfg.web_cache)
    return app


def _clip(host: ModelHost, hello: Any, frames: list[Any], capacity: Capacity) -> dict[str, Any]:
    """One HTTP request's clip through its own session (batched with the live streams)."""
    answers: list[dict[str, Any]] = []
    done = threading.Event()
    stream = ServeStream(host, hello, answers.append, capacity=capacity, queue=CLIP_QUEUE + 1,
                         name=hello.name or "clip")
    stream._rate = float("inf")  # a whole clip at once: no allowance per second
    stream._tokens = float("inf")
    try:
        last = None
        for i, f in enumerate(frames):
            msg = parse_frame({**f, "type": "frame"} if isinstance(f, dict) else f, last)
            last = msg.t
            stream.wait_room(CLIP_QUEUE)  # a clip is never dropped from: it waits for room instead
            seq = msg.seq if msg.seq is not None else i
            stream.put(stream.frame(msg.people, msg.t, seq), seq)
        events = stream.finish(timeout=600.0)
    finally:
        stream.close()
        done.set()
    errors = [a for a in answers if a.get("type") == "error"]
    if errors:
        raise ProtocolError(errors[0]["reason"])
    return {"model": host.name, "records": [{k: v for k, v in a.items() if k != "type"} for a in answers],
            "events": events}


async def _run_stream(ws: web.WebSocketResponse, hosts: Hosts, capacity: Capacity, cfg: ServeConfig,
                      streams: set[Any], peer: str) -> None:
    """One WebSocket stream from hello to end (see the module docstring)."""
    loop = asyncio.get_running_loop()
    outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    serve: ServeStream | None = None

    def send(msg: dict[str, Any]) -> None:  # from the stream's worker thread
        if outbox.qsize() > MAX_UNSENT:  # the client sends but does not read: its stream ends, memory stays bounded
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(
                ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"answers are not being read")))
            raise RuntimeError("answers are not being read")
        loop.call_soon_threadsafe(outbox.put_nowait, msg)

    async def sender() -> None:
        while True:
            msg = await outbox.get()
            if msg is None:
                return
            if ws.closed:
                continue
            try:
                await ws.send_str(json.dumps(msg, allow_nan=False))
            except (ConnectionError, RuntimeError):
                return
            if msg.get("type") == "error":
                await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=str(msg.get("reason", ""))[:120].encode())

    task = asyncio.create_task(sender())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
            if msg.type != WSMsgType.TEXT:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"messages are JSON text")
                break
            try:
                data = json.loads(msg.data)
                if serve is None:
                    hello = parse_hello(data)
                    host = await asyncio.to_thread(hosts.get, hello.model)
                    serve = ServeStream(host, hello, send, capacity=capacity, queue=cfg.queue,
                                        name=hello.name or f"{peer}#{id(ws) % 100000}")
                    streams.add(serve)
                    await outbox.put({"type": "ready", **host.facts(), "server": SERVER_ID})
                elif isinstance(data, dict) and data.get("type") == "end":
                    events = await asyncio.to_thread(serve.finish)
                    await outbox.put({"type": "events", "events": events})
                    await outbox.put(None)
                    await task
                    await ws.close()
                    break
                else:
                    fm = parse_frame(data, serve.last_t)
                    serve.put(serve.frame(fm.people, fm.t, fm.seq), fm.seq)
            except (ProtocolError, json.JSONDecodeError, UnicodeDecodeError) as e:
                reason = (f"{e}" if isinstance(e, ProtocolError) else f"malformed JSON: {e}")[:120]
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=reason.encode())
                break
        if ws.exception() is not None:
            log.info("stream %s closed: %s", peer, ws.exception())
    finally:
        if serve is not None:
            serve.close()
            await asyncio.to_thread(serve.join, 5.0)  # its worker finishes the frame it is on
            streams.discard(serve)
        if not task.done():
            await outbox.put(None)
            try:
                await asyncio.wait_for(task, 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
