"""Spatial graph units: the ST-GCN graph convolution (2s-AGCN style), the AGCN adaptive graph convolution and the
original ST-GCN's partition graph convolution.

Each unit has two paths with one set of parameters (so a continual model loads its regular twin's weights as they are):

* ``forward(x)`` over a clip ``(B, C, T, V)`` — the reference computation, used for training and clip inference;
* ``step(x, fused)`` over one frame in channels-last layout ``(B, V, C)`` with BatchNorm folded into the weights
  (``fuse()`` builds them once) — the continual fast path. ``B`` is ``N · M`` (persons folded into the batch).

Parameter names follow the reference implementation (``A``, ``graph_attn``, ``g_conv.k``, ``a_conv.k``, ``b_conv.k``,
``gcn_residual``, ``bn``) so official checkpoints map one to one. Every unit also reports its cost by the paper's
convention (``analytic_macs``, :mod:`cognn.nn.cost`).
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cost import bn_macs, conv_macs, relu_macs
from .fold import bn_affine, fold_linear
from .init import init_weights
from .linear import FusedLinear
from .types import Fused

NUM_SUBSETS = 3


def _convs(convs: nn.ModuleList) -> list[nn.Conv2d]:
    """The convolutions of a ``ModuleList`` that holds only ``nn.Conv2d`` (typed as such)."""
    return cast("list[nn.Conv2d]", list(convs))


def _bias(conv: nn.Conv2d) -> Tensor:
    """The bias of a convolution built with one (every convolution of these units is)."""
    assert conv.bias is not None
    return conv.bias


def _bias_sum(convs: list[nn.Conv2d]) -> Tensor:
    """The sum of the biases of ``convs`` (the first plus the others, in order)."""
    biases = [_bias(conv) for conv in convs]
    return sum(biases[1:], biases[0])


def cat_adjacency(a_eff: Tensor) -> Tensor:
    """``(K, V, V)`` -> ``(V, K·V)`` (or batched ``(B, K, V, V)`` -> ``(B, V, K·V)``) with ``[w, v·K + k] = A_k[v, w]``:
    the graph product of features stored with row index ``v·K + k``."""
    k, v = a_eff.shape[-3], a_eff.shape[-1]
    if a_eff.dim() == 3:
        return a_eff.permute(2, 1, 0).reshape(v, v * k).contiguous()
    return a_eff.permute(0, 3, 2, 1).reshape(a_eff.shape[0], v, v * k)


class GraphUnitBase(nn.Module):
    """Shared parts: fixed graph ``A``, learnable ``graph_attn``, per-subset 1×1 convs, BN and the unit residual."""

    gcn_residual: nn.Sequential | None

    def __init__(self, in_channels: int, out_channels: int, A: Tensor) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.A = nn.Parameter(A.clone().float(), requires_grad=False)
        self.graph_attn = nn.Parameter(torch.ones_like(self.A))
        self.g_conv = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in range(NUM_SUBSETS))
        for conv in self.g_conv:
            init_weights(conv, bs=NUM_SUBSETS)
        if in_channels != out_channels:
            self.gcn_residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
            init_weights(self.gcn_residual[0])
            init_weights(self.gcn_residual[1])
        else:
            self.gcn_residual = None
        self.bn = nn.BatchNorm2d(out_channels)
        init_weights(self.bn, bs=1e-6)

    # -- clip path helpers ---------------------------------------------------------------------------------------------
    def _mix(self, xa: Tensor) -> Tensor:
        """Apply the three 1×1 subset convs to ``xa`` ``(B, 3, C, T, V)`` and sum them: ``(B, C_out, T, V)``."""
        b, k, c, t, v = xa.shape
        weight = torch.cat([conv.weight for conv in _convs(self.g_conv)], dim=1)  # (C_out, 3·C_in, 1, 1)
        bias = _bias_sum(_convs(self.g_conv))
        return F.conv2d(xa.reshape(b, k * c, t, v), weight, bias)

    def _finish(self, y: Tensor, x: Tensor) -> Tensor:
        y = self.bn(y)
        y = y + (x if self.gcn_residual is None else self.gcn_residual(x))
        return F.relu(y)

    def _residual_parts(self) -> tuple[nn.Conv2d, nn.BatchNorm2d] | None:
        """The unit residual's convolution and BatchNorm, or None for the identity."""
        if self.gcn_residual is None:
            return None
        return cast(nn.Conv2d, self.gcn_residual[0]), cast(nn.BatchNorm2d, self.gcn_residual[1])

    # -- step path -----------------------------------------------------------------------------------------------------
    def fuse(self) -> Fused:
        """Weights for :meth:`step` with the BatchNorms folded in."""
        scale, shift = bn_affine(self.bn)
        convs = _convs(self.g_conv)
        w = torch.cat([conv.weight.reshape(self.out_channels, -1) * scale[:, None] for conv in convs])
        b = _bias_sum(convs) * scale + shift
        fused: Fused = {"lin": FusedLinear(w.t(), None), "b": b}
        res = self._residual_parts()
        if res is not None:
            fused["res"] = FusedLinear(*fold_linear(res[0].weight, res[0].bias, res[1]))
        return fused

    @staticmethod
    def _cat_adjacency(a_eff: Tensor) -> Tensor:
        return cat_adjacency(a_eff)

    def analytic_macs(self, positions: float) -> float:
        """MACs by the paper's convention at ``positions`` = frames · V · M joint positions (graph products free)."""
        total = sum((conv_macs(c, positions) for c in _convs(self.g_conv)), 0.0)
        total += bn_macs(self.out_channels, positions) + relu_macs(self.out_channels, positions)
        res = self._residual_parts()
        if res is not None:
            total += conv_macs(res[0], positions) + bn_macs(self.out_channels, positions)
        return total

    def _step_graph(self, x: Tensor, fused: Fused, a_cat: Tensor) -> Tensor:
        """Graph convolution of one frame ``x`` ``(B, V, C)``; ``a_cat`` from :meth:`_cat_adjacency`."""
        b, v, c = x.shape
        x2 = x.reshape(b * v, c)
        z = fused["lin"](x2).view(b, v * NUM_SUBSETS, self.out_channels)  # row index v·3 + k
        y = torch.matmul(a_cat, z)  # a fresh tensor: the additions and the ReLU go in place
        y += fused["b"]
        if self.gcn_residual is None:
            y += x
        else:
            y += fused["res"](x2).view(b, v, self.out_channels)
        return y.relu_()


