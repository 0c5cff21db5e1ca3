"""The continual step of a cognn model as one ONNX graph, its state as explicit inputs and outputs.

The graph computes exactly what :meth:`cognn.models.CoSkeletonNet.forward_step` computes, for a batch of ``N``
independent streams (each sample has its own counters, so streams need not have started together):

* inputs ``frame`` ``(N, C, V, M)`` and ``state.<name>`` for every state tensor (:func:`state_layout`);
* outputs ``logits`` ``(N, K)`` (zeros where no prediction was released), ``valid`` ``(N,)`` (a prediction was
  released at this step: the PyTorch step returned logits), ``ready`` ``(N,)`` (the model's ``ready``: the prediction
  is exact) and ``next.<name>`` for every state tensor, to be fed back as ``state.<name>`` at the next step.

Every layer keeps a shift register of its temporal convolution's last ``K`` inputs (``layerL.ring``), the block inputs
its residual still needs (``layerL.residual``) and how many frames it was fed (``layerL.count``: warm-up and stride
phase); the pool keeps its last positions (``pool``, ``pool.count``); ``steps`` counts frames since the start and
``warm_start`` says whether the stream answers before its receptive field is full (in the checkpoint's
``early_mode``). When every stream of the batch has the same counters (always at batch 1) and none starts a
replicated warm start, the step runs one control flow for the whole batch (no per-sample masks: a layer that is not
fed keeps its buffers by a zero shift); otherwise every update is masked per sample. Where a strided layer releases
nothing, the layers above are skipped (an ``If`` node); the early mode ``exact`` computes its flush (the layers' right
zero padding, on a copy of the state) in another ``If`` node, only on the steps that answer. Weights are the step
path's own: BatchNorm folded (:class:`cognn.nn.linear.FusedLinear` ``.w``/``.b``, float32), read through each
unit's ``fuse()``; every weight product runs as one 2-D ``MatMul``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ..errors import CognnError
from ..models.base import EARLY_MODES, EXACT_BEAT, CoSkeletonNet
from ..nn.attention import SpatialAttention
from ..nn.block import STBlock
from ..nn.fold import bn_affine
from ..nn.graph_conv import AdaptiveGraphConv, GraphConv, PartitionGraphConv
from .sidecar import OPSET, StateTensor

__all__ = ["build_step_graph", "state_layout", "GRAPH_PRODUCT_TAG"]

FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
#: node names of products without weights (graph adjacency, attention) start with this; int8 leaves them float32
GRAPH_PRODUCT_TAG = "graphproduct"
_NP: dict[int, type] = {FLOAT: np.float32, INT64: np.int64, BOOL: np.bool_}


# -- a small graph writer ----------------------------------------------------------------------------------------------
class _Graph:
    """The nodes of one ONNX graph: the main graph or an ``If`` branch. Weights and constants live in the main graph
    (branches see them as outer-scope values); names are unique over the whole model."""

    def __init__(self, root: _Graph | None = None) -> None:
        self.root: _Graph = self if root is None else root
        self.nodes: list[onnx.NodeProto] = []
        self.produced: set[str] = set()  # values computed by this graph's own nodes
        if root is None:
            self.inits: list[onnx.TensorProto] = []
            self.prelude: list[onnx.NodeProto] = []  # casts of fp16 weights, before every other node
            self.used: set[str] = set()
            self.consts: dict[tuple, str] = {}
            self.shapes: dict[str, tuple[int, ...]] = {}  # of the weights

    def fresh(self, hint: str) -> str:
        used = self.root.used
        name, i = hint, 1
        while name in used:
            i += 1
            name = f"{hint}_{i}"
        used.add(name)
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, n_out: int = 1,
           **attrs: Any) -> Any:
        """Add a node; its output name (a list for ``n_out > 1``)."""
        base = hint or op_type.lower()
        outs = [self.fresh(base) for _ in range(n_out)]
        self.produced.update(outs)
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.fresh(f"{base}.node"), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value: Any, dtype: int = INT64) -> str:
        """A constant (small: shapes, axes, scalars), shared by every use."""
        arr: np.ndarray = np.asarray(value, dtype=_NP[int(dtype)])
        key = (dtype, arr.shape, arr.tobytes())
        root = self.root
        if key not in root.consts:
            name = root.fresh("const")
            root.inits.append(numpy_helper.from_array(arr, name))
            root.consts[key] = name
        return root.consts[key]

    def weight(self, value: torch.Tensor | np.ndarray, name: str, fp16: bool) -> str:
        """A float32 weight under ``name`` (stored as float16 and cast back once with ``fp16``)."""
        arr = value.detach().cpu().float().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        root = self.root
        if not fp16:
            root.inits.append(numpy_helper.from_array(arr, root.fresh(name)))
            root.shapes[root.inits[-1].name] = arr.shape
            return root.inits[-1].name
        stored = root.fresh(name + ".fp16")
        root.inits.append(numpy_helper.from_array(arr.astype(np.float16), stored))
        out = root.fresh(name)
        root.prelude.append(helper.make_node("Cast", [stored], [out], name=root.fresh(f"{name}.cast"), to=FLOAT))
        root.shapes[out] = arr.shape
        return out

    # shorthands
    def unsqueeze(self, x: str, axes: list[int], hint: str | None = None) -> str:
        return self.op("Unsqueeze", [x, self.const(axes)], hint)

    def mask(self, m: str, rank: int) -> str:
        """A per-sample mask ``(N,)`` shaped to broadcast over a rank-``rank`` tensor."""
        return m if rank == 1 else self.unsqueeze(m, list(range(1, rank)))

    def where(self, m: str | None, a: str, b: str, rank: int) -> str:
        """``a`` where the per-sample mask is true, else ``b``; ``m=None`` means true everywhere."""
        return a if m is None else self.op("Where", [self.mask(m, rank), a, b])

    def choose(self, m: str, a: str, b: str) -> str:
        """Per-sample ``a if m else b`` of two bool masks (ONNX Runtime has no bool ``Where``)."""
        return self.op("Or", [self.op("And", [m, a]), self.op("And", [self.op("Not", [m]), b])])

    def both(self, a: str | None, b: str) -> str:
        return b if a is None else self.op("And", [a, b])

    def any(self, m: str) -> str:
        """A scalar bool: the mask holds for at least one sample."""
        mx = self.op("ReduceMax", [self.op("Cast", [m], to=INT64)], keepdims=0)
        return self.op("Greater", [mx, self.const(0)])

    def zeros(self, batch_of: str, tail: list[int], dtype: int = FLOAT) -> str:
        """Zeros ``(N, *tail)`` with ``N`` taken from the per-sample tensor ``batch_of``."""
        shape = self.op("Concat", [self.op("Shape", [batch_of]), self.const(tail)], axis=0) if tail else \
            self.op("Shape", [batch_of])
        value = helper.make_tensor("value", dtype, [1], [False] if dtype == BOOL else [0])
        return self.op("ConstantOfShape", [shape], value=value)

    def shift(self, buf: str, new: str, axis: int, length: int) -> str:
        """Drop the oldest entry along ``axis`` and append ``new`` (size 1 on that axis)."""
        if length == 1:
            return new
        kept = self.op("Slice", [buf, self.const([1]), self.const([length]), self.const([axis])])
        return self.op("Concat", [kept, new], axis=axis)

    def shift_if(self, buf: str, new: str, axis: int, length: int, by: str) -> str:
        """:meth:`shift` by ``by`` (a ``(1,)`` int64 tensor, 0 or 1) entries: the buffer as it was, or shifted."""
        both = self.op("Concat", [buf, new], axis=axis)
        return self.op("Slice", [both, by, self.op("Add", [by, self.const([length])]), self.const([axis])])

    def linear(self, x: str, w: str, b: str | None, hint: str, lead: list[int] | None = None) -> str:
        """``x @ w + b`` for ``x`` ``(*lead, C_in)``, as one 2-D product (ONNX Runtime runs an N-D ``MatMul`` as
        one product per leading index); ``lead``: the leading sizes after the batch."""
        if lead is None:
            y = self.op("MatMul", [x, w], hint)
            return y if b is None else self.op("Add", [y, b], hint)
        c_in, c_out = self.root.shapes[w]
        y = self.op("MatMul", [self.op("Reshape", [x, self.const([-1, c_in])]), w], hint)
        if b is not None:
            y = self.op("Add", [y, b], hint)
        return self.op("Reshape", [y, self.const([-1, *lead, c_out])])


# -- what a model is made of -------------------------------------------------------------------------------------------
@dataclass
class _Layer:
    """One block's geometry and weights (initializer names)."""

    index: int
    kind: str  # graph | adaptive | partition | attention
    c_in: int
    c_out: int
    k: int
    stride: int
    padding: int
    lag: int
    residual: str  # none | identity | conv
    unit: Any
    w: dict[str, Any] = field(default_factory=dict)  # initializer names (None: no bias)


