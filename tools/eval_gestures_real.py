"""The bundled gesture model on REAL people: the whole pixel pipeline on the videos in ../shared/data/video.

    python tools/eval_gestures_real.py                       # writes docs/gestures.md
    python tools/eval_gestures_real.py --fps 0 --out -       # native frame rate, report to stdout

Per clip, a loop around the live session (``cognn.live.session.Session``, as ``cognn-infer`` and the app): video
frames -> MediaPipe pose, smoothing, NTU-25 joints in camera metres (``cognn.pose.PoseTracker``) -> resampled to
``--fps`` (the training rate) by their timestamps -> the live form of the training preprocessing -> the continual
model stepping frame by frame -> steady labels. A frame counts when the model is ``ready``
(its 90-frame receptive field holds only real frames); the report gives the share of those frames whose top-1 is
the clip's gesture, and for clips of other actions what the model says instead.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.checkpoints import load_model  # noqa: E402
from cognn.errors import CognnError  # noqa: E402
from cognn.live.labels import UNCERTAIN  # noqa: E402
from cognn.live.session import LiveConfig, Session  # noqa: E402
from cognn.online import OnlineRecognizer  # noqa: E402
from cognn.pose import PoseOptions  # noqa: E402
from cognn.sources import SkeletonFrame  # noqa: E402
from cognn.synth import CLASSES  # noqa: E402

PROG = "eval_gestures_real"
DEFAULT_WEIGHTS = REPO / "weights" / "gestures_costgcn_mod.safetensors"
DEFAULT_VIDEOS = REPO.parent / "shared" / "data" / "video"
NOTES = "<!-- notes: kept by tools/eval_gestures_real.py -->"
#: a top-1 probability at or above this counts as a confident prediction in the report
CONFIDENT = 0.5
#: seconds of every model step run so far (reported as the step cost)
STEP_TIMES: list[float] = []

#: clip -> (the gesture it shows, or None for other actions; what it shows)
CLIPS: dict[str, tuple[str | None, str]] = {
    "fanchiang_3-2.mp4": ("jumping_jacks", "woman doing jumping jacks, full body, 59.94 fps"),
    "fanchiang_2-1.mp4": ("jumping_jacks", "man standing, then jumping-jack-like jumping, 23.98 fps"),
    "S001C001P001R001A001_rgb.avi": (None, "NTU A001 drink water (mirrored video, flipped back)"),
    "S004C002P003R002A046_rgb.avi": (None, "NTU A046 touch back (backache)"),
    "S004C002P003R002A047_rgb.avi": (None, "NTU A047 touch neck (neckache)"),
    "S004C002P003R001A055_rgb.avi": (None, "NTU A055 hugging (two people)"),
    "pyskl_ntu_sample.avi": (None, "NTU-style clip, two men hugging"),
    "ta_chi.mp4": (None, "tai chi, full body"),
    "selinkesler_Office.mp4": (None, "office corridor, people walking and standing"),
    "clean_and_jerk.mp4": (None, "weightlifter, clean and jerk"),
    "paddlevideo_example.avi": (None, "archery, upper body"),
    "mmaction2_demo.mp4": (None, "arm wrestling, close-up, partial bodies"),
    "skateboarding.mp4": (None, "skateboarding video game (rendered character)"),
}


@dataclass
class ClipResult:
    """What the model said on the ready frames of one clip."""

    name: str
    expected: str | None
    frames: int
    ready: int
    top1: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    fps: float = 0.0
    pose_s: float = 0.0
    #: for clips with no ready frame: the top-1 of a warm-started model on every frame (inexact predictions)
    warm_top1: list[str] = field(default_factory=list)
    #: the label the live pipeline shows on each ready frame (cognn.live's default steady labels: smoothing,
    #: hysteresis, "uncertain" below the threshold)
    shown: list[str] = field(default_factory=list)

    def share(self, label: str) -> float:
        """Share of ready frames whose top-1 is ``label`` (0 when no frame is ready)."""
        return sum(t == label for t in self.top1) / len(self.top1) if self.top1 else 0.0

    def shown_share(self, *labels: str) -> float:
        """Share of ready frames on which the shown (steady) label is one of ``labels``."""
        return sum(t in labels for t in self.shown) / len(self.shown) if self.shown else 0.0

    def confident_share(self, label: str | None = None, above: float = CONFIDENT, exclude: str = "none") -> float:
        """Share of ready frames whose top-1 is ``label`` (any class but ``exclude`` when None) with a probability of
        at least ``above``."""
        hits = [c >= above and (t == label if label else t != exclude) for t, c in zip(self.top1, self.confidence)]
        return sum(hits) / len(hits) if hits else 0.0

    def histogram(self, warm: bool = False) -> list[tuple[str, float]]:
        """(class, share of frames) of the top-1 classes, most frequent first."""
        top = self.warm_top1 if warm else self.top1
        names, counts = np.unique(top, return_counts=True)
        order = np.argsort(-counts)
        return [(str(names[i]), counts[i] / len(top)) for i in order]


def _frames(session: Session, path: Path, max_frames: int | None, cache: Path | None) -> list[SkeletonFrame]:
    """The video's frames through the session's pose path (kept in ``cache`` for the next run)."""
    stored = None if cache is None else cache / f"{path.name}.side{session.config.pose.max_side}.max{max_frames}.npz"
    if stored is not None and stored.exists():
        with np.load(stored) as z:
            return [SkeletonFrame(i, float(t), x, int(n), pose_ms=float(ms))
                    for i, (x, t, n, ms) in enumerate(zip(z["skeleton"], z["timestamps"], z["persons"], z["pose_ms"]))]
    frames = []
    with session.open(path) as src:
        for n, frame in enumerate(src):
            if max_frames is not None and n >= max_frames:
                break
            frame.image = None
            frames.append(frame)
    if stored is not None and frames:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.savez(stored, skeleton=np.stack([f.skeleton for f in frames]),
                 timestamps=np.array([f.timestamp for f in frames]), persons=np.array([f.persons for f in frames]),
                 pose_ms=np.array([f.pose_ms or 0.0 for f in frames]))
    return frames


def make_session(model: torch.nn.Module, fps: float = 30.0, max_side: int = 640, flip: bool = False,
                 warm_start: bool = False) -> Session:
    """The live session the app and cognn-infer use, with the evaluation's settings: frames resampled to ``fps``
    (0: every frame as it is), labels from exact predictions only."""
    classes = list(model.checkpoint_meta["classes"])
    rec = OnlineRecognizer(model, classes, warm_start=warm_start, meta=model.checkpoint_meta)
    config = LiveConfig(pose=PoseOptions(max_side=max_side, flip_horizontal=flip), resample=fps > 0,
                        fps=fps or None, wait_ready=True)
    return Session(rec, config)


def evaluate_clip(model: torch.nn.Module, path: Path, expected: str | None, fps: float = 30.0,
                  max_frames: int | None = None, max_side: int = 640, cache: Path | None = None) -> ClipResult:
    """The whole pixel pipeline (a :class:`cognn.live.session.Session`) on one video; ``cache`` (a folder) keeps the
    pose result for the next run."""
    t = time.perf_counter()
    with make_session(model, fps, max_side, flip=path.name.startswith("S0")) as session:
        frames = _frames(session, path, max_frames, cache)
        pose_s = time.perf_counter() - t
        session.start(path.name)
        views = [v for f in frames for v in session.step(f).model_views]
    STEP_TIMES.extend(v.prediction.model_ms / 1000.0 for v in views)
    ready = [v for v in views if v.ready]
    eff = fps or (len(frames) - 1) / max(frames[-1].timestamp - frames[0].timestamp, 1e-9) if frames else 0.0
    result = ClipResult(path.name, expected, len(views), len(ready), [v.prediction.top[0][0] for v in ready],
                        [v.prediction.top[0][1] for v in ready], eff, pose_s)
    result.shown = [v.label.label for v in ready]
    if not ready and frames:  # shorter than the receptive field: what a warm-started model says (not exact)
        with make_session(model, fps, max_side, warm_start=True) as warm:
            warm.start(path.name)
            result.warm_top1 = [v.prediction.top[0][0] for f in frames for v in warm.step(f).model_views
                                if v.prediction.top]
    return result


def report(results: list[ClipResult], weights: Path, fps: float, native: list[ClipResult] | None = None,
           meta: dict | None = None) -> str:
    """The Markdown report."""
    meta = meta or {}
    kw = meta.get("model_kwargs", {})
    width = kw.get("base_channels", 64)
    lines = ["# The bundled gesture model on real people", "",
             f"Model: `{weights.name}` (CoST-GCN*, `clip_frames={kw.get('clip_frames', '?')}`, "
             f"`base_channels={width}`, trained on generated motion only; see `tools/train_gestures.py`). "
             "Pipeline: video -> MediaPipe pose (`cognn.pose`, frames at most 640 px) -> NTU-25 camera metres -> "
             "`OnlineNormalizer` -> `forward_step` per frame. Frames are resampled to "
             f"{fps:g} fps (the training rate) by their timestamps" + (" unless noted." if fps else "."),
             "A frame counts once the model is *ready* (its 90-frame receptive field holds only real frames). "
             "*top-1* is the raw prediction of that frame; *shown* is the label the live pipeline (`cognn-infer`, "
             "the app) displays: the default steady labels of `cognn.live` (smoothing, hysteresis, `uncertain` "
             f"when no class is probable enough). *Confident* means a top-1 probability of at least {CONFIDENT:g}.",
             "Reproduce: `python tools/eval_gestures_real.py`.", "",
             "## The model", "",
             f"* One step (one frame, one thread, this machine): median {1e3 * np.median(STEP_TIMES):.1f} ms over "
             f"{len(STEP_TIMES)} steps." if STEP_TIMES else "* (no step timed)",
             "* Classes: " + ", ".join(f"`{c}`" for c in CLASSES) + ".",
             "* Trained **only on generated motion** (`cognn.synth`: a kinematic NTU-25 body with varied proportions, "
             "tempo, amplitude, facing, camera placement, legs out of the picture, a second idle person, "
             "MediaPipe-like jitter, glitches and dropouts; `none` is everything else a person does: standing, "
             "fidgeting, walking through the picture, free slow movement, sitting, bending once, warm-up exercises, "
             "a lift overhead, kicks), "
             "never on a benchmark dataset or on these videos. Command: `python tools/train_gestures.py` (CPU; "
             "`--device cuda` on a GPU)" + (f"; {meta['data']}" if meta.get("data") else "") + ".",
             "* Why CoST-GCN* with `clip_frames=90` and `base_channels=32`: live use wants a prediction on every "
             "frame that is exact (the `*` models step with stride 1 and no padding), a short warm-up (90 frames "
             "is a 3 s receptive field at 30 fps instead of 10 s) and a cheap step (half the reference width: a "
             "quarter of the multiply-adds, leaving the CPU to MediaPipe).", "",
             "## Clips that show a gesture", "",
             "| clip | gesture | frames | ready | top-1 = gesture | shown = gesture | mean confidence | other top-1 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.expected is None:
            continue
        others = ", ".join(f"{n} {s:.0%}" for n, s in r.histogram() if n != r.expected)
        lines.append(f"| {r.name} | {r.expected} | {r.frames} | {r.ready} | **{r.share(r.expected):.0%}** | "
                     f"{r.shown_share(r.expected):.0%} | {np.mean(r.confidence) if r.confidence else 0:.2f} | "
                     f"{others or '-'} |")
    lines += ["", "## Clips of other actions (the model should say `none`, or at least not a confident gesture)", "",
              "| clip | shows | frames | ready | top-1 = none | confident wrong gesture | shown none or uncertain "
              "| top-1 shares |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.expected is not None:
            continue
        hist = ", ".join(f"{n} {s:.0%}" for n, s in r.histogram()) or "-"
        if not r.top1 and r.warm_top1:
            hist = "no ready frame (clip < 3 s); warm start, inexact: " + ", ".join(
                f"{n} {s:.0%}" for n, s in r.histogram(warm=True))
        ready = bool(r.top1)
        lines.append(f"| {r.name} | {CLIPS.get(r.name, (None, ''))[1]} | {r.frames} | {r.ready} | "
                     + (f"{r.share('none'):.0%} | {r.confident_share():.0%} | "
                        f"{r.shown_share('none', UNCERTAIN):.0%} | " if ready else "- | - | - | ") + f"{hist} |")
    if native:
        lines += ["", "## At the videos' own frame rate (no resampling)", "",
                  "| clip | fps | ready | top-1 = gesture | other top-1 |", "|---|---|---|---|---|"]
        for r in native:
            others = ", ".join(f"{n} {s:.0%}" for n, s in r.histogram() if n != r.expected)
            lines.append(f"| {r.name} | {r.fps:.1f} | {r.ready} | {r.share(r.expected or 'none'):.0%} | "
                         f"{others or '-'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    p.add_argument("--fps", type=float, default=30.0, help="resample to this rate (0: every frame)")
    p.add_argument("--native", action="store_true", help="also run the gesture clips at their own frame rate")
    p.add_argument("--clips", nargs="*", help="only these clip names")
    p.add_argument("--cache", type=Path, help="keep pose results in this folder (pose dominates the run time)")
    p.add_argument("--out", default=str(REPO / "docs" / "gestures.md"), help="report file, or - for stdout")
    args = p.parse_args(argv)
    try:
        model = load_model(args.weights)
        if not args.videos.is_dir():
            raise CognnError(f"{args.videos}: no such folder of videos")
        results, native = [], []
        for name, (expected, _) in CLIPS.items():
            if args.clips and name not in args.clips:
                continue
            path = args.videos / name
            if not path.exists():
                print(f"{PROG}: skipping {name} (not in {args.videos})", file=sys.stderr)
                continue
            r = evaluate_clip(model, path, expected, args.fps, cache=args.cache)
            results.append(r)
            msg = f"{r.share(expected):.0%} {expected}" if expected else f"{r.share('none'):.0%} none"
            print(f"{PROG}: {name}: {r.ready} ready frames, {msg}; " +
                  ", ".join(f"{n} {s:.0%}" for n, s in r.histogram()[:4]), file=sys.stderr, flush=True)
            if args.native and expected:
                native.append(evaluate_clip(model, path, expected, 0.0, cache=args.cache))
    except CognnError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    text = report(results, args.weights, args.fps, native, model.checkpoint_meta)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        old = out.read_text(encoding="utf-8") if out.exists() else ""
        if NOTES in old:  # hand-written findings below the marker survive a re-run
            text += "\n" + old[old.index(NOTES):]
        out.write_text(text, encoding="utf-8")
        print(f"{PROG}: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
