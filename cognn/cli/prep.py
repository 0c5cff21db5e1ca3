"""``cognn-prep``: turn raw NTU RGB+D ``.skeleton`` files or Kinetics-skeleton JSONs into a cognn dataset file.

    cognn-prep ntu60|ntu120|kinetics --src DIR [--src DIR ...] --out FILE.h5 [--benchmark xsub|xview|xset]
               [--split train|val|all] [--labels FILE.json] [--workers N] [--quiet]

Files are parsed in worker processes, in order, and streamed to a unique temporary file beside ``FILE.h5`` (created
at the first sample), renamed to ``FILE.h5`` at the end; unreadable files are listed on stderr and skipped, and
values a reader had to zero are noted. The output is checked before any file is read (a folder, a device, a missing
folder, one of the inputs: one sentence about the output, exit 2). Ctrl-C stops the workers (they ignore it; the main
process terminates them), removes the temporary file and exits 130 within moments, without a traceback. Exit status:
0 written, 1 nothing usable, 2 usage, input or output error, 130 interrupted (no output left behind).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import check_output
from ..data.conventions import AGCN_KINETICS
from ..errors import CognnError, InputFileError
from .common import err, run_main

__all__ = ["main", "prep_ntu_file", "prep_kinetics_file"]

PROG = "cognn-prep"
NUM_FRAMES = 300
#: x, y - 0.5, y negated, zeroed where score == 0, top-2 persons per frame (cognn.data.conventions)
KINETICS_PREPROCESSING = AGCN_KINETICS
KINETICS_PREPROCESSING_VERSION = 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        allow_abbrev=False, prog=PROG, description="Prepare a cognn dataset file (HDF5) from raw NTU RGB+D "
                                "skeleton files or Kinetics-skeleton JSON files.")
    p.add_argument("dataset", choices=["ntu60", "ntu120", "kinetics"], help="which raw dataset --src holds")
    p.add_argument("--src", action="append", required=True, metavar="DIR",
                   help="folder with the raw files (repeat for several folders)")
    p.add_argument("--out", required=True, metavar="FILE.h5", help="output dataset file")
    p.add_argument("--benchmark", choices=["xsub", "xview", "xset"],
                   help="NTU benchmark: ntu60 xsub|xview, ntu120 xsub|xset (default xsub)")
    p.add_argument("--split", choices=["train", "val", "all"], default="all",
                   help="which part of the benchmark to write (default all)")
    p.add_argument("--labels", metavar="FILE.json",
                   help="Kinetics label file ({name: {label_index, has_skeleton}}); default: <src>_label.json next "
                        "to the folder if it exists, else each file's own label_index")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parsing processes (default: number of CPUs, at most 8; 1 = no extra process)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------------------------------------------------------------
# per-file work (runs in worker processes)

def prep_ntu_file(path: str) -> tuple[np.ndarray, int]:
    """One NTU file -> preprocessed ``(3, 300, 25, 2)`` float32 and its number of frames."""
    from ..data.ntu import read_ntu_skeleton, to_array
    from ..data.transforms import normalize_sample, pad_to

    skel = read_ntu_skeleton(path)
    x = pad_to(to_array(skel), NUM_FRAMES, truncate=True)
    return normalize_sample(x, "ntu25"), skel.num_frames


def prep_kinetics_file(path: str, label: int | None) -> tuple[np.ndarray, int, int]:
    """One Kinetics JSON -> ``(3, 300, 18, 2)`` float32, its label (``label`` from the label file, if any) and
    its length in frames (``max frame_index + 1``; frames from index 300 on are dropped)."""
    from ..data.kinetics import read_kinetics_json, to_array

    clip = read_kinetics_json(path)
    if label is None:
        if clip.label_index is None:
            raise InputFileError(path, "no label_index in the file and no label file given", field="label_index")
        label = clip.label_index
    elif clip.label_index is not None and clip.label_index != label:
        raise InputFileError(path, f"label_index {clip.label_index} disagrees with the label file ({label})",
                             field="label_index")
    length = max((f.frame_index for f in clip.frames), default=-1) + 1
    return to_array(clip, max_frames=NUM_FRAMES), label, length


def _work(job: tuple) -> tuple:
    """Run one job; returns ``("ok", name, array, label, frames, notes)`` or ``("bad", name, message, notes)``;
    ``notes``: the readers' warnings (values zeroed), as sentences."""
    from ..data.files import InputValueWarning

    kind, path, name, label = job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputValueWarning)
        try:
            if kind == "ntu":
                x, frames = prep_ntu_file(path)
            else:
                x, label, frames = prep_kinetics_file(path, label)
            res: tuple = ("ok", name, x, label, frames)
        except CognnError as e:
            res = ("bad", name, str(e))
        except Exception as e:  # a bug or an unexpected library error: report, don't abort the whole run
            res = ("bad", name, f"{path}: unexpected {type(e).__name__}: {e}")
    notes = [str(w.message) for w in caught if issubclass(w.category, InputValueWarning)]
    return res + (notes,)


