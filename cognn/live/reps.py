"""Repetition counting: how many jumping jacks, squats, arm raises or marching steps a person has done, while the
steady label says they are doing it.

Per model frame, :class:`RepCounter` (one per person) gets the person's skeleton ``(C, V)`` in the model's domain
(``camera3d``: NTU-25 metres, y up; ``image2d``: normalised image coordinates, y down, with a score), the timestamp
and the current steady label, and answers a :class:`RepState`.

1. **Signals.** Each repetitive class has a signal (:data:`SIGNALS`): a height of the joints the class moves,
   relative to the body and divided by the person's own torso length (shoulder centre to hip centre, a running
   median), so "up" is positive whatever the domain: ``arms`` (wrist centre above the shoulder centre: jumping
   jacks, arm raises), ``squat`` (hip centre *below* its standing height above the ankles), ``knees`` (the left
   knee's height above the right knee's: every move from one side to the other is a marching step, one knee lift).
   A centre of a left/right pair is the side in view when the other is not (a push-up filmed from the side hides
   the far wrist). A 3-frame median removes single-frame pose glitches; frames without the joints are skipped.
2. **Hysteresis relative to the person's own range.** Over the last ``window`` seconds a channel spans a range
   (5th to 95th percentile); a repetition is a whole cycle: from below ``exit`` of that range up above ``enter`` of
   it and back below ``exit`` (defaults 0.35 and 0.65; for ``knees`` each crossing), at least ``min_period``
   after the previous one. Nothing counts while the range is under the signal's ``min_range`` (0.4 torso lengths for
   the arms, 0.3 for a squat, 0.25 between the knees): a person standing still, jitter. At the start of a stream
   the window is replayed once its range is known, so the first repetitions count too.
3. **Attribution.** The signals run all the time; the label decides what the repetitions belong to. When the
   steady label becomes a repetitive class, the repetitions of its signal in the last ``lookback`` seconds count too
   (the model needs its receptive field, about 3 s, before it names an action; those first repetitions were done
   all the same), never one that an earlier run already counted. A direct switch between classes of the same signal
   (arm_raise -> jumping_jacks) continues the run and its count; so does a return to it within ``merge_gap``
   seconds of another label ("uncertain" for a moment). A finished run is a :class:`RepRun` (the label, start, end,
   count): the per-event total.

Which classes are repetitive: :func:`repetitive_classes` reads a checkpoint's metadata
(``meta["live"]["alarms"]["repetitive"]``: a list of classes or a ``{class: signal}`` map), else the config's own map.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..domains import IMAGE2D, LAYOUT_DOMAIN
from ..layouts import Layout, get_layout

__all__ = ["RepConfig", "RepState", "RepRun", "RepCounter", "SIGNALS", "DEFAULT_SIGNALS", "FITNESS_SIGNALS",
           "repetitive_classes",
           "body_signals", "count_cycles", "parse_reps"]

#: the signal of each known repetitive class (class names of cognn.synth / the bundled gesture model)
DEFAULT_SIGNALS: dict[str, str] = {"jumping_jacks": "arms", "arm_raise": "arms", "squat": "squat", "march": "knees"}
#: the signals of the bundled fitness model's repetitive classes (cognn.teach names the same ones)
FITNESS_SIGNALS: dict[str, str] = {"squat": "squat", "push_up": "push", "lunge": "squat", "sit_up": "situp",
                                   "jumping_jack": "arms", "high_knees": "knees", "burpee": "squat",
                                   "bicep_curl": "arms", "lateral_raise": "arms", "front_raise": "arms",
                                   "clap": "arms"}


class _Body:
    """Joint indices of one layout for the signals."""

    def __init__(self, layout: Layout) -> None:
        ix = layout.joint_names.index
        self.sh = (ix("left_shoulder"), ix("right_shoulder"))
        self.hip = (ix("left_hip"), ix("right_hip"))
        self.wr = (ix("left_wrist"), ix("right_wrist"))
        self.kn = (ix("left_knee"), ix("right_knee"))
        self.an = (ix("left_ankle"), ix("right_ankle"))


def _mid(up: np.ndarray, pair: tuple[int, int]) -> float:
    """The height of a left/right pair's centre, or of the one side in view (a side view hides the far wrist)."""
    a, b = up[pair[0]], up[pair[1]]
    return float(a if np.isnan(b) else b if np.isnan(a) else 0.5 * (a + b))


