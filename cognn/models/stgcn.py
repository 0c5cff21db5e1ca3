"""ST-GCN (continual-skeletons' 2s-AGCN-style implementation) and CoST-GCN: every block uses :class:`GraphConv`."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor

from ..layouts import adjacency_3subset
from ..nn.graph_conv import GraphConv
from ..nn.types import SpatialUnit
from .family import Family, UnitFactory, any_key_has


def units(mod: bool, continual: bool, options: Mapping[str, Any]) -> UnitFactory:
    """Spatial unit of each layer for the ST-GCN family."""

    def make(index: int, cin: int, cout: int, A: Tensor) -> SpatialUnit:
        return GraphConv(cin, cout, A)

    return make


def claims(keys: Collection[str]) -> bool:
    """Graph-convolution units (``g_conv``) and neither AGCN's nor S-TR's own tensors."""
    return any_key_has(keys, ".g_conv.") and not any_key_has(keys, ".a_conv.") and \
        not any_key_has(keys, ".attention_conv.")


FAMILY = Family(
    name="stgcn", stem="stgcn", display="ST-GCN", units=units, graph=adjacency_3subset, claims=claims,
    # OpenDR's co* names are the * models
    name_tokens={"stgcn": "stgcn", "stgcnmod": "stgcn_mod", "costgcn": "costgcn_mod", "costgcnmod": "costgcn_mod"},
)
