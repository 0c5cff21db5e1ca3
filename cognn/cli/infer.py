"""``cognn-infer``: the headless online pipeline — every frame of every input through the continual model.

    cognn-infer INPUT... [--model NAME] [--weights PATH] [--layout ntu25|kinetics18] [--top-k K]
                [--output PATH|-] [--format jsonl|csv] [--device cpu|cuda] [--workers N]
                [--save-skeletons FILE.h5] [--render FILE.mp4] [--max-frames N] [--quiet]
                [--events FILE.jsonl|FILE.csv] [--per-person] [--no-smooth] [--mirror]
    cognn-infer --camera INDEX [...]
    cognn-infer --demo [...]

INPUT: video files, NTU ``.skeleton`` files, Kinetics-skeleton ``.json`` files, cognn HDF5 recordings or dataset files
(every sample is one input) and folders of these (searched recursively). One record per input frame, inputs in the
order given, each input's records together and in frame order (also with ``--workers``). Every input goes through
the live pipeline (:class:`cognn.live.pipeline.LivePipeline`, docs/live.md): pose landmarks smoothed (``--no-smooth``
turns it off), frames resampled by their timestamps to the model's training rate, steady labels and action events
(``--events``); ``--per-person`` gives one record per person present and frame (fields ``person``, ``label``,
``label_score`` added); ``--mirror`` mirrors the ``--render`` drawing only. Records go to stdout (or
``--output``); messages, warnings and the summary to stderr. Exit status: 0, 1 if any input failed (it is reported and
skipped, the others complete), 2 for a usage error.

Record fields (JSON lines; CSV has the same fields with ``top`` flattened to ``top1_label, top1_score, ... topK``):
``source`` (the input as given, ``file.h5#i`` for a dataset sample, ``camera N``), ``frame`` (0-based), ``timestamp``
(seconds), ``persons`` (seen in the frame), ``ready`` (the prediction is exact: the receptive field holds only real
frames; with the default warm start, earlier predictions come from a buffer filled with the first frame), ``top``
(K ``{"label", "score"}``, highest first, softmax probabilities), ``model_ms`` (the model step), ``pose_ms`` (pixel
inputs, else null), ``model`` (registry name) and ``weights_trained`` (false when no trained weights were found: the
predictions then mean nothing, and stderr says so).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from ..errors import CognnError
from .common import positive_int

PROG = "cognn-infer"
#: the bundled recording used by ``--demo`` (made by tools/make_demo_recording.py)
DEMO_RECORDING = Path(__file__).resolve().parents[2] / "datasets" / "samples" / "demo.h5"
_FIELDS = ("source", "frame", "timestamp", "persons", "ready", "model_ms", "pose_ms", "model", "weights_trained")


class UsageError(CognnError):
    """A problem with the command line (exit status 2)."""


# ---------------------------------------------------------------------------------------------------------------------
# arguments

def _index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a camera index (0, 1, ...), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a camera index (0, 1, ...), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the online (frame-by-frame) action recognizer over recorded clips, a folder of them or a "
                    "camera, and write one prediction record per frame.",
        epilog="examples:\n"
               "  cognn-infer --demo                         # the bundled demo recording\n"
               "  cognn-infer clip.mp4 recordings/ -o out.jsonl --workers 2\n"
               "  cognn-infer S001C001P001R001A001.skeleton --format csv --top-k 3\n"
               "  cognn-infer --camera 0 --max-frames 300 --render live.mp4\n\n"
               "With several inputs, --save-skeletons FILE.h5 and --render FILE.mp4 write one file per input:\n"
               "FILE_<i>.h5 / FILE_<i>.mp4, i = the input's 0-based position in the processing order.\n"
               "Each process uses one CPU thread (set COGNN_THREADS to change it); use --workers for parallelism.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="video (.mp4, .avi, ...), NTU .skeleton, Kinetics .json, cognn .h5 recording or dataset, "
                        "or a folder of these")
    p.add_argument("--camera", type=_index, metavar="INDEX", help="read a live camera (OpenCV index) instead")
    p.add_argument("--demo", action="store_true", help="run on the bundled demo recording (datasets/samples/demo.h5)")
    p.add_argument("--model", metavar="NAME", help="continual model (costgcn_mod, coagcn_mod, costr_mod, costgcn, "
                   "...); a regular name uses its continual twin")
    p.add_argument("--weights", metavar="PATH", help="checkpoint of any supported family (default: the default "
                   "model in weights/manifest.json)")
    p.add_argument("--layout", choices=("ntu25", "kinetics18"), help="skeleton layout (default: the weights')")
    p.add_argument("--top-k", type=positive_int, default=5, metavar="K", help="predictions per record (default 5)")
    p.add_argument("-o", "--output", default="-", metavar="PATH", help="records file, '-' for stdout (default)")
    p.add_argument("--format", choices=("jsonl", "csv"),
                   help="JSON lines or CSV (default: CSV for an --output ending in .csv, else JSON lines)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N", help="parallel processes, one input each")
    p.add_argument("--save-skeletons", metavar="FILE.h5", help="store the skeletons as a cognn recording")
    p.add_argument("--render", metavar="FILE.mp4", help="write a video with the skeleton and top predictions drawn")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop each input after N frames")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    live = p.add_argument_group("live options (docs/live.md)")
    live.add_argument("--events", metavar="FILE", help="write the action events {label, start, end, peak_score, "
                      "person, source} of every input to FILE (.jsonl or .csv)")
    live.add_argument("--per-person", action="store_true", help="one continual state and label per tracked person "
                      "(records get person, label and label_score)")
    live.add_argument("--no-smooth", action="store_true", help="do not smooth the pose landmarks")
    live.add_argument("--mirror", action="store_true", help="draw a mirror image in --render (the model still sees "
                      "the camera's own frame)")
    return p


@dataclass
class Options:
    """Everything a job needs to know (picklable, sent to worker processes)."""

    weights: str | None
    model: str | None
    layout: str | None
    top_k: int
    device: str
    max_frames: int | None
    save_skeletons: str | None
    render: str | None
    several: bool
    per_person: bool = False
    smooth: bool = True
    mirror: bool = False


# ---------------------------------------------------------------------------------------------------------------------
# one input

@dataclass
class InputResult:
    """What one input produced: its records (worker mode), counts, timings, and the error if it failed."""

    index: int
    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    model_ms: list[float] = field(default_factory=list)
    pose_ms: list[float] = field(default_factory=list)
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    #: action events of the input (cognn.live.events.Event)
    events: list[Any] = field(default_factory=list)
    #: stopped by Ctrl-C (the frames so far are complete, output files closed)
    interrupted: bool = False


def numbered(path: str, index: int, several: bool) -> Path:
    """``path`` itself for a single input, else ``<stem>_<index><suffix>`` beside it."""
    p = Path(path)
    return p if not several else p.with_name(f"{p.stem}_{index}{p.suffix}")


def make_record(source: str, pred, model: str, trained: bool) -> dict[str, Any]:
    """The output record of one frame."""
    return {"source": source, "frame": pred.frame, "timestamp": round(pred.timestamp, 6), "persons": pred.persons,
            "ready": pred.ready, "top": [{"label": label, "score": round(score, 6)} for label, score in pred.top],
            "model_ms": round(pred.model_ms, 4),
            "pose_ms": None if pred.pose_ms is None else round(pred.pose_ms, 3),
            "model": model, "weights_trained": trained}


class _Context:
    """Per-process state: the recognizer and a pose estimator shared by the video inputs."""

    def __init__(self, opts: Options, recognizer=None) -> None:
        self.opts = opts
        self.recognizer = recognizer if recognizer is not None else make_recognizer(opts, quiet=True)
        self.pipeline = make_pipeline(opts, self.recognizer)
        self._estimator = None

    def estimator(self):
        if self._estimator is None:
            self._estimator = self.pipeline.estimator()
        return self._estimator

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None


def _open(spec: str | int, ctx: _Context):
    from ..sources import open_source, source_kind

    rec = ctx.recognizer
    pixel = isinstance(spec, int) or source_kind(spec) == "video"
    src = open_source(spec, layout=rec.layout, num_persons=rec.model.num_persons,
                      estimator=ctx.estimator() if pixel else None)
    try:
        ctx.pipeline.check_source(src)  # a 2-D model on 3-D data or the reverse: one sentence naming both
    except BaseException:
        src.close()
        raise
    return src


def make_pipeline(opts: Options, recognizer):
    """The live pipeline for the options around ``recognizer``."""
    from ..live.pipeline import LiveConfig, LivePipeline
    from ..live.smoothing import DEFAULT_SMOOTHING, NO_SMOOTHING

    config = LiveConfig(smoothing=DEFAULT_SMOOTHING if opts.smooth else NO_SMOOTHING,
                        persons="single" if opts.per_person else "all", mirror=opts.mirror)
    return LivePipeline(recognizer, config)


def live_records(source: str, step, model: str, trained: bool, per_person: bool) -> list[dict[str, Any]]:
    """The records of one input frame: the latest prediction (frame and timestamp of the input frame); with
    ``per_person`` one per person, with the person's id and steady label."""
    frame = step.frame
    out = []
    for view in step.persons if per_person else step.persons[:1]:
        rec = make_record(source, view.prediction, model, trained)
        rec["frame"], rec["timestamp"] = frame.index, round(float(frame.timestamp), 6)
        rec["persons"], rec["pose_ms"] = frame.persons, None if frame.pose_ms is None else round(frame.pose_ms, 3)
        if per_person:
            rec.update(person=view.person, label=view.label.label, label_score=round(view.label.score, 6))
        out.append(rec)
    return out


