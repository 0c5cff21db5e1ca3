"""Models fed as online inference feeds them, timed round-robin; the environment every benchmark prints."""
from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import torch

from .. import __version__
from ..models import build, spec
from ..models.base import CoSkeletonNet, SkeletonNet


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
    from ..precision import native

    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"cognn": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(dev), "device_name": name, "threads": threads, "cpu_count": os.cpu_count(),
            "load_average": load, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            # whether this CPU runs each lower precision natively (False: emulated, slower; None: unknown)
            "native": {p: native(p) if dev.type == "cpu" else None for p in ("bf16", "int8")}}


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
            co = self.continual_model
            co.set_precision(precision)
            s = co.stride
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

    @property
    def continual_model(self) -> CoSkeletonNet:
        """The model, as the continual model it is (only for a continual runner)."""
        if not isinstance(self.model, CoSkeletonNet):
            raise TypeError(f"{self.name} is not a continual model")
        return self.model

    def prime(self) -> None:
        """Step until a prediction comes out, so every later call of ``stride`` steps ends on one."""
        model = self.continual_model
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
                    y = self.continual_model.forward_step(f)
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
        from ..export.build import export_model
        from ..export.runtime import OnnxStep

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
