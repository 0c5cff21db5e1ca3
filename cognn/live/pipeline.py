"""The live pipeline: smoothing -> mapping -> resampling -> per-person recognizer steps -> steady labels -> events.

One object for the app and ``cognn-infer`` alike::

    pipe = LivePipeline.from_weights()                  # default model of weights/manifest.json
    with pipe.open("clip.mp4") as source:               # pose landmarks smoothed before the mapping
        for frame in source:
            step = pipe.step(frame)                     # step.persons: label per person, step.events: ended events
    events = pipe.finish()                              # every event, the open ones closed

Landmark smoothing happens inside the pose source (:meth:`LivePipeline.estimator` wraps the pose model in a
:class:`~cognn.live.smoothing.SmoothedEstimator`); skeleton files are used as they are. Each input frame is resampled
to the model's training rate (the checkpoint's ``fps``), so one input frame gives 0..n model steps; the labels and
events follow the model frames, and :class:`LiveStep` reports the latest state for every input frame. ``persons``:
``"all"`` (everybody in the model's slots, one state — as the plain :class:`~cognn.online.OnlineRecognizer`),
``"single"`` (one state and label per person) or ``"pair"`` (two people packed into one state). The mirror option
flips only :attr:`LiveStep.image` and :attr:`LiveStep.draw_px`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from ..sources import SkeletonFrame
from .domain import check_domain, checkpoint_meta, model_domain, model_fps
from .events import DEFAULT_IGNORE, Event, EventSegmenter
from .labels import DEFAULT_LABELS, LabelConfig, SteadyLabel, SteadyLabeler
from .mirror import label_anchor, mirrored_view
from .persons import PersonRecognizers, present_slots
from .resample import ResampledFrame, Resampler
from .smoothing import DEFAULT_SMOOTHING, SmoothedEstimator, SmoothingConfig

__all__ = ["LiveConfig", "PersonView", "LiveStep", "LivePipeline", "PERSONS_MODES"]

PERSONS_MODES = ("all", "single", "pair")


@dataclass(frozen=True)
class LiveConfig:
    """Every live option (defaults measured on real videos, see docs/live.md)."""

    smoothing: SmoothingConfig = DEFAULT_SMOOTHING
    #: resample to the model's rate (off: every input frame is one model step, as without this pipeline)
    resample: bool = True
    resample_mode: str = "linear"
    #: the model's rate; None: the checkpoint's ``fps`` (30 when it declares none)
    fps: float | None = None
    persons: str = "all"
    #: model frames a missing person is held before their state is dropped
    max_missed: int = 15
    labels: LabelConfig = DEFAULT_LABELS
    #: feed the labeler only exact predictions (the receptive field full of real frames)
    wait_ready: bool = False
    min_event: float = 0.5
    merge_gap: float = 0.0
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    #: draw a mirror image (the model still sees the camera's own frame)
    mirror: bool = False

    def __post_init__(self) -> None:
        if self.persons not in PERSONS_MODES:
            raise ValueError(f"unknown persons mode {self.persons!r}; use one of {', '.join(PERSONS_MODES)}")


@dataclass
class PersonView:
    """What to show for one person (or pair, or everybody in ``"all"`` mode) at one input frame."""

    person: int
    #: source slots of the people concerned
    slots: tuple[int, ...]
    #: the latest prediction (top-k, ready, warm-up)
    prediction: object
    #: the steady label (a class, or "uncertain")
    label: SteadyLabel
    present: bool
    #: where to draw the label in :attr:`LiveStep.draw_px` coordinates (above the head), or None
    anchor: tuple[float, float] | None = None

    @property
    def ready(self) -> bool:
        return bool(self.prediction.ready)

    def text(self) -> str:
        """A short caption: ``label 0.87`` or ``warming up 40/90``."""
        p = self.prediction
        if not p.ready:
            return f"{self.label.label} (warming up {p.warmup[0]}/{p.warmup[1]})"
        return f"{self.label.label} {self.label.score:.2f}"


@dataclass
class LiveStep:
    """The pipeline's answer for one input frame."""

    frame: SkeletonFrame
    persons: list[PersonView]
    #: events that ended at this frame
    events: list[Event]
    #: model frames this input frame released (0 when the input is faster than the model's rate)
    model_frames: int
    #: what to draw: the image and skeleton coordinates, mirrored if the option is on
    image: np.ndarray | None = None
    draw_px: np.ndarray | None = None
    open_events: dict[int, Event] = field(default_factory=dict)
    #: the views produced at each model frame of this step, in order (``prediction.timestamp`` = model-frame time)
    model_views: list[PersonView] = field(default_factory=list)

    @property
    def prediction(self):
        """The first person's prediction (None before any)."""
        return self.persons[0].prediction if self.persons else None