def _blocks(model: CoSkeletonNet) -> list[STBlock]:
    return [cast(STBlock, b) for b in model.layers.values()]


def _unit_kind(unit: Any) -> str:
    if isinstance(unit, SpatialAttention):
        return "attention"
    if isinstance(unit, AdaptiveGraphConv):
        return "graph" if unit.variant == "mod" else "adaptive"
    if isinstance(unit, GraphConv):
        return "graph"
    if isinstance(unit, PartitionGraphConv):
        return "partition"
    raise CognnError(f"cannot export a {type(unit).__name__} graph unit to ONNX (not a unit cognn knows)")


def state_layout(model: CoSkeletonNet, early_mode: str | None = None) -> list[StateTensor]:
    """Every state tensor of ``model``'s step graph, in input order, with shape (``"N"`` for the batch), dtype,
    initial value and meaning."""
    mode = model.early_mode if early_mode is None else early_mode
    m, v = model.num_persons, model.layout.num_joints
    out: list[StateTensor] = []
    streams = [("", "")] + ([("bridge.", "the bridged warm-up's second stream: ")] if mode == "bridged" else [])
    for prefix, what in streams:
        for i, layer in enumerate(_blocks(model), start=1):
            k, lag = layer.tcn.kernel_size, layer.lag
            c_in, c_out = layer.gcn.in_channels, layer.gcn.out_channels
            out.append(StateTensor(f"{prefix}layer{i}.ring", ["N", m, v, k, c_out], "float32", 0, 0,
                                   f"{what}the last {k} outputs of layer {i}'s graph unit (its temporal "
                                   "convolution's window), oldest first"))
            if layer.residual_kind != "none":
                out.append(StateTensor(f"{prefix}layer{i}.residual", ["N", lag + 1, m, v, c_in], "float32", 0, 0,
                                       f"{what}the last {lag + 1} inputs of layer {i}, oldest first (the oldest is "
                                       "the residual of the output released now)"))
            out.append(StateTensor(f"{prefix}layer{i}.count", ["N"], "int64", 0, 0,
                                   f"{what}frames fed to layer {i} (its warm-up and stride phase)"))
        c = _blocks(model)[-1].gcn.out_channels
        out.append(StateTensor(f"{prefix}pool", ["N", model.pool_size, c], "float32", 0, 0,
                               f"{what}the temporal average pool's last {model.pool_size} positions (mean over "
                               "joints and persons of the last layer), oldest first"))
        out.append(StateTensor(f"{prefix}pool.count", ["N"], "int64", 0, 0,
                               f"{what}positions the pool received"))
    out.append(StateTensor("steps", ["N"], "int64", 0, 0, "frames fed since the start (clean state)"))
    out.append(StateTensor("warm_start", ["N"], "bool", False, True,
                           f"answer before the receptive field is full (early mode {mode}); a constant of the stream"))
    if mode == "bridged":
        out.append(StateTensor("bridge.active", ["N"], "bool", False, False,
                               "the bridged warm-up's second stream is still answering"))
    return out


