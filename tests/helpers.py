"""Shared test helpers (not fixtures): paths to ../shared/data, the tools as modules and random BatchNorm statistics."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as the module ``name`` (the tools are scripts, not a package), loaded once per session."""
    path = REPO / "tools" / f"{name}.py"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


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
            if "graph_attn" in name or "edge_importance" in name:
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


def to_original_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A cognn ``stgcn_original`` state dict under the original yysijie/st-gcn key names and shapes (written from the
    original code's module layout, independently of cognn's own key map)."""
    parts = {"gcn.conv.": "gcn.conv.", "gcn.bn.": "tcn.0.", "tcn.t_conv.": "tcn.2.", "tcn.bn.": "tcn.3.",
             "residual.t_conv.": "residual.0.", "residual.bn.": "residual.1."}
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("layers.layer"):
            layer, rest = key[len("layers.layer"):].split(".", 1)
            i = int(layer) - 1
            if rest == "gcn.A":
                out["A"] = value
            elif rest == "gcn.edge_importance":
                out[f"edge_importance.{i}"] = value
            else:
                old = next(p for p in parts if rest.startswith(p))
                out[f"st_gcn_networks.{i}.{parts[old]}{rest[len(old):]}"] = value
        elif key.startswith("fc."):
            out["fcn." + key[3:]] = value[:, :, None, None] if key == "fc.weight" else value
        else:
            out[key] = value
    return out
