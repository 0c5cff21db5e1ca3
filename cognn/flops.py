"""Cost accounting: multiply-accumulates (MACs) per prediction, counted and analytic.

Two numbers per model, both *per new prediction* with a batch of one, ``(N=1, C, T, V, M)``:

* **counted** (:func:`counted_macs`) — what cognn actually executes, measured with torch's own
  :class:`torch.utils.flop_counter.FlopCounterMode`. That counter sees only matrix products and convolutions
  (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``convolution``, attention kernels) and reports 2 FLOPs per
  multiply-accumulate; we divide by 2. It does **not** see bias additions (``addmm`` and ``convolution`` count only
  their product), BatchNorm, ReLU, softmax, pooling means, residual additions or any other elementwise op. It **does**
  see the graph products ``x·A`` and the attention products ``q·kᵀ``, ``w·v``. A regular model is counted over one
  ``window``-frame clip; a continual model over ``stride`` consecutive :meth:`forward_step` calls once its buffers are
  full (one full stride cycle = one prediction). In step mode BatchNorm is folded into the weights, so it costs nothing.

* **analytic** (:func:`analytic_macs`) — the paper's convention (Table II, measured there with ``ptflops``) applied to
  the reference architecture: convolution and linear MACs, +1 per bias element, +2 per BatchNorm element (scale and
  shift), +1 per ReLU element; the graph products ``x·A``, attention products, softmax, pooling and residual additions
  are not counted. With this rule the regular and ``*`` models reproduce Table II to three decimals (see
  ``docs/benchmarks.md``). For the strided continual models the official continual convolution multiplies every
  incoming frame with all ``K`` taps (partial sums for later outputs), also on steps whose output a stride discards;
  ``conv_taps="every_frame"`` counts that (the official library's work), ``"released"`` counts only the taps of
  released outputs (what cognn's ring buffer computes).

The paper says "FLOPs"; its numbers are MACs. :data:`PAPER_GMACS` holds its Table II values.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .models.base import CoSkeletonNet, SkeletonNet
from .nn.attention import SpatialAttention
from .nn.block import STBlock
from .nn.graph_conv import AdaptiveGraphConv, GraphUnitBase

__all__ = ["MacCount", "PAPER_GMACS", "count_macs", "counted_macs", "analytic_macs", "paper_macs",
           "frames_per_prediction"]

#: Table II of the paper (NTU RGB+D 60, T=300, V=25, M=2): "FLOPs" per prediction in G, which are MACs
PAPER_GMACS: dict[str, float] = {
    "stgcn": 16.73, "stgcn_mod": 36.90, "costgcn": 0.27, "costgcn_mod": 0.16,
    "agcn": 18.69, "agcn_mod": 40.87, "coagcn": 0.30, "coagcn_mod": 0.17,
    "str": 16.14, "str_mod": 35.65, "costr": 0.22, "costr_mod": 0.15,
}


@dataclass(frozen=True)
class MacCount:
    """MACs as counted by :class:`FlopCounterMode` (its FLOPs / 2), in total and per aten operator."""

    macs: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def count_macs(fn: Callable[[], object]) -> MacCount:
    """Run ``fn()`` under :class:`FlopCounterMode` (no autograd) and return its MACs."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn()
    ops = counter.get_flop_counts().get("Global", {})
    return MacCount(counter.get_total_flops() // 2, {str(k): int(v) // 2 for k, v in ops.items()})


def frames_per_prediction(model: SkeletonNet, window: int = 300) -> int:
    """New frames per prediction: the continual model's stride, or the regular model's ``window``."""
    return model.stride if isinstance(model, CoSkeletonNet) else window


def _example(model: SkeletonNet, frames: int, batch: int = 1) -> torch.Tensor:
    p = next(model.parameters())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, model.in_channels, frames, model.layout.num_joints, model.num_persons, generator=g)
    return x.to(device=p.device, dtype=p.dtype)


def counted_macs(model: SkeletonNet, window: int = 300, on_meta: bool = True) -> MacCount:
    """MACs per prediction at batch 1 counted by torch (see the module docstring for what is and is not counted).

    Regular model: one forward over a ``window``-frame clip. Continual model: ``stride`` steps after its buffers were
    filled (by a warm start). ``on_meta`` (default) counts on a copy of the model on the ``meta`` device: the same
    operators and shapes, no arithmetic, and ``model`` is left untouched; otherwise ``model`` itself runs (its step
    state is cleared before and after and its ``warm_start`` restored).
    """
    if on_meta:
        model = copy.deepcopy(model).to("meta")
    model.eval()
    if not isinstance(model, CoSkeletonNet):
        x = _example(model, window)
        return count_macs(lambda: model(x))
    frame = _example(model, 1)[:, :, 0]
    warm = model.warm_start
    model.warm_start = True
    model.clean_state()
    try:
        with torch.no_grad():
            model.forward_step(frame)

        def steps() -> None:
            for _ in range(model.stride):
                model.forward_step(frame)

        return count_macs(steps)
    finally:
        model.warm_start = warm
        model.clean_state()


