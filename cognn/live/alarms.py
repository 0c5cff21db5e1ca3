"""False alarms under control: which steady label is shown, and which events are kept.

A model trained on a handful of gestures names one of them for many things people do that are none of them (tai chi
looks like waving, a weightlifter like punching). :class:`AlarmFilter` sits after the steady labels
(:class:`~cognn.live.labels.SteadyLabeler`) and before the events (:class:`~cognn.live.events.EventSegmenter`):

* **per-class thresholds** — a class is shown only while its smoothed probability (the steady label's score) is at
  least its threshold (``thresholds[class]``, else ``default_threshold``); once shown, it stays down to the threshold
  minus ``release``;
* **confirmation** — a class is shown only once it has been the steady label, above its threshold, for
  ``confirm[class]`` seconds (else ``default_confirm``); a brief wrong label never appears;
* **an allow-list** — a session may show only some classes (``allow``): the others are not shown;
* **"uncertain"** is shown instead of a class that fails any of these (never a wrong class); ``none`` and
  ``uncertain`` pass as they are;
* **per-class minimum event durations** — :meth:`AlarmFilter.keep_event` drops events shorter than
  ``min_duration[class]`` (else ``default_min_duration``; None leaves the segmenter's own ``min_duration``).

A checkpoint ships its policy as ``meta["live"]["alarms"]`` (:func:`alarm_config_from_meta`; without one nothing is
filtered, :data:`NO_ALARMS`); :data:`DEFAULT_ALARMS` is the policy measured for the bundled gesture model
(docs/reps.md, ``tools/measure_alarms.py``). A session can load a JSON or TOML file instead (:func:`load_alarm_config`,
:func:`policy_for`)::

    {"default_threshold": 0.9, "thresholds": {"wave_right": 0.95}, "default_confirm": 0.5, "release": 0.1,
     "min_duration": {"bow": 1.0}, "allow": ["jumping_jacks", "squat"], "repetitive": ["jumping_jacks"]}

(``repetitive`` is read by :func:`cognn.live.reps.repetitive_classes`; ``"alarm": ["fall"]`` names alarm classes,
whose event the session reports the moment the class is shown, marked ``alarm``, instead of when it ends;
``"hold": ["plank"]`` names held classes, whose seconds held are shown instead of repetitions;
``"by_body": {"fall": ["push_up", "plank"]}`` lets the body alone raise an alarm class, for people the model never saw
fall: it is shown when :meth:`cognn.live.falls.FallCheck.collapsed` holds, unless the steady label is one of the
listed classes, whatever the model's probability of it.)
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.files import excerpt, kind_of, parse_json, read_text
from ..errors import InputFileError
from .events import Event
from .labels import UNCERTAIN, SteadyLabel

__all__ = ["AlarmConfig", "AlarmFilter", "ShownLabel", "DEFAULT_ALARMS", "NO_ALARMS", "load_alarm_config",
           "alarm_config_from_meta", "policy_for", "parse_allow", "PASS_LABELS", "ALARM_KEYS", "live_section"]

#: labels that are never filtered (the background class and the labeler's own "uncertain")
PASS_LABELS = ("none", UNCERTAIN)
#: the keys an alarm policy (file or ``meta["live"]["alarms"]``) may hold
ALARM_KEYS = ("thresholds", "default_threshold", "release", "confirm", "default_confirm", "min_duration",
              "default_min_duration", "allow", "repetitive", "alarm", "hold", "by_body")


@dataclass(frozen=True)
class AlarmConfig:
    """An alarm policy (see the module docstring); every per-class map falls back to its ``default_*``."""

    #: class -> least smoothed probability for the class to be shown
    thresholds: Mapping[str, float] = field(default_factory=dict)
    default_threshold: float = 0.0
    #: class -> seconds the class must be the steady label (above its threshold) before it is shown
    confirm: Mapping[str, float] = field(default_factory=dict)
    default_confirm: float = 0.0
    #: class -> shortest event kept (seconds); None: the segmenter's own min_duration
    min_duration: Mapping[str, float] = field(default_factory=dict)
    default_min_duration: float | None = None
    #: the only classes shown (None: every class); ``none`` and ``uncertain`` always pass
    allow: tuple[str, ...] | None = None
    #: a class being shown stays shown down to its threshold minus this (hysteresis against flicker)
    release: float = 0.0
    #: the repetitive classes the policy declares (names, or ``{class: signal}``; None: none declared), read by
    #: :func:`cognn.live.reps.repetitive_classes`
    repetitive: tuple[str, ...] | Mapping[str, str] | None = None
    #: alarm classes (a fall): their event is reported the moment the class is shown (confirmed), not when it ends
    alarm: tuple[str, ...] = ()
    #: held classes (a plank): the seconds held are shown instead of repetitions
    hold: tuple[str, ...] = ()
    #: alarm class -> the steady labels that keep the body from raising it alone (cognn.live.falls: a collapse)
    by_body: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the file the policy was read from (named in messages), None for one from a checkpoint or code
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, value in [("default_threshold", self.default_threshold), ("release", self.release),
                            *self.thresholds.items()]:
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"threshold {name!r} must be in [0, 1], got {value}")
        extra = [] if self.default_min_duration is None else [("default_min_duration", self.default_min_duration)]
        for name, value in [("default_confirm", self.default_confirm), *self.confirm.items(),
                            *self.min_duration.items(), *extra]:
            if not (math.isfinite(float(value)) and float(value) >= 0):
                raise ValueError(f"duration {name!r} must be >= 0 seconds, got {value}")

    def threshold_of(self, label: str) -> float:
        return float(self.thresholds.get(label, self.default_threshold))

    def confirm_of(self, label: str) -> float:
        return float(self.confirm.get(label, self.default_confirm))

    def min_duration_of(self, label: str) -> float | None:
        value = self.min_duration.get(label, self.default_min_duration)
        return None if value is None else float(value)

    def allowed(self, label: str) -> bool:
        return label in PASS_LABELS or self.allow is None or label in self.allow

    def with_allow(self, allow: Iterable[str] | None) -> AlarmConfig:
        """The same policy with another allow-list (None: every class)."""
        return replace(self, allow=None if allow is None else tuple(allow))

    def check_classes(self, classes: Sequence[str], where: str = "the alarm policy") -> None:
        """ValueError naming any class the policy mentions that the model does not have."""
        known = set(classes) | set(PASS_LABELS)
        named = (set(self.thresholds) | set(self.confirm) | set(self.min_duration) | set(self.allow or ())
                 | set(self.alarm) | set(self.hold) | set(self.by_body)
                 | {c for unless in self.by_body.values() for c in unless})
        unknown = sorted(named - known)
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            shown = ", ".join(u if len(u) <= 40 else u[:40] + "..." for u in unknown[:5]) + more
            known_ = ", ".join(classes[:20]) + (f" and {len(classes) - 20} more" if len(classes) > 20 else "")
            raise ValueError(f"{where} names {'classes' if len(unknown) > 1 else 'a class'} the model does not have: "
                             f"{shown} (classes: {known_})")

    def to_dict(self) -> dict[str, Any]:
        """The policy as ``meta["live"]["alarms"]`` or a JSON file holds it."""
        out: dict[str, Any] = {"thresholds": dict(self.thresholds), "default_threshold": self.default_threshold,
                               "release": self.release,
                               "confirm": dict(self.confirm), "default_confirm": self.default_confirm,
                               "min_duration": dict(self.min_duration),
                               "default_min_duration": self.default_min_duration}
        if self.allow is not None:
            out["allow"] = list(self.allow)
        if self.alarm:
            out["alarm"] = list(self.alarm)
        if self.hold:
            out["hold"] = list(self.hold)
        if self.by_body:
            out["by_body"] = {k: list(v) for k, v in self.by_body.items()}
        if self.repetitive is not None:
            rep = self.repetitive
            out["repetitive"] = dict(rep) if isinstance(rep, Mapping) else list(rep)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "alarm policy") -> AlarmConfig:
        """A policy from a mapping (a file's contents or ``meta["live"]["alarms"]``); ValueError naming ``where``
        and the bad key. ``repetitive`` (a list of class names or ``{class: signal}``) is kept for cognn.live.reps."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a table of settings, got {kind_of(data)}")
        unknown = sorted(set(data) - set(ALARM_KEYS))
        if unknown:
            shown = ", ".join(str(k)[:40] for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise ValueError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {shown}; "
                             f"known: {', '.join(ALARM_KEYS)}")

        def table(key: str) -> dict[str, float]:
            value = data.get(key, {})
            if not isinstance(value, Mapping):
                raise ValueError(f"{where}: {key!r} must map class names to numbers, not {kind_of(value)}")
            bad = next((k for k, v in value.items() if not _number(v)), None)
            if bad is not None:
                raise ValueError(f"{where}: {key!r} must map class names to numbers; {excerpt(str(bad))} is "
                                 f"{kind_of(value[bad])}")
            return {str(k): float(v) for k, v in value.items()}

        def number(key: str, default: float | None) -> float | None:
            value = data.get(key, default)
            if value is not None and not _number(value):
                raise ValueError(f"{where}: {key!r} must be a number, not {kind_of(value)}")
            return None if value is None else float(value)

        allow = data.get("allow")
        if allow is not None:
            allow = parse_allow(allow) if isinstance(allow, str) else allow
            if not isinstance(allow, (list, tuple)) or not all(isinstance(a, str) for a in allow):
                raise ValueError(f"{where}: 'allow' must be a list of class names, not {kind_of(allow)}")
        rep = data.get("repetitive")
        if rep is not None:
            ok = (all(isinstance(k, str) and isinstance(v, str) for k, v in rep.items()) if isinstance(rep, Mapping)
                  else isinstance(rep, (list, tuple)) and all(isinstance(c, str) for c in rep))
            if not ok:
                raise ValueError(f"{where}: 'repetitive' must be a list of class names or {{class: signal}}, not "
                                 f"{kind_of(rep)}")
            rep = dict(rep) if isinstance(rep, Mapping) else tuple(rep)
        lists = {}
        for key in ("alarm", "hold"):
            value = data.get(key, [])
            if isinstance(value, str):
                value = parse_allow(value)
            if not isinstance(value, (list, tuple)) or not all(isinstance(a, str) for a in value):
                raise ValueError(f"{where}: {key!r} must be a list of class names")
            lists[key] = tuple(value)
        body = data.get("by_body", {})
        if not (isinstance(body, Mapping) and all(
                isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(c, str) for c in v)
                for k, v in body.items())):
            raise ValueError(f"{where}: 'by_body' must map alarm classes to lists of class names, not "
                             f"{kind_of(body)}")
        not_alarm = sorted(set(body) - set(lists["alarm"]))
        if not_alarm:
            raise ValueError(f"{where}: 'by_body' names {', '.join(not_alarm)}, not an alarm class ('alarm')")
        try:
            return cls(thresholds=table("thresholds"), default_threshold=number("default_threshold", 0.0) or 0.0,
                       release=number("release", 0.0) or 0.0,
                       confirm=table("confirm"), default_confirm=number("default_confirm", 0.0) or 0.0,
                       min_duration=table("min_duration"),
                       default_min_duration=number("default_min_duration", None),
                       allow=None if allow is None else tuple(allow), repetitive=rep, alarm=lists["alarm"],
                       hold=lists["hold"], by_body={str(k): tuple(v) for k, v in body.items()})
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


