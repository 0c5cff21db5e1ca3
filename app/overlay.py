"""Drawing helpers for the app: BGR frames as QImages, skeletons, confidence bars, step-time plots, timelines.

Every ``draw_*`` function paints with a given :class:`QPainter` into a given rectangle and keeps no state, so the same
code draws the window and the annotated video (a QPainter on a QImage works off the UI thread too).
"""
from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PyQt6.QtCore import QLineF, QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF

from cognn.domains import IMAGE2D
from cognn.layouts import Layout
from cognn.render import percent

__all__ = ["PERSON_COLOURS", "class_colour", "bgr_to_qimage", "fit_rect", "project_skeleton", "Viewport",
           "draw_skeletons", "draw_bars", "draw_plot", "draw_timeline", "draw_banner", "draw_person_labels",
           "draw_on_image"]

#: outline colour of person slot 0 and 1 (more slots cycle)
PERSON_COLOURS = (QColor(255, 150, 30), QColor(40, 200, 255), QColor(120, 230, 90), QColor(240, 80, 200))
_TEXT = QColor(235, 235, 235)
_DIM = QColor(150, 150, 150)
_PANEL = QColor(0, 0, 0, 150)


def class_colour(index: int) -> QColor:
    """A distinct, stable colour per class index (golden-ratio hues); grey for ``index < 0`` (no prediction)."""
    if index < 0:
        return QColor(90, 90, 90)
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, 0.9)
    return QColor(int(r * 255), int(g * 255), int(b * 255))


