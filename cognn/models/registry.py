"""The one registry of models: ``build(name, num_classes, layout)`` and ``names()``, read from the family declarations
(:class:`~cognn.models.family.Family`, one per model file).

The paper's twelve: regular ``stgcn, stgcn_mod, agcn, agcn_mod, str, str_mod``; continual ``costgcn, costgcn_mod,
coagcn, coagcn_mod, costr, costr_mod``. ``_mod`` is the paper's ``*`` variant (temporal stride 1, no temporal padding).
Extra families (not among the twelve, ``names("extra")``): the original ST-GCN, ``stgcn_original``,
``stgcn_original_mod``, ``costgcn_original``, ``costgcn_original_mod``, for its published checkpoints.
"""
from __future__ import annotations

import difflib

from ..layouts import Layout
from . import agcn, stgcn, stgcn_original
from . import str as s_tr
from .base import CoSkeletonNet, ModelSpec, SkeletonNet
from .family import Family

__all__ = ["FAMILIES", "build", "names", "spec", "family", "family_of", "display_name", "twin", "live_defaults",
           "KINDS"]

#: every family, in the order of :func:`names`
FAMILIES: tuple[Family, ...] = (stgcn.FAMILY, agcn.FAMILY, s_tr.FAMILY, stgcn_original.FAMILY)
_BY_NAME = {f.name: f for f in FAMILIES}
#: what :func:`names` lists
KINDS = ("all", "regular", "continual", "extra", "registered")
#: keyword arguments only continual models take
CONTINUAL_KWARGS = ("clip_frames", "warm_start", "early_mode")


def _specs() -> dict[str, ModelSpec]:
    specs = {}
    for paper in (True, False):
        for continual in (False, True):
            for fam in FAMILIES:
                if fam.paper != paper:
                    continue
                for mod in (False, True):
                    name = fam.model_name(mod, continual)
                    specs[name] = ModelSpec(name, fam.name, mod, continual)
    return specs


_SPECS = _specs()


def names(kind: str = "all") -> list[str]:
    """Registered model names: ``"all"`` (the paper's twelve), ``"regular"`` or ``"continual"`` (six of them each),
    ``"extra"`` (the models of the other families, e.g. the original ST-GCN's four) or ``"registered"`` (everything)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "registered":
        return list(_SPECS)
    paper = kind != "extra"
    return [name for name, s in _SPECS.items() if _BY_NAME[s.family].paper == paper
            and (kind in ("all", "extra") or s.continual == (kind == "continual"))]


def spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a registered name; ValueError (with the closest names) for an unknown one."""
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(_SPECS), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ValueError(f"unknown model {name!r}; {hint}known models: {', '.join(_SPECS)}") from None


def family(name: str) -> Family:
    """The :class:`Family` declaration of a family name (``ModelSpec.family``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known families: {', '.join(_BY_NAME)}") from None


def family_of(model: str) -> Family:
    """The :class:`Family` a registered model belongs to."""
    return _BY_NAME[spec(model).family]


def display_name(name: str) -> str:
    """The paper's name of a model: ``costgcn_mod`` -> ``CoST-GCN*``, ``stgcn_original`` -> ``ST-GCN (original)``."""
    s = spec(name)
    return _BY_NAME[s.family].model_display(s.mod, s.continual)


def live_defaults(model: str, layout: str) -> dict[str, dict]:
    """How ``model``'s family runs its published weights of ``layout`` live (see ``Family.live``): ``{"model_kwargs":
    ..., "live": ...}``, each empty where the family says nothing."""
    given = family_of(model).live.get(str(layout), {})
    return {"model_kwargs": dict(given.get("model_kwargs", {})), "live": dict(given.get("live", {}))}


def twin(name: str) -> str:
    """The regular twin of a continual model and the reverse (``costgcn_mod`` <-> ``stgcn_mod``)."""
    s = spec(name)
    return _BY_NAME[s.family].model_name(s.mod, not s.continual)


def build(name: str, num_classes: int = 60, layout: str | Layout = "ntu25", in_channels: int = 3,
          num_persons: int = 2, **kwargs) -> SkeletonNet:
    """Build a registered model with fresh weights.

    ``base_channels`` sets the width: 64 is the reference network, a smaller multiple of 8 a slimmer one with the same
    depth and graph. The family's own options (e.g. ``edge_importance`` of the original ST-GCN) go to every model of
    the family; ``warm_start``, ``early_mode`` and ``clip_frames`` to the continual models only.
    """
    s = spec(name)
    fam = _BY_NAME[s.family]
    continual_only = [k for k in kwargs if k in CONTINUAL_KWARGS]
    if continual_only and not s.continual:
        raise TypeError(f"{name} is a regular model; {', '.join(continual_only)} apply to continual models only")
    cls = CoSkeletonNet if s.continual else SkeletonNet
    return cls(s, fam, num_classes=num_classes, layout=layout, in_channels=in_channels, num_persons=num_persons,
               **kwargs)
