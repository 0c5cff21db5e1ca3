"""The fitness task for CoAGCN and CoS-TR: students distilled from the bundled ST-GCN ``fitness`` model over the same
clips (docs/fitness.md compares them).

    python tools/distill_fitness.py --model agcn_mod --out weights/fitness_coagcn_mod.safetensors
    python tools/distill_fitness.py --model str_mod --out weights/fitness_costr_mod.safetensors

No real-trained AGCN or S-TR backbone exists for OpenPose-18 skeletons, so a student learns from scratch: the ``*``
variant (stride 1, no padding: its continual twin is exact on every frame) at half width with a 90-frame clip, on
windows of the real clips and their augmented copies (``tools/train_fitness.py``'s recipe) ending at each answer of
the teacher, against the teacher's probabilities there (KL divergence at temperature 2) and the window's label where it
has one. The student is written for its continual twin with the fitness model's classes and live defaults.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from fitness_data import CACHE, CLASSES, frame_labels, read_clips  # noqa: E402
from train_fitness import CONVENTION, LIVE  # noqa: E402

from cognn.checkpoints import load_model, save_checkpoint  # noqa: E402
from cognn.models import build, display_name, twin  # noqa: E402
from cognn.teach.features import answer_frames, positions, step_features  # noqa: E402
from cognn.teach.learn import LabelledClip, clip_copy  # noqa: E402

PROG = "distill_fitness"
TEACHER = REPO / "weights" / "fitness_costgcn_original.safetensors"
CLIP = 90


def _log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def windows(teacher, clips: list[LabelledClip], copies: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """(inputs (S, 3, CLIP, 18, 2), teacher probabilities (S, K), labels (S,)) of every answer of every copy."""
    xs, ps, ys = [], [], []
    w = teacher.fc.weight.detach().numpy()
    b = teacher.fc.bias.detach().numpy()
    from cognn.data.conventions import prepare_clip

    for clip in clips:
        for copy in range(copies + 1):
            x, src = clip_copy(clip, copy, seed, "kinetics18")
            prep = prepare_clip(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), CONVENTION, "kinetics18")
            feats = step_features(positions(teacher, prep), teacher.pool_size)
            frames = answer_frames(teacher, len(feats))
            keep = (frames < prep.shape[1]) & (frames >= CLIP - 1)
            z = feats[keep] @ w.T + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            for t, pr in zip(frames[keep], p):
                xs.append(prep[:, t - CLIP + 1:t + 1])
                ps.append(pr)
                ys.append(clip.frame_labels[src[t]])
    return np.stack(xs).astype(np.float32), np.stack(ps).astype(np.float32), np.asarray(ys, np.int64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="agcn_mod", help="the regular * model to train (agcn_mod, str_mod)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--per-epoch", type=int, default=4000, help="windows drawn per epoch")
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--seconds", type=float, default=900, help="stop training after this long")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    pairs = read_clips(cache=CACHE, log=_log)
    clips = [LabelledClip(f"{i.action}/{i.path.name}", s, frame_labels(i, s), i.person) for i, s in pairs]
    teacher = load_model(TEACHER).eval()
    x, pt, y = windows(teacher, clips, args.copies)
    _log(f"{len(x)} windows from {len(clips)} clips in {time.perf_counter() - t0:.0f} s")
    net = build(args.model, num_classes=len(CLASSES), layout="kinetics18", base_channels=args.base_channels)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    steps = args.epochs * args.per_epoch // 32
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=max(1, steps))
    net.train()
    done = 0
    for epoch in range(args.epochs):
        idx = rng.choice(len(x), min(args.per_epoch, len(x)), replace=False)
        total = 0.0
        for k in range(0, len(idx), 32):
            bi = idx[k:k + 32]
            xb, pb, yb = torch.from_numpy(x[bi]), torch.from_numpy(pt[bi]), torch.from_numpy(y[bi])
            logits = net(xb)
            loss = F.kl_div(F.log_softmax(logits / 2, 1), pb ** 0.5 / (pb ** 0.5).sum(1, keepdim=True),
                            reduction="batchmean") * 4
            lab = yb >= 0
            if lab.any():
                loss = loss + 0.5 * F.cross_entropy(logits[lab], yb[lab])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if done < steps:
                sched.step()
            done += 1
            total += float(loss.detach()) * len(bi)
            if time.perf_counter() - t0 > args.seconds:
                break
        net.eval()
        with torch.no_grad():
            sel = rng.choice(len(x), min(2000, len(x)), replace=False)
            agree = (net(torch.from_numpy(x[sel])).argmax(1).numpy() == pt[sel].argmax(1)).mean()
        net.train()
        _log(f"epoch {epoch + 1}: loss {total / len(idx):.3f}, top-1 agreement with the teacher {agree:.1%} "
             f"({time.perf_counter() - t0:.0f} s)")
        if time.perf_counter() - t0 > args.seconds:
            break
    net.eval()
    co = build(twin(args.model), num_classes=len(CLASSES), layout="kinetics18", base_channels=args.base_channels,
               clip_frames=CLIP)
    co.load_state_dict(net.state_dict())
    meta = {"classes": CLASSES, "modality": "joint", "domain": "image2d", "preprocessing": CONVENTION,
            "preprocessing_version": 1, "fps": 30.0, "live": LIVE,
            "metrics": {"teacher_top1_agreement": round(float(agree), 4)},
            "data": "distilled from the fitness model (tools/distill_fitness.py) over its training clips",
            "description": f"{display_name(twin(args.model))} student of the fitness model, from scratch (half width, "
                           f"{CLIP}-frame clip)", "licence": "Apache-2.0",
            "source": {"built_by": "tools/distill_fitness.py", "teacher": TEACHER.name}}
    save_checkpoint(args.out, co, meta)
    _log(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
