"""Side-by-side benchmark of regular and continual models: the paper's Table II (NTU) or V (Kinetics) measured on
this machine.

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

import csv
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from . import __version__
from .errors import CognnError
from .flops import PAPER_GMACS_BY_LAYOUT, analytic_macs, counted_macs, paper_macs
from .models import build, display_name, names, spec, twin
from .models.base import CoSkeletonNet, SkeletonNet

__all__ = ["BenchOptions", "dataset_classes", "PredictionRunner", "run_benchmark", "environment", "header_line",
           "format_rows", "latency_vs_window", "plot_latency", "default_batch", "round_robin", "warm_up", "Progress"]

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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str, threads: int) -> dict:
    """Versions, device name, threads and load: the header every benchmark prints."""
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"cognn": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(dev), "device_name": name, "threads": threads, "cpu_count": os.cpu_count(),
            "load_average": load, "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


# -- one model fed one prediction per call -----------------------------------------------------------------------------
class PredictionRunner:
    """A model fed as online inference feeds it; each call makes ``batch`` new predictions.

    Regular: the ``window``-frame clip ``(batch, C, window, V, M)`` slides by one frame and the model re-runs on it.
    Continual: ``stride`` frames ``(batch, C, V, M)`` through :meth:`forward_step`, ending on a prediction.
    Call :meth:`timed` for the wall time of one call; :attr:`times` collects what :func:`round_robin` measures.
    """

    def __init__(self, name: str, device: torch.device, batch: int = 1, window: int = 300,
                 clip_frames: int | None = None, num_classes: int = 60, layout: str = "ntu25",
                 model: SkeletonNet | None = None, precision: str = "fp32", one_person: bool = False) -> None:
        self.name = name
        self.device = device
        self.batch = batch
        self.continual = spec(name).continual
        if model is None:
            kw = {"warm_start": True, "clip_frames": clip_frames or window} if self.continual else {}
            model = build(name, num_classes=num_classes, layout=layout, **kw)
        self.model = model.to(device).eval()
        g = torch.Generator().manual_seed(1)
        c, v, m = self.model.in_channels, self.model.layout.num_joints, self.model.num_persons
        #: what this runner times besides the model: "fp32", "bf16", "int8", "one person"
        self.variant = "one person" if one_person else precision
        if self.continual:
            self.model.set_precision(precision)
            s = self.model.stride
            frames = torch.randn(batch, c, s, v, m, generator=g).to(device)
            if one_person:
                frames[..., 1:] = 0  # the other slots empty, as in most live scenes
            self.frames = [frames[:, :, i].contiguous() for i in range(s)]
            self.prime()
        else:
            self.window = torch.randn(batch, c, window, v, m, generator=g).to(device)
            self.frame = torch.randn(batch, c, 1, v, m, generator=g).to(device)
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.last_cpu = 0.0

    def prime(self) -> None:
        """Step until a prediction comes out, so every later call of ``stride`` steps ends on one."""
        model: CoSkeletonNet = self.model
        model.clean_state()
        with torch.inference_mode():
            for _ in range(model.receptive_field + model.stride):
                if model.forward_step(self.frames[0]) is not None:
                    return
        raise RuntimeError(f"{self.name} gave no prediction within its receptive field")

    def __call__(self) -> None:
        with torch.inference_mode():
            if self.continual:
                y = None
                for f in self.frames:
                    y = self.model.forward_step(f)
                if y is None:
                    raise RuntimeError(f"{self.name}: a stride of steps ended without a prediction")
            else:
                self.window = torch.cat((self.window[:, :, 1:], self.frame), dim=2)
                self.model(self.window)

    def timed(self) -> float:
        """One call; its wall time in seconds (device synchronised). Its process CPU time goes to :attr:`last_cpu`."""
        _sync(self.device)
        c0, t0 = time.process_time(), time.perf_counter()
        self()
        _sync(self.device)
        t1, c1 = time.perf_counter(), time.process_time()
        self.last_cpu = c1 - c0
        return t1 - t0


class OnnxRunner:
    """A continual runner's model exported (:mod:`cognn.export`) and stepped in ONNX Runtime the way the runner steps
    PyTorch: ``stride`` frames per call, ending on a prediction, from a warm state."""

    def __init__(self, runner: PredictionRunner, threads: int) -> None:
        from .export.build import export_model
        from .export.runtime import OnnxStep

        self.name = runner.name
        self.variant = "onnx"
        result = export_model(cast(CoSkeletonNet, runner.model))
        self.step = OnnxStep(model=result.model, description=result.description, threads=threads,
                             warm_start=True, batch=runner.batch)
        self.frames = [f.detach().cpu().numpy() for f in runner.frames]
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.last_cpu = 0.0
        self.step.clean_state()
        for _ in range(self.step.receptive_field + self.step.stride):
            if self.step.step(self.frames[0]) is not None:
                return
        raise RuntimeError(f"{self.name}: the exported step gave no prediction within its receptive field")

    def __call__(self) -> None:
        y = None
        for f in self.frames:
            y = self.step.step(f)
        if y is None:
            raise RuntimeError(f"{self.name}: a stride of ONNX steps ended without a prediction")

    def timed(self) -> float:
        """One call; its wall time in seconds (its process CPU time goes to :attr:`last_cpu`)."""
        c0, t0 = time.process_time(), time.perf_counter()
        self()
        t1, c1 = time.perf_counter(), time.process_time()
        self.last_cpu = c1 - c0
        return t1 - t0


def warm_up(runner: PredictionRunner, calls: int, budget_s: float, known: float | None = None) -> float:
    """A few untimed calls; returns their median duration as a cost estimate.

    A runner whose ``known`` cost already exceeds ``budget_s`` (a regular model at a large batch, from its batch-1
    cost) is not called.
    """
    if known is not None and known > budget_s:
        return known
    took = [runner.timed()]
    for _ in range(calls - 1):
        if sum(took) > budget_s:
            break
        took.append(runner.timed())
    return float(np.median(took))


def round_robin(runners: Sequence[PredictionRunner], rounds: int, round_seconds: float, estimates: Sequence[float],
                 tick: Callable[[str], None]) -> None:
    """Time every runner in every round, rotating who goes first; fast runners get several calls per round."""
    calls = [max(1, min(200, int(round_seconds / max(e, 1e-6)))) for e in estimates]
    k = len(runners)
    for r in range(rounds):
        order = [(r + i) % k for i in range(k)]
        for i in order:
            for _ in range(calls[i]):
                runners[i].times.append(runners[i].timed())
                runners[i].cpu_times.append(runners[i].last_cpu)
        tick(f"round {r + 1}/{rounds}")


# -- peak memory in a child process -----------------------------------------------------------------------------------
_CHILD = "import sys; from cognn.bench import _memory_child; _memory_child(sys.argv[1])"


def _rss_kib() -> tuple[int | None, int]:
    """(current, peak) resident set of this process in KiB.

    Linux: ``VmRSS`` / ``VmHWM`` from ``/proc/self/status`` (``VmHWM`` belongs to this process image; ``ru_maxrss``
    is not used there because it keeps the parent's high-water mark across fork and exec). Elsewhere: peak only, from
    ``getrusage`` (bytes on macOS).
    """
    try:
        fields = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]
    except (OSError, KeyError, ValueError, IndexError):
        import resource  # POSIX only

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return None, peak // 1024 if sys.platform == "darwin" else peak


def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark of this process where Linux allows it (``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _memory_child(arg: str) -> None:
    """Entry point of the child process: one prediction of one model, then its peak memory as JSON on stdout."""
    cfg = json.loads(arg)
    torch.set_num_threads(cfg["threads"])
    device = torch.device(cfg["device"])
    (torch.ones(8, device=device) + 1).sum().item()  # initialise the runtime before the baseline
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        _reset_peak_rss()
        current, peak = _rss_kib()
        base = current if current is not None else peak
    runner = PredictionRunner(cfg["model"], device, batch=1, window=cfg["window"], num_classes=cfg["num_classes"],
                     layout=cfg["layout"])
    runner()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak_mb = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20
    else:
        peak_mb = (_rss_kib()[1] - base) / 1024
    print(json.dumps({"peak_mem_mb": peak_mb}))


def _peak_memory(name: str, opts: BenchOptions, threads: int) -> float | None:
    cfg = {"model": name, "device": opts.device, "threads": threads, "window": opts.window,
           "num_classes": opts.num_classes, "layout": opts.layout}
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"cognn-bench: warning: memory of {name} not measured ({tail[0]})", file=sys.stderr)
        return None
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["peak_mem_mb"])


# -- the benchmark -----------------------------------------------------------------------------------------------------
def _check(opts: BenchOptions) -> torch.device:
    known = names("registered")
    for n in opts.models:
        if n not in known:
            raise CognnError(f"unknown model {n!r}; known models: {', '.join(known)}")
    if not opts.models:
        raise CognnError("no models to benchmark")
    if opts.device not in ("cpu", "cuda") and not opts.device.startswith("cuda:"):
        raise CognnError(f"device must be cpu or cuda, not {opts.device!r}")
    dev = torch.device(opts.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise CognnError("--device cuda was asked for but torch sees no CUDA device")
    for n in opts.models:
        if not spec(n).continual and opts.window < _min_window(n):
            raise CognnError(f"{n} needs a window of at least {_min_window(n)} frames, got {opts.window}")
        if spec(n).continual and not _continual_window_ok(n, opts.window):
            raise CognnError(f"{n} cannot be built for a {opts.window}-frame window (its temporal pool would be "
                             f"empty); use a longer --window")
    return dev


def _min_window(name: str) -> int:
    """Shortest clip a regular model accepts (the ``*`` models lose 8 frames per layer)."""
    return 81 if spec(name).mod else 1


def _pin_threads(threads: int | None) -> int:
    if threads is not None:
        if threads < 1:
            raise CognnError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run_benchmark(opts: BenchOptions, progress: Progress | None = None) -> tuple[list[dict], dict]:
    """Measure every model of ``opts.models``; returns (rows, environment). Rows follow :data:`ROW_FIELDS`."""
    dev = _check(opts)
    threads = _pin_threads(opts.threads)
    env = environment(opts.device, threads)
    batch = opts.batch or default_batch(opts.device)
    models = list(dict.fromkeys(opts.models))
    tp_rounds = max(1, opts.rounds // 3)  # a regular model at batch B costs B windows per call
    total = 2 + opts.rounds + tp_rounds + (len(models) if opts.memory else 0)
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(label, done, total)

    torch.manual_seed(0)
    lat = [PredictionRunner(n, dev, 1, opts.window, num_classes=opts.num_classes, layout=opts.layout) for n in models]
    rows = []
    estimates = []
    for r in lat:
        counted = counted_macs(r.model, opts.window)  # on a meta-device copy: no arithmetic
        estimates.append(warm_up(r, 10, 2 * opts.round_seconds))
        rows.append(_static_row(r, counted.macs, opts, env))
    variants = _variant_runners(lat, opts, dev)  # timed in the same rounds as the models themselves
    estimates += [warm_up(v, 10, 2 * opts.round_seconds) for _, v in variants]
    onnx_runs = _onnx_runners(lat, opts, threads)
    estimates += [warm_up(cast(Any, o), 10, 2 * opts.round_seconds) for _, o in onnx_runs]
    tick("counted MACs, warmed up")
    timed: list[Any] = [*lat, *(v for _, v in variants), *(o for _, o in onnx_runs)]  # same calls, same rounds
    round_robin(timed, opts.rounds, opts.round_seconds, estimates, tick)
    for i, v in variants:
        _variant_columns(rows[i], float(np.median(lat[i].times)) * 1e3, v)
    for i, o in onnx_runs:
        _onnx_columns(rows[i], float(np.median(lat[i].times)) * 1e3, o)

    tput = [PredictionRunner(n, dev, batch, opts.window, model=r.model) for n, r in zip(models, lat)]
    tp_estimates = [warm_up(t, 3, 2 * opts.round_seconds, None if t.continual else e * batch)
                    for t, e in zip(tput, estimates)]
    tick("throughput warm-up")
    round_robin(tput, tp_rounds, opts.round_seconds, tp_estimates, tick)

    for row, r, t in zip(rows, lat, tput):
        ms = np.asarray(r.times) * 1e3
        row["ms_per_prediction"] = float(np.median(ms))
        row["ms_p95"] = float(np.percentile(ms, 95))
        row["cpu_ms_per_prediction"] = float(np.median(r.cpu_times)) * 1e3
        row["timed_predictions"] = len(ms)
        row["predictions_per_s"] = 1e3 / row["ms_per_prediction"]
        row["throughput"] = batch / float(np.median(t.times))
        row["throughput_batch"] = batch
    del lat, tput, variants, onnx_runs
    if opts.memory:  # children measure their own peak, so two can run at once without disturbing each other
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {pool.submit(_peak_memory, row["model"], opts, threads): row for row in rows}
            for fut in as_completed(futures):
                row = futures[fut]
                row["peak_mem_mb"] = fut.result()
                tick(f"memory of {row['model']}")
    _add_ratios(rows)
    return rows, env


def _variant_runners(lat: Sequence[PredictionRunner], opts: BenchOptions,
                     dev: torch.device) -> list[tuple[int, PredictionRunner]]:
    """For each continual model (index into ``lat``): a runner per lower precision and one with one person present,
    sharing the model's weights (a copy of the model each, since the precision and state are the model's)."""
    out = []
    for i, r in enumerate(lat):
        if not r.continual:
            continue
        wanted = [("fp32", True)] if opts.one_person and r.model.num_persons > 1 else []
        wanted += [(p, False) for p in opts.precisions if p != "fp32"]
        for precision, one in wanted:
            model = build(r.name, num_classes=opts.num_classes, layout=opts.layout, warm_start=True,
                          clip_frames=opts.window)
            model.load_state_dict(r.model.state_dict())
            out.append((i, PredictionRunner(r.name, dev, 1, opts.window, model=model, precision=precision,
                                            one_person=one)))
    return out


def _variant_columns(row: dict, base_ms: float, v: PredictionRunner) -> None:
    """A variant's median time per prediction and its ratio to the float32 two-person step of the same rounds."""
    ms = float(np.median(v.times)) * 1e3
    if v.variant == "one person":
        row["ms_one_person"], row["one_person_ratio"] = ms, ms / base_ms
    else:
        row[f"ms_{v.variant}"], row[f"{v.variant}_speedup"] = ms, base_ms / ms


