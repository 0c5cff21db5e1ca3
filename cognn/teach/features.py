"""What a continual model's head sees, computed for whole clips at once: the pooled positions of the backbone and the
pool's average over them, step by step.

A continual model answers, at each output step, ``fc(pool)``: the head applied to the average of the last
``pool_size`` pooled positions (zeros before the first, the official pool), and each pooled position is the backbone's
output at one temporal position, averaged over joints and persons. The positions a continual model produces over a
stream are exactly those of the regular network run once over the whole stream (``tests/test_teach.py`` checks it),
so a new head can be learnt from the regular network's features of whole clips and still be exact when it steps.

Shapes: clips ``(N, C, T, V, M)``; positions ``(P, C')`` with ``P = ceil(T / stride)`` for the padded (strided)
models, ``C' = 4 * base_channels``; step features ``(P, C')``, row ``k`` the input of the answer at frame
``delay + k * stride``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.base import CoSkeletonNet

__all__ = ["positions", "step_features", "answer_frames"]

#: frames per forward pass: longer clips are cut into overlapping pieces whose inner positions are exact
_PIECE = 1200


@torch.no_grad()
def _positions_once(model: CoSkeletonNet, clip: torch.Tensor) -> torch.Tensor:
    n, m = clip.shape[0], clip.shape[-1]
    f = model.features(clip)  # (N·M, C', P, V)
    return f.view(n, m, f.shape[1], f.shape[2], -1).mean(4).mean(1).permute(0, 2, 1)  # (N, P, C')


@torch.no_grad()
def _slot_positions(model: CoSkeletonNet, slots: torch.Tensor) -> torch.Tensor:
    """Per person slot ``(S, C, T, V)`` -> ``(S, P, C')``, each slot alone (one data BatchNorm shared by every slot,
    ``data_bn == "shared"``, so a slot's features do not depend on the others)."""
    s, c, t, v = slots.shape
    x = model.data_bn(slots.permute(0, 3, 1, 2).reshape(s, v * c, t))
    x = x.view(s, v, c, t).permute(0, 2, 3, 1).contiguous()
    for layer in model.blocks():
        x = layer(x)
    return x.mean(3).permute(0, 2, 1)  # (S, P, C')


@torch.no_grad()
def _blank_slot(model: CoSkeletonNet, t: int) -> torch.Tensor:
    """Positions ``(P, C')`` of one all-zero person slot over ``t`` frames, from a short blank clip: positions whose
    receptive field lies inside the clip are all equal (the same sums of the same inputs); only those near either end
    differ, and they are those of the short clip with the same length modulo the stride."""
    rf, pad = _geometry(model)
    stride = model.stride
    c, v = model.in_channels, model.layout.num_joints
    short = (2 * rf // stride + 4) * stride + t % stride
    if t <= short:
        return _slot_positions(model, torch.zeros(1, c, t, v))[0]
    # kept on the model (it dies with it), by the weights' in-place version and the length modulo the stride
    blanks: dict[tuple[int, int], torch.Tensor] = model.__dict__.setdefault("_teach_blank_slots", {})
    key = (model.data_bn.weight._version, t % stride)
    ref = blanks.get(key)
    if ref is None:
        ref = blanks[key] = _slot_positions(model, torch.zeros(1, c, short, v))[0]
    p_short, p = ref.shape[0], -(-t // stride)
    left = -(-pad // stride)  # positions whose field starts before the clip: k * stride - pad < 0
    right = p_short - (short - 1 - (rf - 1 - pad)) // stride - 1  # first position of the short clip touching its end
    middle = ref[left + (right - left) // 2]
    out = middle.expand(p, -1).clone()
    out[:left] = ref[:left]
    tail = p_short - right
    out[p - tail:] = ref[right:]
    return out


@torch.no_grad()
def _positions_fast(model: CoSkeletonNet, clip: torch.Tensor) -> torch.Tensor:
    """:func:`_positions_once` for one clip ``(1, C, T, V, M)``, the blank person slots from :func:`_blank_slot`."""
    x = clip[0].permute(3, 0, 1, 2)  # (M, C, T, V)
    m = x.shape[0]
    busy = [i for i in range(m) if bool(x[i].abs().amax() > 0)]
    if model.family.data_bn != "shared" or len(busy) == m:
        return _positions_once(model, clip)[0]
    total = _blank_slot(model, x.shape[2]) * (m - len(busy))
    if busy:
        total = total + _slot_positions(model, x[busy]).sum(0)
    return total / m


@torch.no_grad()
def positions(model: CoSkeletonNet, clip: np.ndarray | torch.Tensor) -> np.ndarray:
    """Pooled positions ``(P, C')`` of one prepared clip ``(C, T, V, M)`` (the checkpoint's convention applied), as
    the continual ``model`` produces them when stepping through the clip and then flushing (zero frames after it).

    Person slots nobody fills cost nothing (their positions are those of a short blank clip, see
    :func:`_blank_slot`); clips longer than about a minute are processed in pieces that overlap by the backbone's
    receptive field, so memory stays bounded. The result equals one pass over the whole clip (to float rounding).
    """
    x = torch.as_tensor(np.asarray(clip, np.float32)).unsqueeze(0)
    model.eval()
    t = x.shape[2]
    stride = model.stride
    if t <= _PIECE + 2 * model.receptive_field:
        return _positions_fast(model, x).numpy()
    rf, pad = _geometry(model)
    margin = (rf // stride + 2) * stride  # frames of context each side, a multiple of the stride
    out = []
    step = (_PIECE // stride) * stride
    for start in range(0, t, step):
        lo = max(0, start - margin)
        hi = min(t, start + step + margin)
        p = _positions_fast(model, x[:, :, lo:hi])
        first = (start - lo) // stride
        count = (min(t, start + step) - start + stride - 1) // stride
        out.append(p[first:first + count])
    return torch.cat(out).numpy()


def _geometry(model: CoSkeletonNet) -> tuple[int, int]:
    rf, pad, _ = model._backbone_geometry()
    return rf, pad


def step_features(pos: np.ndarray, pool_size: int) -> np.ndarray:
    """The pool's average after each position: ``(P, C')``, row ``k`` = sum of positions ``k - pool_size + 1 .. k``
    divided by ``pool_size`` (the official pool, zeros before the first)."""
    c = np.cumsum(np.asarray(pos, np.float64), axis=0)
    shifted = np.zeros_like(c)
    shifted[pool_size:] = c[:-pool_size] if len(c) > pool_size else shifted[pool_size:]
    return ((c - shifted) / pool_size).astype(np.float32)


def answer_frames(model: CoSkeletonNet, count: int) -> np.ndarray:
    """The 0-based frame at which each of ``count`` step features is answered: ``delay + k * stride`` (the backbone's
    delay, before any pool padding)."""
    rf, pad = _geometry(model)
    return (rf - 1 - pad) + np.arange(count) * model.stride
