"""cognn: online, frame-by-frame skeleton-based action recognition with continual graph networks."""
from __future__ import annotations

__version__ = "0.1.0"

from . import layouts  # noqa: E402,F401


def __getattr__(name: str):
    # heavy sub-packages (torch models, data, pose) load on first use
    import importlib

    if name in {"models", "checkpoints", "data", "pose", "online", "nn"}:
        return importlib.import_module(f"cognn.{name}")
    raise AttributeError(f"module 'cognn' has no attribute {name!r}")
