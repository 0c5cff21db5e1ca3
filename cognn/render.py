"""The one renderer of annotated videos (``cognn-infer --render`` and the app's recordings): OpenCV, no Qt.

A rendered frame is the picture (or, for skeleton-only sources, a dark canvas framed around the people seen so far)
with the skeletons and each person's label drawn on it, and a side panel with the top predictions, the warm-up
state and notices, so nothing covers the person. Frames are BGR ``uint8``; joints come as ``draw_px`` ``(M, V, 2)``
pixels (NaN where unknown), as every :class:`cognn.sources.SkeletonFrame` carries them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import AtomicOutput, OutputError
from .layouts import Layout, get_layout

if TYPE_CHECKING:
    import cv2

__all__ = ["PERSON_COLOURS", "draw_skeleton", "render_frame", "VideoRenderer", "Framer", "percent",
           "VIDEO_FORMATS"]

#: BGR colour of person slot m
PERSON_COLOURS = ((80, 200, 255), (255, 160, 60), (120, 255, 120), (200, 120, 255))
_CANVAS_BG = (28, 28, 28)
_PANEL_BG = (40, 36, 34)
#: rendered picture heights: small videos are enlarged to the first, large ones reduced to the second
_MIN_H, _MAX_H = 360, 720
_CANVAS_H = 540
#: file extension -> fourcc of the video writers OpenCV has here
VIDEO_FORMATS = {".mp4": "mp4v", ".avi": "MJPG"}


def percent(p: float | None) -> str:
    """A probability as the app and the renders show it: ``92%`` (``–`` for none or a non-finite value)."""
    if p is None or not np.isfinite(p):
        return "–"
    return f"{100.0 * max(0.0, min(1.0, float(p))):.0f}%"


class Framer:
    """Where to look on a skeleton-only canvas: the box around every joint seen so far (it only grows, so the view
    does not jump), with a margin; call :meth:`reset` for a new stream."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.box: tuple[float, float, float, float] | None = None

    def update(self, draw_px: np.ndarray | None, canvas: tuple[int, int]) -> tuple[float, float, float, float]:
        """The box ``(x0, y0, x1, y1)`` in canvas pixels to show after this frame."""
        if draw_px is not None:
            pts = np.asarray(draw_px, np.float64).reshape(-1, 2)
            pts = pts[np.isfinite(pts).all(-1) & (np.abs(pts) < 1e5).all(-1)]
            if len(pts):
                box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
                if self.box is not None:
                    box = (min(box[0], self.box[0]), min(box[1], self.box[1]), max(box[2], self.box[2]),
                           max(box[3], self.box[3]))
                self.box = box
        if self.box is None:
            return 0.0, 0.0, float(canvas[0]), float(canvas[1])
        x0, y0, x1, y1 = self.box
        side = max(x1 - x0, y1 - y0, 1.0) * 1.25
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return cx - side * 0.6, cy - side / 2, cx + side * 0.6, cy + side / 2


def draw_skeleton(image: np.ndarray, draw_px: np.ndarray, layout: str | Layout, *, scale: float = 1.0,
                  offset: tuple[float, float] = (0.0, 0.0), thickness: int | None = None) -> np.ndarray:
    """Draw every person of ``draw_px`` ``(M, V, 2)`` (pixels, minus ``offset``, x ``scale``) on ``image`` in place."""
    import cv2

    lay = get_layout(layout)
    h, w = image.shape[:2]
    t = thickness or max(2, round(max(h, w) / 320))
    pts = (np.asarray(draw_px, np.float64) - np.asarray(offset, np.float64)) * scale
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


def _text(image: np.ndarray, text: str, org: tuple[int, int], fs: float, colour: tuple[int, int, int],
          th: int) -> None:
    import cv2

    # a dark outline all round the strokes: the text drawn dark one pixel away in each of the 8 directions, then in
    # colour at its place. (A single copy offset down-right reads as a misaligned ghost, and a thicker dark copy at
    # the same place does not work: OpenCV draws Hershey text no thicker than about 2 pixels at these sizes.)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                cv2.putText(image, text, (org[0] + dx, org[1] + dy), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), th,
                            cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, fs, colour, th, cv2.LINE_AA)


def _fit_text(text: str, width: int, fs: float, th: int) -> str:
    """``text``, cut short with ``...`` to fit ``width`` pixels."""
    import cv2

    def fits(t: str) -> bool:
        return cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, th)[0][0] <= width

    if fits(text):
        return text
    while len(text) > 1 and not fits(text + "..."):
        text = text[:-1]
    return text + "..."


def _labels(image: np.ndarray, labels: Sequence[tuple[str, tuple[float, float] | None]], scale: float,
            offset: tuple[float, float], fs: float, th: int) -> None:
    """Each person's label in a box centred above their head, kept inside the picture."""
    import cv2

    h, w = image.shape[:2]
    for text, anchor in labels:
        if anchor is None:
            continue
        (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, th)
        x = int((anchor[0] - offset[0]) * scale - tw / 2)
        y = int((anchor[1] - offset[1]) * scale)
        x = max(4, min(w - tw - 4, x))
        y = max(tht + 8, min(h - 4, y))
        roi = image[max(0, y - tht - 6):min(h, y + base + 2), max(0, x - 5):min(w, x + tw + 5)]
        roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
        _text(image, text, (x, y), fs, (255, 255, 255), th)


