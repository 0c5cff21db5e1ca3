"""The original ST-GCN (Yan et al. 2018, github.com/yysijie/st-gcn), only to run its released checkpoints exactly.

It differs from cognn's ST-GCN (the continual-skeletons / 2s-AGCN-style network) in more than names:

* the graph is the "spatial" partition (root / closer / further, :func:`cognn.layouts.spatial_partition`), a buffer
  ``A`` ``(3, V, V)``, multiplied by a learnable ``edge_importance.{i}`` per block;
* ``data_bn`` normalises ``V·C`` channels, persons folded into the batch before it;
* the graph unit is one 1×1 conv to ``3·C_out`` channels applied *before* the graph multiplication
  (``gcn.conv``); the temporal unit is BN -> ReLU -> Conv(9×1) -> BN (``tcn.0``, ``tcn.2``, ``tcn.3``);
  ``residual.{0,1}`` (1×1 conv + BN) where channels or stride change, none in the first block;
* the head averages over ``T·V``, then persons, and classifies with a 1×1 conv ``fcn``.

Input ``(N, C, T, V, M)`` -> logits ``(N, num_classes)``. It is not one of the registered models and has no continual
form; :mod:`cognn.checkpoints` builds it for files of the ``stgcn-original`` family.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layouts import Layout, get_layout, spatial_partition
from .base import BACKBONE, KERNEL, ModelSpec

__all__ = ["NAME", "OriginalSTGCN", "build_original"]

NAME = "stgcn_original"
SPEC = ModelSpec(NAME, "stgcn_original", mod=False, continual=False)


class _Block(nn.Module):
    """``ReLU(tcn(gcn(x, A)) + residual(x))`` with the original module layout."""

    def __init__(self, cin: int, cout: int, num_subsets: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.num_subsets = num_subsets
        self.gcn = nn.Module()
        self.gcn.conv = nn.Conv2d(cin, cout * num_subsets, 1)
        pad = (KERNEL - 1) // 2
        self.tcn = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, (KERNEL, 1), (stride, 1),
                                                                            (pad, 0)), nn.BatchNorm2d(cout))
        if not residual:
            self.residual = None
            self.residual_kind = "none"
        elif cin == cout and stride == 1:
            self.residual = None
            self.residual_kind = "identity"
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))
            self.residual_kind = "conv"

    def forward(self, x: Tensor, A: Tensor) -> Tensor:
        y = self.gcn.conv(x)
        b, kc, t, v = y.shape
        y = torch.einsum("bkctv,kvw->bctw", y.view(b, self.num_subsets, kc // self.num_subsets, t, v), A)
        y = self.tcn(y)
        if self.residual_kind == "identity":
            y = y + x
        elif self.residual_kind == "conv":
            y = y + self.residual(x)
        return F.relu(y)


class OriginalSTGCN(nn.Module):
    """The original ST-GCN network with the "spatial" partition graph (state-dict keys as in the original code)."""

    def __init__(self, num_classes: int = 60, layout: str | Layout = "ntu25", in_channels: int = 3,
                 num_persons: int = 2, edge_importance: bool = True) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.spec = SPEC
        self.layout = get_layout(layout)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_persons = num_persons
        self.edge_importance_weighting = edge_importance
        A = torch.from_numpy(spatial_partition(self.layout)).float()
        self.register_buffer("A", A)
        v, k = self.layout.num_joints, A.shape[0]
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        self.st_gcn_networks = nn.ModuleList(
            _Block(in_channels if cin is None else cin, cout, k, stride, residual=cin is not None)
            for cin, cout, stride in BACKBONE)
        if edge_importance:
            self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(A)) for _ in BACKBONE)
        else:
            self.edge_importance = None
        self.fcn = nn.Conv2d(BACKBONE[-1][1], num_classes, 1)

    @property
    def name(self) -> str:
        return NAME

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels or x.shape[3] != self.layout.num_joints:
            raise ValueError(f"{NAME}: expected (N, {self.in_channels}, T, {self.layout.num_joints}, M), "
                             f"got {tuple(x.shape)}")
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for i, block in enumerate(self.st_gcn_networks):
            A = self.A if self.edge_importance is None else self.A * self.edge_importance[i]
            x = block(x, A)
        x = x.mean(dim=(2, 3)).view(n, m, -1).mean(1)
        return self.fcn(x[:, :, None, None]).view(n, -1)


def build_original(num_classes: int = 60, layout: str | Layout = "ntu25", in_channels: int = 3,
                   num_persons: int = 2, **kwargs) -> OriginalSTGCN:
    """Build :class:`OriginalSTGCN` (same signature as :func:`cognn.models.build` without the name)."""
    return OriginalSTGCN(num_classes=num_classes, layout=layout, in_channels=in_channels, num_persons=num_persons,
                         **kwargs)
