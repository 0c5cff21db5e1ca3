"""Write the live-use defaults of a checkpoint (metadata field ``live``: steady ``labels``, false-alarm ``alarms``,
the ``body`` parts it needs in view) without retraining it, and update the manifest's sha256.

    python tools/set_live_meta.py                                  # the bundled gesture model: GESTURE_LIVE
    python tools/set_live_meta.py model.safetensors --live live.json [--manifest weights/manifest.json]

Only the safetensors header changes: the tensor bytes are copied as they are (checked by reading both files back),
the keys of ``live`` given replace those of the file's ``live`` (the others stay), and the file is replaced
atomically (cognn.atomic). A manifest entry naming the file gets the new sha256 (cognn.weights verifies bundled
files against it).
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cognn.atomic import AtomicOutput  # noqa: E402
from cognn.data.files import file_digest  # noqa: E402
from cognn.errors import CognnError, InputFileError  # noqa: E402
from cognn.live.alarms import DEFAULT_ALARMS, AlarmConfig  # noqa: E402
from cognn.live.reps import repetitive_classes  # noqa: E402
from cognn.live.visibility import requirement_from_meta  # noqa: E402

GESTURES = REPO / "weights" / "gestures_costgcn_mod.safetensors"
MANIFEST = REPO / "weights" / "manifest.json"

#: the bundled gesture model's live defaults: the measured alarm policy (docs/reps.md: a gesture is shown at a smoothed
#: probability of at least 0.9), the classes whose repetitions are counted, and the parts it needs in view (it was
#: trained with the legs out of the picture in a quarter of its clips; squats and marching are told by the legs)
GESTURE_LIVE: dict[str, Any] = {
    "alarms": {**DEFAULT_ALARMS.to_dict(), "repetitive": ["jumping_jacks", "squat", "arm_raise", "march"]},
    "body": {"needs": ["head", "shoulders", "arms"], "classes": {"squat": ["legs"], "march": ["legs"]}},
}


def check_live(live: dict[str, Any], classes: list[str], layout: str) -> None:
    """ValueError naming what is wrong with a ``live`` dict (alarms, repetitive classes, body parts)."""
    if not isinstance(live, dict):
        raise ValueError("'live' must be an object")
    if "alarms" in live:
        AlarmConfig.from_dict(live["alarms"], where="live.alarms").check_classes(classes, "live.alarms")
    repetitive_classes({"live": live}, classes)
    requirement_from_meta({"live": live}, layout)


def _split(data: bytes, path: Path) -> tuple[dict[str, Any], bytes]:
    """(header, tensor bytes) of a safetensors file."""
    if len(data) < 8:
        raise InputFileError(path, "is not a safetensors file (too short)")
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        raise InputFileError(path, "is not a safetensors file (its header length is past the end)")
    try:
        header = json.loads(data[8:8 + n])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputFileError(path, "is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__"), dict):
        raise InputFileError(path, "has no metadata: not a cognn checkpoint")
    return header, data[8 + n:]


def set_live(path: Path, live: dict[str, Any], out: Path | None = None) -> Path:
    """Merge ``live`` into the checkpoint's ``live`` metadata and write it to ``out`` (default: in place); returns
    the path written. The tensors are unchanged (checked)."""
    from cognn.checkpoints import read_checkpoint

    path = Path(path)
    before = read_checkpoint(path)
    check_live(live, list(before.meta.get("classes") or []), str(before.meta["layout"]))
    header, tensors = _split(path.read_bytes(), path)
    merged = {**(before.meta.get("live") or {}), **live}
    header["__metadata__"]["live"] = json.dumps(merged, sort_keys=True)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    target = Path(out) if out is not None else path
    with AtomicOutput(target, what="checkpoint") as o:
        o.temp.write_bytes(struct.pack("<Q", len(text)) + text + tensors)
        after = read_checkpoint(o.temp)
        same = before.state_dict.keys() == after.state_dict.keys() and all(
            before.state_dict[k].equal(after.state_dict[k]) for k in before.state_dict)
        if not same or after.meta.get("live") != merged:
            raise CognnError(f"{target}: the rewritten file does not read back the same (nothing was replaced)")
    return target


def update_manifest(manifest: Path, weights: Path) -> str | None:
    """Set the sha256 of the manifest entry whose file is ``weights``; returns the entry's name (None: no entry)."""
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in doc.get("entries", []):
        if (manifest.parent / entry.get("file", "")).resolve() == weights.resolve():
            entry["sha256"] = file_digest(weights)
            with AtomicOutput(manifest, what="manifest") as o:
                o.temp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            return str(entry["name"])
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="set_live_meta", description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="?", type=Path, default=GESTURES, help="cognn checkpoint (default: the bundled "
                   "gesture model)")
    p.add_argument("--live", type=Path, help="JSON file with the live defaults (default: GESTURE_LIVE)")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="manifest whose entry gets the new sha256")
    p.add_argument("--no-manifest", action="store_true", help="do not touch the manifest")
    args = p.parse_args(argv)
    try:
        live = GESTURE_LIVE if args.live is None else json.loads(args.live.read_text(encoding="utf-8"))
        out = set_live(args.weights, live)
    except (CognnError, ValueError, OSError) as e:
        print(f"set_live_meta: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} (live: {', '.join(sorted(live))}; sha256 {file_digest(out)})")
    if not args.no_manifest and args.manifest.exists():
        name = update_manifest(args.manifest, out)
        print(f"updated {args.manifest} (entry {name!r})" if name else f"{args.manifest} has no entry for {out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
