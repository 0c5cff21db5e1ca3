"""The live session and its parts: frame-rate matching, one state per person, steady labels, action events,
recordings, records, mirroring and input domains.

:class:`~cognn.live.session.Session` is the one object the app and every command loop around (see its module for a
frame's whole way). Its parts, each a small module with one job (docs/live.md):

* :mod:`~cognn.live.resample` — resampling a timestamped stream to the model's training rate;
* :mod:`~cognn.live.persons` — stable person ids and one continual state per person (or pair);
* :mod:`~cognn.live.labels` — probability smoothing, hysteresis and an "uncertain" outcome;
* :mod:`~cognn.live.alarms` — false alarms: per-class thresholds, an allow-list, "uncertain" instead of a wrong class;
* :mod:`~cognn.live.visibility` — partial bodies: what is in view, what the model needs, what to tell the user;
* :mod:`~cognn.live.reps` — repetitions of repetitive classes, per person;
* :mod:`~cognn.live.events` — steady labels cut into action events, written as JSON lines or CSV;
* :mod:`~cognn.live.recorder` — skeletons, events and the annotated video of a session, in one format;
* :mod:`~cognn.live.records` — one prediction record per frame, as ``cognn-infer`` writes them;
* :mod:`~cognn.live.domain` — the checkpoint's input domain, mismatches refused;
* :mod:`~cognn.live.mirror` — the mirror option, which changes only what is drawn.

Pose, landmark smoothing and the mapping to a layout are :mod:`cognn.pose` (:class:`cognn.pose.PoseTracker`).
"""
from .domain import DomainMismatchError, check_domain, model_domain, model_fps
from .events import Event, EventSegmenter, events_of_recording, read_events, segment_labels, write_events
from .labels import UNCERTAIN, LabelConfig, SteadyLabel, SteadyLabeler
from .mirror import label_anchor, mirror_draw_px, mirror_image, mirrored_view
from .persons import PersonRecognizers, PersonTracker
from .resample import ResampledFrame, Resampler, resample_sequence
from .session import LiveConfig, LiveStep, PersonView, Session

__all__ = ["DomainMismatchError", "check_domain", "model_domain", "model_fps",
           "Event", "EventSegmenter", "events_of_recording", "read_events", "segment_labels", "write_events",
           "UNCERTAIN", "LabelConfig", "SteadyLabel", "SteadyLabeler",
           "label_anchor", "mirror_draw_px", "mirror_image", "mirrored_view",
           "PersonRecognizers", "PersonTracker", "ResampledFrame", "Resampler", "resample_sequence",
           "LiveConfig", "LiveStep", "PersonView", "Session"]
