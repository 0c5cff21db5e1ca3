"""Frame-rate matching: resample a timestamped skeleton stream to the model's training rate (30 fps for NTU/Kinetics).

A camera gives 10-25 frames per second at uneven intervals, a video 24, 30 or 60; the model was trained at one rate
(the checkpoint's ``fps``). :class:`Resampler` lays a regular grid ``t0 + k / fps`` from the first frame's timestamp
and, as each input frame arrives, emits the grid frames up to its timestamp (0, 1 or several), each joint linearly
interpolated between the two input frames around it (``mode="linear"``) or taken from the latest input frame
(``mode="hold"``). A joint missing (all zeros) in one of the two frames takes the value of the nearer one, so a person
who appears or leaves is never blended with zeros. Timestamps that repeat or go back are dropped without an error;
a gap longer than ``max_gap`` seconds (a stalled camera) is not filled: the grid restarts at the next frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ResampledFrame", "Resampler", "resample_sequence", "RESAMPLE_MODES", "DEFAULT_FPS"]

RESAMPLE_MODES = ("linear", "hold")
#: the training rate of NTU RGB+D and Kinetics-skeleton models
DEFAULT_FPS = 30.0
#: grid times this close (seconds) to an input frame take that frame as it is
_SNAP = 1e-6


@dataclass
class ResampledFrame:
    """One frame at the model's rate."""

    #: 0-based index on the model-rate grid since the last reset
    index: int
    #: grid time in seconds (the source's clock)
    timestamp: float
    #: (C, V, M) float32
    skeleton: np.ndarray
    #: index of the input frame whose arrival released this frame
    source_index: int


class Resampler:
    """Streaming resampler to ``fps`` frames per second; :meth:`push` each input frame, get 0..n model frames.

    ``tolerance`` (in model frames): a grid time at most this far after an input frame's timestamp is released with
    that frame (timestamps from containers and cameras jitter by a millisecond or two; without it a 30 fps video
    would release its frames one late at irregular times).
    """

    def __init__(self, fps: float = DEFAULT_FPS, *, mode: str = "linear", max_gap: float = 1.0,
                 tolerance: float = 0.25) -> None:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps}")
        if mode not in RESAMPLE_MODES:
            raise ValueError(f"unknown resampling mode {mode!r}; use one of {', '.join(RESAMPLE_MODES)}")
        if not 0 <= tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1) model frames, got {tolerance}")
        self.fps = float(fps)
        self.mode = mode
        self.max_gap = float(max_gap)
        self.tolerance = float(tolerance)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (new source, seek); the next frame starts a new grid."""
        self._prev_t: float | None = None
        self._prev_x: np.ndarray | None = None
        self._anchor_t = 0.0
        self._anchor_k = 0
        self._next_k = 0
        #: input frames dropped because their timestamp did not increase
        self.dropped = 0
        #: input frames accepted
        self.accepted = 0

    def _grid_time(self, k: int) -> float:
        return self._anchor_t + (k - self._anchor_k) / self.fps

    def push(self, timestamp: float, skeleton: np.ndarray, source_index: int = -1) -> list[ResampledFrame]:
        """Add an input frame ``(C, V, M)`` taken at ``timestamp`` seconds; returns the model frames it releases."""
        t = float(timestamp)
        x = np.asarray(skeleton, np.float32)
        if not math.isfinite(t) or (self._prev_t is not None and t <= self._prev_t):
            self.dropped += 1
            return []
        self.accepted += 1
        out: list[ResampledFrame] = []
        if (self._prev_t is None or self._prev_x is None  # both set together, after the first frame
                or t - self._prev_t > self.max_gap or self._prev_x.shape != x.shape):
            self._anchor_t, self._anchor_k = t, self._next_k
            out.append(ResampledFrame(self._next_k, t, x.copy(), source_index))
            self._next_k += 1
        else:
            limit = t + self.tolerance / self.fps
            while (g := self._grid_time(self._next_k)) <= limit:
                out.append(ResampledFrame(self._next_k, g, self._between(g, t, x), source_index))
                self._next_k += 1
        self._prev_t, self._prev_x = t, x.copy()
        return out

    def _between(self, g: float, t: float, x: np.ndarray) -> np.ndarray:
        t0, x0 = self._prev_t, self._prev_x
        assert t0 is not None and x0 is not None  # push calls this only after a first frame
        w = min(1.0, max(0.0, (g - t0) / (t - t0)))
        if abs(g - t) <= _SNAP:  # on an input frame (up to rounding): that frame exactly
            w = 1.0
        elif abs(g - t0) <= _SNAP:
            w = 0.0
        if self.mode == "hold":
            w = 1.0 if g >= t - self.tolerance / self.fps else 0.0
        if w == 0.0:
            return x0.copy()
        if w == 1.0:
            return x.copy()
        y = x0 + np.float32(w) * (x - x0)
        # a joint absent (all channels zero) at one end takes the nearer end's value, never a blend with zeros
        have0 = np.any(x0 != 0, axis=0)
        have1 = np.any(x != 0, axis=0)
        one_sided = have0 != have1
        if one_sided.any():
            near = x if w >= 0.5 else x0
            y[:, one_sided] = near[:, one_sided]
        return y.astype(np.float32, copy=False)


def resample_sequence(skeleton: np.ndarray, timestamps: np.ndarray, fps: float = DEFAULT_FPS, *,
                      mode: str = "linear", max_gap: float = 1.0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample a whole sequence ``(T, C, V, M)``; returns ``(skeleton (T', C, V, M), timestamps (T',),
    source_index (T',))`` as the streaming :class:`Resampler` would."""
    r = Resampler(fps, mode=mode, max_gap=max_gap)
    frames = [f for i, (t, x) in enumerate(zip(timestamps, skeleton)) for f in r.push(float(t), x, i)]
    if not frames:
        shape = (0,) + tuple(np.shape(skeleton)[1:])
        return np.zeros(shape, np.float32), np.zeros(0), np.zeros(0, np.int64)
    return (np.stack([f.skeleton for f in frames]), np.array([f.timestamp for f in frames]),
            np.array([f.source_index for f in frames], np.int64))
