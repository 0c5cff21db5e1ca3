"""Input domains of live data: what a checkpoint expects, MediaPipe output converted to it, mismatches refused.

Each checkpoint declares its input domain in its metadata (``domain``: :data:`cognn.domains.CAMERA3D` — 3-D metres in
NTU camera space — or :data:`cognn.domains.IMAGE2D` — 2-D normalised image coordinates with a confidence) and its
training frame rate (``fps``). :func:`mediapipe_to_domain` converts one MediaPipe person to a layout in a domain;
:func:`check_domain` refuses a mismatched pair with one sentence naming both.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..domains import CAMERA3D, DOMAINS, IMAGE2D, LAYOUT_DOMAIN
from ..errors import CognnError
from ..layouts import Layout, get_layout
from .resample import DEFAULT_FPS

__all__ = ["DomainMismatchError", "check_domain", "model_domain", "model_fps", "checkpoint_meta",
           "mediapipe_to_domain", "people_to_domain"]


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


def mediapipe_to_domain(person, layout: str | Layout, domain: str, width: int, height: int, *,
                        root: bool = True, hfov_deg: float = 65.0) -> np.ndarray:
    """One MediaPipe person (:class:`cognn.pose.PersonPose`) -> ``(V, 3)`` joints of ``layout`` in ``domain``.

    ``camera3d``: world landmarks turned to NTU camera axes (metres), placed in camera space by a pinhole fit when
    ``root``. ``image2d``: pixel landmarks normalised to ``x / width - 0.5``, ``y / height - 0.5`` plus the joint's
    visibility as the score (zeros where it is 0). Any layout works with either domain.
    """
    from ..pose import mapping

    lay = get_layout(layout)
    matrix = {"ntu25": mapping.NTU25_FROM_MP, "kinetics18": mapping.KINETICS18_FROM_MP}.get(lay.name)
    if matrix is None:
        raise ValueError(f"no MediaPipe mapping for layout {lay.name!r}")
    if domain == CAMERA3D:
        offset = None
        if root:
            offset = mapping.estimate_root_translation(person.world, person.image_norm, width, height,
                                                       hfov_deg=hfov_deg, visibility=person.visibility)
        if lay.name == "ntu25":
            return mapping.mediapipe_to_ntu25(person.world, root=offset)
        xyz = mapping.mp_world_to_ntu_axes(matrix @ person.world)
        return (xyz if offset is None else xyz + offset).astype(np.float32)
    if domain == IMAGE2D:
        if lay.name == "kinetics18":
            k18 = mapping.mediapipe_to_kinetics18(person.image_px, person.visibility, width, height)
            return mapping.normalize_kinetics(k18, width, height)
        px = matrix @ person.image_px
        score = mapping.ntu25_visibility(person.visibility)
        out = np.concatenate([px, score[:, None]], axis=1).astype(np.float32)
        return mapping.normalize_kinetics(out, width, height)
    raise DomainMismatchError(f"unknown input domain {domain!r}; known: {', '.join(DOMAINS)}")


def people_to_domain(people: Sequence, layout: str | Layout, domain: str, width: int, height: int, **kw
                     ) -> np.ndarray:
    """Several MediaPipe people -> ``(N, V, 3)`` (see :func:`mediapipe_to_domain`)."""
    lay = get_layout(layout)
    if not people:
        return np.zeros((0, lay.num_joints, 3), np.float32)
    return np.stack([mediapipe_to_domain(p, lay, domain, width, height, **kw) for p in people])