class GraphConv(GraphUnitBase):
    """ST-GCN graph convolution (2s-AGCN style): ``Σ_k W_k (x · (A_k ⊙ M_k))`` + BN + residual, ReLU.

    ``graph_attn`` (``M``) is a learnable edge mask that multiplies the fixed graph.
    """

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        a = self.A * self.graph_attn
        xa = torch.matmul(x.reshape(n, 1, c * t, v), a).view(n, NUM_SUBSETS, c, t, v)
        return self._finish(self._mix(xa), x)

    def fuse(self) -> Fused:
        fused = super().fuse()
        fused["a_cat"] = self._cat_adjacency(self.A * self.graph_attn)
        return fused

    def step(self, x: Tensor, fused: Fused) -> Tensor:
        return self._step_graph(x, fused, fused["a_cat"])


class AdaptiveGraphConv(GraphUnitBase):
    """AGCN adaptive graph convolution: adjacency ``softmax(θᵀφ / (C_e·T)) + A_k + B_k`` per subset.

    ``variant="clip"`` is the regular 2s-AGCN unit: one attention matrix per clip, from embeddings flattened over all
    frames, divided by ``inter_c · T`` before a softmax over the source joint ``v``. In step mode (CoAGCN) the
    attention is computed from the single incoming frame (``T = 1``), as the official continual model does.

    ``variant="mod"`` reproduces the official AGCN* / CoAGCN* unit, whose attention normalises over the summed axis and
    cancels out: each subset scales every joint by ``1 + Σ_w (A_k + B_k)[v, w]`` before its 1×1 conv. The released
    ``agcnmod`` checkpoints were trained this way; ``a_conv``/``b_conv`` are kept (and loaded) but have no effect.
    """

    def __init__(self, in_channels: int, out_channels: int, A: Tensor, variant: str = "clip",
                 coff_embedding: int = 4) -> None:
        super().__init__(in_channels, out_channels, A)
        if variant not in ("clip", "mod"):
            raise ValueError(f"variant must be 'clip' or 'mod', not {variant!r}")
        self.variant = variant
        self.inter_c = out_channels // coff_embedding
        self.a_conv = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(NUM_SUBSETS))
        self.b_conv = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(NUM_SUBSETS))
        for conv in (*self.a_conv, *self.b_conv):
            init_weights(conv)

    def analytic_macs(self, positions: float) -> float:
        # the reference evaluates θ and φ in both variants
        convs = _convs(self.a_conv) + _convs(self.b_conv)
        return super().analytic_macs(positions) + sum((conv_macs(c, positions) for c in convs), 0.0)

    def _joint_scale(self) -> Tensor:
        return 1.0 + (self.A + self.graph_attn).sum(-1)  # (3, V)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        if self.variant == "mod":
            xa = x.unsqueeze(1) * self._joint_scale()[None, :, None, None, :]
            return self._finish(self._mix(xa), x)
        a_plus = self.A + self.graph_attn
        ic = self.inter_c
        mats = []
        for k in range(NUM_SUBSETS):
            theta = self.a_conv[k](x).permute(0, 3, 1, 2).reshape(n, v, ic * t)
            phi = self.b_conv[k](x).reshape(n, ic * t, v)
            att = torch.softmax(torch.matmul(theta, phi) / (ic * t), dim=-2)
            mats.append(att + a_plus[k])
        adj = torch.stack(mats, dim=1)  # (N, 3, V, V)
        xa = torch.matmul(x.reshape(n, 1, c * t, v), adj).view(n, NUM_SUBSETS, c, t, v)
        return self._finish(self._mix(xa), x)

    def fuse(self) -> Fused:
        fused = super().fuse()
        if self.variant == "mod":
            fused["a_cat"] = self._cat_adjacency(torch.diag_embed(self._joint_scale()))
        else:
            a_conv, b_conv = _convs(self.a_conv), _convs(self.b_conv)
            fused["a_plus"] = (self.A + self.graph_attn).contiguous()
            fused["theta"] = FusedLinear(torch.cat([c.weight.reshape(self.inter_c, -1) for c in a_conv]).t(),
                                         torch.cat([_bias(c) for c in a_conv]))
            fused["phi"] = FusedLinear(torch.cat([c.weight.reshape(self.inter_c, -1) for c in b_conv]).t(),
                                       torch.cat([_bias(c) for c in b_conv]))
        return fused

    def step(self, x: Tensor, fused: Fused) -> Tensor:
        if self.variant == "mod":
            return self._step_graph(x, fused, fused["a_cat"])
        b, v, c = x.shape
        ic = self.inter_c
        x2 = x.reshape(b * v, c)
        theta = fused["theta"](x2).view(b, v, NUM_SUBSETS, ic).transpose(1, 2)
        phi = fused["phi"](x2).view(b, v, NUM_SUBSETS, ic).permute(0, 2, 3, 1)
        att = torch.softmax(torch.matmul(theta, phi) / ic, dim=-2)  # (B, 3, V, V), [v, w]
        return self._step_graph(x, fused, self._cat_adjacency(att + fused["a_plus"]))


