"""Landmark smoothing: a One-Euro filter per joint coordinate, applied to pose landmarks before the mapping.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order low-pass filter whose cut-off frequency
rises with the speed of the signal: ``cutoff = min_cutoff + beta * |dx/dt|``. Slow joints are smoothed hard (less
jitter), fast ones lightly (less lag). Timestamps come from the source, so the filter adapts to the real frame rate.

* :class:`OneEuroFilter` filters an array of any shape, each element on its own (e.g. ``(33, 3)`` landmarks or
  ``(V, C)`` joints);
* :class:`LandmarkSmoother` keeps one filter per tracked person; :class:`cognn.pose.tracker.PoseTracker` smooths every
  detected person's landmarks with it before the mapping to a layout.

Units: ``min_cutoff`` and ``d_cutoff`` in Hz; ``beta`` in 1 / (landmark unit): MediaPipe world landmarks are metres
and normalised image landmarks are fractions of the frame, both about 1-2 units per body height, so one setting
serves both.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["SmoothingConfig", "OneEuroFilter", "LandmarkSmoother", "smoothing_factor", "DEFAULT_SMOOTHING",
           "NO_SMOOTHING"]


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro parameters; ``enabled=False`` passes landmarks through unchanged."""

    enabled: bool = True
    #: cut-off frequency (Hz) of a still joint: lower = smoother and more lag
    min_cutoff: float = 2.0
    #: how fast the cut-off rises with speed (1 / unit): higher = less lag on fast moves
    beta: float = 4.0
    #: cut-off frequency (Hz) of the speed estimate
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError(f"One-Euro parameters must be min_cutoff > 0, d_cutoff > 0, beta >= 0; got "
                             f"min_cutoff={self.min_cutoff}, beta={self.beta}, d_cutoff={self.d_cutoff}")


#: the default, chosen by measurement (docs/live.md)
DEFAULT_SMOOTHING = SmoothingConfig()
NO_SMOOTHING = SmoothingConfig(enabled=False)


def smoothing_factor(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    """The exponential-smoothing weight of a new sample for a low-pass filter with ``cutoff`` Hz after ``dt`` s."""
    r = 2.0 * math.pi * np.asarray(cutoff, np.float64) * dt
    return r / (r + 1.0)


class OneEuroFilter:
    """One-Euro filter over arrays of a fixed shape; call it with each new sample and its timestamp (seconds).

    A sample whose timestamp does not increase returns the previous output unchanged. Elements flagged invalid
    (``valid=False``, e.g. joints not detected) are passed through and restart their filter.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        SmoothingConfig(True, min_cutoff, beta, d_cutoff)  # validates
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    @classmethod
    def from_config(cls, config: SmoothingConfig) -> OneEuroFilter:
        return cls(config.min_cutoff, config.beta, config.d_cutoff)

    def reset(self) -> None:
        """Forget the past (the next sample is passed through)."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, timestamp: float, valid: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(x, np.float64)
        t = float(timestamp)
        if (self._x is None or self._dx is None or self._t is None  # all three are set together
                or self._x.shape != x.shape or not math.isfinite(t)):
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.astype(np.float32)
        dt = t - self._t
        if dt <= 0:
            return self._x.astype(np.float32)
        dx = (x - self._x) / dt
        a_d = smoothing_factor(self.d_cutoff, dt)
        dx_hat = self._dx + a_d * (dx - self._dx)
        a = smoothing_factor(self.min_cutoff + self.beta * np.abs(dx_hat), dt)
        x_hat = self._x + a * (x - self._x)
        if valid is not None:
            keep = np.broadcast_to(np.asarray(valid, bool), x.shape)
            x_hat = np.where(keep, x_hat, x)
            dx_hat = np.where(keep, dx_hat, 0.0)
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.astype(np.float32)


class LandmarkSmoother:
    """One :class:`OneEuroFilter` per person key (a track id) and per named array (e.g. ``"world"``)."""

    def __init__(self, config: SmoothingConfig = DEFAULT_SMOOTHING) -> None:
        self.config = config
        self._filters: dict[tuple[Hashable, str], OneEuroFilter] = {}

    def __call__(self, person: Hashable, x: np.ndarray, timestamp: float, *, name: str = "xyz",
                 valid: np.ndarray | None = None) -> np.ndarray:
        """Smooth ``x`` (any shape, e.g. ``(33, 3)`` or ``(V, C)``) of ``person`` taken at ``timestamp``."""
        if not self.config.enabled:
            return np.asarray(x, np.float32)
        f = self._filters.get((person, name))
        if f is None:
            f = self._filters[(person, name)] = OneEuroFilter.from_config(self.config)
        return f(x, timestamp, valid)

    def keep_only(self, persons: Iterable[Hashable]) -> None:
        """Drop the filters of every person not in ``persons`` (people who left)."""
        keep = set(persons)
        for key in [k for k in self._filters if k[0] not in keep]:
            del self._filters[key]

    def reset(self) -> None:
        self._filters.clear()
