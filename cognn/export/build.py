"""Exporting a continual model's step: the ONNX graph (:mod:`cognn.export.graph`) in the chosen precision, its
description (:mod:`cognn.export.sidecar`) embedded and beside it, a check against the PyTorch step, and the files
written whole or not at all.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnx
import torch

from .. import __version__
from ..atomic import AtomicOutput
from ..errors import CognnError
from ..models.base import EXACT_BEAT, CoSkeletonNet
from .graph import GRAPH_PRODUCT_TAG, build_step_graph, state_layout
from .sidecar import METADATA_KEY, OPSET, PRECISIONS, describe, sidecar_path

__all__ = ["export_model", "export_weights", "write_step", "compare_with_torch", "ExportResult"]

#: checkpoint metadata not carried into the description (large, or meaningless for the step)
_DROPPED_META = ("quantization", "format", "format_version", "state_dict_keys")


class ExportResult:
    """An exported step in memory: the ONNX bytes and their description."""

    def __init__(self, model: bytes, description: dict[str, Any]) -> None:
        self.model = model
        self.description = description


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in meta.items():
        if k in _DROPPED_META:
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out


def _facts(model: CoSkeletonNet, classes: list[str], early_mode: str, precision: str) -> dict[str, Any]:
    from ..models import display_name

    return {"cognn_version": __version__, "model": model.spec.name, "display_name": display_name(model.spec.name),
            "layout": model.layout.name, "num_joints": model.layout.num_joints, "in_channels": model.in_channels,
            "num_persons": model.num_persons, "num_classes": model.num_classes, "classes": list(classes),
            "receptive_field": int(model.receptive_field), "delay": int(model.delay), "stride": int(model.stride),
            "padding": int(model.padding), "clip_frames": int(model.clip_frames), "pool_size": int(model.pool_size),
            "pool_padding": int(model.pool_padding), "early_mode": early_mode,
            "exact_beat": EXACT_BEAT if model.padding else 1, "precision": precision, "opset": OPSET}


def _int8(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic int8 quantization of the weight products (graph products and the classifier stay float32)."""
    from .runtime import import_onnxruntime

    try:
        import_onnxruntime()  # its telemetry off before the library loads
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except (ImportError, CognnError):
        raise CognnError("--precision int8 needs onnxruntime's quantization tools (pip install onnxruntime)") from None
    keep: list[str] = []  # float32: the graph products (no weights) and the classifier, as the torch int8 path

    def collect(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            if node.op_type == "MatMul" and node.name.startswith((GRAPH_PRODUCT_TAG, "fc")):
                keep.append(node.name)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    collect(attr.g)

    collect(proto.graph)
    with tempfile.TemporaryDirectory(prefix="cognn-export-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, str(src))
        quiet = logging.root.manager.disable
        logging.disable(logging.WARNING)  # the quantizer's advice to pre-process, on the root logger
        try:
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=["MatMul"], nodes_to_exclude=keep,
                             per_channel=True, weight_type=QuantType.QInt8,
                             extra_options={"EnableSubgraph": True})
        except Exception as e:  # the quantizer's own errors
            raise CognnError(f"ONNX Runtime could not quantize this step graph to int8 ({e}); use --precision fp32 "
                             "or fp16") from None
        finally:
            logging.disable(quiet)
        return onnx.load(str(dst))


def export_model(model: CoSkeletonNet, *, classes: list[str] | None = None, meta: dict[str, Any] | None = None,
                 early_mode: str | None = None, precision: str = "fp32") -> ExportResult:
    """The step graph of a continual ``model`` in memory, with its description (``classes`` default to
    ``class 0``...; ``meta`` is the checkpoint's metadata: domain, preprocessing, fps...)."""
    if precision not in PRECISIONS:
        raise CognnError(f"unknown export precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    mode = model.early_mode if early_mode is None else early_mode
    names = list(classes) if classes is not None else [f"class {i}" for i in range(model.num_classes)]
    if len(names) != model.num_classes:
        raise CognnError(f"{len(names)} class names for a model with {model.num_classes} classes")
    proto = build_step_graph(model, early_mode=mode, fp16=precision == "fp16")
    if precision == "int8":
        proto = _int8(proto)
    desc = describe(_facts(model, names, mode, precision), state_layout(model, mode), _json_safe(meta or {}))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(desc, ensure_ascii=False)
    return ExportResult(proto.SerializeToString(), desc)


def export_weights(weights: str | os.PathLike, *, model: str | None = None, early_mode: str | None = None,
                   precision: str = "fp32") -> tuple[ExportResult, CoSkeletonNet]:
    """Export a checkpoint (any file cognn reads, or a bundled model's short name; ``model``: a continual model of
    the file's family, e.g. the twin of a regular checkpoint) the way ``cognn-infer`` would run it: the same class
    names, input domain, preprocessing and early mode. Returns the export and the PyTorch model it came from."""
    from ..online import OnlineRecognizer

    rec = OnlineRecognizer.from_weights(os.fspath(weights), model=model, warm_start=True)
    net = cast(CoSkeletonNet, rec.model)
    if early_mode is not None:
        from ..models import EARLY_MODES

        if early_mode not in EARLY_MODES:
            raise CognnError(f"unknown early mode {early_mode!r}; use one of {', '.join(EARLY_MODES)}")
        net.early_mode = early_mode
    meta = dict(rec.meta)
    meta.update(classes=list(rec.all_classes), domain=rec.domain, preprocessing=rec.convention.name,
                modality=rec.modality, model=net.spec.name)
    meta.setdefault("fps", 30.0)
    return export_model(net, classes=rec.all_classes, meta=meta, precision=precision), net


def write_step(result: ExportResult, path: str | os.PathLike, *, inputs: tuple[str | os.PathLike, ...] = ()
               ) -> tuple[Path, Path]:
    """Write ``path`` (the graph) and ``path.json`` (its description), each under a temporary name renamed at the
    end; returns both paths."""
    out = AtomicOutput(path, what="ONNX output", inputs=inputs)
    side = AtomicOutput(sidecar_path(out.path), what="sidecar", inputs=inputs)
    try:
        try:
            out.temp.write_bytes(result.model)
        except OSError as e:
            raise out.failed(e) from None
        try:
            side.temp.write_text(json.dumps(result.description, indent=1, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
        except OSError as e:
            raise side.failed(e) from None
        out.commit()
        side.commit()
    except BaseException:
        out.abort()
        side.abort()
        raise
    return out.path, side.path


def compare_with_torch(result: ExportResult, model: CoSkeletonNet, frames: np.ndarray, *,
                       warm_start: bool = True) -> dict[str, Any]:
    """Step ``frames`` ``(T, N, C, V, M)`` through the exported graph (ONNX Runtime) and the PyTorch ``model`` from a
    clean state; ``{"steps", "predictions", "max_abs", "flags_equal"}`` (largest logit difference over the steps
    where both predicted; whether the two agree on every step's ``valid`` and ``ready``)."""
    from .runtime import OnnxStep

    onnx_step = OnnxStep(model=result.model, description=result.description, warm_start=warm_start,
                         batch=int(frames.shape[1]))
    saved = model.warm_start
    model.warm_start = warm_start
    model.clean_state()
    worst, flags, predictions = 0.0, True, 0
    try:
        with torch.inference_mode():
            for frame in frames:
                y = model.forward_step(torch.from_numpy(np.ascontiguousarray(frame, np.float32)))
                out = onnx_step.run(frame, onnx_step.state)
                onnx_step.state = out.state
                valid = bool(out.valid.all())
                flags &= (y is not None) == valid and bool(out.ready.all()) == bool(model.ready)
                if y is not None and valid:
                    predictions += 1
                    worst = max(worst, float(np.abs(y.numpy() - out.logits).max()))
    finally:
        model.clean_state()
        model.warm_start = saved
    return {"steps": int(frames.shape[0]), "predictions": predictions, "max_abs": worst, "flags_equal": flags}
