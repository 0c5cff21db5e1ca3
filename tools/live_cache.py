"""Pose results of real videos through the live pixel path, cached: the input of the measurement tools and tests of
repetition counting, false alarms and partial bodies (tools/measure_reps.py, tests/test_reps.py, ...).

    frames = pose_frames(Path("../shared/data/video/fanchiang_3-2.mp4"), cache=Path(".cache/reps"))
    frames = pose_frames(path, cache=..., crop="top")    # the upper half of every picture only (a seated user)

Each clip goes once through :class:`cognn.sources.VideoSource` (MediaPipe, One-Euro smoothing, NTU-25 camera metres,
the live defaults); the skeletons, timestamps, people counts and drawing coordinates are kept in ``cache`` as
``.npz`` (pose dominates the cost: about 30 ms a frame on 2 CPU cores).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cognn.sources import SkeletonFrame  # noqa: E402

__all__ = ["pose_frames", "crop_video", "CACHE_VERSION", "DEFAULT_VIDEOS", "DEFAULT_CACHE"]

#: bumped when what is cached changes
CACHE_VERSION = 1
DEFAULT_VIDEOS = REPO.parent / "shared" / "data" / "video"
DEFAULT_CACHE = REPO / ".cache" / "reps"


def crop_video(src: Path, dst: Path, crop: str) -> Path:
    """Write ``src`` cropped to its ``"top"`` half (mp4v, same rate) as ``dst``; returns ``dst``."""
    import cv2

    if crop != "top":
        raise ValueError(f"unknown crop {crop!r}; use 'top'")
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            half = frame[: frame.shape[0] // 2]
            if writer is None:
                writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (half.shape[1], half.shape[0]))
            writer.write(np.ascontiguousarray(half))
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return dst


def _extract(path: Path, flip: bool, max_frames: int | None, domain: str) -> dict[str, np.ndarray]:
    from cognn.pose import PoseOptions, PoseTracker
    from cognn.sources import VideoSource

    frames = []
    opts = PoseOptions(flip_horizontal=flip)
    with PoseTracker("ntu25", 2, opts, domain=domain) as tracker, \
            VideoSource(path, "ntu25", num_persons=2, pose=opts, tracker=tracker) as src:
        size = src.canvas_size
        for frame in src:
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
    return {"skeleton": np.stack([f.skeleton for f in frames]), "timestamps": np.array([f.timestamp for f in frames]),
            "persons": np.array([f.persons for f in frames]), "pose_ms": np.array([f.pose_ms or 0.0 for f in frames]),
            "draw_px": np.stack([f.draw_px for f in frames]), "size": np.array(size)}


def pose_frames(path: Path, cache: Path | None = DEFAULT_CACHE, *, crop: str | None = None,
                max_frames: int | None = None, domain: str = "camera3d") -> list[SkeletonFrame]:
    """The frames of a video through the live pose path (NTU-25 in ``domain``: camera metres, or ``"image2d"``:
    normalised image coordinates with MediaPipe's visibility as the score), from ``cache`` when there; NTU RGB clips
    (``S0*``) are flipped back as the evaluation tools do. ``crop="top"``: the upper half of the picture."""
    path = Path(path)
    flip = path.name.startswith("S0")
    tag = "" if domain == "camera3d" else f".{domain}"
    key = f"{path.name}.v{CACHE_VERSION}.{crop or 'full'}.max{max_frames}{tag}.npz"
    stored = None if cache is None else Path(cache) / key
    if stored is not None and stored.exists():
        with np.load(stored) as z:
            data = {k: z[k] for k in z.files}
    else:
        if crop is None:
            data = _extract(path, flip, max_frames, domain)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                data = _extract(crop_video(path, Path(tmp) / f"{path.stem}.{crop}.mp4", crop), flip, max_frames,
                                domain)
        if stored is not None:
            stored.parent.mkdir(parents=True, exist_ok=True)
            tmp_path = stored.with_suffix(".tmp.npz")
            np.savez(tmp_path, **data)
            os.replace(tmp_path, stored)
    return [SkeletonFrame(i, float(t), s, int(n), draw_px=px, pose_ms=float(ms))
            for i, (s, t, n, px, ms) in enumerate(zip(data["skeleton"], data["timestamps"], data["persons"],
                                                      data["draw_px"], data["pose_ms"]))]


def frame_size(path: Path, cache: Path | None = DEFAULT_CACHE, *, crop: str | None = None) -> tuple[int, int]:
    """``(width, height)`` of the pictures :func:`pose_frames` saw (cached alongside)."""
    key = f"{Path(path).name}.v{CACHE_VERSION}.{crop or 'full'}.maxNone.npz"
    if cache is not None and (Path(cache) / key).exists():
        with np.load(Path(cache) / key) as z:
            return int(z["size"][0]), int(z["size"][1])
    import cv2

    cap = cv2.VideoCapture(str(path))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return (w, h // 2) if crop == "top" else (w, h)


if __name__ == "__main__":
    import time

    for p in sorted(DEFAULT_VIDEOS.iterdir()) if len(sys.argv) < 2 else [Path(a) for a in sys.argv[1:]]:
        t = time.perf_counter()
        fr = pose_frames(p)
        print(f"{p.name}: {len(fr)} frames, {time.perf_counter() - t:.1f} s", flush=True)
