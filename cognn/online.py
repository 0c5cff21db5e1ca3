"""The model step: one skeleton and its timestamp in, a :class:`Prediction` out.

:class:`OnlineRecognizer` wraps a continual model with what one step needs and nothing else: the checkpoint's
preprocessing convention (:mod:`cognn.data.conventions`), ``forward_step`` under ``torch.inference_mode``, softmax and
top-k, the warm-up bookkeeping. Several streams (one per person, :mod:`cognn.live.persons`) share one model: each
:class:`Stream` holds its own model state (``get_state``/``set_state``), preprocessing state and latest answer, and
is swapped in when it steps. Everything about sources, frame rates, labels, events and files is the session's
(:class:`cognn.live.session.Session`).
"""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .data.conventions import MODES, Convention, FramePrep, convention, convention_for, preprocess_mode
from .domains import LAYOUT_DOMAIN
from .errors import CognnError, InputFileError
from .layouts import Layout

if TYPE_CHECKING:
    import torch

__all__ = ["Prediction", "Stream", "OnlineRecognizer", "UntrainedWeightsWarning", "PREPROCESS_MODES",
           "preprocess_mode", "DEFAULT_UNTRAINED_MODEL", "StepBackend", "BACKENDS"]

#: where the model step runs: PyTorch (the continual model itself) or ONNX Runtime (an exported step, no torch)
BACKENDS = ("torch", "onnx")

#: preprocessing modes (see :mod:`cognn.data.conventions`)
PREPROCESS_MODES = MODES
#: the model used (with untrained weights, flagged as such) when no trained weights are available
DEFAULT_UNTRAINED_MODEL = "costgcn_mod"


class UntrainedWeightsWarning(UserWarning):
    """Issued when the recognizer runs a model without trained weights (its predictions mean nothing)."""


@runtime_checkable
class StepBackend(Protocol):
    """A continual step that runs without torch (:class:`cognn.export.runtime.OnnxStep`): what
    :class:`OnlineRecognizer` needs of a model besides a torch module's ``forward_step``."""

    name: str
    display_name: str
    num_classes: int
    in_channels: int
    num_persons: int
    layout: Layout
    receptive_field: int
    delay: int
    warm_start: bool

    @property
    def steps_seen(self) -> int:
        """Frames fed since the last :meth:`clean_state`."""

    @property
    def ready(self) -> bool:
        """The latest prediction is exact."""

    def step(self, frame: np.ndarray) -> np.ndarray | None:
        """Feed one frame ``(1, C, V, M)``; logits ``(1, K)`` when a prediction is released, else None."""

    def clean_state(self) -> None:
        """Forget every frame (reset the stream)."""

    def get_state(self, copy: bool = True) -> Any:
        """The stream's state, for :meth:`set_state`."""

    def set_state(self, state: Any) -> None:
        """Continue from a state of :meth:`get_state`."""


@dataclass
class Prediction:
    """The recognizer's answer for one step."""

    #: the index given to :meth:`OnlineRecognizer.step` (else the stream's step count - 1)
    frame: int
    timestamp: float
    #: people present in the skeleton that was fed
    persons: int
    #: True once the prediction is exact: the model's receptive field holds only real frames
    ready: bool
    #: (frames seen, frames needed until ``ready``)
    warmup: tuple[int, int]
    #: top-k ``(label, probability)``, highest first; empty until the model has produced a prediction
    top: list[tuple[str, float]]
    #: (num_classes,) softmax of the latest prediction, or None
    probs: np.ndarray | None
    model_ms: float
    pose_ms: float | None
    #: False when the model runs untrained weights
    has_weights: bool
    #: True when this step released no new output and ``probs`` is the latest one, held (strided models, warm-up)
    held: bool = False
    #: True when ``probs`` is a regular model's answer: ``ready``, or during warm-up a model in early mode ``exact``
    #: (the regular model on the frames seen so far); events and repetition counts use only these
    exact: bool = False


class Stream:
    """One stream's state: the model's step state, the preprocessing state and the latest probabilities."""

    def __init__(self, prep: FramePrep) -> None:
        self.prep = prep
        #: the model's state while another stream is stepping (None: fresh, or in the model now)
        self.model_state: dict[str, Any] | None = None
        self.probs: np.ndarray | None = None
        self.steps = 0
        #: steps whose output held non-finite values (left out)
        self.nonfinite = 0

    def reset(self) -> None:
        self.prep.reset()
        self.model_state = None
        self.probs = None
        self.steps = 0