def run_input(index: int, spec: str | int, ctx: _Context, emit: Callable[[dict[str, Any]], None],
              tick: Callable[[], None] | None = None) -> InputResult:
    """Run one input frame by frame, emitting a record per frame; failures are caught and reported in the result."""
    from ..data.store import RecordingWriter
    from ..render import VideoRenderer, render_frame

    opts, rec, pipe = ctx.opts, ctx.recognizer, ctx.pipeline
    name = f"camera {spec}" if isinstance(spec, int) else str(spec)
    res = InputResult(index, name)
    writer = renderer = None
    src = None
    try:
        src = _open(spec, ctx)
        pipe.reset(name)
        if opts.save_skeletons:
            out = numbered(opts.save_skeletons, index, opts.several)
            writer = RecordingWriter(out, rec.layout, src.domain, rec.model.num_persons, source=name, fps=src.fps,
                                     extra_attrs={"canvas_size": list(src.canvas_size)})
        if opts.render:
            renderer = VideoRenderer(numbered(opts.render, index, opts.several), src.fps)
        header = f"{Path(name).name}  {rec.model_name}"
        try:
            for frame in src:
                step = pipe.step(frame)
                for record in live_records(name, step, rec.model_name, rec.has_weights, opts.per_person):
                    emit(record)
                res.frames += 1
                res.model_ms += [v.prediction.model_ms for v in step.model_views]
                if frame.pose_ms is not None:
                    res.pose_ms.append(frame.pose_ms)
                if writer is not None:
                    writer.append(frame.skeleton, frame.timestamp)
                    for event in step.events:
                        writer.add_event(event.to_dict())
                pred = step.prediction
                if renderer is not None:
                    renderer.write(render_frame(step.image, step.draw_px, rec.layout, src.canvas_size,
                                                pred.top if pred is not None else [],
                                                ready=pred is not None and pred.ready,
                                                warmup=pred.warmup if pred is not None else (0, rec.frames_to_ready),
                                                has_weights=rec.has_weights, header=f"{header}  frame {frame.index}"))
                if tick is not None:
                    tick()
                if opts.max_frames is not None and res.frames >= opts.max_frames:
                    break
        except KeyboardInterrupt:  # Ctrl-C ends a live run; the frames so far are kept and the files closed
            res.interrupted = True
        if res.frames == 0:
            raise CognnError(f"{name}: no frame could be read")
        running = list(pipe.events)
        res.events = pipe.finish()
        if writer is not None:
            for event in res.events:
                if event not in running:  # closed by the end of the stream (the others were added as they ended)
                    writer.add_event(event.to_dict())
            res.outputs.append(str(writer.close()))
            writer = None
        if renderer is not None:
            renderer.close()
            res.outputs.append(str(renderer.path))
    except BrokenPipeError:  # the reader of stdout went away: stop everything, not just this input
        raise
    except (CognnError, OSError, ValueError) as e:
        res.error = _sentence(e, name)
    except Exception as e:  # an unexpected failure of one input must not stop the others
        if os.environ.get("COGNN_DEBUG"):
            raise
        res.error = f"{name}: unexpected {type(e).__name__}: {e} (set COGNN_DEBUG=1 for details)"
    finally:
        if writer is not None:
            writer.abort()
        if renderer is not None:
            renderer.close()
        if src is not None:
            src.close()
    return res


