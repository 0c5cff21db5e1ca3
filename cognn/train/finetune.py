"""Starting weights for fine-tuning: any checkpoint cognn reads (ours or an official family) loaded into the model
being trained, with a new class head when the class count differs, and backbone freezing."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..errors import CognnError, InputFileError
from ..models import SkeletonNet

__all__ = ["HEAD_PREFIX", "load_initial_weights", "freeze_backbone", "backbone_modules", "set_frozen_eval",
           "param_count"]

#: parameter-name prefix of the class head
HEAD_PREFIX = "fc."


def load_initial_weights(model: SkeletonNet, path: str | Path, classes: list[str],
                         warn: Callable[[str], None], modality: str = "joint", *, checkpoint=None) -> dict:
    """Copy the weights of checkpoint ``path`` into ``model`` (built for the training data); returns its metadata.

    ``checkpoint`` is ``path`` already read (:func:`cognn.checkpoints.read_checkpoint`), to read it only once.

    The architecture may differ in the temporal geometry only (regular -> ``*`` transfer, continual <-> regular):
    every backbone tensor must exist with the same shape. The head ``fc`` is kept when the checkpoint has the same
    classes (same count, and same names where both know them); otherwise it keeps its fresh initialisation, with a
    warning. Anything else that does not fit raises :class:`InputFileError`.
    """
    from ..checkpoints import read_checkpoint

    ckpt = checkpoint if checkpoint is not None else read_checkpoint(path)
    meta = dict(ckpt.meta)
    src_layout = meta.get("layout")
    if src_layout and src_layout != model.layout.name:
        raise InputFileError(path, f"holds a {src_layout} model but the training data uses the "
                                   f"{model.layout.name} layout")
    if meta.get("modality") and meta["modality"] != modality:
        warn(f"warning: {path} was trained on {meta['modality']} input; fine-tuning it on {modality} input")
    target = model.state_dict()
    state = {k: v for k, v in ckpt.state_dict.items()}
    head = {k: v for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    body = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}
    missing = sorted(k for k in target if not k.startswith(HEAD_PREFIX) and k not in body)
    extra = sorted(k for k in body if k not in target)
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if extra:
            what.append(f"unexpected {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
        raise InputFileError(path, f"its weights do not fit {model.name} ({'; '.join(what)})")
    wrong = [k for k, v in body.items() if tuple(v.shape) != tuple(target[k].shape)]
    if wrong:
        k = wrong[0]
        raise InputFileError(path, f"tensor {k} has shape {tuple(body[k].shape)}, {model.name} needs "
                                   f"{tuple(target[k].shape)} (different channels, joints or persons?)")
    src_classes = list(meta.get("classes") or [])
    n_src = int(head["fc.weight"].shape[0]) if "fc.weight" in head else None
    keep_head = (n_src == model.num_classes and set(head) == {k for k in target if k.startswith(HEAD_PREFIX)}
                 and (not src_classes or src_classes == list(classes)))
    if keep_head:
        body.update(head)
    elif n_src is not None:
        why = (f"has {n_src} classes, the data has {model.num_classes}" if n_src != model.num_classes
               else "has other class names than the data")
        warn(f"warning: {path} {why}: the class head (fc) starts from fresh weights; the backbone weights are kept")
    missing_now = [k for k in target if k not in body]
    model.load_state_dict({**{k: target[k] for k in missing_now}, **body}, strict=True)
    return meta


def backbone_modules(model: nn.Module) -> list[nn.Module]:
    """Every direct child of the network except the head ``fc``."""
    return [m for name, m in model.named_children() if name != HEAD_PREFIX.rstrip(".")]


def freeze_backbone(model: nn.Module) -> list[nn.Parameter]:
    """Stop gradients everywhere except the head; returns the parameters left to train."""
    trainable = []
    for name, p in model.named_parameters():
        if name.startswith(HEAD_PREFIX):
            trainable.append(p)
        else:
            p.requires_grad_(False)
    if not trainable:
        raise CognnError("the model has no class head (fc) to train")
    return trainable


def set_frozen_eval(model: nn.Module) -> None:
    """Keep the frozen backbone in eval mode (fixed BatchNorm statistics) while the head trains."""
    for m in backbone_modules(model):
        m.eval()


def param_count(params) -> int:
    """Number of scalars in ``params``."""
    return sum(int(torch.numel(p)) for p in params)

