"""Classification tallies: summed loss, top-1 / top-5 hits and a confusion matrix, reducible across ranks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import Tensor

from .distributed import DistEnv, all_reduce_sum

__all__ = ["Tally", "topk_hits", "per_class"]


def topk_hits(logits: Tensor, labels: Tensor, k: int) -> int:
    """How many rows of ``logits`` ``(N, K)`` have their label among the ``k`` highest scores."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return int((top == labels[:, None]).any(dim=1).sum())


@dataclass
class Tally:
    """Running sums over the samples seen; :meth:`reduce` adds up the tallies of all ranks."""

    num_classes: int
    loss_sum: float = 0.0
    top1: int = 0
    top5: int = 0
    count: int = 0
    #: (true, predicted) counts; zeros (K, K) by default (``None`` is replaced by them in __post_init__, so the
    #: attribute is always an array)
    confusion: np.ndarray = cast(np.ndarray, None)

    def __post_init__(self) -> None:
        if self.confusion is None:
            self.confusion = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, logits: Tensor, labels: Tensor, loss_sum: float | None = None) -> None:
        """Add a batch: ``logits`` ``(N, K)``, ``labels`` ``(N,)`` and the summed loss of its samples."""
        logits, labels = logits.detach(), labels.detach()
        self.count += int(labels.numel())
        self.top1 += topk_hits(logits, labels, 1)
        self.top5 += topk_hits(logits, labels, 5)
        if loss_sum is not None:
            self.loss_sum += float(loss_sum)
        pred = logits.argmax(1).cpu().numpy()
        np.add.at(self.confusion, (labels.cpu().numpy(), pred), 1)

    def reduce(self, env: DistEnv) -> Tally:
        """The tally summed over all ranks (this one in a world of one)."""
        if not env.distributed:
            return self
        head = all_reduce_sum(torch.tensor([self.loss_sum, self.top1, self.top5, self.count], dtype=torch.float64),
                              env)
        conf = all_reduce_sum(torch.from_numpy(self.confusion), env)
        return Tally(self.num_classes, float(head[0]), int(head[1]), int(head[2]), int(head[3]), conf.numpy())

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.count if self.count else None

    @property
    def top1_acc(self) -> float | None:
        return self.top1 / self.count if self.count else None

    @property
    def top5_acc(self) -> float | None:
        return self.top5 / self.count if self.count else None


def per_class(confusion: np.ndarray, classes: list[str]) -> list[dict]:
    """One row per class: name, samples, correct, accuracy (None without samples)."""
    rows = []
    for i, name in enumerate(classes):
        n = int(confusion[i].sum())
        ok = int(confusion[i, i])
        rows.append({"class": name, "samples": n, "correct": ok, "accuracy": ok / n if n else None})
    return rows