def _sentence(e: BaseException, name: str) -> str:
    text = str(e).strip() or type(e).__name__
    if isinstance(e, OSError) and e.filename is None:
        text = f"{name}: {text}"
    elif not isinstance(e, OSError) and name not in text and Path(name).name not in text:
        text = f"{name}: {text}"
    return text


# ---------------------------------------------------------------------------------------------------------------------
# worker processes

_WORKER: _Context | None = None


def _worker_init(opts: Options) -> None:
    global _WORKER
    _set_threads()
    warnings.simplefilter("ignore")
    _WORKER = _Context(opts)


def _worker_job(job: tuple[int, str]) -> InputResult:
    index, spec = job
    assert _WORKER is not None
    records: list[dict[str, Any]] = []
    res = run_input(index, spec, _WORKER, records.append)
    res.records = records  # an input that failed half-way keeps its records up to the failure, as in one process
    return res


# ---------------------------------------------------------------------------------------------------------------------
# output

class RecordWriter:
    """Writes records as JSON lines or flattened CSV (``top1_label, top1_score, ... topK``)."""

    def __init__(self, stream: TextIO, fmt: str, top_k: int, per_person: bool = False) -> None:
        self.stream = stream
        self.fmt = fmt
        self.top_k = top_k
        self.extra = ("person", "label", "label_score") if per_person else ()
        self._csv = None
        if fmt == "csv":
            cols = list(_FIELDS) + list(self.extra) + [f"top{i}_{k}" for i in range(1, top_k + 1)
                                                       for k in ("label", "score")]
            self._csv = csv.DictWriter(stream, fieldnames=cols, lineterminator="\n")
            self._csv.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is None:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        row = {k: record[k] for k in _FIELDS + self.extra}
        row["pose_ms"] = "" if row["pose_ms"] is None else row["pose_ms"]
        row["ready"] = "true" if row["ready"] else "false"
        row["weights_trained"] = "true" if row["weights_trained"] else "false"
        for i in range(self.top_k):
            item = record["top"][i] if i < len(record["top"]) else {"label": "", "score": ""}
            row[f"top{i + 1}_label"] = item["label"]
            row[f"top{i + 1}_score"] = item["score"]
        self._csv.writerow(row)


