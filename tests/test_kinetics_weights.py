"""The official int8 ST-GCN Kinetics-400 file (../shared/data/weights) read as it is, and the bundled copy built from it
(``weights/kinetics400_costgcn_original.safetensors``, tools/build_kinetics_weights.py): reproducible, lossless,
described, listed in the manifest and found by its short name."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from helpers import load_tool, shared_data, to_original_keys
from test_checkpoints import original_forward

from cognn.checkpoints import load_model, read_checkpoint
from cognn.cli import info
from cognn.errors import InputFileError
from cognn.weights import default_entry, find_weights, resolve_weights, verify_sha256

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "weights" / "kinetics400_costgcn_original.safetensors"

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def _official() -> Path:
    return shared_data("weights", "st_gcn_kinetics400_int8.pt")


def _torch_dequantized(path: Path) -> dict[str, torch.Tensor]:
    """The file as torch itself reads and dequantizes it (the weights, without the activation settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = torch.load(path, weights_only=True)
        return {k: v.dequantize() if v.is_quantized else v for k, v in sd.items()
                if not k.endswith((".scale", ".zero_point"))}


def _builder():
    return load_tool("build_kinetics_weights")


def test_official_int8_file_reads_as_it_is(capsys):
    path = _official()
    ck = read_checkpoint(path)
    assert ck.family == "stgcn-original" and ck.meta["model"] == "stgcn_original"
    assert ck.meta["layout"] == "kinetics18" and ck.meta["num_classes"] == 400 and ck.meta["in_channels"] == 3
    assert ck.meta["preprocessing"] == "stgcn-kinetics-feeder" and ck.meta["domain"] == "image2d"
    entries = ck.meta["quantization"]["tensors"]
    assert len(entries) == 23 and {e["scheme"] for e in entries.values()} == {"per_channel_affine"}
    reference = _torch_dequantized(path)
    mine = to_original_keys(ck.state_dict)
    assert set(mine) == set(reference)
    assert all(torch.equal(mine[k], reference[k]) for k in mine)  # dequantized exactly as torch does
    net = load_model(path)
    x = torch.randn(1, 3, 20, 18, 2, generator=torch.Generator().manual_seed(0)) * 0.3
    with torch.no_grad():
        torch.testing.assert_close(net(x), original_forward(reference, x), rtol=1e-4, atol=1e-4)
    assert info.main([str(path)]) == 0
    out = capsys.readouterr().out
    for text in ("stgcn-original", "ST-GCN (original)", "kinetics18", "400: abseiling", "quantized:     23 tensors",
                 "qint8 per_channel_affine", "stgcn-kinetics-feeder"):
        assert text in out, text


def test_bundled_file_is_a_fresh_build_and_lossless(tmp_path):
    official = _official()
    fresh = _builder().build(official, tmp_path / "fresh.safetensors")
    assert fresh.read_bytes() == BUNDLED.read_bytes()  # byte-reproducible
    assert BUNDLED.stat().st_size <= 4 * 2 ** 20
    ck = read_checkpoint(BUNDLED)
    reference = _torch_dequantized(official)
    mine = to_original_keys(ck.state_dict)
    assert set(mine) == set(reference) and all(torch.equal(mine[k], reference[k]) for k in reference)
    from safetensors import safe_open

    with safe_open(str(BUNDLED), framework="pt") as f:
        assert f.get_tensor("layers.layer5.tcn.t_conv.weight").dtype == torch.int8
    meta = ck.meta
    assert meta["model"] == "costgcn_original" and meta["layout"] == "kinetics18" and meta["domain"] == "image2d"
    classes = (REPO / "datasets" / "kinetics400_classes.txt").read_text().split("\n")
    assert meta["classes"] == [c for c in classes if c] and meta["fps"] == 30.0
    assert meta["preprocessing"] == "stgcn-kinetics-feeder" and meta["metrics"]["top1"] == 0.316
    assert meta["data"] == "Kinetics-400 skeletons (OpenPose-18, 340x256, 30 fps, st-gcn release)"
    assert meta["licence"].startswith("BSD-2-Clause (Copyright (c) 2018 Multimedia Laboratory")
    for text in ("yysijie/st-gcn", "ganeshnagaraja/st_gcn_quantized", "MediaPipe", "OpenPose"):
        assert text in meta["description"], text
    assert len(meta["quantization"]["tensors"]) == 23
    regular = load_model(BUNDLED, model="stgcn_original")
    assert type(regular).__name__ == "SkeletonNet" and regular.num_classes == 400


def test_manifest_entry_and_short_names():
    entry = find_weights("costgcn_original")
    assert entry is not None and entry.name == "kinetics400" and entry.path == BUNDLED and verify_sha256(entry)
    assert find_weights("stgcn_original") == entry and not entry.default
    assert entry.class_names()[0] == "abseiling" and entry.layout == "kinetics18" and entry.domain == "image2d"
    assert default_entry("model").name == "gestures_costgcn_mod"  # the default stays the gesture model
    assert resolve_weights("kinetics400") == resolve_weights("kinetics") == BUNDLED
    gestures = resolve_weights("gestures")
    assert gestures == resolve_weights("gestures_costgcn_mod") and gestures.name == "gestures_costgcn_mod.safetensors"
    assert resolve_weights(str(BUNDLED)) == BUNDLED
    with pytest.raises(InputFileError, match=r"neither a checkpoint file nor a bundled model name \(bundled: "
                                             r".*gestures \(gestures_costgcn_mod\).*kinetics \(kinetics400\)"):
        resolve_weights("kinetics700")
    doc = json.loads((REPO / "weights" / "manifest.json").read_text())
    assert [e["name"] for e in doc["entries"]].count("kinetics400") == 1


def test_notice_carries_the_licence_text():
    licence = shared_data("weights", "LICENSE.st-gcn").read_text()
    notice = (REPO / "weights" / "NOTICE").read_text()
    assert licence.strip() in notice and "kinetics400_costgcn_original.safetensors" in notice
