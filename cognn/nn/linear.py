"""The matrix products of the step path, in the precision the user chose.

Every product of a continual step (a unit's ``x @ W``, a temporal convolution's window, a residual's 1×1 conv, the
attention's projections) is a :class:`FusedLinear`: BatchNorm already folded into ``w`` ``(C_in, C_out)`` and ``b``
``(C_out,)``, float32. :meth:`FusedLinear.to` makes the same product in another precision:

* ``fp32`` — ``torch.addmm``;
* ``bf16`` — inputs and weights rounded to bfloat16, the product accumulated in float32 by oneDNN (AVX512-BF16 where the
  CPU has it), the result float32 again;
* ``int8`` — dynamic quantization: weights per output channel and inputs per row symmetric int8, an int8 × int8 → int32
  product (``torch._int_mm``), scaled back to float32. A shape the int8 kernel refuses falls back to float32.

Elementwise work, graph products and the head stay float32: they cost little and keep the exactness tests in float32.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["FusedLinear", "PRECISIONS", "check_precision"]

PRECISIONS = ("fp32", "bf16", "int8")


def check_precision(precision: str) -> str:
    """``precision`` if known, else ValueError listing the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return precision


class FusedLinear:
    """``x @ w + b`` for ``x`` ``(rows, C_in)`` in a chosen precision (see the module docstring)."""

    __slots__ = ("w", "b", "precision", "_w16", "_b16", "_wq", "_wscale", "_int8_ok")

    def __init__(self, w: Tensor, b: Tensor | None, precision: str = "fp32") -> None:
        self.w = w.contiguous()
        self.b = None if b is None else b.contiguous()
        self.precision = check_precision(precision)
        self._w16: Tensor | None = None
        self._b16: Tensor | None = None
        self._wq: Tensor | None = None
        self._wscale: Tensor | None = None
        self._int8_ok = True
        if precision == "bf16":
            self._w16 = self.w.to(torch.bfloat16)
            self._b16 = None if self.b is None else self.b.to(torch.bfloat16)
        elif precision == "int8":
            scale = self.w.abs().amax(dim=0).clamp_min(1e-12) / 127.0  # per output channel
            self._wq = torch.round(self.w / scale).clamp_(-127, 127).to(torch.int8).contiguous()
            self._wscale = scale

    def to(self, precision: str) -> "FusedLinear":
        """The same product in ``precision`` (float32 weights kept)."""
        return self if precision == self.precision else FusedLinear(self.w, self.b, precision)

    @property
    def out_features(self) -> int:
        return int(self.w.shape[1])

    def __call__(self, x: Tensor) -> Tensor:
        if self.precision == "fp32":
            return torch.mm(x, self.w) if self.b is None else torch.addmm(self.b, x, self.w)
        if self.precision == "bf16":
            x16 = x.to(torch.bfloat16)
            y = torch.mm(x16, self._w16) if self._b16 is None else torch.addmm(self._b16, x16, self._w16)
            return y.float()
        return self._int8(x)

    def _int8(self, x: Tensor) -> Tensor:
        if self._int8_ok:
            scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0  # per row
            xq = torch.round(x / scale).clamp_(-127, 127).to(torch.int8)
            try:
                acc = torch._int_mm(xq, self._wq)
            except RuntimeError:  # a shape the int8 kernel does not take: this product stays float32
                self._int8_ok = False
            else:
                y = acc.float() * (scale * self._wscale)
                return y if self.b is None else y + self.b
        return torch.mm(x, self.w) if self.b is None else torch.addmm(self.b, x, self.w)
