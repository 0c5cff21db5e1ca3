"""Generated motion for taught actions that :mod:`cognn.synth` can draw: a few takes of one person teach a class
little about other bodies and other cameras; generated clips of the same movement (varied bodies, speeds and
cameras) fill that in, as they do for the bundled ``fitness`` model.

An action matches a generated class by name (:func:`cognn.teach.head.class_key`: ``Squats/`` is ``squat``). Only for
a base in the Kinetics-18 layout (the generator renders the 2-D image convention). The clips are drawn from a fixed
seed per class, so their content — and with it the feature cache's key — is the same in every run: they cost their
features once.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .head import class_key
from .learn import LabelledClip

__all__ = ["GENERATED_PER_CLASS", "GENERATED_WEIGHT", "generated_name", "generated_clips"]

#: generated clips per matching action
GENERATED_PER_CLASS = 12
#: their windows' weight against a real take's (1.0)
GENERATED_WEIGHT = 0.5
#: frames of one generated clip (10 s at the clips' 30 fps)
_FPS = 30.0
_FRAMES = 300
#: seconds of an event class (a fall) labelled after its onset; the frames before it are ``none``, after it unused
_EVENT_S = 2.5
_PREFIX = "generated/"


def generated_name(action: str) -> str | None:
    """The :mod:`cognn.synth` class an action's name matches (``"Bicep curls"`` -> ``"bicep_curl"``), or None."""
    from ..synth.exercises import GENERATED

    keys = {class_key(g): g for g in GENERATED if g != "none"}
    return keys.get(class_key(action))


def generated_clips(actions: Sequence[str], classes: Sequence[str], layout: str, *,
                    per_class: int = GENERATED_PER_CLASS, weight: float = GENERATED_WEIGHT, seed: int = 0
                    ) -> list[LabelledClip]:
    """``per_class`` generated clips ``(T, 3, 18, 2)`` of every action in ``actions`` whose name matches a generated
    class, labelled with the action's index in ``classes`` (an event's 2.5 s after its onset; ``none`` before it);
    none for other layouts, for ``none`` and for names the generator does not know."""
    from ..synth.exercises import EVENTS, GENERATED, generate_2d_labelled

    if layout != "kinetics18" or per_class <= 0:
        return []
    none = list(classes).index("none") if "none" in classes else -1
    out = []
    for action in actions:
        motion = generated_name(action) if action != "none" else None
        if motion is None:
            continue
        label = list(classes).index(action)
        rng = np.random.default_rng([seed, GENERATED.index(motion)])
        for k in range(per_class):
            skel, onset = generate_2d_labelled(motion, rng, _FRAMES, _FPS)
            labels = np.full(_FRAMES, label, np.int64)
            if motion in EVENTS and onset is not None:
                labels[:] = -1
                labels[:onset] = none
                labels[onset:onset + int(_EVENT_S * _FPS)] = label
            out.append(LabelledClip(f"{_PREFIX}{motion}/{k}", skel, labels, "generated", weight=weight))
    return out
