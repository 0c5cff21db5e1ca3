#!/usr/bin/env python3
"""Pose speed and landmark quality per processing size, MediaPipe variant and search interval, on a real video
(default: the 1080p workout clip ../shared/data/video/fanchiang_3-2.mp4).

    python benchmarks/bench_pose.py [VIDEO] [--frames 120] [--sizes 960,640,480,320] [--models full]
                                    [--slots 2] [--search-every 1,10]

Every setting runs :class:`cognn.pose.PoseTracker` (the one frame-to-skeleton path of cognn: resize to the
processing size, MediaPipe in VIDEO mode with ``--slots`` person slots as the NTU models have, the NTU mapping, no
smoothing) over the same decoded frames, the settings alternating frame by frame so machine noise falls on all
alike. ``--search-every``: with fewer people in view than slots, how often MediaPipe looks for more (1: on every
frame, MediaPipe's own behaviour and cognn's default, PoseOptions.search_every). Reported per setting: pose ms
per frame (median, p95), the share of frames with a person, and the landmark error against the reference setting
(the first of each list): the median distance of the joints both found, in shoulder widths of the reference
skeleton.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "video" / "fanchiang_3-2.mp4"


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _decode(path: Path, frames: int) -> tuple[list[np.ndarray], float]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out = []
    while len(out) < frames:
        ok, picture = cap.read()
        if not ok:
            break
        out.append(picture)
    cap.release()
    if not out:
        raise SystemExit(f"bench_pose: no frame could be decoded from {path}")
    return out, float(fps)


def _shoulder_width(sk: np.ndarray) -> float:
    """NTU joints 5 and 9 (1-based: left and right shoulder) of person 0, in the skeleton's units."""
    return float(np.linalg.norm(sk[:, 4, 0] - sk[:, 8, 0]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_pose", description=__doc__.split("\n\n")[0])
    p.add_argument("video", nargs="?", default=str(DEFAULT_VIDEO))
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--sizes", type=_int_list, default=[960, 640, 480, 320], help="processing sizes (longer side)")
    p.add_argument("--models", default="full", help="comma-separated pose variants or .task files (default full)")
    p.add_argument("--slots", type=int, default=2, help="person slots (default 2, as the NTU models)")
    p.add_argument("--search-every", type=_int_list, default=[1, 10],
                   help="search intervals to compare (default 1,10)")
    args = p.parse_args(argv)

    from cognn.bench import environment, header_line
    from cognn.pose.smoothing import SmoothingConfig
    from cognn.pose.tracker import PoseOptions, PoseTracker

    pictures, fps = _decode(Path(args.video), args.frames)
    h, w = pictures[0].shape[:2]
    print(header_line(environment("cpu", 1)))
    print(f"{Path(args.video).name}: {w}x{h}, {len(pictures)} frames at {fps:g} fps; pose per frame, no smoothing, "
          f"{args.slots} person slot(s)")
    settings = [(m, s, e) for m in args.models.split(",") for s in args.sizes for e in args.search_every]
    off = SmoothingConfig(enabled=False)
    trackers = {k: PoseTracker("ntu25", args.slots, PoseOptions(model=k[0], max_side=k[1], smoothing=off,
                                                                 search_every=k[2])) for k in settings}
    times: dict[tuple[str, int, int], list[float]] = {k: [] for k in settings}
    skeletons: dict[tuple[str, int, int], list[np.ndarray | None]] = {k: [] for k in settings}
    try:
        for i, picture in enumerate(pictures):
            order = settings[i % len(settings):] + settings[:i % len(settings)]
            for k in order:
                t0 = time.perf_counter()
                pf = trackers[k].process(picture, i / fps)
                times[k].append((time.perf_counter() - t0) * 1e3)
                skeletons[k].append(pf.skeleton if pf.persons else None)
    finally:
        for t in trackers.values():
            t.close()
    ref = settings[0]
    print(f"\n| Pose model | Processing size | Search every | ms/frame p50 | p95 | frames with a person | joint error "
          f"vs {ref[0]} @ {ref[1]}, every {ref[2]} (shoulder widths, median) |")
    print("|---|---|---|---|---|---|---|")
    for k in settings:
        errs = []
        for a, b in zip(skeletons[ref], skeletons[k]):
            if a is None or b is None:
                continue
            found = np.any(a[:, :, 0] != 0, axis=0) & np.any(b[:, :, 0] != 0, axis=0)
            width = _shoulder_width(a)
            if found.any() and width > 0:
                errs.append(float(np.median(np.linalg.norm(a[:, found, 0] - b[:, found, 0], axis=0))) / width)
        seen = sum(s is not None for s in skeletons[k]) / len(pictures)
        err = "reference" if k == ref else (f"{np.median(errs):.3f}" if errs else "–")
        ms = np.asarray(times[k][2:])  # the first frames run the person detector
        print(f"| {k[0]} | {k[1]} | {k[2]} | {np.median(ms):.1f} | {np.percentile(ms, 95):.1f} | {seen:.0%} | "
              f"{err} |")
    print(f"\n(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
