#!/usr/bin/env python3
"""bfloat16 and int8 steps against float32 on real skeleton streams, in one run: speed ratio, largest probability
difference and top-1 agreement.

    python benchmarks/bench_precision.py [--clips kinetics400:clean_and_jerk.mp4,...] [--rounds 3]

Default streams: the bundled Kinetics-400 model on the pixel pipeline of three real clips (clean and jerk, tai chi,
skateboarding) and the bundled gesture model on the two real workout clips (../shared/data/video). Each clip goes
through MediaPipe once (the same skeletons for every precision); then one recognizer per precision steps the stream,
the precisions taking turns frame by frame so machine noise falls on all alike. Compared: every frame where float32
gives a fresh prediction. Speed: the median model step, float32 / precision (warm-up flushes of the exact early mode
included, as a user gets them).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VIDEOS = REPO.parent / "shared" / "data" / "video"
DEFAULT = ("kinetics400:clean_and_jerk.mp4,kinetics400:ta_chi.mp4,kinetics400:skateboarding.mp4,"
           "gestures:fanchiang_2-1.mp4,gestures:fanchiang_3-2.mp4")
PRECISIONS = ("fp32", "bf16", "int8")


def _frames(weights: str, clip: str) -> list:
    from cognn.online import OnlineRecognizer
    from cognn.sources.open import open_source

    layout = OnlineRecognizer.from_weights(weights).layout.name
    with open_source(str(VIDEOS / clip), layout=layout, num_persons=2) as src:
        return list(src)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_precision", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", default=DEFAULT, help="comma list of WEIGHTS:CLIP (clips from ../shared/data/video)")
    args = p.parse_args(argv)

    import torch

    from cognn.bench import environment, header_line
    from cognn.online import OnlineRecognizer

    torch.set_num_threads(1)
    print(header_line(environment("cpu", 1)))
    print("\n| model | clip | compared frames | bf16 speed-up | bf16 top-1 agreement | bf16 max |Δp| | "
          "int8 speed-up | int8 top-1 agreement | int8 max |Δp| |")
    print("|---|---|---|---|---|---|---|---|---|")
    for item in args.clips.split(","):
        weights, clip = item.split(":", 1)
        frames = _frames(weights, clip)
        recs = {}
        for prec in PRECISIONS:
            rec = OnlineRecognizer.from_weights(weights)
            rec.model.set_precision(prec)
            recs[prec] = rec
        probs: dict[str, list] = {k: [] for k in PRECISIONS}
        ms: dict[str, list[float]] = {k: [] for k in PRECISIONS}
        for i, f in enumerate(frames):
            order = PRECISIONS[i % 3:] + PRECISIONS[:i % 3]
            for prec in order:
                pred = recs[prec].step(f.skeleton, f.timestamp)
                probs[prec].append(pred.probs if pred.probs is not None and not pred.held else None)
                ms[prec].append(pred.model_ms)
        ref = probs["fp32"]
        idx = [i for i, r in enumerate(ref) if r is not None]
        cells = []
        for prec in ("bf16", "int8"):
            got = probs[prec]
            both = [i for i in idx if got[i] is not None]
            agree = np.mean([ref[i].argmax() == got[i].argmax() for i in both]) if both else float("nan")
            worst = max((float(np.abs(ref[i] - got[i]).max()) for i in both), default=float("nan"))
            speed = np.median(ms["fp32"]) / np.median(ms[prec])
            cells += [f"{speed:.2f}x", f"{agree:.1%} ({len(both)})", f"{worst:.4f}"]
        print(f"| {weights} | {clip} | {len(idx)} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