def _arms(up: np.ndarray, pts: np.ndarray, b: _Body) -> np.ndarray:
    return np.array([_mid(up, b.wr) - _mid(up, b.sh)])


def _squat(up: np.ndarray, pts: np.ndarray, b: _Body) -> np.ndarray:
    return np.array([-(_mid(up, b.hip) - _mid(up, b.an))])


def _push(up: np.ndarray, pts: np.ndarray, b: _Body) -> np.ndarray:
    """The shoulder centre's height above the wrist centre: down and up with each push-up (hands on the floor)."""
    return np.array([_mid(up, b.sh) - _mid(up, b.wr)])


def _situp(up: np.ndarray, pts: np.ndarray, b: _Body) -> np.ndarray:
    """The shoulder centre's height above the hip centre: the trunk rising off the floor with each sit-up."""
    return np.array([_mid(up, b.sh) - _mid(up, b.hip)])


def _knees(up: np.ndarray, pts: np.ndarray, b: _Body) -> np.ndarray:
    """The left knee's height above the right knee's: up when the left knee is lifted, down for the right (depth,
    the noisiest pose channel, is left out)."""
    return np.array([up[b.kn[0]] - up[b.kn[1]]])


@dataclass(frozen=True)
class Signal:
    """A periodic signal of the body: ``fn(up (V,), points (V, 2|3), body) -> channels (K,)``."""

    fn: Callable[[np.ndarray, np.ndarray, _Body], np.ndarray]
    #: True: the channels are lengths, divided by the torso length; False: used as they are (angles, say)
    scaled: bool
    #: the least range over the window to count anything (torso lengths when scaled)
    min_range: float
    #: True: each move from one side to the other is a repetition (marching: the left knee up, then the right)
    halves: bool = False


#: the signals: ``arms`` (wrist centre above the shoulder centre), ``squat`` (hip centre below its height above the
#: ankle centre), ``knees`` (the left knee above the right one), ``push`` (shoulder centre above the wrist centre),
#: ``situp`` (shoulder centre above the hip centre)
SIGNALS: dict[str, Signal] = {
    "arms": Signal(_arms, True, 0.4),
    "squat": Signal(_squat, True, 0.3),
    "knees": Signal(_knees, True, 0.25, halves=True),
    "push": Signal(_push, True, 0.25),
    "situp": Signal(_situp, True, 0.3),
}


def body_signals(skeleton: np.ndarray, layout: str | Layout = "ntu25", domain: str | None = None,
                 signals: Iterable[str] = tuple(SIGNALS)) -> tuple[dict[str, np.ndarray], float]:
    """The signals of one person's skeleton ``(C, V)``: ``({name: channels (K,)}, torso length)``, lengths in the
    skeleton's units (divide the scaled signals by a torso length to compare people); NaN where a joint is missing
    (an all-zero skeleton, or a score of 0 in ``image2d``)."""
    lay = get_layout(layout)
    domain = domain or LAYOUT_DOMAIN[lay.name]
    s = np.asarray(skeleton, np.float64)
    if s.ndim != 2 or s.shape[1] != lay.num_joints:
        raise ValueError(f"expected one person's skeleton (C, {lay.num_joints}), got {s.shape}")
    b = _body(lay)
    if domain == IMAGE2D:
        missing = s[2] <= 0 if s.shape[0] > 2 else ~np.isfinite(s[:2]).all(0)
        pts = s[:2].T.copy()
        up = -pts[:, 1]
    else:
        missing = ~np.any(s != 0, axis=0)
        pts = s[:3].T.copy()
        up = s[1].copy()
    up[missing] = np.nan
    pts[missing] = np.nan
    with np.errstate(invalid="ignore"):
        torso = float(np.linalg.norm(0.5 * (pts[b.sh[0]] + pts[b.sh[1]]) - 0.5 * (pts[b.hip[0]] + pts[b.hip[1]])))
        return {n: SIGNALS[n].fn(up, pts, b) for n in signals}, torso


_BODIES: dict[str, _Body] = {}


def _body(layout: Layout) -> _Body:
    if layout.name not in _BODIES:
        _BODIES[layout.name] = _Body(layout)
    return _BODIES[layout.name]


