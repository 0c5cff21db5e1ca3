"""The online recognizer: skeleton frames in, a :class:`Prediction` per frame out (the same code for the app and
``cognn-infer``).

Each frame goes through a small pipeline of stages that share one :class:`StepState`:

1. :class:`Preprocess` — the causal form of the training preprocessing: ``"ntu"`` is
   :class:`cognn.data.transforms.OnlineNormalizer` (centre on the spine-mid joint, rotations fixed at the first frame
   with a person); ``"kinetics"`` negates y (the Kinetics-skeleton feeder's convention, sources give y down);
   ``"none"`` passes the frame on;
2. :class:`ModelStep` — ``model.forward_step`` under ``torch.inference_mode``, timed;
3. :class:`Probabilities` — softmax of the latest prediction (kept between the outputs of a strided model).

More stages (per-person state, frame-rate resampling, smoothing, events) slot into :attr:`OnlineRecognizer.stages`
without changing :meth:`OnlineRecognizer.step`. ``reset()`` resets every stage (model state, normaliser reference).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .domains import CAMERA3D, IMAGE2D, LAYOUT_DOMAIN
from .errors import CognnError
from .sources import SkeletonFrame

__all__ = ["Prediction", "StepState", "Stage", "Preprocess", "ModelStep", "Probabilities", "OnlineRecognizer",
           "UntrainedWeightsWarning", "PREPROCESS_MODES", "preprocess_mode", "DEFAULT_UNTRAINED_MODEL"]

#: preprocessing modes of :class:`Preprocess`
PREPROCESS_MODES = ("ntu", "kinetics", "none")
#: the model used (with untrained weights, flagged as such) when no trained weights are available
DEFAULT_UNTRAINED_MODEL = "costgcn_mod"


class UntrainedWeightsWarning(UserWarning):
    """Issued when the recognizer runs a model without trained weights (its predictions mean nothing)."""


@dataclass
class Prediction:
    """The recognizer's answer for one frame."""

    frame: int
    timestamp: float
    persons: int
    #: True once the prediction is exact: the model's receptive field holds only real frames
    ready: bool
    #: (frames seen, frames needed until ``ready``); the second is the receptive field with warm start
    warmup: tuple[int, int]
    #: top-k ``(label, probability)``, highest first; empty until the model has produced a prediction
    top: list[tuple[str, float]]
    #: (num_classes,) softmax of the latest prediction, or None
    probs: np.ndarray | None
    model_ms: float
    pose_ms: float | None
    #: False when the model runs untrained weights
    has_weights: bool


@dataclass
class StepState:
    """What the stages of one step read and write."""

    frame: SkeletonFrame
    #: model input (C, V, M) float32, after preprocessing
    x: np.ndarray | None = None
    #: logits (num_classes,) when the model produced a prediction at this step
    logits: np.ndarray | None = None
    #: softmax of the latest prediction
    probs: np.ndarray | None = None
    #: milliseconds per stage name
    timings: dict[str, float] = field(default_factory=dict)


class Stage:
    """One stage of the online pipeline: ``__call__(state)`` updates ``state``; ``reset()`` forgets the past."""

    name = "stage"

    def __call__(self, state: StepState) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:
        pass


class Preprocess(Stage):
    """The causal training preprocessing of the model input (see the module docstring for the modes)."""

    name = "preprocess"

    def __init__(self, mode: str, layout, modality: str = "joint") -> None:
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"unknown preprocessing {mode!r}; use one of {', '.join(PREPROCESS_MODES)}")
        if modality not in ("joint", "bone"):
            raise CognnError(f"the online pipeline feeds the joint or bone modality, not {modality!r} (motion needs "
                             "the next frame)")
        self.mode = mode
        self.modality = modality
        self.layout = layout
        self._normalizer = None
        if mode == "ntu":
            from .data.transforms import OnlineNormalizer

            self._normalizer = OnlineNormalizer(layout)

    def __call__(self, state: StepState) -> None:
        x = np.asarray(state.frame.skeleton if state.x is None else state.x, np.float32)
        if self.mode == "ntu":
            x = self._normalizer(x)
        elif self.mode == "kinetics":
            x = x.copy()
            x[1] = -x[1]
        if self.modality == "bone":
            from .data.transforms import bone

            x = bone(x, self.layout)
        state.x = x

    def reset(self) -> None:
        if self._normalizer is not None:
            self._normalizer.reset()