def _panel(height: int, top: Sequence[tuple[str, float]], *, ready: bool, warmup: tuple[int, int],
           has_weights: bool, header: str, fps: float, held: bool) -> np.ndarray:
    """The side panel: header, notices, warm-up and the top predictions as bars with percentages."""
    import cv2

    fs = max(0.5, height / 900)
    th = 1 if fs < 0.8 else 2
    width = int(380 * fs)
    line = int(34 * fs)
    panel = np.empty((height, width, 3), np.uint8)
    panel[:] = _PANEL_BG
    y = line
    for part in [p for p in header.split("  ") if p]:
        _text(panel, _fit_text(part, width - 20, fs * 0.85, th), (10, y), fs * 0.85, (220, 220, 220), th)
        y += line
    if not has_weights:
        _text(panel, "UNTRAINED weights: meaningless", (10, y), fs * 0.8, (80, 80, 255), th)
        y += line
    if not ready:
        seen, need = warmup
        when = f"{seen / fps:.1f}/{need / fps:.1f} s" if fps > 0 else f"{seen}/{need}"
        _text(panel, f"warming up {when}", (10, y), fs * 0.85, (0, 200, 255), th)
        y += line
    y += line // 2
    bar_w = width - 20
    for i, (label, score) in enumerate(top):
        if y + line > height:
            break
        cv2.rectangle(panel, (10, y - line + 10), (10 + bar_w, y + 4), (70, 70, 70), -1)
        cv2.rectangle(panel, (10, y - line + 10), (10 + int(bar_w * max(0.0, min(1.0, score))), y + 4),
                      (90, 170, 90) if i == 0 else (120, 120, 120), -1)
        _text(panel, _fit_text(f"{percent(score):>4}  {label}", bar_w - 8, fs * 0.8, th), (16, y), fs * 0.8,
              (255, 255, 255), th)
        y += line
    if held and top:
        _text(panel, "(latest answer, held)", (10, min(height - 8, y + line // 2)), fs * 0.65, (170, 170, 170), 1)
    return panel


def render_frame(image: np.ndarray | None, draw_px: np.ndarray | None, layout: str | Layout,
                 canvas_size: tuple[int, int], top: Sequence[tuple[str, float]], *, ready: bool,
                 warmup: tuple[int, int], has_weights: bool, header: str = "",
                 labels: Sequence[tuple[str, tuple[float, float] | None]] = (), fps: float = 0.0,
                 held: bool = False, framer: Framer | None = None) -> np.ndarray:
    """One annotated BGR frame: the picture (``image``, or a canvas framed by ``framer`` for skeleton-only
    sources) with skeletons and person ``labels`` ``(text, anchor in draw_px pixels)``, beside the side panel.

    Small pictures are enlarged to 360 lines and large ones reduced to 720, so text stays readable and files small.
    """
    import cv2

    if image is not None:
        h0, w0 = image.shape[:2]
        scale = min(max(1.0, _MIN_H / h0), _MAX_H / h0) if h0 else 1.0
        size = (max(2, round(w0 * scale)) // 2 * 2, max(2, round(h0 * scale)) // 2 * 2)
        pic = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) \
            if scale != 1.0 else np.ascontiguousarray(image).copy()
        offset = (0.0, 0.0)
    else:
        x0, y0, x1, y1 = (framer or Framer()).update(draw_px, canvas_size)
        scale = _CANVAS_H / max(y1 - y0, 1.0)
        size = (max(2, round((x1 - x0) * scale)) // 2 * 2, _CANVAS_H)
        pic = np.empty((size[1], size[0], 3), np.uint8)
        pic[:] = _CANVAS_BG
        offset = (x0, y0)
    h = pic.shape[0]
    if draw_px is not None:
        draw_skeleton(pic, draw_px, layout, scale=scale, offset=offset)
    fs = max(0.5, h / 900)
    _labels(pic, labels, scale, offset, fs, 1 if fs < 0.8 else 2)
    panel = _panel(h, top, ready=ready, warmup=warmup, has_weights=has_weights, header=header, fps=fps, held=held)
    return np.ascontiguousarray(np.concatenate([pic, panel], axis=1))


class VideoRenderer:
    """Writes BGR frames to a video (``.mp4`` with mp4v or ``.avi`` with MJPG); the size is fixed by the first frame.

    The file is written under a temporary name and appears on :meth:`close` (:class:`cognn.atomic.AtomicOutput`):
    an interrupted render leaves no half-written video under the final name. ``inputs`` are refused as outputs.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, inputs: tuple[str | os.PathLike, ...] = ()) -> None:
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in VIDEO_FORMATS:
            raise OutputError(f"video {self.path}: cognn writes {' or '.join(VIDEO_FORMATS)} videos, not "
                              f"{ext or 'files without an extension'}")
        fps = float(fps) if fps is not None else 0.0
        self.fps = fps if np.isfinite(fps) and 1.0 <= fps <= 1000.0 else 30.0
        self.frames = 0
        self._fourcc = VIDEO_FORMATS[ext]
        self._out = AtomicOutput(self.path, what="video", inputs=inputs, keep_suffix=True)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        from .pose.quiet import opencv_quiet

        h, w = frame.shape[:2]
        if self._writer is None:
            self._size = (w, h)
            with opencv_quiet():
                self._writer = cv2.VideoWriter(str(self._out.temp), cv2.VideoWriter_fourcc(*self._fourcc),  # type: ignore[attr-defined]
                                               self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                self._out.abort()
                raise OutputError(f"video {self.path}: OpenCV cannot write a {self.path.suffix} video here")
        if (w, h) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the video and give it its name; returns the path."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.frames == 0:
            self._out.abort()
            return self.path
        return self._out.commit()

    def abort(self) -> None:
        """Discard the video."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._out.abort()

    def __enter__(self) -> VideoRenderer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
