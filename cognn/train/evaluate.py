"""Evaluation of a model on a dataset: clip mode (the whole clip at once) and, for continual models, step mode
(the clip fed frame by frame, the last prediction kept), with top-1 / top-5 and confusion matrices."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..errors import CognnError
from ..models import CoSkeletonNet
from .data import ClipDataset, ClipPipeline, FileSource
from .logs import write_confusion_csv, write_text
from .metrics import Tally, per_class
from .progress import Reporter

__all__ = ["run_clip_mode", "run_step_mode", "EvalReport", "evaluate_checkpoint", "write_report"]


@torch.no_grad()
def run_clip_mode(model: nn.Module, loader, device: torch.device, num_classes: int,
                  reporter: Reporter | None = None, desc: str = "clip mode") -> tuple[Tally, list[int]]:
    """Logits of whole clips; returns the tally and the predicted class of every sample in loader order."""
    model.eval()
    tally, preds = Tally(num_classes), []
    batches = reporter.batches(loader, desc) if reporter else loader
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        tally.update(logits, y, float(F.cross_entropy(logits, y, reduction="sum")))
        preds.extend(logits.argmax(1).tolist())
    return tally, preds


@torch.no_grad()
def run_step_mode(model: CoSkeletonNet, loader, device: torch.device, num_classes: int,
                  reporter: Reporter | None = None, desc: str = "step mode") -> tuple[Tally, list[int]]:
    """Each clip fed frame by frame from a clean state; the prediction after the last frame is scored."""
    model.eval()
    tally, preds = Tally(num_classes), []
    batches = reporter.batches(loader, desc) if reporter else loader
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        model.clean_state()
        out = model.forward_steps(x)
        if out is None:
            raise CognnError(f"{model.name} gave no prediction in step mode on {x.shape[2]}-frame clips (too short "
                             "for its receptive field)")
        logits = out[..., -1]
        tally.update(logits, y, float(F.cross_entropy(logits, y, reduction="sum")))
        preds.extend(logits.argmax(1).tolist())
    model.clean_state()
    return tally, preds


@dataclass
class EvalReport:
    """Results of :func:`evaluate_checkpoint`: one tally per mode (``"clip"``, ``"step"``) and the predictions."""

    model: str
    weights: str
    data: str
    classes: list[str]
    sample_names: list[str]
    labels: list[int]
    tallies: dict[str, Tally] = field(default_factory=dict)
    predictions: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-friendly metrics per mode."""
        return {mode: {"top1": t.top1_acc, "top5": t.top5_acc, "loss": t.loss, "samples": t.count}
                for mode, t in self.tallies.items()}


def evaluate_checkpoint(weights: str | Path, data: str | Path, *, batch: int = 16, device: str | None = None,
                        step_mode: bool = False, model_name: str | None = None, workers: int = 0,
                        limit: int | None = None, reporter: Reporter | None = None) -> EvalReport:
    """Load ``weights`` (any checkpoint cognn reads), check it fits dataset ``data``, and evaluate it."""
    from ..checkpoints import model_from_checkpoint, read_checkpoint
    from .distributed import resolve_device

    reporter = reporter or Reporter(quiet=True)
    dev = resolve_device(device)
    src = FileSource(data)
    ckpt = read_checkpoint(weights)
    meta = ckpt.meta
    model = model_from_checkpoint(ckpt, model=model_name, device=dev)
    if model.layout.name != src.layout.name:
        raise CognnError(f"{weights} is a {model.layout.name} model but {data} holds {src.layout.name} skeletons")
    if model.num_classes != len(src.classes):
        raise CognnError(f"{weights} predicts {model.num_classes} classes but {data} has {len(src.classes)}")
    report = EvalReport(model.name, str(weights), str(data), list(src.classes), list(src.names),
                        [int(v) for v in src.labels])
    known = list(meta.get("classes") or [])
    if known and known != list(src.classes):
        report.notes.append(f"the class names of {weights} differ from those of {data}; scoring by index")
    if meta.get("domain") and meta["domain"] != src.domain:
        raise CognnError(f"{weights} expects {meta['domain']} input but {data} holds {src.domain} data")
    if isinstance(model, CoSkeletonNet) and src.num_frames < model.clip_frames:
        raise CognnError(f"{model.name} needs clips of at least {model.clip_frames} frames; {data} has "
                         f"{src.num_frames}")
    if step_mode and not isinstance(model, CoSkeletonNet):
        raise CognnError(f"--step-mode needs a continual model; {model.name} is regular (pass --model "
                         f"co{model.name} to run these weights in its continual twin)")
    modality = str(meta.get("modality") or "joint")
    if modality not in ("joint", "bone"):
        raise CognnError(f"{weights} expects {modality} input, which cognn-eval does not compute")
    ds = ClipDataset(src, ClipPipeline(src.layout, modality=modality))
    indices = list(range(len(ds) if limit is None else min(limit, len(ds))))
    subset = torch.utils.data.Subset(ds, indices)
    report.sample_names = [report.sample_names[i] for i in indices]
    report.labels = [report.labels[i] for i in indices]
    loader = DataLoader(subset, batch_size=batch, shuffle=False, num_workers=workers,
                        pin_memory=dev.type == "cuda")
    report.tallies["clip"], report.predictions["clip"] = run_clip_mode(model, loader, dev, model.num_classes,
                                                                       reporter)
    if step_mode:
        assert isinstance(model, CoSkeletonNet)  # checked above
        model.warm_start = False
        report.tallies["step"], report.predictions["step"] = run_step_mode(model, loader, dev, model.num_classes,
                                                                           reporter)
    return report


def write_report(report: EvalReport, out: str | Path) -> list[Path]:
    """``metrics.json``, ``predictions.csv`` and per mode ``confusion_<mode>.csv`` / ``.png`` in folder ``out``."""
    from .plots import plot_confusion

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    metrics = {"model": report.model, "weights": report.weights, "data": report.data, "modes": report.summary(),
               "per_class": {m: per_class(t.confusion, report.classes) for m, t in report.tallies.items()},
               "notes": report.notes}
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    written.append(out / "metrics.json")
    modes = list(report.predictions)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sample", "label", *(f"pred_{m}" for m in modes)])
    for i, name in enumerate(report.sample_names):
        w.writerow([name, report.classes[report.labels[i]], *(report.classes[report.predictions[m][i]] for m in modes)])
    write_text(out / "predictions.csv", buf.getvalue())
    written.append(out / "predictions.csv")
    for mode, tally in report.tallies.items():
        write_confusion_csv(out / f"confusion_{mode}.csv", tally.confusion, report.classes)
        t1 = 100 * (tally.top1_acc or 0.0)
        plot_confusion(tally.confusion, report.classes, out / f"confusion_{mode}.png",
                       title=f"{report.model} - {mode} mode - top-1 {t1:.1f} %")
        written += [out / f"confusion_{mode}.csv", out / f"confusion_{mode}.png"]
    return written

