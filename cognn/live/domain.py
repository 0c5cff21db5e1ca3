"""Input domains of live data: what a checkpoint expects, and mismatches refused.

Each checkpoint declares its input domain in its metadata (``domain``: :data:`cognn.domains.CAMERA3D` — 3-D metres in
NTU camera space — or :data:`cognn.domains.IMAGE2D` — 2-D normalised image coordinates with a confidence) and its
training frame rate (``fps``). Pose output is mapped to a domain by :func:`cognn.pose.mapping.people_to_domain`;
:func:`check_domain` refuses a mismatched pair with one sentence naming both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..domains import CAMERA3D, DOMAINS, IMAGE2D, LAYOUT_DOMAIN
from ..errors import CognnError
from ..layouts import Layout, get_layout
from .resample import DEFAULT_FPS

__all__ = ["DomainMismatchError", "check_domain", "model_domain", "model_fps", "checkpoint_meta"]


class DomainMismatchError(CognnError):
    """The data's domain is not the one the model was trained on."""


_SHORT = {CAMERA3D: "3-D joint positions in metres", IMAGE2D: "2-D normalised image coordinates with confidence"}


def _describe(domain: str) -> str:
    return f"{_SHORT.get(domain, 'an unknown input')} ({domain})"


def check_domain(model_domain: str, data_domain: str, *, model: str = "the model", data: str = "the input") -> None:
    """Raise :class:`DomainMismatchError` unless the two domains are the same (both must be known)."""
    for d in (model_domain, data_domain):
        if d not in DOMAINS:
            raise DomainMismatchError(f"unknown input domain {d!r}; known: {', '.join(DOMAINS)}")
    if model_domain != data_domain:
        raise DomainMismatchError(f"{model} expects {_describe(model_domain)} but {data} holds "
                                  f"{_describe(data_domain)}; use a model trained on {data_domain} input")


def checkpoint_meta(path: str | Path | None) -> dict[str, Any]:
    """The metadata of a checkpoint file (empty for None)."""
    if path is None:
        return {}
    from ..checkpoints import read_checkpoint

    return dict(read_checkpoint(path).meta)


def model_domain(meta: dict[str, Any] | None, layout: str | Layout) -> str:
    """The domain a checkpoint declares, else the usual one of its layout."""
    lay = get_layout(layout)
    domain = str((meta or {}).get("domain") or LAYOUT_DOMAIN[lay.name])
    if domain not in DOMAINS:
        raise DomainMismatchError(f"the checkpoint declares the unknown input domain {domain!r}; known: "
                                  f"{', '.join(DOMAINS)}")
    return domain


def model_fps(meta: dict[str, Any] | None) -> float:
    """The training frame rate a checkpoint declares (``fps``), else 30."""
    try:
        fps = float((meta or {}).get("fps") or DEFAULT_FPS)
    except (TypeError, ValueError):
        return DEFAULT_FPS
    return fps if 1.0 <= fps <= 1000.0 else DEFAULT_FPS
