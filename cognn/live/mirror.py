"""The mirror option: a selfie view changes only what is drawn.

The pose model always sees the camera's own frame (a mirrored frame swaps the person's left and right, and the
model's classes such as "wave left" would swap too). To show a mirror-like preview, flip the image and the drawing
coordinates with these helpers after pose and recognition; the skeleton given to the model is never touched.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mirror_image", "mirror_draw_px", "mirrored_view", "label_anchor"]


def mirror_image(image: np.ndarray) -> np.ndarray:
    """A left-right flipped copy of an image ``(H, W[, C])``."""
    return np.ascontiguousarray(np.asarray(image)[:, ::-1])


def mirror_draw_px(draw_px: np.ndarray, width: float) -> np.ndarray:
    """Drawing coordinates ``(..., 2)`` (e.g. ``(M, V, 2)``) for the mirrored picture; NaN stays NaN. A new array."""
    out = np.array(draw_px, dtype=np.float32, copy=True)
    out[..., 0] = width - out[..., 0]
    return out


def mirrored_view(frame, width: int | None = None, *, mirror: bool = True
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(image, draw_px)`` of a :class:`cognn.sources.SkeletonFrame` as they should be drawn.

    With ``mirror`` both are flipped copies (``width`` defaults to the image's); without, the frame's own arrays.
    ``frame.skeleton`` is never changed.
    """
    if not mirror:
        return frame.image, frame.draw_px
    image = None if frame.image is None else mirror_image(frame.image)
    if width is None:
        if frame.image is None:
            raise ValueError("mirroring a frame without an image needs the canvas width")
        width = frame.image.shape[1]
    px = None if frame.draw_px is None else mirror_draw_px(frame.draw_px, width)
    return image, px


def label_anchor(draw_px: np.ndarray | None, slot: int, *, gap: float = 12.0) -> tuple[float, float] | None:
    """Where to draw a person's label: centred over the highest joint of slot ``slot`` of ``draw_px`` ``(M, V, 2)``,
    ``gap`` pixels above it; None when the person has no drawn joint."""
    if draw_px is None or slot < 0 or slot >= len(draw_px):
        return None
    pts = np.asarray(draw_px[slot], np.float64)
    ok = np.isfinite(pts).all(-1)
    if not ok.any():
        return None
    pts = pts[ok]
    return float(pts[:, 0].mean()), float(pts[:, 1].min() - gap)
