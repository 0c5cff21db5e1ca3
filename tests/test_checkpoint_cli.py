"""``cognn-convert`` and ``cognn-info`` on official-family files: output, metadata written, exit codes, errors."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch

from cognn.checkpoints import load_model, read_checkpoint
from cognn.cli import convert, info
from cognn.models import CoSkeletonNet, build

NTU60_FIRST = "drink water"


def _long(key: str) -> str:
    m = re.match(r"layers\.layer(\d+)\.(.*)$", key)
    if not m or m.group(1) == "1":
        return key
    n, rest = m.groups()
    return f"layers.layer{n}.0.0.{rest}" if rest.startswith("residual.") else f"layers.layer{n}.0.1.{rest}"


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    sd = build("stgcn", num_classes=60).state_dict()
    pt = root / "stgcn_ntu60_xsub_joint.pt"
    torch.save(sd, pt)
    pth = root / "model_costgcn.pth"
    torch.save({_long(k): v for k, v in sd.items()}, pth)
    noise = root / "noise.ckpt"
    noise.write_bytes(b"\x00\x01" * 512)
    return {"pt": pt, "pth": pth, "noise": noise, "state": sd}


def run(main, args: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_info_text(sources, capsys):
    code, out, err = run(info.main, [sources["pt"]], capsys)
    assert code == 0 and err == ""
    assert "continual-skeletons" in out and "stgcn (ST-GCN)" in out and "ntu25" in out
    assert "3,141,478 trainable" in out and f"60: {NTU60_FIRST}" in out and "ntu60-xsub" in out


def test_info_json(sources, capsys):
    code, out, _ = run(info.main, [sources["pth"], "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["family"] == "opendr" and doc["model"] == "costgcn_mod"
    assert doc["parameters"]["trainable"] == 3_141_478 and doc["meta"]["num_classes"] == 60
    assert doc["meta"]["source"]["key_style"] == "long"


def test_convert_then_load_and_info(sources, tmp_path, capsys):
    out_path = tmp_path / "costgcn_mod.safetensors"
    code, out, err = run(convert.main, [sources["pt"], out_path, "--model", "costgcn_mod", "--description", "demo",
                                        "--licence", "Apache-2.0", "--metrics", '{"top1": 0.863}', "--fps", "25"],
                         capsys)
    assert code == 0 and out == "" and "wrote" in err and "CoST-GCN*" in err
    ck = read_checkpoint(out_path)
    assert ck.family == "cognn" and ck.meta["model"] == "costgcn_mod" and ck.meta["classes"][0] == NTU60_FIRST
    assert ck.meta["description"] == "demo" and ck.meta["licence"] == "Apache-2.0" and ck.meta["fps"] == 25.0
    assert ck.meta["metrics"] == {"top1": 0.863} and ck.meta["data"] == "ntu60-xsub"
    assert ck.meta["source"]["family"] == "continual-skeletons" and len(ck.meta["source"]["sha256"]) == 64
    net = load_model(out_path)
    assert isinstance(net, CoSkeletonNet)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in sources["state"].items())
    code, text, _ = run(info.main, [out_path], capsys)
    assert code == 0 and "cognn" in text and "CoST-GCN*" in text and "demo" in text


def test_convert_opendr_with_class_file(sources, tmp_path, capsys):
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(f"gesture {i}" for i in range(60)) + "\n")
    out_path = tmp_path / "opendr.safetensors"
    code, _, err = run(convert.main, [sources["pth"], out_path, "--classes", names, "--modality", "bone",
                                      "--dataset", "own-data"], capsys)
    assert code == 0, err
    meta = read_checkpoint(out_path).meta
    assert meta["model"] == "costgcn_mod" and meta["classes"][59] == "gesture 59" and meta["modality"] == "bone"
    assert meta["data"] == "own-data"


def test_convert_classes_by_dataset(sources, tmp_path, capsys):
    code, _, err = run(convert.main, [sources["pth"], tmp_path / "a.safetensors", "--classes", "ntu60"], capsys)
    assert code == 0, err
    code, _, err = run(convert.main, [sources["pth"], tmp_path / "b.safetensors", "--classes", "ntu120"], capsys)
    assert code == 2 and err.startswith("cognn-convert: error: ") and "120 class names" in err
    assert not (tmp_path / "b.safetensors").exists()


@pytest.mark.parametrize("extra, match", [
    (["--model", "agcn"], "cannot be loaded into AGCN"),
    (["--layout", "kinetics18"], "18 joints"),
    (["--metrics", "[1, 2]"], "JSON object"),
    (["--model", "resnet50"], "unknown model"),
])
def test_convert_refuses_bad_options(sources, tmp_path, capsys, extra, match):
    out_path = tmp_path / "x.safetensors"
    code, _, err = run(convert.main, [sources["pt"], out_path, *extra], capsys)
    assert code == 2 and err.startswith("cognn-convert: error: ") and match in err
    assert err.count("\n") == 1 and not out_path.exists()


def test_original_stgcn_convert_and_info(tmp_path, capsys):
    from helpers import to_original_keys

    src = tmp_path / "st_gcn.ntu-xview.pt"
    sd = to_original_keys(build("stgcn_original", num_classes=60).state_dict())
    torch.save({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, src,
               _use_new_zipfile_serialization=False)
    code, out, _ = run(info.main, [src], capsys)
    assert code == 0 and "stgcn-original" in out and "ST-GCN (original)" in out and "preprocessing none" in out
    code, _, err = run(convert.main, [src, tmp_path / "o.safetensors"], capsys)
    assert code == 0 and "ST-GCN (original)" in err
    meta = read_checkpoint(tmp_path / "o.safetensors").meta
    assert meta["model"] == "stgcn_original" and meta["classes"][0] == NTU60_FIRST and meta["data"] == "ntu60-xview"


def test_convert_refuses_bad_files(sources, tmp_path, capsys):
    code, _, err = run(convert.main, [sources["noise"], tmp_path / "x.safetensors"], capsys)
    assert code == 2 and str(sources["noise"]) in err and "not a checkpoint" in err
    existing = tmp_path / "exists.safetensors"
    existing.write_bytes(b"keep")
    code, _, err = run(convert.main, [sources["pt"], existing], capsys)
    assert code == 2 and "--force" in err and existing.read_bytes() == b"keep"
    code, _, err = run(convert.main, [sources["pt"], tmp_path / "no" / "dir" / "x.safetensors"], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(convert.main, [sources["pt"], existing, "--force"], capsys)
    assert code == 0 and read_checkpoint(existing).family == "cognn"


def test_info_errors(sources, tmp_path, capsys):
    code, out, err = run(info.main, [sources["noise"]], capsys)
    assert code == 2 and out == "" and err.startswith(f"cognn-info: error: {sources['noise']}: ")
    evil = tmp_path / "evil.pt"
    torch.save({"a": _Payload(tmp_path / "marker")}, evil)
    code, _, err = run(info.main, [evil], capsys)
    assert code == 2 and "would run code" in err and not (tmp_path / "marker").exists()
    code, _, err = run(info.main, [tmp_path / "absent.pt"], capsys)
    assert code == 2 and "no such file" in err


def test_usage_errors(capsys):
    assert info.main([]) == 2
    assert convert.main(["only-one"]) == 2
    assert "usage:" in capsys.readouterr().err


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)
