"""Repetition counting on real workout clips: the live session (pose, resampling, the bundled gesture model, steady
labels) with :class:`cognn.live.reps.RepCounter` fed per model frame, against counts made by eye (docs/reps.md).

    python tools/measure_reps.py                 # the two workout clips, pose cached in .cache/reps
    python tools/measure_reps.py --json out/reps.json

Prints, per clip, the repetitions counted by eye, the counter's runs (label, start, end, count) and the error.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from live_cache import DEFAULT_CACHE, DEFAULT_VIDEOS, pose_frames  # noqa: E402

from cognn.live.labels import UNCERTAIN  # noqa: E402
from cognn.live.reps import RepConfig, RepCounter, RepRun, repetitive_classes  # noqa: E402
from cognn.live.resample import Resampler  # noqa: E402
from cognn.live.session import LiveConfig, Session  # noqa: E402
from cognn.sources import SkeletonFrame  # noqa: E402

DEFAULT_WEIGHTS = REPO / "weights" / "gestures_costgcn_mod.safetensors"

#: clip -> (the repetitive class, repetitions counted by eye; see docs/reps.md for how)
BY_EYE: dict[str, tuple[str, int]] = {
    "fanchiang_3-2.mp4": ("jumping_jacks", 5),
    "fanchiang_2-1.mp4": ("jumping_jacks", 11),
}


@dataclass
class ClipReps:
    """What the counter said on one clip."""

    name: str
    runs: list[RepRun]
    totals: dict[str, int]
    #: (timestamp, steady label fed to the counter) per model frame
    labels: list[tuple[float, str]] = field(default_factory=list)

    def count(self, labels: tuple[str, ...] | None = None) -> int:
        """Repetitions of the runs whose label is in ``labels`` (all runs when None)."""
        return sum(r.count for r in self.runs if labels is None or r.label in labels)


def person_skeleton(skeleton: np.ndarray, slots: tuple[int, ...]) -> np.ndarray | None:
    """The first present slot's ``(C, V)`` of a ``(C, V, M)`` model frame, or None."""
    for s in slots:
        one = skeleton[..., s]
        if np.any(one != 0):
            return one
    return None


def run_clip(session: Session, frames: list[SkeletonFrame], name: str, config: RepConfig | None = None,
             label_of=None, canvas_size: tuple[int, int] | None = None) -> ClipReps:  # type: ignore[no-untyped-def]
    """One clip through ``session`` with a counter fed the label events get (the steady label once the model is
    ready, else "uncertain"); ``label_of(view) -> str`` replaces that label (an alarm policy, say)."""
    cfg = config or RepConfig(repetitive=repetitive_classes(session.meta, session.classes))
    counter = RepCounter(cfg, layout=session.layout, domain=session.domain)
    resampler = Resampler(session.fps)
    session.start(name, canvas_size=canvas_size)
    labels = []
    for frame in frames:
        mfs = resampler.push(frame.timestamp, frame.skeleton, frame.index)
        step = session.step(frame)
        views = step.model_views
        assert len(views) == len(mfs), "one view per model frame in 'all' mode"
        for mf, view in zip(mfs, views):
            label = label_of(view) if label_of is not None else (view.label.label if view.ready else UNCERTAIN)
            counter.update(person_skeleton(mf.skeleton, view.slots or (0,)), mf.timestamp, label)
            labels.append((mf.timestamp, label))
    session.finish()
    runs = counter.finish()
    return ClipReps(name, runs, dict(counter.totals), labels)


def make_session(weights: Path = DEFAULT_WEIGHTS, config: LiveConfig = LiveConfig()) -> Session:
    """The live session with the bundled gesture model and the live defaults."""
    return Session.from_weights(weights, config=config)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="measure_reps", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    session = make_session(args.weights)
    out: dict[str, Any] = {}
    for name, (cls, eye) in BY_EYE.items():
        frames = pose_frames(args.videos / name, args.cache)
        res = run_clip(session, frames, name)
        counted = res.count((cls,))
        same_signal = res.count(tuple(c for c, s in repetitive_classes(session.meta, session.classes).items()
                                      if s == RepConfig().repetitive[cls]))
        print(f"{name}: by eye {eye} {cls}; counter {counted} as {cls} ({same_signal} with its signal), error "
              f"{counted - eye:+d}; runs: " + ", ".join(f"{r.label} {r.start:.1f}-{r.end:.1f} s: {r.count}"
                                                         for r in res.runs))
        out[name] = {"class": cls, "by_eye": eye, "counter": counted, "same_signal": same_signal,
                     "runs": [r.to_dict() for r in res.runs]}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
