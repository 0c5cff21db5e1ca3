"""Running ``cognn-infer``'s inputs: each input is a loop around the live session, in this process or in a pool of
worker processes (one input each, records kept in input order)."""
from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CognnError
from ..live.events import Event
from ..live.session import LiveConfig, LiveStep, Session
from ..online import NonFiniteOutputError
from .common import WholeUnits, die_with_parent, signals_blocked, unblock_signals

__all__ = ["Options", "InputResult", "OutputFailedError", "make_session", "run_input", "run_here", "run_pool",
           "numbered", "sentence"]

class OutputFailedError(Exception):
    """Writing the records failed (a full disk, a device refusing writes): not the input's fault, stop everything."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


#: frames read ahead of the model on pixel inputs (pose of the next frame overlaps the model step of this one)
PREFETCH = 2


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
    #: every input path, refused as an output
    inputs: tuple[str, ...] = ()
    #: the classes to show (a subset of the model's, scores renormalised among them); None: all
    classes: list[str] | None = None
    #: MediaPipe pose model (a variant or a .task file; None: the bundled full one)
    pose_model: str | None = None
    #: longest side of the picture pose sees (0: the whole frame; None: the default)
    pose_size: int | None = None
    #: pose on every picture of a video, not only on those the model's rate needs
    pose_every_frame: bool = False
    #: with fewer people in view than slots, MediaPipe looks for more every n-th frame (None: the default, 1)
    pose_search_every: int | None = None
    #: false-alarm policy (cognn.live.alarms.AlarmConfig; None: the checkpoint's), allow-list, extra repetitive
    #: classes ``{class: signal}``, the stream gap (seconds) that resets the model (see cognn.live.session.LiveConfig)
    alarms: Any = None
    allow: tuple[str, ...] | None = None
    rep_classes: dict[str, str] = field(default_factory=dict)
    gap_reset: float | None = LiveConfig.gap_reset
    #: where the model step runs: "torch" or "onnx" (ONNX Runtime on a cognn-export graph, no torch)
    backend: str = "torch"
    #: the torch step's products: fp32, bf16 or int8 (None: fp32; an ONNX step keeps its export precision)
    precision: str | None = None


@dataclass
class InputResult:
    """What one input produced: its records (worker mode), counts, timings, and the error if it failed."""

    index: int
    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    model_ms: list[float] = field(default_factory=list)
    pose_ms: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: stopped by Ctrl-C (the frames so far are complete, output files closed)
    interrupted: bool = False
    #: frames with an exact prediction (0: the input ended while the model was still warming up)
    ready_frames: int = 0
    #: seconds of input the model needs before its first ready prediction
    warmup_s: float | None = None


class UsageError(CognnError):
    """A problem with the command line (exit status 2)."""


def set_threads(backend: str = "torch") -> None:
    """One intra-op thread unless COGNN_THREADS says otherwise: a frame step is too small to gain from more, and
    OpenMP threads spinning on a busy machine make it many times slower. Parallelism comes from --workers. The onnx
    backend reads COGNN_THREADS itself (:func:`cognn.export.runtime.threads_from_env`) and never imports torch."""
    value = os.environ.get("COGNN_THREADS", "").strip()
    try:
        threads = int(value) if value else 1
    except ValueError:
        raise UsageError(f"COGNN_THREADS must be a positive integer, not {value!r}") from None
    if backend == "torch":
        import torch

        torch.set_num_threads(max(1, threads))


def numbered(path: str, index: int, several: bool) -> Path:
    """``path`` itself for a single input, else ``<stem>_<index><suffix>`` beside it."""
    p = Path(path)
    return p if not several else p.with_name(f"{p.stem}_{index}{p.suffix}")


def make_session(opts: Options, say: Callable[[str], None] | None = None) -> Session:
    """The session for the options; warnings (untrained weights) go to ``say`` (dropped when None)."""
    from ..pose.smoothing import DEFAULT_SMOOTHING, NO_SMOOTHING
    from ..pose.tracker import PoseOptions

    pose = PoseOptions(model=opts.pose_model, smoothing=DEFAULT_SMOOTHING if opts.smooth else NO_SMOOTHING,
                       max_side=PoseOptions().max_side if opts.pose_size is None else (opts.pose_size or None),
                       search_every=opts.pose_search_every or PoseOptions().search_every)
    config = LiveConfig(pose=pose, persons="single" if opts.per_person else "all", mirror=opts.mirror,
                        alarms=opts.alarms, allow=opts.allow, rep_classes=dict(opts.rep_classes),
                        gap_reset=opts.gap_reset, pose_every_frame=opts.pose_every_frame)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = Session.from_weights(opts.weights, model=opts.model, layout=opts.layout, config=config,
                                       top_k=opts.top_k, device=opts.device, classes=opts.classes,
                                       backend=opts.backend, precision=opts.precision)
    if say is not None:
        for w in caught:
            say(f"warning: {w.message}")
    return session


def sentence(e: BaseException, name: str) -> str:
    """One sentence naming the input."""
    text = str(e).strip() or type(e).__name__
    if isinstance(e, OSError) and e.filename is None:
        text = f"{name}: {text}"
    elif not isinstance(e, OSError) and name not in text and Path(name).name not in text:
        text = f"{name}: {text}"
    return text


def run_input(index: int, spec: str | int, session: Session, opts: Options, emit: Callable[[dict[str, Any]], None],
              progress: Any = None) -> InputResult:
    """Run one input frame by frame through ``session``, emitting a record per frame; failures are caught and
    reported in the result (the other inputs go on)."""
    from ..sources import is_pixel
    from ..sources.stream import StreamLostError, is_stream_spec, redact_url

    rec = session.recognizer
    name = redact_url(spec) if isinstance(spec, int) or is_stream_spec(spec) else str(spec)
    res = InputResult(index, name)
    src = None
    try:
        src = session.open(spec)
        if progress is not None:
            progress.reset(total=src.num_frames if opts.max_frames is None or src.num_frames is None
                           else min(src.num_frames, opts.max_frames))
            progress.set_description_str(Path(name).name[:40], refresh=False)
        session.start(name, canvas_size=src.canvas_size)
        if opts.save_skeletons or opts.render:
            session.start_recording(None if not opts.save_skeletons else numbered(opts.save_skeletons, index,
                                                                                  opts.several),
                                    None if not opts.render else numbered(opts.render, index, opts.several),
                                    inputs=opts.inputs, fps=src.fps)
        frames = session.frames(src, max_frames=opts.max_frames, prefetch=PREFETCH if is_pixel(spec) else 0)
        try:
            with WholeUnits() as whole:
                for frame in frames:
                    with whole.unit():  # Ctrl-C never leaves a frame rendered without its records or the reverse
                        _one_step(session, session.step(frame), res, name, opts, emit, progress)
        except KeyboardInterrupt:  # Ctrl-C ends a live run; the frames so far are kept and the files closed
            res.interrupted = True
        except StreamLostError as e:  # a stream that did not come back: what was read so far is kept, as on Ctrl-C
            if res.frames == 0:
                raise
            res.error = sentence(e, name)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        if res.frames == 0 and not res.interrupted:
            raise CognnError(f"{name}: no frame could be read")
        res.events = session.finish()
        res.warmup_s = rec.frames_to_ready / session.fps if session.fps else None
        res.outputs = [str(p) for p in session.stop_recording()]
    except (BrokenPipeError, OutputFailedError, NonFiniteOutputError):  # the records cannot go anywhere, or the
        raise  # model is broken: stop everything, not just this input
    except (CognnError, OSError, ValueError) as e:
        res.error = sentence(e, name)
    except Exception as e:  # an unexpected failure of one input must not stop the others
        if os.environ.get("COGNN_DEBUG"):
            raise
        res.error = f"{name}: unexpected {type(e).__name__}: {e} (set COGNN_DEBUG=1 for details)"
    finally:
        if session.recording:  # the input failed or the process is being stopped: no half-written file stays
            session.stop_recording(keep=False)
        if src is not None:
            src.close()
    return res


def _one_step(session: Session, step: LiveStep, res: InputResult, name: str, opts: Options,
              emit: Callable[[dict[str, Any]], None], progress: Any) -> None:
    """A step's records written, and counted in ``res``."""
    from ..live.records import make_records

    rec = session.recognizer
    for record in make_records(step, name, rec.model_name, rec.has_weights, opts.per_person):
        try:
            emit(record)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputFailedError(e) from None
    res.frames += 1
    res.ready_frames += bool(step.prediction is not None and step.prediction.exact)
    res.model_ms += step.model_ms
    if step.frame.pose_ms is not None:
        res.pose_ms.append(step.frame.pose_ms)
    if step.latency_ms is not None:
        res.latency_ms.append(step.latency_ms)
    if progress is not None:
        progress.update(1)