#: no policy: every steady label shown as it is (a checkpoint without ``meta["live"]["alarms"]``)
NO_ALARMS = AlarmConfig()
#: the policy measured for the bundled gesture model (docs/reps.md): a gesture is shown only at a smoothed
#: probability of at least 0.9 (no false alarm left on the real clips of other actions, jumping jacks still shown on
#: 100 % and 79 % of the workout clips' frames); shipped as ``meta["live"]["alarms"]`` (tools/set_live_meta.py)
DEFAULT_ALARMS = AlarmConfig(default_threshold=0.9)


def policy_for(meta: Mapping[str, Any] | None, path: str | os.PathLike | None = None,
               allow: Iterable[str] | str | None = None) -> AlarmConfig:
    """The policy of a session: the file ``path`` if given (JSON or TOML), else the checkpoint's
    ``meta["live"]["alarms"]``, else :data:`NO_ALARMS`; ``allow`` (a list or ``"a,b"``) replaces its allow-list."""
    cfg = load_alarm_config(path) if path is not None else (alarm_config_from_meta(meta) or NO_ALARMS)
    if allow is not None:
        cfg = cfg.with_allow(parse_allow(allow) if isinstance(allow, str) else allow)
    return cfg


def parse_allow(text: str) -> tuple[str, ...]:
    """``"jumping_jacks, squat"`` -> ``("jumping_jacks", "squat")`` (the ``--allow`` option)."""
    return tuple(p.strip() for p in str(text).split(",") if p.strip())


