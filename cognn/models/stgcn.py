"""ST-GCN (continual-skeletons' 2s-AGCN-style implementation) and CoST-GCN: every block uses :class:`GraphConv`."""
from __future__ import annotations

from torch import Tensor, nn

from ..nn.graph_conv import GraphConv


def gcn_factory(mod: bool, continual: bool):
    """Spatial unit of each layer for the ST-GCN family."""

    def make(index: int, cin: int, cout: int, A: Tensor) -> nn.Module:
        return GraphConv(cin, cout, A)

    return make
