"""The live session: the one object that the app, ``cognn-infer``, training on clips and the tools loop around.

A frame's whole way, in order::

    session.open(spec)        any source the same way (file, folder item, camera, recording); pixel sources share
                              one pose tracker (cognn.pose.PoseTracker) with the session's pose options; a video
                              runs pose only on the pictures the model's rate needs (60 fps: every other one)
    session.start(source)     a new stream: resampler, model state, labels, open events forgotten
    session.step(frame)       SkeletonFrame -> resampled to the model's rate (0..n model frames) -> the model step
                              per person (OnlineRecognizer streams) -> steady labels -> the alarm policy and the
                              body in view (the label shown, or "uncertain") -> action events and repetitions
                              -> LiveStep; a stream gap of at least ``gap_reset`` closes the events going on and
                              starts the continual state over
    session.annotate(step)    the annotated picture (cognn.render), the same in the app's recordings and --render
    session.start_recording   skeletons (HDF5 recording with the events) and/or the annotated video
    session.finish()          the open events closed; every event of the stream

or ``for step in session.run(source): ...`` (start, then every frame), then ``finish()``. :class:`LiveStep`
reports, for every input frame, the latest prediction of each person (held between model frames), their steady
label, the label shown (:mod:`~cognn.live.alarms`: per-class thresholds, an allow-list; :mod:`~cognn.live.visibility`:
classes that need a part of the body out of view are withheld, with a message for the user), their repetitions
(:mod:`~cognn.live.reps`) and where to draw it, the events that ended, a stream gap and whether the state was reset
there, the picture to draw (mirrored when the option is on) and the time from capture to result.

The checkpoint's metadata ``live`` holds its defaults: ``labels`` (steady labels), ``alarms`` (thresholds, minimum
durations, allow-list, repetitive classes) and ``body`` (the parts it needs in view); :class:`LiveConfig` overrides
each.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from queue import Queue
from typing import Any

import numpy as np

from ..errors import CognnError
from ..handoff import put_unless_stopped
from ..online import OnlineRecognizer, Prediction
from ..pose.smoothing import SmoothingConfig
from ..pose.tracker import PoseOptions, PoseTracker
from ..render import Framer
from ..sources import FrameSource, SkeletonFrame
from ..sources.open import SourceSpec
from ..sources.stream import gap_of
from .alarms import NO_ALARMS, PASS_LABELS, AlarmConfig, AlarmFilter, ShownLabel, alarm_config_from_meta
from .domain import check_domain, model_domain, model_fps
from .events import DEFAULT_IGNORE, Event, EventSegmenter
from .falls import FallCheck
from .labels import DEFAULT_LABELS, UNCERTAIN, LabelConfig, SteadyLabel, SteadyLabeler
from .mirror import label_anchor, mirrored_view
from .persons import PersonRecognizers, present_slots
from .reps import RepConfig, RepCounter, RepState, repetitive_classes
from .resample import ResampledFrame, Resampler
from .step import LiveStep, PersonView, warmup_text
from .visibility import BodyRequirement, BodyView, VisibilityMonitor, requirement_from_meta

__all__ = ["LiveConfig", "PersonView", "LiveStep", "Session", "PERSONS_MODES", "warmup_text"]

PERSONS_MODES = ("all", "single", "pair")
#: seconds after an alarm (a fall) during which the same person's same alarm is not reported again
ALARM_REFRACTORY = 10.0


@dataclass(frozen=True)
class LiveConfig:
    """Every live option (defaults measured on real videos, see docs/live.md)."""

    #: the way from pixels to skeletons: pose model, processing size, landmark smoothing, un-mirroring
    pose: PoseOptions = PoseOptions()
    #: resample to the model's rate (off: every input frame is one model step)
    resample: bool = True
    resample_mode: str = "linear"
    #: the model's rate; None: the checkpoint's ``fps`` (30 when it declares none)
    fps: float | None = None
    #: run pose on every picture of a video; off (default): only on those the model's rate needs (a 60 fps video
    #: for a 30 fps model: every other one, see :meth:`cognn.sources.VideoSource.pose_at_most`)
    pose_every_frame: bool = False
    #: "all" (everybody in the model's slots, one state), "single" (a state and label per person), "pair"
    persons: str = "all"
    #: model frames a missing person is held before their state is dropped
    max_missed: int = 15
    #: steady labels (None: the checkpoint's own defaults, metadata ``live.labels``, else DEFAULT_LABELS)
    labels: LabelConfig | None = None
    #: feed the labeler only exact predictions (the receptive field full of real frames)
    wait_ready: bool = False
    min_event: float = 0.5
    merge_gap: float = 0.0
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    #: draw a mirror image (the model still sees the camera's own frame)
    mirror: bool = False
    #: false alarms (cognn.live.alarms): per-class thresholds, confirmation and minimum event durations (None: the
    #: checkpoint's ``live.alarms``, else none)
    alarms: AlarmConfig | None = None
    #: the only classes shown (None: the policy's own allow-list, else every class)
    allow: tuple[str, ...] | None = None
    #: count the repetitions of repetitive classes (cognn.live.reps: the checkpoint's ``live.alarms.repetitive``,
    #: else the classes the counter knows by name, plus :attr:`rep_classes`)
    reps: bool = True
    #: more repetitive classes, ``{class: signal}`` (``--reps``)
    rep_classes: Mapping[str, str] = field(default_factory=dict)
    #: the counter's parameters (None: RepConfig's measured defaults; its ``repetitive`` is replaced by the above)
    rep_config: RepConfig | None = None
    #: partial bodies (cognn.live.visibility): withhold the classes that need a part of the body out of view, and
    #: say what to do ("step back: legs not visible")
    visibility: bool = True
    #: what the model needs in view (None: the checkpoint's ``live.body``, else every part of its layout)
    body: BodyRequirement | None = None
    #: a stream gap (a lost network camera) of at least this many seconds closes the events going on and resets the
    #: continual state; shorter gaps are bridged (None: never reset)
    gap_reset: float | None = 1.0

    def __post_init__(self) -> None:
        if self.persons not in PERSONS_MODES:
            raise ValueError(f"unknown persons mode {self.persons!r}; use one of {', '.join(PERSONS_MODES)}")
        if self.gap_reset is not None and not self.gap_reset >= 0:
            raise ValueError(f"gap_reset must be >= 0 seconds (or None), got {self.gap_reset}")

    @property
    def smoothing(self) -> SmoothingConfig:
        """The landmark smoothing of :attr:`pose`."""
        return self.pose.smoothing


class Session:
    """Frames in, per-person predictions, steady labels, events, recordings and annotated pictures out (see the
    module docstring).

    ``recognizer``: the model step (:class:`cognn.online.OnlineRecognizer`); ``domain``/``fps``: the model's input
    domain and training rate (default: the checkpoint's metadata, else the layout's domain and 30 fps).
    """

    def __init__(self, recognizer: OnlineRecognizer, config: LiveConfig = LiveConfig(), *,
                 domain: str | None = None, fps: float | None = None, meta: dict[str, Any] | None = None) -> None:
        self.recognizer = recognizer
        self.config = config
        self.meta: dict[str, Any] = dict(meta if meta is not None else recognizer.meta)
        self.domain = domain or model_domain(self.meta, recognizer.layout)
        self.fps = float(config.fps or fps or model_fps(self.meta))
        #: the steady-label settings in use (the config's, else the checkpoint's defaults)
        self.labels = config.labels or label_defaults(self.meta)
        self.resampler = Resampler(self.fps, mode=config.resample_mode) if config.resample else None
        self.people = (PersonRecognizers(recognizer, mode=config.persons, max_missed=config.max_missed,
                                         domain=self.domain) if config.persons != "all" else None)
        self.segmenter = EventSegmenter(min_duration=config.min_event, ignore=config.ignore,
                                        merge_gap=config.merge_gap)
        #: the alarm policy in use (the config's, else the checkpoint's ``live.alarms``, else none)
        self.alarm_policy = self._alarm_policy()
        self.alarm_filter = AlarmFilter(self.alarm_policy)
        #: ``{class: signal}`` of the classes whose repetitions are counted
        self.repetitive = self._repetitive()
        self.rep_config = replace(config.rep_config or RepConfig(), repetitive=self.repetitive)
        #: the parts of the body the model needs in view
        self.body_requirement = config.body or _checked(lambda: requirement_from_meta(self.meta, recognizer.layout),
                                                        "body")
        self._labelers: dict[int, SteadyLabeler] = {}
        self._views: dict[int, PersonView] = {}
        self._counters: dict[int, RepCounter] = {}
        #: per person: (completion time, label) of the repetitions not yet in a kept event; the end of the last kept
        #: event per (person, label)
        self._rep_log: dict[int, list[tuple[float, str]]] = {}
        self._kept_end: dict[tuple[int, str], float] = {}
        #: (person, label, start) of the alarm events already reported
        self._announced: set[tuple[int, str, float]] = set()
        #: per person: the trunk's history, confirming alarm classes (cognn.live.falls)
        self._falls: dict[int, FallCheck] = {}
        #: (person, alarm class) -> start of the latest alarm reported
        self._last_alarm: dict[tuple[int, str], float] = {}
        #: per person: the held class shown and since when
        self._hold_since: dict[int, tuple[str, float]] = {}
        self._bodies: dict[int, VisibilityMonitor] = {}
        self._body_views: dict[int, BodyView] = {}
        self._tracker: PoseTracker | None = None
        self._tracker_lock = threading.Lock()
        self._recorder: Any = None
        self._framer = Framer()
        #: canvas of the current source (drawing skeleton-only sources, mirroring them)
        self.canvas_size: tuple[int, int] = (640, 480)
        #: the current input's name (copied into its events)
        self.source_name = ""
        #: the events of the current stream closed so far (cleared by :meth:`start`)
        self.events: list[Event] = []
        self.reset()

    @classmethod
    def from_weights(cls, weights: str | os.PathLike | None = None, *, model: str | None = None,
                     layout: str | None = None, config: LiveConfig = LiveConfig(), top_k: int = 5,
                     device: str = "cpu", classes: str | list[str] | None = None, backend: str = "torch",
                     precision: str | None = None) -> Session:
        """A session for a checkpoint or a bundled model's short name (see
        :meth:`cognn.online.OnlineRecognizer.from_weights`; untrained weights are flagged there); ``classes``
        restricts the classes shown (scores renormalised among them): names, a class-list file or a named subset
        such as ``kinetics-motion``. ``backend="onnx"``: ``weights`` is a step graph made by ``cognn-export``, run
        in ONNX Runtime without torch; ``precision``: the torch step's products (fp32, bf16, int8)."""
        if isinstance(classes, str):
            from ..data.classes import class_subset

            classes = class_subset(classes)
        rec = OnlineRecognizer.from_weights(weights, model=model, layout=layout, top_k=top_k, device=device,
                                            subset=classes, backend=backend, precision=precision)
        return cls(rec, config)

    def _alarm_policy(self) -> AlarmConfig:
        cfg = self.config
        classes = self.recognizer.classes
        if cfg.alarms is not None:
            policy = cfg.alarms
            policy.check_classes(classes, f"the alarm policy {policy.source}" if policy.source else "the alarm policy")
        else:
            policy = _checked(lambda: alarm_config_from_meta(self.meta), "alarms") or NO_ALARMS
        if cfg.allow is not None:
            policy = policy.with_allow(cfg.allow)
            unknown = [c for c in cfg.allow if c not in classes and c not in PASS_LABELS]
            if unknown:
                what = "classes" if len(unknown) > 1 else "a class"
                raise ValueError(f"the allow-list names {what} the model does not have: {', '.join(unknown)} "
                                 f"(classes: {', '.join(classes)})")
        return policy

    def _repetitive(self) -> dict[str, str]:
        cfg = self.config
        if not cfg.reps:
            return {}
        classes = self.recognizer.classes
        declared = cfg.alarms.repetitive if cfg.alarms is not None else None
        src: Mapping[str, Any] = {"repetitive": declared} if declared is not None else self.meta
        out = {c: s for c, s in _checked(lambda: repetitive_classes(src, classes), "alarms").items() if c in classes}
        unknown = [c for c in cfg.rep_classes if c not in classes]
        if unknown:
            raise ValueError(f"repetitive class{'es' if len(unknown) > 1 else ''} {', '.join(unknown)}: not a class "
                             f"of the model (classes: {', '.join(classes)})")
        out.update(cfg.rep_classes)
        return out

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return self.recognizer.classes

    @property
    def layout(self) -> str:
        return str(self.recognizer.layout.name)

    @property
    def model_name(self) -> str:
        return self.recognizer.model_name

    @property
    def description(self) -> str:
        """One line: the model and the live options in use."""
        c = self.config
        sm = c.pose.smoothing
        sm_text = (f"landmark smoothing on (One-Euro min_cutoff {sm.min_cutoff:g} Hz, beta {sm.beta:g})"
                   if sm.enabled else "landmark smoothing off")
        rs = f"resampled to {self.fps:g} fps" if c.resample else "not resampled"
        lb = self.labels
        labels = (f"labels: EMA {lb.alpha:g}, margin {lb.margin:g} x {lb.hold} frames, uncertain below "
                  f"{lb.threshold:g}")
        return (f"{self.recognizer.description}; {sm_text}; {rs}; persons {c.persons}; {labels}"
                f"{self._policy_text()}{'; mirrored view' if c.mirror else ''}")

    def _policy_text(self) -> str:
        """``; classes shown at >= 0.9; repetitions of jumping_jacks, squat; needs head, shoulders, arms in view``."""
        pol = self.alarm_policy
        parts = []
        if pol != NO_ALARMS and pol.with_allow(None) != NO_ALARMS:
            least = sorted({pol.default_threshold, *pol.thresholds.values()})
            parts.append(f"classes shown at >= {least[0]:g}" + (f"-{least[-1]:g}" if len(least) > 1 else ""))
        if pol.allow is not None:
            parts.append(f"only {', '.join(pol.allow) or 'no class'} shown")
        if self.repetitive:
            parts.append(f"repetitions of {', '.join(self.repetitive)}")
        if self.config.visibility:
            parts.append(f"needs {', '.join(self.body_requirement.needs) or 'nothing'} in view")
        if self.config.gap_reset is not None:
            parts.append(f"state reset after a {self.config.gap_reset:g} s gap")
        return "".join(f"; {p}" for p in parts)

    # -- sources -----------------------------------------------------------------------------------------------------
    def tracker(self) -> PoseTracker:
        """The pose tracker shared by this session's pixel sources (made on first use, kept until :meth:`close`)."""
        with self._tracker_lock:
            if self._tracker is None:
                self._tracker = PoseTracker(self.recognizer.layout, self.recognizer.model.num_persons,
                                            self.config.pose, domain=self.domain)
            return self._tracker

    def open(self, spec: SourceSpec, *, skeleton_video: str | os.PathLike | None = None,
             tracker: PoseTracker | None = None) -> FrameSource:
        """Open any source for this model (:func:`cognn.sources.open_source`), refusing a mismatched domain. Pixel
        sources use ``tracker`` (the app's capture thread owns one) or the session's own :meth:`tracker`. The
        stream is not restarted here: :meth:`start` (or :meth:`run`) does it when the frames begin."""
        from ..sources import is_pixel, open_source

        if tracker is None and is_pixel(spec):
            tracker = self.tracker()
        src = open_source(spec, layout=self.recognizer.layout, num_persons=self.recognizer.model.num_persons,
                          skeleton_video=skeleton_video, pose=self.config.pose, tracker=tracker)
        try:
            self.check_source(src)
        except BaseException:
            src.close()
            raise
        at_most = getattr(src, "pose_at_most", None)
        if at_most is not None and self.config.resample and not self.config.pose_every_frame:
            at_most(self.fps)
        return src

    def check_source(self, source: FrameSource) -> None:
        """Raise :class:`~cognn.live.domain.DomainMismatchError` when the source's domain is not the model's."""
        check_domain(self.domain, source.domain, model=self.recognizer.model_name,
                     data=getattr(source, "name", "the input"))

    def close(self) -> None:
        """Stop a recording that is going on and release the pose model."""
        self.stop_recording()
        with self._tracker_lock:
            if self._tracker is not None:
                self._tracker.close()
                self._tracker = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the stream --------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream (seek): resampler, model states, labels, open events; the events so far are dropped."""
        self._restart_state()
        self.events = []

    def _restart_state(self) -> None:
        """Everything of the stream but the events closed so far: resampler, model states, labels, the alarm filter,
        the counters and visibility monitors, open events (dropped: flush them first to keep them)."""
        if self.resampler is not None:
            self.resampler.reset()
        self.recognizer.reset()
        if self.people is not None:
            self.people.reset()
        self.segmenter.reset()
        self.alarm_filter.reset()
        self._labelers.clear()
        self._views.clear()
        self._counters.clear()
        self._rep_log.clear()
        self._kept_end.clear()
        self._announced.clear()
        self._last_alarm.clear()
        self._falls.clear()
        self._hold_since.clear()
        self._bodies.clear()
        self._body_views.clear()

    def start(self, source: FrameSource | str | None = None, *, canvas_size: tuple[int, int] | None = None) -> None:
        """A new stream from ``source`` (or an input named so): everything of the previous one forgotten."""
        if source is not None and not isinstance(source, str):
            canvas_size = canvas_size or getattr(source, "canvas_size", self.canvas_size)
            source = str(getattr(source, "name", ""))
        if source is not None:
            self.source_name = source
            self.segmenter.source = source
        if canvas_size is not None:
            self.canvas_size = (int(canvas_size[0]), int(canvas_size[1]))
        self._framer.reset()
        self.reset()

    def _labeler(self, person: int) -> SteadyLabeler:
        lab = self._labelers.get(person)
        if lab is None:
            lab = self._labelers[person] = SteadyLabeler(self.recognizer.classes, self.labels)
        return lab

    def _predict(self, mf: ResampledFrame, frame: SkeletonFrame
                 ) -> tuple[list[tuple[int, tuple[int, ...], Prediction, bool]], list[int]]:
        """``[(person, slots, prediction, present)]`` and the persons who left, for one model frame."""
        if self.people is None:
            pred = self.recognizer.step(mf.skeleton, mf.timestamp, index=frame.index)
            pred.persons = int(frame.persons)
            slots = tuple(present_slots(mf.skeleton))
            return [(0, slots, pred, bool(slots))], []
        preds = self.people.step(mf.skeleton, mf.timestamp, index=frame.index)
        return [(p.person, p.slots, p.prediction, p.present) for p in preds], list(self.people.left)

    def _shown(self, person: int, label: SteadyLabel, t: float) -> ShownLabel:
        """The label shown for a steady label: the alarm policy's answer, then "uncertain" for a class that needs a
        part of the body out of view (or any class, when the model cannot run on what is in view), and for an alarm
        class (a fall) the body's movement does not confirm (:mod:`cognn.live.falls`); and an alarm class the policy
        lets the body raise alone (``by_body``) while the body has collapsed, unless the steady label is one it names
        (a floor exercise)."""
        shown = self.alarm_filter.update(label.label, t, person, score=label.score)
        why = self._out_of_view(person, shown.label)
        check = self._falls.get(person)
        if not why and shown.label in self.alarm_policy.alarm:
            if check is None or not check.fell():
                why = "the body did not go down"
        if why:
            shown = ShownLabel(UNCERTAIN, shown.score, shown.steady, why, shown.changed)
        if shown.label not in self.alarm_policy.alarm and check is not None:
            for alarm, unless in self.alarm_policy.by_body.items():
                if label.label not in unless and shown.label not in unless and check.collapsed():
                    score = self._class_score(label, alarm)
                    return ShownLabel(alarm, score, label.label, "", shown.label != alarm)
        return shown

    def _class_score(self, label: SteadyLabel, cls: str) -> float:
        """The smoothed probability of ``cls`` in ``label`` (0 when unknown)."""
        classes = self.recognizer.classes
        if label.probs is None or cls not in classes:
            return 0.0
        return float(label.probs[classes.index(cls)])

    def _out_of_view(self, person: int, label: str) -> str:
        """Why ``label`` cannot be told from what is in view of ``person`` ("legs not visible"), "" when it can."""
        body = self._body_views.get(person)
        if body is None or label in PASS_LABELS or (body.can_run and body.allows(label)):
            return ""
        missing = [p for p in body.requirement.for_label(label) if not body.parts.get(p, True)]
        return f"{', '.join(missing)} not visible" if missing else "not in view"

    def _count(self, person: int, mf: ResampledFrame, slots: tuple[int, ...], label: str) -> RepState | None:
        """Feed the person's repetition counter the steady label (the counter follows what the model says, whatever
        is shown); its state (None when no class is repetitive). Repetitions given to a run are logged with their
        completion time and label, for the events (:meth:`_settle`)."""
        if not self.repetitive:
            return None
        counter = self._counters.get(person)
        if counter is None:
            counter = self._counters[person] = RepCounter(self.rep_config, layout=self.recognizer.layout,
                                                          domain=self.domain, person=person)
        state: RepState = counter.update(_person_skeleton(mf.skeleton, slots), mf.timestamp, label)
        run = counter.current
        if state.new and run is not None and state.label is not None:
            self._rep_log.setdefault(person, []).extend((t, state.label) for t in run.times[-state.new:])
        return state

    def _reps_of(self, event: Event, until: float = float("inf")) -> int:
        """Repetitions of the event's class logged for its person (while the model's steady label was that class,
        whether it was shown or withheld as uncertain) after the previous kept event of that class and after the last
        kept event of another class that ended before this one began, up to ``until``."""
        ends = [end for (person, label), end in self._kept_end.items()
                if person == event.person and (label == event.label or end <= event.start)]
        since = max(ends, default=-np.inf)
        return sum(1 for t, lab in self._rep_log.get(event.person, ()) if lab == event.label and since < t <= until)

    def _settle(self, closed: list[Event]) -> list[Event]:
        """Events that ended: those the alarm policy keeps, each of a repetitive class with the repetitions completed
        since the previous kept event of its class and person and since the last kept event of another class (those
        done before the label was named, within the counter's look-back, those done while the model named the class
        but not surely enough to show it, and those of events too short to keep, included); the events going on get
        theirs so far."""
        kept = self.alarm_filter.filter_events(closed)
        for e in sorted(kept, key=lambda e: e.end):
            if e.label in self.repetitive:
                e.reps = self._reps_of(e, e.end)
                log = self._rep_log.get(e.person)
                if log:
                    self._rep_log[e.person] = [(t, lab) for t, lab in log if lab != e.label or t > e.end]
            key = (e.person, e.label)
            self._kept_end[key] = max(self._kept_end.get(key, -np.inf), e.end)
        going = self.segmenter.open_events
        for e in going.values():
            if e.label in self.repetitive:
                e.reps = self._reps_of(e)
        for person in [p for p in self._rep_log if p not in self._views and p not in going]:
            del self._rep_log[person]  # the person left and their events are settled
        for key in [k for k in self._kept_end if k[0] not in self._views and k[0] not in going]:
            del self._kept_end[key]
        return kept

    def _held(self, person: int, label: str, t: float) -> float | None:
        """Seconds the held class ``label`` (``live.alarms.hold``, a plank) has been shown to ``person``, or None."""
        if label not in self.alarm_policy.hold:
            self._hold_since.pop(person, None)
            return None
        since = self._hold_since.get(person)
        if since is None or since[0] != label:
            since = self._hold_since[person] = (label, t)
        return max(0.0, t - since[1])

    def _alarms(self, closed: list[Event]) -> list[Event]:
        """Alarm classes (``live.alarms.alarm``, a fall): an event the moment the class is shown, marked ``alarm``;
        not again when it ends, nor for the same person within :data:`ALARM_REFRACTORY` seconds (a fall shown,
        withheld a moment and shown again is one fall)."""
        alarm = self.alarm_policy.alarm
        if not alarm:
            return closed
        out = [e for e in closed if e.label not in alarm]
        for e in self.segmenter.open_events.values():
            key = (e.person, e.label, e.start)
            if e.label not in alarm or key in self._announced:
                continue
            self._announced.add(key)
            last = self._last_alarm.get((e.person, e.label))
            if last is not None and e.start - last < ALARM_REFRACTORY:
                continue
            self._last_alarm[(e.person, e.label)] = e.start
            out.append(replace(e, alarm=True))
        return out

    def _end_person(self, person: int) -> list[Event]:
        self._labelers.pop(person, None)
        self._views.pop(person, None)
        self._counters.pop(person, None)
        self._falls.pop(person, None)
        self._bodies.pop(person, None)
        self._body_views.pop(person, None)
        self.alarm_filter.end_person(person)
        return self.segmenter.end_person(person)

    def _model_step(self, mf: ResampledFrame, frame: SkeletonFrame, views: list[PersonView]) -> list[Event]:
        closed: list[Event] = []
        results, left = self._predict(mf, frame)
        for person in left:
            closed += self._end_person(person)
        for person, slots, pred, present in results:
            pred.pose_ms = frame.pose_ms
            if self.alarm_policy.alarm:
                check = self._falls.get(person)
                if check is None:
                    check = self._falls[person] = FallCheck(self.recognizer.layout, self.domain)
                check.update(_person_skeleton(mf.skeleton, tuple(slots)), mf.timestamp)
            use = pred.probs if (pred.ready or not self.config.wait_ready) else None
            label = self._labeler(person).update(use)
            shown = self._shown(person, label, mf.timestamp)
            # events and repetitions only from exact predictions (ready, or early answers of an ``exact`` model):
            # nothing is known while a model warms up on replicated or missing frames
            event_label = shown.label if pred.exact else UNCERTAIN
            closed += self.segmenter.update(event_label, label.score, mf.timestamp, frame.index, person)
            counted = label.label if pred.exact and not self._out_of_view(person, label.label) else UNCERTAIN
            state = self._count(person, mf, tuple(slots), counted)
            reps = state.count if state is not None and state.label is not None and state.label == shown.label \
                else None
            hold_s = self._held(person, shown.label if pred.exact else UNCERTAIN, mf.timestamp)
            self._views[person] = view = PersonView(person, tuple(slots), pred, label, present, fps=self.fps,
                                                    shown=shown, reps=reps, body=self._body_views.get(person),
                                                    hold_s=hold_s)
            views.append(view)
        return closed

    def _break(self) -> list[Event]:
        """A stream gap of at least ``gap_reset``: the events going on end at the last frame before it (kept, with
        their repetitions), and the continual state starts over."""
        closed = self._settle(self.segmenter.flush())
        self._restart_state()
        return closed

    def _watch_bodies(self, frame: SkeletonFrame) -> None:
        """Each person's body in view at this input frame (pictures and drawn skeletons only)."""
        if not self.config.visibility or (frame.image is None and frame.draw_px is None):
            return
        size = ((int(frame.image.shape[1]), int(frame.image.shape[0])) if frame.image is not None
                else self.canvas_size)
        persons = np.asarray(frame.skeleton).shape[-1]
        for person, view in self._views.items():
            slot = next((s for s in view.slots if 0 <= s < persons), None)
            if slot is None:
                continue
            mon = self._bodies.get(person)
            if mon is None:
                mon = self._bodies[person] = VisibilityMonitor(self.body_requirement, self.recognizer.layout,
                                                               domain=self.domain)
            self._body_views[person] = mon.update_frame(frame, slot, size=size, label=view.label.label)

    def step(self, frame: SkeletonFrame) -> LiveStep:
        """Feed one input frame; the labels of every person now and the events that ended. After a stream gap of at
        least ``gap_reset`` the events going on end first (they are in this step's events) and the model starts
        over."""
        self.recognizer.check_frame(frame.skeleton)
        gap = gap_of(frame)
        limit = self.config.gap_reset
        reset = gap is not None and limit is not None and gap >= limit
        broken = self._break() if reset else []
        if not frame.posed:  # a picture the model's rate does not need: the latest answers hold
            model_frames = []
        elif self.resampler is not None:
            model_frames = self.resampler.push(frame.timestamp, frame.skeleton, frame.index)
        else:
            model_frames = [ResampledFrame(frame.index, float(frame.timestamp),
                                           np.asarray(frame.skeleton, np.float32), frame.index)]
        closed: list[Event] = []
        history: list[PersonView] = []
        for mf in model_frames:
            closed += self._model_step(mf, frame, history)
        closed = broken + self._settle(closed)
        closed = self._alarms(closed)
        self.events += closed
        if frame.posed:
            self._watch_bodies(frame)
        image, px = self._drawing(frame)
        views = [replace(v, anchor=self._anchor(px, v.slots), body=self._body_views.get(p))
                 for p, v in sorted(self._views.items())]
        latency = None if frame.captured is None else 1000.0 * (time.perf_counter() - frame.captured)
        going = {k: replace(e) for k, e in self.segmenter.open_events.items()}  # copies: another thread draws them
        step = LiveStep(frame, views, closed, len(model_frames), image, px, going, history,
                        latency, gap, reset)
        if self._recorder is not None:
            self._record(step)
        return step

    def _drawing(self, frame: SkeletonFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not self.config.mirror:
            return frame.image, frame.draw_px
        width = frame.image.shape[1] if frame.image is not None else self.canvas_size[0]
        return mirrored_view(frame, width)

    @staticmethod
    def _anchor(px: np.ndarray | None, slots: tuple[int, ...]) -> tuple[float, float] | None:
        pts = [a for a in (label_anchor(px, s) for s in slots) if a is not None]
        if not pts:
            return None
        return float(np.mean([p[0] for p in pts])), float(min(p[1] for p in pts))

    def set_mirror(self, on: bool) -> None:
        """Mirror what is drawn from the next frame on (the model keeps getting the source's own frame)."""
        if bool(on) != self.config.mirror:
            self.config = replace(self.config, mirror=bool(on))

    def write_events(self, path: str | os.PathLike) -> Path:
        """Write :attr:`events` as ``.jsonl`` or ``.csv``."""
        from .events import write_events

        return write_events(path, self.events)

    def finish(self) -> list[Event]:
        """End of the stream: close the open events; returns every event of the stream, in order of start."""
        tail = self._settle(self.segmenter.flush())
        tail = [e for e in tail if e.label not in self.alarm_policy.alarm]  # reported when they were shown
        self.events += tail
        if self._recorder is not None:
            self._recorder.add_events(tail)
        self.events.sort(key=lambda e: (e.start, e.person))
        return list(self.events)

    def run(self, source: FrameSource, *, max_frames: int | None = None, prefetch: int = 0) -> Iterator[LiveStep]:
        """:meth:`start` a new stream from ``source``, then :meth:`steps` through it; call :meth:`finish` after it
        to close the events."""
        self.start(source)
        return self.steps(source, max_frames=max_frames, prefetch=prefetch)

    def steps(self, source: FrameSource, *, max_frames: int | None = None,
              prefetch: int = 0) -> Generator[LiveStep, None, None]:
        """Step through ``source`` from where it is, in the current stream. ``prefetch > 0`` reads (and runs pose
        on) up to that many frames ahead in a thread, so pose of the next frame overlaps the model step of this
        one."""
        frames = self.frames(source, max_frames=max_frames, prefetch=prefetch)
        try:
            for frame in frames:
                yield self.step(frame)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    @staticmethod
    def frames(source: FrameSource, *, max_frames: int | None = None, prefetch: int = 0) -> Iterable[SkeletonFrame]:
        """The frames :meth:`steps` steps through, for a caller that calls :meth:`step` itself: at most
        ``max_frames``, read ``prefetch`` ahead in a thread when > 0. Call its ``close()`` (when it has one) after
        it, to stop the reading thread."""
        return _Prefetched(source, prefetch, max_frames) if prefetch > 0 else _limited(source, max_frames)

    # -- outputs -----------------------------------------------------------------------------------------------------
    def annotate(self, step: LiveStep, *, header: str = "") -> np.ndarray:
        """The annotated BGR picture of a step: skeletons, each person's label, the top predictions and the
        warm-up state (:func:`cognn.render.render_frame`)."""
        from ..render import render_frame

        pred = step.prediction
        labels = [(v.text().replace("×", "x"), v.anchor) for v in step.persons if v.present]
        notes = [m for m in dict.fromkeys(v.message for v in step.persons if v.present) if m]
        if step.gap is not None:
            notes.append(f"stream lost {step.gap:.1f} s" + (": model restarted" if step.reset else ""))
        header = "  ".join([header, *notes]) if header else "  ".join(notes)
        return render_frame(step.image, step.draw_px, self.recognizer.layout, self.canvas_size,
                            pred.top if pred is not None else [], ready=pred is not None and pred.ready,
                            warmup=pred.warmup if pred is not None else (0, self.recognizer.frames_to_ready),
                            has_weights=self.recognizer.has_weights, header=header, labels=labels,
                            fps=self.fps, held=pred is not None and pred.held, framer=self._framer)

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def start_recording(self, skeletons: str | os.PathLike | None = None, video: str | os.PathLike | None = None,
                        *, inputs: tuple[str | os.PathLike, ...] = (), fps: float | None = None) -> None:
        """Record every following step: skeletons and events to a cognn HDF5 recording, and/or the annotated video.
        The files appear when :meth:`stop_recording` ends the recording (written under temporary names until
        then); ``inputs`` are refused as outputs."""
        from .recorder import Recorder

        self.stop_recording()
        self._recorder = Recorder(skeletons, video, layout=self.layout, domain=self.domain,
                                  num_persons=self.recognizer.model.num_persons, source=self.source_name,
                                  fps=fps, canvas_size=self.canvas_size, inputs=inputs)

    def _record(self, step: LiveStep) -> None:
        rec = self._recorder
        try:
            rec.add(step, self.annotate if rec.wants_video else None)
        except Exception:  # a failed write ends the recording (Ctrl-C does not: what was written is kept)
            self._recorder = None
            rec.abort()
            raise

    def stop_recording(self, *, keep: bool = True) -> list[Path]:
        """End the recording (the events going on are kept, ended at the last frame); returns the files written.
        ``keep=False`` discards them."""
        rec, self._recorder = self._recorder, None
        if rec is None:
            return []
        if not keep:
            rec.abort()
            return []
        try:
            rec.add_events(self.segmenter.open_events.values())
            return rec.close()
        except BaseException:
            rec.abort()
            raise


def label_defaults(meta: dict[str, Any]) -> LabelConfig:
    """The steady-label settings a checkpoint ships (metadata ``live.labels``, e.g. a lower "uncertain" threshold for
    400 classes), else :data:`~cognn.live.labels.DEFAULT_LABELS`; CognnError for settings out of range."""
    from dataclasses import fields

    given = (meta.get("live") or {}).get("labels") if isinstance(meta.get("live"), dict) else None
    if not isinstance(given, dict) or not given:
        return DEFAULT_LABELS
    known = {f.name for f in fields(LabelConfig)}
    try:
        return replace(DEFAULT_LABELS, **{k: v for k, v in given.items() if k in known})
    except (TypeError, ValueError) as e:
        raise CognnError(f"the checkpoint's live label settings are not usable ({e})") from None


def _checked(make: Any, key: str) -> Any:
    """``make()``, a bad ``live.<key>`` entry of the checkpoint's metadata as one CognnError."""
    try:
        return make()
    except ValueError as e:
        raise CognnError(f"the checkpoint's live {key} settings are not usable ({e})") from None


def _person_skeleton(skeleton: np.ndarray, slots: tuple[int, ...]) -> np.ndarray | None:
    """One person's ``(C, V)`` of a model frame ``(C, V, M)``: the first of ``slots`` that is present, or None."""
    for s in slots:
        if 0 <= s < skeleton.shape[-1]:
            one = skeleton[..., s]
            if np.any(one != 0):
                return one
    return None


def _limited(source: FrameSource, max_frames: int | None) -> Iterator[SkeletonFrame]:
    """The source's frames, at most ``max_frames`` (never reading one more: a live stream would wait for it)."""
    if max_frames is not None and max_frames <= 0:
        return
    for n, frame in enumerate(source, 1):
        yield frame
        if max_frames is not None and n >= max_frames:
            return


_END = object()


class _Prefetched:
    """Reads a source in a background thread, ``depth`` frames ahead; iterating yields them in order and re-raises
    the reader's error. :meth:`close` stops the reader."""

    def __init__(self, source: FrameSource, depth: int, max_frames: int | None) -> None:
        self._queue: Queue[Any] = Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(source, max_frames), name="cognn-read",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        return put_unless_stopped(self._queue, item, self._stop)

    def _read(self, source: FrameSource, max_frames: int | None) -> None:
        try:
            for frame in _limited(source, max_frames):
                if not self._put(frame):
                    return
        except BaseException as e:  # handed to the consumer
            self._put(e)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[SkeletonFrame]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
