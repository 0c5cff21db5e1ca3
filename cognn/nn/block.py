"""The spatio-temporal block shared by ST-GCN, AGCN and S-TR: ``ReLU(TCN(GCN(x)) + residual(x))``.

Residual: none (first block), identity (same channels, stride 1) or a 1×1 temporal conv + BN (``residual.t_conv``,
``residual.bn``). Without temporal padding (the ``*`` / ``_mod`` variants) the convolution shrinks the clip by
``(K − 1) / 2`` frames at each end and the residual is cropped to match (centred residual).

In step mode the residual that belongs to a released output is always the block input from ``(K − 1) / 2`` steps
earlier, kept in a short history.
"""
from __future__ import annotations

from collections import deque

import torch
from torch import Tensor, nn

from .fold import fold_linear
from .linear import FusedLinear
from .temporal import TemporalConv, TemporalRing
from .types import Fused, SpatialUnit


class STBlock(nn.Module):
    """One block over clips ``(B, C_in, T, V) -> (B, C_out, T', V)`` and over frames
    ``(B, V, C_in) -> (B, V, C_out)``."""

    gcn: SpatialUnit  # an nn.Module (registered as the submodule ``gcn``)
    residual: TemporalConv | None

    def __init__(self, gcn: SpatialUnit, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True,
                 kernel_size: int = 9, padding: int = 4) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or not 0 <= padding <= (kernel_size - 1) // 2:
            raise ValueError("kernel_size must be odd and padding at most (kernel_size - 1) / 2")
        self.gcn = gcn
        self.tcn = TemporalConv(out_channels, out_channels, kernel_size, stride, padding)
        self.shrink = (kernel_size - 1) // 2 - padding
        self.lag = (kernel_size - 1) // 2
        if not residual:
            self.residual_kind = "none"
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual_kind = "identity"
            self.residual = None
        else:
            self.residual_kind = "conv"
            self.residual = TemporalConv(in_channels, out_channels, kernel_size=1, stride=stride, padding=0)
        self._ring: TemporalRing | None = None
        self._hist: deque[Tensor] | None = None

    # -- receptive-field bookkeeping (continual-inference conventions) ------------------------------------------------
    @property
    def receptive_field(self) -> int:
        return self.tcn.kernel_size

    @property
    def stride(self) -> int:
        return self.tcn.stride

    @property
    def padding(self) -> int:
        return self.tcn.padding

    # -- clip path -----------------------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        z = self.tcn(self.gcn(x))
        if self.residual_kind == "none":
            return torch.relu(z)
        xs = x[:, :, self.shrink:x.shape[2] - self.shrink] if self.shrink else x
        r = xs if self.residual is None else self.residual(xs)
        return torch.relu(z + r)

    # -- step path -----------------------------------------------------------------------------------------------------
    def fuse(self) -> Fused:
        """The fused weights of the unit (``gcn``), the temporal convolution (``tcn``) and a residual conv
        (``res``)."""
        fused: Fused = {"gcn": self.gcn.fuse(), "tcn": self.tcn.fuse()}
        if self.residual is not None:
            fused["res"] = {"lin": FusedLinear(*fold_linear(self.residual.t_conv.weight, self.residual.t_conv.bias,
                                                            self.residual.bn))}
        return fused

    def clean_state(self) -> None:
        self._ring = None
        self._hist = None

    def step(self, x: Tensor, fused: Fused, replicate: bool = False,
             rows: slice | None = None) -> Tensor | None:
        """Feed one frame ``(B, V, C_in)``; return ``(B, V, C_out)`` when the block releases an output, else ``None``.

        ``rows``: compute only those batch rows and return only them (``(rows, V, C_out)``); the other rows must be
        settled, their whole history one repeated input (:meth:`cognn.models.base.CoSkeletonNet` blank slots), so
        that leaving their ring entries as they are is the same as writing that input again.
        """
        ring, hist = self._ring, self._hist
        if ring is None or hist is None:  # both are None until the first step (clean_state, set_state)
            ring = self._ring = TemporalRing(self.tcn.kernel_size, self.tcn.stride, self.tcn.padding)
            hist = self._hist = deque(maxlen=self.lag + 1)
        if replicate:
            hist.extend([x] * (self.lag + 1))
        else:
            hist.append(x)
        xs = x if rows is None else x[rows]
        if xs.shape[0]:
            g = self.gcn.step(xs, fused["gcn"])
        else:
            g = xs.new_empty(0, xs.shape[1], self.tcn.t_conv.in_channels)
        z = ring.push(g, fused["tcn"], replicate, rows)
        if z is None:
            return None
        return self._finish(z, fused, rows) if z.shape[0] else z

    @property
    def settle(self) -> int:
        """Repeated inputs after which a row's output is a constant (its ring and residual history hold only them)."""
        return max(self.tcn.kernel_size, self.lag + 1)

    def pad_step(self, fused: Fused) -> Tensor | None:
        """One step of the clip convolution's right zero padding: a zero input to the temporal ring (what the
        regular model pads its temporal convolution with), so that an output whose window reaches past the last
        frame is released as the clip model computes it; its residual input is a real frame. Used on a copy of the
        state (:meth:`cognn.models.base.CoSkeletonNet` early mode ``exact``)."""
        if self._ring is None or self._ring.buf is None or not self._hist:
            return None
        ref = self._hist[-1]
        b, v = ref.shape[0], ref.shape[1]
        pad = self._ring.buf.new_zeros(b, v, self._ring.buf.shape[-1])
        self._hist.append(torch.zeros_like(ref))  # a placeholder: the residual of a released output is real
        z = self._ring.push(pad, fused["tcn"])
        if z is None:
            return None
        return self._finish(z, fused)

    def _finish(self, z: Tensor, fused: Fused, rows: slice | None = None) -> Tensor:
        """The released temporal output plus the residual of its frame (of ``rows`` only, if given), ReLU."""
        hist = self._hist
        assert hist is not None  # a released output follows a step
        # ``z`` (and the residual product) live in buffers the next step overwrites: the sum is the block's own new
        # output (the next block keeps it as its residual), rectified in place
        if self.residual_kind == "identity":
            return (z + (hist[0] if rows is None else hist[0][rows])).relu_()
        if self.residual_kind == "conv":
            r = hist[0] if rows is None else hist[0][rows]
            b, v, c = r.shape
            return (z + fused["res"]["lin"](r.reshape(b * v, c)).view(b, v, -1)).relu_()
        return torch.relu(z)

    def state(self, copy: bool = True) -> tuple:
        """The ring's state (its buffer copied unless ``copy=False``) and the residual history."""
        return (None if self._ring is None else self._ring.state(copy),
                None if self._hist is None else list(self._hist))

    def set_state(self, state: tuple) -> None:
        ring, hist = state
        if ring is None:
            self.clean_state()
            return
        self._ring = TemporalRing(self.tcn.kernel_size, self.tcn.stride, self.tcn.padding)
        self._ring.set_state(ring)
        self._hist = deque(hist, maxlen=self.lag + 1)
