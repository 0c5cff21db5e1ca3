"""Foreign checkpoint families: recognise a file from its bytes and keys, and map its tensors to cognn's names.

Containers (from the first bytes): ``safetensors`` (8-byte header length + JSON), ``torch-zip`` (PyTorch >= 1.6),
``torch-legacy`` (the older pickle stream). Torch files are read by :mod:`.safe_pickle`, which runs no code.

Families (what :func:`detect_family` returns):

``cognn``
    our own safetensors format (:mod:`.format`).
``continual-skeletons``
    a plain state dict (``stgcn_*.pt``, ``agcn_*.pt``, ``str_*.pt``) with the short keys cognn uses.
``lightning``
    a PyTorch-Lightning checkpoint (``*.ckpt``): only its ``state_dict`` is kept (short or long keys).
``opendr``
    a continual model's state dict with the long keys of the official continual models (``model_costgcn.pth``).
``stgcn-original``
    a state dict of the original ST-GCN (``st_gcn.ntu-xsub.pt``; keys ``st_gcn_networks.*``, ``edge_importance.*``,
    ``fcn.*``), built as :class:`cognn.models.stgcn_original.OriginalSTGCN`.
``safetensors``
    a plain safetensors state dict without cognn metadata.

The architecture (ST-GCN / AGCN / S-TR), class count, layout, input channels and persons come from tensor shapes:
``a_conv`` keys mean AGCN, ``attention_conv`` keys S-TR, otherwise ST-GCN; ``fc.weight`` gives the classes,
``layers.layer1.gcn.A`` the joints (25: ntu25, 18: kinetics18), ``layers.layer1.gcn.g_conv.0.weight`` the input
channels and ``data_bn`` (M·V·C) the persons. Whether the file holds a regular or a ``*`` model cannot be told from
the tensors (they are the same); the official file names say it (``stgcnmod_*``), else the regular model is assumed.
"""
from __future__ import annotations

import hashlib
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import InputFileError
from ..layouts import get_layout, layout_names
from ..models import spec
from .safe_pickle import LEGACY_MAGIC, UnsafePickleError, is_placeholder, load_torch_file
from .schema import Checkpoint, complete_meta

__all__ = ["sniff", "detect_family", "read_foreign", "infer_architecture", "long_to_short", "guess_from_filename",
           "is_original_stgcn", "FAMILIES"]

FAMILIES = ("cognn", "continual-skeletons", "lightning", "opendr", "stgcn-original", "safetensors")

_LONG_KEY = re.compile(r"^(layers\.layer\d+\.)0\.([01])\.")
_SAFETENSORS_MAX_HEADER = 100 * 2 ** 20

#: first token of an official file name -> cognn model (OpenDR's co* names are the ``*`` models)
_NAME_TOKENS = {"stgcn": "stgcn", "stgcnmod": "stgcn_mod", "agcn": "agcn", "agcnmod": "agcn_mod", "str": "str",
                "strmod": "str_mod", "costgcn": "costgcn_mod", "costgcnmod": "costgcn_mod", "coagcn": "coagcn_mod",
                "coagcnmod": "coagcn_mod", "costr": "costr_mod", "costrmod": "costr_mod"}
_DATA_TOKENS = {"ntu": "ntu60", "ntu60": "ntu60", "ntu120": "ntu120", "kinetics": "kinetics400",
                "kinetics400": "kinetics400"}
_BENCHMARKS = ("xsub", "xview", "xset")
_MODALITY_TOKENS = ("joint", "bone", "motion")


# ---------------------------------------------------------------------------------------------------------------------
# containers

