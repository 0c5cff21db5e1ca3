"""The reference training augmentations (st-gcn / 2s-AGCN / continual-skeletons ``tools.py``) on one sample
``(C, T, V, M)``, with an explicit ``numpy.random.Generator`` so runs are reproducible.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["auto_pad", "random_choose", "random_shift", "random_move", "valid_range"]


def valid_range(data: np.ndarray) -> tuple[int, int]:
    """``(begin, end)`` of the frames that hold any non-zero value (``(0, T)`` if none do, as the reference)."""
    valid = (data != 0).sum(axis=3).sum(axis=2).sum(axis=0) > 0
    begin = int(valid.argmax())
    end = len(valid) - int(valid[::-1].argmax())
    return begin, end


def auto_pad(data: np.ndarray, size: int, rng: np.random.Generator | None = None,
             random_pad: bool = False) -> np.ndarray:
    """Zero-pad ``(C, T, V, M)`` to ``size`` frames, at a random offset if ``random_pad``; longer input is returned."""
    c, t, v, m = data.shape
    if t >= size:
        return data
    begin = int(rng.integers(0, size - t + 1)) if random_pad and rng is not None else 0
    out = np.zeros((c, size, v, m), data.dtype)
    out[:, begin:begin + t] = data
    return out


def random_choose(data: np.ndarray, size: int, rng: np.random.Generator, auto_pad_short: bool = True) -> np.ndarray:
    """A random window of ``size`` frames; shorter input is zero-padded at a random offset."""
    c, t, v, m = data.shape
    if t == size:
        return data
    if t < size:
        return auto_pad(data, size, rng, random_pad=True) if auto_pad_short else data
    begin = int(rng.integers(0, t - size + 1))
    return data[:, begin:begin + size]


def random_shift(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move the non-empty part of the sequence to a random offset, zeros elsewhere."""
    t = data.shape[1]
    begin, end = valid_range(data)
    size = end - begin
    bias = int(rng.integers(0, t - size + 1))
    out = np.zeros_like(data)
    out[:, bias:bias + size] = data[:, begin:end]
    return out


def random_move(data: np.ndarray, rng: np.random.Generator,
                angle_candidate: Sequence[float] = (-10.0, -5.0, 0.0, 5.0, 10.0),
                scale_candidate: Sequence[float] = (0.9, 1.0, 1.1),
                transform_candidate: Sequence[float] = (-0.2, -0.1, 0.0, 0.1, 0.2),
                move_time_candidate: Sequence[int] = (1,)) -> np.ndarray:
    """Rotate (about z, degrees), scale and translate x, y, with parameters interpolated linearly over time.

    Applied to every joint, zeros included, as the reference does.
    """
    c, t, v, m = data.shape
    move_time = int(rng.choice(move_time_candidate))
    node = np.append(np.arange(0, t, t * 1.0 / move_time).round().astype(int), t)
    k = len(node)
    a_n = rng.choice(angle_candidate, k)
    s_n = rng.choice(scale_candidate, k)
    tx_n = rng.choice(transform_candidate, k)
    ty_n = rng.choice(transform_candidate, k)
    a, s, tx, ty = (np.zeros(t) for _ in range(4))
    for i in range(k - 1):
        seg = slice(node[i], node[i + 1])
        n = node[i + 1] - node[i]
        a[seg] = np.linspace(a_n[i], a_n[i + 1], n) * np.pi / 180
        s[seg] = np.linspace(s_n[i], s_n[i + 1], n)
        tx[seg] = np.linspace(tx_n[i], tx_n[i + 1], n)
        ty[seg] = np.linspace(ty_n[i], ty_n[i + 1], n)
    cos, sin = np.cos(a) * s, np.sin(a) * s  # (T,)
    x, y = data[0].astype(np.float64), data[1].astype(np.float64)  # (T, V, M)
    out = data.copy()
    out[0] = cos[:, None, None] * x - sin[:, None, None] * y + tx[:, None, None]
    out[1] = sin[:, None, None] * x + cos[:, None, None] * y + ty[:, None, None]
    return out
