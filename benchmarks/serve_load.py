"""Load test of ``cognn-serve``: N streams replaying real skeleton recordings at 30 fps; and the arithmetic limit.

    python benchmarks/serve_load.py --url ws://HOST:PORT --streams N --seconds S --format json [--server-pid PID]
    python benchmarks/serve_load.py --arithmetic [--model gestures] [--batch B] [--format json]

The load test opens N WebSocket streams, each replaying one of the shared NTU ``.skeleton`` recordings (looped, its
time running on) at 30 frames a second, the streams' start times spread over one frame interval, and prints one
JSON object: ``streams``, ``answers_per_s``, ``p50_ms`` / ``p99_ms`` (a frame sent to its answer received),
``dropped`` (frames the server said it dropped), ``errors`` (streams closed or failed), ``sent``; with
``--server-pid`` the server process's CPU (percent of one core) and resident memory over the run.

``--arithmetic`` measures what the model step costs in multiply-accumulates and how fast this machine runs them at a
batch size: the step's MACs per frame (torch's count, both person slots filled), the batched step timed at ``--batch``
rows, the MACs per second that gives, and the 30-fps streams it would hold (MAC/s / (MACs per frame x 30)); beside it
the regular twin re-running a 300-frame window for every frame, and the streams that would hold. Numbers go in
docs/serve.md, not in tests.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NTU = REPO.parent / "shared" / "data" / "ntu" / "skeletons"
FPS = 30.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serve_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="ws://127.0.0.1:8765", help="the server (ws://HOST:PORT, path /ws by default)")
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--model", default="gestures", help="the model the streams name (default gestures)")
    p.add_argument("--token", default=None)
    p.add_argument("--server-pid", type=int, default=None, help="measure this process's CPU and memory")
    p.add_argument("--format", choices=("json", "text"), default="text")
    p.add_argument("--arithmetic", action="store_true", help="measure the step's arithmetic limit instead")
    p.add_argument("--batch", type=int, default=32, help="rows of the batched step (--arithmetic)")
    p.add_argument("--width", type=int, default=None, help="base channels of an untrained model (--arithmetic "
                                                            "with a model name such as costgcn_mod)")
    return p


def _recordings() -> list[list[str]]:
    """Each shared NTU recording's frames as the ``people`` JSON of a frame message."""
    from cognn.sources import open_source

    files = sorted(NTU.glob("*.skeleton"))
    if not files:
        sys.exit(f"serve_load: no .skeleton files in {NTU} (the shared data beside the repository)")
    out = []
    for f in files:
        with open_source(str(f), layout="ntu25", num_persons=2) as src:
            frames = []
            for fr in src:
                s = fr.skeleton
                frames.append(json.dumps([[[round(float(x), 5) for x in s[:, v, m]] for v in range(s.shape[1])]
                                          for m in range(s.shape[2]) if s[:, :, m].any()]))
            out.append(frames)
    return out


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, resident MiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


async def _stream(session, url: str, model: str, frames: list[str], offset: float, until: float,
                  lat: list[float], counts: dict[str, int]) -> None:
    import aiohttp

    sent_at: dict[int, float] = {}
    try:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"type": "hello", "model": model, "input": "skeleton"}))
            ready = await ws.receive_json()
            if ready.get("type") != "ready":
                counts["errors"] += 1
                return

            async def reader() -> None:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    a = json.loads(msg.data)
                    if a.get("type") != "answer":
                        if a.get("type") == "error":
                            counts["errors"] += 1
                        continue
                    t = sent_at.pop(a.get("seq"), None)
                    if t is not None:
                        lat.append(1000.0 * (time.perf_counter() - t))
                    counts["answers"] += 1
                    counts["dropped"] += int(a.get("dropped", 0))

            task = asyncio.create_task(reader())
            await asyncio.sleep(offset)
            start = time.perf_counter()
            k = 0
            while True:
                due = start + k / FPS
                now = time.perf_counter()
                if due > until:
                    break
                if due > now:
                    await asyncio.sleep(due - now)
                n = len(frames)
                msg = (f'{{"type":"frame","t":{k / FPS:.6f},"seq":{k},"people":{frames[k % n]}}}')
                sent_at[k] = time.perf_counter()
                await ws.send_str(msg)
                counts["sent"] += 1
                k += 1
            await ws.send_str(json.dumps({"type": "end"}))
            try:
                await asyncio.wait_for(task, 10.0)
            except asyncio.TimeoutError:
                task.cancel()
                counts["errors"] += 1
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
        counts["errors"] += 1


