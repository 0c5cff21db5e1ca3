"""``cognn.bench``: side-by-side benchmark of regular and continual models: the paper's Table II (NTU) or V
(Kinetics) measured on this machine.

Every model is fed the way it is used online, one *prediction* per call, at batch 1 unless said otherwise:

* a regular model is re-run over a sliding ``window``-frame clip ``(N, C, T=window, V, M)`` (one new frame shifted in);
* a continual model gets ``stride`` new frames through :meth:`forward_step` (1 for the ``*`` models, 4 otherwise).
  It is built with ``warm_start=True`` so its buffers are full after the first frame; the step cost is the same as
  after ``receptive_field`` real frames.

Timings alternate the models round by round (the start of each round rotates), so machine noise falls on all of them
alike; the ratios compare models measured in the same rounds. Peak memory is measured in a fresh child process per
model: on a GPU ``torch.cuda.max_memory_allocated`` during one prediction (weights included); on the CPU the increase
of the child's peak resident set (Linux ``VmHWM``, reset just before) over its resident set just before the model is
built, read after the first prediction: weights, step buffers, activations and allocator overhead. A prediction of a
continual model here is its warm-start frame plus ``stride`` steps, i.e. its buffers are full.
"""
from __future__ import annotations

from .memory import _memory_child
from .options import ROW_FIELDS, VARIANT_PRECISIONS, BenchOptions, Progress, dataset_classes, default_batch
from .run import run_benchmark
from .runners import OnnxRunner, PredictionRunner, environment, round_robin, warm_up
from .table import format_csv, format_markdown, format_rows, header_line
from .window import latency_vs_window, plot_latency

__all__ = ["BenchOptions", "dataset_classes", "PredictionRunner", "OnnxRunner", "run_benchmark", "environment",
           "header_line", "format_rows", "format_markdown", "format_csv", "latency_vs_window", "plot_latency",
           "default_batch", "round_robin", "warm_up", "Progress", "ROW_FIELDS", "VARIANT_PRECISIONS",
           "_memory_child"]