# -- analytic count (the paper's ptflops convention) -------------------------------------------------------------------
def _conv(conv: nn.Conv2d | nn.Conv1d, positions: float, bias_positions: float | None = None) -> float:
    """MACs of a convolution evaluated at ``positions`` output positions, plus one per bias element."""
    per_position = conv.in_channels // conv.groups * conv.out_channels
    for k in conv.kernel_size:
        per_position *= k
    bias = 0.0 if conv.bias is None else conv.out_channels * (positions if bias_positions is None else bias_positions)
    return per_position * positions + bias


def _bn(channels: int, positions: float) -> float:
    return 2.0 * channels * positions


def _spatial_unit(unit: nn.Module, positions: float) -> float:
    """Analytic MACs of one spatial unit over ``positions`` = frames · V · M joint positions."""
    if isinstance(unit, SpatialAttention):
        ac = unit.attention_conv
        return (_bn(unit.in_channels, positions) + _conv(ac.qkv_conv, positions) + _conv(ac.attn_out, positions)
                + _bn(unit.out_channels, positions) + unit.out_channels * positions)
    if isinstance(unit, GraphUnitBase):
        total = sum(_conv(c, positions) for c in unit.g_conv)
        total += _bn(unit.out_channels, positions) + unit.out_channels * positions  # BN, ReLU
        if unit.gcn_residual is not None:
            total += _conv(unit.gcn_residual[0], positions) + _bn(unit.out_channels, positions)
        if isinstance(unit, AdaptiveGraphConv):  # the reference evaluates θ and φ in both variants
            total += sum(_conv(c, positions) for c in (*unit.a_conv, *unit.b_conv))
        return total
    raise TypeError(f"no analytic count for spatial unit {type(unit).__name__}")


def _block(block: STBlock, pos_per_frame: int, t_in: float, t_out: float, every_frame: bool) -> float:
    p_in, p_out = t_in * pos_per_frame, t_out * pos_per_frame
    tcn = block.tcn
    total = _spatial_unit(block.gcn, p_in)
    taps = p_in if every_frame and tcn.stride > 1 else p_out
    total += _conv(tcn.t_conv, taps, bias_positions=p_out) + _bn(tcn.bn.num_features, p_out)
    total += tcn.t_conv.out_channels * p_out  # block ReLU
    if block.residual is not None:
        res = block.residual
        taps = p_in if every_frame and res.stride > 1 else p_out
        total += _conv(res.t_conv, taps) + _bn(res.bn.num_features, taps)
    return total


def analytic_macs(model: SkeletonNet, window: int = 300, conv_taps: str = "every_frame") -> int:
    """MACs per prediction at batch 1 by the paper's convention (see the module docstring).

    Regular model: one forward over ``window`` frames. Continual model: one prediction, i.e. ``stride`` new frames
    through every layer; ``conv_taps`` ("every_frame" or "released") says how a strided continual convolution is
    charged.
    """
    if conv_taps not in ("every_frame", "released"):
        raise ValueError(f"conv_taps must be 'every_frame' or 'released', not {conv_taps!r}")
    continual = isinstance(model, CoSkeletonNet)
    every_frame = continual and conv_taps == "every_frame"
    pos = model.layout.num_joints * model.num_persons
    t: float = model.stride if continual else window
    total = _bn(model.data_bn.num_features // model.layout.num_joints // model.num_persons, t * pos)
    for block in model.layers.values():
        if continual:
            t_out = t / block.stride
        else:
            t_out = (t + 2 * block.padding - block.receptive_field) // block.stride + 1
            if t_out < 1:
                raise ValueError(f"{model.name}: a {window}-frame window is too short for this model")
        total += _block(block, pos, t, t_out, every_frame)
        t = t_out
    total += _conv_linear(model.fc)
    return round(total)


def _conv_linear(fc: nn.Linear) -> float:
    return fc.in_features * fc.out_features + (fc.out_features if fc.bias is not None else 0)


def paper_macs(name: str) -> int | None:
    """Table II's MACs per prediction for a registered model name (NTU-60 joints), or None if not listed."""
    g = PAPER_GMACS.get(name)
    return None if g is None else round(g * 1e9)
