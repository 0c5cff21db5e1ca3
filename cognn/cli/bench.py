"""``cognn-bench``: regular vs continual models side by side — the paper's Table II (NTU) or V (Kinetics) measured
on this machine.

    cognn-bench [--models LIST] [--layout ntu25|kinetics18] [--device cpu|cuda] [--batch B] [--repeats R]
                [--threads N] [--format md|csv|json] [--plot FILE.png] [--windows 50,100,...,300] [--window 300]
                [--no-memory] [--precision fp32,bf16,int8] [--no-one-person] [--onnx] [--quick]

``--layout kinetics18`` measures the Kinetics-400 setting of the paper's Table V (18 joints, 400 classes).
Every continual model is also timed, in the same rounds, with its second person slot empty (``ms_one_person``) and
in each lower ``--precision`` (``ms_bf16``, ``ms_int8``, with speed-ups over its float32 step).

The table goes to stdout; the header (versions, device, threads, load) is part of the ``md`` table and goes to stderr
for ``csv`` and ``json``. Exit status: 0 done, 2 usage error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CognnError
from .common import positive_int, run_main

PROG = "cognn-bench"
DEFAULT_WINDOWS = (50, 100, 150, 200, 250, 300)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def _precisions(text: str) -> list[str]:
    from ..nn.linear import PRECISIONS

    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in PRECISIONS]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(PRECISIONS)}, got {text!r}")
    return list(dict.fromkeys(values))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Measure regular and continual skeleton models side by side: "
                                "parameters, MACs, latency, throughput and peak memory per prediction.")
    p.add_argument("--models", default="all", metavar="LIST",
                   help="comma-separated model names, or all | regular | continual | extra (default all: the paper's "
                        "twelve; extra: the original ST-GCN's four)")
    p.add_argument("--layout", default="ntu25", choices=["ntu25", "kinetics18"],
                   help="skeleton layout and dataset setting: ntu25 (NTU RGB+D 60, 60 classes, Table II; default) or "
                        "kinetics18 (Kinetics-400, 400 classes, Table V)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run (default cpu)")
    p.add_argument("--batch", type=positive_int, metavar="B",
                   help="batch for the throughput column (default 4 on cpu, 64 on cuda; 2 with --quick)")
    p.add_argument("--repeats", type=positive_int, metavar="R",
                   help="timing rounds; every round times each model in turn (default 5, 2 with --quick)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads, pinned for the whole run (default 1 on cpu: batch-1 steps are hundreds of "
                        "small ops, and on a shared CPU every extra thread waits for the slowest; torch's default "
                        "on cuda)")
    p.add_argument("--format", default="md", choices=["md", "csv", "json"], help="output format (default md)")
    p.add_argument("--plot", metavar="FILE.png", help="also write latency per prediction against window length")
    p.add_argument("--windows", type=_int_list, default=list(DEFAULT_WINDOWS), metavar="W1,W2,...",
                   help="window lengths for --plot (default 50,100,150,200,250,300)")
    p.add_argument("--window", type=positive_int, default=300, metavar="T",
                   help="frames per regular prediction and clip_frames of continual models (default 300)")
    p.add_argument("--no-memory", action="store_true", help="skip the per-model peak-memory child processes")
    p.add_argument("--precision", type=_precisions, default=["fp32", "bf16", "int8"], metavar="LIST",
                   help="step precisions to time continual models in, side by side in the same rounds (default "
                        "fp32,bf16,int8; fp32 alone leaves the bf16/int8 columns out)")
    p.add_argument("--no-one-person", action="store_true",
                   help="leave out the one-person column (a continual model with its second person slot empty)")
    p.add_argument("--onnx", action="store_true", help="also time each continual model's exported step in ONNX "
                   "Runtime (CPU), in the same rounds, beside its PyTorch step (ms_onnx, onnx_ratio; docs/onnx.md)")
    p.add_argument("--quick", action="store_true", help="short run for smoke tests: fewer rounds, small batch")
    return p


def _model_list(text: str) -> list[str]:
    from ..models import names

    out: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        out.extend(names(item) if item in ("all", "regular", "continual", "extra") else [item])
    return list(dict.fromkeys(out))


def _check_plot_path(path: str) -> Path:
    plot = Path(path)
    if plot.suffix.lower() != ".png":
        raise CognnError(f"--plot must name a .png file, got {path!r}")
    if not plot.parent.is_dir():
        raise CognnError(f"the folder of --plot {path!r} does not exist")
    return plot


def _progress(tty: bool):
    """A tqdm bar on stderr when it is a terminal; otherwise (a pipe, a CI log, a terminal of width 0) one short line
    per stage, so a long run is never silent."""
    if not tty:
        def lines(label: str, done: int, total: int) -> None:
            print(f"{PROG}: [{done}/{total}] {label}", file=sys.stderr, flush=True)

        return None, lines
    from tqdm import tqdm

    bar = tqdm(total=1, file=sys.stderr, leave=False, unit="step")

    def update(label: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(label)
        bar.refresh()

    return bar, update


def _is_terminal() -> bool:
    """stderr is a terminal wide enough for a bar."""
    import shutil

    return sys.stderr.isatty() and shutil.get_terminal_size((0, 0)).columns > 0


def _run(args: argparse.Namespace) -> int:
    import torch

    from ..bench import (
        BenchOptions,
        dataset_classes,
        format_rows,
        header_line,
        latency_vs_window,
        plot_latency,
        run_benchmark,
    )

    bar = None
    threads_before = torch.get_num_threads()  # restored at the end: main() may run inside another program
    try:
        models = _model_list(args.models)
        plot = _check_plot_path(args.plot) if args.plot else None
        batch = args.batch or (2 if args.quick else None)
        threads = args.threads or (1 if args.device == "cpu" else None)
        opts = BenchOptions(models=models, device=args.device, batch=batch, rounds=args.repeats or
                            (2 if args.quick else 5), threads=threads, window=args.window,
                            round_seconds=0.05 if args.quick else 0.25, memory=not args.no_memory,
                            layout=args.layout, num_classes=dataset_classes(args.layout),
                            precisions=[p for p in args.precision if p != "fp32"],
                            one_person=not args.no_one_person, onnx=args.onnx)
        bar, update = _progress(_is_terminal())
        rows, env = run_benchmark(opts, update)
        if bar is not None:
            bar.close()
            bar = None
        if args.format != "md":
            print(f"{PROG}: {header_line(env)}", file=sys.stderr)
        sys.stdout.write(format_rows(rows, env, args.format))
        sys.stdout.flush()
        if plot is not None:
            plot_opts = BenchOptions(models=models, device=args.device, rounds=1 if args.quick else 3,
                                     threads=threads, round_seconds=opts.round_seconds, layout=opts.layout,
                                     num_classes=opts.num_classes)
            bar, update = _progress(_is_terminal())
            data = latency_vs_window(plot_opts, args.windows, update)
            try:
                plot_latency(data, plot)
            except OSError as e:
                raise CognnError(f"cannot write {plot}: {e.strerror or e}") from None
            print(f"{PROG}: wrote {plot}", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        torch.set_num_threads(threads_before)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-bench``; returns the exit status."""
    return run_main(PROG, _parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
