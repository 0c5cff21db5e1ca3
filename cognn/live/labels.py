"""Steady labels: probability smoothing, hysteresis and an explicit "uncertain" outcome.

A raw top-1 label flickers between close classes from frame to frame. :class:`SteadyLabeler` turns the stream of
softmax vectors into a label a person can read:

1. **smoothing** — an exponential moving average of the probabilities (``alpha`` = weight of the newest; 1 = off) or
   the mean of the last ``window`` predictions;
2. **uncertain** — when the top smoothed probability is below ``threshold`` the outcome is :data:`UNCERTAIN`;
3. **hysteresis** — the shown label changes only when a challenger beats it by ``margin`` for ``hold`` predictions in
   a row. "Uncertain" takes part with the score ``threshold``: a class replaces it once its probability reaches
   ``threshold + margin``, and it replaces a class whose probability has fallen to ``threshold - margin``.

``LabelConfig(alpha=1, margin=0, hold=1, threshold=0)`` gives the raw top-1 label.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["UNCERTAIN", "LabelConfig", "SteadyLabel", "SteadyLabeler", "DEFAULT_LABELS", "RAW_LABELS",
           "count_switches"]

#: the label shown when no class is probable enough (never an event)
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class LabelConfig:
    """Parameters of :class:`SteadyLabeler` (defaults chosen by measurement, see docs/live.md)."""

    #: EMA weight of the newest probabilities (1 = no smoothing)
    alpha: float = 0.1
    #: if > 0: mean of the last ``window`` predictions instead of the EMA
    window: int = 0
    #: how much a challenger must beat the shown label's probability by
    margin: float = 0.2
    #: predictions in a row the challenger must win for
    hold: int = 1
    #: below this top probability the outcome is "uncertain"
    threshold: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.window < 0 or self.hold < 1:
            raise ValueError(f"window must be >= 0 and hold >= 1, got window={self.window}, hold={self.hold}")
        if self.margin < 0 or not 0 <= self.threshold <= 1:
            raise ValueError(f"margin must be >= 0 and threshold in [0, 1], got margin={self.margin}, "
                             f"threshold={self.threshold}")


DEFAULT_LABELS = LabelConfig()
#: no smoothing, no hysteresis, never uncertain: the raw top-1 label
RAW_LABELS = LabelConfig(alpha=1.0, window=0, margin=0.0, hold=1, threshold=0.0)


@dataclass
class SteadyLabel:
    """The labeler's outcome for one prediction."""

    #: a class name or :data:`UNCERTAIN`
    label: str
    #: class index, -1 for uncertain
    index: int
    #: smoothed probability of ``label`` (for uncertain: the top smoothed probability)
    score: float
    #: True when the label differs from the previous one
    changed: bool
    #: smoothed probabilities (num_classes,), or None before the first prediction
    probs: np.ndarray | None

    @property
    def uncertain(self) -> bool:
        return self.index < 0


class SteadyLabeler:
    """Probability smoothing + hysteresis + uncertain, one prediction at a time (see the module docstring)."""

    def __init__(self, classes: Sequence[str], config: LabelConfig = DEFAULT_LABELS) -> None:
        self.classes = [str(c) for c in classes]
        if not self.classes:
            raise ValueError("a labeler needs at least one class")
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget every prediction (new source, seek, new person)."""
        self._avg: np.ndarray | None = None
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, self.config.window))
        self._current = -1
        self._challenger: int | None = None
        self._wins = 0
        self._last = SteadyLabel(UNCERTAIN, -1, 0.0, False, None)

    @property
    def current(self) -> SteadyLabel:
        """The latest outcome."""
        return self._last

    def _smooth(self, probs: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.window > 0:
            self._recent.append(probs)
            return np.mean(self._recent, axis=0)
        if self._avg is None:
            return probs.copy()
        return self._avg + cfg.alpha * (probs - self._avg)

    def _score(self, p: np.ndarray, index: int) -> float:
        return self.config.threshold if index < 0 else float(p[index])

    def update(self, probs: np.ndarray | None) -> SteadyLabel:
        """Feed one softmax vector ``(num_classes,)`` (None: no prediction yet, the outcome stays)."""
        if probs is None:
            self._last = SteadyLabel(self._last.label, self._last.index, self._last.score, False, self._last.probs)
            return self._last
        p = np.asarray(probs, np.float64).reshape(-1)
        if p.shape[0] != len(self.classes):
            raise ValueError(f"expected {len(self.classes)} probabilities, got {p.shape[0]}")
        cfg = self.config
        self._avg = p = self._smooth(p)
        top = int(np.argmax(p))
        candidate = top if p[top] >= cfg.threshold else -1
        before = self._current
        if candidate == self._current:
            self._challenger, self._wins = None, 0
        elif self._score(p, candidate) >= self._score(p, self._current) + cfg.margin:
            self._wins = self._wins + 1 if candidate == self._challenger else 1
            self._challenger = candidate
            if self._wins >= cfg.hold:
                self._current, self._challenger, self._wins = candidate, None, 0
        else:
            self._challenger, self._wins = None, 0
        idx = self._current
        label = UNCERTAIN if idx < 0 else self.classes[idx]
        score = float(p[top]) if idx < 0 else float(p[idx])
        self._last = SteadyLabel(label, idx, score, idx != before, p.astype(np.float32))
        return self._last


def count_switches(labels: Sequence[str]) -> int:
    """Number of changes in a label sequence."""
    return sum(a != b for a, b in zip(labels[:-1], labels[1:]))
