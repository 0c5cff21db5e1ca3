"""Measure the live defaults on the real videos: landmark jitter and lag, label switches per minute, added delay.

    python tools/measure_live_defaults.py                 # all videos in ../shared/data/video
    python tools/measure_live_defaults.py --clips ta_chi.mp4 fanchiang_3-2.mp4 --json out/live.json

Steps: (1) MediaPipe pose once per video (frames downsized to 640 px), landmarks cached under ``.cache/live/`` (git-
ignored); (2) for each One-Euro setting, the landmarks are replayed through smoothing -> person slots -> NTU-25
mapping, as a live pose source does, and the jitter (mean |second difference| of the joints, mm per frame) and lag
(the shift in source frames that best aligns the smoothed with the raw trajectories) are measured; (3) for a few
settings the skeletons are resampled to the model's rate and run through the model (the default weights of
``weights/manifest.json``, else the given ``--weights``, else an untrained costgcn_mod — the report says which);
(4) each label setting is applied to the same probabilities: label switches per minute, share of "uncertain", and the
added delay in model frames (on a clean two-class step, and the median on the videos: frames from the first raw
top-1 of a new label to the steady switch). Progress goes to stderr, the report (Markdown tables) to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.live.events import EventSegmenter  # noqa: E402
from cognn.live.labels import DEFAULT_LABELS, RAW_LABELS, UNCERTAIN, LabelConfig, SteadyLabeler, count_switches  # noqa: E402
from cognn.pose.landmarks import extract_landmarks, load_landmarks, save_landmarks, to_skeletons  # noqa: E402
from cognn.pose.smoothing import SmoothingConfig  # noqa: E402

PROG = "measure_live_defaults"
VIDEOS = REPO.parent / "shared" / "data" / "video"
CACHE = REPO / ".cache" / "live"

#: One-Euro settings whose jitter and lag are measured (min_cutoff Hz, beta)
SMOOTH_GRID = [(mc, b) for mc in (0.5, 1.0, 2.0, 4.0) for b in (0.0, 0.3, 1.0, 4.0, 16.0)]
#: label settings applied to the model's probabilities (alpha, margin, hold, threshold)
LABEL_GRID = [(a, m, h, th) for a in (1.0, 0.5, 0.3, 0.2, 0.15, 0.1) for m in (0.0, 0.05, 0.1, 0.15, 0.2)
              for h in (1, 3, 5, 8) for th in (0.0, 0.25, 0.3, 0.35, 0.4)]
#: clips that show an action of the gesture model (jumping jacks): "uncertain" should stay rare there
WORKOUT_CLIPS = ("fanchiang_2-1.mp4", "fanchiang_3-2.mp4")
#: the selection rule of the label defaults
MAX_STEP_DELAY = 10
MAX_WORKOUT_UNCERTAIN = 0.5


def say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def landmarks(path: Path, max_side: int):
    """The cached landmarks of a video, extracting them first if needed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    dst = CACHE / f"{path.stem}.npz"
    if dst.exists():
        return load_landmarks(dst)
    t = time.perf_counter()
    clip = extract_landmarks(path, max_side=max_side)
    save_landmarks(clip, dst)
    say(f"pose on {path.name}: {clip.num_frames} frames in {time.perf_counter() - t:.0f} s (cached in {dst})")
    return clip


def centred(skel: np.ndarray) -> np.ndarray:
    """Person 0's joints ``(T, 3, V)`` relative to the spine-mid joint, as the model sees them after preprocessing."""
    x = skel[:, :, :, 0].astype(np.float64)
    present = np.abs(x).sum((1, 2)) > 0
    return np.where(present[:, None, None], x - x[:, :, 1:2], 0.0)


#: Savitzky-Golay smoothing weights (window 7, quadratic): a non-causal estimate of the true motion
_SG7 = np.array([-2, 3, 6, 7, 6, 3, -2], np.float64) / 21.0


