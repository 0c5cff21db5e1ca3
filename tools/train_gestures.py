"""Train the bundled gesture model on generated motion with cognn-train: one command, reproducible from a seed.

    python tools/train_gestures.py                 # CPU: about an hour on 2 cores
    python tools/train_gestures.py --device cuda   # a GPU: a few minutes

The same command continues an interrupted run (``cognn-train --resume``) and, once the run is complete, only
rewrites the shipped checkpoint and its manifest entry.

Steps: (1) ``cognn.synth.generate_dataset`` writes a training and a validation set of 90-frame clips (NTU-25, 3-D
metres, two person slots, after the reference ``pre_normalization``) to ``--work``; "none" gets ``--none-repeat``
times as many clips as each gesture, being everything a person does that is not a gesture; (2) ``cognn-train``
trains ``costgcn_mod`` (as its regular twin ST-GCN*) on them with ``--clip-frames 90 --base-channels 32``; (3) its
best checkpoint (by synthetic validation top-1) is rewritten with the gesture model's metadata to
``weights/gestures_costgcn_mod.safetensors`` and the model's entry in ``weights/manifest.json`` is added or updated.

Why CoST-GCN* with a 90-frame window and half the reference width: live use wants a prediction on every frame that
is exact (the ``*`` models have temporal stride 1 and no padding), a short warm-up (with ``clip_frames=90`` the
receptive field is 3 s at 30 fps instead of 10 s) and a cheap step (``base_channels=32``: 0.82 M parameters, about
a quarter of the reference's multiply-adds, so the step leaves the CPU to MediaPipe). Ten gestures of generated
motion do not need the capacity that 60 NTU classes do.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "tools"))

from set_live_meta import GESTURE_LIVE  # noqa: E402

from cognn.checkpoints import load_model, read_checkpoint, save_checkpoint  # noqa: E402
from cognn.cli.train import main as cognn_train  # noqa: E402
from cognn.data.store import open_dataset  # noqa: E402
from cognn.errors import CognnError  # noqa: E402
from cognn.models import display_name  # noqa: E402
from cognn.synth import CLASSES, GENERATOR_VERSION, generate_dataset  # noqa: E402

PROG = "train_gestures"
MODEL = "costgcn_mod"
ENTRY = "gestures_costgcn_mod"
NOTE = "trained on generated motion, not on a benchmark dataset"


def _log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(allow_abbrev=False, prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "weights" / f"{ENTRY}.safetensors")
    p.add_argument("--manifest", type=Path, default=REPO / "weights" / "manifest.json")
    p.add_argument("--work", type=Path, default=REPO / "out" / "gestures",
                   help="where the generated data and the cognn-train run go (git-ignored)")
    p.add_argument("--per-class", type=int, default=400, help="training clips per gesture")
    p.add_argument("--none-repeat", type=int, default=3, help="'none' gets this many times --per-class clips")
    p.add_argument("--val-per-class", type=int, default=30, help="validation clips per gesture")
    p.add_argument("--frames", type=int, default=90, help="clip length = the model's clip_frames")
    p.add_argument("--base-channels", type=int, default=32, help="network width (64 = the reference)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--milestones", default="4,5", help="cognn-train --milestones (epochs after which the LR drops)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--augment", default="move", help="cognn-train --augment (the reference random move)")
    p.add_argument("--seed", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0, help="cognn-train data-loading workers")
    p.add_argument("--two-person", type=float, default=0.2, help="share of scenes with a second, idle person")
    return p.parse_args(argv)


def _dataset(path: Path, per_class: int, frames: int, seed: int, split: str, two_person: float,
             repeat: dict[str, int]) -> Path:
    want_repeat = ",".join(f"{k}:{v}" for k, v in sorted(repeat.items()))
    if path.exists():
        ds = open_dataset(path)
        with ds:
            a = ds.attrs
            same = (a.get("seed") == seed and a.get("generator_version") == GENERATOR_VERSION
                    and a.get("two_person") == two_person and a.get("repeat") == want_repeat
                    and len(ds) == per_class * (len(CLASSES) + sum(repeat.values()) - len(repeat))
                    and ds.shape[2] == frames)
        if same:
            _log(f"reusing {path}")
            return path
    t = time.time()
    generate_dataset(path, per_class, frames, seed, split=split, two_person=two_person, repeat=repeat)
    _log(f"generated {path} ({time.time() - t:.0f} s)")
    return path


def update_manifest(path: Path, entry: dict) -> None:
    """Add or replace this model's entry in ``weights/manifest.json`` (``{"format", "version", "entries": [...]}``).

    Being the default model, it takes the default from any other model entry."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    entries = doc["entries"]
    for other in entries:
        if other.get("kind") == "model" and entry.get("default") and other.get("name") != entry["name"]:
            other["default"] = False
    doc["entries"] = [e for e in entries if e.get("name") != entry["name"]] + [entry]
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def manifest_entry(args: argparse.Namespace, metrics: dict, command: str) -> dict:
    """This model's manifest entry (schema of ``cognn.weights``)."""
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    return {
        "name": ENTRY, "kind": "model", "file": args.out.name, "sha256": digest, "model": MODEL, "layout": "ntu25",
        "domain": "camera3d", "classes": list(CLASSES),
        "data": f"cognn-synth-gestures v{GENERATOR_VERSION}: generated motion (seed {args.seed}, "
                f"{args.per_class} clips per gesture, {args.per_class * args.none_repeat} of none), "
                "not a benchmark dataset",
        "metrics": metrics, "licence": "Apache-2.0", "default": True,
        "description": (f"{display_name(MODEL)} (clip_frames={args.frames}: a 3 s receptive field at 30 fps; "
                        f"base_channels={args.base_channels}) for {len(CLASSES)} everyday gestures and none; {NOTE}. "
                        f"Synthetic validation top-1 {metrics['synthetic_val_top1']:.0%}. Reproduce with: {command}. "
                        "Results on real videos: docs/gestures.md."),
        "url": "",
    }


