"""BatchNorm folding for the step path: inference-time affine transforms merged into the preceding linear map."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(scale, shift)`` such that ``bn(x) == x * scale + shift`` in eval mode (running statistics)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics (track_running_stats=False)")
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    return scale, shift


def fold_linear(weight: Tensor, bias: Tensor | None, bn: nn.BatchNorm2d | None) -> tuple[Tensor, Tensor]:
    """Fold ``bn`` into a 1×1 (or flattened) convolution: returns ``(W (C_in, C_out), b (C_out,))`` for
    ``x @ W + b``."""
    w = weight.reshape(weight.shape[0], -1)
    b = bias if bias is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
    if bn is not None:
        scale, shift = bn_affine(bn)
        w = w * scale[:, None]
        b = b * scale + shift
    return w.t().contiguous(), b.contiguous()
