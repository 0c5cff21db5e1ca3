"""Latency per prediction against the window length, and its plot."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..models import build, display_name, spec
from ..models.base import SkeletonNet
from .options import BenchOptions, Progress
from .run import _check, _continual_window_ok, _min_window, _pin_threads
from .runners import PredictionRunner, environment, round_robin, warm_up
from .table import _plural


def latency_vs_window(opts: BenchOptions, windows: Sequence[int], progress: Progress | None = None) -> dict:
    """Median ms per prediction at batch 1 for every model and window length, measured round-robin.

    Regular models run over ``W`` frames; continual models are built with ``clip_frames=W`` (their per-step cost
    hardly depends on it). Combinations a model cannot run (``*`` models need ``W >= 81``) are left out.
    Returns ``{"windows": [...], "ms": {model: {W: ms}}, "env": ...}``.
    """
    dev = _check(BenchOptions(models=opts.models, device=opts.device))
    threads = _pin_threads(opts.threads)
    env = environment(opts.device, threads)
    runners: list[tuple[str, int, PredictionRunner]] = []
    regular_models: dict[str, SkeletonNet] = {}
    skipped = []
    for w in windows:
        for n in dict.fromkeys(opts.models):
            if spec(n).continual:
                if not _continual_window_ok(n, w):
                    skipped.append(f"{n}@{w}")
                    continue
                r = PredictionRunner(n, dev, 1, w, clip_frames=w, num_classes=opts.num_classes, layout=opts.layout)
            else:
                if w < _min_window(n):
                    skipped.append(f"{n}@{w}")
                    continue
                model = regular_models.setdefault(n, build(n, num_classes=opts.num_classes, layout=opts.layout))
                r = PredictionRunner(n, dev, 1, w, model=model)
            runners.append((n, w, r))
    if skipped:
        print(f"cognn-bench: note: left out of the plot (window too short for the model): {', '.join(skipped)}",
              file=sys.stderr)
    total = 1 + opts.rounds
    estimates = [warm_up(r, 5, opts.round_seconds) for _, _, r in runners]
    if progress is not None:
        progress("plot warm-up", 1, total)
    done = [1]

    def tick(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(f"plot {label}", done[0], total)

    round_robin([r for _, _, r in runners], opts.rounds, opts.round_seconds, estimates, tick)
    ms: dict[str, dict[int, float]] = {}
    for n, w, r in runners:
        ms.setdefault(n, {})[w] = float(np.median(r.times)) * 1e3
    return {"windows": list(windows), "ms": ms, "env": env}


def plot_latency(data: dict, path: str | Path) -> Path:
    """Write the latency-vs-window figure (PNG, Agg backend, no GUI) and return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    pairs = sorted({(spec(n).family, spec(n).mod) for n in data["ms"]})
    colours = {pair: f"C{i}" for i, pair in enumerate(pairs)}  # a model and its twin share a colour
    for name, points in data["ms"].items():
        ws = sorted(points)
        s = spec(name)
        style = "-o" if s.continual else "--s"
        ax.plot(ws, [points[w] for w in ws], style, color=colours[(s.family, s.mod)], label=display_name(name))
    ax.set_yscale("log")
    ax.set_xlabel("window length (frames)")
    ax.set_ylabel("latency per prediction, batch 1 (ms, log scale)")
    env = data["env"]
    ax.set_title(f"{env['device_name']}, {_plural(env['threads'], 'thread')}, torch {env['torch']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    from ..atomic import AtomicOutput

    with AtomicOutput(path, what="plot", keep_suffix=True) as out:
        fig.savefig(out.temp, format="png")
    return out.path