def repetitive_classes(meta: Mapping[str, Any] | None, classes: Iterable[str] = (),
                       fallback: Mapping[str, str] = DEFAULT_SIGNALS) -> dict[str, str]:
    """``{class: signal}`` of the repetitive classes a checkpoint declares (``meta["live"]["alarms"]["repetitive"]``,
    or the same without ``"live"``, or ``meta["repetitive"]``: a list of class names, whose signals come from
    ``fallback``, or a ``{class: signal}`` map); without a declaration, the classes of ``classes`` that ``fallback``
    knows. A declared class with no known signal raises ValueError naming it."""
    from .alarms import live_section

    decl = live_section(meta, "repetitive")
    alarms = live_section(meta, "alarms")
    if decl is None and isinstance(alarms, Mapping):
        decl = alarms.get("repetitive")
    if decl is None:
        names = set(classes)
        return {c: s for c, s in fallback.items() if c in names}
    pairs = decl.items() if isinstance(decl, Mapping) else ((c, fallback.get(str(c))) for c in decl)
    out: dict[str, str] = {}
    for cls, sig in pairs:
        if sig not in SIGNALS:
            raise ValueError(f"repetitive class {cls!r}: no known signal ({sig!r}); signals: {', '.join(SIGNALS)}")
        out[str(cls)] = str(sig)
    return out


def parse_reps(text: str | Iterable[str], fallback: Mapping[str, str] = DEFAULT_SIGNALS) -> dict[str, str]:
    """``{class: signal}`` of the ``--reps`` option: ``"squat, pushup=arms"`` (a class the counter knows by name, or
    ``CLASS=SIGNAL``); ValueError naming a class without a known signal."""
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p).strip() for p in text]
    out: dict[str, str] = {}
    for item in filter(None, items):
        cls, _, sig = (part.strip() for part in item.partition("="))
        sig = sig or fallback.get(cls, "")
        if not cls or sig not in SIGNALS:
            why = f"unknown signal {sig!r}" if sig else "no known signal"
            raise ValueError(f"repetitive class {item!r}: {why}; name one as CLASS=SIGNAL, signals: "
                             f"{', '.join(SIGNALS)} ({', '.join(f'{c}={s}' for c, s in fallback.items())} known)")
        out[cls] = sig
    return out


@dataclass(frozen=True)
class RepConfig:
    """Parameters of :class:`RepCounter` (defaults measured on real workout clips, see docs/reps.md)."""

    #: ``{class: signal}`` of the classes to count (see :func:`repetitive_classes`)
    repetitive: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SIGNALS))
    #: a repetition: above ``enter`` of the person's own range, then back below ``exit`` of it
    enter: float = 0.65
    exit: float = 0.35
    #: the least range a signal must span over ``window`` seconds to count anything (None: each signal's own,
    #: :attr:`Signal.min_range`)
    min_range: float | None = None
    window: float = 4.0
    #: the shortest repetition (seconds)
    min_period: float = 0.3
    #: repetitions this long (seconds) before the label became repetitive count too
    lookback: float = 4.0
    #: a run interrupted by other labels for at most this long (seconds) continues
    merge_gap: float = 1.0
    #: median filter length (frames) against single-frame glitches (1 = off)
    median: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.exit < self.enter <= 1:
            raise ValueError(f"need 0 <= exit < enter <= 1, got exit={self.exit}, enter={self.enter}")
        if min(self.min_range or 0.0, self.window, self.min_period, self.lookback, self.merge_gap) < 0 \
                or self.median < 1:
            raise ValueError("min_range, window, min_period, lookback and merge_gap must be >= 0, median >= 1")
        unknown = {s for s in self.repetitive.values() if s not in SIGNALS}
        if unknown:
            raise ValueError(f"unknown signal(s) {', '.join(sorted(unknown))}; known: {', '.join(SIGNALS)}")


@dataclass
class RepRun:
    """One run of a repetitive label: the per-event total."""

    #: the label at the end of the run (a run continues across classes of the same signal)
    label: str
    signal: str
    #: timestamps (seconds) of the first and last model frame with a repetitive label of the run
    start: float
    end: float
    #: repetitions counted, and their completion times (lookback ones included)
    count: int = 0
    times: list[float] = field(default_factory=list)
    person: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start": round(self.start, 4), "end": round(self.end, 4), "count": self.count,
                "person": self.person}


