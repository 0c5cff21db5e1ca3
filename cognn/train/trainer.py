"""The training loop of ``cognn-train``: clip-mode training with the reference recipe, validation each epoch, best and
last checkpoints, logs, exact resumption and DDP.

Recipe: SGD (momentum 0.9, Nesterov, weight decay 1e-4), multi-step LR (×0.1 at 60 % and 80 % of the epochs),
cross-entropy. A continual model is trained as its regular twin (same parameter names) and saved under the continual
name. Under ``torchrun`` the global batch is split over the ranks, BatchNorm statistics cover the global batch and
metrics are summed over the ranks, so a run on N processes follows the single-process run up to rounding.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..errors import CognnError
from ..models import SkeletonNet, build, display_name, family_of, spec, twin
from ..models.base import BASE_CHANNELS
from .config import TrainConfig, min_frames
from .data import ArraySource, ClipDataset, ClipPipeline, EpochSampler, FileSource, ShardSampler
from .distributed import DistEnv, barrier, setup, teardown
from .evaluate import run_clip_mode
from .finetune import freeze_backbone, load_initial_weights, param_count, set_frozen_eval
from .logs import write_logs
from .metrics import Tally, per_class
from .progress import Reporter
from .state import capture_rng, load_scheduler_state, load_state, restore_rng, save_state, scheduler_state

if TYPE_CHECKING:
    from ..checkpoints.schema import Checkpoint

__all__ = ["train", "TrainResult", "seed_everything", "STATE_FILE", "BEST_FILE", "LAST_FILE"]

STATE_FILE = "last_state.pt"
BEST_FILE = "best.safetensors"
LAST_FILE = "last.safetensors"
#: settings that must not change when a run is resumed
_FIXED_ON_RESUME = ("model", "classes", "modality", "frames", "layout", "arch")
#: settings that may change on resume, at the price of exactness
_EXACT_ON_RESUME = ("batch", "seed", "lr", "augment", "world", "data")


@dataclass
class TrainResult:
    """What a run produced."""

    out: Path
    best: Path | None
    last: Path | None
    history: list[dict]
    best_epoch: int | None
    classes: list[str]
    per_class: list[dict] | None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) and ask cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def train(cfg: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Run (or resume) the training described by ``cfg``; raises CognnError for problems the user can fix."""
    cfg.check()
    env = setup(cfg.device)
    reporter = reporter or Reporter(quiet=cfg.quiet, main=env.main)
    try:
        return _Run(cfg, env, reporter).fit()
    finally:
        reporter.close()
        teardown(env)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f} %" if pct else f"{v:.4f}"


