"""Which step precisions this CPU runs natively, and ``auto``: the fastest one measured here.

bfloat16 products are native with AVX512-BF16 or AMX-BF16 (x86) or the BF16 extension (Arm); elsewhere PyTorch
emulates them in float32, several times slower (8x on an AVX2-only CPU). int8 products are native with VNNI
(AVX512-VNNI, AVX-VNNI, AMX-INT8) or Arm's dot-product instructions; without them int8 still runs, with less gain.

``auto`` times a few steps of the model in each precision (random frames, state cleaned after) and keeps the
fastest; the answer is cached per CPU, torch version and model shape in ``$XDG_CACHE_HOME/cognn/precision.json``
(``~/.cache`` by default), so later starts do not measure again.
"""
from __future__ import annotations

import json
import os
import platform
import time
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["AUTO", "PRECISION_CHOICES", "cpu_flags", "native", "emulation_note", "cache_path", "pick_precision",
           "resolve_precision"]

AUTO = "auto"
#: what ``--precision`` takes
PRECISION_CHOICES = ("fp32", "bf16", "int8", AUTO)
#: CPU flags (``/proc/cpuinfo`` ``flags`` on x86, ``Features`` on Arm) that make each precision native
NATIVE_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16", "bf16"),
                "int8": ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")}
#: steps timed per precision by ``auto`` (after as many warm-up steps)
AUTO_STEPS = 20


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where it cannot be read, e.g. not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native(precision: str, flags: frozenset[str] | None = None) -> bool | None:
    """True when ``precision``'s products run natively on this CPU, False when emulated, None when unknown (no flags
    to read). float32 is always native."""
    if precision == "fp32":
        return True
    flags = cpu_flags() if flags is None else flags
    if not flags:
        return None
    return any(f in flags for f in NATIVE_FLAGS.get(precision, ()))


def emulation_note(precision: str, flags: frozenset[str] | None = None) -> str | None:
    """One sentence when ``precision`` is emulated on this CPU (it will be slower than float32), else None."""
    if native(precision, flags) is not False:
        return None
    if precision == "bf16":
        return ("this CPU has no native bfloat16 (no AVX512-BF16 or AMX): bf16 products are emulated and run several "
                "times slower than fp32; use fp32, or --precision auto to pick the fastest measured here")
    return ("this CPU has no VNNI instructions: int8 products gain little or run slower than fp32 here; use "
            "--precision auto to pick the fastest measured here")


def cache_path() -> Path:
    """Where ``auto``'s measurements are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cognn" / "precision.json"


def _key(model: Any) -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo_lines() if line.startswith("model name")),
               platform.processor() or platform.machine())
    return json.dumps([cpu, torch.__version__, torch.get_num_threads(), model.spec.name, model.layout.name,
                       int(model.num_classes), int(model.num_persons),
                       int(sum(p.numel() for p in model.parameters()))])


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _read_cache() -> dict[str, Any]:
    try:
        doc = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write_cache(doc: dict[str, Any]) -> None:
    from .atomic import AtomicOutput

    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicOutput(path, what="precision cache") as out:
            Path(out.temp).write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    except Exception:  # a cache that cannot be written only costs the next start a measurement
        pass


def _time_steps(model: Any, precision: str, frames: Any) -> float:
    import torch

    model.set_precision(precision)
    model.clean_state()
    times = []
    with torch.inference_mode():
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            model.forward_step(frame)
            if i >= len(frames) // 2:  # the first half warms up
                times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def pick_precision(model: Any, *, use_cache: bool = True) -> tuple[str, dict[str, float]]:
    """The fastest precision of ``model``'s step on this machine and the median seconds per step of each, measured
    on random frames (or read from the cache). The model's state is cleaned and its precision left as picked."""
    import torch

    from .nn.linear import PRECISIONS

    key = _key(model)
    doc = _read_cache() if use_cache else {}
    timings = doc.get(key)
    if not (isinstance(timings, dict) and set(timings) == set(PRECISIONS)
            and all(isinstance(v, (int, float)) for v in timings.values())):
        gen = torch.Generator().manual_seed(0)
        frames = torch.randn(2 * AUTO_STEPS, 1, model.in_channels, model.layout.num_joints, model.num_persons,
                             generator=gen)
        timings = {p: _time_steps(model, p, frames) for p in PRECISIONS}
        if use_cache:
            _write_cache({**doc, key: timings})
    best = min(PRECISIONS, key=lambda p: timings[p])
    model.set_precision(best)
    model.clean_state()
    return best, {p: float(timings[p]) for p in PRECISIONS}


def resolve_precision(model: Any, precision: str) -> str:
    """Set ``model``'s step precision: ``auto`` picks the fastest measured here; an emulated precision asked for by
    name runs with a warning saying so. Returns the precision set."""
    import warnings

    if precision == AUTO:
        best, _ = pick_precision(model)
        return best
    note = emulation_note(precision)
    if note is not None:
        warnings.warn(f"--precision {precision}: {note}", RuntimeWarning, stacklevel=2)
    model.set_precision(precision)
    return precision
