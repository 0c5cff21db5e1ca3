"""Shared test helpers (not fixtures): paths to ../shared/data and random BatchNorm statistics."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test (with the reason) when the folder is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared test data lives beside the repository)")
    return path


def randomise(model: torch.nn.Module, seed: int = 0, calibrate_frames: int = 100) -> torch.nn.Module:
    """Random weights and BatchNorm statistics so that every parameter and buffer matters; returns eval-mode model.

    The running statistics are first measured on random clips (so activations keep a sane scale through ten blocks),
    then every BatchNorm's affine parameters are randomised.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".A") and not p.requires_grad:
                continue
            if "graph_attn" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p[0].numel()) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for mod in bns:
            mod.reset_running_stats()
            mod.momentum = None
            mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) * 0.5 + 0.75)
            mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
        model.train()
        lay = model.layout
        model(torch.randn(4, model.in_channels, calibrate_frames, lay.num_joints, model.num_persons, generator=g))
        for mod in bns:
            mod.momentum = 0.1
            mod.running_mean.add_(torch.randn(mod.running_mean.shape, generator=g) * 0.05)
    return model.eval()
