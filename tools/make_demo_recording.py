"""Make the bundled demo recording ``datasets/samples/demo.h5`` used by ``cognn-infer --demo``.

    python tools/make_demo_recording.py [--out PATH] [--seed 12] [--seconds 12] [--gesture jumping_jacks]

The recording is generated motion, not a recorded person: one NTU-25 body from :mod:`cognn.synth` doing a gesture in
Kinect camera space (metres, 30 fps), with the pose-estimation artefacts the generator simulates, stored as a
``cognn-recording`` (HDF5). The same arguments always give the same skeletons. 12 seconds cover the 300-frame receptive
field of the ``*`` models, so the records show the warm-up and then exact (``ready``) predictions.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "datasets" / "samples" / "demo.h5"
FPS = 30.0


def make_demo(out: Path, seed: int = 12, seconds: float = 12.0, gesture: str = "jumping_jacks") -> Path:
    """Generate the demo skeleton sequence and save it as a cognn recording at ``out``."""
    from cognn.data.store import save_recording
    from cognn.domains import CAMERA3D
    from cognn.synth import CLASSES, generate_clip

    if gesture not in CLASSES:
        raise SystemExit(f"make_demo_recording: error: unknown gesture {gesture!r}; known: {', '.join(CLASSES)}")
    frames = int(round(seconds * FPS))
    rng = np.random.default_rng(seed)
    clip = generate_clip(gesture, rng, frames, FPS, two_person=0.0)  # (3, T, 25, 2)
    skeleton = np.ascontiguousarray(clip.transpose(1, 0, 2, 3), dtype=np.float32)  # (T, 3, 25, 2)
    timestamps = np.arange(frames, dtype=np.float64) / FPS
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_recording(out, skeleton, timestamps, "ntu25", CAMERA3D, source=f"cognn.synth:{gesture}", fps=FPS,
                          extra_attrs={"generator": "cognn.synth", "gesture": gesture, "seed": int(seed),
                                       "note": "generated motion, not a recorded person; made by "
                                               "tools/make_demo_recording.py"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="make_demo_recording", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output file (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--seconds", type=float, default=12.0)
    p.add_argument("--gesture", default="jumping_jacks")
    args = p.parse_args(argv)
    path = make_demo(args.out, args.seed, args.seconds, args.gesture)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
