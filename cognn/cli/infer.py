"""``cognn-infer``: the headless online pipeline — every frame of every input through the live session.

    cognn-infer INPUT... [--model NAME] [--weights PATH|NAME] [--layout ntu25|kinetics18] [--top-k K]
                [--output PATH|-] [--format jsonl|csv] [--device cpu|cuda] [--workers N]
                [--backend torch|onnx] [--precision fp32|bf16|int8|auto]
                [--save-skeletons FILE.h5] [--render FILE.mp4] [--max-frames N] [--quiet]
                [--events FILE.jsonl|FILE.csv] [--per-person] [--no-smooth] [--mirror] [--pose-every-frame]
                [--pose-size PIXELS] [--pose-model lite|full|heavy|FILE] [--pose-search-every N]
                [--thresholds FILE] [--allow CLASS,...] [--reps CLASS[=SIGNAL],...] [--gap-reset SECONDS]
    cognn-infer --camera INDEX|DEVICE|URL [...]
    cognn-infer --demo [...]

INPUT: video files, NTU ``.skeleton`` files, Kinetics-skeleton ``.json`` files, cognn HDF5 recordings or dataset files
(every sample is one input) and folders of these (searched recursively). One record per input frame, inputs in the
order given, each input's records together and in frame order (also with ``--workers``). Every input goes through
:class:`cognn.live.session.Session` (docs/live.md): pose landmarks smoothed (``--no-smooth`` turns it off), frames
resampled by their timestamps to the model's training rate, steady labels and action events (``--events``);
``--per-person`` gives one record per person present and frame (field ``person`` added); ``--mirror`` mirrors the
``--render`` drawing only. False alarms (``--thresholds``, ``--allow``), repetition counting (``--reps``), partial
bodies and stream gaps (``--gap-reset``) follow the checkpoint's live defaults unless an option says otherwise
(:mod:`cognn.live.alarms`, :mod:`cognn.live.reps`, :mod:`cognn.live.visibility`, :mod:`cognn.sources.stream`).
Records go to stdout (or ``--output``); messages, warnings and the summary (what was
recognised, where the files went) to stderr. Exit status: 0, 1 if any input failed (it is reported and skipped, the
others complete), 2 for a usage error, 130 when stopped with Ctrl-C (what was done so far is kept).

Record fields: :mod:`cognn.live.records` (JSON lines; CSV has the same fields with ``top`` flattened to
``top1_label, top1_score, ... topK``).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import CognnError
from ..sources.open import DEMO_RECORDING
from .common import one_line_warnings, positive_int, stop_signals_as_interrupt
from .infer_jobs import (
    InputResult,
    Options,
    OutputFailedError,
    UsageError,
    make_session,
    run_here,
    run_pool,
    set_threads,
)

PROG = "cognn-infer"


# ---------------------------------------------------------------------------------------------------------------------
# arguments

def _camera(text: str) -> int | str:
    """--camera: a device index, a device path or a URL (cognn.sources.stream.parse_camera)."""
    from ..sources.stream import parse_camera

    try:
        return parse_camera(text)
    except CognnError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--camera {text!r}: ")) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _workers(text: str) -> int | str:
    return "auto" if text == "auto" else positive_int(text)


def _auto_workers(specs: list[str | int]) -> int:
    """One process per CPU core when at least two inputs need pose (videos); skeleton files run faster in one
    process than a pool takes to start."""
    from ..sources import is_pixel

    return (os.cpu_count() or 1) if sum(is_pixel(s) for s in specs) >= 2 else 1


def _pose_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, got {text!r}") from None
    if value != 0 and value < 64:
        raise argparse.ArgumentTypeError(f"expected 0 (the whole frame) or at least 64 pixels, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ..live.records import FIELDS, LIVE_FIELDS

    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the online (frame-by-frame) action recognizer over recorded clips, a folder of them or a "
                    "camera, and write one prediction record per frame.",
        epilog="examples:\n"
               "  cognn-infer --demo -o demo.jsonl            # the bundled demo recording\n"
               "  cognn-infer clip.mp4 recordings/ -o out.jsonl --workers 2\n"
               "  cognn-infer S001C001P001R001A001.skeleton --format csv --top-k 3\n"
               "  cognn-infer --camera 0 --max-frames 300 --render live.mp4\n"
               "  cognn-infer --camera rtsp://192.168.1.20:554/stream --events events.jsonl --allow squat,march\n\n"
               f"record fields: {', '.join(FIELDS[:3])}, ..., {', '.join(FIELDS[3:])}, top (K label/score pairs),\n"
               f"  {', '.join(LIVE_FIELDS)}; with --per-person also person (see cognn/live/records.py).\n"
               "event fields (--events): label, start, end, start_frame, end_frame, peak_score, person, source, reps, "
               "alarm (an alarm class such as a fall, reported the moment it was shown)."
               "\n\n"
               "With several inputs, --save-skeletons FILE.h5 and --render FILE.mp4 write one file per input:\n"
               "FILE_<i>.h5 / FILE_<i>.mp4, i = the input's 0-based position in the processing order.\n"
               "Each process uses one CPU thread (set COGNN_THREADS to change it); use --workers for parallelism.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="video (.mp4, .avi, ...), NTU .skeleton, Kinetics .json, cognn .h5 recording or dataset, "
                        "or a folder of these")
    p.add_argument("--camera", type=_camera, metavar="INDEX|DEVICE|URL", help="read a live camera instead: an OpenCV "
                   "index (0), a device path (/dev/video0) or a stream URL (rtsp://..., http://... MJPEG); a lost "
                   "stream is reopened with backoff")
    p.add_argument("--demo", action="store_true", help="run on the bundled demo recording (datasets/samples/demo.h5)")
    p.add_argument("--model", metavar="NAME", help="continual model (costgcn_mod, coagcn_mod, costr_mod, costgcn, "
                   "...); a regular name uses its continual twin")
    p.add_argument("--weights", metavar="PATH|NAME", help="checkpoint of any supported family, or a bundled model's "
                   "name (default: the default model in weights/manifest.json)")
    p.add_argument("--layout", choices=("ntu25", "kinetics18"), help="skeleton layout (default: the weights'; "
                   "Kinetics .json inputs alone pick the bundled kinetics18 model)")
    p.add_argument("--classes", metavar="NAME|FILE", help="show only these classes, scores renormalised among them: "
                   "kinetics-motion (30 Kinetics classes with much body motion) or a file of class names, one a line")
    p.add_argument("--top-k", type=positive_int, default=5, metavar="K", help="predictions per record (default 5)")
    p.add_argument("-o", "--output", default="-", metavar="PATH", help="records file, '-' for stdout (default)")
    p.add_argument("--format", choices=("jsonl", "csv"),
                   help="JSON lines or CSV (default: CSV for an --output ending in .csv, else JSON lines)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="run the model step in PyTorch "
                   "(default) or in ONNX Runtime: --weights is then a step graph made by cognn-export (no torch is "
                   "imported; docs/onnx.md)")
    p.add_argument("--precision", choices=("fp32", "bf16", "int8", "auto"), help="the torch step's matrix products: "
                   "fp32 (default), bf16 or int8 (a warning where this CPU emulates them), or auto: the fastest "
                   "measured on this machine (measured once, cached); an ONNX step keeps its export precision")
    p.add_argument("--workers", type=_workers, default="auto", metavar="N|auto", help="parallel processes, one input "
                   "each (default auto: one per CPU core when two or more inputs are videos)")
    p.add_argument("--save-skeletons", metavar="FILE.h5", help="store the skeletons and events as a cognn recording")
    p.add_argument("--render", metavar="FILE.mp4", help="write a video (.mp4 or .avi) with the skeleton, each "
                   "person's label and the top predictions drawn")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop each input after N frames")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    live = p.add_argument_group("live options (docs/live.md)")
    live.add_argument("--events", metavar="FILE", help="write the action events of every input to FILE (.jsonl or "
                      ".csv)")
    live.add_argument("--per-person", action="store_true", help="one continual state and label per tracked person "
                      "(records get person)")
    live.add_argument("--no-smooth", action="store_true", help="do not smooth the pose landmarks")
    live.add_argument("--pose-model", metavar="lite|full|heavy|FILE", help="MediaPipe pose landmarker: a variant "
                      "(only full ships; weights/pose_landmarker_<variant>.task) or a .task file (default full)")
    live.add_argument("--pose-size", type=_pose_size, metavar="PIXELS", help="longest side of the picture pose "
                      "sees (default 640; 0: the whole frame). Smaller is faster (docs/benchmarks.md)")
    live.add_argument("--pose-search-every", type=positive_int, metavar="N", help="with fewer people in view than "
                      "person slots, let MediaPipe look for more only every N-th frame and just track the others "
                      "(default 1: every frame). About 40%% less pose time with one person in view, but a fast mover "
                      "can be lost in a crowded scene (docs/benchmarks.md)")
    live.add_argument("--pose-every-frame", action="store_true", help="run pose on every picture of a video (default: "
                      "only on those the model's 30 fps needs, every other picture of a 60 fps video; the records of "
                      "the others hold the latest answer with pose_ms null)")
    live.add_argument("--mirror", action="store_true", help="draw a mirror image in --render (the model still sees "
                      "the camera's own frame)")
    live.add_argument("--thresholds", metavar="FILE", help="false-alarm policy (.json or .toml): per-class score "
                      "thresholds, confirmation times, minimum event durations, allow-list, repetitive classes "
                      "(default: the checkpoint's own; docs/live.md)")
    live.add_argument("--allow", metavar="CLASS,...", help="show only these classes; any other is shown as "
                      "uncertain and makes no event")
    live.add_argument("--reps", metavar="CLASS[=SIGNAL],...", help="count repetitions of these classes too (signals: "
                      "arms, squat, knees; the checkpoint's repetitive classes are always counted)")
    live.add_argument("--gap-reset", type=_seconds, metavar="SECONDS", help="a stream lost this long or longer "
                      "closes the events going on and restarts the model (default 1; shorter gaps are bridged)")
    return p


# ---------------------------------------------------------------------------------------------------------------------
# the command

def _say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"unsupported device {device!r}; use cpu or cuda")


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def _events_text(results: list[InputResult]) -> list[str]:
    """What was recognised: each input's action events (or that there were none)."""
    from ..render import percent

    lines = []
    names = display_names([r.source for r in results])
    for r, name in zip(results, names):
        if r.error is not None or not r.frames:
            continue
        if not r.events and r.ready_frames == 0:
            need = f" (it needs {r.warmup_s:.1f} s of input)" if r.warmup_s else ""
            lines.append(f"{name}: no action event: the input ended while the model was still warming up{need}")
            continue
        if not r.events:
            lines.append(f"{name}: no action event (nothing held a steady label for 0.5 s)")
            continue
        shown = [f"ALARM {e.label} at {e.start:.1f} s ({percent(e.peak_score)})" if e.alarm else
                 f"{e.label}{'' if e.reps is None else f' ×{e.reps}'} {e.start:.1f}-{e.end:.1f} s "
                 f"({percent(e.peak_score)})" for e in r.events[:6]]
        more = f", and {len(r.events) - 6} more" if len(r.events) > 6 else ""
        lines.append(f"{name}: {', '.join(shown)}{more}")
    return lines


