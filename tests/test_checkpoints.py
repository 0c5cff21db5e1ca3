"""Checkpoint families load exactly; our format round-trips; unsafe, damaged and mismatched files are refused.

Every official family is imitated with a file of exactly its key names and shapes (random values), written the way
the official code writes it (``torch.save`` of a state dict, a Lightning 1.x checkpoint, OpenDR's long keys, the
original ST-GCN's legacy file), then loaded through cognn and compared with an independent computation.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
import re
import sys
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import randomise
from safetensors import safe_open
from safetensors.torch import save_file
from torch.testing import assert_close

from cognn.checkpoints import FORMAT, Checkpoint, detect_family, load_model, read_checkpoint, save_checkpoint
from cognn.errors import InputFileError
from cognn.layouts import spatial_partition
from cognn.models import CoSkeletonNet, build
from cognn.weights import default_entry, find_weights, load_manifest, verify_sha256

FAMILIES = ("stgcn", "agcn", "str")
NUM_CLASSES = 60  # NTU-60: the official shapes, so the counts of CHECKPOINTS.md apply
#: state-dict entries and trainable parameters of the official NTU-60 models (docs/CHECKPOINTS.md)
OFFICIAL_COUNTS = {"stgcn": (242, 3_141_478), "agcn": (362, 3_469_510), "str": (242, 3_086_470)}
LIGHTNING = ("pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint")


# ---------------------------------------------------------------------------------------------------------------------
# building files of each family

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, torch.Tensor]]:
    """Random official-layout state dicts (short keys) of the three families."""
    out = {}
    for i, fam in enumerate(FAMILIES):
        net = randomise(build(fam, num_classes=NUM_CLASSES), seed=i, calibrate_frames=24)
        out[fam] = {k: v.clone() for k, v in net.state_dict().items()}
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, weights) -> dict[tuple[str, str], Path]:
    """(kind, family) -> file, for kind in pt / ckpt / pth."""
    root = tmp_path_factory.mktemp("official")
    out = {}
    for fam in FAMILIES:
        sd = weights[fam]
        out["pt", fam] = root / f"{fam}_ntu60_xsub_joint.pt"
        torch.save(collections.OrderedDict(sd), out["pt", fam])
        out["ckpt", fam] = root / f"{fam}mod_ntu60_xview_bone.ckpt"
        write_lightning(out["ckpt", fam], sd)
        out["pth", fam] = root / f"model_co{fam}.pth"
        torch.save(collections.OrderedDict((to_long(k), v) for k, v in sd.items()), out["pth", fam])
    return out


@contextmanager
def fake_lightning():
    """A stand-in ``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`` class, removed afterwards."""
    assert not any(name in sys.modules for name in LIGHTNING)
    mods = [types.ModuleType(name) for name in LIGHTNING]
    cls = type("ModelCheckpoint", (), {"__module__": LIGHTNING[-1]})
    mods[-1].ModelCheckpoint = cls
    sys.modules.update(zip(LIGHTNING, mods))
    try:
        yield cls
    finally:
        for name in LIGHTNING:
            sys.modules.pop(name, None)


def write_lightning(path: Path, state_dict: dict, **extra) -> None:
    """A PyTorch-Lightning 1.4 checkpoint as the official training wrote it (keys in the official order)."""
    with fake_lightning() as ModelCheckpoint:
        ckpt = {
            "epoch": 29, "global_step": 1234, "pytorch-lightning_version": "1.4.9",
            "state_dict": collections.OrderedDict(state_dict),
            "callbacks": {ModelCheckpoint: {"monitor": "val/top1", "best_model_score": torch.tensor(0.86),
                                            "best_model_path": "/x/epoch=29.ckpt", "current_score": torch.tensor(0.8),
                                            "dirpath": "/x"}},
            "optimizer_states": [{"state": {0: {"momentum_buffer": torch.zeros(3)}},
                                  "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0]}]}],
            "lr_schedulers": [{"milestones": collections.Counter([20, 25]), "gamma": 0.1, "base_lrs": [0.1],
                               "last_epoch": 29, "_last_lr": [0.001]}],
            "hyper_parameters": {"learning_rate": 0.1, "batch_size": 8, "forward_mode": "clip"},
            **extra,
        }
        torch.save(ckpt, path)
    assert "pytorch_lightning" not in sys.modules


def to_long(key: str) -> str:
    """Short -> long key of the official continual models (CHECKPOINTS.md), written independently of cognn."""
    m = re.match(r"layers\.layer(\d+)\.(.*)$", key)
    if not m or m.group(1) == "1":
        return key
    n, rest = m.groups()
    if rest.startswith("residual."):
        return f"layers.layer{n}.0.0.{rest}"
    return f"layers.layer{n}.0.1.{rest}"


def reference(name: str, state_dict: dict) -> torch.nn.Module:
    net = build(name, num_classes=NUM_CLASSES)
    net.load_state_dict(state_dict)
    return net.eval()


def clip(frames: int, n: int = 1, joints: int = 25, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, frames, joints, 2, generator=torch.Generator().manual_seed(seed))


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------------------------------
# the official families

@pytest.mark.parametrize("fam", FAMILIES)
def test_official_layout_counts(fam, weights):
    entries, trainable = OFFICIAL_COUNTS[fam]
    net = build(fam, num_classes=NUM_CLASSES)
    assert len(weights[fam]) == entries
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == trainable
    assert "layers.layer5.residual.t_conv.weight" in weights[fam] and "layers.layer1.gcn.A" in weights[fam]
    assert ("layers.layer2.gcn.a_conv.0.weight" in weights[fam]) == (fam == "agcn")
    assert ("layers.layer4.gcn.attention_conv.qkv_conv.weight" in weights[fam]) == (fam == "str")


@pytest.mark.parametrize("fam", FAMILIES)
def test_continual_skeletons_pt(fam, files, weights):
    path = files["pt", fam]
    assert same_tensors(torch.load(path, weights_only=True), weights[fam])  # the official property of .pt files
    assert detect_family(path) == "continual-skeletons"
    net = load_model(path)
    assert net.spec.name == fam and not net.training and net.num_classes == NUM_CLASSES
    assert net.checkpoint_meta["data"] == "ntu60-xsub" and len(net.checkpoint_meta["classes"]) == NUM_CLASSES
    x = clip(24)
    with torch.no_grad():
        assert_close(net(x), reference(fam, weights[fam])(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("fam", FAMILIES)
def test_lightning_ckpt(fam, files, weights):
    path = files["ckpt", fam]
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # the trap: torch's safe loader refuses these files
    assert detect_family(path) == "lightning"
    ck = read_checkpoint(path)
    assert same_tensors(ck.state_dict, weights[fam])
    assert ck.meta["model"] == f"{fam}_mod" and ck.meta["modality"] == "bone" and ck.meta["data"] == "ntu60-xview"
    assert ck.meta["source"]["epoch"] == 29 and ck.meta["source"]["hyper_parameters"]["batch_size"] == 8
    assert any("ModelCheckpoint" in note for note in ck.notes)
    net = load_model(path)
    x = clip(84)  # the * models need at least their 81-frame receptive field
    with torch.no_grad():
        assert_close(net(x), reference(f"{fam}_mod", weights[fam])(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("fam", FAMILIES)
def test_opendr_long_keys(fam, files, weights):
    path = files["pth", fam]
    assert detect_family(path) == "opendr"
    net = load_model(path)
    assert isinstance(net, CoSkeletonNet) and net.spec.name == f"co{fam}_mod"
    assert same_tensors(net.state_dict(), weights[fam])
    regular = load_model(path, model=fam)  # same family: the long keys also load into the regular model
    x = clip(24)
    with torch.no_grad():
        assert_close(regular(x), reference(fam, weights[fam])(x), rtol=0, atol=1e-6)


def test_lightning_ckpt_with_long_keys(tmp_path, weights):
    path = tmp_path / "costgcn_ntu60_xview_joint.ckpt"  # OpenDR's default download: the continual model's keys
    write_lightning(path, {to_long(k): v for k, v in weights["stgcn"].items()})
    ck = read_checkpoint(path)
    assert ck.family == "lightning" and ck.meta["model"] == "costgcn_mod" and ck.meta["source"]["key_style"] == "long"
    assert same_tensors(ck.state_dict, weights["stgcn"])


@pytest.mark.parametrize("fam, window", [("stgcn", 300), ("agcn", 100), ("str", 100)])
def test_regular_file_runs_in_continual_twin(fam, window, files, weights):
    """Each step of the * continual model = the regular * model on the last ``window`` frames.

    ST-GCN uses the paper's 300-frame window; AGCN and S-TR a 100-frame one (``clip_frames``, the same step path
    with a shorter pool) to keep the test short on a shared CPU.
    """
    kwargs = {} if window == 300 else {"clip_frames": window}
    co = load_model(files["ckpt", fam], model=f"co{fam}_mod", **kwargs)
    assert isinstance(co, CoSkeletonNet) and co.receptive_field == window
    x = clip(window, seed=1)
    with torch.no_grad():
        steps = co.forward_steps(x)
        expected = reference(f"{fam}_mod", weights[fam])(x)
    assert steps.shape == (1, NUM_CLASSES, 1)
    assert_close(steps[..., -1], expected, rtol=1e-4, atol=1e-4)


def test_legacy_torch_file(tmp_path, weights):
    path = tmp_path / "agcn_ntu120_xset_joint.pt"
    torch.save(weights["agcn"], path, _use_new_zipfile_serialization=False)
    ck = read_checkpoint(path)
    assert ck.family == "continual-skeletons" and same_tensors(ck.state_dict, weights["agcn"])


# ---------------------------------------------------------------------------------------------------------------------
# the original ST-GCN (yysijie/st-gcn)

ORIGINAL_BLOCKS = ((3, 64, 1), (64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1),
                   (128, 256, 2), (256, 256, 1), (256, 256, 1))


def original_state_dict(num_classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the original ST-GCN's key names and shapes (Kinetics: 18 joints, x, y, score)."""
    g = torch.Generator().manual_seed(seed)

    def conv(cout, cin, kt=1):
        return torch.randn(cout, cin, kt, 1, generator=g) * (1.0 / (cin * kt)) ** 0.5

    def bn(prefix, ch):
        return {f"{prefix}.weight": 0.75 + 0.5 * torch.rand(ch, generator=g),
                f"{prefix}.bias": 0.1 * torch.randn(ch, generator=g),
                f"{prefix}.running_mean": 0.1 * torch.randn(ch, generator=g),
                f"{prefix}.running_var": 0.5 + torch.rand(ch, generator=g)}

    A = torch.from_numpy(spatial_partition("kinetics18")).float()
    sd = {"A": A, **bn("data_bn", 3 * 18)}
    for i, (cin, cout, stride) in enumerate(ORIGINAL_BLOCKS):
        p = f"st_gcn_networks.{i}"
        sd[f"{p}.gcn.conv.weight"] = conv(3 * cout, cin)
        sd[f"{p}.gcn.conv.bias"] = 0.1 * torch.randn(3 * cout, generator=g)
        sd.update(bn(f"{p}.tcn.0", cout))
        sd[f"{p}.tcn.2.weight"] = conv(cout, cout, 9)
        sd[f"{p}.tcn.2.bias"] = 0.1 * torch.randn(cout, generator=g)
        sd.update(bn(f"{p}.tcn.3", cout))
        if i > 0 and (cin != cout or stride != 1):
            sd[f"{p}.residual.0.weight"] = conv(cout, cin)
            sd[f"{p}.residual.0.bias"] = 0.1 * torch.randn(cout, generator=g)
            sd.update(bn(f"{p}.residual.1", cout))
    for i in range(len(ORIGINAL_BLOCKS)):
        sd[f"edge_importance.{i}"] = 1.0 + 0.2 * torch.randn(A.shape, generator=g)
    sd["fcn.weight"] = conv(num_classes, 256)
    sd["fcn.bias"] = 0.1 * torch.randn(num_classes, generator=g)
    return sd