def _onnx_runners(lat: Sequence[PredictionRunner], opts: BenchOptions, threads: int) -> list[tuple[int, OnnxRunner]]:
    """With ``opts.onnx``: each continual model's exported step in ONNX Runtime (index into ``lat``)."""
    if not opts.onnx:
        return []
    if opts.device != "cpu":
        raise CognnError("the ONNX Runtime column times the CPU provider; run it with --device cpu")
    return [(i, OnnxRunner(r, threads)) for i, r in enumerate(lat) if r.continual]


def _onnx_columns(row: dict, base_ms: float, o: OnnxRunner) -> None:
    """The exported step's median time per prediction and its ratio to the PyTorch step of the same rounds."""
    import onnxruntime

    ms = float(np.median(o.times)) * 1e3
    row["ms_onnx"], row["onnx_ratio"], row["onnxruntime"] = ms, ms / base_ms, onnxruntime.__version__


def _static_row(r: PredictionRunner, macs: int, opts: BenchOptions, env: dict) -> dict:
    model = r.model
    analytic = analytic_macs(model, opts.window)
    in_table = opts.window == 300 and opts.num_classes == dataset_classes(opts.layout)
    paper = paper_macs(r.name, opts.layout) if in_table else None
    row = dict.fromkeys(ROW_FIELDS)
    row.update({
        "model": r.name, "display_name": display_name(r.name), "continual": r.continual, "twin": twin(r.name),
        "frames_per_prediction": model.stride if r.continual else opts.window,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "macs_per_prediction": macs, "gflops": macs / 1e9, "macs_analytic": analytic, "macs_paper": paper,
        "analytic_vs_paper": None if paper is None else analytic / paper - 1.0,
        "layout": opts.layout, "device": env["device"], "device_name": env["device_name"], "threads": env["threads"],
        "torch": env["torch"],
    })
    return row