# ---------------------------------------------------------------------------------------------------------------------
# job selection

@dataclass
class _Plan:
    dataset: str
    benchmark: str
    split: str
    layout: str
    preprocessing: str
    preprocessing_version: int
    jobs: list[tuple] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _plan_ntu(args, srcs: list[Path]) -> _Plan:
    from ..data.classes import BENCHMARKS, in_train_split, missing_skeletons
    from ..data.ntu import parse_sample_name
    from ..data.transforms import PREPROCESSING_NAME, PREPROCESSING_VERSION

    ds = args.dataset
    bm = args.benchmark or BENCHMARKS[ds][0]
    if bm not in BENCHMARKS[ds]:
        raise CognnError(f"{ds} has no benchmark {bm!r}; use one of {', '.join(BENCHMARKS[ds])}")
    plan = _Plan(ds, bm, args.split, "ntu25", PREPROCESSING_NAME, PREPROCESSING_VERSION)
    missing = missing_skeletons(ds)
    files = [f for src in srcs for f in sorted(src.glob("*.skeleton"))]
    if not files:
        raise CognnError(f"no .skeleton files in {', '.join(map(str, srcs))}")
    seen: set[str] = set()
    for f in files:
        try:
            sn = parse_sample_name(f.name)
        except InputFileError as e:
            plan.bad.append(f"{f}: {e.problem}")
            continue
        name = str(sn)
        if name in seen:
            plan.skip("duplicate sample name")
            continue
        seen.add(name)
        if name in missing:
            plan.skip("on the official missing-skeleton list")
            continue
        if ds == "ntu60" and not 1 <= sn.action <= 60:
            plan.skip("action outside NTU-60 (A001-A060)")
            continue
        if ds == "ntu120" and not 1 <= sn.action <= 120:
            plan.skip("action outside NTU-120 (A001-A120)")
            continue
        if args.split != "all" and in_train_split(sn, ds, bm) != (args.split == "train"):
            plan.skip(f"not in the {bm} {args.split} split")
            continue
        plan.jobs.append(("ntu", str(f), name, sn.label))
    return plan


def _load_label_file(path: Path) -> dict[str, tuple[int, bool]]:
    from ..data.files import read_bytes

    try:
        obj = json.loads(read_bytes(path).decode("utf-8"))
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise InputFileError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    except (ValueError, RecursionError):
        raise InputFileError(path, "invalid JSON") from None
    if not isinstance(obj, dict):
        raise InputFileError(path, "expected an object {name: {label_index, has_skeleton}}")
    out = {}
    for name, entry in obj.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("label_index"), int) \
                or isinstance(entry.get("label_index"), bool):
            raise InputFileError(path, "expected {\"label_index\": int, \"has_skeleton\": bool}", field=name)
        out[name] = (entry["label_index"], bool(entry.get("has_skeleton", True)))
    return out


def _plan_kinetics(args, srcs: list[Path]) -> _Plan:
    if args.benchmark:
        raise CognnError("--benchmark applies to NTU only; Kinetics has fixed train/val folders")
    plan = _Plan("kinetics400", "", args.split, "kinetics18", KINETICS_PREPROCESSING,
                 KINETICS_PREPROCESSING_VERSION)
    labels: dict[str, tuple[int, bool]] | None = None
    if args.labels:
        labels = _load_label_file(Path(args.labels))
    elif len(srcs) == 1:
        src = srcs[0].resolve()
        auto = src.parent / f"{src.name}_label.json"
        if auto.is_file():
            labels = _load_label_file(auto)
    files = [f for src in srcs for f in sorted(src.glob("*.json")) if not f.name.endswith("_label.json")]
    if not files:
        raise CognnError(f"no .json files in {', '.join(map(str, srcs))}")
    for f in files:
        name = f.name.split(".")[0]
        label = None
        if labels is not None:
            if name not in labels:
                plan.bad.append(f"{f}: not in the label file")
                continue
            label, has_skeleton = labels[name]
            if not has_skeleton:
                plan.skip("has_skeleton is false in the label file")
                continue
        plan.jobs.append(("kinetics", str(f), name, label))
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# running

def _default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _worker_init() -> None:
    """Workers leave Ctrl-C to the main process, which terminates them: no traceback from a worker, no worker left
    holding a queue lock."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _StopFlag:
    """SIGINT handler of a run: it only notes the request; the run checks it at safe points (between files, every
    0.1 s while waiting for a worker) and stops there. Raising from the handler itself could land inside a library's
    critical section (h5py, multiprocessing), be swallowed there, and leave a lock held: a hang."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came."""
        if self.requested:
            raise KeyboardInterrupt


def _stop_pool(pool) -> None:
    """Terminate and reap the workers."""
    pool.terminate()
    pool.join()