def run_here(specs: list[str | int], opts: Options, session: Session, emit: Callable[[dict[str, Any]], None],
             show: bool) -> tuple[list[InputResult], bool]:
    """Every input in this process; (results, interrupted)."""
    bar = _bar(show, "frame")
    results: list[InputResult] = []
    try:
        for i, spec in enumerate(specs):
            res = run_input(i, spec, session, opts, emit, progress=bar)
            results.append(res)
            if res.interrupted:
                return results, True
    except KeyboardInterrupt:
        return results, True
    finally:
        if bar is not None:
            bar.close()
        session.close()
    return results, False


# ---------------------------------------------------------------------------------------------------------------------
# worker processes

_WORKER: tuple[Session, Options] | None = None
#: where a worker sends its records as they are made, ``(input index, record)``, then ``(input index, None)``
_QUEUE: Any = None
#: True while a worker runs an input (stopping it then unwinds, removing temporary files)
_IN_JOB = False


def _worker_init(opts: Options, queue: Any) -> None:
    global _WORKER, _QUEUE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool, no worker tracebacks
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal: the parent stops the pool
    signal.signal(signal.SIGTERM, _stop_worker)  # the pool stopping: unwind, so temporary files are removed
    unblock_signals()  # blocked by the parent while the pool started
    die_with_parent()  # a parent killed outright (SIGKILL) takes its workers with it: SIGTERM, unwinding
    _QUEUE = queue
    set_threads(opts.backend)
    warnings.simplefilter("ignore")
    _WORKER = (make_session(opts), opts)


