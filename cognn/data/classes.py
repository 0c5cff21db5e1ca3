"""Class names, benchmark splits and missing-skeleton lists shipped in the repository's ``datasets/`` folder."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["datasets_dir", "class_names", "class_subset", "split_train_ids", "in_train_split", "missing_skeletons",
           "DATASETS", "BENCHMARKS", "SUBSETS"]

#: dataset name -> file stem of its class list
DATASETS = {"ntu60": "ntu60", "ntu120": "ntu120", "kinetics400": "kinetics400", "kinetics": "kinetics400"}
#: benchmarks of each NTU dataset (the first is the default)
BENCHMARKS = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}


def datasets_dir() -> Path:
    """The bundled ``datasets/`` folder (the checkout's, or the installed package's copy: :mod:`cognn.resources`)."""
    from ..resources import datasets_dir as bundled

    return bundled()


def _read_lines(name: str) -> list[str]:
    path = datasets_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: this cognn installation lacks its bundled datasets/ files; "
                                "reinstall cognn") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _check(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return DATASETS[dataset]


@cache
def _class_names(stem: str) -> tuple[str, ...]:
    return tuple(_read_lines(f"{stem}_classes.txt"))


def class_names(dataset: str) -> list[str]:
    """Class names of ``"ntu60"``, ``"ntu120"`` or ``"kinetics400"`` (alias ``"kinetics"``), index = label."""
    return list(_class_names(_check(dataset)))


@cache
def _splits() -> dict:
    return json.loads((datasets_dir() / "splits.json").read_text(encoding="utf-8"))


def split_train_ids(dataset: str, benchmark: str) -> tuple[str, frozenset[int]]:
    """``(field, ids)`` of a benchmark's train split: e.g. ``("performer", {1, 2, 4, ...})`` for NTU-60 xsub."""
    if dataset not in BENCHMARKS:
        raise ValueError(f"no benchmark splits for {dataset!r}; known: {', '.join(BENCHMARKS)}")
    if benchmark not in BENCHMARKS[dataset]:
        raise ValueError(f"{dataset} has no benchmark {benchmark!r}; use one of {', '.join(BENCHMARKS[dataset])}")
    entry = _splits()[dataset][benchmark]
    return entry["field"], frozenset(int(i) for i in entry["train"])


def in_train_split(sample, dataset: str, benchmark: str) -> bool:
    """Whether an NTU :class:`~cognn.data.ntu.SampleName` belongs to the benchmark's train split."""
    field, ids = split_train_ids(dataset, benchmark)
    return getattr(sample, field) in ids


@cache
def _missing(dataset: str) -> frozenset[str]:
    return frozenset(_read_lines(f"{dataset}_missing_skeletons.txt"))


def missing_skeletons(dataset: str) -> frozenset[str]:
    """The official ids of samples with missing or incomplete skeletons (302 for NTU-60, 535 for NTU-120)."""
    if dataset not in BENCHMARKS:
        raise ValueError(f"no missing-skeleton list for {dataset!r}; known: {', '.join(BENCHMARKS)}")
    return _missing(dataset)


#: named class subsets shipped in ``datasets/`` (``--classes NAME``)
SUBSETS = {"kinetics-motion": "kinetics_motion_classes.txt"}


def class_subset(spec: str) -> list[str]:
    """Class names to show: a named subset (``"kinetics-motion"``) or a text file of one name per line (lines
    starting with ``#`` are comments). Raises :class:`~cognn.errors.InputFileError` naming the file."""
    from ..errors import InputFileError
    from .files import read_text

    if spec in SUBSETS:
        path = datasets_dir() / SUBSETS[spec]
    else:
        path = Path(spec)
        if not path.exists() and not path.is_symlink():
            raise InputFileError(path, f"not found: no such class list (a text file of class names, one per line, "
                                       f"or one of {', '.join(SUBSETS)})")
    text = read_text(path, "class list")
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise InputFileError(path, "lists no class name")
    return names