# ---------------------------------------------------------------------------------------------------------------------
# the command

def _say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def make_recognizer(opts: Options, quiet: bool = False):
    """The recognizer for the options; warnings (untrained weights) are printed unless ``quiet``."""
    from ..online import OnlineRecognizer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = OnlineRecognizer.from_weights(opts.weights, model=opts.model, layout=opts.layout, top_k=opts.top_k,
                                            device=opts.device)
    if not quiet:
        for w in caught:
            _say(f"warning: {w.message}")
    return rec


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


def _check_out_dir(path: str | None, what: str) -> None:
    if path is not None and path != "-":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise UsageError(f"the folder of {what} {path} does not exist")


def _percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def _summary(results: list[InputResult], wall_s: float) -> str:
    import numpy as np

    frames = sum(r.frames for r in results)
    failed = sum(r.error is not None for r in results)
    model = [m for r in results for m in r.model_ms]
    pose = [m for r in results for m in r.pose_ms]
    lines = [f"{len(results)} input{'s' if len(results) != 1 else ''} ({failed} failed), {frames} frames "
             f"in {wall_s:.2f} s: {frames / wall_s if wall_s > 0 else float('nan'):.1f} frames/s end to end"]
    if model:
        lines.append(f"model step: mean {np.mean(model):.2f} ms, p50 {_percentile(model, 50):.2f} ms, "
                     f"p95 {_percentile(model, 95):.2f} ms")
    if pose:
        lines.append(f"pose: mean {np.mean(pose):.1f} ms, p50 {_percentile(pose, 50):.1f} ms, "
                     f"p95 {_percentile(pose, 95):.1f} ms")
    return "\n".join(f"{PROG}: {line}" for line in lines)


def _progress(enabled: bool, total: int | None, unit: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)


def _inputs(args: argparse.Namespace) -> list[str | int]:
    from ..sources import expand_inputs

    if args.camera is not None:
        if args.inputs or args.demo:
            raise UsageError("--camera reads a live camera; give no INPUT files and no --demo with it")
        return [args.camera]
    if args.demo:
        if args.inputs:
            raise UsageError("--demo runs on the bundled recording; give no INPUT files with it")
        if not DEMO_RECORDING.is_file():
            raise UsageError(f"the demo recording {DEMO_RECORDING} is missing; make it with "
                             "'python tools/make_demo_recording.py'")
        return [str(DEMO_RECORDING)]
    if not args.inputs:
        raise UsageError("no INPUT given; pass video/skeleton files or folders, --camera INDEX, or --demo to try the "
                         "bundled recording")
    specs = expand_inputs(args.inputs)
    if not specs:
        raise UsageError("the given folders hold no supported file")
    return specs


