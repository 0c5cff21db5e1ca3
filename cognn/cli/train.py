"""``cognn-train``: train or fine-tune a skeleton model (clip mode, reference recipe); ``torchrun`` runs it with DDP.

Examples::

    cognn-train --model stgcn --data ntu60_xsub_train.h5 --val ntu60_xsub_val.h5 --out runs/stgcn
    cognn-train --model stgcn_mod --init stgcn_ntu60_xsub_joint.pt --data ... --epochs 30 --batch 8
    cognn-train --model costgcn_mod --clips my_actions/ --init weights/costgcn_mod.safetensors --freeze backbone
    torchrun --nproc_per_node 4 $(which cognn-train) --model stgcn --data ... --batch 64
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import err, run_main, weights_path

if TYPE_CHECKING:
    from ..train.config import TrainConfig

PROG = "cognn-train"


def _milestones(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epoch numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from ..models import names

    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Train or fine-tune a skeleton action model in clip mode "
                                "(SGD + Nesterov, multi-step LR). Under torchrun it runs distributed data parallel.",
                                epilog="Files written to --out: best.safetensors, last.safetensors, log.csv, log.json, "
                                       "curves.png and last_state.pt (for --resume).")
    p.add_argument("--model", required=True, metavar="NAME",
                   help=f"model to train: {', '.join(names())}, or one of {', '.join(names('extra'))} (continual "
                        "models train as their regular twin)")
    src = p.add_argument_group("data (one of)")
    src.add_argument("--data", type=Path, metavar="FILE.h5", help="training set (a cognn-dataset file, cognn-prep)")
    src.add_argument("--clips", type=Path, metavar="DIR",
                     help="custom actions: one sub-folder per action with videos, .skeleton files or recordings")
    p.add_argument("--val", type=Path, metavar="FILE.h5", help="validation set, evaluated after every epoch")
    p.add_argument("--init", type=weights_path, metavar="PATH|NAME",
                   help="start from these weights (any checkpoint cognn reads, or a bundled model's name such as "
                        "gestures; a new head if the classes differ); "
                        "the width, family options and, for a continual model, the clip length come from it unless "
                        "--base-channels / --clip-frames say otherwise")
    p.add_argument("--freeze", choices=("none", "backbone"), default="none",
                   help="backbone: train only the class head (needs --init)")
    p.add_argument("--epochs", type=int, default=50, help="epochs (default 50)")
    p.add_argument("--batch", type=int, default=64, help="global batch size, split over processes (default 64)")
    p.add_argument("--lr", type=float, help="learning rate (default 0.1 x batch / 64)")
    p.add_argument("--milestones", type=_milestones, metavar="E1,E2",
                   help="epochs after which the LR drops x0.1 (default 60%% and 80%% of --epochs)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="SGD weight decay (default 1e-4)")
    p.add_argument("--modality", choices=("joint", "bone"), default="joint", help="input modality (default joint)")
    p.add_argument("--augment", metavar="LIST",
                   help="reference augmentations: comma list of shift, choose, move, or none (default: none for "
                        "NTU, choose,move for Kinetics, shift,move for --clips)")
    p.add_argument("--base-channels", type=int, metavar="C",
                   help="width: channels of the first layer, a multiple of 8 (default: the --init checkpoint's, else "
                        "64, the reference network)")
    p.add_argument("--clip-frames", type=int, metavar="T",
                   help="train on T-frame clips (first T frames, or random windows with 'choose'); default: all")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="--clips: share of each action's clips kept for validation (default 0.2, at least 1)")
    p.add_argument("--pose-model", type=Path, metavar="FILE.task", help="--clips: MediaPipe pose model for videos")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default out/<model>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out exactly")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1); runs are deterministic")
    p.add_argument("--device", help="cpu or cuda (default: a GPU when present)")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes (default 0)")
    p.add_argument("--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)  # testing: simulate an interruption
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from ..train.config import TrainConfig, parse_augment

    return TrainConfig(
        model=args.model, data=args.data, val=args.val, clips=args.clips, init=args.init, out=args.out,
        epochs=args.epochs, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay, milestones=args.milestones,
        resume=args.resume, seed=args.seed, device=args.device, freeze=args.freeze, workers=args.workers,
        modality=args.modality, augment=None if args.augment is None else parse_augment(args.augment),
        clip_frames=args.clip_frames, base_channels=args.base_channels, val_fraction=args.val_fraction,
        pose_model=args.pose_model, quiet=args.quiet,
        stop_after=args.stop_after)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cognn-train``; returns the exit status."""

    def run(args: argparse.Namespace) -> int:
        from ..train import train

        result = train(config_from_args(args))
        if not args.quiet and result.last is not None:
            best = f"best epoch {result.best_epoch}: {result.best}; " if result.best is not None else ""
            err(f"{PROG}: done; {best}last: {result.last}")
        return 0

    return run_main(PROG, build_parser(), run, argv,
                    interrupted="interrupted; continue with --resume (the last finished epoch is kept)")


if __name__ == "__main__":
    sys.exit(main())
