"""Training inputs: sample sources (a dataset file or in-memory arrays), the per-sample pipeline (modality,
reference augmentations, clip length) and the samplers that shard them over processes.

Every random draw of the pipeline comes from ``numpy.random.default_rng([seed, epoch, index])``: sample ``index`` of
epoch ``epoch`` is augmented the same way whatever the worker, the process count or an interruption in between.
The samplers therefore yield ``(index, epoch)`` pairs, which reach the dataset inside each worker process.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ..data import augment
from ..data.store import DatasetFile, open_dataset
from ..data.transforms import bone
from ..layouts import Layout

__all__ = ["AUGMENTATIONS", "MODALITIES", "SampleSource", "FileSource", "ArraySource", "ClipPipeline",
           "ClipDataset", "EpochSampler", "ShardSampler"]

#: the reference augmentations, applied in this order when enabled
AUGMENTATIONS = ("shift", "choose", "move")
MODALITIES = ("joint", "bone")


class SampleSource(Protocol):
    """Where samples come from: ``get(i)`` -> (float32 ``(3, T, V, M)``, label)."""

    classes: list[str]
    layout: Layout
    domain: str
    preprocessing: str
    description: str
    labels: np.ndarray

    def __len__(self) -> int: ...

    def get(self, index: int) -> tuple[np.ndarray, int]: ...

    @property
    def num_frames(self) -> int: ...


class FileSource:
    """Samples of a ``cognn-dataset`` HDF5 file, read lazily (safe in DataLoader workers)."""

    def __init__(self, path: str | Path) -> None:
        self.file: DatasetFile = open_dataset(path)
        self.path = Path(path)
        self.classes = list(self.file.classes)
        self.layout = self.file.layout
        self.domain = self.file.domain
        self.preprocessing = self.file.preprocessing
        self.labels = self.file.labels
        self.names = self.file.sample_names
        parts = [p for p in (self.file.dataset, self.file.benchmark, self.file.split) if p]
        self.description = f"{' '.join(parts) + ' ' if parts else ''}({self.path.name}, {len(self)} samples)"

    def __len__(self) -> int:
        return len(self.file)

    @property
    def num_frames(self) -> int:
        return int(self.file.shape[2])

    @property
    def num_persons(self) -> int:
        return int(self.file.shape[4])

    def get(self, index: int) -> tuple[np.ndarray, int]:
        s = self.file.sample(index)
        return s.data, s.label


@dataclass
class ArraySource:
    """Samples held in memory: ``data`` float32 ``(N, 3, T, V, M)`` with 0-based ``labels`` ``(N,)``."""

    data: np.ndarray
    labels: np.ndarray
    classes: list[str]
    layout: Layout
    domain: str
    preprocessing: str
    description: str = ""
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[2])

    @property
    def num_persons(self) -> int:
        return int(self.data.shape[4])

    def get(self, index: int) -> tuple[np.ndarray, int]:
        return self.data[index], int(self.labels[index])

    def subset(self, indices: Sequence[int] | np.ndarray, description: str = "") -> ArraySource:
        """The samples at ``indices`` as a new source."""
        idx = np.asarray(indices, dtype=np.int64)
        names = [self.names[i] for i in idx] if self.names else []
        return ArraySource(self.data[idx], self.labels[idx], self.classes, self.layout, self.domain,
                           self.preprocessing, description or self.description, names)


@dataclass(frozen=True)
class ClipPipeline:
    """What happens to one sample ``(3, T, V, M)`` before the model sees it.

    ``modality`` (joint or bone), then the enabled ``augment`` steps in the reference feeder's order (random_shift,
    random_choose of ``frames`` frames, random_move); finally the clip is cut or zero-padded to ``frames`` frames
    (the first ``frames`` frames when no random window was chosen). ``frames=None`` keeps the length.
    """

    layout: Layout
    modality: str = "joint"
    augment: tuple[str, ...] = ()
    frames: int | None = None
    seed: int = 1

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}; use one of {', '.join(MODALITIES)}")
        bad = [a for a in self.augment if a not in AUGMENTATIONS]
        if bad:
            raise ValueError(f"unknown augmentation {bad[0]!r}; use some of {', '.join(AUGMENTATIONS)} or none")

    def __call__(self, x: np.ndarray, index: int, epoch: int) -> np.ndarray:
        if self.modality == "bone":
            x = bone(x, self.layout)
        if self.augment:
            rng = np.random.default_rng([self.seed, epoch, index])
            if "shift" in self.augment:
                x = augment.random_shift(x, rng)
            if "choose" in self.augment and self.frames is not None:
                x = augment.random_choose(x, self.frames, rng)
            if "move" in self.augment:
                x = augment.random_move(x, rng)
        if self.frames is not None:
            x = x[:, : self.frames] if x.shape[1] >= self.frames else augment.auto_pad(x, self.frames)
        return np.ascontiguousarray(x, dtype=np.float32)


class ClipDataset(Dataset):
    """A torch dataset over a source: item ``(index, epoch)`` (or a bare index, epoch 0) -> (tensor, label)."""

    def __init__(self, source: SampleSource, pipeline: ClipPipeline) -> None:
        self.source = source
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        x, label = self.source.get(index)
        return torch.from_numpy(self.pipeline(x, index, epoch)), label


class EpochSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled by ``seed + epoch``, padded to equal shards) yielding ``(index, epoch)``.

    With ``num_replicas=1`` it is the single-process order, and the union of the ranks' ``k``-th batches of size
    ``B / world`` is the single-process ``k``-th batch of size ``B``.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 1,
                 shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=False)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        for i in super().__iter__():
            yield (int(i), epoch)


class ShardSampler(Sampler):
    """In-order indices ``rank, rank + world, ...`` without padding (each sample evaluated exactly once overall)."""

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.length, self.num_replicas, self.rank = length, num_replicas, rank

    def __len__(self) -> int:
        return max(0, math.ceil((self.length - self.rank) / self.num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))