def display_names(sources: list[str]) -> list[str]:
    """Each input's name in the summary: its file name, or the path as given where two inputs share a file name."""
    base = [Path(str(s)).name or str(s) for s in sources]
    return [str(s) if base.count(b) > 1 else b for s, b in zip(sources, base)]


def _summary(results: list[InputResult], wall_s: float) -> list[str]:
    import numpy as np

    frames = sum(r.frames for r in results)
    failed = sum(r.error is not None for r in results)
    model = [m for r in results for m in r.model_ms]
    pose = [m for r in results for m in r.pose_ms]
    latency = [m for r in results for m in r.latency_ms]
    lines = [f"{len(results)} input{'s' if len(results) != 1 else ''} ({failed} failed), {frames} frames "
             f"in {wall_s:.2f} s: {frames / wall_s if wall_s > 0 else float('nan'):.1f} frames/s end to end"]
    if model:
        lines.append(f"model step: mean {np.mean(model):.2f} ms, p50 {_percentile(model, 50):.2f} ms, "
                     f"p95 {_percentile(model, 95):.2f} ms")
    if pose:
        lines.append(f"pose: mean {np.mean(pose):.1f} ms, p50 {_percentile(pose, 50):.1f} ms, "
                     f"p95 {_percentile(pose, 95):.1f} ms")
    if latency:
        lines.append(f"capture to result: p50 {_percentile(latency, 50):.1f} ms, p95 {_percentile(latency, 95):.1f} ms")
    return lines