def _results(jobs: list[tuple], pool, stop: _StopFlag) -> Iterator[tuple]:
    """The jobs' results in order (from ``pool``, or here when it is None), checking ``stop`` between them."""
    if pool is None:
        for job in jobs:
            stop.check()
            yield _work(job)
        return
    workers = getattr(pool, "_processes", 1)
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    it = pool.imap(_work_batch, [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)])  # chunksize 1: next(timeout)
    while True:
        stop.check()
        try:
            batch = it.next(timeout=0.1)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            continue
        yield from batch


def _work_batch(jobs: list[tuple]) -> list[tuple]:
    return [_work(job) for job in jobs]


def _run(args, err: Callable[[str], None]) -> int:
    stop = _StopFlag()
    main = threading.current_thread() is threading.main_thread()
    prev = signal.signal(signal.SIGINT, stop) if main else None
    try:
        return _run_inner(args, err, stop)
    finally:
        if main and prev is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, prev)


def _run_inner(args, err: Callable[[str], None], stop: _StopFlag) -> int:
    from tqdm import tqdm

    from ..data.classes import class_names
    from ..data.store import DatasetWriter

    srcs = [Path(s) for s in args.src]
    for s in srcs:
        if not s.is_dir():
            raise InputFileError(s, "not a folder" if s.exists() else "folder not found")
    out = check_output(args.out, "output", allow_stream=False)
    workers = _default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise CognnError("--workers must be at least 1")

    plan = _plan_ntu(args, srcs) if args.dataset.startswith("ntu") else _plan_kinetics(args, srcs)
    classes = class_names(plan.dataset)
    if not plan.jobs:
        _summary(plan, 0, None, [], [], err)
        err(f"{PROG}: error: no samples to write")
        return 2 if not plan.bad else 1
    cut: list[str] = []
    notes: list[str] = []
    written = 0
    pool = None
    bar = None
    try:
        # checked (an input given as the output is refused) before any worker starts or anything is created
        writer = DatasetWriter(out, plan.layout, classes, dataset=plan.dataset, benchmark=plan.benchmark,
                               split=plan.split, preprocessing=plan.preprocessing,
                               preprocessing_version=plan.preprocessing_version, inputs=[j[1] for j in plan.jobs])
        with writer as w:
            if workers > 1 and len(plan.jobs) > 1:
                pool = multiprocessing.get_context().Pool(min(workers, len(plan.jobs)), initializer=_worker_init)
            bar = tqdm(total=len(plan.jobs), unit="file", file=sys.stderr,
                       disable=args.quiet or not sys.stderr.isatty(), desc=PROG)
            for res in _results(plan.jobs, pool, stop):
                bar.update()
                notes.extend(res[-1])
                if res[0] == "bad":
                    plan.bad.append(res[2])
                    continue
                _, name, x, label, frames = res[:5]
                if not 0 <= label < len(classes):
                    plan.bad.append(f"{name}: label {label} outside 0..{len(classes) - 1}")
                    continue
                if frames > NUM_FRAMES:
                    cut.append(name)
                w.append(x, label, name)
                written += 1
            stop.check()
            if written == 0:
                raise _NothingWrittenError
    except _NothingWrittenError:
        _summary(plan, 0, None, cut, notes, err)
        err(f"{PROG}: error: none of the {len(plan.jobs)} selected files could be read; no output written")
        return 1
    finally:
        if pool is not None:
            _stop_pool(pool)
        if bar is not None:
            bar.close()
    _summary(plan, written, out, cut, notes, err)
    return 0


class _NothingWrittenError(Exception):
    pass


def _summary(plan: _Plan, written: int, out: Path | None, cut: list[str], notes: list[str],
             err: Callable[[str], None]) -> None:
    what = " ".join(x for x in (plan.dataset, plan.benchmark, plan.split) if x)
    if out is not None:
        err(f"{PROG}: wrote {written} samples ({what}) to {out}")
    for note in notes[:20]:
        err(f"{PROG}: note: {note}")
    if len(notes) > 20:
        err(f"{PROG}: note: ... and {len(notes) - 20} more file(s) with values zeroed")
    for why, n in plan.skipped.items():
        err(f"{PROG}: skipped {n} file(s): {why}")
    if cut:
        err(f"{PROG}: {len(cut)} sample(s) longer than {NUM_FRAMES} frames were cut: {', '.join(cut[:5])}"
            + (" ..." if len(cut) > 5 else ""))
    if plan.bad:
        err(f"{PROG}: {len(plan.bad)} bad file(s) skipped:")
        for msg in plan.bad:
            err(f"  {msg}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cognn-prep``; returns the exit status."""
    return run_main(PROG, _parser(), lambda args: _run(args, err), argv, interrupted="interrupted; no output written")


if __name__ == "__main__":
    sys.exit(main())
