"""What every source yields: :class:`SkeletonFrame`, the :class:`FrameSource` interface, and drawing coordinates.

Every skeleton is ``(C, V, M)`` float32 in the source's domain (:mod:`cognn.domains`): NTU camera-space metres, or
``image2d`` = image coordinates normalised to [0, 1] minus 0.5 (y pointing down, as in the image) and the joint
score, zeros where the score is 0. Absent persons are zeros.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..domains import IMAGE2D
from ..layouts import Layout

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["SkeletonFrame", "FrameSource", "SourceBase", "project_to_canvas", "NTU_FPS", "NTU_COLOR_SIZE",
           "KINETICS_CANVAS", "DEFAULT_FPS"]

#: frame rate of NTU RGB+D and of the Kinetics-skeleton release (both sampled at 30 fps)
NTU_FPS = 30.0
#: Kinect v2 colour image size, the space of the ``colorX``/``colorY`` joint coordinates in ``.skeleton`` files
NTU_COLOR_SIZE = (1920, 1080)
#: canvas for drawing Kinetics-skeleton joints (normalised coordinates, no image size in the file)
KINETICS_CANVAS = (640, 480)
#: approximate Kinect v2 colour focal length in pixels, used to project camera-space skeletons for drawing
_KINECT_FOCAL = 1050.0
DEFAULT_FPS = 30.0


@dataclass
class SkeletonFrame:
    """One frame of a source."""

    #: 0-based frame index in the source
    index: int
    #: seconds from the start of the source (video position, camera clock, or index / fps for skeleton files)
    timestamp: float
    #: (C, V, M) float32 in the source's domain; zeros for absent persons
    skeleton: np.ndarray
    #: persons seen in this frame
    persons: int
    #: BGR frame for pixel sources (or the ``skeleton_video`` frame), else None
    image: np.ndarray | None = None
    #: (M, V, 2) pixel coordinates for drawing on ``image`` (or on a canvas of the source's ``canvas_size``); NaN where
    #: unknown
    draw_px: np.ndarray | None = None
    #: pose-estimation time in milliseconds for pixel sources
    pose_ms: float | None = None
    #: ``time.perf_counter()`` when the picture was captured or decoded (before pose): latency is measured from here
    captured: float | None = None
    #: False for a picture pose was not run on, because the model does not need it (a 60 fps video for a 30 fps
    #: model: every other picture, see :meth:`cognn.sources.VideoSource.pose_at_most`); ``skeleton``, ``persons``
    #: and ``draw_px`` are then the last posed picture's, ``pose_ms`` is None
    posed: bool = True


@runtime_checkable
class FrameSource(Protocol):
    """An iterable of :class:`SkeletonFrame` from the current position on.

    Attributes: ``layout`` (:class:`~cognn.layouts.Layout`), ``domain``, ``fps`` (nominal), ``num_frames`` (None for
    live sources), ``name``, ``canvas_size`` ``(width, height)`` for drawing ``draw_px``, ``position`` (index of the
    next frame), ``live``. ``read()`` returns the next frame or None at the end; ``seek(index)`` (files only; raises
    for live sources), ``close()``; usable as a context manager.
    """

    layout: Layout
    domain: str
    fps: float
    num_frames: int | None
    name: str
    canvas_size: tuple[int, int]
    live: bool

    @property
    def position(self) -> int: ...

    def read(self) -> SkeletonFrame | None: ...

    def seek(self, index: int) -> None: ...

    def close(self) -> None: ...

    def __iter__(self) -> Iterator[SkeletonFrame]: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> None: ...


class SourceBase:
    """Iteration and context-manager plumbing shared by every source."""

    live = False
    name = ""
    layout: Layout
    domain = ""

    def read(self) -> SkeletonFrame | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[SkeletonFrame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.layout.name} {self.domain}>"


def project_to_canvas(skeleton: np.ndarray, domain: str, canvas_size: tuple[int, int]) -> np.ndarray:
    """Pixel positions ``(M, V, 2)`` for drawing a skeleton ``(C, V, M)`` on a canvas ``(width, height)``.

    ``image2d``: ``(x + 0.5) * width, (y + 0.5) * height``, NaN where the score is 0. ``camera3d``: a pinhole
    projection like the Kinect colour camera (x grows to the right of the image, y up), scaled to the canvas, so a
    person facing the camera is seen as in NTU's colour images, which are mirrored (their right hand on the image's
    right); a person whose depth is not positive (hip-centred data) is drawn as if 3 m away. Absent joints are NaN.
    """
    s = np.asarray(skeleton, np.float32)
    w, h = canvas_size
    out = np.full((s.shape[2], s.shape[1], 2), np.nan, np.float32)
    if domain == IMAGE2D:
        for m in range(s.shape[2]):
            ok = s[2, :, m] > 0
            out[m, ok, 0] = (s[0, ok, m] + 0.5) * w
            out[m, ok, 1] = (s[1, ok, m] + 0.5) * h
        return out
    scale = w / NTU_COLOR_SIZE[0]
    f = _KINECT_FOCAL * scale
    for m in range(s.shape[2]):
        ok = np.abs(s[:, :, m]).sum(0) > 0
        if not ok.any():
            continue
        z = s[2, ok, m].astype(np.float64)
        if np.median(z) < 0.5:
            z = z + 3.0
        z = np.maximum(z, 0.1)
        out[m, ok, 0] = w / 2 + f * s[0, ok, m] / z
        out[m, ok, 1] = h / 2 - f * s[1, ok, m] / z
    return out
