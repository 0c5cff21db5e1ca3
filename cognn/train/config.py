"""The settings of one training run, with the reference recipe as defaults."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import CognnError
from ..models import names, spec
from .data import AUGMENTATIONS, MODALITIES

__all__ = ["TrainConfig", "REFERENCE_LR", "REFERENCE_BATCH", "default_milestones", "parse_augment", "min_frames"]

#: the reference learning rate for a global batch of REFERENCE_BATCH (scaled linearly with the batch)
REFERENCE_LR = 0.1
REFERENCE_BATCH = 64


def default_milestones(epochs: int) -> list[int]:
    """LR drops at 60 % and 80 % of the epochs (30 and 40 of 50, as the reference)."""
    return sorted({m for m in (int(0.6 * epochs), int(0.8 * epochs)) if m >= 1})


def min_frames(model: str) -> int:
    """Shortest training clip for ``model``: the backbone's receptive field for the ``*`` models (81, no padding)
    and for the strided continual models (153, so that step mode answers within a clip); 1 for the regular ones."""
    s = spec(model)
    if s.mod:
        return 81
    return 153 if s.continual else 1


def parse_augment(text: str) -> tuple[str, ...]:
    """``"shift,move"`` -> ``("shift", "move")``; ``"none"`` or ``""`` -> ``()``."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if items in ([], ["none"]):
        return ()
    bad = [t for t in items if t not in AUGMENTATIONS]
    if bad:
        raise CognnError(f"unknown augmentation {bad[0]!r}; use some of {', '.join(AUGMENTATIONS)} or none")
    return tuple(a for a in AUGMENTATIONS if a in items)


@dataclass
class TrainConfig:
    """One training run. ``None`` fields take their default once the data is known (see :meth:`resolved`).

    ``batch`` is the global batch, split evenly over the processes of a ``torchrun`` launch. ``lr`` defaults to
    ``0.1 · batch / 64``. ``augment`` defaults to none for NTU data (the reference NTU recipe), ``choose,move`` for
    Kinetics and ``shift,move`` for clip folders. ``clip_frames`` cuts every sample to its first frames (or draws a
    random window with ``choose``); by default the data's own length.
    """

    model: str
    data: Path | None = None
    val: Path | None = None
    clips: Path | None = None
    init: Path | None = None
    out: Path | None = None
    epochs: int = 50
    batch: int = 64
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: list[int] | None = None
    gamma: float = 0.1
    resume: bool = False
    seed: int = 1
    device: str | None = None
    freeze: str = "none"
    workers: int = 0
    modality: str = "joint"
    augment: tuple[str, ...] | None = None
    clip_frames: int | None = None
    base_channels: int | None = None  # None: the --init checkpoint's width, else 64
    val_fraction: float = 0.2
    pose_model: Path | None = None
    quiet: bool = False
    stop_after: int | None = None

    def check(self) -> TrainConfig:
        """Raise CognnError for settings that cannot work; returns self."""
        if self.model not in names("registered"):
            try:
                spec(self.model)
            except ValueError as e:
                raise CognnError(str(e)) from None
        if (self.data is None) == (self.clips is None):
            raise CognnError("give either --data FILE.h5 or --clips DIR")
        if self.clips is not None and self.val is not None:
            raise CognnError("--val cannot be used with --clips (the clips are split into training and validation)")
        if self.epochs < 1:
            raise CognnError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch < 1:
            raise CognnError(f"--batch must be at least 1, got {self.batch}")
        if self.lr is not None and not self.lr > 0:
            raise CognnError(f"--lr must be positive, got {self.lr}")
        if self.freeze not in ("none", "backbone"):
            raise CognnError(f"--freeze must be backbone or none, got {self.freeze!r}")
        if self.freeze == "backbone" and self.init is None:
            raise CognnError("--freeze backbone needs --init (a frozen random backbone learns nothing)")
        if self.modality not in MODALITIES:
            raise CognnError(f"--modality must be one of {', '.join(MODALITIES)}, got {self.modality!r}")
        if self.workers < 0:
            raise CognnError(f"--workers must be 0 or more, got {self.workers}")
        if self.clip_frames is not None:
            need = min_frames(self.model)
            if self.clip_frames < need:
                raise CognnError(f"--clip-frames {self.clip_frames} is too short for {self.model} "
                                 f"(at least {need} frames)")
        if self.base_channels is not None and (self.base_channels < 8 or self.base_channels % 8):
            raise CognnError(f"--base-channels must be a positive multiple of 8, got {self.base_channels}")
        if not 0 <= self.val_fraction < 1:
            raise CognnError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.milestones is not None and any(m < 1 for m in self.milestones):
            raise CognnError("--milestones must be positive epoch numbers")
        return self

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else REFERENCE_LR * self.batch / REFERENCE_BATCH

    def lr_milestones(self) -> list[int]:
        return sorted(self.milestones) if self.milestones is not None else default_milestones(self.epochs)

    def as_dict(self) -> dict:
        """JSON-friendly view (paths as strings)."""
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