def _sg(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The SG7 fit of ``(T, 3, V)`` along T and the frames where it is defined (person present in all 7)."""
    ok = np.abs(x).sum((1, 2)) > 0
    fit = np.zeros_like(x)
    good = np.zeros(len(x), bool)
    for t in range(3, len(x) - 3):
        if ok[t - 3:t + 4].all():
            fit[t] = np.tensordot(_SG7, x[t - 3:t + 4], axes=(0, 0))
            good[t] = True
    return fit, good


def jitter_mm(skel: np.ndarray) -> float:
    """Frame-to-frame noise: mean distance (mm) of person 0's centred joints from their own SG7 fit."""
    x = centred(skel)
    fit, good = _sg(x)
    return float(np.linalg.norm((x - fit)[good], axis=1).mean() * 1000.0) if good.any() else float("nan")


def error_mm(raw: np.ndarray, smooth: np.ndarray) -> float:
    """Mean distance (mm) of the smoothed centred joints from the SG7 fit of the raw ones (noise + lag)."""
    fit, good = _sg(centred(raw))
    return float(np.linalg.norm((centred(smooth) - fit)[good], axis=1).mean() * 1000.0) if good.any() else 0.0


def lag_frames(raw: np.ndarray, smooth: np.ndarray, max_lag: int = 12) -> int:
    """The shift (source frames) minimising |smooth[t] - raw[t - lag]| for person 0 (joint trajectories)."""
    a, b = centred(raw), centred(smooth)
    ok = (np.abs(a).sum((1, 2)) > 0) & (np.abs(b).sum((1, 2)) > 0)
    errs = []
    for lag in range(max_lag + 1):
        m = ok[lag:] & ok[: len(ok) - lag]
        if m.sum() < 10:
            errs.append(np.inf)
            continue
        errs.append(float(np.abs(b[lag:][m] - a[: len(a) - lag][m]).mean()))  # smooth[t] vs raw[t - lag]
    return int(np.argmin(errs))


def run_model(rec, skel: np.ndarray, ts: np.ndarray, fps: float) -> tuple:
    """The frames through the live session (resampled to the model's rate, the model stepped); ``(probs (T', K),
    ready (T',), times (T',), source frames (T',))`` per model frame."""
    from cognn.live.session import LiveConfig, Session
    from cognn.sources import SkeletonFrame

    session = Session(rec, LiveConfig(fps=fps))
    session.start("clip")
    flat = np.full(len(rec.classes), 1.0 / len(rec.classes), np.float32)
    views = []
    for i, (x, t) in enumerate(zip(skel, ts)):
        persons = int((np.abs(x).sum((0, 1)) > 0).sum())
        views += session.step(SkeletonFrame(i, float(t), x, persons)).model_views
    probs = [v.prediction.probs if v.prediction.probs is not None else flat for v in views]
    return (np.stack(probs).astype(np.float32), np.array([v.ready for v in views]),
            np.array([v.prediction.timestamp for v in views]), np.array([v.prediction.frame for v in views]))


def labels_for(probs: np.ndarray, classes: list[str], cfg: LabelConfig) -> list[str]:
    lab = SteadyLabeler(classes, cfg)
    return [lab.update(p).label for p in probs]


def video_delays(raw: list[str], steady: list[str]) -> list[int]:
    """For each steady switch to a class: frames since the raw top-1 first showed that class after the previous
    steady switch."""
    out = []
    prev_switch = 0
    for s in range(1, len(steady)):
        if steady[s] == steady[s - 1]:
            continue
        if steady[s] != UNCERTAIN:
            first = next((r for r in range(prev_switch, s + 1) if raw[r] == steady[s]), None)
            if first is not None:
                out.append(s - first)
        prev_switch = s
    return out


def step_delay(cfg: LabelConfig, k: int = 10, high: float = 0.9) -> int:
    """Frames after a clean switch of the top class (A at ``high`` -> B at ``high``) until the label follows."""
    classes = [str(i) for i in range(k)]
    lab = SteadyLabeler(classes, cfg)
    rest = (1.0 - high) / (k - 1)
    a = np.full(k, rest)
    a[0] = high
    b = np.full(k, rest)
    b[1] = high
    for _ in range(60):
        lab.update(a)
    for n in range(1, 200):
        if lab.update(b).label == "1":
            return n - 1
    return 200


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="*", help="video names in ../shared/data/video (default: all)")
    p.add_argument("--weights", help="checkpoint (default: the default model of weights/manifest.json)")
    p.add_argument("--model-smoothing", nargs="*", default=["off", "2,4", "1,1"],
                   help="One-Euro settings run through the model: 'off' or 'min_cutoff,beta'")
    p.add_argument("--no-model", action="store_true", help="measure the landmark smoothing only")
    p.add_argument("--max-side", type=int, default=640)
    p.add_argument("--json", type=Path, help="also write every number as JSON")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    if not VIDEOS.is_dir():
        say(f"error: {VIDEOS} is not there")
        return 2
    names = args.clips or sorted(f.name for f in VIDEOS.iterdir() if f.suffix in (".mp4", ".avi"))
    clips = {n: landmarks(VIDEOS / n, args.max_side) for n in names}
    minutes = {n: float(c.timestamps[-1] - c.timestamps[0] + 1 / 30) / 60.0 for n, c in clips.items()}
    report: dict = {"clips": {n: {"frames": c.num_frames, "seconds": round(minutes[n] * 60, 2)}
                              for n, c in clips.items()}}

    # -- landmark smoothing: jitter and lag (no model) ---------------------------------------------------------------
    raw_sk = {n: to_skeletons(c) for n, c in clips.items()}
    rows = []
    base_j = np.nanmean([jitter_mm(s) for s, _ in raw_sk.values()])
    for mc, beta in SMOOTH_GRID:
        cfg = SmoothingConfig(True, mc, beta, 1.0)
        js, lags, errs = [], [], []
        for n, c in clips.items():
            sk, _ = to_skeletons(c, smoothing=cfg)
            js.append(jitter_mm(sk))
            lags.append(lag_frames(raw_sk[n][0], sk))
            errs.append(error_mm(raw_sk[n][0], sk))
        rows.append({"min_cutoff": mc, "beta": beta, "jitter_mm": float(np.nanmean(js)),
                     "jitter_ratio": float(np.nanmean(js) / base_j), "lag_frames_median": float(np.median(lags)),
                     "lag_frames_max": int(max(lags)), "error_mm": float(np.mean(errs))})
        say(f"smoothing {mc:g} Hz, beta {beta:g}: jitter {np.nanmean(js):.1f} mm ({np.nanmean(js) / base_j:.0%}), "
            f"lag {np.median(lags):g} frames, error {np.mean(errs):.1f} mm")
    report["smoothing"] = {"raw_jitter_mm": float(base_j), "raw_error_mm": float(np.mean(
        [error_mm(s, s) for s, _ in raw_sk.values()])), "grid": rows}
    if args.no_model:
        print_report(report)
        return 0

    # -- the model ---------------------------------------------------------------------------------------------------
    from cognn.live.domain import checkpoint_meta, model_fps
    from cognn.online import OnlineRecognizer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = OnlineRecognizer.from_weights(args.weights)
    for w in caught:
        say(f"warning: {w.message}")
    fps = model_fps(checkpoint_meta(getattr(rec, "weights_path", None)))
    report["model"] = {"description": rec.description, "trained": rec.has_weights, "receptive_field":
                       rec.receptive_field, "fps": fps}
    say(f"model: {rec.description}")

    runs = {}
    for text in args.model_smoothing:
        cfg = None if text == "off" else SmoothingConfig(True, *map(float, text.split(",")))
        t = time.perf_counter()
        out = {}
        for n, c in clips.items():
            sk, ts = raw_sk[n] if cfg is None else to_skeletons(c, smoothing=cfg)
            out[n] = run_model(rec, sk, ts, fps)
        key = "off" if cfg is None else f"{cfg.min_cutoff:g},{cfg.beta:g}"
        runs[key] = out
        say(f"model over all clips with landmark smoothing {key}: {time.perf_counter() - t:.0f} s")

    label_rows = []
    for sm, out in runs.items():
        raw_labels = {n: labels_for(o[0], rec.classes, RAW_LABELS) for n, o in out.items()}
        for a, m, h, th in LABEL_GRID:
            cfg = LabelConfig(alpha=a, margin=m, hold=h, threshold=th)
            sw, unc, delays, frames, w_unc, w_frames = 0, 0, [], 0, 0, 0
            per_clip = {}
            for n, (pr, *_) in out.items():
                lab = labels_for(pr, rec.classes, cfg)
                k = count_switches(lab)
                u = sum(x == UNCERTAIN for x in lab)
                sw, unc, frames = sw + k, unc + u, frames + len(lab)
                if n in WORKOUT_CLIPS:
                    w_unc, w_frames = w_unc + u, w_frames + len(lab)
                delays += video_delays(raw_labels[n], lab)
                per_clip[n] = round(k / minutes[n], 1)
            label_rows.append({"smoothing": sm, "alpha": a, "margin": m, "hold": h, "threshold": th,
                               "switches_per_min": sw / sum(minutes.values()), "uncertain": unc / frames,
                               "uncertain_workout": w_unc / w_frames if w_frames else float("nan"),
                               "step_delay": step_delay(cfg),
                               "video_delay_median": float(np.median(delays)) if delays else float("nan"),
                               "per_clip": per_clip})
    report["labels"] = label_rows
    ok = [row for row in label_rows if row["step_delay"] <= MAX_STEP_DELAY and not
          row["uncertain_workout"] > MAX_WORKOUT_UNCERTAIN]
    by_sm = {}
    for row in sorted(ok, key=lambda x: (x["switches_per_min"], x["step_delay"])):
        by_sm.setdefault(row["smoothing"], row)
    report["chosen"] = by_sm

    # -- events with the defaults ------------------------------------------------------------------------------------
    from cognn.live.session import LiveConfig

    live = LiveConfig()
    key = f"{live.smoothing.min_cutoff:g},{live.smoothing.beta:g}" if live.smoothing.enabled else "off"
    events = {}
    for n, (pr, _, tm, src) in runs.get(key, {}).items():
        lab = SteadyLabeler(rec.classes, DEFAULT_LABELS)
        seg = EventSegmenter(min_duration=live.min_event, ignore=live.ignore, merge_gap=live.merge_gap)
        found = []
        for p, t, i in zip(pr, tm, src):
            st = lab.update(p)
            found += seg.update(st.label, st.score, float(t), int(i))
        events[n] = [e.to_dict() for e in found + seg.flush()]
    report["events"] = {"smoothing": key, "labels": str(DEFAULT_LABELS), "clips": events}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        say(f"wrote {args.json}")
    print_report(report)
    print_events(report)
    return 0


