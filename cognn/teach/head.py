"""A new linear head for a continual model: multinomial logistic regression on step features, learnt in seconds.

The features are standardised for the fit and the scaling folded back into the weights, so the result is one
``nn.Linear`` the continual model uses as it is. Classes are balanced (each class weighs the same in the loss,
whatever its number of windows), and an L2 penalty keeps a head learnt from a few clips from trusting any one feature.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Head", "fit_head", "class_key", "prior_from"]


@dataclass
class Head:
    """``weight`` ``(K, C')`` and ``bias`` ``(K,)`` of the head: logits = features @ weight.T + bias."""

    weight: np.ndarray
    bias: np.ndarray

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float32) @ self.weight.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = self.logits(features)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_head(features: np.ndarray, labels: np.ndarray, num_classes: int, *, l2: float = 1e-3,
             sample_weight: np.ndarray | None = None, label_smoothing: float = 0.05, max_iter: int = 200,
             temperature: float = 1.0, prior: Head | None = None, prior_rows: np.ndarray | None = None) -> Head:
    """Learn the head from ``features`` ``(S, C')`` and ``labels`` ``(S,)`` in ``0..num_classes-1`` (L-BFGS,
    float64). Every class present weighs the same; a class with no sample gets a bias that keeps it silent.
    ``temperature > 1`` softens the probabilities of the result (logits divided by it).

    ``prior``: a head the weights are pulled towards instead of towards zero (the L2 penalty is on the difference),
    for the rows ``prior_rows`` (bool ``(K,)``) only: e.g. the rows of a real-trained classifier for the classes it
    already knows, so a class seen in few clips starts from what millions of clips taught. A class with no sample but
    a prior row keeps its prior's voice."""
    x = torch.as_tensor(np.asarray(features, np.float64))
    y = torch.as_tensor(np.asarray(labels, np.int64))
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"features (S, C) and labels (S,) must match and be non-empty, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    mean = x.mean(0)
    std = x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    counts = torch.bincount(y, minlength=num_classes).double()
    per_class = torch.where(counts > 0, 1.0 / counts.clamp_min(1), torch.zeros_like(counts))
    w = per_class[y]
    if sample_weight is not None:
        w = w * torch.as_tensor(np.asarray(sample_weight, np.float64))
    w = w / w.sum()
    w0 = torch.zeros(num_classes, x.shape[1], dtype=torch.float64)
    b0 = torch.zeros(num_classes, dtype=torch.float64)
    present = counts > 0
    if prior is not None:
        rows = torch.as_tensor(np.ones(num_classes, bool) if prior_rows is None else np.asarray(prior_rows, bool))
        pw = torch.as_tensor(np.asarray(prior.weight, np.float64))
        pb = torch.as_tensor(np.asarray(prior.bias, np.float64))
        w0[rows] = (pw * std)[rows]  # the prior in the standardised space of the fit
        b0[rows] = (pb + pw @ mean)[rows]
        present = present | rows
    weight = w0.clone().requires_grad_(True)
    bias = b0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = z @ weight.T + bias
        logits = logits.masked_fill(~present, -1e4)
        loss = (F.cross_entropy(logits, y, reduction="none", label_smoothing=0.0) * w).sum()
        if label_smoothing > 0:  # towards a uniform spread over the classes present
            logp = F.log_softmax(logits, dim=1)[:, present]
            loss = (1 - label_smoothing) * loss - label_smoothing * (logp.mean(1) * w).sum()
        loss = loss + l2 * ((weight - w0) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        wt = weight / std / temperature
        b = (bias - (weight * (mean / std)).sum(1)) / temperature
        b = torch.where(present, b, torch.full_like(b, -30.0))
    return Head(wt.float().numpy(), b.float().numpy())


def class_key(name: str) -> str:
    """A class name as spelt loosely: lower case, words without a plural ``s``, no separators (``"Push-ups"``,
    ``"push up"`` and ``"push_up"`` are one key; ``"situp"`` and ``"sit_up"`` too)."""
    words = [w for w in re.split(r"[^0-9a-z]+", name.lower()) if w]
    return "".join(w[:-1] if len(w) > 2 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def prior_from(weight: np.ndarray, bias: np.ndarray, names: Sequence[str], classes: Sequence[str]
               ) -> tuple[Head, np.ndarray] | None:
    """A prior for a new head over ``classes`` from a base classifier (``weight`` ``(K0, C')``, ``bias``, its
    class ``names``): the base's row for every class it knows by name (:func:`class_key`), e.g. a taught ``squat``
    starts from the base model's ``squat``. None when no class matches."""
    keys = {class_key(n): k for k, n in enumerate(names)}
    w = np.zeros((len(classes), weight.shape[1]), np.float32)
    b = np.zeros(len(classes), np.float32)
    rows = np.zeros(len(classes), bool)
    for i, c in enumerate(classes):
        k = keys.get(class_key(c))
        if k is not None:
            w[i], b[i], rows[i] = weight[k], bias[k], True
    return (Head(w, b), rows) if rows.any() else None