class ModelStep(Stage):
    """One ``forward_step`` of a continual model on the preprocessed frame; ``state.logits`` when it answers."""

    name = "model"

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.model = model
        self.device = torch.device(device)

    def __call__(self, state: StepState) -> None:
        t0 = time.perf_counter()
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(state.x))[None].to(self.device)
            y = self.model.forward_step(x)
            state.logits = None if y is None else y[0].float().cpu().numpy()
        state.timings[self.name] = 1000.0 * (time.perf_counter() - t0)

    def reset(self) -> None:
        self.model.clean_state()


class Probabilities(Stage):
    """Softmax of the newest logits; the previous probabilities are kept for steps without a prediction."""

    name = "probs"

    def __init__(self) -> None:
        self._last: np.ndarray | None = None

    def __call__(self, state: StepState) -> None:
        if state.logits is not None:
            z = state.logits.astype(np.float64)
            e = np.exp(z - z.max())
            self._last = (e / e.sum()).astype(np.float32)
        state.probs = self._last

    def reset(self) -> None:
        self._last = None


def preprocess_mode(meta: dict[str, Any] | None, layout: str) -> str:
    """The :class:`Preprocess` mode for a checkpoint's metadata (``preprocessing``, else its domain / layout)."""
    meta = meta or {}
    prep = str(meta.get("preprocessing") or "").lower()
    if prep == "none":
        return "none"
    if "pre-normalization" in prep or "pre_normalization" in prep or prep.startswith("ntu"):
        return "ntu"
    if prep.startswith("kinetics"):
        return "kinetics"
    domain = meta.get("domain") or LAYOUT_DOMAIN.get(layout, CAMERA3D)
    return "ntu" if domain == CAMERA3D else "kinetics" if domain == IMAGE2D else "none"


def _manifest_entry(model: str | None, layout: str | None):
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


