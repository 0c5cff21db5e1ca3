"""Live use that people trust: frame-rate matching, landmark smoothing, steady labels, action events, one label per
person, mirroring and input domains.

Each stage is a small module with one job (see docs/live.md); :class:`~cognn.live.pipeline.LivePipeline` composes
them for the app and ``cognn-infer``:

* :mod:`~cognn.live.smoothing` — One-Euro filter on pose landmarks, before the mapping;
* :mod:`~cognn.live.resample` — resampling a timestamped stream to the model's training rate;
* :mod:`~cognn.live.persons` — stable person ids and one continual state per person (or pair);
* :mod:`~cognn.live.labels` — probability smoothing, hysteresis and an "uncertain" outcome;
* :mod:`~cognn.live.events` — steady labels cut into action events, written as JSON lines or CSV;
* :mod:`~cognn.live.domain` — the checkpoint's input domain, MediaPipe output converted to it, mismatches refused;
* :mod:`~cognn.live.mirror` — the mirror option, which changes only what is drawn;
* :mod:`~cognn.live.landmarks` — raw landmarks of a video, saved for replaying the later stages.
"""
from .domain import DomainMismatchError, check_domain, mediapipe_to_domain, model_domain, model_fps
from .events import Event, EventSegmenter, read_events, segment_labels, write_events
from .labels import UNCERTAIN, LabelConfig, SteadyLabel, SteadyLabeler
from .mirror import label_anchor, mirror_draw_px, mirror_image, mirrored_view
from .persons import PersonRecognizers, PersonTracker
from .resample import ResampledFrame, Resampler, resample_sequence
from .smoothing import LandmarkSmoother, OneEuroFilter, SmoothedEstimator, SmoothingConfig

__all__ = ["DomainMismatchError", "check_domain", "mediapipe_to_domain", "model_domain", "model_fps",
           "Event", "EventSegmenter", "read_events", "segment_labels", "write_events",
           "UNCERTAIN", "LabelConfig", "SteadyLabel", "SteadyLabeler",
           "label_anchor", "mirror_draw_px", "mirror_image", "mirrored_view",
           "PersonRecognizers", "PersonTracker", "ResampledFrame", "Resampler", "resample_sequence",
           "LandmarkSmoother", "OneEuroFilter", "SmoothedEstimator", "SmoothingConfig",
           "LivePipeline", "LiveConfig", "LiveStep", "PersonView"]


def __getattr__(name: str):  # the pipeline imports torch-side modules lazily
    if name in ("LivePipeline", "LiveConfig", "LiveStep", "PersonView"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