def _default_classes(num_classes: int, layout: str) -> list[str]:
    """Class names by count: NTU-60 / NTU-120 / Kinetics-400 lists, else ``class 0`` ... (never fails)."""
    table = {(60, "ntu25"): "ntu60", (120, "ntu25"): "ntu120", (400, "kinetics18"): "kinetics400"}
    dataset = table.get((num_classes, layout))
    if dataset is not None:
        try:
            from .data.classes import class_names

            names = class_names(dataset)
            if len(names) == num_classes:
                return names
        except (ImportError, OSError, ValueError):
            pass
    return [f"class {i}" for i in range(num_classes)]


def _manifest_entry(model: str | None, layout: str | None) -> Any:
    """The manifest's model entry for ``model`` (or its twin) and ``layout``, preferring the default; else None."""
    from .models import twin
    from .weights import load_manifest

    entries = [e for e in load_manifest() if e.kind == "model"]
    if model is not None:
        names = {model, twin(model)}
        entries = [e for e in entries if e.model in names]
    if layout is not None:
        entries = [e for e in entries if e.layout == layout]
    return next((e for e in entries if e.default), entries[0] if entries else None)


class OnlineRecognizer:
    """Frame-by-frame action recognition with a continual model (see the module docstring).

    ``classes``: its class names; ``warm_start`` (default) gives predictions from the first frame, flagged not
    ``ready`` until exact; ``has_weights=False`` marks untrained weights; ``preprocess``: a convention name or mode
    (default: the layout's usual one); ``modality``: ``"joint"`` or ``"bone"``; ``subset``: show only these classes,
    their scores renormalised among themselves (a softmax over their logits).
    """

    weights_path: Path | None = None

    def __init__(self, model: torch.nn.Module | StepBackend, classes: Sequence[str], *, top_k: int = 5,
                 warm_start: bool = True,
                 device: str | torch.device = "cpu", has_weights: bool = True, preprocess: str | None = None,
                 modality: str = "joint", description: str | None = None,
                 meta: dict[str, Any] | None = None, subset: Sequence[str] | None = None) -> None:
        #: the step runs in PyTorch (a continual model) or in a :class:`StepBackend` (ONNX Runtime, no torch)
        self.backend = "torch" if hasattr(model, "forward_step") else "onnx"
        if self.backend == "onnx" and not isinstance(model, StepBackend):
            raise CognnError(f"{getattr(model, 'name', type(model).__name__)} is not a continual model; online "
                             "recognition steps frame by frame (use its continual twin, e.g. costgcn_mod)")
        net: Any = model  # a CoSkeletonNet or a StepBackend: the attributes below are common to both
        classes = [str(c) for c in classes]
        if len(classes) != net.num_classes:
            raise CognnError(f"{len(classes)} class names for a model with {net.num_classes} classes")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.device: Any
        self.model: Any
        if self.backend == "torch":
            import torch

            self.device = torch.device(device)
            self.model = net.to(self.device).eval()
        else:
            self.device = str(device)
            self.model = net
        self.model.warm_start = bool(warm_start)
        #: every class of the model; :attr:`classes` are those shown (a subset when one is given)
        self.all_classes = classes
        self._subset = _subset_indices(classes, subset)
        self.classes = classes if self._subset is None else [classes[i] for i in self._subset]
        self.top_k = min(int(top_k), len(self.classes))
        self.has_weights = bool(has_weights)
        self.layout = net.layout
        #: the checkpoint's metadata (empty for a model given in memory)
        self.meta: dict[str, Any] = dict(meta or getattr(model, "checkpoint_meta", None) or {})
        self.domain = str(self.meta.get("domain") or LAYOUT_DOMAIN[self.layout.name])
        self.convention: Convention = (convention(preprocess) if preprocess is not None
                                       else convention_for(self.meta, self.layout.name))
        self.modality = modality
        FramePrep(self.convention, self.layout, modality)  # checks the modality now
        self.description = description or self._describe(None)
        self._stream = self.new_stream()
        self._active: Stream | None = self._stream
        self.reset()

    @property
    def preprocess(self) -> str:
        """The preprocessing mode (``ntu``, ``stgcn-kinetics``, ``kinetics`` or ``none``)."""
        return self.convention.mode

    # -- construction from files -------------------------------------------------------------------------------------
    @classmethod
    def from_weights(cls, weights: str | os.PathLike[str] | None = None, *, model: str | None = None,
                     layout: str | None = None,
                     top_k: int = 5, device: str | torch.device = "cpu", warm_start: bool = True,
                     subset: Sequence[str] | None = None, backend: str = "torch",
                     precision: str | None = None) -> OnlineRecognizer:
        """A recognizer for a checkpoint (any family cognn reads, or a bundled model's short name) or, with
        ``weights=None``, for the default entry of ``weights/manifest.json`` (for ``model`` / ``layout`` if given).
        A regular model is loaded into its continual twin; ``subset`` restricts the classes shown.

        Without trained weights an untrained model is built (``model`` or costgcn_mod) with ``has_weights=False``
        and an :class:`UntrainedWeightsWarning`. Raises :class:`~cognn.errors.InputFileError` for an unreadable
        weights file and ValueError for unknown names.

        ``backend="onnx"`` runs a step graph made by ``cognn-export`` (``weights``: its ``.onnx`` file) in ONNX
        Runtime, importing no torch. ``precision`` (torch backend): the step's products in ``fp32`` (default),
        ``bf16`` or ``int8`` (:meth:`cognn.models.CoSkeletonNet.set_precision`), or ``auto``, the fastest measured on
        this machine (:mod:`cognn.precision`; an emulated precision named warns); an ONNX step keeps the precision
        it was exported in.
        """
        if backend not in BACKENDS:
            raise CognnError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if backend == "onnx":
            return cls._from_onnx(weights, model=model, layout=layout, top_k=top_k, warm_start=warm_start,
                                  subset=subset, precision=precision)
        rec = cls._from_torch(weights, model=model, layout=layout, top_k=top_k, device=device,
                              warm_start=warm_start, subset=subset)
        if precision is not None:  # "auto": the fastest measured here; an emulated one warns
            from .precision import resolve_precision

            resolve_precision(rec.model, precision)
            rec.description = rec._describe(rec.weights_path)
        return rec

    @classmethod
    def _from_torch(cls, weights: str | os.PathLike[str] | None, *, model: str | None, layout: str | None, top_k: int,
                    device: str | torch.device, warm_start: bool,
                    subset: Sequence[str] | None) -> OnlineRecognizer:
        from .models import spec, twin

        if model is not None and not spec(model).continual:
            model = twin(model)
        entry = None
        if weights is None:
            entry = _manifest_entry(model, layout)
            if entry is not None and entry.path.is_file():
                weights = entry.path
        else:
            weights = _resolve(weights)
        if weights is not None:
            return cls._from_file(Path(weights), entry, model=model, layout=layout, top_k=top_k, device=device,
                                  warm_start=warm_start, subset=subset)
        return cls._untrained(model, layout, entry, top_k=top_k, device=device, warm_start=warm_start,
                              subset=subset)

    @classmethod
    def _from_onnx(cls, weights: str | os.PathLike[str] | None, *, model: str | None, layout: str | None, top_k: int,
                   warm_start: bool, subset: Sequence[str] | None, precision: str | None) -> OnlineRecognizer:
        """A recognizer running an exported step graph in ONNX Runtime (no torch is imported)."""
        from .export.runtime import OnnxStep

        if weights is None:
            raise CognnError("the onnx backend runs a step graph made by cognn-export: give its .onnx file as the "
                             "weights (cognn-export WEIGHTS OUT.onnx makes one)")
        path = Path(weights).expanduser()
        if path.is_file() and path.suffix.lower() != ".onnx":
            raise InputFileError(path, "is not an ONNX step graph; the onnx backend runs the .onnx file that "
                                       f"cognn-export makes (cognn-export {path} OUT.onnx)")
        step = OnnxStep.load(path, warm_start=warm_start)
        if model is not None and model not in (step.name, step.name[2:]):
            raise InputFileError(path, f"holds the step of {step.name}, not of {model}")
        if layout is not None and layout != step.layout.name:
            raise InputFileError(path, f"is for layout {step.layout.name} but {layout} was asked for")
        if precision is not None and precision not in ("auto", step.precision):
            raise InputFileError(path, f"was exported in {step.precision}; an ONNX step keeps its export "
                                       "precision (export again with --precision, or use the torch backend)")
        rec = cls(step, step.classes, top_k=top_k, warm_start=warm_start, has_weights=True,
                  modality=str(step.meta.get("modality") or "joint"), meta=step.meta, subset=subset)
        rec.weights_path = path
        rec.description = rec._describe(path)
        return rec

    @classmethod
    def _from_file(cls, path: Path, entry: Any, *, model: str | None, layout: str | None, top_k: int,
                   device: str | torch.device, warm_start: bool,
                   subset: Sequence[str] | None = None) -> OnlineRecognizer:
        from .checkpoints import read_checkpoint
        from .checkpoints.format import model_from_checkpoint
        from .models import live_defaults, spec, twin

        ck = read_checkpoint(path)
        name = model or ck.meta["model"]
        try:
            if not spec(name).continual:
                name = twin(name)
        except ValueError:
            raise CognnError(f"{path}: holds a {name} model, which has no continual form for online use") from None
        # the family's live defaults for the layout where the file says nothing itself: a converted official
        # checkpoint runs as the bundled copy of the same weights (early mode, labels, alarms)
        defaults = live_defaults(name, ck.meta["layout"])
        stored = ck.meta.get("model_kwargs") or {}
        extra = {k: v for k, v in defaults["model_kwargs"].items() if k not in stored}
        net = model_from_checkpoint(ck, model=name, layout=layout, device=device, warm_start=warm_start, **extra)
        meta = dict(ck.meta)
        given = meta.get("live")
        if given is None or isinstance(given, dict):  # a malformed ``live`` stays as it is, for its own error
            live = {**defaults["live"], **(given or {})}
            if live:
                meta["live"] = live
        classes = list(meta.get("classes") or [])
        if not classes and entry is not None:
            classes = entry.class_names()
        if len(classes) != net.num_classes:
            classes = _default_classes(net.num_classes, net.layout.name)
        rec = cls(net, classes, top_k=top_k, warm_start=warm_start, device=device, has_weights=True,
                  modality=str(meta.get("modality") or "joint"), meta=meta, subset=subset)
        rec.weights_path = path
        rec.description = rec._describe(path)
        return rec

    @classmethod
    def _untrained(cls, model: str | None, layout: str | None, entry: Any, *, top_k: int,
                   device: str | torch.device, warm_start: bool,
                   subset: Sequence[str] | None = None) -> OnlineRecognizer:
        import torch

        from .models import build

        name = model or DEFAULT_UNTRAINED_MODEL
        lay = layout or "ntu25"
        num_classes = 400 if lay == "kinetics18" else 60
        with torch.random.fork_rng(devices=[]):  # the same "untrained" weights in every run and every worker
            torch.manual_seed(0)
            net = build(name, num_classes=num_classes, layout=lay, warm_start=warm_start)
        why = (f"the weights file {entry.path} listed in weights/manifest.json is missing" if entry is not None
               else f"no trained weights for {name} ({lay}) in weights/manifest.json")
        warnings.warn(f"{why}: running {name} with UNTRAINED (random) weights; its predictions mean nothing. "
                      "Pass --weights FILE (see weights/README.md).", UntrainedWeightsWarning, stacklevel=3)
        rec = cls(net, _default_classes(num_classes, lay), top_k=top_k, warm_start=warm_start, device=device,
                  has_weights=False, subset=subset)
        rec.description = rec._describe(None)
        return rec

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return str(self.model.spec.name) if self.backend == "torch" else str(self.model.name)

    @property
    def receptive_field(self) -> int:
        """Frames that influence one prediction."""
        return int(self.model.receptive_field)

    @property
    def frames_to_ready(self) -> int:
        """Steps after :meth:`reset` until predictions are exact (the receptive field with warm start)."""
        return self.receptive_field if self.model.warm_start else int(self.model.delay) + 1

    def _describe(self, path: Path | None) -> str:
        if self.backend == "torch":
            from .models import display_name

            shown_name = display_name(self.model_name)
            precision = str(getattr(self.model, "precision", "fp32"))
            run = "" if precision == "fp32" else f" ({precision} products)"
        else:
            shown_name = self.model.display_name
            run = f" (ONNX Runtime, {getattr(self.model, 'precision', 'fp32')})"
        shown = (f"{len(self.all_classes)} classes" if self._subset is None
                 else f"{len(self.classes)} of {len(self.all_classes)} classes shown")
        what = f"{shown_name} ({self.model_name}, {self.layout.name}, {shown})"
        if not self.has_weights:
            return f"{what} with UNTRAINED weights: predictions are meaningless"
        return f"{what}, weights {path.name if path is not None else 'given in memory'}{run}"

    # -- streams -----------------------------------------------------------------------------------------------------
    def new_stream(self) -> Stream:
        """A fresh stream (a person of their own): its own model state, preprocessing and latest answer."""
        return Stream(FramePrep(self.convention, self.layout, self.modality))

    def _activate(self, stream: Stream) -> None:
        """Put ``stream``'s model state into the model (the one there now goes back to its stream)."""
        if stream is self._active:
            return
        if self._active is not None:
            self._active.model_state = self.model.get_state(copy=False)  # handed over: set_state follows
        if stream.model_state is None:
            self.model.clean_state()
        else:
            self.model.set_state(stream.model_state)
            stream.model_state = None
        self._active = stream

    def release(self, stream: Stream) -> None:
        """Forget a stream that will not step again (a person who left)."""
        if stream is self._active:
            self._active = None
        stream.reset()

    # -- running -----------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every frame of the default stream (new source, seek): model state, normaliser reference, latest
        prediction."""
        self._stream.reset()
        self._active = self._stream
        self.model.clean_state()

    def check_frame(self, skeleton: np.ndarray) -> None:
        """Raise CognnError if a skeleton ``(C, V, M)`` does not fit the model."""
        want = (self.model.in_channels, self.layout.num_joints, self.model.num_persons)
        if np.shape(skeleton) != want:
            raise CognnError(f"{self.model_name} takes frames of shape {want} (layout {self.layout.name}), got "
                             f"{tuple(np.shape(skeleton))}")

    def step(self, skeleton: np.ndarray, timestamp: float, *, index: int | None = None,
             stream: Stream | None = None) -> Prediction:
        """Feed one skeleton ``(C, V, M)`` taken at ``timestamp`` seconds to ``stream`` (default: the recognizer's
        own); the newest prediction, its top-k and timing. Non-finite joints are fed as zeros."""
        self.check_frame(skeleton)
        s = self._stream if stream is None else stream
        self._activate(s)
        raw = np.asarray(skeleton, np.float32)
        if not np.isfinite(raw).all():
            raw = np.where(np.isfinite(raw), raw, np.float32(0.0))
        x = s.prep(raw)
        t0 = time.perf_counter()
        logits = self._step_model(x)
        model_ms = 1000.0 * (time.perf_counter() - t0)
        s.steps += 1
        fresh = False
        if logits is not None:
            z = logits.astype(np.float64) if self._subset is None else logits[self._subset].astype(np.float64)
            if np.isfinite(z).all():
                e = np.exp(z - z.max())
                s.probs = (e / e.sum()).astype(np.float32)
                fresh = True
            else:
                s.nonfinite += 1
        probs = s.probs
        top: list[tuple[str, float]] = []
        if probs is not None:
            idx = np.argsort(-probs, kind="stable")[: self.top_k]
            top = [(self.classes[i], float(probs[i])) for i in idx]
        seen = int(self.model.steps_seen)
        persons = int(np.count_nonzero(np.any(raw != 0, axis=(0, 1))))
        return Prediction(frame=s.steps - 1 if index is None else int(index), timestamp=float(timestamp),
                          persons=persons, ready=bool(self.model.ready),
                          warmup=(min(seen, self.frames_to_ready), self.frames_to_ready), top=top,
                          probs=None if probs is None else probs.copy(), model_ms=model_ms, pose_ms=None,
                          has_weights=self.has_weights, held=probs is not None and not fresh,
                          exact=bool(self.model.ready) or (probs is not None and self._early_exact))

    @property
    def _early_exact(self) -> bool:
        """The model answers exactly while it warms up (early mode ``exact`` with warm start)."""
        return getattr(self.model, "early_mode", None) == "exact" and bool(getattr(self.model, "warm_start", False))

    def _step_model(self, x: np.ndarray) -> np.ndarray | None:
        """The model step on one preprocessed frame ``(C, V, M)``: its logits ``(K,)``, or None."""
        if self.backend == "onnx":
            y = self.model.step(np.ascontiguousarray(x, np.float32)[None])
            return None if y is None else np.asarray(y[0], np.float32)
        import torch

        with torch.inference_mode():
            y = self.model.forward_step(torch.from_numpy(np.ascontiguousarray(x))[None].to(self.device))
            return None if y is None else y[0].float().cpu().numpy()


def _subset_indices(classes: list[str], subset: Sequence[str] | None) -> np.ndarray | None:
    """Indices of ``subset`` in ``classes`` (None for no subset); CognnError naming unknown classes."""
    if subset is None:
        return None
    import difflib

    names = list(dict.fromkeys(str(c) for c in subset))
    unknown = [c for c in names if c not in classes]
    if unknown:
        hints = [f"{c!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(c, classes, 1)) else repr(c)
                 for c in unknown[:4]]
        raise CognnError(f"the model has no class {', '.join(hints)}" + (f" and {len(unknown) - 4} more"
                                                                          if len(unknown) > 4 else ""))
    if not names:
        raise CognnError("the class subset is empty")
    return np.array([classes.index(c) for c in names], dtype=np.int64)


def _resolve(weights: str | os.PathLike[str]) -> Path:
    """A bundled model's short name or a path -> the checkpoint path."""
    from .weights import resolve_weights

    return resolve_weights(weights)