def bgr_to_qimage(bgr: np.ndarray, fit: tuple[int, int] | None = None) -> QImage:
    """An OpenCV BGR ``uint8`` image ``(H, W, 3)`` (or gray ``(H, W)``) as an owning ``Format_RGB32`` QImage.

    ``fit`` ``(width, height)`` resizes it (aspect kept) to the largest size inside that box, so that painting it is a
    plain copy: the scaling happens here (safe off the UI thread), not in the UI's paint.
    """
    import cv2

    img = np.asarray(bgr)
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3, 4))):
        raise ValueError(f"expected a uint8 BGR image (H, W, 3), got {img.dtype} {img.shape}")
    if fit is not None:
        h, w = img.shape[:2]
        scale = min(fit[0] / w, fit[1] / h)
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        if size != (w, h):
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if img.ndim == 2 or img.shape[2] == 1:
        bgra = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    else:
        bgra = np.ascontiguousarray(img)
    h, w = bgra.shape[:2]
    # little-endian BGRA bytes are Qt's 0xAARRGGBB words: no channel shuffle needed
    return QImage(bgra.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


def fit_rect(width: float, height: float, bounds: QRectF) -> QRectF:
    """The largest rectangle of aspect ``width:height`` centred in ``bounds``."""
    if width <= 0 or height <= 0 or bounds.width() <= 0 or bounds.height() <= 0:
        return QRectF(bounds)
    scale = min(bounds.width() / width, bounds.height() / height)
    w, h = width * scale, height * scale
    return QRectF(bounds.x() + (bounds.width() - w) / 2, bounds.y() + (bounds.height() - h) / 2, w, h)


def project_skeleton(skeleton: np.ndarray, domain: str) -> np.ndarray:
    """Drawing coordinates ``(M, V, 2)`` (x right, y down, arbitrary units) of a skeleton ``(C, V, M)``.

    ``image2d`` keeps x, y as they are; ``camera3d`` (metres, y up) draws x and −y, a front view. Joints of absent
    persons (all channels zero) are NaN.
    """
    s = np.asarray(skeleton, dtype=np.float32)
    if s.ndim != 3 or s.shape[0] < 2:
        raise ValueError(f"expected a skeleton (C, V, M) with C >= 2, got {s.shape}")
    xy = s[:2].transpose(2, 1, 0).copy()  # (M, V, 2)
    if domain != IMAGE2D:
        xy[..., 1] *= -1.0
    absent = ~np.any(s != 0, axis=0).T  # (M, V)
    xy[absent] = np.nan
    return xy


class Viewport:
    """Maps source drawing coordinates to widget coordinates.

    With an image the mapping is fixed (image pixels to the fitted rectangle). Without one (a skeleton file on a
    clean canvas) it fits a bounding box that only grows, so the view does not jump from frame to frame.
    """

    def __init__(self, margin: float = 0.08) -> None:
        self.margin = margin
        self.reset()

    def reset(self) -> None:
        self._box: list[float] | None = None  # x0, y0, x1, y1

    def include(self, points: np.ndarray) -> None:
        """Grow the canvas box so that the finite ``points`` (..., 2) fit."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        p = p[np.isfinite(p).all(1)]
        if not len(p):
            return
        lo, hi = p.min(0), p.max(0)
        if self._box is None:
            self._box = [lo[0], lo[1], hi[0], hi[1]]
        else:
            b = self._box
            self._box = [min(b[0], lo[0]), min(b[1], lo[1]), max(b[2], hi[0]), max(b[3], hi[1])]

    def canvas(self) -> QRectF | None:
        """The source-space rectangle shown on a canvas (box plus margin), or None before any point."""
        if self._box is None:
            return None
        x0, y0, x1, y1 = self._box
        size = max(x1 - x0, y1 - y0, 1e-6)
        m = self.margin * size
        return QRectF(x0 - m, y0 - m, (x1 - x0) + 2 * m, (y1 - y0) + 2 * m)

    @staticmethod
    def mapper(source: QRectF, target: QRectF):
        """A function (M, V, 2) -> (M, V, 2) from ``source`` to ``target`` coordinates (uniform scale)."""
        sx = target.width() / max(source.width(), 1e-9)
        sy = target.height() / max(source.height(), 1e-9)
        offset = np.array([target.x() - source.x() * sx, target.y() - source.y() * sy])
        scale = np.array([sx, sy])
        return lambda pts: np.asarray(pts, dtype=np.float64) * scale + offset


def draw_skeletons(p: QPainter, points: np.ndarray, layout: Layout, *, width: float = 3.0,
                   colours: Sequence[QColor] = PERSON_COLOURS, labels: bool = False) -> int:
    """Draw up to ``M`` skeletons ``points`` ``(M, V, 2)`` (widget coordinates, NaN where unknown) along the layout's
    edges, one colour per person slot; ``labels`` adds a ``P1``... slot tag by the head (off: the person labels
    above the heads say who is who). Returns how many persons were drawn."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 2 or pts.shape[1] != layout.num_joints:
        raise ValueError(f"expected points (M, {layout.num_joints}, 2), got {pts.shape}")
    drawn = 0
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    edges = np.asarray(layout.edges)
    for m in range(pts.shape[0]):
        ok = np.isfinite(pts[m]).all(1)
        if not ok.any():
            continue
        drawn += 1
        colour = colours[m % len(colours)]
        keep = ok[edges[:, 0]] & ok[edges[:, 1]]
        seg = np.concatenate([pts[m, edges[keep, 0]], pts[m, edges[keep, 1]]], axis=1).tolist()
        lines = [QLineF(*s) for s in seg]
        joints = [QPointF(x, y) for x, y in pts[m, ok].tolist()]
        # one call per pass: a dark outline, the colour, then round joint dots
        p.setPen(QPen(QColor(0, 0, 0, 160), width + 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLines(lines)
        p.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLines(lines)
        p.setPen(QPen(colour.lighter(135), width * 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawPoints(joints)
        if labels:
            head = pts[m][ok]
            top = head[np.argmin(head[:, 1])]
            p.setPen(colour)
            p.setFont(_font(max(12, int(width * 3.5)), bold=True))
            p.drawText(QPointF(top[0] + 3 * width, top[1] - 4 * width), f"P{m + 1}")
    p.restore()
    return drawn


def _font(pixels: int, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(6, pixels))
    f.setBold(bold)
    return f


def draw_bars(p: QPainter, rect: QRectF, top: Sequence[tuple[str, float]], *, row: float = 26.0,
              highlight: bool = True) -> None:
    """Top-k ``(label, probability)`` rows with confidence bars filling ``rect`` from the top."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    font = _font(int(row * 0.5))
    p.setFont(font)
    y = rect.y()
    for i, (label, prob) in enumerate(top):
        if y + row > rect.bottom() + 0.5:
            break
        bar = QRectF(rect.x(), y + 2, rect.width(), row - 4)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(255, 255, 255, 30))
        p.drawRoundedRect(bar, 4, 4)
        fill = QRectF(bar.x(), bar.y(), bar.width() * float(np.clip(prob, 0.0, 1.0)), bar.height())
        colour = QColor(60, 170, 90) if (i == 0 and highlight) else QColor(70, 110, 170)
        p.setBrush(colour)
        p.drawRoundedRect(fill, 4, 4)
        p.setPen(_TEXT)
        text = bar.adjusted(6, 0, -6, 0)
        p.drawText(text, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, percent(prob))
        metrics = p.fontMetrics()
        room = int(text.width() - metrics.horizontalAdvance("100% "))
        p.drawText(text, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                   metrics.elidedText(label, Qt.TextElideMode.ElideRight, max(room, 10)))
        y += row
    p.restore()


def draw_plot(p: QPainter, rect: QRectF, series: Sequence[tuple[str, Sequence[float], QColor]], *,
              capacity: int = 150, unit: str = "ms", minimum_top: float = 10.0) -> float:
    """A small line plot of the last ``capacity`` values of each ``(name, values, colour)`` series in ``rect``,
    with a legend and the y-axis top; NaN values leave gaps. Returns the y-axis top."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(20, 20, 24))
    p.drawRect(rect)
    arrays = [np.asarray(list(vals)[-capacity:], dtype=np.float64) for _, vals, _ in series]
    peak = max((float(np.nanmax(a)) for a in arrays if np.isfinite(a).any()), default=0.0)
    top = max(minimum_top, peak * 1.15)
    step = _nice_step(top / 3)
    top = step * np.ceil(top / step)
    plot = rect.adjusted(34, 18, -4, -4)
    font = _font(10)
    p.setFont(font)
    grid = QPen(QColor(255, 255, 255, 35), 1.0)
    for k in range(int(round(top / step)) + 1):
        yv = plot.bottom() - plot.height() * (k * step) / top
        p.setPen(grid)
        p.drawLine(QPointF(plot.left(), yv), QPointF(plot.right(), yv))
        p.setPen(_DIM)
        p.drawText(QRectF(rect.x(), yv - 7, 30, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"{k * step:g}")
    dx = plot.width() / max(capacity - 1, 1)
    x_legend = plot.left()
    for (name, _, colour), v in zip(series, arrays):
        pen = QPen(colour, 1.0)
        pen.setCosmetic(True)  # 1-pixel cosmetic lines take the raster engine's fast path (wider ones are ~40x slower)
        p.setPen(pen)
        if len(v):
            xs = plot.right() - dx * (len(v) - 1 - np.arange(len(v)))
            ys = plot.bottom() - plot.height() * np.minimum(v, top) / top
            ok = np.isfinite(v)
            # runs of finite values become one polyline each (NaN leaves a gap)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
            for a, b in zip(edges[::2], edges[1::2]):
                run = np.stack([xs[a:b], ys[a:b]], 1).tolist()
                if len(run) == 1:
                    p.drawPoint(QPointF(*run[0]))
                else:
                    p.drawPolyline(QPolygonF([QPointF(x, y) for x, y in run]))
        p.setPen(colour)
        label = f"{name} {v[np.isfinite(v)][-1]:.1f}" if np.isfinite(v).any() else f"{name} –"
        p.drawText(QPointF(x_legend, rect.y() + 12), label)
        x_legend += p.fontMetrics().horizontalAdvance(label) + 10
    p.setPen(_DIM)
    p.drawText(QRectF(rect.x(), rect.y() + 2, 30, 12), Qt.AlignmentFlag.AlignRight, unit)
    p.restore()
    return float(top)


def _nice_step(raw: float) -> float:
    exp = 10 ** np.floor(np.log10(max(raw, 1e-9)))
    for m in (1, 2, 5, 10):
        if raw <= m * exp:
            return float(m * exp)
    return float(10 * exp)


def draw_timeline(p: QPainter, rect: QRectF, top1: np.ndarray, *, current: int | None = None,
                  ready: np.ndarray | None = None) -> int:
    """A strip of coloured segments, one colour per predicted top-1 class index (``top1`` ``(T,)``, -1 = none yet);
    frames predicted before the receptive field was full are drawn paler, and ``current`` is marked.
    Returns the number of segments drawn."""
    t1 = np.asarray(top1)
    p.save()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(35, 35, 40))
    p.drawRect(rect)
    n = len(t1)
    segments = 0
    if n:
        change = np.flatnonzero(np.diff(t1)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [n]])
        pale = np.zeros(n, bool) if ready is None else ~np.asarray(ready, bool)
        for s, e in zip(starts, ends):
            if t1[s] < 0:
                continue
            x0 = rect.x() + rect.width() * s / n
            x1 = rect.x() + rect.width() * e / n
            colour = class_colour(int(t1[s]))
            if pale[s]:
                colour.setAlpha(110)
            p.setBrush(colour)
            p.drawRect(QRectF(x0, rect.y(), max(x1 - x0, 1.0), rect.height()))
            segments += 1
        if current is not None and 0 <= current < n:
            x = rect.x() + rect.width() * (current + 0.5) / n
            p.setPen(QPen(QColor(255, 255, 255), 2.0))
            p.drawLine(QPointF(x, rect.y()), QPointF(x, rect.bottom()))
    p.restore()
    return segments


def draw_banner(p: QPainter, rect: QRectF, lines: Sequence[tuple[str, QColor]], *, pixels: int = 14) -> QRectF:
    """Text lines on a translucent panel anchored at ``rect``'s top-left; returns the panel's rectangle."""
    p.save()
    p.setFont(_font(pixels, bold=True))
    m = p.fontMetrics()
    width = max((m.horizontalAdvance(t) for t, _ in lines), default=0) + 16
    height = len(lines) * (m.height() + 2) + 10
    panel = QRectF(rect.x(), rect.y(), min(width, rect.width()), height)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(_PANEL)
    p.drawRoundedRect(panel, 5, 5)
    y = panel.y() + 5 + m.ascent()
    for text, colour in lines:
        p.setPen(colour)
        p.drawText(QPointF(panel.x() + 8, y), text)
        y += m.height() + 2
    p.restore()
    return panel


def draw_person_labels(p: QPainter, labels: Sequence[tuple[str, QPointF]], bounds: QRectF, *,
                       pixels: int = 14) -> list[str]:
    """Each ``(text, anchor)``: the text on a small panel centred above ``anchor`` (kept inside ``bounds``); returns
    the texts drawn. "warming up" labels are drawn amber."""
    if not labels:
        return []
    p.save()
    p.setFont(_font(pixels, bold=True))
    m = p.fontMetrics()
    drawn = []
    for text, anchor in labels:
        w, h = m.horizontalAdvance(text) + 12, m.height() + 6
        x = min(max(anchor.x() - w / 2, bounds.left()), bounds.right() - w)
        y = min(max(anchor.y() - h - 10, bounds.top()), bounds.bottom() - h)
        panel = QRectF(x, y, w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(_PANEL)
        p.drawRoundedRect(panel, 4, 4)
        p.setPen(QColor(255, 200, 80) if "warming up" in text else _TEXT)
        p.drawText(panel, Qt.AlignmentFlag.AlignCenter, text)
        drawn.append(text)
    p.restore()
    return drawn


def draw_on_image(image: QImage, draw_px: np.ndarray | None, source_size: tuple[int, int], layout: str) -> int:
    """Draw the skeletons ``draw_px`` ``(M, V, 2)`` (pixels of the source picture of ``source_size``) on ``image``
    (the picture resized); returns the persons drawn. Done in the model worker so the UI thread only copies pixels."""
    from cognn.layouts import get_layout

    if draw_px is None:
        return 0
    p = QPainter(image)
    try:
        mapper = Viewport.mapper(QRectF(0, 0, *source_size), QRectF(0, 0, image.width(), image.height()))
        width = max(2.5, min(image.width(), image.height()) / 140)
        return draw_skeletons(p, mapper(draw_px), get_layout(layout), width=width)
    finally:
        p.end()
