#!/usr/bin/env python3
"""Pose benchmark: MediaPipe pose ms/frame in VIDEO mode at 640x480, and mapping + slotting ms/frame.

Usage: python benchmarks/bench_pose.py [VIDEO] [--frames N] [--size 640x480]
(default video: ../shared/data/video/S001C001P001R001A001_rgb.avi, frames resized to the given size).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "S001C001P001R001A001_rgb.avi"


def _stats(ms: list[float]) -> str:
    q = np.percentile(ms, [50, 95])
    return f"mean {statistics.fmean(ms):6.2f}  p50 {q[0]:6.2f}  p95 {q[1]:6.2f} ms  (n={len(ms)})"


def main(argv: list[str] | None = None) -> int:
    import cv2
    import mediapipe

    from cognn.pose import PersonSlots, PoseEstimator, iter_video_frames, people_to_layout

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="640x480", help="WxH the frames are resized to")
    ap.add_argument("--repeat", type=int, default=200, help="passes over the frames for the mapping timing")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))

    print(f"device: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"load {os.getloadavg()[0]:.2f}; python {platform.python_version()}, numpy {np.__version__}, "
          f"mediapipe {mediapipe.__version__}, opencv {cv2.__version__}")
    frames = [(ts, cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA))
              for _, ts, f in iter_video_frames(args.video, max_frames=args.frames)]
    print(f"video: {args.video.name}, {len(frames)} frames resized to {w}x{h}")

    people_per_frame = []
    for num_poses in (1, 2):
        with PoseEstimator(mode="video", num_poses=num_poses) as est:
            est.process(frames[0][1], 0.0)  # warm-up
            ms = []
            cpu = time.process_time()
            for ts, frame in frames:
                t = time.perf_counter()
                people = est.process(frame, 1.0 + ts)
                ms.append(1000 * (time.perf_counter() - t))
                if num_poses == 2:
                    people_per_frame.append(people)
            cpu_ms = 1000 * (time.process_time() - cpu) / len(frames)
        print(f"pose VIDEO mode, num_poses={num_poses}: {_stats(ms)}; CPU time {cpu_ms:.2f} ms/frame (all threads)")

    for layout in ("ntu25", "kinetics18"):
        for translation in ((True, False) if layout == "ntu25" else (False,)):
            slots = PersonSlots(2)
            ms, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                for people in people_per_frame:
                    slots.update([p.centre() for p in people], [p.score for p in people])
                    people_to_layout(people, layout, w, h, translation=translation)
                ms.append(1000 * (time.perf_counter() - t) / len(people_per_frame))
                cpu.append(1000 * (time.process_time() - c) / len(people_per_frame))
            extra = f", root translation {'on' if translation else 'off'}" if layout == "ntu25" else ""
            print(f"mapping + slotting ({layout}{extra}) per frame: {_stats(ms)}; best pass {min(ms):.3f} ms, "
                  f"CPU time {statistics.fmean(cpu):.3f} ms")
    persons = [len(p) for p in people_per_frame]
    print(f"people per frame (num_poses=2): mean {statistics.fmean(persons):.2f}, max {max(persons)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