def _add_ratios(rows: list[dict]) -> None:
    """Continual rows get ratios to their regular twin when it was measured in the same run."""
    by_name = {r["model"]: r for r in rows}
    for row in rows:
        reg = by_name.get(row["twin"]) if row["continual"] else None
        if reg is None:
            continue
        row["speedup"] = _div(reg["ms_per_prediction"], row["ms_per_prediction"])
        row["mac_reduction"] = _div(reg["macs_per_prediction"], row["macs_per_prediction"])
        row["mac_reduction_analytic"] = _div(reg["macs_analytic"], row["macs_analytic"])
        row["mem_ratio"] = _div(row["peak_mem_mb"], reg["peak_mem_mb"])
        row["throughput_ratio"] = _div(row["throughput"], reg["throughput"])


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


# -- output ------------------------------------------------------------------------------------------------------------
def _plural(n: int | None, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def header_line(env: dict) -> str:
    """One line: versions, device, threads, load."""
    return (f"cognn {env['cognn']}, torch {env['torch']}, Python {env['python']}; device {env['device']} "
            f"({env['device_name']}); {_plural(env['threads'], 'thread')} of {_plural(env['cpu_count'], 'CPU')}; "
            f"load average {env['load_average']}; {env['date']}")


def _fmt(x: float | None, spec_: str, suffix: str = "") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec_) + suffix


