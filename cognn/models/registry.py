"""The one registry of models: ``build(name, num_classes, layout)`` and ``names()``.

Regular: ``stgcn, stgcn_mod, agcn, agcn_mod, str, str_mod``; continual: ``costgcn, costgcn_mod, coagcn, coagcn_mod,
costr, costr_mod``. ``_mod`` is the paper's ``*`` variant (temporal stride 1, no temporal padding).
One extra, ``stgcn_original`` (the original ST-GCN network, for its published checkpoints), is built by name but not
listed among the paper's twelve (``names("extra")``).
"""
from __future__ import annotations

from ..layouts import Layout
from . import agcn, stgcn
from . import str as s_tr
from . import stgcn_original
from .base import CoSkeletonNet, ModelSpec, SkeletonNet

_FAMILIES = {"stgcn": stgcn.gcn_factory, "agcn": agcn.gcn_factory, "str": s_tr.gcn_factory}
_DISPLAY = {"stgcn": "ST-GCN", "agcn": "AGCN", "str": "S-TR"}


def _specs() -> dict[str, ModelSpec]:
    specs = {}
    for continual in (False, True):
        for family in _FAMILIES:
            for mod in (False, True):
                name = ("co" if continual else "") + family + ("_mod" if mod else "")
                specs[name] = ModelSpec(name, family, mod, continual)
    return specs


_SPECS = _specs()
_EXTRA = {stgcn_original.NAME: stgcn_original.SPEC}


def names(kind: str = "all") -> list[str]:
    """Registered model names; ``kind`` is ``"all"`` (the paper's twelve), ``"regular"``, ``"continual"`` or
    ``"extra"`` (networks kept for foreign checkpoints only)."""
    if kind == "extra":
        return list(_EXTRA)
    if kind not in ("all", "regular", "continual"):
        raise ValueError(f"kind must be 'all', 'regular', 'continual' or 'extra', not {kind!r}")
    return [n for n, s in _SPECS.items() if kind == "all" or s.continual == (kind == "continual")]


def spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a registered name."""
    try:
        return _SPECS[name] if name in _SPECS else _EXTRA[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join([*_SPECS, *_EXTRA])}") from None


def display_name(name: str) -> str:
    """The paper's name of a model, e.g. ``costgcn_mod`` -> ``CoST-GCN*``."""
    s = spec(name)
    if name in _EXTRA:
        return "ST-GCN (original)"
    base = _DISPLAY[s.family]
    return ("Co" if s.continual else "") + base + ("*" if s.mod else "")


def twin(name: str) -> str:
    """The regular twin of a continual model and the reverse (``costgcn_mod`` <-> ``stgcn_mod``)."""
    s = spec(name)
    if name in _EXTRA:
        raise ValueError(f"{name} has no continual twin")
    return name[2:] if s.continual else "co" + name


def build(name: str, num_classes: int = 60, layout: str | Layout = "ntu25", in_channels: int = 3,
          num_persons: int = 2, **kwargs) -> SkeletonNet:
    """Build a registered model with fresh weights.

    ``base_channels`` (any model but the original ST-GCN) sets the width: 64 is the reference network, a smaller
    multiple of 8 a slimmer one with the same depth and graph. Other ``kwargs`` go to the continual models
    (``warm_start``, ``clip_frames``).
    """
    s = spec(name)
    if name in _EXTRA:
        return stgcn_original.build_original(num_classes=num_classes, layout=layout, in_channels=in_channels,
                                             num_persons=num_persons, **kwargs)
    factory = _FAMILIES[s.family](s.mod, s.continual)
    cls = CoSkeletonNet if s.continual else SkeletonNet
    extra = [k for k in kwargs if k != "base_channels"]
    if extra and not s.continual:
        raise TypeError(f"{name} is a regular model; {', '.join(extra)} apply to continual models only")
    return cls(s, factory, num_classes=num_classes, layout=layout, in_channels=in_channels,
               num_persons=num_persons, **kwargs)
