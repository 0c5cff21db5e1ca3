"""cognn's checkpoint format and the one entry point that loads any supported checkpoint as a ready model.

Format: a safetensors file (``.safetensors``) holding the model's ``state_dict()`` under cognn's parameter names; the
header's ``__metadata__`` holds the fields of :data:`cognn.checkpoints.schema.FIELDS` as strings (JSON for lists and
dicts), with ``format = "cognn-checkpoint"``. Nothing in it is executable; a model built with
``cognn.models.build(model, num_classes, layout, in_channels=..., num_persons=..., **model_kwargs)`` takes the tensors
as they are.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .. import __version__
from ..atomic import AtomicOutput
from ..errors import InputFileError
from ..layouts import get_layout
from ..models import build, display_name, family_of, spec
from ..models.base import BASE_CHANNELS, DEFAULT_EARLY_MODE, CoSkeletonNet, SkeletonNet
from .architecture import check_against_tensors, check_finite
from .families import detect_foreign_family, read_foreign, sniff
from .quantized import QuantizedTensor, is_reserved
from .schema import FORMAT, FORMAT_VERSION, Checkpoint, complete_meta, decode_meta, encode_meta
from .st_bytes import serialize

__all__ = ["save_checkpoint", "read_checkpoint", "load_model", "model_from_checkpoint", "detect_family"]

#: keyword arguments only a continual model carries into a checkpoint
_CONTINUAL_KWARGS = ("clip_frames", "early_mode")
_SHOW = 6


def _model_meta(model: nn.Module) -> dict[str, Any]:
    """The architecture fields of a cognn model: model, layout, sizes and the keyword arguments that rebuild it
    (``base_channels``, family options and ``early_mode`` only where they differ from the defaults, so that files of
    reference models stay as they were)."""
    s = getattr(model, "spec", None)
    if s is None:
        raise TypeError(f"save_checkpoint needs a cognn model (from cognn.models.build), not {type(model).__name__}")
    net = cast(SkeletonNet, model)  # a model with a spec is one of cognn's
    meta: dict[str, Any] = {"model": s.name, "layout": net.layout.name, "num_classes": int(net.num_classes),
                            "in_channels": int(net.in_channels), "num_persons": int(net.num_persons)}
    kwargs: dict[str, Any] = {}
    if s.continual:
        co = cast(CoSkeletonNet, model)
        kwargs["clip_frames"] = int(co.clip_frames)
        if co.early_mode != DEFAULT_EARLY_MODE:
            kwargs["early_mode"] = co.early_mode
    if net.base_channels != BASE_CHANNELS:
        kwargs["base_channels"] = int(net.base_channels)
    for option, default in family_of(s.name).options.items():
        if net.options[option] != default:
            kwargs[option] = net.options[option]
    meta["model_kwargs"] = kwargs
    return meta


def _quantized_tensors(state: dict[str, torch.Tensor], quantized: Mapping[str, QuantizedTensor]) -> dict[str, Any]:
    """Replace each quantized tensor of ``state`` by its integer values plus scale and zero-point tensors; returns the
    ``quantization`` metadata. ValueError if a weight no longer equals its quantized values."""
    entries = {}
    for name, q in quantized.items():
        if name not in state:
            raise ValueError(f"quantized tensor {name!r} is not a tensor of the model")
        if not torch.equal(q.dequantize(), state[name].to(torch.float32)):
            raise ValueError(f"tensor {name!r} no longer equals its quantized values (the weights were changed); "
                             "save it without them")
        state.update(q.tensors(name))
        entries[name] = q.describe()
    return {"tensors": entries} if entries else {}


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any] | None = None,
                    quantized: Mapping[str, QuantizedTensor] | None = None) -> Path:
    """Write ``model``'s weights and ``meta`` as a cognn checkpoint (atomically, with the umask's permissions, the same
    bytes for the same weights and metadata); returns the path.

    The architecture fields (model, layout, num_classes, in_channels, num_persons, model_kwargs) come from the model;
    ``meta`` gives the rest (classes, modality, domain, preprocessing, fps, data, metrics, description, licence,
    source) and may repeat an architecture field only with the same value. ``quantized`` (e.g. ``Checkpoint.quantized``
    of a quantized file) stores those tensors as their integer values, scales and zero points, losslessly; each must
    still equal the model's weight. Raises ValueError for bad metadata, OutputError for a path that cannot be written.
    """
    arch = _model_meta(model)
    given = dict(meta or {})
    for key, value in arch.items():
        if key in given and given[key] != value and key != "model_kwargs":
            raise ValueError(f"meta[{key!r}] is {given[key]!r} but the model has {value!r}")
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    quantization = _quantized_tensors(tensors, quantized or {})
    full = complete_meta({**given, **arch, "quantization": quantization, "format": FORMAT,
                          "format_version": FORMAT_VERSION, "cognn_version": __version__})
    data = serialize(tensors, encode_meta(full))
    with AtomicOutput(path, what="checkpoint") as out:
        out.temp.write_bytes(data)
    return out.path


def _dequantize(tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                path: Path) -> tuple[dict[str, torch.Tensor], dict[str, QuantizedTensor]]:
    """The tensors with every quantized one dequantized (reserved scale/zero-point tensors removed) and the records."""
    spec_ = meta.get("quantization") or {}
    entries = spec_.get("tensors", {}) if isinstance(spec_, dict) else None
    if not isinstance(entries, dict):
        raise InputFileError(path, "metadata field 'quantization' is not {\"tensors\": {...}}", field="quantization")
    records = {}
    for name, info in entries.items():
        try:
            records[name] = QuantizedTensor.from_tensors(name, info, tensors)
        except ValueError as e:
            raise InputFileError(path, str(e), field="quantization") from None
    state = {k: v for k, v in tensors.items() if not is_reserved(k)}
    extra = len(tensors) - len(state) - 2 * len(records)
    if extra:
        raise InputFileError(path, f"holds {extra} quantization tensors that no quantized tensor uses")
    state.update({k: q.dequantize() for k, q in records.items()})
    return state, records


def _read_cognn(path: Path, header: dict[str, str], f) -> Checkpoint:
    meta = decode_meta(header, path)
    state, records = _dequantize({k: f.get_tensor(k) for k in f.keys()}, meta, path)
    fam = family_of(meta["model"])
    notes = []
    if fam.foreign is not None and fam.foreign.recognise(list(state)):  # written with the family's own key names
        state = fam.foreign.to_cognn(state)
        records = fam.foreign.to_cognn(records) if records else records
        notes.append(f"mapped the key names of the {fam.foreign.description} to cognn's")
    check_against_tensors(meta, state, path)
    return Checkpoint(state, meta, "cognn", path, notes, quantized=records)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read any supported checkpoint (ours or a foreign family) without building a model.

    Metadata are checked against sane bounds and against the tensors' shapes, and weights must be finite. Raises
    :class:`~cognn.errors.InputFileError` naming the file for anything unreadable, unsafe or inconsistent.
    """
    path = Path(path)
    container = sniff(path)
    ck = None
    if container == "safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                header = dict(f.metadata() or {})
                if header.get("format") == FORMAT:
                    ck = _read_cognn(path, header, f)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            if isinstance(e, InputFileError):
                raise
            raise InputFileError(path, f"is a damaged safetensors file ({str(e).strip().rstrip('.')})") from None
        if ck is None and "format" in header:
            raise InputFileError(path, f"is a {header['format'][:40]!r} file, not a checkpoint", field="format")
    if ck is None:
        ck = read_foreign(path, container)
    check_finite(ck.state_dict, path)
    return ck