@dataclass
class RepState:
    """The counter's answer for one model frame."""

    #: the repetitive label being counted now, or None
    label: str | None
    #: repetitions of the current run (0 when nothing is counted)
    count: int
    #: repetitions completed at this frame (lookback ones included on the frame the run starts)
    new: int
    #: repetitions of each label over the stream so far (finished runs and the current one)
    totals: dict[str, int]
    #: runs that ended at this frame
    closed: list[RepRun] = field(default_factory=list)
    #: 0..1: where the signal is in the person's range (None when unknown): for a progress bar
    level: float | None = None


class _Channel:
    """One signal channel: a rolling range and the hysteresis state machine.

    A repetition is a whole cycle rest -> active -> rest (or each move from one side to the other, for ``halves``).
    At the start of a stream the range is not known until the signal has moved enough; when it first is, the window
    so far is replayed with the thresholds it gives, so the first repetitions count too."""

    def __init__(self, cfg: RepConfig, min_range: float, halves: bool = False) -> None:
        self.cfg = cfg
        self.min_range = min_range
        self.halves = halves
        self.hist: deque[tuple[float, float]] = deque()
        self.raw: deque[float] = deque(maxlen=cfg.median)
        #: None (not known yet), "mid" (began between the sides), "rest" or "active"
        self.state: str | None = None
        self.last_rep = -np.inf
        self.level: float | None = None

    def _step(self, v: float, t: float, enter: float, leave: float) -> bool:
        """One value against the thresholds. Whole cycles: rest -> active -> rest completes one; a stream that began
        between the two sides ("mid", say arms on their way up) may start with the active side. Halves: every move
        from one side (or the middle) to the other counts (marching: a knee lift each); the side a stream began on
        does not."""
        new = "active" if v >= enter else "rest" if v <= leave else (self.state or "mid")
        if new == self.state or (self.state is None and new == "active" and not self.halves):
            return False
        if self.halves:
            done = self.state is not None and new != "mid"
        else:
            done = self.state == "active" and new == "rest"
        self.state = new
        if done and t - self.last_rep >= self.cfg.min_period:
            self.last_rep = t
            return True
        return False

    def update(self, value: float, t: float) -> list[float]:
        """Feed one value; the completion times of the repetitions this completed (usually none or one)."""
        cfg = self.cfg
        self.raw.append(value)
        v = float(np.median(self.raw))
        self.hist.append((t, v))
        while self.hist and t - self.hist[0][0] > cfg.window:
            self.hist.popleft()
        vals = np.fromiter((x for _, x in self.hist), float, len(self.hist))
        lo, hi = np.percentile(vals, [5, 95]) if len(vals) > 2 else (vals.min(), vals.max())
        span = hi - lo
        if span < self.min_range:
            self.level = None
            return []
        self.level = float(np.clip((v - lo) / span, 0.0, 1.0))
        enter, leave = lo + cfg.enter * span, lo + cfg.exit * span
        if self.state is None:  # the range is known now: replay the window with it
            return [ht for ht, hv in self.hist if self._step(hv, ht, enter, leave)]
        return [t] if self._step(v, t, enter, leave) else []