def _set_threads() -> None:
    """One intra-op thread unless COGNN_THREADS says otherwise: a frame step is too small to gain from more, and
    OpenMP threads spinning on a busy machine make it many times slower. Parallelism comes from --workers."""
    import torch

    value = os.environ.get("COGNN_THREADS", "").strip()
    try:
        threads = int(value) if value else 1
    except ValueError:
        raise UsageError(f"COGNN_THREADS must be a positive integer, not {value!r}") from None
    torch.set_num_threads(max(1, threads))


def _run(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads()
    for path, what in ((args.output, "--output"), (args.save_skeletons, "--save-skeletons"),
                       (args.render, "--render"), (args.events, "--events")):
        _check_out_dir(path, what)
    if args.events and Path(args.events).suffix.lower() not in (".jsonl", ".csv"):
        raise UsageError(f"--events writes .jsonl or .csv files, not {args.events}")
    specs = _inputs(args)
    several = len(specs) > 1
    opts = Options(weights=args.weights, model=args.model, layout=args.layout, top_k=args.top_k, device=args.device,
                   max_frames=args.max_frames, save_skeletons=args.save_skeletons, render=args.render,
                   several=several, per_person=args.per_person, smooth=not args.no_smooth, mirror=args.mirror)
    recognizer = make_recognizer(opts)
    if args.top_k > len(recognizer.classes):
        _say(f"note: the model has {len(recognizer.classes)} classes; writing the top {len(recognizer.classes)}")
    top_k = recognizer.top_k
    if not args.quiet:
        _say(f"model: {recognizer.description}")
    show = not args.quiet and sys.stderr.isatty()

    stream, close = (sys.stdout, False) if args.output == "-" else (
        open(args.output, "w", encoding="utf-8", newline=""), True)
    fmt = args.format or ("csv" if str(args.output or "").lower().endswith(".csv") else "jsonl")
    out = RecordWriter(stream, fmt, top_k, per_person=args.per_person)
    results: list[InputResult] = []
    t0 = time.perf_counter()
    interrupted = False
    try:
        if args.workers == 1 or len(specs) == 1:
            results, interrupted = _run_here(specs, opts, recognizer, out, show)
        else:
            results, interrupted = _run_pool(specs, opts, out, show, min(args.workers, len(specs)))
    finally:
        stream.flush()
        if close:
            stream.close()
    wall = time.perf_counter() - t0
    for r in results:
        if r.error is not None:
            _say(f"error: {r.error} (skipped)")
    if args.events:
        from ..live.events import write_events

        events = [e for r in results for e in r.events]
        write_events(args.events, events)
        if not args.quiet:
            _say(f"wrote {len(events)} event{'s' if len(events) != 1 else ''} to {args.events}")
    if not args.quiet:
        for r in results:
            for path in r.outputs:
                _say(f"wrote {path}")
        print(_summary(results, wall), file=sys.stderr, flush=True)
    if interrupted:
        _say("interrupted")
        return 130
    return 1 if any(r.error is not None for r in results) else 0


def _run_here(specs: list, opts: Options, recognizer, out: RecordWriter, show: bool) -> tuple[list, bool]:
    ctx = _Context(opts, recognizer)
    bar = _progress(show, None, "frame")
    results: list[InputResult] = []
    try:
        for i, spec in enumerate(specs):
            res = run_input(i, spec, ctx, out.write, tick=bar.update if bar is not None else None)
            results.append(res)
            if res.interrupted:
                return results, True
            if bar is not None:
                bar.set_postfix_str(f"{i + 1}/{len(specs)} inputs", refresh=False)
    except KeyboardInterrupt:
        return results, True
    finally:
        if bar is not None:
            bar.close()
        ctx.close()
    return results, False


def _run_pool(specs: list, opts: Options, out: RecordWriter, show: bool, workers: int) -> tuple[list, bool]:
    import multiprocessing as mp

    bar = _progress(show, len(specs), "input")
    results: list[InputResult] = []
    pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=(opts,))
    try:
        for res in pool.imap(_worker_job, list(enumerate(specs))):
            for record in res.records:
                out.write(record)
            res.records = []
            results.append(res)
            if bar is not None:
                bar.update(1)
        pool.close()
    except KeyboardInterrupt:
        pool.terminate()
        return results, True
    finally:
        pool.terminate()
        pool.join()
        if bar is not None:
            bar.close()
    return results, False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-infer``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed usage and "cognn-infer: error: ..."
        return int(e.code or 0)
    try:
        return _run(args)
    except BrokenPipeError:  # e.g. piped into `head`: not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 0
    except UsageError as e:
        _say(f"error: {e}")
        return 2
    except (CognnError, ValueError, OSError) as e:  # bad weights file, unknown model name, unwritable output
        _say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
