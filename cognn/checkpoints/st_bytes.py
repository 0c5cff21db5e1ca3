"""A safetensors file as bytes, deterministically: the same tensors and metadata always give the same bytes.

The safetensors library writes its ``__metadata__`` map in an arbitrary order (a hash map), so two runs differ. The
format is simple (an 8-byte little-endian header length, a JSON header padded with spaces to a multiple of 8, then the
tensor data back to back), so cognn writes it itself: metadata keys sorted, tensors in name order, compact JSON.
Any safetensors reader reads the result.
"""
from __future__ import annotations

import json
import struct
import sys
from collections.abc import Mapping

import torch

__all__ = ["serialize", "DTYPE_NAMES"]

#: torch dtype -> safetensors dtype name
DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
               torch.bool: "BOOL"}


def _raw(t: torch.Tensor) -> bytes:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()


def serialize(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` and string ``metadata``."""
    if sys.byteorder != "little":
        raise RuntimeError("writing safetensors files needs a little-endian machine")
    header: dict[str, object] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors metadata must map strings to strings")
        header["__metadata__"] = dict(sorted(metadata.items()))
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in DTYPE_NAMES:
            raise ValueError(f"tensor {name!r} has dtype {t.dtype}, which safetensors cannot store")
        data = _raw(t)
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)