def _inputs(args: argparse.Namespace, skipped: list[str]) -> list[str | int]:
    from ..sources import SUPPORTED_EXTENSIONS, expand_inputs

    if args.camera is not None:
        if args.inputs or args.demo:
            raise UsageError("--camera reads a live camera or stream; give no INPUT files and no --demo with it")
        return [args.camera]
    if args.demo:
        if args.inputs:
            raise UsageError("--demo runs on the bundled recording; give no INPUT files with it")
        if not DEMO_RECORDING.is_file():
            raise UsageError(f"the demo recording {DEMO_RECORDING} is missing: this cognn installation lacks its "
                             "bundled files; reinstall cognn (in a checkout: python tools/make_demo_recording.py)")
        return [str(DEMO_RECORDING)]
    if not args.inputs:
        raise UsageError("no INPUT given; pass video/skeleton files or folders, --camera INDEX, or --demo to try the "
                         "bundled recording")
    specs: list[str | int] = list(expand_inputs(args.inputs, skipped))
    if not specs:
        folders = ", ".join(str(i) for i in args.inputs[:3]) + (" ..." if len(args.inputs) > 3 else "")
        raise UsageError(f"{folders}: no supported file in {'these folders' if len(args.inputs) > 1 else 'this folder'}"
                         f" (supported: {', '.join(SUPPORTED_EXTENSIONS)})")
    return specs


