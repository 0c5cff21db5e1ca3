"""The architecture a state dict holds, read from tensor names and shapes through the family declarations
(:class:`cognn.models.Family`): which family claims the tensors, the class count, layout, input channels, persons,
width and family options — and whether a checkpoint's metadata agrees with its tensors before a model is built."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import InputFileError
from ..layouts import get_layout, layout_names
from ..models import FAMILIES, Family, family_of
from ..models.base import BASE_CHANNELS

__all__ = ["family_for", "infer_architecture", "check_against_tensors", "check_finite"]

#: what each shape fact is called in messages
_FACT_TEXT = {"num_classes": "classes", "joints": "joints", "in_channels": "input channels",
              "base_channels": "channels in its first layer", "data_bn_channels": "data_bn channels"}


def family_for(state_dict: Mapping[str, Any], path: str | Path | None = None) -> Family:
    """The family whose declaration claims these tensors (cognn names), or InputFileError naming the file."""
    keys = list(state_dict)
    found = [f for f in FAMILIES if f.claims(keys)]
    if len(found) != 1:
        known = " / ".join(f.model_display(False, False) for f in FAMILIES)
        sample = ", ".join(repr(k[:60]) for k in keys[:3])
        why = "no family recognises its tensor names" if not found else "its tensor names mix several families"
        raise InputFileError(path, f"is not an {known} checkpoint ({why}: {sample}{', ...' if len(keys) > 3 else ''})")
    return found[0]


def _layout_for(v: int, path: str | Path | None) -> str:
    layouts = [n for n in layout_names() if get_layout(n).num_joints == v]
    if not layouts:
        known = ", ".join(f"{get_layout(n).num_joints} ({n})" for n in layout_names())
        raise InputFileError(path, f"its graph has {v} joints; cognn knows layouts with {known}")
    return layouts[0]


def _persons(fam: Family, data_bn: int, joints: int, channels: int, path: str | Path | None) -> int:
    """Persons per frame from the data BatchNorm's size (a shared BN works for any count: 2, the reference)."""
    if fam.data_bn == "shared":
        if data_bn != joints * channels:
            raise InputFileError(path, f"data_bn has {data_bn} channels, not joints x channels "
                                       f"({joints} x {channels})")
        return 2
    if data_bn % (joints * channels) or data_bn == 0:
        raise InputFileError(path, f"data_bn has {data_bn} channels, not a multiple of joints x channels "
                                   f"({joints} x {channels})")
    return data_bn // (joints * channels)


def infer_architecture(state_dict: Mapping[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """``family`` (a Family name), ``num_classes``, ``layout``, ``in_channels``, ``num_persons`` and ``model_kwargs``
    (width and family options where they differ from the defaults) from tensor names and shapes (cognn names)."""
    fam = family_for(state_dict, path)
    facts = fam.facts(state_dict)
    for fact, (key, dims, _) in fam.shape_facts.items():
        if fact not in facts:
            have = state_dict.get(key)
            if have is None:
                raise InputFileError(path, f"has no {key!r}: not a complete {fam.model_display(False, False)} "
                                           "checkpoint")
            raise InputFileError(path, f"{key!r} has shape {tuple(have.shape)}, expected {dims} dimensions")
    joints, channels = facts["joints"], facts["in_channels"]
    kwargs: dict[str, Any] = {}
    base = facts["base_channels"]
    if base != BASE_CHANNELS:
        if base < 8 or base % 8:
            raise InputFileError(path, f"its first layer has {base} channels, not a positive multiple of 8")
        kwargs["base_channels"] = base
    for option, default in fam.options.items():
        if option in facts and facts[option] != default:
            kwargs[option] = facts[option]
    return {"family": fam.name, "num_classes": facts["num_classes"], "layout": _layout_for(joints, path),
            "in_channels": channels,
            "num_persons": _persons(fam, facts["data_bn_channels"], joints, channels, path),
            "model_kwargs": kwargs}


def check_against_tensors(meta: Mapping[str, Any], state_dict: Mapping[str, Any],
                          path: str | Path | None = None) -> None:
    """Raise InputFileError (one sentence naming the file) where ``meta`` and the tensors disagree on the class count,
    joints, input channels, width, persons or family options; tensors that are absent are left to the loader."""
    fam = family_of(meta["model"])
    facts = fam.facts(state_dict)
    kwargs = meta.get("model_kwargs") or {}
    joints = get_layout(meta["layout"]).num_joints
    persons = meta.get("num_persons", 2) if fam.data_bn == "persons" else 1
    expected = {"num_classes": meta["num_classes"], "joints": joints, "in_channels": meta.get("in_channels", 3),
                "base_channels": kwargs.get("base_channels", BASE_CHANNELS),
                "data_bn_channels": persons * joints * meta.get("in_channels", 3)}
    for fact, want in expected.items():
        if fact in facts and facts[fact] != want:
            text = _FACT_TEXT[fact]
            raise InputFileError(path, f"its metadata implies {want:,} {text} but its tensors have {facts[fact]:,}")
    for option, default in fam.options.items():
        if option in facts and facts[option] != kwargs.get(option, default):
            raise InputFileError(path, f"its metadata sets {option}={kwargs.get(option, default)} but its tensors "
                                       f"say {facts[option]}")


def check_finite(state_dict: Mapping[str, torch.Tensor], path: str | Path | None = None) -> None:
    """Raise InputFileError if a floating-point tensor holds NaN or infinite values (broken weights)."""
    for key, t in state_dict.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            share = "all" if bad == t.numel() else f"{bad:,} of"
            raise InputFileError(path, f"tensor {key!r} holds NaN or infinite values ({share} its {t.numel():,}): "
                                       "the weights are broken")