def print_report(r: dict) -> None:
    if "model" in r:
        print(f"model: {r['model']['description']} (receptive field {r['model']['receptive_field']} frames at "
              f"{r['model']['fps']:g} fps)\n")
    print("clips: " + ", ".join(f"{n} ({c['frames']} frames, {c['seconds']} s)" for n, c in r["clips"].items()))
    sm = r["smoothing"]
    print(f"\n### Landmark smoothing (raw: jitter {sm['raw_jitter_mm']:.1f} mm, error {sm['raw_error_mm']:.1f} mm)\n")
    print("| min_cutoff (Hz) | beta | jitter (mm) | vs raw | lag (source frames, median / max) | error (mm) |")
    print("|---|---|---|---|---|---|")
    for row in sm["grid"]:
        print(f"| {row['min_cutoff']:g} | {row['beta']:g} | {row['jitter_mm']:.1f} | {row['jitter_ratio']:.0%} | "
              f"{row['lag_frames_median']:g} / {row['lag_frames_max']} | {row['error_mm']:.1f} |")
    if "labels" not in r:
        return
    print("\n### Labels (switches per minute over all clips)\n")
    print(f"Rule: the fewest switches per minute with a step delay <= {MAX_STEP_DELAY} model frames and at most "
          f"{MAX_WORKOUT_UNCERTAIN:.0%} 'uncertain' on the workout clips ({', '.join(WORKOUT_CLIPS)}).\n")
    print("| landmarks | alpha | margin | hold | threshold | switches/min | uncertain (all / workout) | delay: step / "
          "videos (model frames) |")
    print("|---|---|---|---|---|---|---|---|")
    chosen = r.get("chosen", {})
    for sm in dict.fromkeys(row["smoothing"] for row in r["labels"]):
        rows = [row for row in r["labels"] if row["smoothing"] == sm]
        ema = [row for row in rows if row["margin"] == 0 and row["hold"] == 1 and row["threshold"] == 0]
        best = sorted((row for row in rows if row["step_delay"] <= MAX_STEP_DELAY
                       and not row["uncertain_workout"] > MAX_WORKOUT_UNCERTAIN),
                      key=lambda x: (x["switches_per_min"], x["step_delay"]))[:5]
        for row in ema + [x for x in best if x not in ema]:
            mark = " **chosen**" if row is chosen.get(sm) or row == chosen.get(sm) else ""
            print(f"| {row['smoothing']} | {row['alpha']:g} | {row['margin']:g} | {row['hold']} | "
                  f"{row['threshold']:g} | {row['switches_per_min']:.1f}{mark} | {row['uncertain']:.0%} / "
                  f"{row['uncertain_workout']:.0%} | {row['step_delay']} / {row['video_delay_median']:g} |")


def print_events(r: dict) -> None:
    ev = r.get("events")
    if not ev:
        return
    print(f"\n### Events with the defaults (landmark smoothing {ev['smoothing']}, {ev['labels']})\n")
    for clip, events in ev["clips"].items():
        text = "; ".join(f"{e['label']} {e['start']:.1f}-{e['end']:.1f} s (peak {e['peak_score']:.2f})"
                         for e in events) or "none"
        print(f"- {clip}: {text}")


if __name__ == "__main__":
    sys.exit(main())