def load_alarm_config(path: str | os.PathLike) -> AlarmConfig:
    """Read a policy from a ``.json`` or ``.toml`` file; InputFileError naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise InputFileError(path, f"an alarm policy is a .json or .toml file, not {suffix or 'no extension'!r}")
    text = read_text(path, "alarm policy")
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise InputFileError(path, "TOML files need Python 3.11 or later; write the policy as JSON") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise InputFileError(path, f"not TOML ({e})") from None
    else:
        data = parse_json(text, path, "alarm policy")
    try:
        return replace(AlarmConfig.from_dict(data, where="the policy"), source=str(path))
    except ValueError as e:
        raise InputFileError(path, str(e).replace("the policy: ", "")) from None


def live_section(meta: Mapping[str, Any] | None, key: str) -> Any:
    """``meta["live"][key]`` (where a checkpoint keeps its live defaults), else ``meta[key]`` (a policy or a
    metadata dict of its own), else None."""
    meta = meta or {}
    live = meta.get("live")
    if isinstance(live, Mapping) and live.get(key) is not None:
        return live[key]
    return meta.get(key)


def alarm_config_from_meta(meta: Mapping[str, Any] | None) -> AlarmConfig | None:
    """The policy a checkpoint ships in ``meta["live"]["alarms"]`` (or ``meta["alarms"]``), or None when it has
    none."""
    data = live_section(meta, "alarms")
    if data is None:
        return None
    return AlarmConfig.from_dict(data, where="the checkpoint's live 'alarms'")


@dataclass
class ShownLabel:
    """What is shown for one person at one model frame."""

    #: a class, ``none`` or ``uncertain``
    label: str
    #: the steady label's smoothed probability (of the shown class; the steady label's own score otherwise)
    score: float
    #: the steady label the filter was given
    steady: str
    #: why a class is not shown: "" (it is), "below threshold", "not allowed", "confirming"
    reason: str = ""
    #: True when the shown label differs from the previous one
    changed: bool = False

    @property
    def withheld(self) -> bool:
        return bool(self.reason)


class AlarmFilter:
    """Steady labels in, shown labels out, one state per person (see the module docstring). ``config`` None: no
    filtering (:data:`NO_ALARMS`); ``classes``: the model's, checked against the classes the policy names."""

    def __init__(self, config: AlarmConfig | None = None, classes: Sequence[str] = ()) -> None:
        self.config = config if config is not None else NO_ALARMS
        if classes:
            self.config.check_classes(classes)
        self.reset()

    def reset(self) -> None:
        """Forget every person (new stream, seek)."""
        self._since: dict[int, tuple[str, float]] = {}
        self._shown: dict[int, str] = {}

    def end_person(self, person: int) -> None:
        """A person left."""
        self._since.pop(person, None)
        self._shown.pop(person, None)

    def update(self, steady: SteadyLabel | str, timestamp: float, person: int = 0,
               score: float | None = None) -> ShownLabel:
        """One person's steady label (or a label and its ``score``) at one model frame -> the label to show."""
        label = steady if isinstance(steady, str) else steady.label
        p = float(score if score is not None else (0.0 if isinstance(steady, str) else steady.score))
        t = float(timestamp)
        cfg = self.config
        reason = ""
        if label not in PASS_LABELS:
            if not cfg.allowed(label):
                reason = "not allowed"
            elif p < cfg.threshold_of(label) - (cfg.release if self._shown.get(person) == label else 0.0):
                reason = "below threshold"
        # how long the label has been the steady label above its threshold
        since = self._since.get(person)
        if reason or label in PASS_LABELS:
            self._since.pop(person, None)
        elif since is None or since[0] != label:
            self._since[person] = (label, t)
            since = (label, t)
        if not reason and label not in PASS_LABELS and since is not None and t - since[1] < cfg.confirm_of(label):
            reason = "confirming"
        shown = UNCERTAIN if reason else label
        prev = self._shown.get(person)
        self._shown[person] = shown
        return ShownLabel(shown, p, label, reason, prev is not None and prev != shown)

    def keep_event(self, event: Event) -> bool:
        """False for an event shorter than its class's minimum duration (or of a class not allowed)."""
        if not self.config.allowed(event.label):
            return False
        least = self.config.min_duration_of(event.label)
        return least is None or event.duration >= least

    def filter_events(self, events: Iterable[Event]) -> list[Event]:
        """The events :meth:`keep_event` keeps, in order."""
        return [e for e in events if self.keep_event(e)]
