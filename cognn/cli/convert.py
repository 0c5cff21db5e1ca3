"""``cognn-convert``: write any supported checkpoint (official families or ours) as a cognn checkpoint.

    cognn-convert IN OUT [--model NAME] [--classes FILE|ntu60|ntu120|kinetics400] [--layout ntu25|kinetics18]
                  [--modality joint|bone|motion|bone_motion] [--dataset TEXT] [--description TEXT] [--licence TEXT]
                  [--preprocessing NAME] [--fps FPS] [--metrics JSON] [--force]

What the options do not say is taken from the file: its metadata (ours) or, for official files, the tensor shapes and
the official file name (``stgcnmod_ntu60_xsub_joint.ckpt`` -> ST-GCN*, NTU-60 classes, xsub, joint). The weights are
loaded into the model before writing, so a file that converts also loads. Quantized weights stay quantized (integer
values, scales and zero points: a lossless copy). The output is written atomically with the umask's permissions.
Exit status: 0 written, 2 usage or input error.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CognnError, InputFileError
from .common import err, run_main

PROG = "cognn-convert"
_DATASET_CLASSES = ("ntu60", "ntu120", "kinetics400", "kinetics")


def _parser() -> argparse.ArgumentParser:
    from ..checkpoints.schema import MODALITIES

    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Convert a checkpoint (continual-skeletons .pt, Lightning "
                                ".ckpt, OpenDR .pth, or cognn) into cognn's safetensors format with metadata.")
    p.add_argument("input", metavar="IN", help="checkpoint to read, or a bundled model's name (e.g. kinetics400)")
    p.add_argument("output", metavar="OUT", help="cognn checkpoint to write (.safetensors)")
    p.add_argument("--model", metavar="NAME", help="model to store, of the file's family (e.g. stgcn_mod, "
                   "costgcn_mod); default: from the file")
    p.add_argument("--classes", metavar="FILE|DATASET", help="class names: a text file with one name per line, or "
                   "ntu60, ntu120, kinetics400")
    p.add_argument("--layout", choices=["ntu25", "kinetics18"], help="check that the file has this layout")
    p.add_argument("--modality", choices=MODALITIES, help="input modality the weights were trained on")
    p.add_argument("--dataset", metavar="TEXT", help="training data, e.g. ntu60-xsub")
    p.add_argument("--description", metavar="TEXT", help="free-text description")
    p.add_argument("--licence", "--license", dest="licence", metavar="TEXT", help="licence of the weights")
    p.add_argument("--preprocessing", metavar="NAME", help="preprocessing of the training data")
    p.add_argument("--fps", type=float, metavar="FPS", help="frame rate of the training data (default 30)")
    p.add_argument("--metrics", metavar="JSON", help='evaluation results as JSON, e.g. \'{"top1": 0.863}\'')
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    return p


def _read_classes(spec: str, num_classes: int) -> list[str]:
    from ..data.classes import class_names

    path = Path(spec)
    if spec in _DATASET_CLASSES and not path.exists():
        names = class_names(spec)
        source = f"the {spec} class list"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputFileError(path, "no such file (--classes takes a file or one of "
                                       f"{', '.join(_DATASET_CLASSES[:3])})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputFileError(path, f"cannot be read as text ({e})") from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
        source = str(path)
    if len(names) != num_classes:
        raise CognnError(f"{source} has {len(names)} class names but the checkpoint has {num_classes} classes")
    return names


def _options_meta(args: argparse.Namespace, num_classes: int) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if args.classes:
        meta["classes"] = _read_classes(args.classes, num_classes)
    elif args.dataset and args.dataset.split("-")[0] in _DATASET_CLASSES:
        try:
            meta["classes"] = _read_classes(args.dataset.split("-")[0], num_classes)
        except CognnError:
            pass  # a dataset name that does not match the class count only describes the data
    for key in ("modality", "description", "licence", "preprocessing", "fps"):
        if getattr(args, key) is not None:
            meta[key] = getattr(args, key)
    if args.dataset is not None:
        meta["data"] = args.dataset
    if args.metrics is not None:
        try:
            metrics = json.loads(args.metrics)
        except json.JSONDecodeError:
            metrics = None
        if not isinstance(metrics, dict):
            raise CognnError(f"--metrics must be a JSON object, e.g. '{{\"top1\": 0.86}}', not {args.metrics!r}")
        meta["metrics"] = metrics
    return meta


def _run(args: argparse.Namespace, err) -> int:
    from ..checkpoints import model_from_checkpoint, read_checkpoint, save_checkpoint
    from ..models import display_name as display
    from ..weights import resolve_weights

    src, out = resolve_weights(args.input), Path(args.output)
    if out.exists() and out.resolve() == src.resolve():
        raise CognnError("OUT must differ from IN")
    if out.exists() and not args.force:
        raise CognnError(f"{out} exists; use --force to overwrite it")
    if not out.parent.is_dir():
        raise CognnError(f"the folder {out.parent} does not exist")
    ck = read_checkpoint(src)
    try:
        net = model_from_checkpoint(ck, model=args.model, layout=args.layout)
    except ValueError as e:
        if isinstance(e, InputFileError):
            raise
        raise CognnError(str(e)) from None
    keep = {k: v for k, v in ck.meta.items()
            if k not in ("model", "layout", "num_classes", "in_channels", "num_persons", "model_kwargs",
                         "quantization")}
    meta = {**keep, **_options_meta(args, net.num_classes)}
    try:
        save_checkpoint(out, net, meta, quantized=ck.quantized)
    except ValueError as e:
        raise CognnError(str(e)) from None
    except OSError as e:
        raise CognnError(f"cannot write {out} ({e.strerror or e})") from None
    classes = f"{net.num_classes} classes" + ("" if meta.get("classes") else " (unnamed)")
    err(f"{PROG}: wrote {out}: {display(net.spec.name)} ({net.spec.name}), {net.layout.name}, {classes}, "
        f"from a {ck.family} file")
    for note in ck.notes:
        err(f"{PROG}: note: {note}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-convert``; returns the exit status."""
    return run_main(PROG, _parser(), lambda args: _run(args, err), argv)


if __name__ == "__main__":
    sys.exit(main())