class PartitionGraphConv(nn.Module):
    """The original ST-GCN graph convolution (Yan et al. 2018) with the per-frame head of its temporal unit:
    ``ReLU(BN(Σ_k (W_k x + b_k) · (A_k ⊙ E_k)))``.

    ``conv`` is one 1×1 convolution to ``K·C_out`` channels whose bias is added *before* the graph product; ``A`` is
    the "spatial" partition ``(K, V, V)`` (a buffer); ``edge_importance`` (``E``, learnable, ones at the start) weights
    its edges, or is absent (``edge_importance=False``). ``bn`` is the original's ``tcn.0``; the ReLU its ``tcn.1``.
    Over a clip ``(B, C_in, T, V) -> (B, C_out, T, V)``; over one frame ``(B, V, C_in) -> (B, V, C_out)``.
    """

    A: Tensor  # a buffer (register_buffer)

    def __init__(self, in_channels: int, out_channels: int, A: Tensor, edge_importance: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_subsets = A.shape[0]
        self.register_buffer("A", A.clone().float())
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        self.edge_importance = nn.Parameter(torch.ones_like(self.A)) if edge_importance else None
        self.bn = nn.BatchNorm2d(out_channels)
        init_weights(self.conv)
        init_weights(self.bn)

    def _graph(self) -> Tensor:
        return self.A if self.edge_importance is None else self.A * self.edge_importance

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        b, _, t, v = y.shape
        y = torch.einsum("bkctv,kvw->bctw", y.view(b, self.num_subsets, self.out_channels, t, v), self._graph())
        return F.relu(self.bn(y))

    def fuse(self) -> Fused:
        """Weights for :meth:`step`: BN folded into the convolution, the bias carried through the graph."""
        scale, shift = bn_affine(self.bn)
        k, c = self.num_subsets, self.out_channels
        a = self._graph()
        w = (self.conv.weight.reshape(k, c, -1) * scale[None, :, None]).reshape(k * c, -1)
        bias = torch.einsum("kvw,kc->wc", a, _bias(self.conv).view(k, c)) * scale + shift  # (V, C_out)
        return {"lin": FusedLinear(w.t(), None), "b": bias.contiguous(), "a_cat": cat_adjacency(a)}

    def step(self, x: Tensor, fused: Fused) -> Tensor:
        b, v, c = x.shape
        z = fused["lin"](x.reshape(b * v, c)).view(b, v * self.num_subsets, self.out_channels)  # row v·K + k
        y = torch.matmul(fused["a_cat"], z)
        y += fused["b"]
        return y.relu_()

    def analytic_macs(self, positions: float) -> float:
        """MACs by the paper's convention: the convolution (bias included), BN and ReLU; the graph product is free."""
        c = self.out_channels
        return conv_macs(self.conv, positions) + bn_macs(c, positions) + relu_macs(c, positions)