class RepCounter:
    """Repetitions of one person (see the module docstring). ``layout``/``domain``: the skeletons' (the model's)."""

    def __init__(self, config: RepConfig = RepConfig(), *, layout: str | Layout = "ntu25", domain: str | None = None,
                 person: int = 0) -> None:
        self.config = config
        self.layout = get_layout(layout)
        self.domain = domain or LAYOUT_DOMAIN[self.layout.name]
        self.person = person
        self._signals = sorted(set(config.repetitive.values()))
        self.reset()

    def reset(self) -> None:
        """Forget everything (new stream, seek, a long gap in a stream): signals, runs, totals."""
        self._channels: dict[str, list[_Channel]] = {}
        self._torso: deque[tuple[float, float]] = deque()
        #: (number, completion time) of every repetition seen, per signal (kept for ``lookback``)
        self._reps: dict[str, deque[tuple[int, float]]] = {s: deque() for s in self._signals}
        self._seen = 0
        #: per signal: repetitions up to this number have been given to a run (or passed over)
        self._counted: dict[str, int] = {s: 0 for s in self._signals}
        self._run: RepRun | None = None
        self._paused_at: float | None = None
        #: finished runs, oldest first
        self.runs: list[RepRun] = []
        self.totals: dict[str, int] = {}

    @property
    def current(self) -> RepRun | None:
        """The run going on (paused or not), or None."""
        return self._run

    def _scale(self, torso: float, t: float) -> float:
        if np.isfinite(torso) and torso > 0:
            self._torso.append((t, torso))
        while self._torso and t - self._torso[0][0] > 1.0:
            self._torso.popleft()
        return float(np.median([x for _, x in self._torso])) if self._torso else float("nan")

    def _track(self, skeleton: np.ndarray | None, t: float) -> None:
        """Run the signals; the repetitions they complete go to ``_reps``."""
        if skeleton is None:
            return
        values, torso = body_signals(skeleton, self.layout, self.domain, self._signals)
        scale = self._scale(torso, t)
        for sig, chans in values.items():
            spec = SIGNALS[sig]
            if spec.scaled:
                chans = chans / scale
            if not np.all(np.isfinite(chans)):
                continue
            min_range = spec.min_range if self.config.min_range is None else self.config.min_range
            lanes = self._channels.setdefault(sig, [_Channel(self.config, min_range, spec.halves) for _ in chans])
            for lane, v in zip(lanes, chans):
                for done in lane.update(float(v), t):
                    self._seen += 1
                    self._reps[sig].append((self._seen, done))
        keep = max(self.config.lookback, self.config.merge_gap) + self.config.window
        for q in self._reps.values():
            while q and t - q[0][1] > keep:
                q.popleft()

    def _advance(self, run: RepRun, since: float) -> int:
        """Give the run the repetitions of its signal not given yet that completed after ``since``; the older ones
        are passed over for good."""
        q = self._reps[run.signal]
        got = sorted(x for n, x in q if n > self._counted[run.signal] and x > since)
        if q:
            self._counted[run.signal] = max(self._counted[run.signal], q[-1][0])
        run.times += got
        run.count += len(got)
        self.totals[run.label] = self.totals.get(run.label, 0) + len(got)
        return len(got)

    def _close(self) -> list[RepRun]:
        run, self._run, self._paused_at = self._run, None, None
        if run is None:
            return []
        self.runs.append(run)
        return [run]

    def update(self, skeleton: np.ndarray | None, timestamp: float, label: str | None) -> RepState:
        """One model frame: the person's skeleton ``(C, V)`` (None when they are not seen), its time and the steady
        label now."""
        t = float(timestamp)
        cfg = self.config
        self._track(skeleton, t)
        closed: list[RepRun] = []
        sig = cfg.repetitive.get(label) if label is not None else None
        new = 0
        run = self._run
        if sig is not None and label is not None:
            if run is not None and run.signal != sig:
                closed += self._close()
                run = None
            if run is None:
                run = self._run = RepRun(label, sig, t, t, person=self.person)
                new += self._advance(run, t - cfg.lookback)
            else:
                if run.label != label:  # same signal, new class: the run goes on under the new label
                    self.totals[label] = self.totals.get(label, 0) + run.count
                    self.totals[run.label] -= run.count
                    if self.totals[run.label] == 0:
                        del self.totals[run.label]
                    run.label = label
                new += self._advance(run, -np.inf)
            run.end = t
            self._paused_at = None
        elif run is not None:
            if self._paused_at is None:
                self._paused_at = t
            if t - self._paused_at > cfg.merge_gap:
                closed += self._close()
        live = self._run if self._paused_at is None else None
        level = None
        if live is not None and live.signal in self._channels:
            levels = [c.level for c in self._channels[live.signal] if c.level is not None]
            level = max(levels) if levels else None
        return RepState(live.label if live else None, live.count if live else 0, new, dict(self.totals), closed,
                        level)

    def finish(self) -> list[RepRun]:
        """End of the stream: close the run going on; returns every run of the stream."""
        self._close()
        return list(self.runs)


def count_cycles(values: Iterable[float], times: Iterable[float] | None = None, config: RepConfig = RepConfig(),
                 min_range: float = 0.4) -> list[float]:
    """Completion times of the repetitions in one signal channel, as :class:`RepCounter` counts them (``min_range``
    unless the config sets one): for checking a signal by itself."""
    vals = list(values)
    ts = list(times) if times is not None else [i / 30.0 for i in range(len(vals))]
    lane = _Channel(config, min_range if config.min_range is None else config.min_range)
    return [d for v, t in zip(vals, ts) if np.isfinite(v) for d in lane.update(float(v), float(t))]
