"""Quantized weights as inert records: integer values, scales, zero points, axis and scheme — never a torch quantized
tensor.

Read from PyTorch files (``torch._utils._rebuild_qtensor``, by :mod:`.safe_pickle`) and from cognn checkpoints, where
a quantized tensor ``NAME`` is stored losslessly as:

* ``NAME`` — the integer values (``int8`` for ``qint8``, ``uint8`` for ``quint8``), in the tensor's shape;
* ``__quantized__.NAME.scales`` — ``float64``, one per channel along ``axis`` (per channel) or one (per tensor);
* ``__quantized__.NAME.zero_points`` — ``int64``, as many;
* the metadata field ``quantization`` = ``{"tensors": {NAME: {"dtype": ..., "scheme": ..., "axis": ...}}}``.

:meth:`QuantizedTensor.dequantize` gives float32 values exactly as PyTorch's ``tensor.dequantize()`` does (on the
CPU): ``(value - zero_point) · scale``, per channel computed in float64 and rounded once to float32, per tensor
computed in float32 with the scale rounded to float32 (checked against torch for both schemes and both types).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["QuantizedTensor", "QDTYPES", "SCHEMES", "RESERVED_PREFIX", "reserved_names", "is_reserved",
           "summarise"]

#: quantized dtype -> dtype of its integer values
QDTYPES = {"qint8": torch.int8, "quint8": torch.uint8}
SCHEMES = ("per_tensor_affine", "per_channel_affine")
RESERVED_PREFIX = "__quantized__."


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One quantized tensor: ``values`` (integers), ``scales`` (float64), ``zero_points`` (int64), ``axis`` (the
    channel axis, None per tensor), ``scheme`` (:data:`SCHEMES`), ``dtype`` (:data:`QDTYPES`)."""

    values: Tensor
    scales: Tensor
    zero_points: Tensor
    axis: int | None
    scheme: str
    dtype: str

    def __post_init__(self) -> None:
        if self.dtype not in QDTYPES:
            raise ValueError(f"unsupported quantized type {self.dtype!r} (cognn reads {', '.join(QDTYPES)})")
        if self.scheme not in SCHEMES:
            raise ValueError(f"unsupported quantization scheme {self.scheme!r} (cognn reads {', '.join(SCHEMES)})")
        if self.values.dtype != QDTYPES[self.dtype]:
            raise ValueError(f"{self.dtype} values stored as {self.values.dtype}")
        if self.scales.dim() != 1 or self.zero_points.dim() != 1 or \
                self.scales.numel() != self.zero_points.numel():
            raise ValueError("scales and zero points must be two vectors of the same length")
        if not self.scales.is_floating_point() or self.zero_points.is_floating_point():
            raise ValueError("scales must be floating point and zero points integers")
        if self.scheme == "per_tensor_affine":
            if self.axis is not None or self.scales.numel() != 1:
                raise ValueError("a per-tensor quantization has one scale and no axis")
        else:
            if not isinstance(self.axis, int) or not 0 <= self.axis < max(self.values.dim(), 1):
                raise ValueError(f"channel axis {self.axis!r} does not fit a tensor of shape "
                                 f"{tuple(self.values.shape)}")
            if self.scales.numel() != self.values.shape[self.axis]:
                raise ValueError(f"{self.scales.numel()} scales for {self.values.shape[self.axis]} channels")
        if not bool(torch.isfinite(self.scales).all()):
            raise ValueError("its scales are not all finite")

    @property
    def shape(self) -> torch.Size:
        return self.values.shape

    def reshape(self, *shape: int) -> QuantizedTensor:
        """The same record with the values reshaped; the channel axis must keep its place and size."""
        values = self.values.reshape(*shape)
        if self.axis is not None and tuple(values.shape[:self.axis + 1]) != tuple(self.values.shape[:self.axis + 1]):
            raise ValueError(f"reshaping {tuple(self.values.shape)} to {tuple(shape)} moves the channel axis")
        return QuantizedTensor(values, self.scales, self.zero_points, self.axis, self.scheme, self.dtype)

    def dequantize(self) -> Tensor:
        """Float32 values, exactly as torch's ``dequantize()`` (see the module docstring for the arithmetic)."""
        if self.axis is None:  # per tensor: float32 arithmetic, as torch's vectorised kernel
            scale = self.scales.to(torch.float32)[0]
            return (self.values.to(torch.float32) - float(self.zero_points[0])) * scale
        shape = [1] * self.values.dim()
        shape[self.axis] = -1
        v = self.values.to(torch.float64)
        zps = self.zero_points.to(torch.float64).reshape(shape)
        return ((v - zps) * self.scales.to(torch.float64).reshape(shape)).to(torch.float32)

    def describe(self) -> dict[str, Any]:
        """The record's metadata entry: dtype, scheme, axis."""
        return {"dtype": self.dtype, "scheme": self.scheme, "axis": self.axis}

    def tensors(self, name: str) -> dict[str, Tensor]:
        """The three tensors that store it under ``name`` in a cognn checkpoint."""
        scales, zps = reserved_names(name)
        return {name: self.values.contiguous(), scales: self.scales.to(torch.float64).contiguous(),
                zps: self.zero_points.to(torch.int64).contiguous()}

    @classmethod
    def from_tensors(cls, name: str, info: Mapping[str, Any], tensors: Mapping[str, Tensor]) -> QuantizedTensor:
        """Rebuild the record ``name`` from a cognn checkpoint's tensors and its ``quantization`` entry; ValueError
        (one sentence) if something is missing or inconsistent."""
        if not isinstance(info, Mapping):
            raise ValueError(f"quantization entry of {name!r} is not an object")
        scales, zps = reserved_names(name)
        for key in (name, scales, zps):
            if key not in tensors:
                raise ValueError(f"quantized tensor {name!r} has no {key!r}")
        try:
            return cls(tensors[name], tensors[scales], tensors[zps], info.get("axis"), str(info.get("scheme")),
                       str(info.get("dtype")))
        except ValueError as e:
            raise ValueError(f"quantized tensor {name!r}: {e}") from None


def reserved_names(name: str) -> tuple[str, str]:
    """The names of the scales and zero-point tensors of quantized tensor ``name``."""
    return f"{RESERVED_PREFIX}{name}.scales", f"{RESERVED_PREFIX}{name}.zero_points"


def is_reserved(key: str) -> bool:
    """True for a scales / zero-point tensor of a quantized tensor."""
    return key.startswith(RESERVED_PREFIX)


def summarise(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """``"23 tensors, qint8 per_channel_affine"`` for a ``quantization["tensors"]`` mapping ("" when empty)."""
    if not entries:
        return ""
    kinds: dict[str, int] = {}
    for info in entries.values():
        kind = f"{info.get('dtype')} {info.get('scheme')}"
        kinds[kind] = kinds.get(kind, 0) + 1
    parts = ", ".join(f"{n} {kind}" if len(kinds) > 1 else kind for kind, n in kinds.items())
    return f"{len(entries)} tensor{'s' if len(entries) != 1 else ''}, {parts}"