def _precheck(specs: list[str | int]) -> list[str]:
    """The inputs that cannot be opened at all (missing, not a regular file, unsupported): one sentence each,
    found before the model loads."""
    from ..data.files import check_input_file
    from ..sources import SUPPORTED_EXTENSIONS, source_kind, split_sample

    bad = []
    for spec in specs:
        if isinstance(spec, int) or source_kind(spec) == "stream":
            continue
        path = Path(split_sample(spec)[0])
        try:
            if source_kind(path) is None:
                raise CognnError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; supported: "
                                 f"{', '.join(SUPPORTED_EXTENSIONS)}")
            check_input_file(path)
        except CognnError as e:
            bad.append(str(e))
    return bad


def _outputs(args: argparse.Namespace, specs: list[str | int]) -> tuple[str, ...]:
    """Every output checked before anything runs: not an input, a folder that exists and can be written. Temporary
    files that killed runs left beside an output are removed, and said so."""
    from ..atomic import OutputError, check_output, check_outputs, clean_stale
    from ..sources import source_kind, split_sample
    from .infer_jobs import numbered

    inputs = tuple(split_sample(s)[0] for s in specs if isinstance(s, str) and source_kind(s) != "stream")
    several = len(specs) > 1
    targets: list[tuple[str | Path, str]] = []
    if args.output != "-":
        targets.append((args.output, "--output"))
    if args.events:
        if Path(args.events).suffix.lower() not in (".jsonl", ".csv"):
            raise UsageError(f"--events writes .jsonl or .csv files, not {args.events}")
        targets.append((args.events, "--events"))
    for value, what in ((args.save_skeletons, "--save-skeletons"), (args.render, "--render")):
        if value:
            targets += [(numbered(value, i, several), what) for i in range(len(specs) if several else 1)]
    named: list[tuple[str | Path, str]] = [(p, "input") for p in inputs]
    for value, what in ((args.weights, "--weights"), (args.classes, "--classes"), (args.thresholds, "--thresholds"),
                        (args.pose_model, "--pose-model")):
        if value and os.path.exists(value):  # a bundled name ("lite", "kinetics-motion") is no file of the user's
            named.append((value, what))
    try:
        check_outputs(targets, named)
        for path, what in targets:
            check_output(path, what, inputs)
            for left in clean_stale(path):
                _say(f"note: removed {left}, left behind by an interrupted run")
        if args.render:
            from ..render import VIDEO_FORMATS

            if Path(args.render).suffix.lower() not in VIDEO_FORMATS:
                raise UsageError(f"--render writes {' or '.join(VIDEO_FORMATS)} videos, not {args.render}")
    except OutputError as e:
        raise UsageError(str(e)) from None
    return tuple(str(p) for p, _ in named)