def original_forward(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The original ST-GCN forward pass, written from the published code's structure with functional ops."""
    def bn(y, p):
        return F.batch_norm(y, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-5)

    n, c, t, v, m = x.shape
    y = bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t), "data_bn")
    y = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
    for i, (cin, cout, stride) in enumerate(ORIGINAL_BLOCKS):
        p = f"st_gcn_networks.{i}."
        if i == 0:
            res = 0
        elif cin == cout and stride == 1:
            res = y
        else:
            res = bn(F.conv2d(y, sd[p + "residual.0.weight"], sd[p + "residual.0.bias"], stride=(stride, 1)),
                     p + "residual.1")
        z = F.conv2d(y, sd[p + "gcn.conv.weight"], sd[p + "gcn.conv.bias"])
        z = z.view(z.shape[0], 3, cout, z.shape[2], v)
        z = torch.einsum("nkctv,kvw->nctw", z, sd["A"] * sd[f"edge_importance.{i}"])
        z = F.conv2d(F.relu(bn(z, p + "tcn.0")), sd[p + "tcn.2.weight"], sd[p + "tcn.2.bias"], stride=(stride, 1),
                     padding=(4, 0))
        y = F.relu(bn(z, p + "tcn.3") + res)
    y = F.avg_pool2d(y, y.shape[2:]).view(n, m, -1, 1, 1).mean(dim=1)
    return F.conv2d(y, sd["fcn.weight"], sd["fcn.bias"]).view(n, -1)


