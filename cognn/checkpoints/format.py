"""cognn's checkpoint format and the one entry point that loads any supported checkpoint as a ready model.

Format: a safetensors file (``.safetensors``) holding the model's ``state_dict()`` under cognn's parameter names; the
header's ``__metadata__`` holds the fields of :data:`cognn.checkpoints.schema.FIELDS` as strings (JSON for lists and
dicts), with ``format = "cognn-checkpoint"``. Nothing in it is executable; a model built with
``cognn.models.build(model, num_classes, layout, in_channels=..., num_persons=..., **model_kwargs)`` takes the tensors
as they are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..errors import InputFileError
from ..layouts import get_layout
from ..models.base import BASE_CHANNELS
from ..models.stgcn_original import NAME
from ..models import build, display_name, spec
from .families import read_foreign, sniff
from .schema import FORMAT, FORMAT_VERSION, Checkpoint, complete_meta, decode_meta, encode_meta

__all__ = ["save_checkpoint", "read_checkpoint", "load_model", "model_from_checkpoint"]

#: keyword arguments a checkpoint may carry, by weight family of the model built (``base_channels`` only when it is
#: not the reference width, so that files of reference-width models stay as they were)
_WIDTH_KWARGS = ("base_channels",)
_CONTINUAL_KWARGS = ("clip_frames",)
_ORIGINAL_KWARGS = ("edge_importance",)
_SHOW = 6


def _model_meta(model: nn.Module) -> dict[str, Any]:
    spec = getattr(model, "spec", None)
    if spec is None:
        raise TypeError(f"save_checkpoint needs a cognn model (from cognn.models.build), not {type(model).__name__}")
    meta = {"model": spec.name, "layout": model.layout.name, "num_classes": int(model.num_classes),
            "in_channels": int(model.in_channels), "num_persons": int(model.num_persons)}
    if spec.family == "stgcn_original":
        meta["model_kwargs"] = {"edge_importance": model.edge_importance_weighting}
        return meta
    kwargs = {k: getattr(model, k) for k in _CONTINUAL_KWARGS} if spec.continual else {}
    if model.base_channels != BASE_CHANNELS:
        kwargs["base_channels"] = int(model.base_channels)
    meta["model_kwargs"] = kwargs
    return meta


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and ``meta`` as a cognn checkpoint; returns the path.

    The architecture fields (model, layout, num_classes, in_channels, num_persons, model_kwargs) come from the model;
    ``meta`` gives the rest (classes, modality, domain, preprocessing, fps, data, metrics, description, licence,
    source) and may repeat an architecture field only with the same value. Raises ValueError for bad metadata.
    """
    path = Path(path)
    arch = _model_meta(model)
    given = dict(meta or {})
    for key, value in arch.items():
        if key in given and given[key] != value and key != "model_kwargs":
            raise ValueError(f"meta[{key!r}] is {given[key]!r} but the model has {value!r}")
    full = complete_meta({**given, **arch, "format": FORMAT, "format_version": FORMAT_VERSION,
                          "cognn_version": __version__})
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".partial")
    try:
        save_file(tensors, str(tmp), metadata=encode_meta(full))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read any supported checkpoint (ours or a foreign family) without building a model.

    Raises :class:`~cognn.errors.InputFileError` naming the file for anything unreadable, unsafe or inconsistent.
    """
    path = Path(path)
    container = sniff(path)
    if container == "safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                header = dict(f.metadata() or {})
                if header.get("format") == FORMAT:
                    meta = decode_meta(header, path)
                    state = {k: f.get_tensor(k) for k in f.keys()}
                    return Checkpoint(state, meta, "cognn", path)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            if isinstance(e, InputFileError):
                raise
            raise InputFileError(path, f"is a damaged safetensors file ({str(e).strip().rstrip('.')})") from None
        if "format" in header:
            raise InputFileError(path, f"is a {header['format']!r} file, not a checkpoint", field="format")
    return read_foreign(path, container)


def _list(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    return shown + (f" and {len(keys) - _SHOW} more" if len(keys) > _SHOW else "")


def _matched_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path | None,
                   name: str) -> dict[str, torch.Tensor]:
    """``state`` checked against ``net``'s keys and shapes; missing BatchNorm counters are filled in."""
    expected = net.state_dict()
    state = dict(state)
    for key in expected:
        if key not in state and key.endswith(".num_batches_tracked"):  # absent from files of torch < 0.4.1
            state[key] = expected[key].clone()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in expected
             if k in state and state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({_list(missing)})")
    if extra:
        problems.append(f"{len(extra)} left over ({_list(extra)})")
    if wrong:
        problems.append(f"{len(wrong)} with the wrong shape, file vs model ({_list(wrong)})")
    if problems:
        raise InputFileError(path, f"its tensors do not fit {name}: keys {'; '.join(problems)}")
    return {k: state[k].to(expected[k].dtype) if state[k].is_floating_point() else state[k] for k in expected}


