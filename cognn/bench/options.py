"""Benchmark options, the record fields and the paper's settings."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..flops import PAPER_GMACS_BY_LAYOUT

#: called with (label of the step being done, steps done, steps in all)
Progress = Callable[[str, int, int], None]

#: fields every result row holds (ratio fields are None for regular models or when the twin was not run)
ROW_FIELDS = ("model", "display_name", "continual", "twin", "frames_per_prediction", "params",
              "macs_per_prediction", "gflops", "macs_analytic", "macs_paper", "analytic_vs_paper",
              "ms_per_prediction", "ms_p95", "cpu_ms_per_prediction", "timed_predictions", "predictions_per_s",
              "throughput", "throughput_batch", "peak_mem_mb", "speedup", "mac_reduction", "mac_reduction_analytic",
              "mem_ratio", "throughput_ratio", "layout", "device", "device_name", "threads", "torch",
              "ms_one_person", "one_person_ratio", "ms_bf16", "bf16_speedup", "ms_int8", "int8_speedup",
              "ms_onnx", "onnx_ratio", "onnxruntime")

#: the step variants a continual model is also timed in (same rounds): lower precisions and one person present
VARIANT_PRECISIONS = ("bf16", "int8")


@dataclass
class BenchOptions:
    """What to measure and how long.

    ``rounds``: timing rounds (each round times every model once or, for fast models, several times, about
    ``round_seconds`` of calls); ``batch``: the throughput batch (None: :func:`default_batch`).
    """

    models: Sequence[str] = ("stgcn_mod", "costgcn_mod")
    device: str = "cpu"
    batch: int | None = None
    rounds: int = 5
    threads: int | None = None
    window: int = 300
    round_seconds: float = 0.25
    memory: bool = True
    num_classes: int = 60
    layout: str = "ntu25"
    #: lower precisions a continual model is also timed in (its ``ms_bf16`` / ``ms_int8`` columns)
    precisions: Sequence[str] = VARIANT_PRECISIONS
    #: also time a continual model with its second person slot empty (``ms_one_person``)
    one_person: bool = True
    #: also time each continual model's exported step in ONNX Runtime (``ms_onnx``, ``onnx_ratio``; CPU only)
    onnx: bool = False


def dataset_classes(layout: str) -> int:
    """Classes of the paper's dataset for a layout: 60 (NTU RGB+D 60) for ntu25, 400 (Kinetics-400) for kinetics18."""
    return PAPER_GMACS_BY_LAYOUT[layout][0] if layout in PAPER_GMACS_BY_LAYOUT else 60


def default_batch(device: str) -> int:
    """Throughput batch: 4 on the CPU (a regular model costs ~1 s per window there), 64 on a GPU."""
    return 64 if device.startswith("cuda") else 4
