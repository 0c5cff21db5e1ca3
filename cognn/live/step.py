"""What a live session answers for one input frame: :class:`LiveStep`, with a :class:`PersonView` per person.

Its own module so that what consumes steps (the recorder, the records, the app, the server) needs the shape of a
step, not the session that makes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..online import Prediction
from ..sources import SkeletonFrame
from .alarms import ShownLabel
from .events import Event
from .labels import SteadyLabel
from .visibility import BodyView

__all__ = ["PersonView", "LiveStep", "warmup_text"]


@dataclass
class PersonView:
    """What to show for one person (or pair, or everybody in ``"all"`` mode) at one input frame."""

    person: int
    #: source slots of the people concerned
    slots: tuple[int, ...]
    #: the latest prediction (top-k, ready, warm-up, held)
    prediction: Prediction
    #: the steady label (a class, or "uncertain")
    label: SteadyLabel
    present: bool
    #: where to draw the label in :attr:`LiveStep.draw_px` coordinates (above the head), or None
    anchor: tuple[float, float] | None = None
    #: the model's frame rate (warm-up is shown in seconds of stream, whatever the source's rate)
    fps: float = 0.0
    #: the label shown after the alarm policy and the body check (None: the steady label as it is)
    shown: ShownLabel | None = None
    #: repetitions of the repetitive class being counted now (None: none is)
    reps: int | None = None
    #: which parts of the body are in view, and what to tell the user (None: not checked)
    body: BodyView | None = None
    #: seconds the held class being shown (a plank) has been held (None: no held class shown)
    hold_s: float | None = None

    @property
    def ready(self) -> bool:
        return bool(self.prediction.ready)

    @property
    def shown_label(self) -> str:
        """The label shown: a class, ``none`` or ``uncertain`` (a class withheld by the alarm policy or the body)."""
        return self.shown.label if self.shown is not None else self.label.label

    @property
    def message(self) -> str | None:
        """What to tell the user about the body in view ("step back: legs not visible"), or None."""
        return self.body.message if self.body is not None else None

    def text(self) -> str:
        """A short caption: the label shown with its repetitions (``jumping_jacks ×5``), or
        ``label (warming up 1.2/3.0 s)``."""
        p = self.prediction
        if not p.ready:
            return f"{self.shown_label} (warming up {warmup_text(p.warmup, self.fps)})"
        if self.reps is not None:
            return f"{self.shown_label} ×{self.reps}"
        if self.hold_s is not None:
            return f"{self.shown_label} {self.hold_s:.0f} s"
        return self.shown_label


def warmup_text(warmup: tuple[int, int], fps: float) -> str:
    """``1.2/3.0 s`` of model frames at ``fps`` (frames when the rate is unknown)."""
    seen, need = warmup
    return f"{seen / fps:.1f}/{need / fps:.1f} s" if fps > 0 else f"{seen}/{need} frames"


@dataclass
class LiveStep:
    """The session's answer for one input frame."""

    frame: SkeletonFrame
    persons: list[PersonView]
    #: events that ended at this frame
    events: list[Event]
    #: model frames this input frame released (0 when the input is faster than the model's rate)
    model_frames: int
    #: what to draw: the image and skeleton coordinates, mirrored if the option is on
    image: np.ndarray | None = None
    draw_px: np.ndarray | None = None
    open_events: dict[int, Event] = field(default_factory=dict)
    #: the views produced at each model frame of this step, in order (``prediction.timestamp`` = model-frame time)
    model_views: list[PersonView] = field(default_factory=list)
    #: milliseconds from the capture (or decoding) of the picture to this result, pose included
    latency_ms: float | None = None
    #: seconds a stream was lost before this frame (cognn.sources.stream), else None
    gap: float | None = None
    #: the continual state was reset at this frame (a gap of at least ``gap_reset``; the events going on before it
    #: are in :attr:`events`)
    reset: bool = False

    @property
    def prediction(self) -> Prediction | None:
        """The first person's prediction (None before any)."""
        return self.persons[0].prediction if self.persons else None

    @property
    def model_ms(self) -> list[float]:
        """Milliseconds of each model step this frame released."""
        return [v.prediction.model_ms for v in self.model_views]
