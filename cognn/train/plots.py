"""Pictures of a run: learning curves and confusion matrices.

Figures are drawn with matplotlib's object API onto its Agg canvas (no pyplot, so no global backend is chosen and
no GUI toolkit is imported), and written atomically (:class:`cognn.atomic.AtomicOutput`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import AtomicOutput

__all__ = ["plot_curves", "plot_confusion"]


def _save(fig, path: str | Path) -> Path:
    with AtomicOutput(path, what="figure", keep_suffix=True) as out:
        fig.savefig(out.temp, dpi=100, format="png")
    return out.path


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_curves(rows: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Loss (train / val) and accuracy (train top-1, val top-1 / top-5) against the epoch."""
    epochs = [r["epoch"] for r in rows]

    def series(key: str) -> list[float]:
        return [np.nan if r.get(key) is None else r[key] for r in rows]

    fig = _figure(10, 4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, series("train_loss"), "o-", label="train")
    if any(r.get("val_loss") is not None for r in rows):
        ax_loss.plot(epochs, series("val_loss"), "o-", label="validation")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(epochs, [100 * v for v in series("train_top1")], "o-", label="train top-1")
    if any(r.get("val_top1") is not None for r in rows):
        ax_acc.plot(epochs, [100 * v for v in series("val_top1")], "o-", label="val top-1")
        ax_acc.plot(epochs, [100 * v for v in series("val_top5")], "o--", label="val top-5")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(0, 102)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.legend()
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (true class down, predicted class across); names shown up to 40 classes."""
    k = len(classes)
    rows = confusion.sum(1, keepdims=True)
    norm = np.divide(confusion, rows, out=np.zeros(confusion.shape, float), where=rows > 0)
    size = min(4 + 0.25 * k, 30)
    fig = _figure(size, size)
    ax = fig.subplots()
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if k <= 40:
        ax.set_xticks(range(k), [str(c) for c in classes], rotation=90, fontsize=8)
        ax.set_yticks(range(k), [str(c) for c in classes], fontsize=8)
        if k <= 15:
            for i in range(k):
                for j in range(k):
                    if confusion[i, j]:
                        ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center",
                                color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
