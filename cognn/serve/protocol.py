"""The messages of ``cognn-serve``: a client's hello and frames, checked and turned into skeletons.

A stream (a WebSocket connection, or one HTTP request) starts with a hello::

    {"type": "hello", "model": "gestures", "input": "skeleton"}
    {"type": "hello", "model": "kinetics", "input": "image", "width": 640, "height": 480}
    {"type": "hello", "model": "gestures", "input": "mediapipe", "width": 640, "height": 480}

``model``: a bundled model's name or alias (``weights/manifest.json``) or the file name of a checkpoint the server was
started with (never a path); default: the server's first model. ``layout`` (optional): the layout the frames hold,
refused when it is not the model's (``mediapipe`` landmarks are mapped to the model's layout by the server).
``input`` says what the frames hold:

* ``skeleton`` — the model's own layout and convention (what ``cognn-infer`` feeds it from a file of the dataset):
  ``people`` is a list of persons, each ``V`` joints of ``C`` numbers;
* ``image`` — the layout's joints in pixels of a ``width`` x ``height`` picture, ``[x, y, score]`` each (OpenPose
  style), for a model in the image domain; normalised as the camera path normalises them;
* ``mediapipe`` — MediaPipe's 33 pose landmarks per person, as the pose landmarker gives them in a browser or on a
  phone: ``{"landmarks": 33 x [x, y, z, visibility] (normalised image coordinates), "world": 33 x [x, y, z]
  (metres)}``; mapped to the model's layout and domain by the camera path's own tracker (person slots, landmark
  smoothing, the mapping of :mod:`cognn.pose.mapping`).

Then frames: ``{"type": "frame", "t": seconds, "people": [...]}`` (``seq``: an optional number echoed in the
answer), and ``{"type": "end"}`` for the events of the stream. Anything else closes the stream with a reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domains import IMAGE2D
from ..pose.landmarker import PersonPose
from ..pose.mapping import MP_NUM_LANDMARKS, normalize_kinetics

__all__ = ["ProtocolError", "Hello", "INPUTS", "parse_hello", "FrameMessage", "parse_frame", "ClientPeople"]

INPUTS = ("skeleton", "image", "mediapipe")
#: the largest picture size a client may declare (pixels per side)
MAX_SIDE = 16384


class ProtocolError(ValueError):
    """A message that breaks the protocol: the stream is closed with this reason."""


@dataclass(frozen=True)
class Hello:
    """A stream's declaration: which model, what its frames hold."""

    model: str | None
    input: str
    width: int = 0
    height: int = 0
    name: str = ""
    #: the layout the client means to send (checked against the model's; None: the model's own)
    layout: str | None = None


def _obj(msg: Any, kind: str) -> dict[str, Any]:
    if not isinstance(msg, dict):
        raise ProtocolError(f"a {kind} message is a JSON object")
    if msg.get("type") != kind:
        raise ProtocolError(f"expected a {kind!r} message, got type {msg.get('type')!r}")
    return msg


def _side(msg: dict[str, Any], key: str) -> int:
    v = msg.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SIDE:
        raise ProtocolError(f"{key} must be a whole number of pixels from 1 to {MAX_SIDE}, got {v!r}")
    return v


def parse_hello(msg: Any) -> Hello:
    """A checked hello (ProtocolError naming what is wrong)."""
    m = _obj(msg, "hello")
    model = m.get("model")
    if model is not None and (not isinstance(model, str) or not model or len(model) > 200):
        raise ProtocolError("model must be a model's name (a string)")
    kind = m.get("input", "skeleton")
    if kind not in INPUTS:
        raise ProtocolError(f"input must be one of {', '.join(INPUTS)}, got {kind!r}")
    width = height = 0
    if kind != "skeleton":
        width, height = _side(m, "width"), _side(m, "height")
    name = m.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise ProtocolError("name must be a short string")
    layout = m.get("layout")
    if layout is not None and (not isinstance(layout, str) or len(layout) > 40):
        raise ProtocolError("layout must be a layout's name")
    return Hello(model, kind, width, height, name, layout)


@dataclass
class FrameMessage:
    """One checked frame: its time, people (as sent) and the client's sequence number."""

    t: float
    people: list[Any]
    seq: int | None