def _count(path: Path) -> int:
    with open_dataset(path) as ds:
        return len(ds)


def _result_args(argv: list[str]) -> list[str]:
    """``argv`` without the options that only say where files go (they do not change the model)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--work", "--out", "--manifest"):
            skip = True
        elif not a.startswith(("--work=", "--out=", "--manifest=")):
            out.append(a)
    return out


def train_argv(args: argparse.Namespace, train_h5: Path, val_h5: Path, run_dir: Path) -> list[str]:
    """The cognn-train command line of this run."""
    return ["--model", MODEL, "--data", str(train_h5), "--val", str(val_h5), "--clip-frames", str(args.frames),
            "--base-channels", str(args.base_channels), "--epochs", str(args.epochs), "--milestones", args.milestones,
            "--batch", str(args.batch),
            "--augment", args.augment, "--seed", str(args.seed), "--device", args.device, "--workers",
            str(args.workers), "--out", str(run_dir)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = "python tools/train_gestures.py" + "".join(" " + a for a in _result_args(argv))
    args.work.mkdir(parents=True, exist_ok=True)
    repeat = {"none": args.none_repeat} if args.none_repeat > 1 else {}
    try:
        train_h5 = _dataset(args.work / "train.h5", args.per_class, args.frames, args.seed, "train",
                            args.two_person, repeat)
        val_h5 = _dataset(args.work / "val.h5", args.val_per_class, args.frames, args.seed + 1000, "val",
                          args.two_person, repeat)
    except (CognnError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    run_dir = args.work / "run"
    cli = train_argv(args, train_h5, val_h5, run_dir)
    if (run_dir / "last_state.pt").exists():
        cli.append("--resume")
    _log("cognn-train " + " ".join(cli))
    rc = cognn_train(cli)
    if rc != 0:
        return rc
    epochs = json.loads((run_dir / "log.json").read_text(encoding="utf-8"))["epochs"]
    best = max(epochs, key=lambda row: row["val_top1"])  # what cognn-train kept as best.safetensors
    metrics = {"synthetic_val_top1": round(float(best["val_top1"]), 4), "best_epoch": int(best["epoch"]),
               "val_clips": _count(val_h5), "train_clips": _count(train_h5),
               "epochs": args.epochs, "train_seconds": round(sum(float(row["time_s"]) for row in epochs))}
    model = load_model(run_dir / "best.safetensors")
    meta = dict(read_checkpoint(run_dir / "best.safetensors").meta)
    meta.update({
        "data": f"cognn-synth-gestures v{GENERATOR_VERSION} (seed {args.seed}, {args.per_class} clips per gesture)",
        "metrics": metrics, "licence": "Apache-2.0",
        "description": f"{display_name(MODEL)} gesture model, {NOTE}. Command: {command}",
        "source": {"family": "cognn", "trained_by": "tools/train_gestures.py (cognn-train)"},
        "live": GESTURE_LIVE,  # alarms, repetitive classes, body parts needed (tools/set_live_meta.py)
    })
    save_checkpoint(args.out, model, meta)
    _log(f"wrote {args.out} (synthetic validation top-1 {metrics['synthetic_val_top1']:.3f}, epoch "
         f"{metrics['best_epoch']})")
    entry = manifest_entry(args, metrics, command)
    (args.work / "manifest_entry.json").write_text(json.dumps(entry, indent=2) + "\n")
    if args.manifest.exists():
        update_manifest(args.manifest, entry)
        _log(f"updated {args.manifest}")
    else:
        _log(f"{args.manifest} does not exist; the entry is in {args.work / 'manifest_entry.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
