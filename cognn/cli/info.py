"""``cognn-info``: say what a checkpoint holds (family, model, layout, classes, parameter count, metadata).

    cognn-info FILE [--json]

Works on every supported family (cognn, continual-skeletons .pt, Lightning .ckpt, OpenDR .pth, the original ST-GCN's
.pt, quantized files included); the weights are loaded into the model, so a file that ``cognn-info`` describes also
loads. The report goes to stdout (a reader that stops early, ``| head``, ends it quietly); errors to stderr with exit
status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import CognnError

PROG = "cognn-info"
_FIRST_CLASSES = 5
_FAMILY_TEXT = {
    "cognn": "cognn checkpoint (safetensors + metadata)",
    "continual-skeletons": "continual-skeletons state dict (.pt)",
    "lightning": "PyTorch-Lightning checkpoint (.ckpt)",
    "opendr": "OpenDR continual-model state dict (long keys)",
    "safetensors": "plain safetensors state dict",
}


def _family_text(family: str) -> str:
    from ..models import FAMILIES

    own = {f.foreign.source: f.foreign.description for f in FAMILIES if f.foreign is not None}
    return {**_FAMILY_TEXT, **own}.get(family, family)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Describe a checkpoint file: family, model, layout, classes, "
                                "parameter count and metadata.")
    p.add_argument("file", metavar="FILE|NAME", help="checkpoint (any supported family) or a bundled model's name "
                   "(e.g. kinetics400, gestures)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def describe(path: str) -> dict[str, Any]:
    """Everything ``cognn-info`` reports about a file, as a JSON-ready dict (raises CognnError for a bad file)."""
    from ..checkpoints import model_from_checkpoint, read_checkpoint
    from ..models import display_name as display
    from ..weights import resolve_weights

    resolved = resolve_weights(path)  # a file, or a bundled model's name
    ck = read_checkpoint(resolved)
    net = model_from_checkpoint(ck)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(t.numel() for t in net.state_dict().values())
    return {"file": str(resolved), "family": ck.family, "model": ck.meta["model"],
            "display_name": display(ck.meta["model"]),
            "parameters": {"trainable": trainable, "tensors": len(ck.state_dict), "values": total},
            "meta": ck.meta, "notes": ck.notes}


def _text(info: dict[str, Any]) -> str:
    meta = info["meta"]
    classes = meta.get("classes") or []
    shown = ", ".join(classes[:_FIRST_CLASSES]) + (", ..." if len(classes) > _FIRST_CLASSES else "")
    lines = [
        f"file:          {info['file']}",
        f"family:        {info['family']} — {_family_text(info['family'])}",
        f"model:         {info['model']} ({info['display_name']})",
        f"layout:        {meta['layout']}, {meta['in_channels']} channels, {meta['num_persons']} persons",
        f"classes:       {meta['num_classes']}" + (f": {shown}" if classes else " (unnamed)"),
        f"parameters:    {info['parameters']['trainable']:,} trainable "
        f"({info['parameters']['tensors']} tensors, {info['parameters']['values']:,} values)",
        f"input:         {meta.get('modality', '')} modality, domain {meta.get('domain', '')}, "
        f"preprocessing {meta.get('preprocessing', '')} v{meta.get('preprocessing_version', '')}, "
        f"{meta.get('fps', 30):g} fps",
    ]
    from ..checkpoints.quantized import summarise

    quantized = summarise((meta.get("quantization") or {}).get("tensors") or {})
    if quantized:
        lines.append(f"quantized:     {quantized} (dequantized to float32 to run)")
    for key in ("data", "metrics", "description", "licence", "model_kwargs", "cognn_version"):
        value = meta.get(key)
        if value not in (None, "", {}, []):
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            lines.append(f"{key + ':':<14} {text}")
    for key, value in (meta.get("source") or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines.append(f"{'source.' + key + ':':<14} {text}")
    from ..checkpoints.schema import FIELDS

    extra = [k for k in meta if k not in FIELDS]
    for key in extra:
        lines.append(f"{key + ':':<14} {meta[key]}")
    for note in info["notes"]:
        lines.append(f"note:          {note}")
    return "\n".join(lines)



def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-info``; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed usage and the message
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        info = describe(args.file)
    except (CognnError, ValueError) as e:  # InputFileError is both; ValueError: a bad model name in a file
        print(f"{PROG}: error: {e}", file=sys.stderr, flush=True)
        return 2
    try:
        print(json.dumps(info, indent=2) if args.json else _text(info), flush=True)
    except BrokenPipeError:  # the reader stopped early (cognn-info FILE | head): end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        os.close(devnull)
    return 0


if __name__ == "__main__":
    sys.exit(main())
