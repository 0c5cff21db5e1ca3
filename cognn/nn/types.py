"""Types shared by the step path of the units: the fused weights and the protocol of a spatial unit."""
from __future__ import annotations

from typing import Any, Protocol

from torch import Tensor

__all__ = ["Fused", "SpatialUnit"]

#: the step weights of a unit (``fuse()``): names -> :class:`~cognn.nn.linear.FusedLinear` products, tensors, or the
#: fused weights of sub-units (a block's ``{"gcn": ..., "tcn": ..., "res": ...}``, a layer's ``"blank_out"`` cache)
Fused = dict[str, Any]


class SpatialUnit(Protocol):
    """What :class:`~cognn.nn.block.STBlock` needs of its spatial unit (``gcn``): an ``nn.Module`` over clips
    ``(B, C_in, T, V) -> (B, C_out, T, V)`` with a step path over frames ``(B, V, C_in) -> (B, V, C_out)``."""

    in_channels: int
    out_channels: int

    def __call__(self, x: Tensor) -> Tensor: ...

    def fuse(self) -> Fused: ...

    def step(self, x: Tensor, fused: Fused) -> Tensor: ...

    def analytic_macs(self, positions: float) -> float: ...
