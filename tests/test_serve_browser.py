"""The web page end to end in headless Chromium: a fake camera fed from a real shared video, MediaPipe's pose
landmarker running in the page (the npm package installed by ``cognn-serve --setup-web``), its landmarks streamed to
the server, the answer shown. Skipped, with the reason, where Chromium or the npm package is missing."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, shared_data
from test_serve import Running, free_port

aiohttp = pytest.importorskip("aiohttp", reason="cognn-serve needs aiohttp (the serve extra)")

VIDEO = "S001C001P001R001A001_rgb.avi"


def write_y4m(video: Path, out: Path, frames: int = 150, width: int = 640) -> tuple[int, int]:
    """The first ``frames`` pictures of ``video`` as a YUV4MPEG2 file (what Chromium's fake camera reads), scaled to
    ``width``; the picture size."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = None
    with out.open("wb") as f:
        for _ in range(frames):
            ok, img = cap.read()
            if not ok:
                break
            img = cv2.flip(img, 1)  # NTU's RGB videos are mirrored (as cognn's camera path un-mirrors them)
            h = int(round(img.shape[0] * width / img.shape[1])) // 2 * 2
            img = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
            if size is None:
                size = (width, h)
                f.write(f"YUV4MPEG2 W{width} H{h} F{int(round(fps))}:1 Ip A1:1 C420jpeg\n".encode())
            f.write(b"FRAME\n" + np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)).tobytes())
    cap.release()
    assert size is not None, f"{video}: no picture read"
    return size


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


async def _page_state(port: int, seconds: float, shot: Path | None) -> dict:
    """Poll the page over the DevTools protocol until it shows a ready label (or time runs out); its state, and a
    screenshot written to ``shot``."""
    async with aiohttp.ClientSession() as s:
        deadline = time.time() + 30
        target = None
        while target is None and time.time() < deadline:
            try:
                async with s.get(f"http://127.0.0.1:{port}/json/list") as r:
                    target = next((t for t in await r.json() if t.get("type") == "page"), None)
            except aiohttp.ClientError:
                await asyncio.sleep(0.5)
        assert target is not None, "Chromium opened no page"
        async with s.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 10**6))

            async def call(method: str, **params: object) -> dict:
                i = next(ids)
                await ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads((await ws.receive()).data)
                    if msg.get("id") == i:
                        return msg.get("result", {})

            expr = ("JSON.stringify({label: document.body.dataset.label || '', shown: document.getElementById('label')"
                    ".textContent, state: document.getElementById('state').textContent, latency: "
                    "document.getElementById('latency').textContent})")
            state: dict = {}
            end = time.time() + seconds
            answered_since = None
            while time.time() < end:
                res = await call("Runtime.evaluate", expression=expr, returnByValue=True)
                state = json.loads(res.get("result", {}).get("value") or "{}")
                if state.get("label") and "warming up" not in state.get("shown", ""):
                    answered_since = answered_since or time.time()
                    if time.time() - answered_since > 2:
                        break
                await asyncio.sleep(1.0)
            if shot is not None:
                import base64

                res = await call("Page.captureScreenshot", format="png")
                if res.get("data"):
                    shot.write_bytes(base64.b64decode(res["data"]))
            return state


@pytest.mark.slow
def test_page_in_headless_chromium_shows_the_clip_action(tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    from cognn.cli.serve import default_web_cache, web_files

    web = web_files(default_web_cache())
    if not (web / "vision_bundle.mjs").is_file():
        pytest.skip(f"the web page's pose landmarker is not installed in {web} (cognn-serve --setup-web; .ci/run "
                    "runs it)")
    clip = tmp_path / "clip.y4m"
    write_y4m(shared_data("video", VIDEO), clip)
    server = Running(web_cache=web)
    debug = free_port()
    profile = Path(tempfile.mkdtemp(prefix="cognn-chromium-"))
    proc = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--user-data-dir={profile}", f"--remote-debugging-port={debug}",
                             "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                             f"--use-file-for-fake-video-capture={clip}", "--window-size=1100,620",
                             "--autoplay-policy=no-user-gesture-required", server.url + "/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shot = REPO / "docs" / "serve.png" if os.environ.get("COGNN_SCREENSHOT") else None
    try:
        state = asyncio.run(_page_state(debug, 240.0, shot))
        streams = [s for s in server.app[_hosts_key()].loaded().values()]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
    assert streams, "the page opened no stream"
    # what the camera path recognises on the same clip (the gesture model: NTU's drinking is none of its gestures)
    assert state.get("label") in ("none", "uncertain"), state
    assert "latency" in state.get("latency", ""), state


def _hosts_key():
    from cognn.serve.server import HOSTS

    return HOSTS