async def load(url: str, streams: int, seconds: float, model: str, token: str | None) -> dict:
    import aiohttp

    if url.count("/") < 3:
        url = url.rstrip("/") + "/ws"
    if token:
        url += ("&" if "?" in url else "?") + f"token={token}"
    recs = _recordings()
    lat: list[float] = []
    counts = {"answers": 0, "dropped": 0, "errors": 0, "sent": 0}
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        t0 = time.perf_counter()
        until = t0 + 1.0 + seconds
        jobs = [_stream(session, url, model, recs[i % len(recs)], 1.0 + (i % 30) / FPS * (30 / max(streams, 30)),
                        until, lat, counts) for i in range(streams)]
        await asyncio.gather(*jobs)
    lat.sort()

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, math.floor(q * len(lat)))], 2) if lat else None

    return {"streams": streams, "answers_per_s": round(counts["answers"] / seconds, 1), "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "dropped": counts["dropped"], "errors": counts["errors"], "sent": counts["sent"],
            "seconds": seconds}


def arithmetic(model: str, batch: int, width: int | None) -> dict:
    """The step's MACs per frame, its batched speed at ``batch`` rows and the streams that holds (see the module
    docstring); the regular twin's 300-frame window beside it."""
    import torch

    from cognn.flops import counted_macs
    from cognn.models import build, twin
    from cognn.online import OnlineRecognizer

    if width is not None:
        net = build(model, base_channels=width, warm_start=True).eval()
        name = f"{model} (base_channels {width}, untrained)"
    else:
        net = OnlineRecognizer.from_weights(model).model
        name = f"{model} ({net.name}, base_channels {net.base_channels})"
    macs = counted_macs(net).macs / net.stride
    g = torch.Generator().manual_seed(0)
    frame = torch.randn(batch, net.in_channels, net.layout.num_joints, net.num_persons, generator=g)
    net.clean_state()
    with torch.inference_mode():
        for _ in range(3):  # a warm start fills every buffer at once: the steady-state step from here
            net.forward_step(frame)
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(5):
                net.forward_step(frame)
            times.append((time.perf_counter() - t0) / 5)
    step_s = statistics.median(times)
    macs_per_s = macs * batch / step_s
    regular = build(twin(net.name), num_classes=net.num_classes, layout=net.layout, base_channels=net.base_channels,
                    num_persons=net.num_persons).eval()
    clip = torch.randn(1, net.in_channels, 300, net.layout.num_joints, net.num_persons, generator=g)
    with torch.inference_mode():
        regular(clip)
        wt = []
        for _ in range(3):
            t0 = time.perf_counter()
            regular(clip)
            wt.append(time.perf_counter() - t0)
    window_s = statistics.median(wt)
    window_macs = counted_macs(regular).macs
    return {"model": name, "threads": torch.get_num_threads(), "batch": batch,
            "gmac_per_frame": round(macs / 1e9, 4), "step_ms_at_batch": round(1000 * step_s, 3),
            "gmac_per_s": round(macs_per_s / 1e9, 2), "streams_at_30fps": int(macs_per_s / (macs * FPS)),
            "window_gmac_per_frame": round(window_macs / 1e9, 2), "window_ms": round(1000 * window_s, 1),
            "window_streams_at_30fps": round(1.0 / (window_s * FPS), 2)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.arithmetic:
        out = arithmetic(args.model, args.batch, args.width)
    else:
        before = _proc(args.server_pid) if args.server_pid else None
        t0 = time.perf_counter()
        out = asyncio.run(load(args.url, args.streams, args.seconds, args.model, args.token))
        if before is not None:
            after = _proc(args.server_pid)
            out["server_cpu_percent"] = round(100 * (after[0] - before[0]) / (time.perf_counter() - t0), 1)
            out["server_rss_mib"] = round(after[1], 1)
    if args.format == "json":
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