class _Run:
    def __init__(self, cfg: TrainConfig, env: DistEnv, rep: Reporter) -> None:
        self.cfg, self.env, self.rep = cfg, env, rep
        self.out = Path(cfg.out) if cfg.out is not None else Path("out") / cfg.model
        self._settings: dict = {}
        self._init: Checkpoint | None = None  # the --init checkpoint, read once
        self._arch: dict = {}  # width and family options for build()

    # -- set-up -------------------------------------------------------------------------------------------------------
    def _check_out(self) -> None:
        state = self.out / STATE_FILE
        if self.out.exists() and not self.out.is_dir():
            raise CognnError(f"--out {self.out} exists and is not a folder")
        if self.cfg.resume and not state.is_file():
            raise CognnError(f"nothing to resume in {self.out} (no {STATE_FILE}); run without --resume to start")
        if not self.cfg.resume and state.is_file():
            raise CognnError(f"{self.out} already holds a training run; add --resume to continue it or choose "
                             "another --out")

    def _make_out(self) -> None:
        if self.env.main:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CognnError(f"cannot create the output folder {self.out} ({e.strerror or e})") from None
        barrier(self.env)

    def _sources(self) -> tuple[FileSource | ArraySource, FileSource | ArraySource | None]:
        cfg = self.cfg
        if cfg.clips is not None:
            from .clips import prepare_clips

            kwargs: dict[str, Any] = dict(val_fraction=cfg.val_fraction, seed=cfg.seed, pose_model=cfg.pose_model)
            if self.env.main:
                sets = prepare_clips(cfg.clips, log=self.rep.say, warn=self.rep.warn, **kwargs)
            barrier(self.env)  # rank 0 has filled the pose cache
            if not self.env.main:
                sets = prepare_clips(cfg.clips, **kwargs)
            counts = ", ".join(f"{c} {n}" for c, n in zip(sets.classes, sets.counts))
            self.rep.say(f"{len(sets.classes)} actions from {cfg.clips}: {counts} clips; "
                         f"{len(sets.train)} for training, {0 if sets.val is None else len(sets.val)} for validation")
            if sets.val is None:
                self.rep.warn("warning: no class has 2 clips, so there is no validation set")
            return sets.train, sets.val
        assert cfg.data is not None  # TrainConfig.check: either --data or --clips
        train = FileSource(cfg.data)
        val = FileSource(cfg.val) if cfg.val is not None else None
        if val is not None:
            if val.layout.name != train.layout.name:
                raise CognnError(f"--val {cfg.val} uses layout {val.layout.name}, --data uses {train.layout.name}")
            if val.classes != train.classes:
                raise CognnError(f"--val {cfg.val} and --data {cfg.data} list different classes")
            if val.num_persons != train.num_persons:
                raise CognnError(f"--val {cfg.val} has {val.num_persons} persons per frame, --data "
                                 f"{train.num_persons}")
        return train, val

    def _read_init(self) -> None:
        """Read the --init checkpoint once; the architecture (width, family options, clip length) comes from it
        unless the options say otherwise."""
        cfg = self.cfg
        if cfg.init is None:
            self._arch = {} if cfg.base_channels in (None, BASE_CHANNELS) else {"base_channels": cfg.base_channels}
            return
        from ..checkpoints import read_checkpoint

        self._init = read_checkpoint(cfg.init)
        stored = dict(self._init.meta.get("model_kwargs") or {})
        base = cfg.base_channels if cfg.base_channels is not None else stored.get("base_channels", BASE_CHANNELS)
        arch = {} if base == BASE_CHANNELS else {"base_channels": base}
        if family_of(self._init.meta["model"]) is family_of(cfg.model):
            arch.update({k: v for k, v in stored.items() if k in family_of(cfg.model).options})
        self._arch = arch

    def _init_frames(self) -> int | None:
        """The clip length of a continual --init checkpoint, for a continual model trained without --clip-frames."""
        if self._init is None or self.cfg.clip_frames is not None or not spec(self.cfg.model).continual:
            return None
        frames = (self._init.meta.get("model_kwargs") or {}).get("clip_frames")
        return int(frames) if frames else None

    def _build(self, src) -> tuple[SkeletonNet, list[nn.Parameter]]:
        cfg = self.cfg
        s = spec(cfg.model)
        seed_everything(cfg.seed)
        model = build(twin(cfg.model) if s.continual else cfg.model, num_classes=len(src.classes),
                      layout=src.layout, num_persons=src.num_persons, **self._arch)
        if cfg.init is not None:
            meta = load_initial_weights(model, cfg.init, list(src.classes), self.rep.warn, cfg.modality,
                                        checkpoint=self._init)
            self.rep.say(f"initial weights: {cfg.init} ({meta.get('model', '?')}, {meta.get('data') or 'data n/a'})")
        if cfg.freeze == "backbone":
            params = freeze_backbone(model)
            self.rep.say(f"backbone frozen: training the head only ({param_count(params)} parameters)")
        else:
            params = [p for p in model.parameters() if p.requires_grad]
        return model, params

    def _wrap(self, model: SkeletonNet) -> nn.Module:
        env = self.env
        model.to(env.device)
        if not env.distributed:
            return model
        from .syncbn import convert_batchnorm

        s = model.spec
        synced = convert_batchnorm(model, env.device)
        return nn.parallel.DistributedDataParallel(
            synced, device_ids=[env.device] if env.device.type == "cuda" else None,
            find_unused_parameters=s.mod and family_of(s.name).unused_in_mod)

    def _loaders(self, train_src, val_src, pipeline: ClipPipeline, val_pipeline: ClipPipeline):
        cfg, env = self.cfg, self.env
        if cfg.batch % env.world:
            raise CognnError(f"--batch {cfg.batch} (the global batch) must be divisible by the {env.world} processes")
        per_rank = cfg.batch // env.world
        common: dict[str, Any] = dict(num_workers=cfg.workers, pin_memory=env.device.type == "cuda",
                      persistent_workers=cfg.workers > 0)
        train_ds = ClipDataset(train_src, pipeline)
        sampler = EpochSampler(train_ds, num_replicas=env.world, rank=env.rank, seed=cfg.seed, shuffle=True)
        train_loader = DataLoader(train_ds, batch_size=per_rank, sampler=sampler, drop_last=False, **common)
        val_loader = None
        if val_src is not None:
            val_ds = ClipDataset(val_src, val_pipeline)
            val_loader = DataLoader(val_ds, batch_size=per_rank,
                                    sampler=ShardSampler(len(val_ds), env.world, env.rank), **common)
        return sampler, train_loader, val_loader

    # -- checkpoints --------------------------------------------------------------------------------------------------
    def _meta(self, src, frames: int, epoch: int, metrics: dict) -> dict:
        cfg = self.cfg
        s = spec(cfg.model)
        prep = src.preprocessing or "none"
        prep_version = 1
        if isinstance(src, FileSource):
            prep_version = int(src.file.attrs.get("preprocessing_version", 1) or 1)
        return {
            "model": cfg.model, "layout": src.layout.name, "num_classes": len(src.classes),
            "classes": list(src.classes), "in_channels": 3, "num_persons": src.num_persons,
            "modality": cfg.modality, "domain": src.domain, "preprocessing": prep,
            "preprocessing_version": prep_version, "fps": 30.0, "data": src.description,
            "metrics": {k: v for k, v in metrics.items() if v is not None}, "epoch": epoch,
            "description": f"{display_name(cfg.model)} trained with cognn-train for {epoch} epoch(s) on "
                           f"{src.description}",
            "model_kwargs": {**({"clip_frames": frames} if s.continual else {}), **self._arch},
        }

    def _export(self, core: nn.Module, src, frames: int) -> SkeletonNet:
        cfg = self.cfg
        kwargs = {"clip_frames": frames} if spec(cfg.model).continual else {}
        model = build(cfg.model, num_classes=len(src.classes), layout=src.layout, num_persons=src.num_persons,
                      **kwargs, **self._arch)
        model.load_state_dict({k: v.detach().cpu() for k, v in core.state_dict().items()})
        return model.eval()

    def _save_weights(self, path: Path, core: nn.Module, src, frames: int, epoch: int, metrics: dict) -> None:
        from ..checkpoints import save_checkpoint

        save_checkpoint(path, self._export(core, src, frames), self._meta(src, frames, epoch, metrics))

    # -- the loop -----------------------------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        cfg, env, rep = self.cfg, self.env, self.rep
        seed_everything(cfg.seed)
        self._check_out()
        train_src, val_src = self._sources()
        self._make_out()
        classes = list(train_src.classes)
        layout = train_src.layout
        self._read_init()
        init_frames = self._init_frames()
        frames = cfg.clip_frames or init_frames or train_src.num_frames
        if self._init is not None and (self._arch or init_frames):
            taken = [f"{k} {v}" for k, v in self._arch.items()] + ([f"clip_frames {init_frames}"] if init_frames
                                                                     else [])
            rep.say(f"architecture from {cfg.init}: {', '.join(taken)}")
        if frames < min_frames(cfg.model):
            raise CognnError(f"{cfg.model} needs clips of at least {min_frames(cfg.model)} frames, the data has "
                             f"{frames}")
        if cfg.augment is not None:
            augment = cfg.augment
        elif cfg.clips is not None:
            augment = ("shift", "move")
        else:
            augment = ("choose", "move") if layout.name == "kinetics18" else ()
        pipeline = ClipPipeline(layout, cfg.modality, augment, frames, cfg.seed)
        val_pipeline = ClipPipeline(layout, cfg.modality, (), frames, cfg.seed)

        core, params = self._build(train_src)
        model = self._wrap(core)
        core = cast(SkeletonNet, _unwrap(model))
        lr = cfg.learning_rate()
        opt = torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
        milestones = cfg.lr_milestones()
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=cfg.gamma)
        settings = {"model": cfg.model, "classes": classes, "modality": cfg.modality, "frames": frames,
                    "layout": layout.name, "batch": cfg.batch, "seed": cfg.seed, "lr": lr, "augment": list(augment),
                    "world": env.world, "data": str(cfg.data or cfg.clips), "milestones": milestones,
                    "epochs": cfg.epochs, "arch": dict(self._arch)}
        self._settings = settings
        history: list[dict] = []
        best: dict = {"epoch": None, "score": None, "confusion": None}
        start = 0
        if cfg.resume:
            state = load_state(self.out / STATE_FILE)
            self._check_resume(state["config"])
            core.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            load_scheduler_state(sched, state["scheduler"])
            start, history = int(state["epoch"]), list(state["history"])
            best = dict(state["best"])
            restore_rng(state["rng"])
            milestones = sorted(sched.milestones)
            rep.say(f"resuming {self.out} after epoch {start}")
        sampler, train_loader, val_loader = self._loaders(train_src, val_src, pipeline, val_pipeline)
        schedule = (f"LR x{cfg.gamma:g} after epochs {', '.join(map(str, milestones))}" if milestones
                    else "constant LR")
        rep.say(f"training {display_name(cfg.model)} on {len(train_src)} clips of {frames} frames, "
                f"{len(classes)} classes, batch {cfg.batch}"
                f"{f' over {env.world} processes' if env.distributed else ''}, lr {lr:g}, "
                f"{cfg.epochs} epoch{'s' if cfg.epochs > 1 else ''} ({schedule}), "
                f"augment {','.join(augment) or 'none'}, on {env.device}")
        info = {"model": cfg.model, "display_name": display_name(cfg.model), "classes": classes,
                "settings": settings, "config": cfg.as_dict(), "device": str(env.device), "world_size": env.world}
        if start >= cfg.epochs:
            rep.say(f"{self.out} is already trained for {start} epochs (--epochs {cfg.epochs}); nothing to do")
        rep.start_epochs(cfg.epochs, start)
        ran = 0
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            sampler.set_epoch(epoch)
            lr_now = opt.param_groups[0]["lr"]
            tr = self._train_epoch(model, core, train_loader, opt, len(classes), f"epoch {epoch + 1}/{cfg.epochs}")
            t_train = time.perf_counter() - t0
            sched.step()
            va = None
            if val_loader is not None:
                va, _ = run_clip_mode(core, val_loader, env.device, len(classes), rep, "validation")
                va = va.reduce(env)
            elapsed = time.perf_counter() - t0
            row = {"epoch": epoch + 1, "lr": lr_now, "train_loss": tr.loss, "train_top1": tr.top1_acc,
                   "train_top5": tr.top5_acc, "val_loss": va.loss if va else None,
                   "val_top1": va.top1_acc if va else None, "val_top5": va.top5_acc if va else None,
                   "time_s": round(elapsed, 3), "samples_per_s": round(tr.count / t_train, 3) if t_train else None}
            history.append(row)
            score = row["val_top1"] if va is not None else row["train_top1"]
            improved = best["score"] is None or score > best["score"]
            if improved:
                best = {"epoch": epoch + 1, "score": score,
                        "confusion": va.confusion.tolist() if va is not None else None}
            metrics = {"epoch": epoch + 1, "train_loss": tr.loss, "train_top1": tr.top1_acc,
                       "val_loss": row["val_loss"], "val_top1": row["val_top1"], "val_top5": row["val_top5"]}
            if env.main:
                self._write_epoch(core, train_src, frames, epoch + 1, metrics, improved, history, info, opt, sched,
                                  settings, best)
            rep.say(f"epoch {epoch + 1}/{cfg.epochs}  loss {_fmt(tr.loss)}  top-1 {_fmt(tr.top1_acc, True)}"
                    + (f"  | val loss {_fmt(va.loss)}  top-1 {_fmt(va.top1_acc, True)}  top-5 "
                       f"{_fmt(va.top5_acc, True)}" if va else "")
                    + f"  | lr {lr_now:g}  {elapsed:.1f} s  {row['samples_per_s'] or 0:.1f} samples/s"
                    + ("  *" if improved else ""))
            rep.epoch_done()
            barrier(env)
            ran += 1
            if cfg.stop_after is not None and ran >= cfg.stop_after and epoch + 1 < cfg.epochs:
                rep.say(f"stopping after {ran} epoch(s) as asked; continue with --resume")
                break
        rep.close()
        rows = None
        if best.get("confusion") is not None:
            rows = per_class(np.asarray(best["confusion"]), classes)
            self._print_per_class(rows, best["epoch"])
        best_path = self.out / BEST_FILE
        last_path = self.out / LAST_FILE
        return TrainResult(self.out, best_path if best_path.exists() else None,
                           last_path if last_path.exists() else None, history, best["epoch"], classes, rows)

    def _train_epoch(self, model: nn.Module, core: nn.Module, loader, opt, num_classes: int, desc: str) -> Tally:
        dev = self.env.device
        model.train()
        if self.cfg.freeze == "backbone":
            set_frozen_eval(core)
        tally = Tally(num_classes)
        for x, y in self.rep.batches(loader, desc):
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                raise CognnError(f"the training loss became {float(loss)} ({desc}); lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tally.update(logits, y, float(loss.detach()) * len(y))
        return tally.reduce(self.env)

    def _write_epoch(self, core, src, frames, epoch, metrics, improved, history, info, opt, sched, settings,
                     best) -> None:
        from .plots import plot_curves

        try:
            self._save_weights(self.out / LAST_FILE, core, src, frames, epoch, metrics)
            if improved:
                self._save_weights(self.out / BEST_FILE, core, src, frames, epoch, metrics)
            write_logs(self.out, history, info)
            plot_curves(history, self.out / "curves.png", title=f"{display_name(self.cfg.model)} - {src.description}")
            save_state(self.out / STATE_FILE, {
                "epoch": epoch, "model": {k: v.detach().cpu() for k, v in core.state_dict().items()},
                "optimizer": opt.state_dict(), "scheduler": scheduler_state(sched), "rng": capture_rng(),
                "history": history, "best": best, "config": settings})
        except OSError as e:
            raise CognnError(f"cannot write to {self.out} ({e.strerror or e})") from None

    def _check_resume(self, saved: dict) -> None:
        current = self._settings
        for key in _FIXED_ON_RESUME:
            if key in current and key in saved and current[key] != saved[key]:
                raise CognnError(f"cannot resume {self.out}: its {key} was {saved[key]!r}, now {current[key]!r}")
        changed = [k for k in _EXACT_ON_RESUME if k in current and k in saved and current[k] != saved[k]]
        if changed:
            self.rep.warn(f"warning: {', '.join(changed)} changed since the interrupted run; the result will differ "
                          "from an uninterrupted run")

    def _print_per_class(self, rows: list[dict], epoch: int) -> None:
        self.rep.say(f"validation per class (best epoch {epoch}):")
        width = max(len(r["class"]) for r in rows)
        for r in rows:
            acc = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f} %"
            self.rep.say(f"  {r['class']:<{width}}  {r['correct']}/{r['samples']}  {acc}")
