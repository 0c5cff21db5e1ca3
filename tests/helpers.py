"""Shared test helpers (not fixtures): paths to ../shared/data, the tools as modules and random BatchNorm statistics."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
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


def stick_body(lean_deg: float, hip_drop: float = 0.0, trunk_deg: float | None = None) -> np.ndarray:
    """A standing OpenPose-18 stick figure 0.9 picture heights tall (ankles at y = 0.45), every joint seen: the whole
    body leaning ``lean_deg`` about the ankles, the hips ``hip_drop`` lower (knees bent), the trunk at ``trunk_deg``
    from vertical (default: with the body)."""
    a = np.radians(lean_deg)
    along = np.array([np.sin(a), -np.cos(a)])  # up the body, y down
    ankle = np.array([0.0, 0.45])
    hip = ankle + (0.5 - hip_drop) * along if hip_drop < 0.45 else ankle + np.array([0.05, -0.05])
    t = np.radians(lean_deg if trunk_deg is None else trunk_deg)
    up_trunk = np.array([np.sin(t), -np.cos(t)])
    neck = hip + 0.3 * up_trunk
    head = hip + 0.4 * up_trunk
    knee = 0.5 * (ankle + hip) + np.array([0.03, 0.0])
    s = np.zeros((3, 18), np.float32)
    s[2] = 1.0
    place = {0: head, 1: neck, 2: neck, 5: neck, 3: neck + 0.1 * along, 6: neck + 0.1 * along, 4: hip, 7: hip,
             8: hip, 11: hip, 9: knee, 12: knee, 10: ankle, 13: ankle, 14: head, 15: head, 16: head, 17: head}
    for j, p in place.items():
        s[:2, j] = p
    return s

