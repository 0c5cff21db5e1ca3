"""What an exported step graph is: its description (the JSON sidecar ``OUT.onnx.json``, also stored in the ONNX
file's metadata under ``cognn``), and the checks that refuse a file cognn did not make or whose description disagrees
with its graph. Needs neither torch nor the ``onnx`` package.

The description holds the model's facts (name, layout, classes, input domain, preprocessing, fps, receptive field,
delay, stride, early mode, precision), the graph's inputs and outputs, and every state tensor with its shape (``"N"``
for the batch), dtype, bytes per stream, meaning and initial value for a cold and a warm start.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..data.files import parse_json, read_text
from ..errors import InputFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "OPSET", "METADATA_KEY", "PRECISIONS", "StateTensor", "sidecar_path",
           "describe", "read_description", "check_description", "check_io", "state_bytes"]

FORMAT = "cognn-onnx-step"
FORMAT_VERSION = 1
#: ONNX operator set of the exported graphs
OPSET = 17
#: the ONNX metadata key holding the description (the same JSON as the sidecar)
METADATA_KEY = "cognn"
#: export precisions: float32; float16 weights (float32 arithmetic); int8 dynamic quantization of the products
PRECISIONS = ("fp32", "fp16", "int8")
_BYTES = {"float32": 4, "int64": 8, "bool": 1}
_ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(bool)": "bool"}
#: facts the sidecar and the file's own metadata must agree on
_KEY_FACTS = ("format", "format_version", "model", "layout", "num_classes", "in_channels", "num_joints",
              "num_persons", "receptive_field", "delay", "stride", "early_mode", "precision", "classes", "inputs",
              "outputs", "state")


@dataclass(frozen=True)
class StateTensor:
    """One state tensor: fed as ``state.<name>``, returned as ``next.<name>``."""

    name: str
    shape: list[Any]  # "N" first, then whole numbers
    dtype: str  # float32 | int64 | bool
    cold: Any  # the value every element starts with, cold start
    warm: Any  # ... warm start
    what: str

    @property
    def bytes_per_stream(self) -> int:
        n = 1
        for d in self.shape[1:]:
            n *= int(d)
        return n * _BYTES[self.dtype]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(input=f"state.{self.name}", output=f"next.{self.name}", bytes_per_stream=self.bytes_per_stream)
        return d


def sidecar_path(onnx_path: str | Path) -> Path:
    """``OUT.onnx`` -> ``OUT.onnx.json``."""
    p = Path(onnx_path)
    return p.with_name(p.name + ".json")


def state_bytes(desc: dict[str, Any]) -> int:
    """Bytes of state per stream."""
    return sum(int(s["bytes_per_stream"]) for s in desc["state"])


def describe(facts: dict[str, Any], state: list[StateTensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The description of an exported step: ``facts`` (model, layout, geometry, precision...), the state tensors and
    the checkpoint's metadata (classes, domain, preprocessing, fps, live settings; JSON values only)."""
    c, v, m, k = facts["in_channels"], facts["num_joints"], facts["num_persons"], facts["num_classes"]
    desc = {"format": FORMAT, "format_version": FORMAT_VERSION, **facts,
            "inputs": [{"name": "frame", "shape": ["N", c, v, m], "dtype": "float32",
                        "what": "one preprocessed skeleton frame per stream (N, C, V, M)"}],
            "outputs": [{"name": "logits", "shape": ["N", k], "dtype": "float32",
                         "what": "class scores of the prediction released at this step (zeros where valid is false)"},
                        {"name": "valid", "shape": ["N"], "dtype": "bool",
                         "what": "a prediction was released at this step (PyTorch's forward_step returned logits)"},
                        {"name": "ready", "shape": ["N"], "dtype": "bool",
                         "what": "the prediction is exact (the model's ready)"}],
            "state": [s.as_dict() for s in state],
            "meta": json.loads(json.dumps(meta, default=str))}
    desc["state_bytes_per_stream"] = state_bytes(desc)
    return desc


def _problem(path: Path, text: str) -> InputFileError:
    return InputFileError(path, text)


