"""Build ``weights/kinetics400_costgcn_original.safetensors`` (the bundled Kinetics-400 model) from the official int8
ST-GCN file, byte-reproducibly, and write its entry into ``weights/manifest.json``.

    python tools/build_kinetics_weights.py [--source ../shared/data/weights/st_gcn_kinetics400_int8.pt]
                                           [--out weights/kinetics400_costgcn_original.safetensors]
                                           [--manifest weights/manifest.json | --no-manifest]

The source is the official ST-GCN Kinetics-400 model of yysijie/st-gcn (``st_gcn.kinetics.pt``) as saved after
eager-mode int8 quantization by ganeshnagaraja/st_gcn_quantized (sha256 checked). Its 23 int8 convolution weights are
kept as they are (integer values, per-channel scales and zero points: cognn's lossless quantized storage); the
quantized modules' activation settings are dropped (calibrated on random input, never used). The checkpoint is written
for ``costgcn_original`` (the continual twin; the regular ``stgcn_original`` loads it as well) with full metadata.
Running it twice gives the same bytes. Licence: BSD-2-Clause, see ``weights/NOTICE``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.atomic import AtomicOutput  # noqa: E402
from cognn.checkpoints import model_from_checkpoint, read_checkpoint, save_checkpoint  # noqa: E402
from cognn.checkpoints.schema import STGCN_KINETICS_FEEDER  # noqa: E402
from cognn.data.classes import class_names  # noqa: E402
from cognn.data.files import file_digest  # noqa: E402

SOURCE = REPO.parent / "shared" / "data" / "weights" / "st_gcn_kinetics400_int8.pt"
SOURCE_SHA256 = "0f87dac4dea546cb175c5662d8e6fb08de4b39652a42f3a70b6f8cca4a399a10"
OUT = REPO / "weights" / "kinetics400_costgcn_original.safetensors"
MANIFEST = REPO / "weights" / "manifest.json"
ENTRY, ALIAS = "kinetics400", "kinetics"
MODEL = "costgcn_original"
#: how the continual model answers during its first 10 s with warm start on (measured: docs/kinetics.md)
EARLY_MODE = "exact"
DATA = "Kinetics-400 skeletons (OpenPose-18, 340x256, 30 fps, st-gcn release)"
#: published accuracy of the (float) official model on the Kinetics-skeleton validation set: open-mmlab/mmskeleton
#: doc/START_RECOGNITION.md (top-1 31.60 %, top-5 53.68 %; the st-gcn README gives top-1 31.6 %); not re-measured for
#: the int8 copy
METRICS = {"top1": 0.316, "top5": 0.5368}
#: live-use defaults: 400 classes spread the probability, so "uncertain" starts lower than the 10-class gestures' 0.25
#: (measured on the real clips with tools/eval_kinetics_real.py: clean and jerk shown on 93 % of its clip, 9 label
#: switches a minute over all clips)
LIVE = {"labels": {"threshold": 0.15}}
LICENCE = "BSD-2-Clause (Copyright (c) 2018 Multimedia Laboratory, The Chinese University of Hong Kong)"
DESCRIPTION = (
    "The official ST-GCN Kinetics-400 weights of yysijie/st-gcn (st_gcn.kinetics.pt: the original network, "
    "OpenPose-18 joints, x/y/score input, spatial partition, edge importance, 400 classes), in an int8 copy of the "
    "convolution weights made by a third party (ganeshnagaraja/st_gcn_quantized: per-channel affine, stored here "
    "losslessly and dequantized to float32 to run). Published accuracy of the float model: top-1 31.6 %, top-5 "
    "53.7 % on Kinetics-skeleton (not re-measured for the int8 copy). Trained on OpenPose skeletons: cognn feeds "
    "MediaPipe skeletons mapped to OpenPose-18, which is not the pose estimator it was trained with. Runs online as "
    "CoST-GCN (original) (one prediction every 4 frames; with warm start it answers from the first frame with "
    "exactly the regular model on the frames seen so far, early_mode exact, docs/kinetics.md; the regular "
    "stgcn_original loads the same file). Input: "
    "the st-gcn Kinetics feeder convention (x/w - 0.5, y/h - 0.5 with y pointing down, zero where the score is 0). "
    "Built by tools/build_kinetics_weights.py.")
URL = "https://github.com/yysijie/st-gcn"


def build(source: Path, out: Path) -> Path:
    """Write the checkpoint; returns its path. Refuses a source other than the known file."""
    digest = file_digest(source)
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{source}: sha256 {digest[:16]}... is not the known st_gcn_kinetics400_int8.pt "
                         f"({SOURCE_SHA256[:16]}...)")
    ck = read_checkpoint(source)
    net = model_from_checkpoint(ck, model=MODEL, early_mode=EARLY_MODE)
    meta = {"classes": class_names("kinetics400"), "modality": "joint", "domain": "image2d",
            "preprocessing": STGCN_KINETICS_FEEDER, "preprocessing_version": 1, "fps": 30.0, "data": DATA,
            "metrics": METRICS, "description": DESCRIPTION, "licence": LICENCE, "live": LIVE,
            "source": {"family": ck.family, "file": source.name, "sha256": digest,
                       "origin": "ganeshnagaraja/st_gcn_quantized checkpoints/quantized_model.pt @ 0244b2f1ce10, "
                                 "from yysijie/st-gcn st_gcn.kinetics.pt",
                       "built_by": "tools/build_kinetics_weights.py"}}
    return save_checkpoint(out, net, meta, quantized=ck.quantized)


def manifest_entry(out: Path) -> dict:
    """The file's entry in ``weights/manifest.json`` (schema of :mod:`cognn.weights`)."""
    return {"name": ENTRY, "alias": ALIAS, "kind": "model", "file": out.name, "sha256": file_digest(out),
            "model": MODEL, "layout": "kinetics18", "domain": "image2d", "classes": "kinetics400", "data": DATA,
            "metrics": METRICS, "licence": LICENCE, "default": False, "description": DESCRIPTION, "url": URL}


def update_manifest(path: Path, entry: dict) -> None:
    """Replace (or append) the entry of the same name, keeping the others and their order."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    entries = doc["entries"]
    at = next((i for i, e in enumerate(entries) if e.get("name") == entry["name"]), None)
    if at is None:
        entries.append(entry)
    else:
        entries[at] = entry
    with AtomicOutput(path, what="manifest") as out:
        out.temp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, default=SOURCE, help="the official int8 file (st_gcn_kinetics400_int8.pt)")
    p.add_argument("--out", type=Path, default=OUT, help="checkpoint to write")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="manifest to update")
    p.add_argument("--no-manifest", action="store_true", help="do not touch the manifest")
    args = p.parse_args(argv)
    out = build(args.source, args.out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, sha256 {file_digest(out)})")
    if not args.no_manifest:
        update_manifest(args.manifest, manifest_entry(out))
        print(f"updated {args.manifest} (entry {ENTRY!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
