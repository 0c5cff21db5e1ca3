"""Network families, declared once each: ``FAMILY = Family(...)`` in the family's own module.

A family is one backbone with one kind of spatial unit (ST-GCN, AGCN, S-TR, the original ST-GCN); it yields four
registered models: regular, ``*`` (stride 1, no temporal padding), and their continual twins. Everything the rest of
cognn needs to know about a family is in its declaration, so no other module names a family:

* the registry builds models from ``stem``, ``display``, ``units``, ``graph``, ``data_bn`` and ``options``;
* the checkpoint readers recognise its tensors (``claims``), read the architecture from tensor shapes
  (``shape_facts``, ``option_keys``), map a published file's own key layout (``foreign``), read official file names
  (``name_tokens``) and name the preprocessing of its published weights (``preprocessing``);
* the trainer learns which ``*`` models leave parameters unused (``unused_in_mod``);
* live use takes the defaults of its published weights per layout (``live``) where a file does not carry its own.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import Tensor

from ..layouts import Layout
from ..nn.types import SpatialUnit

__all__ = ["Family", "ForeignLayout", "UnitFactory", "PAPER_SHAPE_FACTS", "any_key_has", "read_shape_facts"]

#: builds the spatial unit of layer ``index`` (0-based): (index, in_channels, out_channels, A) -> module
UnitFactory = Callable[[int, int, int, Tensor], SpatialUnit]

#: fact -> (tensor key, number of dimensions, axis whose size is the fact) for the continual-skeletons layout
PAPER_SHAPE_FACTS: dict[str, tuple[str, int, int]] = {
    "num_classes": ("fc.weight", 2, 0),
    "joints": ("layers.layer1.gcn.A", 3, -1),
    "in_channels": ("layers.layer1.gcn.g_conv.0.weight", 4, 1),
    "base_channels": ("layers.layer1.tcn.t_conv.weight", 4, 0),
    "data_bn_channels": ("data_bn.weight", 1, 0),
}


@dataclass(frozen=True)
class ForeignLayout:
    """A family's own key layout in published files (e.g. the original ST-GCN's ``st_gcn_networks.*``).

    ``recognise(keys)`` says whether a state dict uses it; ``to_cognn(state)`` renames (and reshapes) its entries to
    cognn's parameter names. Values may be tensors or quantized records; both have ``shape`` and ``reshape``.
    ``source`` is the family name the checkpoint readers report for such files; ``description`` says what they are.
    """

    source: str
    description: str
    recognise: Callable[[Collection[str]], bool]
    to_cognn: Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Family:
    """Everything cognn knows about one network family (see the module docstring)."""

    name: str  # ModelSpec.family, e.g. "stgcn"
    stem: str  # registered names: stem, stem_mod, "co" + stem, "co" + stem + "_mod"
    display: str  # the paper's name of the regular model, e.g. "ST-GCN"
    units: Callable[[bool, bool, Mapping[str, Any]], UnitFactory]  # (mod, continual, options) -> unit factory
    graph: Callable[[Layout], np.ndarray]  # the fixed graph (K, V, V) of a layout
    claims: Callable[[Collection[str]], bool]  # tensors under cognn's names belong to this family
    data_bn: str = "persons"  # "persons": BatchNorm over M·V·C; "shared": over V·C, persons folded in before it
    options: Mapping[str, Any] = field(default_factory=dict)  # family-specific model options -> defaults
    paper: bool = True  # one of the paper's six regular networks (twelve models)
    display_suffix: str = ""  # appended to every display name, e.g. " (original)"
    shape_facts: Mapping[str, tuple[str, int, int]] = field(default_factory=lambda: dict(PAPER_SHAPE_FACTS))
    option_keys: Mapping[str, str] = field(default_factory=dict)  # boolean option -> tensor present iff True
    foreign: ForeignLayout | None = None
    name_tokens: Mapping[str, str] = field(default_factory=dict)  # official file-name token -> model name
    preprocessing: Mapping[str, str] = field(default_factory=dict)  # layout -> preprocessing of published weights
    unused_in_mod: bool = False  # the ``*`` models leave some parameters unused (DDP: find_unused_parameters)
    #: layout -> how the family's published weights for it run live, for any file of them that does not say itself
    #: (a converted official checkpoint behaves as the bundled copy): ``model_kwargs`` of the continual model
    #: (``early_mode``, ``clip_frames``) and the checkpoint metadata's ``live`` settings (steady labels, alarms)
    live: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data_bn not in ("persons", "shared"):
            raise ValueError(f"family {self.name}: data_bn must be 'persons' or 'shared', not {self.data_bn!r}")

    def model_name(self, mod: bool, continual: bool) -> str:
        """The registered name of one of the family's four models."""
        return ("co" if continual else "") + self.stem + ("_mod" if mod else "")

    def model_display(self, mod: bool, continual: bool) -> str:
        """The paper's name of one of the family's four models, e.g. ``CoST-GCN*``."""
        return ("Co" if continual else "") + self.display + ("*" if mod else "") + self.display_suffix

    def facts(self, state_dict: Mapping[str, Any]) -> dict[str, Any]:
        """Architecture facts readable from tensor shapes (missing tensors give no fact); see
        :func:`read_shape_facts`. Boolean options come from :attr:`option_keys`."""
        out: dict[str, Any] = read_shape_facts(state_dict, self.shape_facts)
        for option, key in self.option_keys.items():
            out[option] = key in state_dict
        return out


def any_key_has(keys: Collection[str], part: str) -> bool:
    """True when ``part`` occurs in one of ``keys``."""
    return any(part in k for k in keys)


def read_shape_facts(state_dict: Mapping[str, Any], table: Mapping[str, tuple[str, int, int]]) -> dict[str, int]:
    """``{fact: size}`` for every fact of ``table`` whose tensor is present with the right number of dimensions."""
    out = {}
    for fact, (key, dims, axis) in table.items():
        t = state_dict.get(key)
        shape = getattr(t, "shape", None)
        if shape is not None and len(shape) == dims:
            out[fact] = int(shape[axis])
    return out
