#!/usr/bin/env python3
"""cognn-app end to end: frames per second on a 640x480 video with pose and a continual model, and the longest time
the UI thread was blocked (a QTimer heartbeat every few milliseconds; a late beat is time the UI could not react).

Usage: python benchmarks/bench_app.py [VIDEO] [--model costgcn_mod] [--frames 300] [--speed 0] [--size 640x480]

The video (default ../shared/data/video/S001C001P001R001A001_rgb.avi) is cropped to 4:3, resized to the given size
and played forwards and backwards until it has ``--frames`` frames, written to a temporary file that the app replays
with ``--speed`` (0 = as fast as the pipeline goes, 1 = real time). Runs offscreen unless a display is set.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "S001C001P001R001A001_rgb.avi"


def make_video(src: Path, dst: Path, size: tuple[int, int], frames: int) -> int:
    """Write ``frames`` frames of ``src`` (centre-cropped to the aspect of ``size``, resized, ping-pong looped)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    clip = []
    w, h = size
    while True:
        ok, img = cap.read()
        if not ok:
            break
        ih, iw = img.shape[:2]
        cw = min(iw, round(ih * w / h))
        ch = min(ih, round(iw * h / w))
        x0, y0 = (iw - cw) // 2, (ih - ch) // 2
        clip.append(cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA))
    cap.release()
    if not clip:
        raise SystemExit(f"bench_app: error: {src}: no frame could be read")
    order = list(range(len(clip))) + list(range(len(clip) - 2, 0, -1))
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for i in range(frames):
        out.write(clip[order[i % len(order)]])
    out.release()
    return frames


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) used so far by this process's threads, summed per thread name (Linux /proc; Qt
    names a QThread's OS thread after its objectName; the UI thread is "main"). Empty elsewhere."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        name = "main" if int(tid) == os.getpid() else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _stats(values: list[float], unit: str = "ms") -> str:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return "–"
    p50, p95 = np.percentile(v, [50, 95])
    return f"mean {v.mean():6.1f}  p50 {p50:6.1f}  p95 {p95:6.1f}  max {v.max():6.1f} {unit}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--model", default="costgcn_mod")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--speed", type=float, default=0.0, help="replay speed (0 = as fast as possible)")
    ap.add_argument("--skip", type=int, default=15, help="frames left out of the rates (start-up)")
    ap.add_argument("--heartbeat-ms", type=int, default=5)
    ap.add_argument("--baseline", type=float, default=3.0,
                    help="seconds of idle heartbeat before the video (what the machine alone costs)")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    w, h = (int(v) for v in args.size.lower().split("x"))

    from PyQt6.QtCore import Qt, QTimer
    from PyQt6.QtWidgets import QApplication

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / f"bench_{w}x{h}.avi"
        make_video(args.video, video, (w, h), args.frames)
        os.environ["COGNN_APP_SETTINGS"] = str(Path(tmp) / "settings.ini")

        from cognn_app.settings import AppSettings
        from cognn_app.window import MainWindow

        app = QApplication.instance() or QApplication(sys.argv[:1])
        win = MainWindow(model=args.model, weights=args.weights, settings=AppSettings(Path(tmp) / "s.ini"))
        win.resize(1280, 760)
        win.show()

        beats: list[float] = []
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
        arrivals: list[float] = []
        pose_ms: list[float] = []
        model_ms: list[float] = []
        latency: list[float] = []
        state = {"t0": None, "t_open": None, "dropped": 0}

        def on_frame(r) -> None:
            arrivals.append(time.perf_counter())
            if len(arrivals) == args.skip + 1:
                state["cpu0"] = thread_cpu()
            pose_ms.append(r.frame.pose_ms)
            model_ms.append(r.prediction.model_ms)
            latency.append(r.latency_ms)
            state["dropped"] = r.dropped

        def open_video() -> None:
            state["t_open"] = time.perf_counter()
            win.open_source(str(video), speed=args.speed)

        def on_model(_info) -> None:
            if state["t0"] is None:  # first an idle baseline: how late the heartbeat is with nothing to do
                state["t0"] = time.perf_counter()
                QTimer.singleShot(int(args.baseline * 1000), open_video)

        def on_end() -> None:
            state["cpu1"] = thread_cpu()
            QTimer.singleShot(100, app.quit)

        win.frame_shown.connect(on_frame)
        win.model_loaded.connect(on_model)
        win.source_ended.connect(on_end)
        win.error_shown.connect(lambda m: (print(f"bench_app: error: {m}", file=sys.stderr), app.quit()))
        QTimer.singleShot(600_000, app.quit)
        heartbeat.start(args.heartbeat_ms)
        t_start = time.perf_counter()
        app.exec()
        heartbeat.stop()
        model_info = win.model_info
        win.close()

    n = len(arrivals)
    if n <= args.skip + 1:
        print(f"bench_app: error: only {n} frames were shown", file=sys.stderr)
        return 1
    steady = arrivals[args.skip:]
    fps = (len(steady) - 1) / (steady[-1] - steady[0])
    gaps = np.diff(np.asarray(beats)) * 1000.0
    # block time: how much later than scheduled a beat came (only while frames were flowing)
    lo, hi = arrivals[0], arrivals[-1]
    during = [g for t, g in zip(beats[1:], gaps) if lo <= t <= hi]
    block = np.asarray(during) - args.heartbeat_ms if during else np.asarray([0.0])
    idle = [g for t, g in zip(beats[1:], gaps) if state["t0"] is not None and state["t0"] + 0.5 <= t <= state["t_open"]]
    idle_block = np.asarray(idle) - args.heartbeat_ms if idle else np.asarray([0.0])
    import torch

    print(f"bench_app: {n} frames of a {w}x{h} video, model {model_info.name if model_info else args.model} "
          f"({'trained' if model_info and model_info.has_weights else 'untrained'} weights), speed "
          f"{'max' if args.speed <= 0 else args.speed}")
    print(f"  machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, torch threads {torch.get_num_threads()}")
    print(f"  end-to-end rate (frames {args.skip}..{n - 1}): {fps:6.1f} frames/s   dropped {state['dropped']}")
    print(f"  pose per frame:      {_stats(pose_ms[args.skip:])}")
    print(f"  model per step:      {_stats(model_ms[args.skip:])}")
    print(f"  capture->shown:      {_stats(latency[args.skip:])}")
    print(f"  UI thread block:     max {block.max():6.1f} ms   p99 {np.percentile(block, 99):6.1f} ms   "
          f"(heartbeat {args.heartbeat_ms} ms, {len(during)} beats)")
    worst = sorted(((g, t) for t, g in zip(beats[1:], gaps) if lo <= t <= hi), reverse=True)[:5]
    print("  longest blocks:     " + ", ".join(f"{g - args.heartbeat_ms:.0f} ms at frame "
                                               f"{int(np.searchsorted(arrivals, t))}" for g, t in worst))
    print(f"  idle UI baseline:    max {idle_block.max():6.1f} ms   p99 {np.percentile(idle_block, 99):6.1f} ms   "
          f"(the same window before the video: the machine's own scheduling delay)")
    cpu0, cpu1 = state.get("cpu0") or {}, state.get("cpu1") or {}
    if cpu0 and cpu1:
        frames = len(steady) - 1
        per = {k: 1000.0 * (cpu1[k] - cpu0.get(k, 0.0)) / frames for k in cpu1}
        capture, model, ui = per.get("cognn-capture", 0.0), per.get("cognn-model", 0.0), per.get("main", 0.0)
        total = sum(per.values())
        other = total - capture - model - ui  # MediaPipe's own threads (pose waits for them, GIL released), Qt, ...
        stage = max(capture + other, model)  # the two pipeline stages: pose (+ its helpers) and the model step
        cores = os.cpu_count() or 1
        bound = max(stage, total / cores)
        print(f"  CPU per frame:       capture {capture:5.1f}  MediaPipe/other {other:5.1f}  model {model:5.1f}  "
              f"UI {ui:5.1f}  total {total:5.1f} ms")
        print(f"  CPU-bound estimate:  {1000.0 / bound:6.1f} frames/s with these {cores} CPUs to itself (slowest "
              f"stage {stage:.1f} ms, total CPU / cores {total / cores:.1f} ms)")
    print(f"  wall time {time.perf_counter() - t_start:.1f} s, start-up to first frame "
          f"{(arrivals[0] - t_start):.1f} s; median frame interval {statistics.median(np.diff(steady)) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
