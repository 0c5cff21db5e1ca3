"""Temporal convolution (``K×1`` conv + BN) and its continual form: a ring buffer of the last ``K`` frames.

The continual form releases output position ``i`` when input ``s·i − p + K − 1`` arrives (stride ``s``, padding
``p``); the buffer starts as zeros, which plays the role of the clip convolution's left zero padding, so every
released output equals the clip convolution's output at that position.
"""
from __future__ import annotations

from torch import Tensor, nn

from .fold import bn_affine
from .init import init_weights
from .linear import FusedLinear
from .types import Fused


class TemporalConv(nn.Module):
    """``BN(Conv2d(C_in, C_out, (K, 1), stride=(s, 1), padding=(p, 0)))`` over ``(B, C, T, V)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1,
                 padding: int = 4) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.t_conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), stride=(stride, 1), padding=(padding, 0))
        self.bn = nn.BatchNorm2d(out_channels)
        init_weights(self.t_conv)
        init_weights(self.bn)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.t_conv(x))

    def fuse(self) -> Fused:
        """``lin``: ``w`` ``(K·C_in, C_out)`` with row ``k·C_in + c`` = tap ``k`` of input channel ``c``, BN folded
        in."""
        scale, shift = bn_affine(self.bn)
        w = self.t_conv.weight[..., 0] * scale[:, None, None]  # (C_out, C_in, K)
        bias = self.t_conv.bias
        assert bias is not None  # t_conv is built with a bias
        return {"lin": FusedLinear(w.permute(2, 1, 0).reshape(-1, w.shape[0]), bias * scale + shift)}


class TemporalRing:
    """Step state of one :class:`TemporalConv`: the last ``K`` input frames and the stride phase.

    Frames are stored twice in a ``(B·V, 2K, C)`` buffer so that the window of the last ``K`` frames is always one
    strided view, multiplied with the folded weight without a copy; the buffer holds the dtype the product reads
    (:attr:`~cognn.nn.linear.FusedLinear.input_dtype`).
    """

    __slots__ = ("k", "stride", "padding", "count", "buf", "pos")

    def __init__(self, kernel_size: int, stride: int, padding: int) -> None:
        self.k = kernel_size
        self.stride = stride
        self.padding = padding
        self.count = 0
        self.buf: Tensor | None = None
        self.pos = 0

    def push(self, x: Tensor, fused: Fused, replicate: bool = False,
             rows: slice | None = None) -> Tensor | None:
        """Add frame ``x`` ``(B, V, C)``; return the next output ``(B, V, C_out)`` when one is due, else ``None``.

        ``replicate=True`` (warm start) fills the whole history with ``x`` and releases an output at once. ``rows``:
        ``x`` holds only those batch rows (the others are unchanged: their history holds one repeated frame), and so
        does the output.
        """
        b, v, c = x.shape
        k = self.k
        if b == 0:  # every row settled: only the phase moves
            self.pos = (self.pos + 1) % k
            rel = self.count + self.padding - (k - 1)
            self.count += 1
            return None if rel < 0 or rel % self.stride else x.new_empty(0, v, fused["lin"].out_features)
        if self.buf is None:
            if rows is not None:
                raise ValueError("a ring steps a subset of its rows only after it has held all of them")
            self.buf = x.new_zeros(b * v, 2 * k, c, dtype=fused["lin"].input_dtype)
        elif self.buf.dtype != fused["lin"].input_dtype:  # the precision changed mid-stream: the history carries over
            self.buf = self.buf.to(fused["lin"].input_dtype)
        buf = self.buf if rows is None else self.buf[rows.start * v:rows.stop * v]
        x2 = x.reshape(b * v, c)
        if replicate:
            buf.copy_(x2[:, None, :].expand_as(buf))
            self.pos = 0
            self.count = k - 1 - self.padding
        else:
            buf[:, self.pos] = x2
            buf[:, self.pos + k] = x2
        self.pos = (self.pos + 1) % k
        rel = self.count + self.padding - (k - 1)
        self.count += 1
        if rel < 0 or rel % self.stride:
            return None
        window = buf[:, self.pos:self.pos + k].reshape(b * v, k * c)
        return fused["lin"](window).view(b, v, -1)

    def state(self, copy: bool = True) -> tuple:
        """``(count, buffer, pos)``; the buffer is a copy unless ``copy=False`` (the caller hands it over)."""
        buf = self.buf.clone() if copy and self.buf is not None else self.buf
        return (self.count, buf, self.pos)

    def set_state(self, state: tuple) -> None:
        self.count, self.buf, self.pos = state