def _with_ratio(row: dict, key: str, spec_: str, ratio_key: str, ratio: Callable[[float], str]) -> str:
    """``row[key]`` formatted, with its ratio to the regular twin in parentheses on a continual model's row."""
    text = _fmt(row[key], spec_)
    return text + f" ({ratio(row[ratio_key])})" if row["continual"] and row[ratio_key] is not None else text


def format_markdown(rows: Sequence[dict], env: dict) -> str:
    """The paper's Table II layout (ratios to the regular twin in parentheses) plus a ratio summary."""
    tp_batch = rows[0]["throughput_batch"] if rows else None
    table = "Table V" if rows and all(r.get("layout") == "kinetics18" for r in rows) else "Table II"
    out = [f"**{header_line(env)}**", "",
           f"| Model | Frames/pred | Params (M) | Peak mem (MB) | MACs/pred (G), counted | MACs/pred (G), paper "
           f"convention | {table} (G) | ms/pred median | ms/pred p95 | CPU ms/pred | preds/s (batch 1) | "
           f"preds/s (batch {tp_batch}) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mem = _with_ratio(r, "peak_mem_mb", ".1f", "mem_ratio", lambda v: f"{v * 100:.0f}%")
        macs = _with_ratio(r, "gflops", ".3f", "mac_reduction", lambda v: f"{v:.1f}x down")
        pps = _with_ratio(r, "predictions_per_s", ".1f", "speedup", lambda v: f"{v:.1f}x")
        tput = _with_ratio(r, "throughput", ".1f", "throughput_ratio", lambda v: f"{v:.1f}x")
        paper = "–" if r["macs_paper"] is None else (f"{r['macs_paper'] / 1e9:.2f} "
                                                     f"({r['analytic_vs_paper'] * 100:+.1f}%)")
        out.append(f"| {r['display_name']} | {r['frames_per_prediction']} | {r['params'] / 1e6:.2f} | {mem} | {macs} | "
                   f"{r['macs_analytic'] / 1e9:.3f} | {paper} | {_fmt(r['ms_per_prediction'], '.2f')} | "
                   f"{_fmt(r['ms_p95'], '.2f')} | {_fmt(r['cpu_ms_per_prediction'], '.2f')} | {pps} | {tput} |")
    ratios = [r for r in rows if r["continual"] and r["speedup"] is not None]
    if ratios:
        out += ["", "| Continual vs regular twin | Speed-up per prediction (batch 1) | MAC reduction, counted | "
                    "MAC reduction, paper convention | Memory ratio | Throughput ratio |", "|---|---|---|---|---|---|"]
        for r in ratios:
            out.append(f"| {r['display_name']} vs {display_name(r['twin'])} | {r['speedup']:.1f}x | "
                       f"{r['mac_reduction']:.1f}x | {r['mac_reduction_analytic']:.1f}x | "
                       f"{_fmt(r['mem_ratio'], '.2f')} | {_fmt(r['throughput_ratio'], '.1f', 'x')} |")
    variants = [r for r in rows if r["continual"] and any(r.get(k) is not None for k in
                                                         ("ms_one_person", "ms_bf16", "ms_int8"))]
    if variants:
        out += ["", "| Continual step, same rounds | float32, two persons (ms/pred) | one person present | bfloat16 | "
                    "int8 |", "|---|---|---|---|---|"]
        for r in variants:
            one = (_fmt(r["ms_one_person"], ".2f") + (f" ({r['one_person_ratio']:.2f}x the time)"
                                                      if r["one_person_ratio"] is not None else ""))
            low = [_fmt(r[f"ms_{p}"], ".2f") + (f" ({r[f'{p}_speedup']:.2f}x faster)"
                                                 if r[f"{p}_speedup"] is not None else "") for p in ("bf16", "int8")]
            out.append(f"| {r['display_name']} | {_fmt(r['ms_per_prediction'], '.2f')} | {one} | {low[0]} | "
                       f"{low[1]} |")
    onnx_rows = [r for r in rows if r.get("ms_onnx") is not None]
    if onnx_rows:
        out += ["", f"| Continual step, same rounds | PyTorch {env['torch']} (ms/pred) | ONNX Runtime "
                    f"{onnx_rows[0]['onnxruntime']} (ms/pred) | ONNX Runtime / PyTorch |", "|---|---|---|---|"]
        for r in onnx_rows:
            out.append(f"| {r['display_name']} | {_fmt(r['ms_per_prediction'], '.2f')} | {_fmt(r['ms_onnx'], '.2f')} "
                       f"| {_fmt(r['onnx_ratio'], '.2f', 'x the time')} |")
    mem = ("CUDA max allocated during one prediction, weights included" if env["device"].startswith("cuda") else
           "increase of a fresh child process's peak resident set over one prediction (weights, buffers, "
           "activations, allocator overhead)")
    out += ["", f"Peak mem: {mem}. MACs counted: torch FlopCounterMode / 2 (matmuls and convolutions only, graph "
                "products included; no bias, BatchNorm, ReLU). Paper convention: convolutions + bias + 2 per "
                "BatchNorm element + ReLU, no graph products (strided continual convolutions charged for every "
                "input frame, as the official library computes them). Ratios in parentheses: continual model vs its "
                "regular twin measured in the same rounds. ms/pred: wall time; CPU ms/pred: process CPU time of the "
                "same calls (all threads; on a busy shared machine the better estimate of an idle core's latency at "
                "1 thread)."]
    return "\n".join(out) + "\n"


def format_csv(rows: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(ROW_FIELDS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in ROW_FIELDS})
    return buf.getvalue()


def format_rows(rows: Sequence[dict], env: dict, fmt: str) -> str:
    """Rows as ``md`` (a table with a header line), ``csv`` or ``json`` (a list with one object per model)."""
    if fmt == "md":
        return format_markdown(rows, env)
    if fmt == "csv":
        return format_csv(rows)
    if fmt == "json":
        return json.dumps([{k: r.get(k) for k in ROW_FIELDS} for r in rows], indent=2) + "\n"
    raise ValueError(f"format must be md, csv or json, not {fmt!r}")


# -- latency against window length -------------------------------------------------------------------------------------
def _continual_window_ok(name: str, window: int) -> bool:
    """Whether a continual model can be built with ``clip_frames=window`` (the model refuses windows too short)."""
    try:
        build(name, clip_frames=max(window, 1))
    except ValueError:
        return False
    return True


def latency_vs_window(opts: BenchOptions, windows: Sequence[int], progress: Progress | None = None) -> dict:
    """Median ms per prediction at batch 1 for every model and window length, measured round-robin.

    Regular models run over ``W`` frames; continual models are built with ``clip_frames=W`` (their per-step cost
    hardly depends on it). Combinations a model cannot run (``*`` models need ``W >= 81``) are left out.
    Returns ``{"windows": [...], "ms": {model: {W: ms}}, "env": ...}``.
    """
    dev = _check(BenchOptions(models=opts.models, device=opts.device))
    threads = _pin_threads(opts.threads)
    env = environment(opts.device, threads)
    runners: list[tuple[str, int, PredictionRunner]] = []
    regular_models: dict[str, SkeletonNet] = {}
    skipped = []
    for w in windows:
        for n in dict.fromkeys(opts.models):
            if spec(n).continual:
                if not _continual_window_ok(n, w):
                    skipped.append(f"{n}@{w}")
                    continue
                r = PredictionRunner(n, dev, 1, w, clip_frames=w, num_classes=opts.num_classes, layout=opts.layout)
            else:
                if w < _min_window(n):
                    skipped.append(f"{n}@{w}")
                    continue
                model = regular_models.setdefault(n, build(n, num_classes=opts.num_classes, layout=opts.layout))
                r = PredictionRunner(n, dev, 1, w, model=model)
            runners.append((n, w, r))
    if skipped:
        print(f"cognn-bench: note: left out of the plot (window too short for the model): {', '.join(skipped)}",
              file=sys.stderr)
    total = 1 + opts.rounds
    estimates = [warm_up(r, 5, opts.round_seconds) for _, _, r in runners]
    if progress is not None:
        progress("plot warm-up", 1, total)
    done = [1]

    def tick(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(f"plot {label}", done[0], total)

    round_robin([r for _, _, r in runners], opts.rounds, opts.round_seconds, estimates, tick)
    ms: dict[str, dict[int, float]] = {}
    for n, w, r in runners:
        ms.setdefault(n, {})[w] = float(np.median(r.times)) * 1e3
    return {"windows": list(windows), "ms": ms, "env": env}


def plot_latency(data: dict, path: str | Path) -> Path:
    """Write the latency-vs-window figure (PNG, Agg backend, no GUI) and return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    pairs = sorted({(spec(n).family, spec(n).mod) for n in data["ms"]})
    colours = {pair: f"C{i}" for i, pair in enumerate(pairs)}  # a model and its twin share a colour
    for name, points in data["ms"].items():
        ws = sorted(points)
        s = spec(name)
        style = "-o" if s.continual else "--s"
        ax.plot(ws, [points[w] for w in ws], style, color=colours[(s.family, s.mod)], label=display_name(name))
    ax.set_yscale("log")
    ax.set_xlabel("window length (frames)")
    ax.set_ylabel("latency per prediction, batch 1 (ms, log scale)")
    env = data["env"]
    ax.set_title(f"{env['device_name']}, {_plural(env['threads'], 'thread')}, torch {env['torch']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    from .atomic import AtomicOutput

    with AtomicOutput(path, what="plot", keep_suffix=True) as out:
        fig.savefig(out.temp, format="png")
    return out.path
