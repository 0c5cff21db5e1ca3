"""False alarms of the bundled gesture model on real clips of actions it does not know, before and after an alarm
policy (cognn.live.alarms), and what the policy costs on the jumping-jacks clips.

    python tools/measure_alarms.py                           # the default policy vs none, pose cached in .cache/reps
    python tools/measure_alarms.py --grid                    # the search the defaults were chosen by
    python tools/measure_alarms.py --policy alarms.json      # a policy file of your own

"session" in the output is the session as it runs in cognn-infer and the app: the checkpoint's own live defaults
(``live.alarms``, ``live.body``), its events and the labels it shows, with no replay.

Every clip goes through the live session (MediaPipe pose, smoothing, resampling to 30 fps, the model, the default
steady labels); the steady labels are recorded once per model frame and the policies are replayed over them. A
*false alarm* is an event (the cognn.live.events rules: ready predictions only, at least ``min_event`` long) of a
gesture on a clip that shows none; *wrong seconds* the time a gesture label is shown there. Both are given per minute
of ready model frames (frames once the model's receptive field is full). Recall on the jumping-jacks clips: the share
of their ready frames shown as ``jumping_jacks``, and the repetitions counted (cognn.live.reps) against the count by
eye.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from live_cache import DEFAULT_CACHE, DEFAULT_VIDEOS, frame_size, pose_frames  # noqa: E402
from measure_reps import BY_EYE, person_skeleton  # noqa: E402

from cognn.live.alarms import AlarmConfig, AlarmFilter, alarm_config_from_meta, load_alarm_config  # noqa: E402
from cognn.live.events import DEFAULT_IGNORE, EventSegmenter  # noqa: E402
from cognn.live.labels import UNCERTAIN, SteadyLabel  # noqa: E402
from cognn.live.reps import RepConfig, RepCounter, repetitive_classes  # noqa: E402
from cognn.live.resample import Resampler  # noqa: E402
from cognn.live.session import LiveConfig, Session  # noqa: E402

DEFAULT_WEIGHTS = REPO / "weights" / "gestures_costgcn_mod.safetensors"
#: real clips of actions the gesture model does not know
UNKNOWN = ("ta_chi.mp4", "clean_and_jerk.mp4", "skateboarding.mp4", "selinkesler_Office.mp4",
           "paddlevideo_example.avi", "mmaction2_demo.mp4", "S001C001P001R001A001_rgb.avi",
           "S004C002P003R001A055_rgb.avi", "S004C002P003R002A046_rgb.avi", "S004C002P003R002A047_rgb.avi",
           "pyskl_ntu_sample.avi")
GESTURE_CLIPS = tuple(BY_EYE)


@dataclass
class Frame:
    """One model frame of a clip, as the session saw it."""

    t: float
    index: int
    ready: bool
    label: SteadyLabel
    skeleton: np.ndarray | None
    #: the label the session showed (its alarm policy and body check applied)
    shown: str = ""


def record_clip(session: Session, name: str, videos: Path, cache: Path,
                events: list[Any] | None = None) -> list[Frame]:
    """The session's steady label (and the person's skeleton) at every model frame of a clip; the session's own
    events are added to ``events`` when given."""
    frames = pose_frames(videos / name, cache)
    resampler = Resampler(session.fps)
    session.start(name, canvas_size=frame_size(videos / name, cache))  # the pictures' size: the body check
    out = []
    for frame in frames:
        mfs = resampler.push(frame.timestamp, frame.skeleton, frame.index)
        for mf, view in zip(mfs, session.step(frame).model_views):
            out.append(Frame(mf.timestamp, frame.index, view.ready, view.label,
                             person_skeleton(mf.skeleton, view.slots or (0,)), view.shown_label))
    closed = session.finish()
    if events is not None:
        events += closed
    return out


@dataclass
class Outcome:
    """A policy replayed over one clip."""

    ready_s: float
    events: list[str]
    wrong_s: float
    #: seconds a gesture is shown counting the warm-up too (the app shows labels then, marked "warming up")
    wrong_all_s: float
    all_s: float
    shown_share: dict[str, float]
    reps: int


def replay(frames: list[Frame], config: AlarmConfig | None, classes: list[str], fps: float, meta: dict[str, Any],
           min_event: float = 0.5) -> Outcome:
    """The shown labels, events and repetitions of one recorded clip under ``config`` (None: no policy)."""
    filt = AlarmFilter(config, classes) if config is not None else None
    seg = EventSegmenter(min_duration=min_event, ignore=DEFAULT_IGNORE)
    counter = RepCounter(RepConfig(repetitive=repetitive_classes(meta, classes)))
    events = []
    shown_ready: list[str] = []
    shown_all: list[str] = []
    for f in frames:
        shown = filt.update(f.label, f.t).label if filt is not None else f.label.label
        shown_all.append(shown)
        ev_label = shown if f.ready else UNCERTAIN
        closed = seg.update(ev_label, f.label.score, f.t, f.index)
        if filt is not None:
            closed = [e for e in closed if filt.keep_event(e)]
        events += closed
        counter.update(f.skeleton, f.t, ev_label)
        if f.ready:
            shown_ready.append(shown)
    tail = seg.flush()
    events += [e for e in tail if filt is None or filt.keep_event(e)]
    ready_s = len(shown_ready) / fps
    gestures = [s for s in shown_ready if s not in DEFAULT_IGNORE]
    names, counts = np.unique(shown_ready, return_counts=True) if shown_ready else ([], [])
    return Outcome(ready_s, [e.label for e in events], len(gestures) / fps,
                   sum(s not in DEFAULT_IGNORE for s in shown_all) / fps, len(shown_all) / fps,
                   {str(n): c / len(shown_ready) for n, c in zip(names, counts)},
                   sum(r.count for r in counter.finish()))


def summarise(recorded: dict[str, list[Frame]], config: AlarmConfig | None, classes: list[str], fps: float,
              meta: dict[str, Any]) -> dict[str, Any]:
    """False alarms per minute on the unknown clips; recall and repetitions on the gesture clips."""
    unk = [replay(recorded[n], config, classes, fps, meta) for n in UNKNOWN if n in recorded]
    minutes = sum(o.ready_s for o in unk) / 60.0
    alarms = sum(len(o.events) for o in unk)
    wrong = sum(o.wrong_s for o in unk)
    all_min = sum(o.all_s for o in unk) / 60.0
    out: dict[str, Any] = {"ready_minutes": round(minutes, 3), "false_alarms": alarms,
                           "false_alarms_per_min": round(alarms / minutes, 2) if minutes else None,
                           "wrong_s_per_min": round(wrong / minutes, 2) if minutes else None,
                           "all_minutes": round(all_min, 3),
                           "wrong_s_per_min_with_warmup": round(sum(o.wrong_all_s for o in unk) / all_min, 2)
                           if all_min else None,
                           "alarm_labels": sorted(set(itertools.chain.from_iterable(o.events for o in unk)))}
    for n in GESTURE_CLIPS:
        if n in recorded:
            o = replay(recorded[n], config, classes, fps, meta)
            cls, eye = BY_EYE[n]
            out[n] = {"shown_jumping_jacks": round(o.shown_share.get(cls, 0.0), 3), "events": o.events,
                      "reps": o.reps, "by_eye": eye}
    return out


def as_wired(recorded: dict[str, list[Frame]], events: dict[str, list[Any]], fps: float) -> dict[str, Any]:
    """The session's own outcome (no replay): gesture events and seconds of gestures shown on the unknown clips per
    ready minute; the share of ready frames shown as the class, the events and their repetitions on the gesture
    clips."""
    unk = [n for n in UNKNOWN if n in recorded]
    minutes = sum(f.ready for n in unk for f in recorded[n]) / fps / 60.0
    alarms = [e for n in unk for e in events[n] if e.label not in DEFAULT_IGNORE]
    wrong = sum(f.ready and f.shown not in DEFAULT_IGNORE for n in unk for f in recorded[n]) / fps
    out: dict[str, Any] = {"ready_minutes": round(minutes, 3), "false_alarms": len(alarms),
                           "false_alarms_per_min": round(len(alarms) / minutes, 2) if minutes else None,
                           "wrong_s_per_min": round(wrong / minutes, 2) if minutes else None,
                           "alarm_labels": sorted({e.label for e in alarms})}
    for n in GESTURE_CLIPS:
        if n in recorded:
            cls, eye = BY_EYE[n]
            ready = [f for f in recorded[n] if f.ready]
            out[n] = {"shown_jumping_jacks": round(sum(f.shown == cls for f in ready) / max(len(ready), 1), 3),
                      "events": [e.label for e in events[n]], "reps": sum(e.reps or 0 for e in events[n]),
                      "by_eye": eye}
    return out


def grid(recorded: dict[str, list[Frame]], classes: list[str], fps: float, meta: dict[str, Any]
         ) -> list[tuple[float, float, dict[str, Any]]]:
    """One shared threshold and confirmation time for every gesture: (threshold, confirm, summary)."""
    rows = []
    for thr in (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
        for hold in (0.0, 0.3, 0.5, 1.0, 2.0):
            cfg = AlarmConfig(default_threshold=thr, default_confirm=hold)
            rows.append((thr, hold, summarise(recorded, cfg, classes, fps, meta)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="measure_alarms", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--policy", type=Path, help="an alarm policy file (JSON or TOML) to measure")
    p.add_argument("--grid", action="store_true", help="measure a grid of shared thresholds and hold times")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    import torch

    from cognn.live.alarms import DEFAULT_ALARMS

    torch.set_num_threads(1)
    session = Session.from_weights(args.weights, config=LiveConfig())
    classes, meta = session.classes, session.meta
    events: dict[str, list[Any]] = {n: [] for n in UNKNOWN + GESTURE_CLIPS}
    recorded = {n: record_clip(session, n, args.videos, args.cache, events[n]) for n in UNKNOWN + GESTURE_CLIPS
                if (args.videos / n).exists()}
    results: dict[str, Any] = {"no policy": summarise(recorded, None, classes, session.fps, meta)}
    policy = load_alarm_config(args.policy) if args.policy else (alarm_config_from_meta(meta) or DEFAULT_ALARMS)
    results["policy"] = summarise(recorded, policy, classes, session.fps, meta)
    results["session"] = as_wired(recorded, events, session.fps)
    for k, v in results.items():
        print(f"{k}: {json.dumps(v)}")
    if args.grid:
        rows = grid(recorded, classes, session.fps, meta)
        print("threshold confirm | alarms/min wrong s/min | jumping_jacks shown 3-2 2-1 | reps 3-2 2-1 | alarm labels")
        for thr, hold, r in rows:
            a, b = (r.get(n, {}) for n in GESTURE_CLIPS)
            print(f"{thr:.2f} {hold:.1f} | {r['false_alarms_per_min']:5.2f} {r['wrong_s_per_min']:5.1f} | "
                  f"{a.get('shown_jumping_jacks', 0):.2f} {b.get('shown_jumping_jacks', 0):.2f} | "
                  f"{a.get('reps')} {b.get('reps')} | {','.join(r['alarm_labels'])}")
        results["grid"] = [{"threshold": t, "hold": h, **r} for t, h, r in rows]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
