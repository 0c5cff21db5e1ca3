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
``stgcn-original`` (and any other key layout a model family declares, :class:`cognn.models.family.ForeignLayout`)
    a state dict of the original ST-GCN (``st_gcn.ntu-xsub.pt``, ``st_gcn.kinetics.pt``; keys ``st_gcn_networks.*``,
    ``edge_importance.*``, ``fcn.*``), renamed by the family's own key map.
``safetensors``
    a plain safetensors state dict without cognn metadata.

Quantized tensors (int8/uint8, per-tensor or per-channel affine, as PyTorch's eager-mode quantization saves them)
are dequantized to float32 exactly as torch's ``dequantize()`` does; the records stay on the :class:`Checkpoint`
(``quantized``) so that a converted file keeps the integer values, and the metadata field ``quantization`` lists
them. The quantized modules' activation settings (``*.scale``, ``*.zero_point``) are dropped with a note.

The architecture comes from tensor names and shapes (:mod:`.architecture`, through the family declarations). Whether
the file holds a regular or a ``*`` model cannot be told from the tensors (they are the same); the official file
names say it (``stgcnmod_*``), else the regular model is assumed.
"""
from __future__ import annotations

import pickle
import re
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import torch

from ..data.files import file_digest
from ..errors import InputFileError
from ..models import FAMILIES as MODEL_FAMILIES
from ..models import Family, family, family_of
from .architecture import infer_architecture
from .quantized import QuantizedTensor
from .safe_pickle import LEGACY_MAGIC, Placeholder, UnsafePickleError, is_placeholder, load_torch_file
from .schema import Checkpoint, complete_meta

__all__ = ["sniff", "detect_foreign_family", "read_foreign", "infer_architecture", "long_to_short",
           "guess_from_filename", "foreign_layout_family", "FAMILIES"]

FAMILIES = ("cognn", "continual-skeletons", "lightning", "opendr",
            *(f.foreign.source for f in MODEL_FAMILIES if f.foreign is not None), "safetensors")

_LONG_KEY = re.compile(r"^(layers\.layer\d+\.)0\.([01])\.")
_SAFETENSORS_MAX_HEADER = 100 * 2 ** 20

#: official file-name token -> cognn model, from every family's declaration
_NAME_TOKENS = {token: model for f in MODEL_FAMILIES for token, model in f.name_tokens.items()}
_DATA_TOKENS = {"ntu": "ntu60", "ntu60": "ntu60", "ntu120": "ntu120", "kinetics": "kinetics400",
                "kinetics400": "kinetics400"}
_BENCHMARKS = ("xsub", "xview", "xset")
_MODALITY_TOKENS = ("joint", "bone", "motion")
#: activation settings of a quantized module (``<module>.scale``, ``<module>.zero_point``)
_QPARAM_SUFFIXES = (".scale", ".zero_point")
_SHOW = 3


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


def _load_torch(path: Path, container: str) -> tuple[Any, list[str]]:
    kind = "zip" if container == "torch-zip" else "legacy"
    try:
        return load_torch_file(path, kind)
    except UnsafePickleError as e:
        raise InputFileError(path, f"refused: {e}") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, struct.error, OverflowError, MemoryError, RecursionError) as e:
        what = " ".join(str(e).split())[:160].rstrip(".") or type(e).__name__
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


def _safe_text(text: str, limit: int = 60) -> str:
    """A string from a file, shortened and with control characters escaped (for one-line messages)."""
    return repr(text[:limit])[1:-1] + ("..." if len(text) > limit else "")


def _describe(value: Any) -> str:
    """What an untrusted value is, from its type alone (never ``repr``/``str`` of the value)."""
    if is_placeholder(value):
        cls = cast("type[Placeholder]", value if isinstance(value, type) else type(value))
        qualname = cls.qualname
        return f"an object of {_safe_text(qualname)}"
    return type(value).__name__


def _key_text(key: Any) -> str:
    return repr(_safe_text(key)) if type(key) is str else f"<{_describe(key)}>"


def _is_entry(value: Any) -> bool:
    return type(value) in (torch.Tensor, torch.nn.Parameter, QuantizedTensor)


def _nbytes(value: Any) -> int:
    if isinstance(value, QuantizedTensor):
        return sum(t.numel() * t.element_size() for t in (value.values, value.scales, value.zero_points))
    return value.numel() * value.element_size()


def _copy(value: Any) -> Any:
    def own(t: torch.Tensor) -> torch.Tensor:
        return torch.Tensor.clone(torch.Tensor.detach(t), memory_format=torch.contiguous_format)

    if isinstance(value, QuantizedTensor):
        return QuantizedTensor(own(value.values), own(value.scales), own(value.zero_points), value.axis,
                               value.scheme, value.dtype)
    return own(value)


def _tensor_dict(obj: Any, path: Path, what: str) -> dict[str, Any]:
    """Name -> tensor (or quantized record), each an own contiguous copy; InputFileError for anything else."""
    if not isinstance(obj, dict) or not obj:
        raise InputFileError(path, f"{what} is not a non-empty mapping of names to tensors")
    bad = [k for k, v in obj.items() if type(k) is not str or not _is_entry(v)]
    if bad:
        shown = ", ".join(f"{_key_text(k)} ({_describe(obj[k])})" for k in bad[:_SHOW])
        raise InputFileError(path, f"{what} holds {len(bad)} entries that are not tensors: {shown}")
    # views may overlap (a crafted file can make huge ones from a tiny storage): bound what the copies below allocate
    limit = 4 * path.stat().st_size + (1 << 20)
    sizes = {k: _nbytes(v) for k, v in obj.items()}
    if max(sizes.values()) > limit or sum(sizes.values()) > 4 * limit:
        big = max(sizes, key=sizes.__getitem__)
        raise InputFileError(path, f"tensor {_key_text(big)} claims {sizes[big]:,} bytes, far more than the file holds")
    out = {k: _copy(v) for k, v in obj.items()}
    if all(k.startswith("module.") for k in out):  # saved from DataParallel
        out = {k[len("module."):]: v for k, v in out.items()}
    return out


def foreign_layout_family(keys: Iterable[str]) -> Family | None:
    """The model family whose own published key layout these are (e.g. the original ST-GCN's), if any."""
    names = list(keys)
    return next((f for f in MODEL_FAMILIES if f.foreign is not None and f.foreign.recognise(names)), None)


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

_MAX_ITEMS = 50


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-ready, bounded copy of untrusted plain data (at most 4 levels and 50 items per level)."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2 ** 63 else "<a very large integer>"
    if isinstance(value, str):
        return value[:200]
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    if depth < 4 and isinstance(value, dict):
        items = [(k, v) for k, v in list(value.items())[:_MAX_ITEMS] if type(k) in (str, int)]
        return {(k[:100] if isinstance(k, str) else str(k)): _jsonable(v, depth + 1) for k, v in items}
    if type(value) is torch.Tensor and value.numel() == 1:
        return value.item()
    return f"<{_describe(value)}>"


def _unwrap(obj: Any, path: Path) -> tuple[str, Any, dict[str, Any]]:
    """(family, raw state dict, source info) of an unpickled torch object."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        info: dict[str, Any] = {}
        for key in ("epoch", "global_step", "pytorch-lightning_version"):
            if isinstance(obj.get(key), (str, int)):
                info[key] = _jsonable(obj[key])
        if isinstance(obj.get("hyper_parameters"), dict):
            info["hyper_parameters"] = _jsonable(obj["hyper_parameters"])
        return "lightning", obj["state_dict"], info
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        return "state-dict", obj, {}
    raise InputFileError(path, f"holds {_describe(obj)} rather than a state dict or a Lightning checkpoint")


def _drop_activation_qparams(sd: dict[str, Any]) -> list[str]:
    """Remove ``<module>.scale`` / ``<module>.zero_point`` entries of quantized modules; returns their names."""
    dropped = []
    for key in list(sd):
        if not key.endswith(_QPARAM_SUFFIXES) or isinstance(sd[key], QuantizedTensor) or sd[key].numel() > 1:
            continue
        module = key.rsplit(".", 1)[0]
        if module + ".weight" in sd or module + ".bias" in sd:
            dropped.append(key)
            del sd[key]
    return dropped


class RawState:
    """What a foreign file holds once read: its family, tensors under cognn's names (dequantized), the quantized
    records (cognn names), source information and notes."""

    def __init__(self, family: str, state: dict[str, torch.Tensor], quantized: dict[str, QuantizedTensor],
                 info: dict[str, Any], notes: list[str]) -> None:
        self.family, self.state, self.quantized, self.info, self.notes = family, state, quantized, info, notes


def _read_raw(path: Path, container: str) -> RawState:
    notes: list[str] = []
    info: dict[str, Any]
    if container == "safetensors":
        tensors, _header = _read_safetensors_plain(path)
        family_name, info = "safetensors", {}
        sd = _tensor_dict(tensors, path, "the file")
    else:
        obj, placeholders = _load_torch(path, container)
        family_name, raw, info = _unwrap(obj, path)
        if placeholders:
            shown = ", ".join(_safe_text(p) for p in placeholders[:4])
            notes.append(f"ignored {len(placeholders)} non-tensor object type(s): {shown}")
        sd = _tensor_dict(raw, path, "the state dict")
    if any(isinstance(v, QuantizedTensor) for v in sd.values()):
        dropped = _drop_activation_qparams(sd)
        if dropped:
            notes.append(f"dropped {len(dropped)} activation settings of quantized modules (*.scale, *.zero_point, "
                         f"e.g. {_safe_text(dropped[0])}): they are not weights")
    long = _is_long(sd)
    if long:
        mapped = {long_to_short(k): v for k, v in sd.items()}
        if len(mapped) != len(sd):
            raise InputFileError(path, "two long keys map to the same cognn key")
        sd = mapped
        notes.append("mapped the long keys of the official continual models to cognn's")
    own = foreign_layout_family(sd)
    foreign = None if own is None else own.foreign  # not None for a family foreign_layout_family returns
    if foreign is not None:
        try:
            sd = foreign.to_cognn(sd)
        except ValueError as e:
            raise InputFileError(path, f"its {foreign.source} tensors cannot be mapped ({e})") from None
        notes.append(f"mapped the key names of the {foreign.description} to cognn's")
    if family_name == "state-dict":
        family_name = foreign.source if foreign is not None else "opendr" if long else "continual-skeletons"
    info["key_style"] = "long" if long else "short"
    quantized = {k: v for k, v in sd.items() if isinstance(v, QuantizedTensor)}
    state = {k: v.dequantize() if isinstance(v, QuantizedTensor) else v for k, v in sd.items()}
    if quantized:
        kinds = sorted({f"{q.dtype} {q.scheme}" for q in quantized.values()})
        notes.append(f"dequantized {len(quantized)} quantized tensors ({', '.join(kinds)}) to float32; the integer "
                     "values are kept when the file is converted")
    return RawState(family_name, state, quantized, info, notes)


def _model_from_name(fam: Family, guess: dict[str, str], long: bool, notes: list[str]) -> str:
    """The model a foreign file is read as: the file name's model if it is of the tensors' family."""
    model = fam.model_name(mod=long, continual=long)  # long keys: the official continual * models
    guessed = guess.get("model")
    if guessed:
        if family_of(guessed) is fam:
            return guessed
        notes.append(f"the file name suggests {guessed} but the tensors are {fam.model_display(False, False)}; "
                     f"using {model}")
    return model


def read_foreign(path: str | Path, container: str | None = None) -> Checkpoint:
    """Read a foreign checkpoint into a :class:`Checkpoint` whose metadata is inferred from shapes and file name."""
    path = Path(path)
    container = container or sniff(path)
    raw = _read_raw(path, container)
    arch = infer_architecture(raw.state, path)
    fam = family(arch["family"])
    guess = guess_from_filename(path.name)
    notes = list(raw.notes)
    model = _model_from_name(fam, guess, raw.info["key_style"] == "long", notes)
    data = "-".join(guess[k] for k in ("dataset", "benchmark") if k in guess)
    meta = {"model": model, "layout": arch["layout"], "num_classes": arch["num_classes"],
            "in_channels": arch["in_channels"], "num_persons": arch["num_persons"],
            "modality": guess.get("modality", "joint"), "data": data,
            "classes": _class_list(guess["dataset"], arch["num_classes"]) if "dataset" in guess else [],
            "model_kwargs": arch["model_kwargs"],
            "quantization": {"tensors": {k: q.describe() for k, q in raw.quantized.items()}} if raw.quantized else {},
            "source": {"family": raw.family, "file": path.name, "sha256": file_digest(path), **raw.info}}
    if arch["layout"] in fam.preprocessing:
        meta["preprocessing"] = fam.preprocessing[arch["layout"]]
    try:
        meta = complete_meta(meta)
    except ValueError as e:
        raise InputFileError(path, f"bad metadata: {e}") from None
    return Checkpoint(raw.state, meta, raw.family, path, notes, quantized=raw.quantized)


def detect_foreign_family(path: Path, container: str) -> str:
    """The family of a checkpoint file in ``container`` (a :func:`sniff` answer other than safetensors)."""
    return _read_raw(path, container).family
