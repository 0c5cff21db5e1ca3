"""The metadata of a cognn checkpoint: fields, defaults, validation, and their string form in a safetensors header.

A safetensors header's ``__metadata__`` maps strings to strings; numbers are written in decimal and lists/dicts as
JSON. In Python the metadata is a plain dict with typed values (see :data:`FIELDS`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..data import conventions
from ..domains import DOMAINS, LAYOUT_DOMAIN
from ..errors import InputFileError
from ..layouts import get_layout

__all__ = ["FORMAT", "FORMAT_VERSION", "FIELDS", "MODALITIES", "DEFAULT_PREPROCESSING", "PREPROCESSING",
           "PREPROCESSING_ALIASES", "NTU_PRE_NORMALIZATION", "STGCN_KINETICS_FEEDER", "AGCN_KINETICS_FEEDER",
           "canonical_preprocessing", "LIMITS", "Checkpoint", "complete_meta", "encode_meta", "decode_meta",
           "check_meta"]

FORMAT = "cognn-checkpoint"
FORMAT_VERSION = 1

#: field -> (type, meaning). ``list``/``dict`` fields are JSON in the header.
FIELDS: dict[str, tuple[type, str]] = {
    "format": (str, f'always "{FORMAT}"'),
    "format_version": (int, "version of this schema"),
    "model": (str, "model name, e.g. stgcn_mod or costgcn_mod (cognn.models.names()) or stgcn_original"),
    "layout": (str, "skeleton layout: ntu25 | kinetics18"),
    "num_classes": (int, "number of output classes"),
    "classes": (list, "class names, index = label; [] when unknown"),
    "in_channels": (int, "channels per joint (3)"),
    "num_persons": (int, "persons per frame (M, 2)"),
    "modality": (str, "input modality: joint | bone | motion | bone_motion"),
    "domain": (str, "input domain (cognn.domains): camera3d | image2d"),
    "preprocessing": (str, "preprocessing of the training data: a name of PREPROCESSING (2s-agcn-pre-normalization, "
                           "stgcn-kinetics-feeder, 2s-agcn-kinetics-feeder), none, or another name"),
    "preprocessing_version": (int, "version of that preprocessing"),
    "fps": (float, "frame rate of the training data"),
    "data": (str, "training data, e.g. ntu60-xsub"),
    "metrics": (dict, "evaluation results, e.g. {\"top1\": 0.863}"),
    "live": (dict, "defaults for live use (cognn.live): labels {alpha, margin, hold, threshold} of the steady "
                   "labels; alarms {thresholds, min_duration, repetitive} per class"),
    "description": (str, "free text"),
    "licence": (str, "licence of the weights"),
    "cognn_version": (str, "cognn version that wrote the file"),
    "model_kwargs": (dict, "extra keyword arguments of the model (continual: clip_frames, early_mode; a slim "
                           "network: base_channels; the original ST-GCN: edge_importance)"),
    "quantization": (dict, "quantized tensors kept as integers: {\"tensors\": {name: {\"dtype\": \"qint8\", "
                           "\"scheme\": \"per_channel_affine\", \"axis\": 0}}}; {} for none"),
    "source": (dict, "where the weights came from (family, file name, sha256 of a converted file)"),
    "training_clips": (list, "the clips a model learnt from, each {clip, class, person, source, licence} (the model "
                             "card of a model trained on named clips)"),
    "teach": (dict, "how cognn-teach made the model: {base, had_none, folder}"),
}
_REQUIRED = ("format", "format_version", "model", "layout", "num_classes")
MODALITIES = ("joint", "bone", "motion", "bone_motion")

#: the preprocessing conventions, named in one place: cognn.data.conventions (re-exported here under the names the
#: checkpoint code uses)
NTU_PRE_NORMALIZATION = conventions.AGCN_NTU
STGCN_KINETICS_FEEDER = conventions.STGCN_KINETICS
AGCN_KINETICS_FEEDER = conventions.AGCN_KINETICS
PREPROCESSING = {name: c.description for name, c in conventions.CONVENTIONS.items()}
#: older names, read as the canonical ones
PREPROCESSING_ALIASES = {"kinetics-feeder": AGCN_KINETICS_FEEDER}
#: preprocessing of the reference datasets of each layout
DEFAULT_PREPROCESSING = {"ntu25": (NTU_PRE_NORMALIZATION, 1), "kinetics18": (AGCN_KINETICS_FEEDER, 1)}
#: sane bounds on numbers a file may claim (checked before anything is allocated)
LIMITS = {"num_classes": 100_000, "in_channels": 64, "num_persons": 64, "base_channels": 1024,
          "clip_frames": 100_000, "fps": 10_000.0}


def canonical_preprocessing(name: str) -> str:
    """The canonical name of a preprocessing convention (``kinetics-feeder`` -> ``2s-agcn-kinetics-feeder``)."""
    return PREPROCESSING_ALIASES.get(name, name)


@dataclass
class Checkpoint:
    """A checkpoint read from disk: tensors under cognn's parameter names, metadata, and the family it came from.

    ``family`` is ``"cognn"`` (our format) or the foreign family (see :mod:`cognn.checkpoints.families`); ``notes``
    say what was inferred or dropped while reading.
    """

    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any]
    family: str
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: quantized records by cognn name (their dequantized values are in ``state_dict``); kept for lossless writing
    quantized: dict[str, Any] = field(default_factory=dict)


def _defaults(layout: str) -> dict[str, Any]:
    prep, version = DEFAULT_PREPROCESSING.get(layout, ("none", 1))
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "classes": [], "in_channels": 3, "num_persons": 2,
            "modality": "joint", "domain": LAYOUT_DOMAIN.get(layout, ""), "preprocessing": prep,
            "preprocessing_version": version, "fps": 30.0, "data": "", "metrics": {}, "description": "",
            "licence": "", "cognn_version": __version__, "model_kwargs": {}, "quantization": {}, "source": {}}


def check_meta(meta: dict[str, Any]) -> None:
    """Raise ValueError (one sentence) if ``meta`` is not a complete, consistent metadata dict."""
    from ..models import spec

    for key in _REQUIRED:
        if key not in meta:
            raise ValueError(f"metadata field {key!r} is missing")
    for key, (typ, _) in FIELDS.items():
        if key in meta and not isinstance(meta[key], typ) and not (typ is float and isinstance(meta[key], int)):
            raise ValueError(f"metadata field {key!r} must be {typ.__name__}, not {type(meta[key]).__name__}")
    if meta["format"] != FORMAT:
        raise ValueError(f"format is {meta['format']!r}, not {FORMAT!r}")
    if meta["format_version"] > FORMAT_VERSION:
        raise ValueError(f"format version {meta['format_version']} is newer than this cognn reads ({FORMAT_VERSION}); "
                         "update cognn")
    spec(meta["model"])
    get_layout(meta["layout"])
    for key in ("num_classes", "in_channels", "num_persons"):
        if key in meta and not 1 <= meta[key] <= LIMITS[key]:
            raise ValueError(f"{key} must be between 1 and {LIMITS[key]:,}, not {meta[key]:,}")
    if "fps" in meta and not 0 < meta["fps"] <= LIMITS["fps"]:
        raise ValueError(f"fps must be positive and at most {LIMITS['fps']:g}, not {meta['fps']}")
    _check_model_kwargs(meta["model"], meta.get("model_kwargs") or {})
    classes = meta.get("classes", [])
    if classes and (len(classes) != meta["num_classes"] or not all(isinstance(c, str) for c in classes)):
        raise ValueError(f"classes lists {len(classes)} names for {meta['num_classes']} classes")
    if meta.get("modality", "joint") not in MODALITIES:
        raise ValueError(f"unknown modality {meta['modality']!r}; known: {', '.join(MODALITIES)}")
    if meta.get("domain") and meta["domain"] not in DOMAINS:
        raise ValueError(f"unknown input domain {meta['domain']!r}; known: {', '.join(DOMAINS)}")


def _check_model_kwargs(model: str, kwargs: dict[str, Any]) -> None:
    """Every keyword argument known to ``model`` and of a sane value."""
    from ..models import EARLY_MODES, family_of, spec

    fam = family_of(model)
    allowed = {"base_channels", *fam.options, *(("clip_frames", "early_mode") if spec(model).continual else ())}
    for key, value in kwargs.items():
        if key not in allowed:
            raise ValueError(f"model_kwargs has {key!r}, which {model} does not take (it takes "
                             f"{', '.join(sorted(allowed))})")
        if key in ("base_channels", "clip_frames"):
            if type(value) is not int or not 1 <= value <= LIMITS[key]:
                raise ValueError(f"model_kwargs {key} must be a whole number from 1 to {LIMITS[key]:,}, not {value!r}")
            if key == "base_channels" and value % 8:
                raise ValueError(f"model_kwargs base_channels must be a multiple of 8, not {value}")
        elif key == "early_mode" and value not in EARLY_MODES:
            raise ValueError(f"model_kwargs early_mode must be one of {', '.join(EARLY_MODES)}, not {value!r}")
        elif key in fam.options and type(value) is not type(fam.options[key]):
            raise ValueError(f"model_kwargs {key} must be a {type(fam.options[key]).__name__}, not {value!r}")


def complete_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with every schema field present (defaults for the missing ones), checked; raises ValueError."""
    if "layout" not in meta:
        raise ValueError("metadata field 'layout' is missing")
    out = _defaults(str(meta["layout"]))
    out.update({k: v for k, v in meta.items() if v is not None})
    if isinstance(out.get("preprocessing"), str):
        out["preprocessing"] = canonical_preprocessing(out["preprocessing"])
    check_meta(out)
    return _ordered(out)