def _stop_worker(signum: int, frame: Any) -> None:
    if _IN_JOB:
        raise SystemExit(1)
    os._exit(0)


def _worker_job(job: tuple[int, str | int]) -> InputResult:
    global _IN_JOB
    index, spec = job
    assert _WORKER is not None
    session, opts = _WORKER
    queue = _QUEUE

    def emit(record: dict[str, Any]) -> None:  # sent at once: a run stopped half-way keeps what was made
        queue.put((index, record))

    _IN_JOB = True
    try:
        res = run_input(index, spec, session, opts, emit)
    finally:
        _IN_JOB = False
    queue.put((index, None))  # every record of the input was sent (one that failed half-way keeps those before)
    return res


def run_pool(specs: list[str | int], opts: Options, emit: Callable[[dict[str, Any]], None], show: bool,
             workers: int) -> tuple[list[InputResult], bool]:
    """The inputs in ``workers`` processes, records written in input order; (results, interrupted). Ctrl-C stops
    every worker at once."""
    import multiprocessing as mp

    bar = _bar(show, "input", total=len(specs))
    results: list[InputResult] = []
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()  # records as the workers make them (a put is written at once, no feeder thread)
    pending: dict[int, list[dict[str, Any]]] = {}  # records of inputs not yet written, by input index
    finished: set[int] = set()  # inputs whose every record arrived

    reader = queue._reader  # type: ignore[attr-defined]  # its pipe end: poll without taking a record

    def drain(wait: float = 0.0) -> None:
        while reader.poll(wait):
            index, record = queue.get()
            if record is None:
                finished.add(index)
            else:
                pending.setdefault(index, []).append(record)
            wait = 0.0

    with signals_blocked():  # the workers start with Ctrl-C held back until their handlers are set
        pool = ctx.Pool(workers, initializer=_worker_init, initargs=(opts, queue))
    interrupted = done = False
    try:
        it = pool.imap(_worker_job, list(enumerate(specs)))
        for index in range(len(specs)):
            while True:
                drain()
                try:
                    res = it.next(timeout=0.1)
                    break
                except mp.TimeoutError:
                    continue
            while index not in finished:  # the result came before the input's last records: wait for them
                drain(0.1)
            for record in pending.pop(index, []):
                emit(record)
            results.append(res)
            if bar is not None:
                bar.update(1)
        pool.close()
        pool.join()
        done = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if not done:  # stopped early: the workers end now
            pool.terminate()
            pool.join()
            try:  # Ctrl-C keeps what was made: the records already sent, in input order
                drain(0.05)
            except Exception:  # noqa: BLE001 - a record cut by the stop: the ones before it are kept
                pass
            for index in sorted(pending):
                for record in pending[index]:
                    emit(record)
            pending.clear()
        if bar is not None:
            bar.close()
    return results, interrupted


def _bar(enabled: bool, unit: str, total: int | None = None) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)
