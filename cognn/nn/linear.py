"""The matrix products of the step path, in the precision the user chose.

Every product of a continual step (a unit's ``x @ W``, a temporal convolution's window, a residual's 1×1 conv, the
attention's projections) is a :class:`FusedLinear`: BatchNorm already folded into ``w`` ``(C_in, C_out)`` and ``b``
``(C_out,)``, float32. :meth:`FusedLinear.to` makes the same product in another precision:

* ``fp32`` — ``torch.addmm``;
* ``bf16`` — inputs and weights rounded to bfloat16, the product accumulated in float32 by oneDNN (AVX512-BF16 where the
  CPU has it), the result float32 again; a product under :data:`LOW_PRECISION_MIN_MACS` stays float32;
* ``int8`` — dynamic quantization: weights per output channel symmetric int8, packed once for the CPU's int8 kernel
  (FBGEMM/oneDNN, VNNI where the CPU has it); each input quantized per call, the product accumulated in int32 and
  scaled back to float32 inside the kernel. Where that kernel is missing, ``torch._int_mm`` with per-row input scales;
  a product under :data:`LOW_PRECISION_MIN_MACS` multiply-adds per row (quantizing costs more than it saves) or a
  shape no int8 kernel takes stays float32.

On a narrow network (the bundled gesture model, half width) or with few rows (one person: 18-25) most products are
small, and a lower precision gains little or nothing: docs/benchmarks.md has the measurements.

Elementwise work, graph products and the head stay float32: they cost little and keep the exactness tests in float32.
The temporal ring buffers store frames in :attr:`FusedLinear.input_dtype` (bfloat16 for ``bf16``), so a window of
``K`` frames reaches the product without a conversion.

A unit's ``fuse()`` returns its products with the other step weights as one :data:`~cognn.nn.types.Fused` dict.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .types import Fused

__all__ = ["Fused", "FusedLinear", "LOW_PRECISION_MIN_MACS", "PRECISIONS", "check_precision"]

PRECISIONS = ("fp32", "bf16", "int8")
#: products smaller than this (C_in · C_out per row) stay float32 in ``bf16`` and ``int8``: measured on one core at 50
#: rows, quantizing the input of a 64 × 192 product costs twice what the int8 kernel saves and its bfloat16 product is
#: 1.8x slower than float32, 128 × 384 about breaks even, 2304 × 256 runs 2.3x (bf16) and 3.5x (int8) faster
LOW_PRECISION_MIN_MACS = 48 * 1024


def check_precision(precision: str) -> str:
    """``precision`` if known, else ValueError listing the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


