"""The fitness task's architectures side by side (docs/fitness.md): parameters, multiply-accumulates per prediction
and the continual step's time on one thread, one person in view (the other slot empty, as in use).

    python tools/compare_fitness.py weights/fitness_costgcn_original.safetensors student1.safetensors ...

Step times are medians of 300 steps after 300 warm-up steps, the models alternating in rounds in one process
(the machine is shared: compare ratios, not absolute times).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.checkpoints import load_model  # noqa: E402
from cognn.flops import counted_macs  # noqa: E402
from cognn.models import display_name  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("weights", nargs="+", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    models = [load_model(w).eval() for w in args.weights]
    times: list[list[float]] = [[] for _ in models]
    g = torch.Generator().manual_seed(0)
    for _ in range(args.rounds):
        for k, m in enumerate(models):
            m.clean_state()
            frame = torch.zeros(1, m.in_channels, m.layout.num_joints, m.num_persons)
            with torch.no_grad():
                for i in range(600):
                    frame[..., 0] = torch.randn(m.in_channels, m.layout.num_joints, generator=g) * 0.1
                    t = time.perf_counter()
                    m.forward_step(frame)
                    if i >= 300:
                        times[k].append(time.perf_counter() - t)
    print(f"CPU: {platform.processor() or platform.machine()}, 1 thread")
    print("| model | file | parameters | MACs per prediction | frames per prediction | step median (ms) |")
    print("|---|---|---|---|---|---|")
    for w, m, ts in zip(args.weights, models, times):
        macs = counted_macs(m).macs
        params = sum(x.numel() for x in m.parameters())
        print(f"| {display_name(m.name)} | {w.name} | {params / 1e6:.2f} M | {macs / 1e6:.1f} M | {m.stride} | "
              f"{statistics.median(ts) * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
