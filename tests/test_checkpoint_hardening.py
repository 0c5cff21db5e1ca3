"""Crafted checkpoints (issue 21): memo bombs, absurd or inconsistent metadata, broken weights, file modes and a closed
pipe — each refused (or handled) with one sentence naming the file, quickly, before a model is built."""
from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from cognn.checkpoints import load_model, read_checkpoint, save_checkpoint
from cognn.checkpoints.safe_pickle import LEGACY_MAGIC
from cognn.cli import convert, info
from cognn.errors import InputFileError
from cognn.models import build
from cognn.train.state import save_state

REPO = Path(__file__).resolve().parents[1]


def legacy_torch_file(obj) -> bytes:
    """A legacy (pre-zip) PyTorch file holding ``obj`` and no storages, written byte by byte."""
    head = pickle.dumps(int.from_bytes(LEGACY_MAGIC[4:], "little"), protocol=2)
    assert head.startswith(LEGACY_MAGIC)
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return b"".join(pickle.dumps(part, protocol=2) for part in (int.from_bytes(LEGACY_MAGIC[4:], "little"), 1001,
                                                                 sys_info, obj, []))


def refused(path: Path, match: str, **kwargs) -> str:
    with pytest.raises(InputFileError, match=match) as err:
        load_model(path, **kwargs)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_billion_laughs_is_refused_at_once(tmp_path, capsys):
    bomb = []
    for _ in range(30):
        bomb = [bomb, bomb]  # 2^30 lists when expanded, 30 objects in the pickle
    path = tmp_path / "laughs.ckpt"
    path.write_bytes(legacy_torch_file({"state_dict": {}, "hyper_parameters": {"x": bomb}}))
    assert path.stat().st_size < 600
    t0 = time.perf_counter()
    refused(path, "refused: its pickle expands to more than")
    assert info.main([str(path)]) == 2
    assert convert.main([str(path), str(tmp_path / "out.safetensors")]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - t0 < 10 and err.count("expands to more than") == 2 and "Traceback" not in err
    deep = []
    for _ in range(100):
        deep = [deep]
    path.write_bytes(legacy_torch_file({"state_dict": {}, "hyper_parameters": {"x": deep}}))
    refused(path, "nests containers more than 40 levels deep")


def test_untrusted_names_are_never_repr_ed(tmp_path):
    """A non-tensor entry keyed by a huge shared structure is described by its type, not printed."""
    bomb = ()
    for _ in range(30):
        bomb = (bomb, bomb)
    path = tmp_path / "keys.pt"
    path.write_bytes(legacy_torch_file({"fc.weight": 3, "x\nnew line": "y" * 10_000}))
    msg = refused(path, "entries that are not tensors")
    assert len(msg) < 400 and "\\n" in msg
    path.write_bytes(legacy_torch_file({"state_dict": {"fc.weight": bomb[0]}}))
    refused(path, "refused|not tensors")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    """A tiny ST-GCN* (base_channels 8, 3 classes): its tensors and the header of its cognn file."""
    net = build("stgcn_mod", num_classes=3, base_channels=8)
    root = tmp_path_factory.mktemp("meta")
    path = save_checkpoint(root / "small.safetensors", net)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {"tensors": {k: f.get_tensor(k) for k in f.keys()}, "header": dict(f.metadata())}


@pytest.mark.parametrize("change, match", [
    ({"num_classes": "1000000000"}, "num_classes must be between 1 and 100,000"),
    ({"model_kwargs": '{"base_channels": 100000}'}, "base_channels must be a whole number from 1 to 1,024"),
    ({"model": "costgcn_mod", "model_kwargs": '{"clip_frames": 1000000000, "base_channels": 8}'},
     "clip_frames must be a whole number from 1 to 100,000"),
    ({"model": "costgcn_mod", "model_kwargs": '{"clip_frames": -5, "base_channels": 8}'},
     "clip_frames must be a whole number"),
    ({"model": "costgcn_mod", "model_kwargs": '{"clip_frames": 50, "base_channels": 8}'},
     "cannot be built as costgcn_mod .*clip_frames must be at least 81"),
    ({"num_classes": "4"}, "metadata implies 4 classes but its tensors have 3"),
    ({"model_kwargs": '{"base_channels": 16}'}, "metadata implies 16 channels in its first layer but its tensors "
                                                "have 8"),
    ({"model_kwargs": '{"base_channels": 8, "warm_start": true}'}, "model_kwargs has 'warm_start'"),
    ({"fps": "nan"}, "fps must be positive"),
])
def test_metadata_is_checked_before_building(small, tmp_path, change, match):
    path = tmp_path / "meta.safetensors"
    save_file(small["tensors"], str(path), metadata={**small["header"], **change})
    refused(path, match)


def test_convert_does_not_write_absurd_metadata(small, tmp_path, capsys):
    src = tmp_path / "big.safetensors"
    save_file(small["tensors"], str(src), metadata={**small["header"], "model": "costgcn_mod",
                                                    "model_kwargs": '{"clip_frames": 1000000000, "base_channels": 8}'})
    out = tmp_path / "out.safetensors"
    assert convert.main([str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert str(src) in err and "clip_frames" in err and err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_broken_weights_are_refused(small, tmp_path, value):
    tensors = dict(small["tensors"])
    tensors["fc.weight"] = torch.full_like(tensors["fc.weight"], value)
    path = tmp_path / "broken.safetensors"
    save_file(tensors, str(path), metadata=small["header"])
    refused(path, r"tensor 'fc.weight' holds NaN or infinite values \(all its 96\)")
    sd = build("stgcn", num_classes=3, base_channels=8).state_dict()
    sd["layers.layer2.tcn.bn.running_var"][0] = value
    torch.save(sd, tmp_path / "broken.pt")
    refused(tmp_path / "broken.pt", r"running_var' holds NaN or infinite values \(1 of its 8\)")


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_follow_the_umask(small, tmp_path, umask):
    src = tmp_path / "src.safetensors"
    save_file(small["tensors"], str(src), metadata=small["header"])
    before = os.umask(umask)
    try:
        assert convert.main([str(src), str(tmp_path / "converted.safetensors")]) == 0
        save_checkpoint(tmp_path / "saved.safetensors", build("stgcn", num_classes=3, base_channels=8))
        save_state(tmp_path / "state.pt", {"epoch": 1})
    finally:
        os.umask(before)
    for name in ("converted.safetensors", "saved.safetensors", "state.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_info_into_a_closed_pipe_ends_quietly(small, tmp_path):
    path = tmp_path / "small.safetensors"
    save_file(small["tensors"], str(path), metadata=small["header"])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "cognn.cli.info", str(path), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written (cognn-info FILE | head -c 0)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err, err


def test_info_reports_metadata_json(small, tmp_path, capsys):
    path = tmp_path / "small.safetensors"
    save_file(small["tensors"], str(path), metadata=small["header"])
    assert info.main([str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["meta"]["model_kwargs"] == {"base_channels": 8} and doc["meta"]["quantization"] == {}
    assert read_checkpoint(path).meta["num_classes"] == 3
