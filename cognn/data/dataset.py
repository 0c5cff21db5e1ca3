"""A torch ``Dataset`` over a ``cognn-dataset`` HDF5 file (see :mod:`cognn.data.store`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..layouts import Layout
from . import augment
from .store import DatasetFile, open_dataset
from .transforms import bone, motion

__all__ = ["SkeletonDataset", "MODALITIES"]

MODALITIES = ("joint", "bone", "motion", "bone_motion")


class SkeletonDataset(Dataset):
    """Samples ``(tensor float32 (3, T, V, M), label)`` read lazily from a dataset file.

    ``modality``: ``"joint"``, ``"bone"`` (joint minus parent), ``"motion"`` (frame difference) or
    ``"bone_motion"``. Augmentations follow the reference feeder, in its order, on the chosen modality:
    ``random_shift``, then ``random_choose`` (or zero-padding to ``window_size`` when > 0), then ``random_move``.

    Randomness: with ``seed`` set, sample ``i`` in epoch ``e`` (see :meth:`set_epoch`) always gets the same
    augmentation, whatever the worker; without it each process draws from fresh OS entropy.
    The HDF5 file is opened in the process that reads, so ``DataLoader(num_workers > 0)`` is safe.
    """

    def __init__(self, path: str | Path, modality: str = "joint", *, random_choose: bool = False,
                 random_shift: bool = False, random_move: bool = False, window_size: int = -1,
                 seed: int | None = None) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
        if random_choose and window_size <= 0:
            raise ValueError("random_choose needs window_size > 0")
        self.file: DatasetFile = open_dataset(path)
        self.modality = modality
        self.random_choose = random_choose
        self.random_shift = random_shift
        self.random_move = random_move
        self.window_size = window_size
        self.seed = seed
        self.epoch = 0
        self._rng: np.random.Generator | None = None
        self._rng_pid: int | None = None

    # metadata
    @property
    def classes(self) -> list[str]:
        return self.file.classes

    @property
    def labels(self) -> np.ndarray:
        return self.file.labels

    @property
    def layout(self) -> Layout:
        return self.file.layout

    def __len__(self) -> int:
        return len(self.file)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw of every sample (only matters with a ``seed``)."""
        self.epoch = int(epoch)

    def _generator(self, index: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch, index])
        if self._rng is None or self._rng_pid != os.getpid():
            self._rng, self._rng_pid = np.random.default_rng(), os.getpid()
        return self._rng

    def _modality(self, x: np.ndarray) -> np.ndarray:
        if self.modality in ("bone", "bone_motion"):
            x = bone(x, self.file.layout)
        if self.modality in ("motion", "bone_motion"):
            x = motion(x)
        return x

    def load(self, index: int) -> tuple[np.ndarray, int]:
        """Sample ``index`` as numpy ``(3, T, V, M)`` float32 and its label, after modality and augmentation."""
        s = self.file.sample(index)
        x = self._modality(s.data)
        if self.random_shift or self.random_choose or self.random_move:
            rng = self._generator(index % len(self))
            if self.random_shift:
                x = augment.random_shift(x, rng)
            if self.random_choose:
                x = augment.random_choose(x, self.window_size, rng)
            elif self.window_size > 0:
                x = augment.auto_pad(x, self.window_size)
            if self.random_move:
                x = augment.random_move(x, rng)
        elif self.window_size > 0:
            x = augment.auto_pad(x, self.window_size)
        return np.ascontiguousarray(x, dtype=np.float32), s.label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, label = self.load(index)
        return torch.from_numpy(x), label
