"""S-TR spatial self-attention unit: attention among the joints of each frame (frame-local, hence exactly continual).

Names follow the reference (``A``, ``data_bn``, ``bn``, ``attention_conv.qkv_conv``, ``attention_conv.attn_out``).
Reference semantics (measured, MODELS.md §2.5a rule 7): the unit's own ``data_bn`` normalises channel ``c·V + v``; q, k
and v come from one 1×1 conv (channels ``[0:dk]``, ``[dk:2dk]``, rest); head ``h`` owns a contiguous channel block;
q is scaled by ``(dk/Nh)^-½``; softmax over keys; heads are recombined as channel ``h·dv_h + d``; the skip adds the
input as it was *before* ``data_bn`` when ``C_in == C_out``; then BN and ReLU. In training, drop-connect masks key
columns with probability ½ and renormalises.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cost import bn_macs, conv_macs, relu_macs
from .fold import bn_affine
from .init import init_weights
from .linear import FusedLinear
from .types import Fused


class _AttentionConv(nn.Module):
    """Holds the q/k/v projection and the output projection (a module of its own for the reference's key names)."""

    def __init__(self, in_channels: int, dk: int, dv: int) -> None:
        super().__init__()
        self.qkv_conv = nn.Conv2d(in_channels, 2 * dk + dv, 1)
        self.attn_out = nn.Conv2d(dv, dv, 1)


class SpatialAttention(nn.Module):
    """Multi-head self-attention over the ``V`` joints of every frame; ``(B, C_in, T, V) -> (B, C_out, T, V)``."""

    def __init__(self, in_channels: int, out_channels: int, A: Tensor, num_heads: int = 8, dk_factor: float = 0.25,
                 drop_connect: bool = True) -> None:
        super().__init__()
        v = A.shape[-1]
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_heads = num_heads
        self.dk = int(out_channels * dk_factor)
        self.dv = out_channels
        if self.dk % num_heads or self.dv % num_heads:
            raise ValueError("dk and dv must be divisible by the number of heads")
        self.drop_connect = drop_connect
        # trainable in the reference but unused by its forward pass; kept so checkpoints load one to one
        self.A = nn.Parameter(A.clone().float())
        self.data_bn = nn.BatchNorm1d(in_channels * v)
        self.bn = nn.BatchNorm2d(out_channels)
        self.attention_conv = _AttentionConv(in_channels, self.dk, self.dv)
        init_weights(self.data_bn)
        init_weights(self.bn)

    @property
    def skip(self) -> bool:
        return self.in_channels == self.out_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        nh, dk, dv = self.num_heads, self.dk, self.dv
        xn = self.data_bn(x.permute(0, 1, 3, 2).reshape(n, c * v, t)).view(n, c, v, t).permute(0, 3, 1, 2)
        xa = xn.reshape(n * t, c, 1, v)
        qkv = self.attention_conv.qkv_conv(xa).view(n * t, 2 * dk + dv, v)
        q, k, val = torch.split(qkv, [dk, dk, dv], dim=1)
        q = q.reshape(n * t, nh, dk // nh, v) * (dk // nh) ** -0.5
        k = k.reshape(n * t, nh, dk // nh, v)
        val = val.reshape(n * t, nh, dv // nh, v)
        weights = torch.softmax(torch.matmul(q.transpose(2, 3), k), dim=-1)  # (B·T, Nh, V, V)
        if self.drop_connect and self.training:
            mask = torch.bernoulli(torch.full((n * t, nh, 1, v), 0.5, device=x.device, dtype=x.dtype))
            weights = weights * mask
            weights = weights / (weights.sum(3, keepdim=True) + 1e-8)
        out = torch.matmul(weights, val.transpose(2, 3))  # (B·T, Nh, V, dv_h)
        out = out.permute(0, 1, 3, 2).reshape(n * t, dv, 1, v)
        out = self.attention_conv.attn_out(out).view(n, t, dv, v).permute(0, 2, 1, 3)
        if self.skip:
            out = out + x
        return F.relu(self.bn(out))

    def analytic_macs(self, positions: float) -> float:
        """MACs by the paper's convention at ``positions`` joint positions (attention products and softmax free)."""
        ac = self.attention_conv
        return (bn_macs(self.in_channels, positions) + conv_macs(ac.qkv_conv, positions)
                + conv_macs(ac.attn_out, positions) + bn_macs(self.out_channels, positions)
                + relu_macs(self.out_channels, positions))

    def fuse(self) -> Fused:
        """Step weights: data_bn as a (V, C) affine table, projections transposed, the closing BN folded."""
        v = self.A.shape[-1]
        s_in, t_in = bn_affine(self.data_bn)
        scale, shift = bn_affine(self.bn)
        conv_q = self.attention_conv.qkv_conv
        conv_o = self.attention_conv.attn_out
        assert conv_o.bias is not None  # built with a bias
        return {
            "in_scale": s_in.view(self.in_channels, v).t().contiguous(),
            "in_shift": t_in.view(self.in_channels, v).t().contiguous(),
            "qkv": FusedLinear(conv_q.weight.reshape(conv_q.out_channels, -1).t(), conv_q.bias),
            "out": FusedLinear((conv_o.weight.reshape(self.dv, -1) * scale[:, None]).t(), conv_o.bias * scale + shift),
            "skip_scale": scale.contiguous(),
        }

    def step(self, x: Tensor, fused: Fused) -> Tensor:
        """One frame ``(B, V, C_in)`` -> ``(B, V, C_out)``."""
        b, v, c = x.shape
        nh, dk, dv = self.num_heads, self.dk, self.dv
        xn = x * fused["in_scale"] + fused["in_shift"]
        qkv = fused["qkv"](xn.reshape(b * v, c)).view(b, v, 2 * dk + dv)
        q = qkv[..., :dk].reshape(b, v, nh, dk // nh).transpose(1, 2)
        k = qkv[..., dk:2 * dk].reshape(b, v, nh, dk // nh).transpose(1, 2)
        val = qkv[..., 2 * dk:].reshape(b, v, nh, dv // nh).transpose(1, 2)
        weights = torch.softmax(torch.matmul(q * (dk // nh) ** -0.5, k.transpose(2, 3)), dim=-1)
        out = torch.matmul(weights, val).transpose(1, 2).reshape(b * v, dv)
        out = fused["out"](out).view(b, v, dv)
        if self.skip:
            out = out + x * fused["skip_scale"]
        return torch.relu(out)