def parse_frame(msg: Any, last_t: float | None) -> FrameMessage:
    """A checked frame message (finite, non-decreasing time; a list of people)."""
    m = _obj(msg, "frame")
    t = m.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise ProtocolError(f"t must be a finite number of seconds >= 0, got {t!r}")
    if last_t is not None and t < last_t:
        raise ProtocolError(f"frame times must not go back ({t} after {last_t})")
    people = m.get("people", [])
    if not isinstance(people, list):
        raise ProtocolError("people must be a list")
    seq = m.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise ProtocolError("seq must be a whole number")
    return FrameMessage(float(t), people, seq)


def _array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a finite float32 array of ``shape`` (a trailing dimension may be longer: cut)."""
    try:
        a = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ProtocolError(f"{what} must be numbers of shape {shape}") from None
    if a.ndim != len(shape) or a.shape[:-1] != shape[:-1] or a.shape[-1] < shape[-1]:
        raise ProtocolError(f"{what} must have shape {shape}, got {a.shape}")
    a = a[..., :shape[-1]]
    if not np.isfinite(a).all():
        raise ProtocolError(f"{what} holds a number that is not finite")
    return a


def skeleton_of(people: list[Any], channels: int, joints: int, persons: int) -> tuple[np.ndarray, int]:
    """``people`` in the model's own convention -> ``(C, V, M)`` (the first M people) and how many are present."""
    out = np.zeros((channels, joints, persons), np.float32)
    for m, p in enumerate(people[:persons]):
        out[:, :, m] = _array(p, (joints, channels), f"person {m}").T
    return out, _present(out, people, persons)


def image_skeleton(people: list[Any], joints: int, persons: int, width: int, height: int) -> tuple[np.ndarray, int]:
    """Pixel joints ``[x, y, score]`` of the layout -> the image domain ``(3, V, M)`` (the camera path's
    normalisation: ``x / width - 0.5``, ``y / height - 0.5``, zeros where the score is 0)."""
    out = np.zeros((3, joints, persons), np.float32)
    for m, p in enumerate(people[:persons]):
        px = _array(p, (joints, 3), f"person {m}")
        out[:, :, m] = normalize_kinetics(px, width, height).T
    return out, _present(out, people, persons)


def _present(skeleton: np.ndarray, people: list[Any], persons: int) -> int:
    """People seen: the slots holding anyone, plus those sent beyond the slots."""
    return int(np.count_nonzero(np.any(skeleton != 0, axis=(0, 1)))) + max(0, len(people) - persons)


def mediapipe_people(people: list[Any], width: int, height: int) -> list[PersonPose]:
    """MediaPipe landmarks as a browser sends them -> :class:`~cognn.pose.PersonPose` (what the camera path's pose
    estimator gives)."""
    out = []
    size = np.array([width, height], np.float32)
    for m, p in enumerate(people):
        if not isinstance(p, dict):
            raise ProtocolError(f"person {m} must be an object with landmarks and world")
        norm = _array(p.get("landmarks"), (MP_NUM_LANDMARKS, 4), f"person {m} landmarks")
        world = _array(p.get("world"), (MP_NUM_LANDMARKS, 3), f"person {m} world")
        vis = np.clip(norm[:, 3], 0.0, 1.0)
        out.append(PersonPose(image_px=norm[:, :2] * size, image_norm=np.ascontiguousarray(norm[:, :3]),
                              world=np.ascontiguousarray(world), visibility=np.ascontiguousarray(vis)))
    return out


class ClientPeople:
    """A pose "estimator" for :class:`cognn.pose.PoseTracker` that returns the people a client sent: the server maps
    landmarks exactly as the camera path does (slots, smoothing, mapping), without running pose itself."""

    model_path = None

    def __init__(self, num_poses: int = 2) -> None:
        self.num_poses = num_poses
        self.people: list[PersonPose] = []

    def process(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> list[PersonPose]:
        return self.people

    def new_stream(self) -> None:
        self.people = []

    def close(self) -> None:
        pass


def domain_allows(kind: str, domain: str) -> str:
    """Why ``kind`` frames cannot feed a model of ``domain`` ("" when they can)."""
    if kind == "image" and domain != IMAGE2D:
        return (f"image coordinates feed only a model of the image domain; this model's domain is {domain} (send "
                "input 'mediapipe' or 'skeleton')")
    return ""