def sniff(path: str | Path) -> str:
    """The container of a file from its first bytes: ``safetensors``, ``torch-zip`` or ``torch-legacy``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a folder, not a checkpoint file") from None
    except OSError as e:
        raise InputFileError(path, f"cannot be read ({e.strerror or e})") from None
    if not head:
        raise InputFileError(path, "is empty")
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if head.startswith(LEGACY_MAGIC):
        return "torch-legacy"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= _SAFETENSORS_MAX_HEADER and head[8:9] == b"{":
            if n > size - 8:
                raise InputFileError(path, "is a damaged safetensors file (its header is longer than the file)")
            return "safetensors"
    if head[:1] == b"\x80":
        raise InputFileError(path, "is a plain Python pickle, not a PyTorch or safetensors checkpoint; cognn does not "
                                   "load arbitrary pickles")
    raise InputFileError(path, "is not a checkpoint cognn can read (neither safetensors nor a PyTorch file)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_torch(path: Path, container: str) -> tuple[Any, list[str]]:
    kind = "zip" if container == "torch-zip" else "legacy"
    try:
        return load_torch_file(path, kind)
    except UnsafePickleError as e:
        raise InputFileError(path, f"refused: {e}") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, struct.error, OverflowError, MemoryError, RecursionError) as e:
        what = str(e).strip().rstrip(".") or type(e).__name__
        raise InputFileError(path, f"is damaged or not a PyTorch checkpoint ({what})") from None


def _read_safetensors_plain(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise InputFileError(path, f"is a damaged safetensors file ({str(e).strip().rstrip('.')})") from None
    return tensors, header


# ---------------------------------------------------------------------------------------------------------------------
# keys

def long_to_short(key: str) -> str:
    """Official continual-model key -> cognn key: drop ``0.1.`` after the layer name; ``0.0.residual`` -> ``residual``.
    """
    m = _LONG_KEY.match(key)
    if not m:
        return key
    rest = key[m.end():]
    if m.group(2) == "1":
        return m.group(1) + rest
    if rest.startswith("residual."):
        return m.group(1) + rest
    return key  # 0.0.<other>: not part of the official layout, reported as a left-over key


def _is_long(keys) -> bool:
    return any(_LONG_KEY.match(k) for k in keys)


def _tensor_dict(obj: Any, path: Path, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict) or not obj:
        raise InputFileError(path, f"{what} is not a non-empty mapping of names to tensors")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or type(v) not in (torch.Tensor, torch.nn.Parameter)]
    if bad:
        shown = ", ".join(f"{k!r} ({_describe(obj[k])})" for k in bad[:3])
        raise InputFileError(path, f"{what} holds {len(bad)} entries that are not tensors: {shown}")
    # views may overlap (a crafted file can make huge ones from a tiny storage): bound what the copies below allocate
    limit = 4 * path.stat().st_size + (1 << 20)
    sizes = {k: v.numel() * v.element_size() for k, v in obj.items()}
    if max(sizes.values()) > limit or sum(sizes.values()) > 4 * limit:
        big = max(sizes, key=sizes.get)
        raise InputFileError(path, f"tensor {big!r} claims {sizes[big]:,} bytes, far more than the file holds")
    out = {k: torch.Tensor.clone(torch.Tensor.detach(v), memory_format=torch.contiguous_format)
           for k, v in obj.items()}
    if all(k.startswith("module.") for k in out):  # saved from DataParallel
        out = {k[len("module."):]: v for k, v in out.items()}
    return out


def _describe(value: Any) -> str:
    if is_placeholder(value):
        return f"an object of {type(value).qualname if not isinstance(value, type) else value.qualname}"
    return type(value).__name__


def _need(state_dict: dict[str, torch.Tensor], key: str, dims: int, path: str | Path | None) -> torch.Tensor:
    if key not in state_dict:
        raise InputFileError(path, f"has no {key!r}: not an ST-GCN / AGCN / S-TR checkpoint")
    t = state_dict[key]
    if t.dim() != dims:
        raise InputFileError(path, f"{key!r} has shape {tuple(t.shape)}, expected {dims} dimensions")
    return t


def _layout_for(v: int, path: str | Path | None) -> str:
    layouts = [n for n in layout_names() if get_layout(n).num_joints == v]
    if not layouts:
        known = ", ".join(f"{get_layout(n).num_joints} ({n})" for n in layout_names())
        raise InputFileError(path, f"its graph has {v} joints; cognn knows layouts with {known}")
    return layouts[0]


def is_original_stgcn(state_dict: dict[str, torch.Tensor]) -> bool:
    """True for the key layout of the original ST-GCN (``st_gcn_networks.*``, ``fcn.*``)."""
    return any(k.startswith("st_gcn_networks.") for k in state_dict)


def infer_architecture(state_dict: dict[str, torch.Tensor], path: str | Path | None = None) -> dict[str, Any]:
    """Family (stgcn / agcn / str / stgcn_original), num_classes, layout, in_channels, num_persons (and, for the
    original ST-GCN, ``model_kwargs``) from tensor shapes."""
    if is_original_stgcn(state_dict):
        num_classes = _need(state_dict, "fcn.weight", 4, path).shape[0]
        v = _need(state_dict, "A", 3, path).shape[-1]
        c = _need(state_dict, "st_gcn_networks.0.gcn.conv.weight", 4, path).shape[1]
        if _need(state_dict, "data_bn.weight", 1, path).shape[0] != v * c:
            raise InputFileError(path, f"data_bn has {state_dict['data_bn.weight'].shape[0]} channels, not joints x "
                                       f"channels ({v} x {c})")
        return {"family": "stgcn_original", "num_classes": int(num_classes), "layout": _layout_for(v, path),
                "in_channels": int(c), "num_persons": 2,  # persons are folded into the batch: any M works
                "model_kwargs": {"edge_importance": "edge_importance.0" in state_dict}}
    keys = list(state_dict)
    if any(".a_conv." in k for k in keys):
        family = "agcn"
    elif any(".attention_conv." in k for k in keys):
        family = "str"
    else:
        family = "stgcn"
    num_classes = _need(state_dict, "fc.weight", 2, path).shape[0]
    v = _need(state_dict, "layers.layer1.gcn.A", 3, path).shape[-1]
    c = _need(state_dict, "layers.layer1.gcn.g_conv.0.weight", 4, path).shape[1]
    mvc = _need(state_dict, "data_bn.weight", 1, path).shape[0]
    if mvc % (v * c):
        raise InputFileError(path, f"data_bn has {mvc} channels, not a multiple of joints x channels ({v} x {c})")
    return {"family": family, "num_classes": int(num_classes), "layout": _layout_for(v, path), "in_channels": int(c),
            "num_persons": int(mvc // (v * c))}


def guess_from_filename(name: str) -> dict[str, str]:
    """What an official file name says: ``stgcnmod_ntu60_xsub_joint.ckpt`` -> model, dataset, benchmark, modality."""
    tokens = [t for t in re.split(r"[_\-.\s]+", Path(name).name.lower()) if t]
    out: dict[str, str] = {}
    for t in tokens:
        if t in _NAME_TOKENS and "model" not in out:
            out["model"] = _NAME_TOKENS[t]
        elif t in _DATA_TOKENS and "dataset" not in out:
            out["dataset"] = _DATA_TOKENS[t]
        elif t in _BENCHMARKS and "benchmark" not in out:
            out["benchmark"] = t
        elif t in _MODALITY_TOKENS and "modality" not in out:
            out["modality"] = t
    return out


def _class_list(dataset: str, num_classes: int) -> list[str]:
    try:
        from ..data.classes import class_names

        names = class_names(dataset)
    except Exception:  # the class lists are optional here: a file without them still loads
        return []
    return names if len(names) == num_classes else []


# ---------------------------------------------------------------------------------------------------------------------
# families

def _jsonable(value: Any, depth: int = 0) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if depth < 4 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items() if isinstance(k, (str, int))}
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return repr(value)[:80]


def _unwrap(obj: Any, path: Path) -> tuple[str, Any, dict[str, Any]]:
    """(family, raw state dict, source info) of an unpickled torch object."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        info: dict[str, Any] = {}
        for key in ("epoch", "global_step", "pytorch-lightning_version"):
            if isinstance(obj.get(key), (str, int)):
                info[key] = obj[key]
        if isinstance(obj.get("hyper_parameters"), dict):
            info["hyper_parameters"] = _jsonable(obj["hyper_parameters"])
        return "lightning", obj["state_dict"], info
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        return "state-dict", obj, {}
    raise InputFileError(path, f"holds {_describe(obj)} rather than a state dict or a Lightning checkpoint")


