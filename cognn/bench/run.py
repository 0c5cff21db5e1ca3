"""The side-by-side benchmark: every model and step variant timed in the same rounds, ratios to the twins."""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, cast

import numpy as np
import torch

from ..errors import CognnError
from ..flops import analytic_macs, counted_macs, paper_macs
from ..models import build, display_name, names, spec, twin
from .memory import _peak_memory
from .options import ROW_FIELDS, BenchOptions, Progress, dataset_classes, default_batch
from .runners import OnnxRunner, PredictionRunner, environment, round_robin, warm_up


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
    from ..export import require_onnx

    require_onnx()
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


def _continual_window_ok(name: str, window: int) -> bool:
    """Whether a continual model can be built with ``clip_frames=window`` (the model refuses windows too short)."""
    try:
        build(name, clip_frames=max(window, 1))
    except ValueError:
        return False
    return True
