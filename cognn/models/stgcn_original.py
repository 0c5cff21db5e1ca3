"""The original ST-GCN (Yan et al. 2018, github.com/yysijie/st-gcn) as a family of its own: ``stgcn_original``,
``stgcn_original_mod`` (``*``: stride 1, no temporal padding, centred residual) and their continual twins
``costgcn_original`` and ``costgcn_original_mod``, built on the shared backbone so the continual machinery applies.

It differs from cognn's ST-GCN (the continual-skeletons / 2s-AGCN-style network) in more than names:

* the graph is the "spatial" partition (root / closer / further, :func:`cognn.layouts.spatial_partition`),
  multiplied by a learnable ``edge_importance`` per block (``edge_importance=False`` leaves it out);
* ``data_bn`` normalises ``V·C`` channels, persons folded into the batch before it (one BN for every person);
* the graph unit is one 1×1 conv to ``3·C_out`` channels whose bias is added *before* the graph product; the
  original's temporal unit BN -> ReLU -> Conv(9×1) -> BN -> Dropout is split: the BN and ReLU (per frame) close the
  graph unit (:class:`~cognn.nn.graph_conv.PartitionGraphConv`), the convolution and the second BN are the block's
  temporal convolution; dropout (training only) is not used;
* residual: none in the first block, identity where channels and stride match, else 1×1 conv (stride) + BN;
* the head averages over ``T·V``, then persons, and classifies with a 1×1 conv ``fcn`` (a linear layer).

Published files keep the original names; :func:`to_cognn` maps them: ``st_gcn_networks.{i}.gcn.conv`` ->
``layers.layer{i+1}.gcn.conv``, ``tcn.0`` -> ``gcn.bn``, ``tcn.2`` -> ``tcn.t_conv``, ``tcn.3`` -> ``tcn.bn``,
``residual.0/1`` -> ``residual.t_conv/bn``, ``edge_importance.{i}`` -> ``layers.layer{i+1}.gcn.edge_importance``,
the buffer ``A`` -> every ``layers.layer{i}.gcn.A``, ``fcn.weight (K, 256, 1, 1)`` -> ``fc.weight (K, 256)``.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor

from ..layouts import spatial_partition
from ..nn.graph_conv import PartitionGraphConv
from ..nn.types import SpatialUnit
from .family import PAPER_SHAPE_FACTS, Family, ForeignLayout, UnitFactory, any_key_has

__all__ = ["FAMILY", "to_cognn"]

_BLOCK = re.compile(r"^st_gcn_networks\.(\d+)\.(.+)$")
_EDGE = re.compile(r"^edge_importance\.(\d+)$")
#: original sub-module -> cognn sub-module, within one block
_PARTS = (("gcn.conv.", "gcn.conv."), ("tcn.0.", "gcn.bn."), ("tcn.2.", "tcn.t_conv."), ("tcn.3.", "tcn.bn."),
          ("residual.0.", "residual.t_conv."), ("residual.1.", "residual.bn."))


def units(mod: bool, continual: bool, options: Mapping[str, Any]) -> UnitFactory:
    """Spatial unit of each layer: the partition graph convolution (with edge importance unless switched off)."""
    edge_importance = bool(options.get("edge_importance", True))

    def make(index: int, cin: int, cout: int, A: Tensor) -> SpatialUnit:
        return PartitionGraphConv(cin, cout, A, edge_importance=edge_importance)

    return make


def claims(keys: Collection[str]) -> bool:
    """The partition graph convolution (``gcn.conv``) is the original's alone."""
    return any_key_has(keys, ".gcn.conv.")


def recognise(keys: Collection[str]) -> bool:
    """The original code's own key layout (``st_gcn_networks.*``)."""
    return any(k.startswith("st_gcn_networks.") for k in keys)


def to_cognn(state: Mapping[str, Any]) -> dict[str, Any]:
    """Original key names -> cognn's (see the module docstring); names it does not know are kept (and reported as
    left over when loaded). Values are tensors or quantized records (anything with ``shape`` and ``reshape``)."""
    blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK.match(k))})
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key == "A":
            for i in blocks:
                out[f"layers.layer{i + 1}.gcn.A"] = value
        elif m := _BLOCK.match(key):
            rest = m.group(2)
            for old, new in _PARTS:
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            out[f"layers.layer{int(m.group(1)) + 1}.{rest}"] = value
        elif m := _EDGE.match(key):
            out[f"layers.layer{int(m.group(1)) + 1}.gcn.edge_importance"] = value
        elif key.startswith("fcn."):
            if key == "fcn.weight" and len(value.shape) == 4 and tuple(value.shape[2:]) == (1, 1):
                value = value.reshape(value.shape[0], value.shape[1])
            out["fc." + key[len("fcn."):]] = value
        else:
            out[key] = value
    return out


FAMILY = Family(
    name="stgcn_original", stem="stgcn_original", display="ST-GCN", display_suffix=" (original)", paper=False,
    units=units, graph=spatial_partition, claims=claims, data_bn="shared", options={"edge_importance": True},
    shape_facts={**PAPER_SHAPE_FACTS, "in_channels": ("layers.layer1.gcn.conv.weight", 4, 1)},
    option_keys={"edge_importance": "layers.layer1.gcn.edge_importance"},
    foreign=ForeignLayout("stgcn-original", "original ST-GCN state dict (yysijie/st-gcn)", recognise, to_cognn),
    # the original's NTU data is neither centred nor rotated; its Kinetics feeder keeps y pointing down
    preprocessing={"ntu25": "none", "kinetics18": "stgcn-kinetics-feeder"},
    # the published Kinetics-400 weights online (docs/kinetics.md): exact answers from the first frames (the official
    # code classifies whatever clip it gets), over a 300-frame clip; 400 classes spread the probability, so the steady
    # label's "uncertain" threshold is 0.15 (the bundled kinetics400 file says the same in its own metadata)
    live={"kinetics18": {"model_kwargs": {"early_mode": "exact", "clip_frames": 300},
                         "live": {"labels": {"threshold": 0.15}}}},
)
