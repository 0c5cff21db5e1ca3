"""AGCN (2s-AGCN single stream) and CoAGCN: every block uses :class:`AdaptiveGraphConv`.

``agcn``/``coagcn`` use the clip-wide attention (CoAGCN computes it from the incoming frame in step mode);
``agcn_mod``/``coagcn_mod`` use the official ``*`` unit, a per-joint scaling (see :class:`AdaptiveGraphConv`).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor

from ..layouts import adjacency_3subset
from ..nn.graph_conv import AdaptiveGraphConv
from ..nn.types import SpatialUnit
from .family import Family, UnitFactory, any_key_has


def units(mod: bool, continual: bool, options: Mapping[str, Any]) -> UnitFactory:
    """Spatial unit of each layer for the AGCN family."""
    variant = "mod" if mod else "clip"

    def make(index: int, cin: int, cout: int, A: Tensor) -> SpatialUnit:
        return AdaptiveGraphConv(cin, cout, A, variant=variant)

    return make


def claims(keys: Collection[str]) -> bool:
    """The attention embeddings ``a_conv`` are AGCN's alone."""
    return any_key_has(keys, ".a_conv.")


FAMILY = Family(
    name="agcn", stem="agcn", display="AGCN", units=units, graph=adjacency_3subset, claims=claims,
    name_tokens={"agcn": "agcn", "agcnmod": "agcn_mod", "coagcn": "coagcn_mod", "coagcnmod": "coagcn_mod"},
    unused_in_mod=True,  # the * unit never uses a_conv / b_conv
)
