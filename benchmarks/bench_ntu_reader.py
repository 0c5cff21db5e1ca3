"""Throughput of the NTU ``.skeleton`` reader (files/s and MB/s, one process).

Reports the median and best wall time per file and, on the last lines, the throughput from both wall-clock and
process CPU time (the CPU figure is the per-core rate and is less disturbed by other load on the machine).

    python benchmarks/bench_ntu_reader.py [FILES_OR_DIRS ...] [--repeat N] [--to-array]

Defaults to the sample files in ../shared/data/ntu/skeletons next to the repository.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from cognn.data.ntu import parse_ntu_bytes, to_array

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ntu" / "skeletons"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=[str(DEFAULT)])
    ap.add_argument("--repeat", type=int, default=50, help="times each file is parsed (default 50)")
    ap.add_argument("--to-array", action="store_true", help="also time body selection (to_array)")
    args = ap.parse_args(argv)
    files = []
    for p in map(Path, args.paths):
        files += sorted(p.glob("*.skeleton")) if p.is_dir() else [p]
    if not files:
        print(f"no .skeleton files in {args.paths}", file=sys.stderr)
        return 2
    blobs = [(f, f.read_bytes()) for f in files]  # time parsing, not the disk
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()} "
          f"{platform.processor() or ''}".rstrip())
    total_t = total_b = total_n = 0.0
    cpu0 = time.process_time()
    for f, raw in blobs:
        parse_ntu_bytes(raw, f)  # warm up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            skel = parse_ntu_bytes(raw, f)
            if args.to_array:
                to_array(skel)
            times.append(time.perf_counter() - t0)
        med, best = float(np.median(times)), float(np.min(times))
        total_t += sum(times)
        total_b += len(raw) * args.repeat
        total_n += args.repeat
        print(f"{f.name:32s} {len(raw) / 1e3:7.1f} kB  median {med * 1e3:6.2f} ms  {1 / med:6.1f} files/s  "
              f"{len(raw) / med / 1e6:5.1f} MB/s  (best {best * 1e3:6.2f} ms, {1 / best:6.1f} files/s)")
    cpu = time.process_time() - cpu0
    print(f"{'overall (wall)':32s} {'':10s}  {total_n / total_t:7.1f} files/s  {total_b / total_t / 1e6:6.1f} MB/s "
          f"({int(total_n)} parses)")
    print(f"{'overall (CPU time)':32s} {'':10s}  {total_n / cpu:7.1f} files/s  {total_b / cpu / 1e6:6.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