class LivePipeline:
    """Frames in, per-person steady labels and action events out (see the module docstring).

    ``recognizer``: a :class:`cognn.online.OnlineRecognizer`; ``domain``/``fps``: the model's input domain and
    training rate (default: the checkpoint's metadata, else the layout's domain and 30 fps).
    """

    def __init__(self, recognizer, config: LiveConfig = LiveConfig(), *, domain: str | None = None,
                 fps: float | None = None, meta: dict | None = None) -> None:
        self.recognizer = recognizer
        self.config = config
        if meta is None:
            meta = checkpoint_meta(getattr(recognizer, "weights_path", None))
        self.meta = dict(meta)
        self.domain = domain or model_domain(self.meta, recognizer.layout)
        self.fps = float(config.fps or fps or model_fps(self.meta))
        self.resampler = Resampler(self.fps, mode=config.resample_mode) if config.resample else None
        self.persons = (PersonRecognizers(recognizer, mode=config.persons, max_missed=config.max_missed,
                                          domain=self.domain) if config.persons != "all" else None)
        self.segmenter = EventSegmenter(min_duration=config.min_event, ignore=config.ignore,
                                        merge_gap=config.merge_gap)
        self._labelers: dict[int, SteadyLabeler] = {}
        self._views: dict[int, PersonView] = {}
        self._estimator = None
        #: the events of the current stream closed so far (cleared by :meth:`reset`)
        self.events: list[Event] = []
        self.reset()

    @classmethod
    def from_weights(cls, weights: str | os.PathLike | None = None, *, model: str | None = None,
                     layout: str | None = None, config: LiveConfig = LiveConfig(), top_k: int = 5,
                     device: str = "cpu") -> "LivePipeline":
        """A pipeline for a checkpoint, or the default model of ``weights/manifest.json`` (see
        :meth:`cognn.online.OnlineRecognizer.from_weights`; untrained weights are flagged there)."""
        from ..online import OnlineRecognizer

        rec = OnlineRecognizer.from_weights(weights, model=model, layout=layout, top_k=top_k, device=device)
        return cls(rec, config)

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return self.recognizer.classes

    @property
    def description(self) -> str:
        """One line: the model and the live options in use."""
        c = self.config
        sm = (f"landmark smoothing on (One-Euro min_cutoff {c.smoothing.min_cutoff:g} Hz, beta {c.smoothing.beta:g})"
              if c.smoothing.enabled else "landmark smoothing off")
        rs = f"resampled to {self.fps:g} fps" if c.resample else "not resampled"
        lb = c.labels
        labels = (f"labels: EMA {lb.alpha:g}, margin {lb.margin:g} x {lb.hold} frames, uncertain below "
                  f"{lb.threshold:g}")
        return (f"{self.recognizer.description}; {sm}; {rs}; persons {c.persons}; {labels}"
                f"{'; mirrored view' if c.mirror else ''}")

    # -- sources -----------------------------------------------------------------------------------------------------
    def estimator(self, pose_model=None):
        """The pose estimator for pixel sources (kept and reused): smoothed unless smoothing is off."""
        if self._estimator is None:
            from ..pose import PoseEstimator

            est = PoseEstimator(pose_model, mode="video", num_poses=self.recognizer.model.num_persons)
            self._estimator = (SmoothedEstimator(est, self.config.smoothing, own=True)
                               if self.config.smoothing.enabled else est)
        return self._estimator

    def open(self, spec: str | os.PathLike | int, **kwargs):
        """Open a source for this model (:func:`cognn.sources.open_source`), refusing a mismatched domain; the
        pipeline is reset."""
        from ..sources import open_source, source_kind

        pixel = isinstance(spec, int) or source_kind(spec) == "video"
        if pixel and "estimator" not in kwargs:
            kwargs["estimator"] = self.estimator(kwargs.pop("pose_model", None))
        src = open_source(spec, layout=self.recognizer.layout, num_persons=self.recognizer.model.num_persons,
                          **kwargs)
        try:
            self.check_source(src)
        except BaseException:
            src.close()
            raise
        self.reset(str(getattr(src, "name", "")))
        return src

    def check_source(self, source) -> None:
        """Raise :class:`~cognn.live.domain.DomainMismatchError` when the source's domain is not the model's."""
        check_domain(self.domain, source.domain, model=self.recognizer.model_name,
                     data=getattr(source, "name", "the input"))

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    def __enter__(self) -> "LivePipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- running -----------------------------------------------------------------------------------------------------
    def reset(self, source: str | None = None) -> None:
        """Forget the stream (new source, seek): resampler, model states, labels, open events. ``source`` names the
        new input in its events."""
        if source is not None:
            self.segmenter.source = str(source)
        if self.resampler is not None:
            self.resampler.reset()
        self.recognizer.reset()
        if self.persons is not None:
            self.persons.reset()
        self.segmenter.reset()
        self._labelers.clear()
        self._views.clear()
        self.events = []

    def _labeler(self, person: int) -> SteadyLabeler:
        lab = self._labelers.get(person)
        if lab is None:
            lab = self._labelers[person] = SteadyLabeler(self.recognizer.classes, self.config.labels)
        return lab

    def _predict(self, frame: SkeletonFrame) -> tuple[list, list[int]]:
        """``[(person, slots, prediction, present)]`` and the persons who left, for one model frame."""
        if self.persons is None:
            pred = self.recognizer.step(frame)
            slots = tuple(present_slots(frame.skeleton))
            return [(0, slots, pred, bool(slots))], []
        preds = self.persons.step(frame)
        return [(p.person, p.slots, p.prediction, p.present) for p in preds], list(self.persons.left)

    def _model_step(self, mf: ResampledFrame, frame: SkeletonFrame, views: list[PersonView]) -> list[Event]:
        sf = SkeletonFrame(index=frame.index, timestamp=mf.timestamp, skeleton=mf.skeleton, persons=frame.persons,
                           image=None, draw_px=None, pose_ms=frame.pose_ms)
        closed: list[Event] = []
        results, left = self._predict(sf)
        for person in left:
            closed += self.segmenter.end_person(person)
            self._labelers.pop(person, None)
            self._views.pop(person, None)
        for person, slots, pred, present in results:
            use = pred.probs if (pred.ready or not self.config.wait_ready) else None
            label = self._labeler(person).update(use)
            closed += self.segmenter.update(label.label, label.score, mf.timestamp, frame.index, person)
            self._views[person] = view = PersonView(person, tuple(slots), pred, label, present)
            views.append(view)
        return closed

    def step(self, frame: SkeletonFrame) -> LiveStep:
        """Feed one input frame; the labels of every person now and the events that ended."""
        self.recognizer.check_frame(frame.skeleton)
        if self.resampler is not None:
            model_frames = self.resampler.push(frame.timestamp, frame.skeleton, frame.index)
        else:
            model_frames = [ResampledFrame(frame.index, float(frame.timestamp), np.asarray(frame.skeleton,
                                                                                          np.float32), frame.index)]
        closed: list[Event] = []
        history: list[PersonView] = []
        for mf in model_frames:
            closed += self._model_step(mf, frame, history)
        self.events += closed
        image, px = self._drawing(frame)
        views = [replace(v, anchor=self._anchor(px, v.slots)) for _, v in sorted(self._views.items())]
        return LiveStep(frame, views, closed, len(model_frames), image, px, self.segmenter.open_events, history)

    def _drawing(self, frame: SkeletonFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self.config.mirror:
            return frame.image, frame.draw_px
        width = frame.image.shape[1] if frame.image is not None else self._canvas_width
        return mirrored_view(frame, width)

    #: canvas width for mirroring skeleton-only sources (set from the source's ``canvas_size`` by :meth:`run`)
    _canvas_width: int = 640

    @staticmethod
    def _anchor(px: np.ndarray | None, slots: tuple[int, ...]) -> tuple[float, float] | None:
        pts = [a for a in (label_anchor(px, s) for s in slots) if a is not None]
        if not pts:
            return None
        return float(np.mean([p[0] for p in pts])), float(min(p[1] for p in pts))

    def finish(self) -> list[Event]:
        """End of the stream: close the open events; returns every event of the stream, in order of start."""
        self.events += self.segmenter.flush()
        self.events.sort(key=lambda e: (e.start, e.person))
        return list(self.events)

    def run(self, source, *, max_frames: int | None = None) -> Iterator[LiveStep]:
        """Step through a source (resetting first); :meth:`finish` closes the events when it is exhausted."""
        self._canvas_width = int(getattr(source, "canvas_size", (640, 480))[0])
        self.reset(str(getattr(source, "name", "")))
        for n, frame in enumerate(source):
            if max_frames is not None and n >= max_frames:
                break
            yield self.step(frame)
        self.finish()

    def write_events(self, path: str | os.PathLike) -> Path:
        """Write :attr:`events` as ``.jsonl`` or ``.csv``."""
        from .events import write_events

        return write_events(path, self.events)
