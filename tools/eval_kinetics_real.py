"""The bundled Kinetics-400 model (the official ST-GCN, ``weights/kinetics400_costgcn_original.safetensors``) online,
on the real clips in ../shared/data/video: early predictions and the paper's Table V claim on real weights.

    python tools/eval_kinetics_real.py                      # markdown tables on stdout, numbers in .cache/
    python tools/eval_kinetics_real.py --step 4 --json out.json

Per clip: video -> MediaPipe pose -> OpenPose-18 joints in the plain image2d form (``cognn.pose.extract_skeletons``,
the live pixel path: x/w - 0.5, y/h - 0.5 with y down, score, zeros where the score is 0 — the st-gcn Kinetics feeder
convention, so nothing more is applied), resampled to 30 fps by the timestamps. The skeletons are extracted once and
cached in ``.cache/kinetics_eval/`` (keyed by the video's SHA-1).

1. The regular ``stgcn_original`` on the whole clip: top-1 / top-5.
2. Early predictions: for every ``--step``-th frame ``t``, the regular model on frames ``0..t`` (the clip seen so
   far) against the latest prediction of the continual ``costgcn_original`` at step ``t``, for each early mode
   (``off`` = cold start, no answer before step 296; ``replicate``, ``prefix``, ``replicate-prefix``, ``bridged``:
   warm start, docs/continual.md). The share of sampled frames whose top-1 agrees, per clip and per second of stream.
3. Table V on real skeletons: the clip followed by zeros (the st-gcn feeder's padding) as a stream; at every step
   ``t = 296 + 4k`` where the strided continual model answers, its top-1 against the regular model on the window
   ``t-299..t`` (zeros before the start); the same for the ``*`` pair (``costgcn_original_mod`` vs
   ``stgcn_original_mod``, exact by construction) and for the ``*`` continual model against the regular model (what
   the paper's CoST-GCN* loses without fine-tuning).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.checkpoints import load_model  # noqa: E402
from cognn.data.files import file_digest  # noqa: E402
from cognn.models.base import EARLY_MODES  # noqa: E402
from cognn.train.clips import resample  # noqa: E402

PROG = "eval_kinetics_real"
VIDEOS = REPO.parent / "shared" / "data" / "video"
WEIGHTS = REPO / "weights" / "kinetics400_costgcn_original.safetensors"
CACHE = REPO / ".cache" / "kinetics_eval"
CACHE_VERSION = 1
FPS = 30.0
WINDOW = 300
MODES = ("off", *EARLY_MODES)
#: frames after the clip in the Table V stream (zeros, as the st-gcn feeder pads)
TAIL = 20


def _log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def skeletons(video: Path) -> tuple[np.ndarray, dict]:
    """``(T, 3, 18, 2)`` at 30 fps in the plain image2d form, and info; extracted once, then read from the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"{video.stem}-{file_digest(video, 'sha1')[:12]}-v{CACHE_VERSION}.npz"
    if cached.is_file():
        z = np.load(cached, allow_pickle=False)
        return z["skeleton"], json.loads(str(z["info"]))
    from cognn.pose.tracker import extract_skeletons

    t0 = time.perf_counter()
    skel, stamps, info = extract_skeletons(video, layout="kinetics18", num_persons=2)
    x = resample(skel, stamps, FPS)
    keep = {"frames_native": int(len(skel)), "fps_native": info.get("fps"), "frames": int(len(x)),
            "frames_with_people": int(info["frames_with_people"]), "pose_ms_per_frame": info["pose_ms_per_frame"],
            "width": info["width"], "height": info["height"], "domain": info["domain"]}
    tmp = cached.with_name(cached.stem + ".partial.npz")
    np.savez(tmp, skeleton=x.astype(np.float32), info=json.dumps(keep))
    tmp.replace(cached)
    _log(f"{video.name}: {len(skel)} frames extracted in {time.perf_counter() - t0:.0f} s")
    return x.astype(np.float32), keep


def _clip_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(1, 0, 2, 3).unsqueeze(0).contiguous()  # (1, 3, T, 18, 2)


