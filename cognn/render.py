"""Drawing skeletons and predictions on frames with OpenCV, and writing them to an mp4 (``cognn-infer --render``).

Frames are BGR ``uint8``; skeleton joints come as ``draw_px`` ``(M, V, 2)`` pixels (NaN where unknown), as every
:class:`cognn.sources.SkeletonFrame` carries them. Skeleton-only sources are drawn on a dark canvas.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputFileError
from .layouts import Layout, get_layout

__all__ = ["PERSON_COLOURS", "draw_skeleton", "draw_predictions", "render_frame", "VideoRenderer", "canvas_scale"]

#: BGR colour of person slot m
PERSON_COLOURS = ((80, 200, 255), (255, 160, 60), (120, 255, 120), (200, 120, 255))
_CANVAS_BG = (28, 28, 28)
_MAX_CANVAS_SIDE = 960


def canvas_scale(size: tuple[int, int], max_side: int = _MAX_CANVAS_SIDE) -> float:
    """Scale that fits a canvas ``(width, height)`` within ``max_side`` pixels (never enlarges)."""
    return min(1.0, max_side / max(size))


def draw_skeleton(image: np.ndarray, draw_px: np.ndarray, layout: str | Layout, *, scale: float = 1.0,
                  thickness: int | None = None) -> np.ndarray:
    """Draw every person of ``draw_px`` ``(M, V, 2)`` (pixels x ``scale``) on ``image`` in place; returns it."""
    import cv2

    lay = get_layout(layout)
    h, w = image.shape[:2]
    t = thickness or max(2, round(max(h, w) / 400))
    pts = np.asarray(draw_px, np.float64) * scale
    for m in range(pts.shape[0]):
        colour = PERSON_COLOURS[m % len(PERSON_COLOURS)]
        ok = np.isfinite(pts[m]).all(-1) & (np.abs(pts[m]) < 1e5).all(-1)
        p = np.where(ok[:, None], pts[m], 0).round().astype(np.int64)
        for a, b in lay.edges:
            if ok[a] and ok[b]:
                cv2.line(image, (int(p[a, 0]), int(p[a, 1])), (int(p[b, 0]), int(p[b, 1])), colour, t, cv2.LINE_AA)
        for v in np.flatnonzero(ok):
            cv2.circle(image, (int(p[v, 0]), int(p[v, 1])), t + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return image


def _text(image: np.ndarray, text: str, org: tuple[int, int], fs: float, colour, th: int) -> None:
    import cv2

    cv2.putText(image, text, (org[0] + 1, org[1] + 1), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), th, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, fs, colour, th, cv2.LINE_AA)


def draw_predictions(image: np.ndarray, top: Sequence[tuple[str, float]], *, ready: bool,
                     warmup: tuple[int, int], has_weights: bool, header: str = "") -> np.ndarray:
    """Top-k labels with score bars, the warm-up state and an untrained-weights notice, top left, in place."""
    import cv2

    h, w = image.shape[:2]
    fs = max(0.38, min(1.0, w / 1600))
    th = 1 if fs < 0.7 else 2
    line = int(28 * fs) + 6
    bar_w = int(140 * fs)
    lines: list[tuple[str, tuple[int, int, int]]] = []
    if header:
        lines.append((header, (230, 230, 230)))
    if not has_weights:
        lines.append(("UNTRAINED weights: meaningless", (80, 80, 255)))
    if not ready:
        lines.append((f"warming up {warmup[0]}/{warmup[1]}", (0, 200, 255)))
    texts = [t for t, _ in lines] + [f"{score:5.1%}  {label}" for label, score in top]
    widths = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, th)[0][0] for t in texts]
    panel_w = min(w, max([wd for wd in widths[:len(lines)]] + [bar_w + 8 + wd for wd in widths[len(lines):]] + [0])
                  + 20)
    panel_h = min(h, line * len(texts) + 10)
    if panel_w > 0 and panel_h > 0:
        roi = image[:panel_h, :panel_w]
        roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken behind the text
    y = line
    for text, colour in lines:
        _text(image, text, (10, y), fs, colour, th)
        y += line
    for i, (label, score) in enumerate(top):
        cv2.rectangle(image, (10, y - line + 8), (10 + bar_w, y), (70, 70, 70), -1)
        cv2.rectangle(image, (10, y - line + 8), (10 + int(bar_w * max(0.0, min(1.0, score))), y),
                      (90, 200, 90) if i == 0 else (150, 150, 150), -1)
        _text(image, f"{score:5.1%}  {label}", (10 + bar_w + 8, y - 4), fs, (255, 255, 255), th)
        y += line
    return image


def render_frame(image: np.ndarray | None, draw_px: np.ndarray | None, layout: str | Layout,
                 canvas_size: tuple[int, int], top: Sequence[tuple[str, float]], *, ready: bool,
                 warmup: tuple[int, int], has_weights: bool, header: str = "") -> np.ndarray:
    """One annotated BGR frame: ``image`` (copied) or a dark canvas of ``canvas_size`` scaled to at most 960 px."""
    if image is not None:
        out = np.ascontiguousarray(image).copy()
        scale = 1.0
    else:
        scale = canvas_scale(canvas_size)
        w, h = (max(2, round(canvas_size[0] * scale)) // 2 * 2, max(2, round(canvas_size[1] * scale)) // 2 * 2)
        out = np.empty((h, w, 3), np.uint8)
        out[:] = _CANVAS_BG
    if draw_px is not None:
        draw_skeleton(out, draw_px, layout, scale=scale)
    return draw_predictions(out, top, ready=ready, warmup=warmup, has_weights=has_weights, header=header)


class VideoRenderer:
    """Writes BGR frames to an mp4 (``mp4v``); the size is fixed by the first frame. Use as a context manager."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None
        if not self.path.parent.is_dir():
            raise InputFileError(self.path, "the output folder does not exist")

    def write(self, frame: np.ndarray) -> None:
        import cv2

        h, w = frame.shape[:2]
        if self._writer is None:
            self._size = (w, h)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise InputFileError(self.path, "OpenCV cannot write an mp4 video here")
        if (w, h) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
