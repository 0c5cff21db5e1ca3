"""``cognn-export``: a continual model's step as an ONNX graph with its state as explicit inputs and outputs.

    cognn-export WEIGHTS OUT.onnx [--model NAME] [--precision fp32|fp16|int8] [--early-mode MODE] [--check-steps N]
                 [--quiet]

WEIGHTS: any checkpoint cognn reads, or a bundled model's short name (``kinetics400``, ``gestures``); a regular
checkpoint is exported as its continual twin (or ``--model``, a continual model of the file's family). Writes
``OUT.onnx`` and its description ``OUT.onnx.json`` (also stored in the graph's metadata), each under a temporary
name renamed at the end, after stepping the graph in ONNX Runtime beside the PyTorch step on random frames (a float32
export that differs is not written). ``cognn-infer --backend onnx --weights OUT.onnx`` runs it; docs/onnx.md shows
how to run it from plain ONNX Runtime. Exit status: 0 done, 2 a usage or input error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CognnError
from .common import positive_int, run_main

PROG = "cognn-export"
#: a float32 export must match the PyTorch step this closely (logits, absolute, per unit of logit scale)
FP32_TOLERANCE = 1e-4


def _parser() -> argparse.ArgumentParser:
    from ..models import EARLY_MODES

    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Export one step of a continual model as an ONNX graph: the frame and every state tensor in, "
                    "the logits, a valid and a ready flag and the next state out (docs/onnx.md).",
        epilog="examples:\n"
               "  cognn-export kinetics400 k.onnx\n"
               "  cognn-export stgcnmod_ntu60_xsub_joint.ckpt co.onnx --model costgcn_mod --precision fp16\n"
               "  cognn-infer clip.mp4 --backend onnx --weights k.onnx")
    p.add_argument("weights", metavar="WEIGHTS", help="a checkpoint of any supported family, or a bundled model's "
                   "name (kinetics400, gestures)")
    p.add_argument("output", metavar="OUT.onnx", help="the graph to write (its description goes to OUT.onnx.json)")
    p.add_argument("--model", metavar="NAME", help="the continual model to export (default: the file's, or its "
                   "continual twin)")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                   help="fp32 (default; equal to the PyTorch step), fp16 (float16 weights, half the file, float32 "
                        "arithmetic) or int8 (ONNX Runtime dynamic quantization of the weight products)")
    p.add_argument("--early-mode", choices=EARLY_MODES, help="how a warm start answers before the receptive field "
                   "is full (default: the checkpoint's; docs/continual.md)")
    p.add_argument("--check-steps", type=positive_int, default=17, metavar="N",
                   help="steps compared with PyTorch before writing (default 17)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary")
    return p


def _size(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MB" if n >= 2 ** 20 else f"{n / 2 ** 10:.1f} KB"


def _run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..atomic import OutputError, check_output
    from ..export import require_onnx

    require_onnx()
    from ..export.build import compare_with_torch, export_weights, write_step
    from ..export.sidecar import sidecar_path

    out = Path(args.output)
    if out.suffix.lower() != ".onnx":
        raise CognnError(f"the output must be an .onnx file, not {args.output}")
    inputs = (args.weights,) if os.path.isfile(args.weights) else ()
    try:
        check_output(out, "output", inputs, allow_stream=False)
        check_output(sidecar_path(out), "sidecar", inputs, allow_stream=False)
    except OutputError as e:
        raise CognnError(str(e)) from None
    threads = os.environ.get("COGNN_THREADS", "").strip()
    torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else 1)
    result, net = export_weights(args.weights, model=args.model, early_mode=args.early_mode,
                                 precision=args.precision)
    desc = result.description
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((args.check_steps, 1, net.in_channels, net.layout.num_joints, net.num_persons))
    check = compare_with_torch(result, net, frames.astype(np.float32), warm_start=True)
    if args.precision == "fp32" and (not check["flags_equal"] or check["max_abs"] > FP32_TOLERANCE * 10):
        raise CognnError(f"the exported step does not reproduce the PyTorch step of {net.spec.name} (largest logit "
                         f"difference {check['max_abs']:.2g}, flags {'equal' if check['flags_equal'] else 'differ'}); "
                         f"nothing was written. Please report this")
    onnx_path, side = write_step(result, out, inputs=inputs)
    if not args.quiet:
        err = f"largest logit difference {check['max_abs']:.2g}" if check["predictions"] else "no prediction yet"
        print(f"{PROG}: wrote {onnx_path} ({_size(onnx_path.stat().st_size)}) and {side.name}: "
              f"{desc['display_name']} ({desc['model']}, {desc['layout']}, {desc['num_classes']} classes, "
              f"{desc['precision']}, early mode {desc['early_mode']}); state {_size(desc['state_bytes_per_stream'])} "
              f"per stream in {len(desc['state'])} tensors", file=sys.stderr)
        print(f"{PROG}: checked against PyTorch over {check['steps']} warm-start steps: {err}, valid and ready flags "
              f"{'equal' if check['flags_equal'] else 'DIFFER'}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-export``; returns the exit status."""
    return run_main(PROG, _parser(), _run, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