def _live_options(args: argparse.Namespace) -> dict[str, Any]:
    """The live options of :class:`Options` (alarm policy, allow-list, repetitive classes, gap reset), checked."""
    from ..live.alarms import load_alarm_config, parse_allow
    from ..live.reps import parse_reps

    out: dict[str, Any] = {}
    if args.thresholds:
        out["alarms"] = load_alarm_config(args.thresholds)
    if args.allow is not None:
        out["allow"] = parse_allow(args.allow)
    if args.reps:
        try:
            out["rep_classes"] = parse_reps(args.reps)
        except ValueError as e:
            raise UsageError(f"--reps: {e}") from None
    if args.gap_reset is not None:
        out["gap_reset"] = args.gap_reset
    return out


def _layout(args: argparse.Namespace, specs: list[str | int]) -> str | None:
    """The layout asked for; without --layout, --weights and --model, skeleton files that all share another layout
    than the default model's pick the bundled model of theirs (Kinetics .json: kinetics18)."""
    if args.layout or args.weights or args.model:
        return args.layout
    from ..sources import is_pixel, natural_layout

    found = {natural_layout(s, "") for s in specs if not is_pixel(s)}
    if len(found) == 1 and not any(is_pixel(s) for s in specs):
        layout = found.pop()
        return layout or None
    return None


