"""``cognn-teach``: learn new actions from a few clips, in seconds, on a real-trained backbone.

    cognn-teach my_actions/ -o my_model.safetensors                    # one sub-folder of clips per action
    cognn-teach more/ --add my_model.safetensors -o my_model2.safetensors
    cognn-infer --camera 0 --weights my_model.safetensors

``DIR`` holds one sub-folder per action with videos, cognn recordings, NTU ``.skeleton`` or Kinetics-skeleton JSON
files (as ``cognn-train --clips`` takes them); a ``none`` (or ``nothing``) sub-folder holds what should not fire.
The pose of each clip is extracted once and cached (``DIR/.cognn-cache``, or ``~/.cache/cognn/teach`` when the
folder is read-only), the backbone's features once per clip and augmented copy, so a second run with one clip more
costs that clip. The result is an ordinary cognn checkpoint (``cognn-infer``, ``cognn-app``, ``cognn-export`` take
it), with its teaching record beside it (``MODEL.teach.npz``, for ``--add``).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..teach import DEFAULT_COPIES
from ..teach.generated import GENERATED_PER_CLASS
from .common import err, non_negative_int, positive_int, run_main

PROG = "cognn-teach"
DEFAULT_BASE = "fitness"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, allow_abbrev=False,
                                description="Learn new actions from a folder of clips (one sub-folder per action) on "
                                            "a real-trained backbone, in seconds.")
    p.add_argument("folder", metavar="DIR", help="one sub-folder of clips per action (none/ or nothing/: what should "
                                                 "not fire)")
    p.add_argument("-o", "--out", required=True, metavar="MODEL.safetensors", help="the model to write")
    p.add_argument("--base", default=DEFAULT_BASE, metavar="fitness|kinetics400|FILE",
                   help=f"the backbone to build on: a bundled model or a checkpoint (default: {DEFAULT_BASE}, the "
                        "best measured, docs/fitness.md)")
    p.add_argument("--add", metavar="MODEL", help="extend a model made by cognn-teach with the folder's actions")
    p.add_argument("--copies", type=positive_int, default=DEFAULT_COPIES, metavar="N",
                   help=f"augmented copies of each clip (mirror, tempo, framing, ...; default {DEFAULT_COPIES})")
    p.add_argument("--reps", default="", metavar="CLASS[=SIGNAL],...",
                   help="declare repetitive actions (else detected from the clips)")
    p.add_argument("--generated", type=non_negative_int, default=GENERATED_PER_CLASS, metavar="N",
                   help="generated clips (cognn.synth: other bodies, speeds, cameras) per action whose name it knows, "
                        f"e.g. squat or bicep_curl, beside your takes (default {GENERATED_PER_CLASS}; 0: the takes "
                        "alone)")
    p.add_argument("--cache", type=Path, metavar="DIR", help="where pose and features are cached")
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from ..live.reps import parse_reps
    from ..teach.folder import teach_folder
    from ..weights import resolve_weights

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    base = resolve_weights(args.base)
    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        err(f"{PROG}: error: -o must name a .safetensors file, not {out}")
        return 2
    reps = parse_reps(args.reps, {}) if args.reps else {}
    def progress(i: int, n: int, what: str) -> None:
        if what:
            err(f"{PROG}: [{i + 1}/{n}] {what}")

    res = teach_folder(args.folder, out, base=base, add=args.add, copies=args.copies, cache=args.cache, reps=reps,
                       generated=args.generated, log=lambda m: err(f"{PROG}: {m}"), progress=progress)
    for note in res.notes:
        err(f"{PROG}: note: {note}")
    rep = ", ".join(f"{c} ({s})" for c, s in res.repetitive.items()) or "none"
    print(f"{res.path}: {len(res.classes)} classes ({', '.join(res.classes)}) from "
          f"{sum(res.clips.values())} clips, {res.windows} windows, {res.seconds:.1f} s; repetitive: {rep}")
    print(f"try it: cognn-infer --camera 0 --weights {res.path}   or   cognn-app --weights {res.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(PROG, _parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
