"""Per-step latency of the continual model vs its regular twin over a sliding window (batch 1, M = 2, CPU).

    .venv/bin/python benchmarks/bench_step.py [--continual costgcn_mod] [--threads N] [--rounds R] [--profile]

The regular model re-runs over the last 300 frames for every new frame; the continual model takes one
``forward_step`` per new frame (``stride`` steps for the strided models). Both are timed in the same rounds, the
order alternating, and the ratio of the medians is printed beside the targets of the core issue
(continual < 5 ms per step and >= 50x faster), in wall time and in process CPU time (the latter is the better
estimate of an idle core when the machine is shared and ``--threads 1``). ``--profile`` adds a torch.profiler
breakdown of the step path and times its matrix products alone.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np
import torch

from cognn.bench import PredictionRunner, environment, header_line, round_robin, warm_up
from cognn.models import names, twin

TARGET_MS = 5.0
TARGET_RATIO = 50.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_step", description=__doc__.split("\n\n")[0])
    p.add_argument("--continual", default="costgcn_mod", choices=names("continual"),
                   help="continual model; its regular twin is the baseline (default costgcn_mod)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--rounds", type=int, default=8, help="timing rounds (default 8)")
    p.add_argument("--window", type=int, default=300, help="frames in the regular model's window (default 300)")
    p.add_argument("--profile", action="store_true", help="profile 100 continual steps with torch.profiler")
    return p


def _category(name: str, shapes: list) -> str:
    """Which part of the step path an aten op with these input shapes belongs to."""
    if name == "aten::addmm" and len(shapes) >= 3 and len(shapes[1]) == 2 and len(shapes[2]) == 2:
        k, n = shapes[2]
        if k == 9 * n:
            return "temporal conv GEMM (9 taps)"
        return "1x1 GEMM (residual / attention / head)"
    if name == "aten::mm":
        return "graph-unit GEMM (x @ W, 3 subsets)"
    if name == "aten::bmm":
        return "graph product (A @ z) / attention"
    if name in ("aten::copy_", "aten::clone", "aten::cat", "aten::index_put_", "aten::fill_", "aten::zero_"):
        return "copies (ring buffers, reshapes)"
    if name in ("aten::add", "aten::add_", "aten::mul", "aten::relu", "aten::clamp_min", "aten::sum", "aten::mean",
                "aten::div", "aten::div_", "aten::softmax", "aten::_softmax"):
        return "elementwise / reductions"
    return "other aten ops"


def profile_steps(runner: PredictionRunner, steps: int = 100) -> None:
    """Print where the time of ``steps`` continual predictions goes: by category, by op and shape, and dispatch."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(10):
        runner()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            runner()
        wall = time.perf_counter() - t0
    events = prof.key_averages(group_by_input_shape=True)
    by_cat: dict[str, float] = defaultdict(float)
    calls = 0
    for e in events:
        if e.key.startswith("aten::"):
            by_cat[_category(e.key, e.input_shapes)] += e.self_cpu_time_total
            calls += e.count
    in_ops = sum(by_cat.values()) / 1e6
    print(f"\nprofile of {steps} predictions of {runner.name} (profiler on: {wall / steps * 1e3:.2f} ms each, "
          f"{calls / steps:.0f} aten calls each)")
    for cat, us in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        print(f"  {cat:42s} {us / 1e3 / steps:7.3f} ms  {100 * us / 1e6 / wall:5.1f} %")
    rest = wall - in_ops
    print(f"  {'outside aten ops (Python, dispatch, profiler)':42s} {rest * 1e3 / steps:7.3f} ms  "
          f"{100 * rest / wall:5.1f} %")
    print()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=16,
                       max_shapes_column_width=60))
    gemm_floor(runner, events, steps)


_PRODUCTS = {"aten::addmm": torch.addmm, "aten::mm": torch.mm, "aten::bmm": torch.bmm}


def gemm_floor(runner: PredictionRunner, events, steps: int, rounds: int = 30) -> None:
    """Replay only the matrix products of one prediction (same shapes and counts, separate operands so the weights
    are not cache-hot) and time them against full predictions, interleaved: the floor that GEMM speed sets."""
    g = torch.Generator().manual_seed(0)
    calls = []
    for e in events:
        fn = _PRODUCTS.get(e.key)
        if fn is None or e.count % steps:
            continue
        operands = 3 if e.key == "aten::addmm" else 2  # an out= buffer comes after them
        shapes = [s for s in e.input_shapes if s][:operands]
        for _ in range(e.count // steps):
            calls.append((fn, [torch.randn(s, generator=g) for s in shapes]))

    def replay() -> None:
        for fn, ops in calls:
            fn(*ops)

    wall = {"full": [], "only": []}
    cpu = {"full": [], "only": []}
    with torch.inference_mode():
        for _ in range(rounds):
            for key, fn in (("full", runner), ("only", replay)):
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
    macs = sum(int(np.prod(ops[-2].shape)) * ops[-1].shape[-1] for _, ops in calls)
    print(f"\nmatrix products alone: {len(calls)} per prediction, {macs / 1e9:.3f} GMACs")
    for label, d in (("wall", wall), ("process CPU", cpu)):
        f, o = np.median(d["full"]) * 1e3, np.median(d["only"]) * 1e3
        print(f"  [{label} time] products alone {o:6.2f} ms = {2 * macs / o / 1e6:5.1f} GFLOP/s; full prediction in "
              f"the same rounds {f:6.2f} ms; everything else (copies, elementwise, Python) {f - o:5.2f} ms "
              f"({100 * (f - o) / f:.0f} %)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    cont_name, reg_name = args.continual, twin(args.continual)
    dev = torch.device("cpu")
    print(header_line(environment("cpu", threads)))
    reg = PredictionRunner(reg_name, dev, 1, args.window)
    cont = PredictionRunner(cont_name, dev, 1, args.window)
    est = [warm_up(reg, 1, 0.0), warm_up(cont, 20, 0.5)]
    round_robin([reg, cont], args.rounds, 0.5, est, lambda label: print(f"  {label}", file=sys.stderr))
    steps = cont.model.stride
    results = {}
    for label, key in (("wall", "times"), ("process CPU", "cpu_times")):
        r_ms, c_ms = np.asarray(getattr(reg, key)) * 1e3, np.asarray(getattr(cont, key)) * 1e3
        results[label] = (np.median(r_ms), np.median(c_ms) / steps, np.median(r_ms) / np.median(c_ms))
        print(f"[{label} time] {reg_name} over a {args.window}-frame window: median {np.median(r_ms):8.1f} ms, "
              f"p95 {np.percentile(r_ms, 95):8.1f} ms ({len(r_ms)} predictions)")
        print(f"[{label} time] {cont_name}, {steps} step(s) per prediction: median {np.median(c_ms):8.2f} ms, "
              f"p95 {np.percentile(c_ms, 95):8.2f} ms ({len(c_ms)} predictions)")
    for label, (_, per_step, ratio) in results.items():
        print(f"{label:>11s}: speed-up per prediction {ratio:6.1f}x (target >= {TARGET_RATIO:.0f}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); {cont_name} {per_step:6.2f} ms per step "
              f"(target < {TARGET_MS:.0f} ms: {'met' if per_step < TARGET_MS else 'NOT met'})")
    if threads > 1:
        print("(process CPU time adds up all threads)")
    if args.profile:
        profile_steps(cont)
    return 0


if __name__ == "__main__":
    sys.exit(main())