def _ordered(meta: dict[str, Any]) -> dict[str, Any]:
    """Schema fields first, in schema order, then any others."""
    return {**{k: meta[k] for k in FIELDS if k in meta}, **{k: v for k, v in meta.items() if k not in FIELDS}}


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=isinstance(value, dict))
    if isinstance(value, (int, float)):
        return repr(value)
    raise ValueError(f"metadata value {value!r} of type {type(value).__name__} cannot be stored")


def encode_meta(meta: dict[str, Any]) -> dict[str, str]:
    """The safetensors header form: every value a string."""
    return {str(k): _to_str(v) for k, v in meta.items()}


def decode_meta(header: dict[str, str], path: str | Path) -> dict[str, Any]:
    """Parse a header written by :func:`encode_meta`; raises :class:`InputFileError` naming the bad field."""
    meta: dict[str, Any] = {}
    for key, text in header.items():
        typ = FIELDS.get(key, (str, ""))[0]
        try:
            if typ is str:
                meta[key] = text
            elif typ is int:
                meta[key] = int(text)
            elif typ is float:
                meta[key] = float(text)
            else:
                value = json.loads(text)
                if not isinstance(value, typ):
                    raise ValueError
                meta[key] = value
        except ValueError:
            raise InputFileError(path, f"metadata field {key!r} is not a valid {typ.__name__}: {text[:60]!r}",
                                 field=key) from None
    try:
        check_meta(meta)
    except ValueError as e:
        raise InputFileError(path, f"bad metadata: {e}") from None
    if isinstance(meta.get("preprocessing"), str):
        meta["preprocessing"] = canonical_preprocessing(meta["preprocessing"])
    return _ordered({**_defaults(meta["layout"]), **meta})