def test_original_stgcn_legacy_file(tmp_path):
    sd = original_state_dict(num_classes=400)
    path = tmp_path / "st_gcn.kinetics.pt"
    torch.save(sd, path, _use_new_zipfile_serialization=False)  # 2018-era file: legacy format, no BN counters
    assert detect_family(path) == "stgcn-original"
    net = load_model(path)
    assert net.layout.name == "kinetics18" and net.num_classes == 400
    assert net.checkpoint_meta["classes"][:1] and net.checkpoint_meta["data"] == "kinetics400"
    x = clip(16, joints=18)
    with torch.no_grad():
        assert_close(net(x), original_forward(sd, x), rtol=1e-5, atol=1e-5)
    out = save_checkpoint(tmp_path / "orig.safetensors", net, net.checkpoint_meta)
    with torch.no_grad():
        assert_close(load_model(out)(x), net(x), rtol=0, atol=0)
    with pytest.raises(InputFileError, match="another network family"):
        load_model(path, model="stgcn")


def test_original_stgcn_zip_file_and_its_continual_twins(tmp_path):
    """A zip-format original file (keys ``st_gcn_networks.*``) loads into every model of the family."""
    sd = original_state_dict(num_classes=400, seed=1)
    path = tmp_path / "st_gcn.kinetics.pt"
    torch.save(sd, path)
    ck = read_checkpoint(path)
    assert ck.family == "stgcn-original" and ck.meta["preprocessing"] == "stgcn-kinetics-feeder"
    assert ck.meta["domain"] == "image2d" and ck.meta["model"] == "stgcn_original"
    assert len(ck.state_dict["layers.layer1.gcn.A"]) == 3 and ck.state_dict["fc.weight"].shape == (400, 256)
    x = clip(12, joints=18, seed=2)
    co = load_model(path, model="costgcn_original")
    with torch.no_grad():
        assert_close(load_model(path)(x), original_forward(sd, x), rtol=1e-5, atol=1e-5)
        assert_close(load_model(path, model="stgcn_original_mod")(x[:, :, :1].expand(-1, -1, 90, -1, -1).clone()),
                     original_forward_mod(sd, x[:, :, :1].expand(-1, -1, 90, -1, -1).clone()), rtol=1e-5,
                     atol=1e-5)
    assert isinstance(co, CoSkeletonNet) and co.name == "costgcn_original" and co.stride == 4