def _run(args: argparse.Namespace) -> int:
    from ..sources import source_kind

    if args.backend == "onnx":
        if args.device != "cpu":
            raise UsageError("--backend onnx runs on the CPU (ONNX Runtime's CPU provider); leave out --device")
        if not args.weights:
            raise UsageError("--backend onnx needs --weights FILE.onnx, a step graph made by cognn-export")
    else:
        _check_device(args.device)
    set_threads(args.backend)
    skipped: list[str] = []
    specs = _inputs(args, skipped)
    inputs = _outputs(args, specs)
    for line in skipped:
        _say(f"note: {line}")
    if args.pose_model is not None and any(isinstance(s, int) or source_kind(s) in ("video", "stream") for s in specs):
        from ..pose.landmarker import resolve_model_path

        resolve_model_path(args.pose_model)  # a missing pose model is the command line's fault: say so at once
    bad = _precheck(specs)
    if bad and len(bad) == len(specs):
        for line in bad:
            _say(f"error: {line} (skipped)")
        _say(f"{len(specs)} input{'s' if len(specs) != 1 else ''} ({len(specs)} failed), nothing to run")
        return 1
    several = len(specs) > 1
    classes = None
    if args.classes:
        from ..data.classes import class_subset

        classes = class_subset(args.classes)  # a bad list fails now, before the model loads
    alarms = _live_options(args)  # a bad policy file or --reps fails now too
    opts = Options(weights=args.weights, model=args.model, layout=_layout(args, specs), top_k=args.top_k,
                   device=args.device, max_frames=args.max_frames, save_skeletons=args.save_skeletons,
                   render=args.render, several=several, per_person=args.per_person, smooth=not args.no_smooth,
                   mirror=args.mirror, inputs=inputs, classes=classes, pose_model=args.pose_model,
                   pose_size=args.pose_size, pose_every_frame=args.pose_every_frame,
                   pose_search_every=args.pose_search_every,
                   backend=args.backend, precision=args.precision, **alarms)
    from ..online import UnknownClassError

    try:
        session = make_session(opts, say=_say)
    except UnknownClassError as e:
        if args.classes and Path(args.classes).is_file():
            raise CognnError(f"--classes {args.classes}: {e} (the list names classes of another model?)") from None
        raise
    rec = session.recognizer
    if args.top_k > len(rec.classes):
        _say(f"note: the model has {len(rec.classes)} classes; writing the top {len(rec.classes)}")
    if not args.quiet:
        _say(f"model: {session.description}")
    show = not args.quiet and sys.stderr.isatty()
    fmt = args.format or ("csv" if str(args.output or "").lower().endswith(".csv") else "jsonl")
    t0 = time.perf_counter()
    results, interrupted, written = _write_records(args, specs, opts, session, fmt, rec.top_k, show)
    wall = time.perf_counter() - t0
    for r in results:
        if r.error is not None:
            _say(f"error: {r.error} (skipped)")
    if args.events and not any(r.frames for r in results):  # nothing was read (a camera that failed to open)
        if not args.quiet:
            _say(f"no frame was read, so {args.events} was not written")
    elif args.events:
        from ..live.events import write_events

        events = [e for r in results for e in r.events]
        write_events(args.events, events)
        if not args.quiet:
            _say(f"wrote {len(events)} event{'s' if len(events) != 1 else ''} to {args.events}")
    if not args.quiet:
        for line in _events_text(results):
            _say(line)
        for r in results:
            for path in r.outputs:
                _say(f"wrote {path}")
        if args.output != "-":
            _say(f"wrote {written} record{'s' if written != 1 else ''} to {args.output}" if written
                 else f"no record, {args.output} was not written")
        for line in _summary(results, wall):
            _say(line)
    if interrupted:
        _say("interrupted")
        return 130
    return 1 if any(r.error is not None for r in results) else 0


def _write_records(args: argparse.Namespace, specs: list[str | int], opts: Options, session: Any, fmt: str,
                   top_k: int, show: bool) -> tuple[list[InputResult], bool, int]:
    """Run the inputs, writing records to stdout or (whole or not at all) to ``--output``; (results, interrupted,
    records written). A run that writes no record leaves an earlier ``--output`` as it was."""
    from ..atomic import AtomicOutput
    from ..live.records import RecordWriter

    out: AtomicOutput | None = None
    stream: TextIO
    if args.output == "-":
        stream = sys.stdout
    else:
        out = AtomicOutput(args.output, what="--output", inputs=opts.inputs)
        stream = open(out.temp, "w", encoding="utf-8", newline="")
    writer = RecordWriter(stream, fmt, top_k, per_person=args.per_person)
    ok = False
    try:
        try:
            workers = _auto_workers(specs) if args.workers == "auto" else args.workers
            if workers == 1 or len(specs) == 1:
                results, interrupted = run_here(specs, opts, session, writer.write, show)
            else:
                session.close()
                results, interrupted = run_pool(specs, opts, writer.write, show, min(workers, len(specs)))
            stream.flush()
            if out is not None:
                stream.close()
            ok = True
        finally:
            if out is not None:
                if not stream.closed:
                    try:
                        stream.close()
                    except OSError:
                        pass
                if ok and writer.count:
                    out.commit()
                else:
                    out.abort()
    except BrokenPipeError:
        raise
    except (OSError, OutputFailedError) as e:  # a full disk, a device that refuses writes: the output, not an input
        where = "stdout" if out is None else args.output
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise UsageError(f"the records cannot be written to {where} ({reason or e})") from None
    return results, interrupted, writer.count


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-infer``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed usage and "cognn-infer: error: ..."
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 2
    try:
        with one_line_warnings(PROG), stop_signals_as_interrupt():
            return _run(args)
    except BrokenPipeError:  # e.g. piped into `head`: not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 0
    except (CognnError, ValueError, OSError) as e:  # bad weights file, unknown model name, unwritable output
        _say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
