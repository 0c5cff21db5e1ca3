"""Model names a checkpoint may carry: the registered models plus the original ST-GCN (not in the registry).

``family_of(name)`` says which weights fit (``stgcn`` | ``agcn`` | ``str`` | ``stgcn_original``); ``build_model``
builds any of them with fresh weights.
"""
from __future__ import annotations

from typing import Any

from torch import nn

__all__ = ["check_name", "family_of", "is_continual", "display", "build_model"]


def _original():
    from ..models import stgcn_original

    return stgcn_original


def check_name(name: str) -> str:
    """``name`` if it is a model cognn can build, else ValueError listing the known names."""
    from ..models import names

    if name != _original().NAME and name not in names():
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(names() + [_original().NAME])}")
    return name


def family_of(name: str) -> str:
    """The weight family of a model name: models of one family load each other's checkpoints."""
    from ..models import spec

    return _original().NAME if check_name(name) == _original().NAME else spec(name).family


def is_continual(name: str) -> bool:
    from ..models import spec

    return check_name(name) != _original().NAME and spec(name).continual


def display(name: str) -> str:
    """The paper's name, e.g. ``CoST-GCN*``; ``ST-GCN (original)`` for the original network."""
    from ..models import display_name

    return "ST-GCN (original)" if check_name(name) == _original().NAME else display_name(name)


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build ``name`` with fresh weights (``num_classes``, ``layout``, ``in_channels``, ``num_persons``, extras)."""
    from ..models import build

    if check_name(name) == _original().NAME:
        return _original().build_original(**kwargs)
    return build(name, **kwargs)
