"""Peak memory of one prediction, measured in a fresh child process per model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from .options import BenchOptions
from .runners import PredictionRunner

_CHILD = "import sys; from cognn.bench.memory import _memory_child; _memory_child(sys.argv[1])"


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
