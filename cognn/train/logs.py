"""Per-epoch run log written as ``log.csv`` and ``log.json`` (rewritten atomically after every epoch)."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import AtomicOutput

__all__ = ["LOG_FIELDS", "write_logs", "write_text", "write_confusion_csv"]

#: columns of ``log.csv`` (and keys of each entry of ``log.json["epochs"]``)
LOG_FIELDS = ("epoch", "lr", "train_loss", "train_top1", "train_top5", "val_loss", "val_top1", "val_top5",
              "time_s", "samples_per_s")


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (:class:`cognn.atomic.AtomicOutput`)."""
    with AtomicOutput(path, what="log") as out:
        out.temp.write_text(text, encoding="utf-8")


def write_logs(out: Path, rows: Sequence[dict], info: dict[str, Any]) -> None:
    """``out/log.csv`` (one row per epoch) and ``out/log.json`` (``info`` plus the same rows)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in LOG_FIELDS})
    write_text(out / "log.csv", buf.getvalue())
    write_text(out / "log.json", json.dumps({**info, "epochs": list(rows)}, indent=2) + "\n")


def write_confusion_csv(path: Path, confusion, classes: Sequence[str]) -> None:
    """Confusion counts as CSV: header ``true \\ predicted`` + class names, one row per true class."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["true \\ predicted", *classes])
    for name, row in zip(classes, confusion):
        w.writerow([name, *(int(v) for v in row)])
    write_text(path, buf.getvalue())