def _read_raw(path: Path, container: str) -> tuple[str, dict[str, torch.Tensor], dict[str, Any], list[str]]:
    """(family, cognn-keyed tensors, source info, notes) of a foreign file."""
    notes: list[str] = []
    if container == "safetensors":
        tensors, _header = _read_safetensors_plain(path)
        family, info = "safetensors", {}
        sd = _tensor_dict(tensors, path, "the file")
    else:
        obj, placeholders = _load_torch(path, container)
        family, raw, info = _unwrap(obj, path)
        if placeholders:
            notes.append(f"ignored {len(placeholders)} non-tensor object type(s): {', '.join(placeholders[:4])}")
        sd = _tensor_dict(raw, path, "the state dict")
    long = _is_long(sd)
    if long:
        mapped = {long_to_short(k): v for k, v in sd.items()}
        if len(mapped) != len(sd):
            raise InputFileError(path, "two long keys map to the same cognn key")
        sd = mapped
        notes.append("mapped the long keys of the official continual models to cognn's")
    if family == "state-dict":
        family = "stgcn-original" if is_original_stgcn(sd) else "opendr" if long else "continual-skeletons"
    info["key_style"] = "long" if long else "short"
    return family, sd, info, notes


def read_foreign(path: str | Path, container: str | None = None) -> Checkpoint:
    """Read a foreign checkpoint into a :class:`Checkpoint` whose metadata is inferred from shapes and file name."""
    path = Path(path)
    container = container or sniff(path)
    family, sd, info, notes = _read_raw(path, container)
    arch = infer_architecture(sd, path)
    guess = guess_from_filename(path.name)
    if info["key_style"] == "long":
        model = f"co{arch['family']}_mod"
    else:
        model = arch["family"]
    guessed = guess.get("model")
    if guessed and arch["family"] != "stgcn_original":
        if spec(guessed).family == arch["family"]:
            model = guessed
        else:
            notes.append(f"the file name suggests {guessed} but the tensors are {arch['family']}; using {model}")
    data = "-".join(guess[k] for k in ("dataset", "benchmark") if k in guess)
    meta = {"model": model, "layout": arch["layout"], "num_classes": arch["num_classes"],
            "in_channels": arch["in_channels"], "num_persons": arch["num_persons"],
            "modality": guess.get("modality", "joint"), "data": data,
            "classes": _class_list(guess["dataset"], arch["num_classes"]) if "dataset" in guess else [],
            "model_kwargs": arch.get("model_kwargs", {}),
            "source": {"family": family, "file": path.name, "sha256": _sha256(path), **info}}
    if arch["family"] == "stgcn_original" and arch["layout"] == "ntu25":
        meta["preprocessing"] = "none"  # the original ST-GCN's NTU data is not centred or rotated
    return Checkpoint(sd, complete_meta(meta), family, path, notes)


def detect_family(path: str | Path) -> str:
    """The family of a checkpoint file (one of :data:`FAMILIES`), read from the file itself."""
    path = Path(path)
    container = sniff(path)
    if container == "safetensors":
        from .format import read_checkpoint

        return read_checkpoint(path).family
    return _read_raw(path, container)[0]

