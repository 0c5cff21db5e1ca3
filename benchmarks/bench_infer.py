#!/usr/bin/env python3
"""Frames per second of the online pipeline that ``cognn-infer`` runs (source -> preprocessing -> model step ->
top-k), on skeleton inputs (no pose) and on video inputs (with MediaPipe pose), one process.

    python benchmarks/bench_infer.py [--models costgcn_mod,...] [--frames 600] [--video PATH] [--video-frames 60]
                                     [--threads 1] [--skip-video]

Skeleton input: the NTU ``.skeleton`` files in ../shared/data/ntu/skeletons (or the bundled demo recording), replayed
until ``--frames`` frames. Reported per model: end-to-end frames/s from wall-clock time and from process CPU time (the
CPU figure is what one uncontended core would do and is less disturbed by other load), and the model step's
mean / p50 / p95. Untrained weights: the speed does not depend on the values. Target (issue 6): >= 200 frames/s per
process for costgcn_mod on the 2-core development machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_VIDEO = SHARED / "video" / "S001C001P001R001A001_rgb.avi"


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} logical cores, load average {load:.1f}; python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")


def _skeleton_frames(n: int) -> list:
    from cognn.sources import open_source

    files = sorted((SHARED / "ntu" / "skeletons").glob("*.skeleton"))
    if not files:
        from cognn.cli.infer import DEMO_RECORDING

        files = [DEMO_RECORDING]
    frames = []
    while len(frames) < n:
        for f in files:
            frames.extend(open_source(f))
    return frames[:n]


def _recognizer(model: str):
    from cognn.online import OnlineRecognizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OnlineRecognizer.from_weights(model=model)


def bench_skeleton(model: str, frames: list, warmup: int = 20) -> dict:
    rec = _recognizer(model)
    for f in frames[:warmup]:
        rec.step(f)
    rec.reset()
    steps = []
    w0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        steps.append(rec.step(f).model_ms)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    s = np.asarray(steps)
    return {"model": model, "frames": len(frames), "fps_wall": len(frames) / wall, "fps_cpu": len(frames) / cpu,
            "mean": s.mean(), "p50": np.percentile(s, 50), "p95": np.percentile(s, 95)}


def bench_video(model: str, video: Path, n: int) -> dict:
    from cognn.sources import open_source

    rec = _recognizer(model)
    src = open_source(video, layout=rec.layout)
    first = src.read()  # the pose model's start-up is not part of the rate
    rec.step(first)
    pose, steps = [], []
    w0, c0 = time.perf_counter(), time.process_time()
    count = 0
    for f in src:
        p = rec.step(f)
        pose.append(f.pose_ms)
        steps.append(p.model_ms)
        count += 1
        if count >= n:
            break
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    src.close()
    return {"video": video.name, "size": f"{src.canvas_size[0]}x{src.canvas_size[1]}", "frames": count,
            "fps_wall": count / wall, "fps_cpu": count / cpu, "pose_ms": float(np.mean(pose)),
            "model_ms": float(np.mean(steps))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="costgcn_mod", help="comma-separated continual models (default costgcn_mod)")
    ap.add_argument("--frames", type=int, default=600, help="skeleton frames per model (default 600)")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--video-frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (cognn-infer uses 1)")
    ap.add_argument("--skip-video", action="store_true")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"# {_machine()}", flush=True)
    frames = _skeleton_frames(args.frames)
    print("skeleton input (no pose):")
    for model in args.models.split(","):
        r = bench_skeleton(model.strip(), frames)
        print(f"  {r['model']:<12} {r['frames']} frames: {r['fps_wall']:7.1f} frames/s wall, {r['fps_cpu']:7.1f} "
              f"frames/s per CPU-second; model step mean {r['mean']:.2f} ms, p50 {r['p50']:.2f} ms, "
              f"p95 {r['p95']:.2f} ms", flush=True)
    if not args.skip_video:
        if not args.video.is_file():
            print(f"video input: {args.video} not found, skipped")
        else:
            r = bench_video(args.models.split(",")[0].strip(), args.video, args.video_frames)
            print(f"video input (pose + model), {r['video']} {r['size']}, {r['frames']} frames: "
                  f"{r['fps_wall']:.1f} frames/s wall, {r['fps_cpu']:.1f} frames/s per CPU-second; "
                  f"pose {r['pose_ms']:.1f} ms, model step {r['model_ms']:.2f} ms per frame")
    print(f"# after: {_machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
