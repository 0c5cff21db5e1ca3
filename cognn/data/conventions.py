"""Preprocessing conventions: how a checkpoint's training data was prepared, applied the same way on every path.

Every source gives skeletons in its domain's plain form (:mod:`cognn.sources`): ``camera3d`` metres as the sensor
measured them, ``image2d`` as the st-gcn Kinetics feeder builds a frame (``x / w - 0.5``, ``y / h - 0.5`` with y
pointing down, zeros where the score is 0, persons ranked by score). A checkpoint names its convention in its
metadata (``preprocessing``); :class:`FramePrep` applies it frame by frame (live use, replays, the camera) and
:func:`prepare_clip` to whole clips (training data), with the same per-frame function:

=============================  ==========  ========================================================================
 convention (metadata name)     mode        what it does after the plain form
=============================  ==========  ========================================================================
 ``2s-agcn-pre-normalization``  ``ntu``     centre on person 0's spine-mid, two rotations fixed at the first frame
                                            with a person (causal form of the reference ``pre_normalization``)
 ``stgcn-kinetics-feeder``      ``stgcn-    nothing: the original st-gcn feeder (yysijie/st-gcn, the released
                                kinetics``  Kinetics-400 ST-GCN) uses the plain form
 ``2s-agcn-kinetics-feeder``    ``kinetics`` y negated (2s-AGCN / continual-skeletons ``kinetics_gendata``);
 (old files: ``kinetics-feeder``)           ``x = y = 0`` stays where the score is 0
 ``none``                       ``none``    nothing
=============================  ==========  ========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domains import CAMERA3D, IMAGE2D, LAYOUT_DOMAIN
from ..layouts import Layout, get_layout

__all__ = ["Convention", "CONVENTIONS", "MODES", "convention", "convention_for", "preprocess_mode", "FramePrep",
           "prepare_clip", "STGCN_KINETICS", "AGCN_KINETICS", "AGCN_NTU"]

AGCN_NTU = "2s-agcn-pre-normalization"
STGCN_KINETICS = "stgcn-kinetics-feeder"
AGCN_KINETICS = "2s-agcn-kinetics-feeder"


@dataclass(frozen=True)
class Convention:
    """One preprocessing convention: its metadata ``name``, short ``mode``, the domain it applies to, and whether
    the y axis of the plain form is negated."""

    name: str
    mode: str
    domain: str | None
    description: str
    negate_y: bool = False
    #: the causal NTU normalisation (a state fixed at the first frame with a person)
    normalise: bool = False


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention(AGCN_NTU, "ntu", CAMERA3D, "2s-AGCN pre-normalization: centred on the spine, rotated at the first "
               "frame (causal)", normalise=True),
    Convention(STGCN_KINETICS, "stgcn-kinetics", IMAGE2D, "st-gcn Kinetics feeder: x/w - 0.5, y/h - 0.5 (y down), "
               "zeros where the score is 0"),
    Convention(AGCN_KINETICS, "kinetics", IMAGE2D, "2s-AGCN Kinetics feeder: as st-gcn's with y negated",
               negate_y=True),
    Convention("none", "none", None, "used as the source gives it"),
)}
_ALIASES = {"kinetics-feeder": AGCN_KINETICS, "ntu": AGCN_NTU, "kinetics": AGCN_KINETICS,
            "stgcn-kinetics": STGCN_KINETICS, "2s-agcn-pre_normalization": AGCN_NTU}
#: the short mode names, in table order
MODES = tuple(c.mode for c in CONVENTIONS.values())


def convention(name: str) -> Convention:
    """The convention of a metadata name, an old alias or a mode; ValueError listing the known ones."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in CONVENTIONS:
        return CONVENTIONS[key]
    by_mode = {c.mode: c for c in CONVENTIONS.values()}
    if key in by_mode:
        return by_mode[key]
    raise ValueError(f"unknown preprocessing {name!r}; known: {', '.join(CONVENTIONS)}")


def convention_for(meta: dict[str, Any] | None, layout: str | Layout) -> Convention:
    """The convention a checkpoint declares (``preprocessing``), else its domain's usual one."""
    meta = meta or {}
    prep = str(meta.get("preprocessing") or "").strip()
    if prep:
        try:
            return convention(prep)
        except ValueError:
            pass
    domain = meta.get("domain") or LAYOUT_DOMAIN.get(get_layout(layout).name, CAMERA3D)
    return CONVENTIONS[AGCN_NTU] if domain == CAMERA3D else CONVENTIONS[AGCN_KINETICS]


def preprocess_mode(meta: dict[str, Any] | None, layout: str) -> str:
    """The short mode (``ntu``, ``stgcn-kinetics``, ``kinetics``, ``none``) for a checkpoint's metadata."""
    return convention_for(meta, layout).mode


class FramePrep:
    """Applies a convention to one stream of frames ``(C, V, M)`` (the NTU normalisation keeps its reference frame
    until :meth:`reset`); ``modality="bone"`` turns joints into bones after it."""

    def __init__(self, conv: Convention | str, layout: str | Layout, modality: str = "joint") -> None:
        self.convention = conv if isinstance(conv, Convention) else convention(conv)
        self.layout = get_layout(layout)
        if modality not in ("joint", "bone"):
            raise ValueError(f"the online pipeline feeds the joint or bone modality, not {modality!r} (motion needs "
                             "the next frame)")
        self.modality = modality
        self._normalizer = None
        if self.convention.normalise:
            from .transforms import OnlineNormalizer

            self._normalizer = OnlineNormalizer(self.layout)

    def reset(self) -> None:
        if self._normalizer is not None:
            self._normalizer.reset()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """One frame ``(C, V, M)`` -> float32 ``(C, V, M)`` as the model was trained on."""
        y = np.array(x, np.float32, copy=True)
        if self._normalizer is not None:
            y = self._normalizer(y)
        if self.convention.negate_y:
            y[1] = -y[1]
        if self.modality == "bone":
            from .transforms import bone

            y = bone(y, self.layout)
        return y


def prepare_clip(clip: np.ndarray, conv: Convention | str, layout: str | Layout) -> np.ndarray:
    """A whole clip ``(C, T, V, M)`` through the per-frame convention (training data of the Kinetics conventions;
    the NTU convention's offline form is :func:`cognn.data.transforms.pre_normalization`)."""
    prep = FramePrep(conv, layout)
    if prep.convention.normalise:
        from .transforms import pre_normalization

        return pre_normalization(np.asarray(clip, np.float32)[None], layout)[0]
    return np.stack([prep(clip[:, t]) for t in range(clip.shape[1])], axis=1) if clip.shape[1] else \
        np.asarray(clip, np.float32).copy()