class OnlineRecognizer:
    """Frame-by-frame action recognition with a continual model.

    ``model``: a continual cognn model (``forward_step``, ``clean_state``, ``ready``); ``classes``: its class names;
    ``warm_start`` (default) gives predictions from the first frame, flagged not ``ready`` until exact;
    ``has_weights=False`` marks untrained weights; ``preprocess``: ``"ntu"``, ``"kinetics"`` or ``"none"`` (default:
    from the layout's domain); ``modality``: ``"joint"`` or ``"bone"``.
    """

    def __init__(self, model: torch.nn.Module, classes: Sequence[str], *, top_k: int = 5, warm_start: bool = True,
                 device: str | torch.device = "cpu", has_weights: bool = True, preprocess: str | None = None,
                 modality: str = "joint", description: str | None = None) -> None:
        if not hasattr(model, "forward_step"):
            raise CognnError(f"{getattr(model, 'name', type(model).__name__)} is not a continual model; online "
                             "recognition steps frame by frame (use its continual twin, e.g. costgcn_mod)")
        classes = [str(c) for c in classes]
        if len(classes) != model.num_classes:
            raise CognnError(f"{len(classes)} class names for a model with {model.num_classes} classes")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model.warm_start = bool(warm_start)
        self.classes = classes
        self.top_k = min(int(top_k), len(classes))
        self.has_weights = bool(has_weights)
        self.layout = model.layout
        self.domain = LAYOUT_DOMAIN[self.layout.name]
        self.preprocess = preprocess or preprocess_mode(None, self.layout.name)
        self.modality = modality
        self.stages: list[Stage] = [Preprocess(self.preprocess, self.layout, modality),
                                    ModelStep(self.model, self.device), Probabilities()]
        self.description = description or self._describe(None)
        self.reset()

    # -- construction from files -------------------------------------------------------------------------------------
    @classmethod
    def from_weights(cls, weights: str | Path | None = None, *, model: str | None = None, layout: str | None = None,
                     top_k: int = 5, device: str | torch.device = "cpu",
                     warm_start: bool = True) -> "OnlineRecognizer":
        """A recognizer for a checkpoint (any family cognn reads) or, with ``weights=None``, for the default entry
        of ``weights/manifest.json`` (for ``model`` if given). A regular model is loaded into its continual twin.

        Without trained weights an untrained model is built (``model`` or costgcn_mod, NTU-60 classes) with
        ``has_weights=False`` and an :class:`UntrainedWeightsWarning`. Raises :class:`~cognn.errors.InputFileError`
        for an unreadable weights file and ValueError for unknown names.
        """
        from .models import spec, twin

        if model is not None and not spec(model).continual:
            model = twin(model)
        entry = None
        if weights is None:
            entry = _manifest_entry(model, layout)
            if entry is not None and entry.path.is_file():
                weights = entry.path
        if weights is not None:
            return cls._from_file(Path(weights), entry, model=model, layout=layout, top_k=top_k, device=device,
                                  warm_start=warm_start)
        return cls._untrained(model, layout, entry, top_k=top_k, device=device, warm_start=warm_start)

    @classmethod
    def _from_file(cls, path: Path, entry, *, model: str | None, layout: str | None, top_k: int, device,
                   warm_start: bool) -> "OnlineRecognizer":
        from .checkpoints import read_checkpoint
        from .checkpoints.format import model_from_checkpoint
        from .models import spec, twin

        ck = read_checkpoint(path)
        name = model or ck.meta["model"]
        try:
            if not spec(name).continual:
                name = twin(name)
        except ValueError:
            raise CognnError(f"{path}: holds a {name} model, which has no continual form for online use") from None
        net = model_from_checkpoint(ck, model=name, layout=layout, device=device, warm_start=warm_start)
        meta = dict(ck.meta)
        classes = list(meta.get("classes") or [])
        if not classes and entry is not None:
            classes = entry.class_names()
        if len(classes) != net.num_classes:
            classes = _default_classes(net.num_classes, net.layout.name)
        rec = cls(net, classes, top_k=top_k, warm_start=warm_start, device=device, has_weights=True,
                  preprocess=preprocess_mode(meta, net.layout.name), modality=str(meta.get("modality") or "joint"))
        rec.weights_path = path
        rec.description = rec._describe(path)
        return rec

    @classmethod
    def _untrained(cls, model: str | None, layout: str | None, entry, *, top_k: int, device,
                   warm_start: bool) -> "OnlineRecognizer":
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
                  has_weights=False)
        rec.description = rec._describe(None)
        return rec

    # -- facts -------------------------------------------------------------------------------------------------------
    weights_path: Path | None = None

    @property
    def model_name(self) -> str:
        return self.model.spec.name

    @property
    def receptive_field(self) -> int:
        """Frames that influence one prediction."""
        return int(self.model.receptive_field)

    @property
    def frames_to_ready(self) -> int:
        """Steps after :meth:`reset` until predictions are exact (the receptive field with warm start)."""
        return self.receptive_field if self.model.warm_start else int(self.model.delay) + 1

    def _describe(self, path: Path | None) -> str:
        from .models import display_name

        what = f"{display_name(self.model_name)} ({self.model_name}, {self.layout.name}, {len(self.classes)} classes)"
        if not self.has_weights:
            return f"{what} with UNTRAINED weights: predictions are meaningless"
        return f"{what}, weights {path.name if path is not None else 'given in memory'}"

    # -- running -----------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every frame (new source, seek): model state, normaliser reference, latest prediction."""
        for stage in self.stages:
            stage.reset()

    def check_frame(self, skeleton: np.ndarray) -> None:
        """Raise CognnError if a skeleton ``(C, V, M)`` does not fit the model."""
        want = (self.model.in_channels, self.layout.num_joints, self.model.num_persons)
        if np.shape(skeleton) != want:
            raise CognnError(f"{self.model_name} takes frames of shape {want} (layout {self.layout.name}), got "
                             f"{tuple(np.shape(skeleton))}")

    def step(self, frame: SkeletonFrame) -> Prediction:
        """Feed one frame; the prediction for it (the newest model output, its top-k and timing)."""
        self.check_frame(frame.skeleton)
        state = StepState(frame)
        for stage in self.stages:
            stage(state)
        probs = state.probs
        top: list[tuple[str, float]] = []
        if probs is not None:
            idx = np.argsort(-probs, kind="stable")[: self.top_k]
            top = [(self.classes[i], float(probs[i])) for i in idx]
        seen = int(self.model.steps_seen)
        return Prediction(frame=frame.index, timestamp=float(frame.timestamp), persons=int(frame.persons),
                          ready=bool(self.model.ready), warmup=(min(seen, self.frames_to_ready), self.frames_to_ready),
                          top=top, probs=None if probs is None else probs.copy(),
                          model_ms=state.timings.get(ModelStep.name, 0.0), pose_ms=frame.pose_ms,
                          has_weights=self.has_weights)