# -- the step ----------------------------------------------------------------------------------------------------------
class _StepWriter:
    def __init__(self, model: CoSkeletonNet, early_mode: str, fp16: bool) -> None:
        if early_mode not in EARLY_MODES:
            raise CognnError(f"unknown early mode {early_mode!r}; use one of {', '.join(EARLY_MODES)}")
        self.model = model
        self.mode = early_mode
        self.fp16 = fp16
        self.g = _Graph()
        self.m, self.v, self.c = model.num_persons, model.layout.num_joints, model.in_channels
        self.lead = [self.m, self.v]  # the sizes between the batch and the channels of every feature map
        self.pool_size, self.pool_padding = model.pool_size, model.pool_padding
        self.num_classes = model.num_classes
        self.layers: list[_Layer] = []
        with torch.no_grad():
            self._read_weights()
        self.state = state_layout(model, early_mode)
        self.dtypes = {s.name: {"float32": FLOAT, "int64": INT64, "bool": BOOL}[s.dtype] for s in self.state}

    # weights ---------------------------------------------------------------------------------------------------------
    def _w(self, value: Any, name: str) -> str:
        return self.g.weight(value, name, self.fp16)

    def _lin(self, fl: Any, name: str) -> tuple[str, str | None]:
        """A :class:`~cognn.nn.linear.FusedLinear` as (weight (C_in, C_out), bias or None)."""
        return self._w(fl.w, f"{name}.weight"), None if fl.b is None else self._w(fl.b, f"{name}.bias")

    def _read_weights(self) -> None:
        model = self.model
        scale, shift = bn_affine(model.data_bn)
        if model.family.data_bn == "shared":
            scale, shift = scale.repeat(model.num_persons), shift.repeat(model.num_persons)
        shape = (self.m, self.v, self.c)
        self.in_scale = self._w(scale.reshape(shape), "data_bn.scale")
        self.in_shift = self._w(shift.reshape(shape), "data_bn.shift")
        for i, block in enumerate(_blocks(model), start=1):
            unit: Any = block.gcn
            kind = _unit_kind(unit)
            lay = _Layer(i, kind, unit.in_channels, unit.out_channels, block.tcn.kernel_size, block.tcn.stride,
                         block.tcn.padding, block.lag, block.residual_kind, unit)
            fused = block.fuse()
            gf, name = fused["gcn"], f"layer{i}"
            if kind == "attention":
                lay.w["in_scale"] = self._w(gf["in_scale"], f"{name}.attention.in_scale")
                lay.w["in_shift"] = self._w(gf["in_shift"], f"{name}.attention.in_shift")
                lay.w["qkv"], lay.w["qkv_b"] = self._lin(gf["qkv"], f"{name}.attention.qkv")
                lay.w["out"], lay.w["out_b"] = self._lin(gf["out"], f"{name}.attention.out")
                lay.w["skip_scale"] = self._w(gf["skip_scale"], f"{name}.attention.skip_scale")
            else:
                lay.w["lin"], lay.w["lin_b"] = self._lin(gf["lin"], f"{name}.gcn.lin")
                lay.w["b"] = self._w(gf["b"], f"{name}.gcn.bias")
                if kind == "adaptive":
                    lay.w["a_plus"] = self._w(gf["a_plus"], f"{name}.gcn.a_plus")
                    lay.w["theta"], lay.w["theta_b"] = self._lin(gf["theta"], f"{name}.gcn.theta")
                    lay.w["phi"], lay.w["phi_b"] = self._lin(gf["phi"], f"{name}.gcn.phi")
                else:
                    lay.w["a_cat"] = self._w(gf["a_cat"], f"{name}.gcn.adjacency")
                if "res" in gf:
                    lay.w["res"], lay.w["res_b"] = self._lin(gf["res"], f"{name}.gcn.residual")
            lay.w["tcn"], lay.w["tcn_b"] = self._lin(fused["tcn"]["lin"], f"{name}.tcn")
            if "res" in fused:
                lay.w["bres"], lay.w["bres_b"] = self._lin(fused["res"]["lin"], f"{name}.residual")
            self.layers.append(lay)
        self.fc_w = self._w(model.fc.weight.t(), "fc.weight")
        self.fc_b = self._w(model.fc.bias, "fc.bias")

    # units (x: (N, M, V, C)) ------------------------------------------------------------------------------------------
    def _gcn(self, g: _Graph, lay: _Layer, x: str) -> str:
        v, name = self.v, f"layer{lay.index}.gcn"
        w = lay.w
        if lay.kind == "attention":
            return self._attention(g, lay, x)
        k = lay.unit.num_subsets if lay.kind == "partition" else 3
        z = g.linear(x, w["lin"], w["lin_b"], name, self.lead)
        z = g.op("Reshape", [z, g.const([0, 0, v * k, lay.c_out])])
        if lay.kind == "adaptive":
            ic = lay.unit.inter_c
            theta = g.linear(x, w["theta"], w["theta_b"], f"{name}.theta", self.lead)
            theta = g.op("Transpose", [g.op("Reshape", [theta, g.const([0, 0, v, 3, ic])])], perm=[0, 1, 3, 2, 4])
            phi = g.linear(x, w["phi"], w["phi_b"], f"{name}.phi", self.lead)
            phi = g.op("Transpose", [g.op("Reshape", [phi, g.const([0, 0, v, 3, ic])])], perm=[0, 1, 3, 4, 2])
            att = g.op("MatMul", [theta, phi], f"{GRAPH_PRODUCT_TAG}.{name}.attention")
            att = g.op("Softmax", [g.op("Div", [att, g.const(float(ic), FLOAT)])], axis=-2)
            adj = g.op("Add", [att, w["a_plus"]])
            a_cat = g.op("Reshape", [g.op("Transpose", [adj], perm=[0, 1, 4, 3, 2]), g.const([0, 0, v, v * 3])])
        else:
            a_cat = w["a_cat"]
        y = g.op("Add", [g.op("MatMul", [a_cat, z], f"{GRAPH_PRODUCT_TAG}.{name}"), w["b"]])
        if lay.kind != "partition":
            res = x if "res" not in w else g.linear(x, w["res"], w["res_b"], f"{name}.residual", self.lead)
            y = g.op("Add", [y, res])
        return g.op("Relu", [y], name)

    def _attention(self, g: _Graph, lay: _Layer, x: str) -> str:
        unit, w, v = lay.unit, lay.w, self.v
        nh, dk, dv = unit.num_heads, unit.dk, unit.dv
        name = f"layer{lay.index}.attention"
        xn = g.op("Add", [g.op("Mul", [x, w["in_scale"]]), w["in_shift"]])
        qkv = g.linear(xn, w["qkv"], w["qkv_b"], f"{name}.qkv", self.lead)

        def heads(start: int, stop: int, width: int) -> str:
            part = g.op("Slice", [qkv, g.const([start]), g.const([stop]), g.const([3])])
            return g.op("Transpose", [g.op("Reshape", [part, g.const([0, 0, v, nh, width])])], perm=[0, 1, 3, 2, 4])

        q = g.op("Mul", [heads(0, dk, dk // nh), g.const(float((dk // nh) ** -0.5), FLOAT)])
        k = g.op("Transpose", [heads(dk, 2 * dk, dk // nh)], perm=[0, 1, 2, 4, 3])
        val = heads(2 * dk, 2 * dk + dv, dv // nh)
        att = g.op("Softmax", [g.op("MatMul", [q, k], f"{GRAPH_PRODUCT_TAG}.{name}.scores")], axis=-1)
        out = g.op("MatMul", [att, val], f"{GRAPH_PRODUCT_TAG}.{name}.values")
        out = g.op("Reshape", [g.op("Transpose", [out], perm=[0, 1, 3, 2, 4]), g.const([0, 0, v, dv])])
        out = g.linear(out, w["out"], w["out_b"], f"{name}.out", self.lead)
        if unit.skip:
            out = g.op("Add", [out, g.op("Mul", [x, w["skip_scale"]])])
        return g.op("Relu", [out], name)

    # one push into a block --------------------------------------------------------------------------------------------
    def _update(self, g: _Graph, lay: _Layer, st: dict[str, str], prefix: str, x: str | None, act: str | None,
                rep: str | bool | None, lockstep: bool = False) -> tuple[dict[str, str], str]:
        """Feed the block input ``x`` (None: one step of the temporal convolution's right zero padding) to the
        block's state for the samples in ``act`` (None: all), replicated where ``rep`` (True: every sample); the new
        state and which samples release an output. ``lockstep``: ``act`` is the same for every sample (no masks)."""
        key = f"{prefix}layer{lay.index}"
        ring, count = st[f"{key}.ring"], st[f"{key}.count"]
        m, v, k = self.m, self.v, lay.k
        new = dict(st)
        if x is None:
            u = g.zeros(count, [m, v, 1, lay.c_out])
        else:
            u = g.unsqueeze(self._gcn(g, lay, x), [3])
        if lockstep and act is not None and rep is None:
            by = g.op("ReduceMax", [g.op("Cast", [act], to=INT64)], keepdims=1)  # (1,): 1 if the batch steps
            new[f"{key}.ring"] = g.shift_if(ring, u, 3, k, by)
            rel = g.op("Add", [count, g.const(lay.padding - (k - 1))])
            due = g.op("GreaterOrEqual", [rel, g.const(0)])
            if lay.stride > 1:
                due = g.op("And", [due, g.op("Equal", [g.op("Mod", [rel, g.const(lay.stride)]), g.const(0)])])
            new[f"{key}.count"] = g.op("Add", [count, g.op("Cast", [act], to=INT64)])
            if lay.residual != "none":
                h = g.unsqueeze(x, [1]) if x is not None else g.zeros(count, [1, m, v, lay.c_in])
                new[f"{key}.residual"] = g.shift_if(st[f"{key}.residual"], h, 1, lay.lag + 1, by)
            return new, g.op("And", [act, due])
        if rep is True:
            up = g.op("Expand", [u, g.op("Shape", [ring])])
            before = g.op("Add", [g.op("Mul", [count, g.const(0)]), g.const(k - 1 - lay.padding)])
        else:
            up = g.shift(ring, u, 3, k)
            before = count
            if isinstance(rep, str):
                up = g.op("Where", [g.mask(rep, 5), g.op("Expand", [u, g.op("Shape", [ring])]), up])
                before = g.op("Where", [rep, g.const(k - 1 - lay.padding), count])
        new[f"{key}.ring"] = g.where(act, up, ring, 5)
        rel = g.op("Add", [before, g.const(lay.padding - (k - 1))])
        due = g.op("GreaterOrEqual", [rel, g.const(0)])
        if lay.stride > 1:
            due = g.op("And", [due, g.op("Equal", [g.op("Mod", [rel, g.const(lay.stride)]), g.const(0)])])
        release = g.both(act, due)
        new[f"{key}.count"] = g.where(act, g.op("Add", [before, g.const(1)]), count, 1)
        if lay.residual != "none":
            hist = st[f"{key}.residual"]
            h = g.zeros(count, [1, m, v, lay.c_in]) if x is None else g.unsqueeze(x, [1])
            if rep is True:
                hup = g.op("Expand", [h, g.op("Shape", [hist])])
            else:
                hup = g.shift(hist, h, 1, lay.lag + 1)
                if isinstance(rep, str):
                    hup = g.op("Where", [g.mask(rep, 5), g.op("Expand", [h, g.op("Shape", [hist])]), hup])
            new[f"{key}.residual"] = g.where(act, hup, hist, 5)
        return new, release

    def _emit(self, g: _Graph, lay: _Layer, st: dict[str, str], prefix: str) -> str:
        """The block's output from its updated state: the temporal convolution over the ring plus the residual."""
        key, w = f"{prefix}layer{lay.index}", lay.w
        window = g.op("Reshape", [st[f"{key}.ring"], g.const([0, 0, 0, lay.k * lay.c_out])])
        z = g.linear(window, w["tcn"], w["tcn_b"], f"layer{lay.index}.tcn", self.lead)
        if lay.residual != "none":
            oldest = g.op("Gather", [st[f"{key}.residual"], g.const(0)], axis=1)
            r = oldest if lay.residual == "identity" else g.linear(oldest, w["bres"], w["bres_b"],
                                                                   f"layer{lay.index}.residual", self.lead)
            z = g.op("Add", [z, r])
        return g.op("Relu", [z], f"layer{lay.index}.out")

    # a stream: the layers, the pool and the head ----------------------------------------------------------------------
    def _stream(self, g: _Graph, st: dict[str, str], prefix: str, start: int, x: str, act: str | None,
                rep: str | None, prefix_pool: str | bool, rep_pool: str | None) -> dict[str, str]:
        """Layers ``start``... of one stream fed ``x`` for the samples ``act``; returns the new state of those layers
        and of the pool, ``logits`` and ``valid``. Above a strided layer the rest runs in an ``If`` node only when
        some sample released an output."""
        out: dict[str, str] = {}
        for lay in self.layers[start:]:
            st, release = self._update(g, lay, st, prefix, x, act, rep)
            key = f"{prefix}layer{lay.index}"
            out.update({n: st[n] for n in (f"{key}.ring", f"{key}.residual", f"{key}.count") if n in st})
            if lay.stride > 1:
                names = self._tail_names(prefix, lay.index)
                at = lay.index

                def then(b: _Graph, st: dict[str, str] = st, lay: _Layer = lay, release: str = release,
                         at: int = at) -> dict[str, str]:
                    y = self._emit(b, lay, st, prefix)
                    return self._stream(b, st, prefix, at, y, release, rep, prefix_pool, rep_pool)

                def other(b: _Graph, st: dict[str, str] = st, names: list[str] = names) -> dict[str, str]:
                    return self._idle(b, st, names)

                out.update(self._if(g, g.any(release), then, other, names))
                return out
            x, act = self._emit(g, lay, st, prefix), release
        out.update(self._pool(g, st, prefix, x, act, prefix_pool, rep_pool))
        return out

    def _lockstep(self, g: _Graph, st: dict[str, str], start: int, x: str, act: str | None,
                  prefix_pool: str | bool) -> dict[str, str]:
        """Layers ``start``... of the main stream when every sample has the same counters (always at batch 1) and
        none starts a replicated warm start: one control flow for the whole batch and no per-sample masks. A layer
        that is not fed keeps its buffers by a zero shift; above a strided layer the rest runs in an ``If`` node only
        when it released an output."""
        out: dict[str, str] = {}
        for lay in self.layers[start:]:
            st, release = self._update(g, lay, st, "", x, act, None, lockstep=True)
            key = f"layer{lay.index}"
            out.update({n: st[n] for n in (f"{key}.ring", f"{key}.residual", f"{key}.count") if n in st})
            if lay.stride > 1 and lay is not self.layers[-1]:
                names = self._tail_names("", lay.index)

                def then(b: _Graph, st: dict[str, str] = st, lay: _Layer = lay,
                         release: str = release) -> dict[str, str]:
                    return self._lockstep(b, st, lay.index, self._emit(b, lay, st, ""), release, prefix_pool)

                def other(b: _Graph, st: dict[str, str] = st, names: list[str] = names) -> dict[str, str]:
                    return self._idle(b, st, names)

                out.update(self._if(g, g.any(release), then, other, names))
                return out
            x, act = self._emit(g, lay, st, ""), release
        out.update(self._pool(g, st, "", x, act, prefix_pool, None, lockstep=True))
        return out

    def _in_lockstep(self, g: _Graph, st: dict[str, str]) -> str:
        """A scalar bool: every sample has the same counters and flags (so the same control flow)."""
        names = ["steps", "pool.count"] + [f"layer{lay.index}.count" for lay in self.layers]
        cols = [st[n] for n in names] + [g.op("Cast", [st["warm_start"]], to=INT64)]
        table = g.op("Reshape", [g.op("Concat", cols, axis=0), g.const([len(cols), -1])])  # (counters, N)
        spread = g.op("Sub", [g.op("ReduceMax", [table], axes=[1], keepdims=0),
                              g.op("ReduceMin", [table], axes=[1], keepdims=0)])
        return g.op("Equal", [g.op("ReduceMax", [spread], keepdims=0), g.const(0)], "lockstep")

    def _tail_names(self, prefix: str, after: int) -> list[str]:
        """The outputs of a stream's layers after ``after`` (1-based), its pool and head."""
        names = [s.name for s in self.state if s.name.startswith(f"{prefix}layer")
                 and (prefix or not s.name.startswith("bridge."))
                 and int(s.name[len(prefix) + 5:].split(".")[0]) > after]
        return names + [f"{prefix}pool", f"{prefix}pool.count", "logits", "valid"]

    def _idle(self, g: _Graph, st: dict[str, str], names: list[str]) -> dict[str, str]:
        """Nothing released: the state as it was, no prediction."""
        out = {n: st[n] for n in names if n not in ("logits", "valid")}
        batch = st["steps"]
        out["logits"] = g.zeros(batch, [self.num_classes])
        out["valid"] = g.zeros(batch, [], BOOL)
        return out

    def _dtype(self, name: str) -> int:
        return {"logits": FLOAT, "valid": BOOL}.get(name) or self.dtypes[name]

    def _if(self, g: _Graph, cond: str, then: Callable[[_Graph], dict[str, str]],
            other: Callable[[_Graph], dict[str, str]], names: list[str]) -> dict[str, str]:
        """An ``If`` node whose two branches return the values ``names``."""
        branches = []
        for label, fn in (("then", then), ("else", other)):
            b = _Graph(g.root)
            vals = fn(b)
            outs, taken = [], set()
            for n in names:
                o = vals[n]
                if o not in b.produced or o in taken:  # an outer value, or one given twice: a copy of its own
                    o = b.op("Identity", [o], f"{label}.{n}")
                taken.add(o)
                outs.append(helper.make_tensor_value_info(o, self._dtype(n), None))
            branches.append(helper.make_graph(b.nodes, g.root.fresh(f"{label}_branch"), [], outs))
        res = g.op("If", [cond], "if", n_out=len(names), then_branch=branches[0], else_branch=branches[1])
        res = [res] if len(names) == 1 else res
        return dict(zip(names, res))

    def _pool(self, g: _Graph, st: dict[str, str], prefix: str, x: str, act: str | None, prefix_pool: str | bool,
              rep_pool: str | bool | None, lockstep: bool = False) -> dict[str, str]:
        """The temporal average pool and the classifier (:meth:`CoSkeletonNet._pool_step`); ``lockstep``: ``act`` is
        the same for every sample."""
        p, pool, count = self.pool_size, st[f"{prefix}pool"], st[f"{prefix}pool.count"]
        f = g.op("ReduceMean", [x], "pooled", axes=[1, 2], keepdims=0)  # (N, C'): mean over joints and persons
        f1 = g.unsqueeze(f, [1])
        if lockstep and act is not None and rep_pool is None:
            by = g.op("ReduceMax", [g.op("Cast", [act], to=INT64)], keepdims=1)
            pool_new = g.shift_if(pool, f1, 1, p, by)
            count_new = g.op("Add", [count, g.op("Cast", [act], to=INT64)])
            return self._pool_head(g, prefix, pool_new, count_new, act, prefix_pool)
        up = g.shift(pool, f1, 1, p)
        cnt = g.op("Add", [count, g.const(1)])
        if rep_pool is True:
            up = g.op("Expand", [f1, g.op("Shape", [pool])])
            cnt = g.op("Add", [g.op("Mul", [count, g.const(0)]), g.const(p)])
        elif isinstance(rep_pool, str):
            up = g.op("Where", [g.mask(rep_pool, 3), g.op("Expand", [f1, g.op("Shape", [pool])]), up])
            cnt = g.op("Where", [rep_pool, g.const(p), cnt])
        pool_new = g.where(act, up, pool, 3)
        count_new = g.where(act, cnt, count, 1)
        return self._pool_head(g, prefix, pool_new, count_new, act, prefix_pool)

    def _pool_head(self, g: _Graph, prefix: str, pool_new: str, count_new: str, act: str | None,
                   prefix_pool: str | bool) -> dict[str, str]:
        """The prediction from the updated pool, and whether one is released."""
        p = self.pool_size
        total = g.op("ReduceSum", [pool_new, g.const([1])], keepdims=0)
        held = g.op("Max", [g.op("Min", [count_new, g.const(p)]), g.const(1)])
        full = g.op("GreaterOrEqual", [count_new, g.const(p - self.pool_padding)])
        if prefix_pool is True:
            div, ok = held, None
        elif prefix_pool is False:
            div, ok = g.const(p), full
        else:
            div = g.op("Where", [prefix_pool, held, g.const(p)])
            ok = g.op("Or", [prefix_pool, full])
        div = g.op("Cast", [div], to=FLOAT)
        if prefix_pool is not False:
            div = g.unsqueeze(div, [1])
        logits = self._head(g, g.op("Div", [total, div]))
        valid = act if ok is None else g.both(act, ok)
        if valid is None:
            valid = g.op("Not", [g.zeros(count_new, [], BOOL)])
        logits = g.op("Where", [g.mask(valid, 2), logits, g.const(0.0, FLOAT)])
        return {f"{prefix}pool": pool_new, f"{prefix}pool.count": count_new, "logits": logits, "valid": valid}

    def _head(self, g: _Graph, f: str) -> str:
        return g.op("Add", [g.op("MatMul", [f, self.fc_w], "fc"), self.fc_b], "fc")

    # the early mode exact: the regular model on the frames so far -----------------------------------------------------
    def _flush(self, g: _Graph, st: dict[str, str]) -> dict[str, str]:
        """:meth:`CoSkeletonNet._flushed`: every layer's owed outputs released by its right zero padding and carried
        through the layers above, the pool averaged over every position; on the state after this step (not kept)."""
        carried: list[tuple[str, str]] = []
        for lay in self.layers:
            out: list[tuple[str, str]] = []
            for x, valid in carried:
                st, rel = self._update(g, lay, st, "", x, valid, None)
                out.append((self._emit(g, lay, st, ""), rel))
            for _ in range(lay.padding):
                has = g.op("Greater", [st[f"layer{lay.index}.count"], g.const(0)])
                st, rel = self._update(g, lay, st, "", None, has, None)
                out.append((self._emit(g, lay, st, ""), rel))
            if lay.stride > 1 and len(out) > 1:
                out = self._compact(g, out, math.ceil(len(out) / lay.stride))
            carried = out
        p, count = self.pool_size, st["pool.count"]
        total = g.op("ReduceSum", [st["pool"], g.const([1])], keepdims=0)
        n = g.op("Min", [count, g.const(p)])
        for x, valid in carried:
            f = g.op("ReduceMean", [x], "pooled", axes=[1, 2], keepdims=0)
            total = g.op("Add", [total, g.op("Where", [g.mask(valid, 2), f, g.const(0.0, FLOAT)])])
            n = g.op("Add", [n, g.op("Cast", [valid], to=INT64)])
        valid = g.op("Greater", [n, g.const(0)])
        div = g.unsqueeze(g.op("Cast", [g.op("Max", [n, g.const(1)])], to=FLOAT), [1])
        logits = g.op("Where", [g.mask(valid, 2), self._head(g, g.op("Div", [total, div])), g.const(0.0, FLOAT)])
        return {"logits": logits, "valid": valid}

    def _compact(self, g: _Graph, items: list[tuple[str, str]], keep: int) -> list[tuple[str, str]]:
        """The released outputs of a strided layer moved to the front, in order; only ``keep`` slots (at most that
        many can be released) go on to the layer above."""
        n = len(items)
        ys = g.op("Concat", [g.unsqueeze(y, [1]) for y, _ in items], axis=1)  # (N, n, M, V, C)
        vs = g.op("Concat", [g.unsqueeze(v, [1]) for _, v in items], axis=1)  # (N, n)
        key = g.op("Sub", [g.op("Mul", [g.op("Cast", [vs], to=INT64), g.const(2 * n)]), g.const(np.arange(n))])
        _, idx = g.op("TopK", [key, g.const([keep])], n_out=2, axis=1, largest=1, sorted=1)
        v_kept = g.op("GatherElements", [vs, idx], axis=1)
        idx5 = g.op("Expand", [g.unsqueeze(idx, [2, 3, 4]),
                               g.op("Concat", [g.op("Shape", [idx]), g.op("Shape", [ys], start=2)], axis=0)])
        y_kept = g.op("GatherElements", [ys, idx5], axis=1)
        if keep == 1:
            return [(g.op("Squeeze", [y_kept, g.const([1])]), g.op("Squeeze", [v_kept, g.const([1])]))]
        y_parts = g.op("Split", [y_kept, g.const([1] * keep)], n_out=keep, axis=1)
        v_parts = g.op("Split", [v_kept, g.const([1] * keep)], n_out=keep, axis=1)
        return [(g.op("Squeeze", [y, g.const([1])]), g.op("Squeeze", [v, g.const([1])]))
                for y, v in zip(y_parts, v_parts)]

    # the whole step ---------------------------------------------------------------------------------------------------
    def build(self) -> onnx.ModelProto:
        g, model, mode = self.g, self.model, self.mode
        st = {s.name: f"state.{s.name}" for s in self.state}
        for s in self.state:
            g.root.used.add(f"state.{s.name}")
            g.root.used.add(f"next.{s.name}")
        for n in ("frame", "logits", "valid", "ready"):
            g.root.used.add(n)
        steps, warm = st["steps"], st["warm_start"]
        first = g.op("Equal", [steps, g.const(0)], "first")
        steps1 = g.op("Add", [steps, g.const(1)], "steps")
        rep_mode = mode in ("replicate", "replicate-prefix")
        rep = g.op("And", [warm, first], "replicate") if rep_mode else None
        prefix_pool: str | bool = warm if mode != "replicate" else False
        rep_pool = rep if mode == "replicate" else None
        x = g.op("Transpose", ["frame"], perm=[0, 3, 2, 1])  # (N, M, V, C)
        x = g.op("Add", [g.op("Mul", [x, self.in_scale]), self.in_shift], "data_bn")
        fast = self._in_lockstep(g, st)
        if rep is not None:
            fast = g.op("And", [fast, g.op("Not", [g.any(rep)])])
        out = self._if(g, fast, lambda b: self._lockstep(b, st, 0, x, None, prefix_pool),
                       lambda b: self._stream(b, st, "", 0, x, None, rep, prefix_pool, rep_pool),
                       self._tail_names("", 0))
        new = {**st, **out}
        logits, valid = out["logits"], out["valid"]

        # ready (CoSkeletonNet.ready)
        rf, delay, stride = model.receptive_field, model.delay, model.stride
        prefix_needed = delay + self.pool_padding * stride
        if rep_mode:
            needed = g.op("Where", [warm, g.const(rf - 1), g.const(delay)])
        elif mode != "replicate":
            needed = g.op("Where", [warm, g.const(prefix_needed), g.const(delay)])
        else:
            needed = g.const(delay)
        ready = g.op("Greater", [steps1, needed], "ready")

        if mode == "exact":
            beat = EXACT_BEAT if model.padding else 1
            on_beat = g.op("Equal", [g.op("Mod", [steps, g.const(beat)]), g.const(0)])
            warming = g.op("And", [warm, g.op("Not", [ready])])
            due = g.op("And", [warming, on_beat], "exact_due")
            fl = self._if(g, g.any(due), lambda b: self._flush(b, new), lambda b: self._idle(b, new, []),
                          ["logits", "valid"])
            logits = g.op("Where", [g.mask(due, 2), fl["logits"], logits])
            held = g.op("And", [warming, g.op("Not", [due])])
            valid = g.op("And", [g.choose(due, fl["valid"], valid), g.op("Not", [held])])
            logits = g.op("Where", [g.mask(valid, 2), logits, g.const(0.0, FLOAT)])
        elif mode == "bridged":
            run = g.op("And", [g.op("And", [warm, g.op("Or", [first, st["bridge.active"]])]),
                               g.op("Not", [valid])], "bridge_runs")
            names = self._tail_names("bridge.", 0)

            def bridge(b: _Graph) -> dict[str, str]:
                return self._stream(b, new, "bridge.", 0, x, run, b.op("And", [run, first]), True, None)

            br = self._if(g, g.any(run), bridge, lambda b: self._idle(b, new, names), names)
            new.update({k: v for k, v in br.items() if k not in ("logits", "valid")})
            logits = g.op("Where", [g.mask(run, 2), br["logits"], logits])
            valid = g.choose(run, br["valid"], valid)
            new["bridge.active"] = run
        new["steps"] = steps1

        outputs = [helper.make_tensor_value_info("logits", FLOAT, ["N", self.num_classes]),
                   helper.make_tensor_value_info("valid", BOOL, ["N"]),
                   helper.make_tensor_value_info("ready", BOOL, ["N"])]
        inputs = [helper.make_tensor_value_info("frame", FLOAT, ["N", self.c, self.v, self.m])]
        final = {"logits": logits, "valid": valid, "ready": ready}
        for s in self.state:
            dims = ["N" if d == "N" else int(d) for d in s.shape]
            inputs.append(helper.make_tensor_value_info(f"state.{s.name}", self.dtypes[s.name], dims))
            outputs.append(helper.make_tensor_value_info(f"next.{s.name}", self.dtypes[s.name], dims))
            final[f"next.{s.name}"] = new[s.name]
        # a value computed here gets its output's name (no copy); an input passed on, or a value given twice, a copy
        rename: dict[str, str] = {}
        for out_name, value in final.items():
            if value in g.produced and value not in rename:
                rename[value] = out_name
            else:
                g.nodes.append(helper.make_node("Identity", [rename.get(value, value)], [out_name],
                                                name=g.fresh(f"{out_name}.node")))
        _rename(g.nodes, rename)
        graph = helper.make_graph(g.root.prelude + g.nodes, "cognn_step", inputs, outputs, g.root.inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="cognn-export")
        proto.ir_version = 8
        return proto


def _rename(nodes: Any, names: dict[str, str]) -> None:
    """Rename values in ``nodes`` and in the branches they hold."""
    for node in nodes:
        for field_ in (node.input, node.output):
            renamed = [names.get(v, v) for v in field_]
            del field_[:]
            field_.extend(renamed)
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename(attr.g.node, names)


def build_step_graph(model: CoSkeletonNet, *, early_mode: str | None = None, fp16: bool = False) -> onnx.ModelProto:
    """The ONNX graph of one step of the continual ``model`` (see the module docstring); ``early_mode`` overrides
    the model's for a warm start; ``fp16`` stores the weights as float16 (the arithmetic stays float32)."""
    if not isinstance(model, CoSkeletonNet):
        raise CognnError(f"{getattr(model, 'name', type(model).__name__)} is not a continual model; export its "
                         "continual twin")
    was_training = model.training
    model.eval()
    try:
        return _StepWriter(model, model.early_mode if early_mode is None else early_mode, fp16).build()
    finally:
        model.train(was_training)
