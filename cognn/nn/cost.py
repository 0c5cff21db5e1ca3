"""The paper's MAC convention (ptflops style), shared by every unit's ``analytic_macs``: convolution and linear MACs,
+1 per bias element, +2 per BatchNorm element (scale and shift), +1 per ReLU element; graph products, attention
products, softmax, pooling and residual additions are not counted."""
from __future__ import annotations

from torch import nn

__all__ = ["conv_macs", "bn_macs", "relu_macs", "linear_macs"]


def conv_macs(conv: nn.Conv1d | nn.Conv2d, positions: float, bias_positions: float | None = None) -> float:
    """MACs of ``conv`` evaluated at ``positions`` output positions, plus one per bias element (at
    ``bias_positions``, default ``positions``)."""
    per_position = conv.in_channels // conv.groups * conv.out_channels
    for k in conv.kernel_size:
        per_position *= k
    bias = 0.0 if conv.bias is None else conv.out_channels * (positions if bias_positions is None else bias_positions)
    return per_position * positions + bias


def bn_macs(channels: int, positions: float) -> float:
    """A BatchNorm over ``channels`` at ``positions``: scale and shift."""
    return 2.0 * channels * positions


def relu_macs(channels: int, positions: float) -> float:
    """A ReLU over ``channels`` at ``positions``."""
    return float(channels) * positions


def linear_macs(fc: nn.Linear) -> float:
    """One application of a linear layer, bias included."""
    return fc.in_features * fc.out_features + (fc.out_features if fc.bias is not None else 0)
