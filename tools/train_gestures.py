"""Train the bundled gesture model on generated motion: one command, reproducible from a seed.

    python tools/train_gestures.py            # CPU: ~25 min on 2 cores; add --device cuda on a GPU

Steps: (1) ``cognn.synth.generate_dataset`` writes a training and a validation set of 90-frame clips (NTU-25, 3-D
metres, after the reference ``pre_normalization``) to ``--work``; (2) ``costgcn_mod`` with ``clip_frames=90`` is
trained on them in clip mode (for 90-frame clips the continual model's clip output equals its regular twin's); (3)
the synthetic validation accuracy is measured, the weights are written as a cognn checkpoint
(``weights/gestures_costgcn_mod.safetensors``) and the model's entry in ``weights/manifest.json`` is added or
updated.

Why CoST-GCN* with a 90-frame window: live use wants a prediction on every frame that is exact (the ``*`` models
have temporal stride 1 and no padding) and a short warm-up: with ``clip_frames=90`` the receptive field is 3 s at
30 fps instead of 10 s, and training costs about a third of the 300-frame model.

Training runs on one person per clip (``M = 1``), which halves the cost on a CPU; the shipped model has the usual two
person slots (``M = 2``, what the live pipeline feeds) and is made from it exactly for one-person input: the second
slot's share of ``data_bn`` copies the first, and the head is rewritten so that an empty (all-zero) second slot, whose
features are a constant ``f_z``, cancels out: ``W' = 2 W``, ``b' = b - W f_z``.

The loop here is deliberately small (cognn-train was not available when the model was made): AdamW, cosine
learning-rate decay with a short warm-up, cross-entropy, no augmentation (every clip is freshly generated).
Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.checkpoints.format import save_checkpoint  # noqa: E402
from cognn.data.store import open_dataset  # noqa: E402
from cognn.data.transforms import PREPROCESSING_NAME, PREPROCESSING_VERSION  # noqa: E402
from cognn.errors import CognnError  # noqa: E402
from cognn.models import build, display_name  # noqa: E402
from cognn.synth import CLASSES, GENERATOR_VERSION, generate_dataset  # noqa: E402

PROG = "train_gestures"
MODEL = "costgcn_mod"
ENTRY = "gestures_costgcn_mod"
NOTE = "trained on generated motion, not on a benchmark dataset"


def _log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "weights" / f"{ENTRY}.safetensors")
    p.add_argument("--manifest", type=Path, default=REPO / "weights" / "manifest.json")
    p.add_argument("--work", type=Path, default=REPO / "out" / "gestures",
                   help="where the generated data goes (git-ignored)")
    p.add_argument("--per-class", type=int, default=80, help="training clips per class")
    p.add_argument("--val-per-class", type=int, default=15, help="validation clips per class")
    p.add_argument("--frames", type=int, default=90, help="clip length = the model's clip_frames")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--save-every", type=int, default=20, help="write the checkpoint every N steps too")
    p.add_argument("--train-persons", type=int, choices=(1, 2), default=1,
                   help="person slots while training (1: half the cost, widened to 2 for the shipped model)")
    return p.parse_args(argv)


def _load(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    ds = open_dataset(path)
    with ds:
        data = np.stack([ds.sample(i).data for i in range(len(ds))])
    return torch.from_numpy(data), torch.from_numpy(ds.labels.copy())


def _dataset(path: Path, per_class: int, frames: int, seed: int, split: str, two_person: float) -> Path:
    if path.exists():
        ds = open_dataset(path)
        a = ds.attrs
        if (a.get("seed") == seed and a.get("generator_version") == GENERATOR_VERSION and len(ds) == per_class *
                len(CLASSES) and ds.shape[2] == frames and a.get("two_person") == two_person):
            _log(f"reusing {path}")
            return path
    t = time.time()
    generate_dataset(path, per_class, frames, seed, split=split, two_person=two_person)
    _log(f"generated {path} ({per_class * len(CLASSES)} clips, {time.time() - t:.0f} s)")
    return path


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, device: str
             ) -> tuple[float, np.ndarray]:
    """Top-1 accuracy and the confusion matrix (true x predicted) in clip mode."""
    model.eval()
    k = model.num_classes
    conf = np.zeros((k, k), np.int64)
    for i in range(0, len(x), batch):
        pred = model(x[i:i + batch].to(device)).argmax(1).cpu().numpy()
        np.add.at(conf, (y[i:i + batch].numpy(), pred), 1)
    return float(np.trace(conf) / conf.sum()), conf


@torch.no_grad()
def widen_persons(model: torch.nn.Module, frames: int) -> torch.nn.Module:
    """The two-slot twin of a one-slot model, equal to it whenever the second slot is empty (all zeros)."""
    model = model.cpu().eval()
    wide = build(model.spec.name, num_classes=model.num_classes, num_persons=2, clip_frames=frames).eval()
    state = model.state_dict()
    new = dict(state)
    for key in ("weight", "bias", "running_mean", "running_var"):
        new[f"data_bn.{key}"] = torch.cat([state[f"data_bn.{key}"]] * 2)
    wide.load_state_dict(new)
    zero = torch.zeros(1, model.in_channels, frames, model.layout.num_joints, 1)
    f_zero = model.features(zero).mean(dim=(2, 3))[0]  # (256,) features of an empty slot
    w, b = state["fc.weight"], state["fc.bias"]
    wide.fc.weight.copy_(2 * w)
    wide.fc.bias.copy_(b - w @ f_zero)
    return wide


def _shipped(model: torch.nn.Module, frames: int) -> torch.nn.Module:
    return widen_persons(model, frames) if model.num_persons == 1 else model.cpu()


def _meta(args: argparse.Namespace, metrics: dict, command: str) -> dict:
    return {
        "classes": list(CLASSES), "modality": "joint", "domain": "camera3d", "preprocessing": PREPROCESSING_NAME,
        "preprocessing_version": PREPROCESSING_VERSION, "fps": 30.0,
        "data": f"cognn-synth-gestures v{GENERATOR_VERSION} (seed {args.seed}, {args.per_class} clips/class)",
        "metrics": metrics,
        "description": f"{display_name(MODEL)} gesture model, {NOTE}. Command: {command}",
        "licence": "Apache-2.0",
        "source": {"family": "cognn", "trained_by": "tools/train_gestures.py"},
    }


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
                f"{args.per_class} clips per class), not a benchmark dataset",
        "metrics": metrics, "licence": "Apache-2.0", "default": True,
        "description": (f"{display_name(MODEL)} (clip_frames={args.frames}: a 3 s receptive field at 30 fps) for "
                        f"{len(CLASSES)} everyday gestures; {NOTE}. Synthetic validation top-1 "
                        f"{metrics['synthetic_val_top1']:.0%} after {metrics['steps']} steps. Reproduce with: "
                        f"{command} (seed {args.seed}, {args.epochs} epoch(s)). Real-video results: docs/gestures.md."),
        "url": "",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python tools/train_gestures.py" + ("" if not argv else " " + " ".join(argv))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        train_h5 = _dataset(args.work / "train.h5", args.per_class, args.frames, args.seed, "train",
                            0.0 if args.train_persons == 1 else 0.15)
        val_h5 = _dataset(args.work / "val.h5", args.val_per_class, args.frames, args.seed + 1000, "val", 0.15)
    except CognnError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    x, y = _load(train_h5)
    xv, yv = _load(val_h5)
    if args.train_persons == 1:  # the generated clips of one person keep it in slot 0
        x = x[..., :1].contiguous()
    model = build(MODEL, num_classes=len(CLASSES), clip_frames=args.frames,
                  num_persons=args.train_persons).to(args.device)
    with torch.no_grad():  # a small head: the reference init (std sqrt(2 / classes)) starts at a loss of ~10, which
        model.fc.weight.normal_(0.0, 0.01)  # a run of ~100 steps cannot afford to unlearn
        model.fc.bias.zero_()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * math.ceil(len(x) / args.batch)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    g = torch.Generator().manual_seed(args.seed)
    step, t0, run_loss, run_acc = 0, time.time(), 0.0, 0.0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), args.batch):
            idx = order[i:i + args.batch]
            xb, yb = x[idx].to(args.device), y[idx].to(args.device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            run_loss = 0.9 * run_loss + 0.1 * loss.item() if step > 1 else loss.item()
            run_acc = 0.9 * run_acc + 0.1 * (out.argmax(1) == yb).float().mean().item() if step > 1 else 0.0
            _log(f"epoch {epoch + 1} step {step}/{steps} loss {run_loss:.3f} acc {run_acc:.2f} "
                 f"lr {sched.get_last_lr()[0]:.2e} {time.time() - t0:.0f} s")
            if args.save_every and step % args.save_every == 0:
                save_checkpoint(args.out, _shipped(model, args.frames), _meta(args, {"partial_steps": step}, command))
                model.to(args.device).train()
    model = _shipped(model, args.frames).to(args.device)
    top1, conf = evaluate(model, xv, yv, 32, args.device)
    _log(f"synthetic validation top-1 {top1:.3f} ({len(xv)} clips)")
    for name, row in zip(CLASSES, conf):
        _log(f"  {name:14s} " + " ".join(f"{v:3d}" for v in row))
    metrics = {"synthetic_val_top1": round(top1, 4), "val_clips": int(len(xv)), "train_clips": int(len(x)),
               "epochs": args.epochs, "steps": step, "train_seconds": round(time.time() - t0)}
    save_checkpoint(args.out, model.cpu(), _meta(args, metrics, command))
    _log(f"wrote {args.out}")
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
