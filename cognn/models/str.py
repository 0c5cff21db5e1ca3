"""S-TR (the spatial-transformer stream of ST-TR) and CoS-TR: graph convolutions in layers 1-3, spatial
self-attention among the joints of each frame in layers 4-10."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor

from ..layouts import adjacency_3subset
from ..nn.attention import SpatialAttention
from ..nn.graph_conv import GraphConv
from ..nn.types import SpatialUnit
from .family import Family, UnitFactory, any_key_has

FIRST_ATTENTION_LAYER = 3  # 0-based: layer4


def units(mod: bool, continual: bool, options: Mapping[str, Any]) -> UnitFactory:
    """Spatial unit of each layer for the S-TR family."""

    def make(index: int, cin: int, cout: int, A: Tensor) -> SpatialUnit:
        if index < FIRST_ATTENTION_LAYER:
            return GraphConv(cin, cout, A)
        return SpatialAttention(cin, cout, A)

    return make


def claims(keys: Collection[str]) -> bool:
    """The attention units (``attention_conv``) are S-TR's alone."""
    return any_key_has(keys, ".attention_conv.")


FAMILY = Family(
    name="str", stem="str", display="S-TR", units=units, graph=adjacency_3subset, claims=claims,
    name_tokens={"str": "str", "strmod": "str_mod", "costr": "costr_mod", "costrmod": "costr_mod"},
)