def topk(logits: torch.Tensor, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    p = torch.softmax(logits.flatten(), 0)
    v, i = p.topk(k)
    return [(classes[int(j)], float(q)) for q, j in zip(v, i)]


def stream_top1(co, x: torch.Tensor, mode: str) -> list[int | None]:
    """The top-1 the continual model shows at every step (the latest prediction; None before the first)."""
    co.warm_start = mode != "off"
    if mode != "off":
        co.early_mode = mode
    co.clean_state()
    shown: list[int | None] = []
    last = None
    with torch.inference_mode():
        for t in range(x.shape[2]):
            y = co.forward_step(x[:, :, t])
            if y is not None:
                last = int(y.argmax())
            shown.append(last)
    return shown


def early(reg, co, x: torch.Tensor, step: int) -> dict:
    """Regular model on frames 0..t vs the continual model's shown top-1 at t, every ``step`` frames, per mode."""
    ts = list(range(0, x.shape[2], step))
    with torch.inference_mode():
        ref = {t: int(reg(x[:, :, :t + 1]).argmax()) for t in ts}
    out = {"t": ts, "regular": [ref[t] for t in ts]}
    for mode in MODES:
        shown = stream_top1(co, x, mode)
        out[mode] = [shown[t] for t in ts]
        first = next((t for t, s in enumerate(shown) if s is not None), None)
        out[f"{mode}_first"] = first
    return out


def table_v(models: dict, x: torch.Tensor) -> dict:
    """Top-1 agreement on the windows where the strided continual model answers (clip + zeros as a stream)."""
    n = max(x.shape[2], WINDOW) + TAIL
    s = torch.zeros(1, 3, n, 18, 2)
    s[:, :, :x.shape[2]] = x
    padded = torch.cat([torch.zeros(1, 3, WINDOW - 1, 18, 2), s], dim=2)  # window t-299..t = padded[t..t+299]
    res = {}
    with torch.inference_mode():
        co, co_mod = models["costgcn_original"], models["costgcn_original_mod"]
        for m in (co, co_mod):
            m.warm_start = False
            m.clean_state()
        outs = {t: int(y.argmax()) for t in range(n) if (y := co.forward_step(s[:, :, t])) is not None}
        outs_mod = {t: int(y.argmax()) for t in range(n) if (y := co_mod.forward_step(s[:, :, t])) is not None}
        ts = sorted(outs)
        reg = {t: int(models["stgcn_original"](padded[:, :, t:t + WINDOW]).argmax()) for t in ts}
        ts_mod = [t for t in ts if t in outs_mod]
        reg_mod = {t: int(models["stgcn_original_mod"](padded[:, :, t:t + WINDOW]).argmax()) for t in ts_mod}
    res["windows"] = ts
    res["strided_vs_regular"] = [outs[t] == reg[t] for t in ts]
    res["mod_vs_regular_mod"] = [outs_mod[t] == reg_mod[t] for t in ts_mod]
    res["mod_vs_regular"] = [outs_mod[t] == reg[t] for t in ts_mod]
    return res


def _pct(values: list[bool]) -> str:
    return "–" if not values else f"{100 * sum(values) / len(values):.0f} % ({sum(values)}/{len(values)})"


def report(results: list[dict], classes: list[str], step: int) -> str:
    lines = ["### Regular ST-GCN (original) on the whole clip", "",
             "| clip | frames at 30 fps (native: frames, fps, with people) | top-1 | top-5 |", "|---|---|---|---|"]
    for r in results:
        top = r["top5"]
        native = f"{r['frames_native']}, {r['fps_native']:.2f} fps, {r['frames_with_people']} with people"
        lines.append(f"| {r['clip']} | {r['frames']} ({native}) | {top[0][0]} ({top[0][1]:.2f}) | "
                     + ", ".join(f"{c} ({p:.2f})" for c, p in top[1:]) + " |")
    lines += ["", f"### Early predictions: continual top-1 = regular top-1 on the clip so far (every {step}th frame)",
              "", "| clip | " + " | ".join(MODES) + " | first answer (s): " + " / ".join(MODES) + " |",
              "|---|" + "---|" * (len(MODES) + 1)]
    for r in results:
        e = r["early"]
        cells = [_pct([a == b for a, b in zip(e[m], e["regular"])]) for m in MODES]
        first = " / ".join("–" if e[f"{m}_first"] is None else f"{e[f'{m}_first'] / FPS:.1f}" for m in MODES)
        lines.append(f"| {r['clip']} | " + " | ".join(cells) + f" | {first} |")
    allm = {m: [a == b for r in results for a, b in zip(r["early"][m], r["early"]["regular"])] for m in MODES}
    lines.append("| **all clips** | " + " | ".join(_pct(allm[m]) for m in MODES) + " | |")
    lines += ["", "Per second of stream (all clips):", "", "| second | samples | " + " | ".join(MODES) + " |",
              "|---|---|" + "---|" * len(MODES)]
    seconds = max((t for r in results for t in r["early"]["t"]), default=0) // int(FPS) + 1
    for sec in range(seconds):
        rows = {m: [] for m in MODES}
        for r in results:
            e = r["early"]
            for i, t in enumerate(e["t"]):
                if t // int(FPS) == sec:
                    for m in MODES:
                        rows[m].append(e[m][i] == e["regular"][i])
        count = len(rows[MODES[0]])
        lines.append(f"| {sec}-{sec + 1} s | {count} | " + " | ".join(_pct(rows[m]) for m in MODES) + " |")
    lines += ["", "### Table V on real skeletons: top-1 agreement over the same windows", "",
              "| clip | windows | CoST-GCN vs ST-GCN | CoST-GCN* vs ST-GCN* | CoST-GCN* vs ST-GCN |",
              "|---|---|---|---|---|"]
    tot = {k: [] for k in ("strided_vs_regular", "mod_vs_regular_mod", "mod_vs_regular")}
    for r in results:
        v = r["table_v"]
        for k in tot:
            tot[k] += v[k]
        lines.append(f"| {r['clip']} | {len(v['windows'])} | {_pct(v['strided_vs_regular'])} | "
                     f"{_pct(v['mod_vs_regular_mod'])} | {_pct(v['mod_vs_regular'])} |")
    lines.append(f"| **all clips** | {sum(len(r['table_v']['windows']) for r in results)} | "
                 f"{_pct(tot['strided_vs_regular'])} | {_pct(tot['mod_vs_regular_mod'])} | "
                 f"{_pct(tot['mod_vs_regular'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=Path, default=VIDEOS, help="folder of videos (default ../shared/data/video)")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="the Kinetics checkpoint")
    p.add_argument("--step", type=int, default=8, help="sample every STEP-th frame for the early comparison (8)")
    p.add_argument("--clips", help="comma-separated video names (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", type=Path, default=CACHE / "results.json", help="where to write the numbers")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    videos = sorted(v for v in args.videos.iterdir() if v.suffix.lower() in (".mp4", ".avi"))
    if args.clips:
        wanted = set(args.clips.split(","))
        videos = [v for v in videos if v.name in wanted or v.stem in wanted]
    names = ("stgcn_original", "stgcn_original_mod", "costgcn_original", "costgcn_original_mod")
    models = {n: load_model(args.weights, model=n) for n in names}
    classes = models["stgcn_original"].checkpoint_meta["classes"]
    results = []
    for video in videos:
        t0 = time.perf_counter()
        x_np, info = skeletons(video)
        x = _clip_tensor(x_np)
        with torch.inference_mode():
            top5 = topk(models["stgcn_original"](x), classes)
        r = {"clip": video.name, **info, "top5": top5,
             "early": early(models["stgcn_original"], models["costgcn_original"], x, args.step),
             "table_v": table_v(models, x)}
        results.append(r)
        _log(f"{video.name}: {info['frames']} frames, top-1 {top5[0][0]} ({top5[0][1]:.2f}), "
             f"{time.perf_counter() - t0:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"step": args.step, "results": results}, indent=1) + "\n")
    sys.stdout.write(report(results, classes, args.step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
