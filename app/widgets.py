"""The window's views: the picture with skeletons and labels, the top-k bars, the timing plot and the timeline.

Each view draws what it is given (a :class:`~cognn_app.messages.StepResult`, a list of scores, a few numbers) with
:mod:`cognn_app.overlay`; none of them computes anything about the stream.
"""
from __future__ import annotations

from collections import deque

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QSizePolicy, QWidget

from cognn.layouts import get_layout
from cognn.live.mirror import label_anchor
from cognn.live.session import PersonView

from . import overlay
from .messages import StepResult

__all__ = ["VideoView", "BarsView", "PlotView", "TimelineView"]



def person_caption(view: PersonView) -> str:
    """The one answer shown for a person: the label shown (as in the records' ``label``) with the repetitions
    counted (``jumping_jacks ×5``, as in the events' ``reps``), marked ``(warming up)`` while the person's model
    does not answer exactly yet (a newcomer); how far the warm-up is, the window's bar says, once."""
    text = f"{view.shown_label} ×{view.reps}" if view.reps is not None else view.shown_label
    pred = view.prediction
    return text if pred.ready or pred.exact else f"{text} (warming up)"


class VideoView(QWidget):
    """The picture (or a clean canvas for skeleton files) with up to two skeletons and a small heads-up display."""

    resized = pyqtSignal(int, int)
    HUD_HEIGHT = 96  # pixels above a clean canvas kept for the heads-up text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.viewport = overlay.Viewport()
        self.result: StepResult | None = None
        self.top: list[tuple[str, float]] = []  # the latest top-k (kept between the predictions of strided models)
        self.message = "Open a video, a skeleton file or a camera (O)"
        self.persons_drawn = 0  # persons drawn by the last paint
        self.labels_drawn: list[str] = []  # person labels drawn by the last paint
        self.banner_drawn: list[str] = []  # heads-up lines drawn by the last paint
        #: a live source's state while no frame comes ("reconnecting ..."), drawn over the last picture
        self.notice: str | None = None
        self.paints = 0
        #: the model's frame rate (warm-up is shown in seconds)
        self.fps = 30.0

    def set_result(self, result: StepResult | None) -> None:
        self.result = result
        if result is not None and result.prediction is not None and result.prediction.top:
            self.top = list(result.prediction.top)
        if result is not None and result.image is None:
            self.viewport.include(self._points(result))
        self.update()

    def reset(self, message: str = "") -> None:
        self.result = None
        self.top = []
        self.notice = None
        self.viewport.reset()
        self.message = message
        self.update()

    def set_notice(self, text: str | None) -> None:
        """Show ``text`` (a stream reconnecting) over the picture until it is set to None."""
        if text != self.notice:
            self.notice = text
            self.update()

    @staticmethod
    def _points(result: StepResult) -> np.ndarray | None:
        """What to draw, in source drawing coordinates: the worker's (possibly mirrored) ``draw_px``, else the
        skeleton projected (mirrored by negating x: a clean canvas fits whatever box the points take)."""
        px = result.draw_px
        if px is not None and np.isfinite(np.asarray(px, dtype=np.float64)).any():
            return np.asarray(px, dtype=np.float64)
        if result.image is None:
            pts = overlay.project_skeleton(result.frame.skeleton, result.domain)
            if result.mirrored:
                pts[..., 0] = -pts[..., 0]
            return pts
        return None

    def _mapper(self):
        """Source drawing coordinates -> widget coordinates for the shown result (None before any point)."""
        r = self.result
        if r is None:
            return None
        bounds = QRectF(self.rect())
        if r.image is not None and r.image_size is not None:
            target = overlay.fit_rect(r.image_size[0], r.image_size[1], bounds)
            return overlay.Viewport.mapper(QRectF(0, 0, *r.image_size), target)
        canvas = self.viewport.canvas()
        if canvas is None:
            return None
        bounds.setTop(bounds.top() + self.HUD_HEIGHT)  # a clean canvas: keep the skeleton clear of the HUD
        return overlay.Viewport.mapper(canvas, overlay.fit_rect(canvas.width(), canvas.height(), bounds))

    def skeleton_points(self) -> np.ndarray | None:
        """The skeleton joints of the shown frame in widget coordinates ``(M, V, 2)``, NaN where unknown."""
        r = self.result
        if r is None:
            return None
        pts = self._points(r)
        mapper = self._mapper()
        if pts is None or mapper is None:
            return None
        return mapper(pts)

    def person_labels(self) -> list[tuple[str, QPointF]]:
        """Each tracked person's steady label (or "warming up") and where it is drawn, above them, in widget
        coordinates: the pipeline's anchor, else above the drawn skeleton of the person's slots."""
        r = self.result
        if r is None or not r.persons:
            return []
        mapper = self._mapper()
        pts = None
        out = []
        for view in r.persons:
            if not view.present:
                continue
            anchor = None
            if view.anchor is not None and mapper is not None:
                anchor = tuple(mapper(np.array([view.anchor], np.float64))[0])
            else:
                if pts is None:
                    pts = self.skeleton_points()
                found = [a for a in (label_anchor(pts, s) for s in view.slots) if a is not None]
                if found:
                    anchor = (float(np.mean([a[0] for a in found])), min(a[1] for a in found))
            if anchor is not None and np.isfinite(anchor).all():
                out.append((person_caption(view), QPointF(float(anchor[0]), float(anchor[1]))))
        return out

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        r = self.result
        self.paints += 1
        if r is None:
            p.setPen(QColor(170, 170, 170))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.notice or self.message)
            self.banner_drawn = [self.notice or self.message]
            p.end()
            return
        if r.image is not None and r.image_size is not None:
            target = overlay.fit_rect(r.image_size[0], r.image_size[1], QRectF(self.rect()))
            if abs(r.image.width() - target.width()) <= 2 and abs(r.image.height() - target.height()) <= 2:
                p.drawImage(target.topLeft(), r.image)  # already made to fit by the worker: a plain copy
            else:  # the view was resized since: scale this once
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                p.drawImage(target, r.image)
        if r.persons_drawn is not None:
            self.persons_drawn = r.persons_drawn  # the worker drew them on the picture
        else:
            pts = self.skeleton_points()
            width = max(2.5, min(self.width(), self.height()) / 140)
            self.persons_drawn = 0 if pts is None else overlay.draw_skeletons(p, pts, get_layout(r.layout),
                                                                               width=width)
        self.labels_drawn = overlay.draw_person_labels(p, self.person_labels(), QRectF(self.rect()),
                                                       pixels=max(12, min(18, self.height() // 36)))
        # one answer per person, above them (person_caption); the warm-up is the window's warm-up bar, once
        pred = r.prediction
        lines = []
        if pred is not None and not pred.has_weights:
            lines.append(("untrained weights", QColor(255, 120, 120)))
        lines.append((f"frame {r.frame.index}  {r.frame.timestamp:.2f} s  persons {r.frame.persons}",
                      QColor(200, 200, 200)))
        # what the user should do about the body in view ("step back: legs not visible"), and a lost stream
        for text in dict.fromkeys(v.message for v in r.persons if v.present and v.message):
            lines.append((text, QColor(255, 200, 80)))
        if self.notice:
            lines.append((self.notice, QColor(255, 140, 90)))
        overlay.draw_banner(p, QRectF(self.rect()).adjusted(8, 8, -8, -8), lines,
                            pixels=max(12, min(16, self.height() // 40)))
        self.banner_drawn = [t for t, _ in lines]
        p.end()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.resized.emit(self.width(), self.height())


class BarsView(QWidget):
    """Top-k actions with confidence bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.top: list[tuple[str, float]] = []
        self.rows = 5
        self.setMinimumHeight(self.rows * 26)

    def set_rows(self, rows: int) -> None:
        self.rows = max(1, rows)
        self.setMinimumHeight(self.rows * 26)

    def set_top(self, top: list[tuple[str, float]]) -> None:
        self.top = list(top)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        rect = QRectF(self.rect())
        if not self.top:
            p.setPen(QColor(150, 150, 150))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no prediction yet")
        else:
            overlay.draw_bars(p, rect, self.top[: self.rows], row=min(30.0, rect.height() / self.rows))
        p.end()


class PlotView(QWidget):
    """A live plot of the per-step times (pose, model, whole step) in milliseconds."""

    SERIES = (("pose", QColor(255, 170, 60)), ("model", QColor(90, 200, 255)), ("latency", QColor(170, 170, 170)))

    def __init__(self, capacity: int = 150, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self.values = {name: deque(maxlen=capacity) for name, _ in self.SERIES}
        self.setMinimumHeight(110)

    def add(self, **values: float | None) -> None:
        for name, _ in self.SERIES:
            v = values.get(name)
            self.values[name].append(np.nan if v is None else float(v))
        self.update()

    def clear(self) -> None:
        for d in self.values.values():
            d.clear()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        overlay.draw_plot(p, QRectF(self.rect()), [(n, self.values[n], c) for n, c in self.SERIES],
                          capacity=self.capacity)
        p.end()


class TimelineView(QWidget):
    """The predicted top-1 action over the file, as coloured segments with a legend of the actions in it; a click on
    the strip seeks there."""

    seek_requested = pyqtSignal(int)
    LIVE_FRAMES = 900  # frames kept for a live source (scrolling)
    STRIP = 14  # pixels of the coloured strip; the legend runs below it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(self.STRIP + 18)
        self.setToolTip("Predicted top-1 action over the source (pale: still warming up); click to seek")
        #: class names of the model (the legend names the colours)
        self.classes: list[str] = []
        self.reset(None)

    def reset(self, num_frames: int | None) -> None:
        self.live = num_frames is None
        n = self.LIVE_FRAMES if num_frames is None else max(int(num_frames), 1)
        self.top1 = np.full(n, -1, dtype=np.int64)
        self.ready = np.zeros(n, dtype=bool)
        self.current: int | None = None
        self.update()

    def set(self, index: int, top1: int, ready: bool) -> None:
        if self.live:
            self.top1 = np.roll(self.top1, -1)
            self.ready = np.roll(self.ready, -1)
            self.top1[-1], self.ready[-1] = top1, ready
            self.current = len(self.top1) - 1
        elif 0 <= index < len(self.top1):
            self.top1[index], self.ready[index] = top1, ready
            self.current = index
        self.update()

    def segments(self) -> int:
        """How many coloured segments the timeline holds."""
        t = self.top1
        if not len(t):
            return 0
        starts = np.concatenate([[0], np.flatnonzero(np.diff(t)) + 1])
        return int((t[starts] >= 0).sum())

    def legend(self) -> list[tuple[str, QColor]]:
        """(class name, colour) of every action on the strip, most frames first."""
        idx, counts = np.unique(self.top1[self.top1 >= 0], return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return [(self.classes[i] if 0 <= i < len(self.classes) else f"class {i}", overlay.class_colour(int(i)))
                for i in idx[order]]

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        rect = QRectF(self.rect())
        overlay.draw_timeline(p, QRectF(rect.x(), rect.y(), rect.width(), self.STRIP), self.top1,
                              current=self.current, ready=self.ready)
        p.fillRect(QRectF(rect.x(), self.STRIP, rect.width(), rect.height() - self.STRIP), QColor(30, 30, 34))
        x = rect.x() + 6
        m = p.fontMetrics()
        for name, colour in self.legend():
            w = m.horizontalAdvance(name) + 22
            if x + w > rect.right():
                p.setPen(QColor(170, 170, 170))
                p.drawText(QPointF(x, self.STRIP + 13), "…")
                break
            p.fillRect(QRectF(x, self.STRIP + 5, 10, 10), colour)
            p.setPen(QColor(220, 220, 220))
            p.drawText(QPointF(x + 14, self.STRIP + 14), name)
            x += w
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if not self.live and self.width() > 0 and event.position().y() <= self.STRIP + 2:
            frac = min(max(event.position().x() / self.width(), 0.0), 1.0)
            self.seek_requested.emit(int(frac * (len(self.top1) - 1)))
