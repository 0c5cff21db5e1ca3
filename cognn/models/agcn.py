"""AGCN (2s-AGCN single stream) and CoAGCN: every block uses :class:`AdaptiveGraphConv`.

``agcn``/``coagcn`` use the clip-wide attention (CoAGCN computes it from the incoming frame in step mode);
``agcn_mod``/``coagcn_mod`` use the official ``*`` unit, a per-joint scaling (see :class:`AdaptiveGraphConv`).
"""
from __future__ import annotations

from torch import Tensor, nn

from ..nn.graph_conv import AdaptiveGraphConv


def gcn_factory(mod: bool, continual: bool):
    """Spatial unit of each layer for the AGCN family."""
    variant = "mod" if mod else "clip"

    def make(index: int, cin: int, cout: int, A: Tensor) -> nn.Module:
        return AdaptiveGraphConv(cin, cout, A, variant=variant)

    return make
