"""The benchmark's rows as markdown (the paper's Table II layout), CSV or JSON."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence

from ..models import display_name
from .options import ROW_FIELDS


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
            low = [_fmt(r[f"ms_{p}"], ".2f") + (f" ({speed_words(r[f'{p}_speedup'])}{_emulated(p, env)})"
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


def speed_words(speedup: float) -> str:
    """A speed ratio (reference time / this time) in words: ``2.10x faster``, or ``25x slower`` for a slowdown (never
    ``0.04x faster``)."""
    if speedup >= 1.0:
        return f"{speedup:.2f}x faster"
    slower = 1.0 / speedup if speedup > 0 else float("inf")
    return f"{slower:.2f}x slower" if slower < 10 else f"{slower:.0f}x slower"


def _emulated(precision: str, env: dict) -> str:
    """``, emulated`` where the benchmark's CPU has no native instructions for ``precision`` (cognn.precision)."""
    return ", emulated on this CPU" if (env.get("native") or {}).get(precision) is False else ""
