"""The continual step as a deployable ONNX graph with its state as explicit inputs and outputs (``cognn-export``),
and a torch-free runner for it (:mod:`cognn.export.runtime`, used by ``cognn-infer --backend onnx``).

* :mod:`cognn.export.graph` — the step graph of a :class:`~cognn.models.CoSkeletonNet` (needs torch and onnx);
* :mod:`cognn.export.build` — precision, description, checks against PyTorch, writing (needs torch and onnx);
* :mod:`cognn.export.sidecar` — the description (sidecar ``OUT.onnx.json`` / ONNX metadata) and its checks;
* :mod:`cognn.export.runtime` — :class:`~cognn.export.runtime.OnnxStep` (numpy and onnxruntime only).

This package imports nothing heavy itself: ``import cognn.export.runtime`` never loads torch. See docs/onnx.md.
"""
from __future__ import annotations

import importlib.util

__all__ = ["ONNX_EXTRA_HINT", "require_onnx"]

#: where the ONNX packages come from (they are in the app extra of the README's install, and in the onnx extra)
ONNX_EXTRA_HINT = ("install cognn's onnx extra (pip install -c constraints.txt -e \".[onnx]\" in the cognn folder; "
                   "the README's \".[app]\" install includes it)")


def require_onnx(*, export: bool = True) -> None:
    """A CognnError naming the extra to install when onnx (for ``export``) or onnxruntime is missing."""
    from ..errors import CognnError

    needed = (["onnx"] if export else []) + ["onnxruntime"]
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise CognnError(f"this needs the package{'s' if len(missing) > 1 else ''} {' and '.join(missing)}, "
                         f"which {'are' if len(missing) > 1 else 'is'} not installed: {ONNX_EXTRA_HINT}")