def original_forward_mod(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The ``*`` variant written out: stride 1, no temporal padding, the residual cropped to the centre."""
    def bn(y, p):
        return F.batch_norm(y, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-5)

    n, c, t, v, m = x.shape
    y = bn(x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t), "data_bn")
    y = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
    for i, (cin, cout, stride) in enumerate(ORIGINAL_BLOCKS):
        p = f"st_gcn_networks.{i}."
        z = F.conv2d(y, sd[p + "gcn.conv.weight"], sd[p + "gcn.conv.bias"])
        z = torch.einsum("nkctv,kvw->nctw", z.view(z.shape[0], 3, cout, z.shape[2], v),
                         sd["A"] * sd[f"edge_importance.{i}"])
        z = bn(F.conv2d(F.relu(bn(z, p + "tcn.0")), sd[p + "tcn.2.weight"], sd[p + "tcn.2.bias"]), p + "tcn.3")
        centre = y[:, :, 4:-4]
        if i == 0:
            res = 0
        elif cin == cout and stride == 1:
            res = centre
        else:
            res = bn(F.conv2d(centre, sd[p + "residual.0.weight"], sd[p + "residual.0.bias"]), p + "residual.1")
        y = F.relu(z + res)
    y = y.mean(dim=(2, 3)).view(n, m, -1).mean(1)
    return F.linear(y, sd["fcn.weight"][:, :, 0, 0], sd["fcn.bias"])


def quantized_original(num_classes: int = 7) -> tuple[dict, dict]:
    """An original-layout state dict saved after eager-mode quantization: (what torch.save writes, float reference).

    Two weights are quantized as PyTorch does it (per-channel qint8 and per-tensor quint8) and the quantized modules'
    activation settings (``*.scale``, ``*.zero_point``) are there, as in the released int8 Kinetics file.
    """
    sd = original_state_dict(num_classes=num_classes, seed=3)
    w = sd["st_gcn_networks.0.gcn.conv.weight"]
    scales = w.abs().amax(dim=(1, 2, 3)).double() / 100
    saved = dict(sd)
    with warnings.catch_warnings():  # torch deprecates creating quantized tensors; files of them remain
        warnings.simplefilter("ignore")
        saved["st_gcn_networks.0.gcn.conv.weight"] = torch.quantize_per_channel(
            w, scales, torch.randint(-5, 5, (w.shape[0],)), 0, torch.qint8)
        saved["fcn.weight"] = torch.quantize_per_tensor(sd["fcn.weight"], 0.003, 120, torch.quint8)
    saved["st_gcn_networks.0.gcn.conv.scale"] = torch.tensor(0.65)
    saved["st_gcn_networks.0.gcn.conv.zero_point"] = torch.tensor(64)
    saved["st_gcn_networks.0.tcn.0.scale"] = torch.tensor([0.47])
    saved["st_gcn_networks.0.tcn.0.zero_point"] = torch.tensor([128], dtype=torch.int32)
    reference = {k: v.dequantize() if v.is_quantized else v for k, v in saved.items() if not k.endswith(
        (".scale", ".zero_point"))}
    return saved, reference


@pytest.mark.parametrize("legacy", [False, True])
def test_quantized_weights_are_dequantized_as_torch_does(tmp_path, legacy):
    saved, reference = quantized_original()
    path = tmp_path / "st_gcn_kinetics_int8.pt"
    torch.save(saved, path, _use_new_zipfile_serialization=not legacy)
    ck = read_checkpoint(path)
    assert torch.equal(ck.state_dict["layers.layer1.gcn.conv.weight"], reference["st_gcn_networks.0.gcn.conv.weight"])
    assert torch.equal(ck.state_dict["fc.weight"], reference["fcn.weight"][:, :, 0, 0])
    assert ck.meta["quantization"]["tensors"] == {
        "layers.layer1.gcn.conv.weight": {"dtype": "qint8", "scheme": "per_channel_affine", "axis": 0},
        "fc.weight": {"dtype": "quint8", "scheme": "per_tensor_affine", "axis": None}}
    assert any("dropped 4 activation settings" in n for n in ck.notes)
    assert not any(k.endswith((".scale", ".zero_point")) for k in ck.state_dict)
    x = clip(10, joints=18, seed=4)
    with torch.no_grad():
        assert_close(load_model(path)(x), original_forward(reference, x), rtol=1e-5, atol=1e-5)
    out = save_checkpoint(tmp_path / "int8.safetensors", load_model(path), ck.meta, quantized=ck.quantized)
    with safe_open(str(out), framework="pt") as f:  # stored as integers, losslessly
        assert f.get_tensor("layers.layer1.gcn.conv.weight").dtype == torch.int8
        assert f.get_tensor("fc.weight").dtype == torch.uint8
        assert f.get_tensor("__quantized__.fc.weight.zero_points").tolist() == [120]
    again = read_checkpoint(out)
    assert all(torch.equal(again.state_dict[k], v) for k, v in ck.state_dict.items())  # + the BN counters
    assert again.meta["quantization"] == ck.meta["quantization"]


def test_quantized_storage_is_checked(tmp_path):
    saved, _ = quantized_original()
    ck_path = tmp_path / "q.pt"
    torch.save(saved, ck_path)
    ck = read_checkpoint(ck_path)
    out = save_checkpoint(tmp_path / "q.safetensors", load_model(ck_path), ck.meta, quantized=ck.quantized)
    with safe_open(str(out), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        header = f.metadata()
    del tensors["__quantized__.fc.weight.scales"]
    save_file(tensors, str(tmp_path / "cut.safetensors"), metadata=header)
    refused(tmp_path / "cut.safetensors", "quantized tensor 'fc.weight' has no")
    changed = load_model(ck_path)
    with torch.no_grad():
        changed.fc.weight.add_(1.0)
    with pytest.raises(ValueError, match="no longer equals its quantized values"):
        save_checkpoint(tmp_path / "x.safetensors", changed, ck.meta, quantized=ck.quantized)


def test_cognn_file_with_original_key_names_still_loads(tmp_path):
    """cognn files written for ``stgcn_original`` before the family existed kept the original key names."""
    sd = original_state_dict(num_classes=400, seed=5)
    meta = {"format": FORMAT, "format_version": "1", "model": "stgcn_original", "layout": "kinetics18",
            "num_classes": "400", "model_kwargs": '{"edge_importance": true}'}
    path = tmp_path / "old_original.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata=meta)
    net = load_model(path)
    x = clip(8, joints=18, seed=6)
    with torch.no_grad():
        assert_close(net(x), original_forward(sd, x), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------------
# our format

def test_our_format_round_trip(tmp_path, weights):
    net = build("costgcn_mod", num_classes=NUM_CLASSES, clip_frames=120)
    net.load_state_dict(weights["stgcn"])
    classes = [f"action {i}" for i in range(NUM_CLASSES)]
    meta = {"classes": classes, "modality": "bone", "data": "ntu60-xsub", "metrics": {"top1": 0.863},
            "description": "test weights", "licence": "CC-BY-4.0", "fps": 25}
    path = save_checkpoint(tmp_path / "w.safetensors", net, meta)
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    assert all(isinstance(v, str) for v in header.values())
    assert header["format"] == FORMAT and json.loads(header["classes"]) == classes
    assert json.loads(header["model_kwargs"]) == {"clip_frames": 120}
    ck = read_checkpoint(path)
    assert isinstance(ck, Checkpoint) and ck.family == "cognn" and same_tensors(ck.state_dict, weights["stgcn"])
    assert {k: ck.meta[k] for k in meta} == {**meta, "fps": 25.0}
    assert ck.meta["model"] == "costgcn_mod" and ck.meta["domain"] == "camera3d" and ck.meta["num_persons"] == 2
    loaded = load_model(path, warm_start=True)
    assert isinstance(loaded, CoSkeletonNet) and loaded.clip_frames == 120 and loaded.warm_start
    assert same_tensors(loaded.state_dict(), weights["stgcn"])
    regular = load_model(path, model="stgcn_mod")  # and back into the regular twin
    assert type(regular).__name__ == "SkeletonNet" and regular.checkpoint_meta["classes"] == classes
    with pytest.raises(ValueError, match="classes"):
        save_checkpoint(tmp_path / "bad.safetensors", net, {"classes": ["a", "b"]})
    with pytest.raises(ValueError, match="layout"):
        save_checkpoint(tmp_path / "bad.safetensors", net, {"layout": "kinetics18"})
    assert not (tmp_path / "bad.safetensors").exists()


# ---------------------------------------------------------------------------------------------------------------------
# refusals

def refused(path: Path, match: str, **kwargs) -> str:
    with pytest.raises(InputFileError, match=match) as info:
        load_model(path, **kwargs)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg and "Traceback" not in msg
    return msg


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Evaluates:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("payload", [_RunsCode, _Evaluates])
def test_pickle_that_runs_code_is_refused(tmp_path, weights, payload):
    marker = tmp_path / "pwned"
    plain = tmp_path / "stgcn_evil.pt"
    torch.save({**weights["stgcn"], "x": payload(marker)}, plain)
    msg = refused(plain, "would run code")
    assert ("system" in msg) if payload is _RunsCode else ("eval" in msg)
    wrapped = tmp_path / "evil.ckpt"
    write_lightning(wrapped, weights["stgcn"], hyper_parameters={"a": payload(marker)})
    refused(wrapped, "would run code")
    assert not marker.exists()


def test_damaged_files_are_refused(tmp_path, files):
    data = files["pt", "stgcn"].read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "cut.pt", "damaged")
    noise = torch.randint(0, 256, (4096,), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    (tmp_path / "noise.pt").write_bytes(b"\x13" + bytes(noise.tolist()))
    refused(tmp_path / "noise.pt", "not a checkpoint")
    (tmp_path / "empty.pt").write_bytes(b"")
    refused(tmp_path / "empty.pt", "empty")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"a": 1}))
    refused(tmp_path / "plain.pkl", "plain Python pickle")
    refused(tmp_path / "absent.pt", "no such file")
    torch.save({"fc.weight": torch.zeros(1).expand(10 ** 6, 10 ** 5)}, tmp_path / "huge.pt")  # a 4-byte storage
    refused(tmp_path / "huge.pt", "far more than the file holds")
    net = build("stgcn", num_classes=3)
    ours = save_checkpoint(tmp_path / "ours.safetensors", net).read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(ours[: len(ours) - 1000])
    refused(tmp_path / "cut.safetensors", "damaged")


def test_mismatched_tensors_are_listed(tmp_path, weights):
    sd = dict(weights["stgcn"])
    sd["layers.layer2.tcn.t_conv.weight"] = torch.zeros(64, 64, 5, 1)
    torch.save(sd, tmp_path / "shape.pt")
    refused(tmp_path / "shape.pt", r"wrong shape.*layers\.layer2\.tcn\.t_conv\.weight \(64, 64, 5, 1\)")
    sd = {**weights["stgcn"], "extra.weight": torch.zeros(3)}
    del sd["layers.layer3.gcn.bn.weight"]
    torch.save(sd, tmp_path / "keys.pt")
    msg = refused(tmp_path / "keys.pt", "1 missing")
    assert "layers.layer3.gcn.bn.weight" in msg and "1 left over (extra.weight)" in msg
    sd = {**weights["stgcn"], "fc.weight": {"not": "a tensor"}}
    torch.save(sd, tmp_path / "nontensor.pt")
    refused(tmp_path / "nontensor.pt", "not tensors.*fc.weight")
    torch.save({"layers.something": torch.zeros(2)}, tmp_path / "foreign.pt")
    refused(tmp_path / "foreign.pt", "not an ST-GCN")


def test_wrong_request_is_refused(files):
    path = files["pt", "agcn"]
    msg = refused(path, "layout", layout="kinetics18")
    assert "25 joints" in msg and "18 joints" in msg
    refused(path, "60 classes but 400", num_classes=400)
    refused(path, "cannot be loaded into CoST-GCN", model="costgcn")


def test_bad_metadata_is_refused(tmp_path, weights):
    good = {"format": FORMAT, "format_version": "1", "model": "stgcn", "layout": "ntu25", "num_classes": "60"}
    tensors = {k: v.contiguous() for k, v in weights["stgcn"].items()}
    for change, match in [({"num_classes": "sixty"}, "num_classes"), ({"classes": '["a"]'}, "classes"),
                          ({"model": "resnet"}, "unknown model"), ({"format_version": "99"}, "newer"),
                          ({"model": "agcn"}, "do not fit agcn")]:
        path = tmp_path / "meta.safetensors"
        save_file(tensors, str(path), metadata={**good, **change})
        refused(path, match)


# ---------------------------------------------------------------------------------------------------------------------
# the weights manifest

def test_repository_manifest_lists_the_pose_model():
    pose = default_entry("pose")
    assert pose is not None and pose.path.name == "pose_landmarker_full.task" and "Apache-2.0" in pose.licence
    assert verify_sha256(pose)
    assert all(e.kind in ("model", "pose") for e in load_manifest())


def test_manifest_lookup(tmp_path):
    net = build("stgcn_mod", num_classes=2)
    save_checkpoint(tmp_path / "gesture.safetensors", net, {"classes": ["wave", "clap"]})
    digest = __import__("hashlib").sha256((tmp_path / "gesture.safetensors").read_bytes()).hexdigest()
    entry = {"name": "gesture", "kind": "model", "file": "gesture.safetensors", "model": "stgcn_mod",
             "layout": "ntu25", "domain": "camera3d", "classes": ["wave", "clap"], "data": "own recordings",
             "metrics": {"top1": 0.9}, "sha256": digest, "licence": "CC0-1.0", "default": True,
             "description": "two gestures"}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": "cognn-weights-manifest", "version": 1, "entries": [entry]}))
    found = find_weights("costgcn_mod", path=manifest)  # the continual twin uses the regular weights
    assert found is not None and found.name == "gesture" and found.class_names() == ["wave", "clap"]
    assert default_entry(path=manifest) == found and verify_sha256(found)
    assert find_weights("agcn", path=manifest) is None
    assert load_model(found.path).checkpoint_meta["classes"] == ["wave", "clap"]
    (tmp_path / "gesture.safetensors").write_bytes(b"changed")
    assert not verify_sha256(found)
    bad = {**entry, "sha256": "xyz"}
    manifest.write_text(json.dumps({"format": "cognn-weights-manifest", "version": 1, "entries": [bad]}))
    with pytest.raises(InputFileError, match="sha256"):
        load_manifest(manifest)
    manifest.write_text(json.dumps({"format": "cognn-weights-manifest", "version": 1,
                                    "entries": [entry, {**entry, "name": "other"}]}))
    with pytest.raises(InputFileError, match="default"):
        load_manifest(manifest)


def test_slim_network_round_trips_its_width(tmp_path):
    """A network of another width records ``base_channels``; reference-width files do not carry it (unchanged)."""
    slim = randomise(build("stgcn_mod", num_classes=5, base_channels=32), seed=3).eval()
    path = save_checkpoint(tmp_path / "slim.safetensors", slim, {"classes": list("abcde")})
    assert read_checkpoint(path).meta["model_kwargs"] == {"base_channels": 32}
    co = load_model(path, model="costgcn_mod", clip_frames=90)
    assert co.base_channels == 32 and co.clip_frames == 90
    x = torch.randn(1, 3, 90, 25, 2)
    with torch.no_grad():
        assert_close(co(x), slim(x), atol=1e-4, rtol=1e-4)
    ref = save_checkpoint(tmp_path / "ref.safetensors", build("costgcn_mod", num_classes=5, clip_frames=90),
                          {"classes": list("abcde")})
    assert read_checkpoint(ref).meta["model_kwargs"] == {"clip_frames": 90}
    with pytest.raises(InputFileError, match="wrong shape"):  # a slim file does not fit the reference width
        load_model(path, model="costgcn_mod", base_channels=64)