def model_from_checkpoint(ck: Checkpoint, *, model: str | None = None, num_classes: int | None = None,
                          layout: str | None = None, device: str | torch.device = "cpu",
                          **model_kwargs: Any) -> nn.Module:
    """Build the checkpoint's model (or ``model``, a model of the same family) with its weights, in eval mode.

    ``num_classes`` and ``layout`` are checks: asking for other values than the file holds raises InputFileError.
    ``model_kwargs`` go to continual models (``warm_start``, ``clip_frames``) over those stored in the file.
    The returned model carries the metadata as ``checkpoint_meta`` and the family as ``checkpoint_family``.
    """
    meta = ck.meta
    name = spec(model or meta["model"]).name
    if spec(name).family != spec(meta["model"]).family:
        raise InputFileError(ck.path, f"holds {display_name(meta['model'])} weights, which cannot be loaded into "
                                      f"{display_name(name)} (another network family)")
    if num_classes is not None and num_classes != meta["num_classes"]:
        raise InputFileError(ck.path, f"has {meta['num_classes']} classes but {num_classes} were asked for")
    if layout is not None and get_layout(layout).name != meta["layout"]:
        want, have = get_layout(layout), get_layout(meta["layout"])
        raise InputFileError(ck.path, f"is for layout {have.name} ({have.num_joints} joints) but {want.name} "
                                      f"({want.num_joints} joints) was asked for")
    family = spec(name).family
    allowed = (_ORIGINAL_KWARGS if family == NAME else
               _WIDTH_KWARGS + (_CONTINUAL_KWARGS if spec(name).continual else ()))
    kwargs = {k: v for k, v in meta.get("model_kwargs", {}).items() if k in allowed}
    kwargs.update(model_kwargs)
    try:
        net = build(name, num_classes=meta["num_classes"], layout=meta["layout"], in_channels=meta["in_channels"],
                    num_persons=meta["num_persons"], **kwargs)
    except TypeError as e:
        raise ValueError(str(e)) from None
    net.load_state_dict(_matched_state(net, ck.state_dict, ck.path, name))
    net.eval().to(device)
    net.checkpoint_meta = dict(meta)
    net.checkpoint_family = ck.family
    return net


def load_model(path: str | Path, *, model: str | None = None, num_classes: int | None = None,
               layout: str | None = None, device: str | torch.device = "cpu", **model_kwargs: Any) -> nn.Module:
    """Load any supported checkpoint as a ready model (eval mode) from the file alone.

    ``model`` overrides the architecture within the file's family (e.g. load a regular ST-GCN* file into
    ``costgcn_mod``); see :func:`model_from_checkpoint` for the other arguments.
    """
    return model_from_checkpoint(read_checkpoint(path), model=model, num_classes=num_classes, layout=layout,
                                 device=device, **model_kwargs)
