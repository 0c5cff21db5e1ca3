"""What travels between the app's threads: requests, facts about the source and the model, and step results.

Signals carry these small dataclasses (and numpy arrays / QImages); the window only reads them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtGui import QImage

from cognn.errors import CognnError
from cognn.live.events import Event
from cognn.live.session import LiveStep, PersonView, Session
from cognn.online import Prediction
from cognn.sources import SkeletonFrame

__all__ = ["SourceRequest", "SourceInfo", "FrameItem", "ModelRequest", "ModelInfo", "StepResult", "USER_ERRORS",
           "describe_error"]

#: errors that mean "this input cannot be used" rather than a bug: shown to the user as one sentence
USER_ERRORS = (CognnError, ValueError, OSError, RuntimeError, KeyError, EOFError)


def describe_error(exc: BaseException) -> str:
    """One sentence for the user; programming errors keep their type name so a bug report says what happened."""
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, CognnError) else f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class SourceRequest:
    """What to open: ``spec`` as :func:`cognn.sources.open_source` takes it (a path, a camera index, a device path
    or a stream URL)."""

    spec: str | int
    skeleton_video: str | None = None
    autoplay: bool = True

    @property
    def live(self) -> bool:
        """A camera or a stream (no end, no seeking)."""
        from cognn.sources import is_stream_spec

        return isinstance(self.spec, int) or is_stream_spec(self.spec)

    def label(self) -> str:
        """The source as shown (a stream URL's password hidden)."""
        from cognn.sources import redact_url

        return redact_url(self.spec) if self.live else str(self.spec)


@dataclass(frozen=True)
class SourceInfo:
    """An opened source, as the UI needs it."""

    source_id: int
    request: SourceRequest
    name: str
    layout: str
    domain: str
    fps: float
    num_frames: int | None
    live: bool
    canvas_size: tuple[int, int] | None = None


@dataclass
class FrameItem:
    """One frame travelling from the capture worker to the model worker."""

    source_id: int
    epoch: int  # changes on every open and seek: the session starts a new stream when it does
    frame: SkeletonFrame
    layout: str
    domain: str
    fps: float
    source_name: str
    canvas_size: tuple[int, int] | None = None
    queued: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class ModelRequest:
    """Which model to run: a registry ``model`` name and/or ``weights`` (a file or a bundled model's name; None: the
    defaults), for ``layout`` (None: the weights')."""

    model: str | None = None
    weights: str | None = None
    top_k: int = 5
    layout: str | None = None
    #: one state and steady label per tracked person instead of one for everybody
    per_person: bool = False
    #: show only these classes (``kinetics-motion`` or a class-list file); None: all
    classes: str | None = None
    #: precision of the model step's products: fp32, bf16 or int8 (cognn.nn.linear; the torch backend)
    precision: str = "fp32"


@dataclass(frozen=True)
class ModelInfo:
    """The session now in use, as the UI shows it (``session`` is for opening sources with it)."""

    name: str
    description: str
    classes: tuple[str, ...]
    receptive_field: int
    fps: float
    has_weights: bool
    layout: str
    request: ModelRequest
    session: Session | None = None


@dataclass
class StepResult:
    """One frame after the session's step, ready to draw."""

    source_id: int
    epoch: int
    #: the session's answer (frame, persons with labels and anchors, events, latency)
    step: LiveStep
    #: the picture shrunk to the view size (with the skeletons drawn), made off the UI thread
    image: QImage | None
    #: (width, height) of the original picture, the space of ``step.draw_px``
    image_size: tuple[int, int] | None
    #: persons already drawn on ``image`` by the worker (None: the view draws the skeletons itself)
    persons_drawn: int | None
    layout: str
    domain: str
    #: class index of the top-1 prediction, -1 when there is none
    top1: int
    #: frames dropped by the queue so far
    dropped: int
    #: milliseconds the frame waited in the queue
    queue_ms: float = 0.0
    mirrored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def frame(self) -> SkeletonFrame:
        return self.step.frame

    @property
    def prediction(self) -> Prediction | None:
        return self.step.prediction

    @property
    def persons(self) -> list[PersonView]:
        return self.step.persons

    @property
    def events(self) -> list[Event]:
        return self.step.events

    @property
    def open_events(self) -> dict[int, Event]:
        return self.step.open_events

    @property
    def draw_px(self) -> Any:
        return self.step.draw_px

    @property
    def latency_ms(self) -> float:
        """Capture (or decoding) of the picture to this result, pose included."""
        return float(self.step.latency_ms or 0.0)
