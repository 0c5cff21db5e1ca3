"""The resumable training state ``last_state.pt``: model, optimizer, scheduler, epoch, RNG states, history.

Only tensors and plain Python containers are stored, so the file loads with ``torch.load(weights_only=True)`` and
loading it never runs code from the file.
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import AtomicOutput
from ..errors import InputFileError

__all__ = ["STATE_FORMAT", "STATE_VERSION", "capture_rng", "restore_rng", "plain", "save_state", "load_state"]

STATE_FORMAT = "cognn-train-state"
STATE_VERSION = 1


def plain(obj: Any) -> Any:
    """``obj`` with dict subclasses (Counter, OrderedDict) as dicts and tuples as lists, tensors kept."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def capture_rng() -> dict:
    """The torch (CPU and CUDA), numpy and Python random states."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "state": list(internal), "gauss_next": gauss_next},
    }


def restore_rng(state: dict) -> None:
    """Put back what :func:`capture_rng` returned."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def scheduler_state(sched: torch.optim.lr_scheduler.LRScheduler) -> dict:
    """A scheduler's ``state_dict`` as plain containers."""
    return plain(sched.state_dict())


def load_scheduler_state(sched: torch.optim.lr_scheduler.LRScheduler, state: dict) -> None:
    """Inverse of :func:`scheduler_state` (MultiStepLR keeps its milestones in a Counter)."""
    state = dict(state)
    if "milestones" in state and isinstance(state["milestones"], dict):
        state["milestones"] = Counter(state["milestones"])
    sched.load_state_dict(state)


def save_state(path: str | Path, state: dict) -> Path:
    """Write ``state`` atomically (:class:`cognn.atomic.AtomicOutput`: a unique temporary file, renamed)."""
    with AtomicOutput(path, what="training state") as out:
        torch.save({"format": STATE_FORMAT, "version": STATE_VERSION, **plain(state)}, out.temp)
    return out.path


def load_state(path: str | Path) -> dict:
    """Read a state written by :func:`save_state` (``weights_only=True``); InputFileError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no training state to resume from (the file does not exist)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means the file is not a usable state
        raise InputFileError(path, f"not a readable cognn training state ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else 'unreadable'})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise InputFileError(path, "not a cognn training state", field="format")
    if state.get("version", 0) > STATE_VERSION:
        raise InputFileError(path, f"training state version {state.get('version')} is newer than this cognn",
                             field="version")
    for key in ("epoch", "model", "optimizer", "scheduler", "rng", "history", "config"):
        if key not in state:
            raise InputFileError(path, "incomplete training state", field=key)
    return state
