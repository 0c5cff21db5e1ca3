"""``cognn-eval``: top-1 / top-5 and confusion matrices of a checkpoint on a dataset file, in clip mode and, for a
continual model with ``--step-mode``, in step mode (online, frame by frame) beside it.

Example::

    cognn-eval --weights out/costgcn_mod/best.safetensors --data ntu60_xsub_val.h5 --step-mode --out eval/
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import CognnError
from .common import run_main, weights_path

PROG = "cognn-eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Evaluate a checkpoint on a cognn-dataset file.")
    p.add_argument("--weights", required=True, type=weights_path, metavar="PATH|NAME",
                   help="checkpoint (ours or an official family cognn reads), or a bundled model's name")
    p.add_argument("--data", required=True, type=Path, metavar="FILE.h5", help="dataset file (cognn-prep)")
    p.add_argument("--model", metavar="NAME",
                   help="run the weights in this architecture, e.g. the continual twin of a regular checkpoint")
    p.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write metrics.json, predictions.csv, confusion_<mode>.csv and .png here")
    p.add_argument("--step-mode", action="store_true",
                   help="continual models: also feed every clip frame by frame and score the last prediction")
    p.add_argument("--device", help="cpu or cuda (default: a GPU when present)")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N samples")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="how to print the metrics (default text; json as cognn-bench --format json)")
    p.add_argument("--json", action="store_const", const="json", dest="format",
                   help="the same as --format json (kept for earlier scripts)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    return p


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:6.2f} %"


def _run(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise CognnError("--batch must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise CognnError("--limit must be at least 1")
    from ..train.evaluate import evaluate_checkpoint, write_report
    from ..train.progress import Reporter

    reporter = Reporter(quiet=args.quiet)
    report = evaluate_checkpoint(args.weights, args.data, batch=args.batch, device=args.device,
                                 step_mode=args.step_mode, model_name=args.model, workers=args.workers,
                                 limit=args.limit, reporter=reporter)
    for note in report.notes:
        reporter.warn(f"note: {note}")
    if args.out is not None:
        try:
            write_report(report, args.out)
        except OSError as e:
            raise CognnError(f"cannot write to {args.out} ({e.strerror or e})") from None
    if args.format == "json":
        print(json.dumps({"model": report.model, "weights": report.weights, "data": report.data,
                          "modes": report.summary()}, indent=2))
    else:
        print(f"{report.model} on {report.data} ({len(report.labels)} samples, {len(report.classes)} classes)")
        for mode, t in report.tallies.items():
            print(f"  {mode:>4} mode: top-1 {_pct(t.top1_acc)}  top-5 {_pct(t.top5_acc)}  loss "
                  f"{t.loss if t.loss is not None else float('nan'):.4f}")
        if args.out is not None:
            print(f"  written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cognn-eval``; returns the exit status."""
    return run_main(PROG, build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