def detect_family(path: str | Path) -> str:
    """The family of a checkpoint file (one of :data:`cognn.checkpoints.families.FAMILIES`), read from the file
    itself: ours (safetensors, read whole to check it) or a foreign one (:mod:`cognn.checkpoints.families`)."""
    path = Path(path)
    container = sniff(path)
    if container == "safetensors":
        return read_checkpoint(path).family
    return detect_foreign_family(path, container)


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
                          **model_kwargs: Any) -> SkeletonNet:
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
    allowed = {"base_channels", *family_of(name).options, *(_CONTINUAL_KWARGS if spec(name).continual else ())}
    kwargs = {k: v for k, v in meta.get("model_kwargs", {}).items() if k in allowed}
    kwargs.update(model_kwargs)
    try:
        net = build(name, num_classes=meta["num_classes"], layout=meta["layout"], in_channels=meta["in_channels"],
                    num_persons=meta["num_persons"], **kwargs)
    except (TypeError, ValueError) as e:
        raise InputFileError(ck.path, f"cannot be built as {name} ({' '.join(str(e).split()).rstrip('.')})") from None
    net.load_state_dict(_matched_state(net, ck.state_dict, ck.path, name))
    net.eval().to(device)
    net.checkpoint_meta = dict(meta)
    net.checkpoint_family = ck.family
    return net


def load_model(path: str | Path, *, model: str | None = None, num_classes: int | None = None,
               layout: str | None = None, device: str | torch.device = "cpu",
               **model_kwargs: Any) -> SkeletonNet:
    """Load any supported checkpoint as a ready model (eval mode) from the file alone.

    ``model`` overrides the architecture within the file's family (e.g. load a regular ST-GCN* file into
    ``costgcn_mod``); see :func:`model_from_checkpoint` for the other arguments.
    """
    return model_from_checkpoint(read_checkpoint(path), model=model, num_classes=num_classes, layout=layout,
                                 device=device, **model_kwargs)