class FusedLinear:
    """``x @ w + b`` for ``x`` ``(rows, C_in)`` in a chosen precision (see the module docstring)."""

    __slots__ = ("w", "b", "precision", "_w16", "_b16", "_packed", "_wq", "_wscale", "_int8_ok", "_out", "_out16",
                 "_in")

    def __init__(self, w: Tensor, b: Tensor | None, precision: str = "fp32") -> None:
        self.w = w.contiguous()
        self.b = None if b is None else b.contiguous()
        self.precision = check_precision(precision)
        self._w16: Tensor | None = None
        self._b16: Tensor | None = None
        self._packed: object | None = None
        self._wq: Tensor | None = None
        self._wscale: Tensor | None = None
        self._out: Tensor | None = None  # the result, reused from step to step (see __call__)
        self._out16: Tensor | None = None
        self._in: Tensor | None = None  # a contiguous copy of a strided input, for the int8 kernel
        large = self.w.shape[0] * self.w.shape[1] >= LOW_PRECISION_MIN_MACS
        self._int8_ok = precision == "int8" and large
        if precision == "bf16" and large:
            self._w16 = self.w.to(torch.bfloat16)
            self._b16 = None if self.b is None else self.b.to(torch.bfloat16)
        elif self._int8_ok:
            scale = self.w.abs().amax(dim=0).clamp_min(1e-12) / 127.0  # per output channel
            self._packed = _prepack(self.w, scale, self.b)
            if self._packed is None:
                self._wq = torch.round(self.w / scale).clamp_(-127, 127).to(torch.int8).contiguous()
                self._wscale = scale

    def to(self, precision: str) -> FusedLinear:
        """The same product in ``precision`` (float32 weights kept)."""
        return self if precision == self.precision else FusedLinear(self.w, self.b, precision)

    @property
    def out_features(self) -> int:
        return int(self.w.shape[1])

    @property
    def input_dtype(self) -> torch.dtype:
        """The dtype the product reads without a conversion (what a ring buffer feeding it should store)."""
        return torch.bfloat16 if self._w16 is not None else torch.float32

    def __call__(self, x: Tensor) -> Tensor:
        """``x @ w + b`` as float32 ``(rows, C_out)``.

        The result lives in a buffer this product reuses at its next call (a fresh 150 kB tensor every step costs page
        faults that take as long as a small product): the step's callers use it at once and keep only what they
        compute from it. Gradients are not supported (the step path runs without them).
        """
        if self.precision == "fp32" or (self.precision == "bf16" and self._w16 is None):
            out = self._buffer(x, torch.float32)
            return torch.mm(x, self.w, out=out) if self.b is None else torch.addmm(self.b, x, self.w, out=out)
        if self._w16 is not None:
            x16 = x if x.dtype == torch.bfloat16 else x.to(torch.bfloat16)
            y16 = self._buffer(x, torch.bfloat16)
            if self._b16 is None:
                torch.mm(x16, self._w16, out=y16)
            else:
                torch.addmm(self._b16, x16, self._w16, out=y16)
            return self._buffer(x, torch.float32).copy_(y16)
        return self._int8(x)

    def _buffer(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        """The reused result buffer of ``dtype`` for ``x``'s rows: the first rows of the largest one needed so far
        (fewer rows when a person slot is left out, more in a warm-up flush), reallocated only to grow."""
        buf = self._out if dtype == torch.float32 else self._out16
        if buf is None or buf.shape[0] < x.shape[0] or buf.device != x.device:
            buf = torch.empty(x.shape[0], self.w.shape[1], dtype=dtype, device=x.device)
            if dtype == torch.float32:
                self._out = buf
            else:
                self._out16 = buf
        return buf[:x.shape[0]]

    def _int8(self, x: Tensor) -> Tensor:
        if self._packed is not None:
            if not x.is_contiguous():  # the kernel would copy a strided window into a fresh tensor every step
                if self._in is None or self._in.shape != x.shape or self._in.device != x.device:
                    self._in = torch.empty(x.shape, dtype=x.dtype, device=x.device)
                x = self._in.copy_(x)
            return torch.ops.quantized.linear_dynamic(x, self._packed, False)
        if self._int8_ok:
            assert self._wq is not None and self._wscale is not None  # set in __init__ where no packed kernel exists
            scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0  # per row
            xq = torch.round(x / scale).clamp_(-127, 127).to(torch.int8)
            try:
                acc = torch._int_mm(xq, self._wq)
            except RuntimeError:  # a shape the int8 kernel does not take: this product stays float32
                self._int8_ok = False
            else:
                y = acc.float() * (scale * self._wscale)
                return y if self.b is None else y + self.b
        out = self._buffer(x, torch.float32)
        return torch.mm(x, self.w, out=out) if self.b is None else torch.addmm(self.b, x, self.w, out=out)


def _prepack(w: Tensor, scale: Tensor, b: Tensor | None) -> object | None:
    """``w`` ``(C_in, C_out)`` quantized per output channel and packed for the quantized engine's dynamic linear, or
    ``None`` where this torch build has no such kernel."""
    try:
        with warnings.catch_warnings():  # the quantized-tensor API is deprecated in torch 2.13; _int_mm remains
            warnings.simplefilter("ignore", UserWarning)
            wq = torch.quantize_per_channel(w.t().contiguous(), scale.double(),
                                            torch.zeros(w.shape[1], dtype=torch.long), 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(wq, b)
        torch.ops.quantized.linear_dynamic(torch.zeros(1, w.shape[0]), packed, False)  # the kernel runs here
    except (RuntimeError, AttributeError, NotImplementedError):
        return None
    return packed
