"""S-TR (the spatial-transformer stream of ST-TR) and CoS-TR: graph convolutions in layers 1-3, spatial
self-attention among the joints of each frame in layers 4-10."""
from __future__ import annotations

from torch import Tensor, nn

from ..nn.attention import SpatialAttention
from ..nn.graph_conv import GraphConv

FIRST_ATTENTION_LAYER = 3  # 0-based: layer4


def gcn_factory(mod: bool, continual: bool):
    """Spatial unit of each layer for the S-TR family."""

    def make(index: int, cin: int, cout: int, A: Tensor) -> nn.Module:
        if index < FIRST_ATTENTION_LAYER:
            return GraphConv(cin, cout, A)
        return SpatialAttention(cin, cout, A)

    return make