def read_description(path: Path, metadata: dict[str, str]) -> dict[str, Any]:
    """The description of the step graph ``path`` from its sidecar and/or its ONNX ``metadata``; InputFileError (one
    sentence) for a file cognn did not make or a sidecar that disagrees with the file's own description."""
    side = sidecar_path(path)
    embedded = None
    if METADATA_KEY in metadata:
        try:
            embedded = parse_json(metadata[METADATA_KEY], None, "cognn metadata")
        except InputFileError as e:
            raise _problem(path, f"its cognn metadata is not valid JSON ({e.problem}; the file was changed after "
                                 "cognn-export wrote it)") from None
    sidecar = None
    if side.is_file():
        sidecar = parse_json(read_text(side, "sidecar"), side, "cognn sidecar")
        if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
            raise _problem(side, f"is not a cognn step description (no \"format\": \"{FORMAT}\")")
    desc = sidecar if sidecar is not None else embedded
    if desc is None:
        raise _problem(path, "is not a step graph made by cognn-export (it has no cognn metadata and no sidecar "
                             f"{side.name}); export one with: cognn-export WEIGHTS {path.name}")
    if sidecar is None:  # the settings would be the graph's own copy, unchecked against the export's description
        raise _problem(path, f"has no description {side.name} beside it (cognn-export writes the two together; keep "
                             "them together, or export again)")
    if not isinstance(desc, dict) or desc.get("format") != FORMAT:
        raise _problem(path, "is not a step graph made by cognn-export (its metadata is not a cognn step "
                             "description)")
    if desc.get("format_version") != FORMAT_VERSION:
        raise _problem(path, f"is a cognn step graph of format version {desc.get('format_version')}, which this "
                             f"cognn (format {FORMAT_VERSION}) does not read; export it again")
    if sidecar is not None and embedded is not None:
        for key in _KEY_FACTS:
            if sidecar.get(key) != embedded.get(key):
                raise _problem(side, f"disagrees with {path.name} on {key!r} (the sidecar of another export?); "
                                     "export again or remove the sidecar")
    check_description(path, desc)
    return desc


def check_description(path: Path, desc: dict[str, Any]) -> None:
    """The description is complete and consistent in itself (InputFileError naming what is wrong)."""
    need = ("model", "layout", "num_classes", "in_channels", "num_joints", "num_persons", "classes", "inputs",
            "outputs", "state", "receptive_field", "delay", "stride", "early_mode", "precision", "meta")
    missing = [k for k in need if k not in desc]
    if missing:
        raise _problem(path, f"its cognn description lacks {', '.join(missing)}; export it again")
    classes = desc["classes"]
    if not isinstance(classes, list) or len(classes) != desc["num_classes"]:
        raise _problem(path, f"its description lists {len(classes) if isinstance(classes, list) else 'no'} class "
                             f"names for {desc['num_classes']} classes")
    for s in desc["state"]:
        if not isinstance(s, dict) or s.get("dtype") not in _BYTES or not isinstance(s.get("shape"), list):
            raise _problem(path, f"its description has a malformed state entry ({str(s)[:60]})")


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def check_io(path: Path, desc: dict[str, Any], inputs: dict[str, tuple[str, list[Any]]],
             outputs: dict[str, tuple[str, list[Any]]]) -> None:
    """The graph's inputs and outputs (``name -> (ORT type, shape)``) are exactly those the description declares, with
    the same dtypes and fixed sizes; InputFileError naming the first difference."""
    want_in = {e["name"]: (e["dtype"], e["shape"]) for e in desc["inputs"]}
    want_out = {e["name"]: (e["dtype"], e["shape"]) for e in desc["outputs"]}
    for s in desc["state"]:
        want_in[f"state.{s['name']}"] = (s["dtype"], s["shape"])
        want_out[f"next.{s['name']}"] = (s["dtype"], s["shape"])
    for kind, want, have in (("input", want_in, inputs), ("output", want_out, outputs)):
        extra = sorted(set(have) - set(want))
        absent = sorted(set(want) - set(have))
        if absent:
            raise _problem(path, f"its graph has no {kind} {absent[0]!r}, which its description declares (the "
                                 "description belongs to another graph)")
        if extra:
            raise _problem(path, f"its graph has the {kind} {extra[0]!r}, which its description does not declare "
                                 "(the description belongs to another graph)")
        for name, (dtype, shape) in want.items():
            ort_type, ort_shape = have[name]
            got = _ORT_TYPES.get(ort_type, ort_type)
            fixed_ok = len(ort_shape) == len(shape) and all(
                not isinstance(w, int) or not isinstance(h, int) or w == h for w, h in zip(shape, ort_shape))
            if got != dtype or not fixed_ok:
                raise _problem(path, f"its graph's {kind} {name!r} is {got} {_shape_text(ort_shape)} but its "
                                     f"description says {dtype} {_shape_text(shape)}")
