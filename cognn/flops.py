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
  are not counted (:mod:`cognn.nn.cost`; every spatial unit counts itself with ``analytic_macs``, so any family is
  counted, the original ST-GCN included). With this rule the regular and ``*`` models reproduce Table II to three
  decimals and Table V (Kinetics, ``V = 18``) to 0.04 % (see ``docs/benchmarks.md``, ``docs/kinetics.md``). For
  the strided continual models the official continual convolution multiplies every incoming frame with all ``K``
  taps (partial sums for later outputs), also on steps whose output a stride discards; ``conv_taps="every_frame"``
  counts that (the official library's work, Table II's CoST-GCN and CoAGCN), ``"released"`` counts only the taps of
  released outputs (what cognn's ring buffer computes; Table II's CoS-TR and all three strided models of Table V).

The paper says "FLOPs"; its numbers are MACs. :data:`PAPER_GMACS` holds its Table II values (NTU RGB+D 60),
:data:`PAPER_GMACS_KINETICS` its Table V values (Kinetics-400, 1 stream); :func:`paper_macs` picks by layout.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from .models.base import CoSkeletonNet, SkeletonNet
from .nn.block import STBlock
from .nn.cost import bn_macs, conv_macs, linear_macs, relu_macs

__all__ = ["MacCount", "PAPER_GMACS", "PAPER_GMACS_KINETICS", "PAPER_GMACS_BY_LAYOUT", "count_macs", "counted_macs",
           "analytic_macs", "paper_macs", "frames_per_prediction"]

#: Table II of the paper (NTU RGB+D 60, T=300, V=25, M=2): "FLOPs" per prediction in G, which are MACs
PAPER_GMACS: dict[str, float] = {
    "stgcn": 16.73, "stgcn_mod": 36.90, "costgcn": 0.27, "costgcn_mod": 0.16,
    "agcn": 18.69, "agcn_mod": 40.87, "coagcn": 0.30, "coagcn_mod": 0.17,
    "str": 16.14, "str_mod": 35.65, "costr": 0.22, "costr_mod": 0.15,
}
#: Table V of the paper (Kinetics-400, T=300, V=18, M=2, 400 classes), 1 stream: "FLOPs" per prediction in G (MACs);
#: the regular ``*`` models are not in that table
PAPER_GMACS_KINETICS: dict[str, float] = {
    "stgcn": 12.04, "costgcn": 0.16, "costgcn_mod": 0.11,
    "agcn": 13.45, "coagcn": 0.18, "coagcn_mod": 0.12,
    "str": 11.62, "costr": 0.16, "costr_mod": 0.11,
}
#: the paper's tables by layout, with the class count of their dataset
PAPER_GMACS_BY_LAYOUT: dict[str, tuple[int, dict[str, float]]] = {"ntu25": (60, PAPER_GMACS),
                                                                   "kinetics18": (400, PAPER_GMACS_KINETICS)}


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
def _block(block: STBlock, pos_per_frame: int, t_in: float, t_out: float, every_frame: bool) -> float:
    p_in, p_out = t_in * pos_per_frame, t_out * pos_per_frame
    tcn = block.tcn
    total = block.gcn.analytic_macs(p_in)
    taps = p_in if every_frame and tcn.stride > 1 else p_out
    total += conv_macs(tcn.t_conv, taps, bias_positions=p_out) + bn_macs(tcn.bn.num_features, p_out)
    total += relu_macs(tcn.t_conv.out_channels, p_out)  # block ReLU
    if block.residual is not None:
        res = block.residual
        taps = p_in if every_frame and res.stride > 1 else p_out
        total += conv_macs(res.t_conv, taps) + bn_macs(res.bn.num_features, taps)
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
    t: float = model.stride if isinstance(model, CoSkeletonNet) else window
    total = bn_macs(model.in_channels, t * pos)  # data_bn: one scale and shift per value
    for block in model.blocks():
        if continual:
            t_out = t / block.stride
        else:
            t_out = (t + 2 * block.padding - block.receptive_field) // block.stride + 1
            if t_out < 1:
                raise ValueError(f"{model.name}: a {window}-frame window is too short for this model")
        total += _block(block, pos, t, t_out, every_frame)
        t = t_out
    total += linear_macs(model.fc)
    return round(total)


def paper_macs(name: str, layout: str = "ntu25") -> int | None:
    """The paper's MACs per prediction for a registered model name: Table II for ``ntu25`` (NTU-60 joints), Table V
    for ``kinetics18`` (Kinetics-400, 1 stream); None if the table does not list it."""
    g = PAPER_GMACS_BY_LAYOUT.get(layout, (0, {}))[1].get(name)
    return None if g is None else round(g * 1e9)
