"""The continual step as a deployable ONNX graph with its state as explicit inputs and outputs (``cognn-export``),
and a torch-free runner for it (:mod:`cognn.export.runtime`, used by ``cognn-infer --backend onnx``).

* :mod:`cognn.export.graph` — the step graph of a :class:`~cognn.models.CoSkeletonNet` (needs torch and onnx);
* :mod:`cognn.export.build` — precision, description, checks against PyTorch, writing (needs torch and onnx);
* :mod:`cognn.export.sidecar` — the description (sidecar ``OUT.onnx.json`` / ONNX metadata) and its checks;
* :mod:`cognn.export.runtime` — :class:`~cognn.export.runtime.OnnxStep` (numpy and onnxruntime only).

This package imports nothing heavy itself: ``import cognn.export.runtime`` never loads torch. See docs/onnx.md.
"""
from __future__ import annotations
