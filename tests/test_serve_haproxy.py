"""Two cognn-serve processes behind HAProxy (TCP mode, least connections): 64 streams spread over both, every one
answered, none moved mid-stream. Skipped, with the reason, where the haproxy Debian package is not installed."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, shared_data
from test_serve import free_port, people

aiohttp = pytest.importorskip("aiohttp", reason="cognn-serve needs aiohttp (the serve extra)")

HAPROXY_CONFIG = """global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend cognn
    bind 127.0.0.1:{front}
    default_backend cognn_serve
backend cognn_serve
    balance leastconn
    server a 127.0.0.1:{a} check
    server b 127.0.0.1:{b} check
"""


def _start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "COGNN_SERVE_TOKEN": ""}
    return subprocess.Popen([sys.executable, "-m", "cognn.cli.serve", "--port", str(port), "--preload"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)


@pytest.mark.slow
def test_64_streams_over_two_servers_behind_haproxy(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)")
    from cognn.sources import open_source

    with open_source(str(shared_data("ntu", "skeletons", "S002C001P003R001A003.skeleton")), layout="ntu25",
                     num_persons=2) as src:
        clip = list(src)[:12]
    pa, pb, front = free_port(), free_port(), free_port()
    servers = [_start_server(pa), _start_server(pb)]
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CONFIG.format(front=front, a=pa, b=pb))
    proxy = None
    try:
        for s in servers:  # each says so once it listens (the model loaded first: --preload)
            line = s.stdout.readline() if s.stdout else ""
            assert "listening on" in line, line
        proxy = subprocess.Popen([haproxy, "-f", str(cfg), "-db"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        time.sleep(1.0)
        assert proxy.poll() is None, proxy.stdout.read() if proxy.stdout else ""

        async def one(session: aiohttp.ClientSession, i: int) -> tuple[str, list[dict]]:
            await asyncio.sleep(0.01 * i)
            async with session.ws_connect(f"http://127.0.0.1:{front}/ws") as ws:
                await ws.send_str(json.dumps({"type": "hello", "model": "gestures", "name": f"s{i}"}))
                ready = await asyncio.wait_for(ws.receive_json(), 120)
                answers = []
                for k, f in enumerate(clip):
                    await ws.send_str(json.dumps({"type": "frame", "t": f.timestamp, "seq": k, "people": people(f)}))
                    answers.append(await asyncio.wait_for(ws.receive_json(), 120))
                await ws.send_str(json.dumps({"type": "end"}))
                await asyncio.wait_for(ws.receive_json(), 60)
                return ready["server"], answers

        async def run() -> list[tuple[str, list[dict]]]:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                return list(await asyncio.gather(*(one(session, i) for i in range(64))))

        results = asyncio.run(run())
    finally:
        for p in [proxy, *servers]:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in [proxy, *servers]:
            if p is not None:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    by_server: dict[str, int] = {}
    for i, (server, answers) in enumerate(results):
        by_server[server] = by_server.get(server, 0) + 1
        assert [a["type"] for a in answers] == ["answer"] * len(clip)
        assert [a["seq"] for a in answers] == list(range(len(clip)))
        # one session from the first frame to the last: its frame count never restarted (no move to the other server)
        assert [a["frame"] for a in answers] == list(range(len(clip))) and answers[-1]["source"] == f"s{i}"
        assert all(a["dropped"] == 0 for a in answers)
    assert len(by_server) == 2 and min(by_server.values()) >= 16, by_server  # spread over both
