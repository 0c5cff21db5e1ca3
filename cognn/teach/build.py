"""A base checkpoint's backbone with a new head, as an ordinary cognn checkpoint.

The backbone's weights are kept exactly (quantized ones stay stored as they were, losslessly); the continual model's
pool (``clip_frames``) may be chosen anew, since it holds no weights. What the head was learnt from goes into the
metadata with the classes and the live defaults, so ``cognn-infer``, ``cognn-app`` and ``cognn-export`` take the file
like any other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..checkpoints import model_from_checkpoint, read_checkpoint, save_checkpoint
from ..checkpoints.schema import Checkpoint
from ..models import build
from ..models.base import CoSkeletonNet
from .head import Head

__all__ = ["load_base", "with_head", "save_taught", "BASE_META_KEYS"]

#: metadata of the base that a taught model keeps (how its input is prepared)
BASE_META_KEYS = ("modality", "domain", "preprocessing", "preprocessing_version", "fps")


def load_base(path: str | Path, *, clip_frames: int | None = None) -> tuple[CoSkeletonNet, Checkpoint]:
    """The base checkpoint as a continual model (its own continual twin when it holds a regular one), with
    ``clip_frames`` when given; and the checkpoint read."""
    ck = read_checkpoint(path)
    name = str(ck.meta.get("model", ""))
    from ..models import registry

    cont = None
    if name:
        cont = name if registry.spec(name).continual else registry.twin(name)
    kwargs: dict[str, Any] = {}
    if clip_frames is not None:
        kwargs["clip_frames"] = clip_frames
    model = model_from_checkpoint(ck, model=cont, **kwargs)
    if not isinstance(model, CoSkeletonNet):
        raise TypeError(f"{path}: {name} has no continual form")
    return model.eval(), ck


def with_head(base: CoSkeletonNet, head: Head, *, clip_frames: int | None = None,
              early_mode: str | None = None) -> CoSkeletonNet:
    """A new continual model: ``base``'s backbone weights and geometry, ``head`` as its classifier."""
    k = head.weight.shape[0]
    kwargs: dict[str, Any] = {"clip_frames": clip_frames or base.clip_frames,
                              "early_mode": early_mode or base.early_mode}
    model = build(base.name, num_classes=k, layout=base.layout.name, in_channels=base.in_channels,
                  num_persons=base.num_persons, base_channels=base.base_channels, **base.options, **kwargs)
    assert isinstance(model, CoSkeletonNet)
    state = {key: v for key, v in base.state_dict().items() if not key.startswith("fc.")}
    state["fc.weight"] = torch.as_tensor(head.weight, dtype=torch.float32)
    state["fc.bias"] = torch.as_tensor(head.bias, dtype=torch.float32)
    model.load_state_dict(state)
    return model.eval()


def save_taught(path: str | Path, model: CoSkeletonNet, base: Checkpoint, meta: dict[str, Any]) -> Path:
    """Write ``model`` with ``meta`` (classes, data, live defaults, ...) over the base's input metadata; quantized
    backbone tensors of the base stay stored as they were."""
    full = {k: base.meta[k] for k in BASE_META_KEYS if k in base.meta}
    full.update(meta)
    quantized = {k: q for k, q in (base.quantized or {}).items() if not k.startswith("fc.")}
    return save_checkpoint(path, model, full, quantized=quantized)
