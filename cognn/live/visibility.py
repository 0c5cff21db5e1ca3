"""Partial bodies: which parts of a person are reliably in view, whether the model can work with that, and what to
tell the user ("step back: legs not visible").

A person seen from the waist up (a laptop camera, someone seated) still gets a whole skeleton from MediaPipe: the
joints outside the picture are guessed. Whether that is garbage depends on the model: the bundled gesture model was
trained with legs out of the picture (``cognn.synth.noise.hide_legs``: a quarter of its clips), a model trained on
NTU RGB+D saw whole Kinect bodies. So every checkpoint declares what it needs (:class:`BodyRequirement`, from
``meta["live"]["body"]``)::

    meta["live"]["body"] = {"needs": ["head", "shoulders", "arms"],          # to run at all
                    "classes": {"squat": ["legs"], "march": ["legs"]}}  # to show these classes

Without a declaration a model needs every part of its layout (the safe assumption for full-body training data).

Per input frame, :func:`joints_seen` says which joints of a person are seen: inside the picture (their drawing
position, ``SkeletonFrame.draw_px``, within the image with a ``margin``) and, where there is a score (MediaPipe's
per-joint visibility, or the score channel of ``image2d`` skeletons), scored at least ``min_score``. ``camera3d``
frames carry no score today: the picture test then works alone, which catches a body cut off by the picture's edge
but not legs MediaPipe folds into the picture (frames with a ``visibility`` ``(M, V)`` attribute are used as they
come). :class:`VisibilityMonitor` (one per person) keeps the last ``window``
seconds: a joint is *reliably visible* when seen on at least ``min_share`` of those frames, a part when at least
``part_share`` of its joints are. Its :class:`BodyView` says which parts are visible, whether the model can run
(``can_run``), which classes it may show (:meth:`BodyView.allows`) and the message for the user.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..domains import IMAGE2D, LAYOUT_DOMAIN
from ..layouts import Layout, get_layout

__all__ = ["PARTS", "BodyRequirement", "VisibilityConfig", "BodyView", "VisibilityMonitor", "joints_seen",
           "part_joints", "requirement_from_meta", "FULL_BODY"]

#: body parts by joint name (names of both layouts; a layout uses those it has)
PARTS: dict[str, tuple[str, ...]] = {
    "head": ("head", "neck", "nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "shoulders": ("left_shoulder", "right_shoulder", "spine_shoulder"),
    "arms": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "hands": ("left_hand", "right_hand", "left_hand_tip", "right_hand_tip", "left_thumb", "right_thumb"),
    "hips": ("left_hip", "right_hip", "spine_base"),
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "feet": ("left_foot", "right_foot"),
}
#: what the user is told when a needed part is out of view: the first missing part in this order decides (a lower
#: part missing means "step back", whatever else is)
_ADVICE = {
    "legs": "step back: legs not visible", "hips": "step back: hips not visible",
    "feet": "step back: feet not visible", "head": "move into the picture: head not visible",
    "shoulders": "move into the picture: shoulders not visible",
    "arms": "arms not visible: step back or move into the picture",
    "hands": "hands not visible: step back or move into the picture",
}
_ORDER = tuple(_ADVICE)


def part_joints(layout: str | Layout) -> dict[str, np.ndarray]:
    """``{part: joint indices}`` for a layout (parts the layout has no joint of are left out)."""
    lay = get_layout(layout)
    out = {}
    for part, names in PARTS.items():
        idx = [lay.joint_names.index(n) for n in names if n in lay.joint_names]
        if idx:
            out[part] = np.array(idx)
    return out


@dataclass(frozen=True)
class BodyRequirement:
    """The parts a model needs to run (``needs``) and those some classes need besides (``classes``)."""

    needs: tuple[str, ...]
    classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        named = set(self.needs).union(*map(set, self.classes.values())) if self.classes else set(self.needs)
        unknown = sorted(named - set(PARTS))
        if unknown:
            raise ValueError(f"unknown body part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")

    def for_label(self, label: str | None) -> tuple[str, ...]:
        """The parts needed to show ``label`` (the model's needs and the class's own)."""
        extra = tuple(p for p in self.classes.get(label or "", ()) if p not in self.needs)
        return self.needs + extra

    def to_dict(self) -> dict[str, Any]:
        """As ``meta["live"]["body"]`` holds it."""
        return {"needs": list(self.needs), "classes": {k: list(v) for k, v in self.classes.items()}}


#: every part: the requirement of a checkpoint that declares none
FULL_BODY = BodyRequirement(tuple(PARTS))


def requirement_from_meta(meta: Mapping[str, Any] | None, layout: str | Layout = "ntu25") -> BodyRequirement:
    """The checkpoint's declared requirement (``meta["live"]["body"]`` or ``meta["body"]``, see the module
    docstring), else every part of its layout. ValueError naming the bad entry."""
    from .alarms import live_section

    parts = tuple(part_joints(layout))
    body = live_section(meta, "body")
    if body is None:
        return BodyRequirement(parts)
    if not isinstance(body, Mapping) or not isinstance(body.get("needs", []), (list, tuple)) \
            or not isinstance(body.get("classes", {}), Mapping):
        raise ValueError("the checkpoint's 'body' must be {\"needs\": [parts], \"classes\": {class: [parts]}}")
    needs = tuple(str(p) for p in body.get("needs", ()))
    classes = {str(k): tuple(str(p) for p in v) for k, v in body.get("classes", {}).items()}
    req = BodyRequirement(needs, classes)
    # parts the layout has no joint of cannot be checked: drop them rather than never run
    keep = set(parts)
    return BodyRequirement(tuple(p for p in req.needs if p in keep),
                           {k: tuple(p for p in v if p in keep) for k, v in req.classes.items()})


def joints_seen(draw_px: np.ndarray | None, size: tuple[int, int], *, skeleton: np.ndarray | None = None,
                domain: str | None = None, visibility: np.ndarray | None = None, margin: float = 0.0,
                min_score: float = 0.5) -> np.ndarray:
    """Which joints of one person are seen in one picture: ``(V,)`` bool.

    ``draw_px`` ``(V, 2)``: the person's drawing coordinates in the picture (``SkeletonFrame.draw_px[slot]``; NaN
    where unknown); ``size``: the picture's ``(width, height)``; a joint is seen inside the picture shrunk by
    ``margin`` (a fraction of each side). A score adds its test, at least ``min_score``: ``visibility`` ``(V,)``
    (MediaPipe's per-joint visibility, :func:`cognn.pose.mapping.ntu25_visibility`), else the score channel of an
    ``image2d`` ``skeleton`` ``(C, V)``. Without drawing coordinates: the score, else the skeleton's non-zero joints.

    The picture test alone misses legs that MediaPipe folds *into* the picture when they are out of it (seen on a
    real clip filmed from the waist up); the visibility score catches those."""
    score = None
    if visibility is not None:
        score = np.asarray(visibility, np.float32).reshape(-1)
    elif skeleton is not None and domain == IMAGE2D and np.asarray(skeleton).shape[0] > 2:
        score = np.asarray(skeleton, np.float32)[2]
    if draw_px is None:
        if score is not None:
            return score >= min_score
        if skeleton is None:
            raise ValueError("joints_seen needs draw_px, a visibility or a skeleton")
        return np.any(np.asarray(skeleton) != 0, axis=0)
    px = np.asarray(draw_px, np.float64)
    w, h = float(size[0]), float(size[1])
    mx, my = margin * w, margin * h
    with np.errstate(invalid="ignore"):
        seen = (px[:, 0] >= mx) & (px[:, 0] < w - mx) & (px[:, 1] >= my) & (px[:, 1] < h - my)
    if score is not None:
        seen &= score >= min_score
    return seen


@dataclass(frozen=True)
class VisibilityConfig:
    """Parameters of :class:`VisibilityMonitor`."""

    #: seconds of frames a joint's visibility is judged over
    window: float = 1.0
    #: a joint is reliably visible when seen on at least this share of the window's frames
    min_share: float = 0.6
    #: a part is visible when at least this share of its joints are
    part_share: float = 0.5
    #: image2d skeletons: the least score for a joint to be seen
    min_score: float = 0.5
    #: a joint must be inside the picture by this fraction of each side
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.window <= 0 or not 0 < self.min_share <= 1 or not 0 < self.part_share <= 1 or self.margin < 0:
            raise ValueError("window must be > 0, min_share and part_share in (0, 1], margin >= 0")


@dataclass
class BodyView:
    """What is in view of one person over the last window."""

    #: (V,) bool: joints reliably visible
    visible: np.ndarray
    #: part -> visible
    parts: dict[str, bool]
    #: parts the model needs (and the current label's class, if given) that are not visible
    missing: tuple[str, ...]
    #: the model's own needs are met: its labels mean something
    can_run: bool
    #: what to tell the user, or None when nothing is missing
    message: str | None
    #: False until the window holds a whole ``window`` of frames (nothing is claimed missing before)
    settled: bool = True
    requirement: BodyRequirement = field(default=FULL_BODY, repr=False)

    def allows(self, label: str | None) -> bool:
        """True when every part ``label``'s class needs (with the model's) is visible (always, until the window is
        whole)."""
        return not self.settled or all(self.parts.get(p, True) for p in self.requirement.for_label(label))


class VisibilityMonitor:
    """Reliably visible joints and parts of one person over the last ``window`` seconds (see the module
    docstring)."""

    def __init__(self, requirement: BodyRequirement = FULL_BODY, layout: str | Layout = "ntu25", *,
                 domain: str | None = None, config: VisibilityConfig = VisibilityConfig()) -> None:
        self.layout = get_layout(layout)
        self.domain = domain or LAYOUT_DOMAIN[self.layout.name]
        self.requirement = requirement
        self.config = config
        self.parts = part_joints(self.layout)
        self.reset()

    def reset(self) -> None:
        """Forget the frames seen (new stream, seek, the person left)."""
        self._frames: deque[tuple[float, np.ndarray]] = deque()

    def seen(self, draw_px: np.ndarray | None, size: tuple[int, int], skeleton: np.ndarray | None = None,
             visibility: np.ndarray | None = None) -> np.ndarray:
        """:func:`joints_seen` with this monitor's settings."""
        c = self.config
        return joints_seen(draw_px, size, skeleton=skeleton, domain=self.domain, visibility=visibility,
                           margin=c.margin, min_score=c.min_score)

    def update_frame(self, frame: Any, slot: int, timestamp: float | None = None,
                     size: tuple[int, int] | None = None, label: str | None = None) -> BodyView:
        """One :class:`~cognn.sources.SkeletonFrame`'s person in ``slot`` (the picture's size from its image, else
        ``size``); a frame's ``visibility`` ``(M, V)``, where frames carry one, is used too."""
        if size is None:
            if frame.image is None:
                raise ValueError("update_frame needs the picture's size when the frame has no image")
            size = (int(frame.image.shape[1]), int(frame.image.shape[0]))
        px = None if frame.draw_px is None else frame.draw_px[slot]
        skel = np.asarray(frame.skeleton)[..., slot]
        if not np.any(skel != 0):
            seen = np.zeros(self.layout.num_joints, bool)
        else:
            vis = getattr(frame, "visibility", None)
            vis = None if vis is None else np.asarray(vis)[slot]
            seen = self.seen(px, size, skel, vis)
            if px is not None and not seen.any():  # a person found, none of them in the picture: the drawing
                seen = self.seen(None, size, skel, vis)  # coordinates are of another space; judge the joints alone
        t = frame.timestamp if timestamp is None else timestamp
        return self.update(seen, t, label)

    def update(self, seen: np.ndarray | Iterable[bool], timestamp: float, label: str | None = None) -> BodyView:
        """Joints seen ``(V,)`` in one frame at ``timestamp``; ``label`` (the steady label now) adds its class's
        needs to ``missing`` and the message."""
        t = float(timestamp)
        s = np.asarray(seen, bool).reshape(-1)
        if s.shape[0] != self.layout.num_joints:
            raise ValueError(f"expected {self.layout.num_joints} joints, got {s.shape[0]}")
        cfg = self.config
        self._frames.append((t, s))
        while self._frames and t - self._frames[0][0] > cfg.window:
            self._frames.popleft()
        share = np.mean([f for _, f in self._frames], axis=0)
        visible = share >= cfg.min_share
        parts = {p: bool(visible[idx].mean() >= cfg.part_share) for p, idx in self.parts.items()}
        settled = t - self._frames[0][0] >= 0.9 * cfg.window
        req = self.requirement
        needed = [p for p in req.for_label(label) if p in parts]
        missing = tuple(p for p in needed if not parts[p]) if settled else ()
        can_run = not settled or all(parts.get(p, True) for p in req.needs)
        message = None
        if missing:
            if not visible.any():
                message = "nobody in view"
            else:
                first = min(missing, key=_ORDER.index)
                message = _ADVICE[first]
                if first not in req.needs and label:
                    message += f" (needed for {label})"
        return BodyView(visible, parts, missing, can_run, message, settled, req)
