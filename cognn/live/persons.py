"""One label per person: stable person ids and a separate continual state for each person (or pair).

:class:`PersonTracker` gives the people in the body slots of a skeleton stream ``(C, V, M)`` stable ids by the
continuity of their position (so a person who moves to another slot keeps the id); a person unseen for more than
``max_missed`` frames is dropped and someone appearing later gets a new id.

:class:`PersonRecognizers` runs the continual model once per person: each id has its own
:class:`cognn.online.Stream` of the one recognizer (model step state, normaliser reference and latest probabilities,
swapped into the model when the person steps), fed that person alone in slot 0 with the second slot zero, as in NTU
single-person samples. A newcomer starts from an
empty state and warms up visibly (``Prediction.ready`` is False until its receptive field is full); a person who
leaves drops their state. ``mode="pair"`` packs the two oldest people into the two slots of one state (for
interaction classes); the pair restarts when its members change. :meth:`PersonRecognizers.reset` clears everything
(new source, seek). Between detections (up to ``max_missed`` frames) a person's last skeleton is held.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..domains import IMAGE2D
from ..online import OnlineRecognizer, Prediction, Stream

__all__ = ["Track", "PersonTracker", "PersonPrediction", "PersonRecognizers", "PERSON_MODES", "present_slots"]

PERSON_MODES = ("single", "pair")


def present_slots(skeleton: np.ndarray) -> list[int]:
    """Slots of a frame ``(C, V, M)`` that hold a person (any non-zero value)."""
    s = np.asarray(skeleton)
    return [m for m in range(s.shape[-1]) if np.any(s[..., m] != 0)]


def _centre(person: np.ndarray, domain: str) -> np.ndarray:
    """Where one person ``(C, V)`` is: the mean x, y of their joints that are present; for camera-space skeletons in
    front of the camera the viewing direction ``(x / z, y / z)`` (the position in the image, insensitive to the noisy
    depth of a monocular fit)."""
    ok = np.any(person != 0, axis=0)
    if not ok.any():
        return np.zeros(2, np.float32)
    xyz = person[:, ok]
    if domain != IMAGE2D and xyz.shape[0] >= 3:
        z = float(np.median(xyz[2]))
        if z > 0.5:
            return (xyz[:2] / np.maximum(xyz[2], 0.1)).mean(axis=1)
    return xyz[:2].mean(axis=1)


@dataclass
class Track:
    """One tracked person."""

    id: int
    #: slot in the latest frame where the person was seen
    slot: int
    #: latest skeleton (C, V)
    skeleton: np.ndarray
    centre: np.ndarray
    #: frames since the person was last seen (0 = seen in the latest frame)
    missed: int = 0
    #: frames the person has been tracked
    age: int = 0


class PersonTracker:
    """Stable ids for the people in the slots of a skeleton stream.

    ``max_distance``: the largest jump of a person's position between two frames that still counts as the same person
    (image2d: a fraction of the frame; camera3d: the viewing direction x/z, y/z — about a quarter of a 65-degree
    field of view by default — or metres for skeletons centred at the origin).
    """

    def __init__(self, domain: str = "camera3d", *, max_distance: float = 0.25, max_missed: int = 15) -> None:
        self.domain = domain
        self.max_distance = float(max_distance)
        self.max_missed = int(max_missed)
        self.reset()

    def reset(self) -> None:
        self.tracks: dict[int, Track] = {}
        self._next_id = 0
        #: ids that appeared / were dropped in the latest update
        self.new: list[int] = []
        self.left: list[int] = []

    def _match(self, centres: dict[int, np.ndarray]) -> dict[int, int]:
        """track id -> slot: the most pairs within ``max_distance``, then the smallest total distance."""
        ids, slots = list(self.tracks), list(centres)
        if not ids or not slots:
            return {}
        dist = {(i, s): float(np.hypot(*(self.tracks[i].centre - centres[s]))) for i in ids for s in slots}
        best, best_key = {}, (0, 0.0)
        options = slots + [None] * len(ids)
        for cols in dict.fromkeys(itertools.permutations(options, len(ids))):
            pairs = [(i, s) for i, s in zip(ids, cols) if s is not None and dist[(i, s)] <= self.max_distance]
            key = (len(pairs), -sum(dist[p] for p in pairs))
            if key > best_key:
                best_key, best = key, dict(pairs)
        return best

    def update(self, skeleton: np.ndarray) -> dict[int, int]:
        """Track the people of one frame ``(C, V, M)``; returns ``{id: slot}`` of the people seen in it."""
        s = np.asarray(skeleton, np.float32)
        centres = {m: _centre(s[..., m], self.domain) for m in present_slots(s)}
        matched = self._match(centres)
        self.new, self.left = [], []
        for tid, track in list(self.tracks.items()):
            if tid in matched:
                m = matched[tid]
                track.slot, track.skeleton, track.centre, track.missed = m, s[..., m].copy(), centres[m], 0
            else:
                track.missed += 1
                if track.missed > self.max_missed:
                    del self.tracks[tid]
                    self.left.append(tid)
                    continue
            track.age += 1
        taken = set(matched.values())
        for m in sorted(centres):
            if m not in taken:
                tid = self._next_id
                self._next_id += 1
                self.tracks[tid] = Track(tid, m, s[..., m].copy(), centres[m], 0, 1)
                matched[tid] = m
                self.new.append(tid)
        return dict(sorted(matched.items()))


@dataclass
class PersonPrediction:
    """The prediction for one person (or pair) at one frame."""

    #: track id (pair mode: the pair's id)
    person: int
    #: source slots of the people it is about, in model-slot order (a held person keeps their last slot)
    slots: tuple[int, ...]
    #: the recognizer's prediction (``ready``/``warmup`` show the person's own warm-up)
    prediction: Prediction
    #: True on the person's first frame (a fresh state)
    new: bool
    #: False while the person is missing and their last skeleton is held
    present: bool


class PersonRecognizers:
    """A continual state per person (``mode="single"``) or per pair (``mode="pair"``); see the module docstring."""

    def __init__(self, recognizer: OnlineRecognizer, *, mode: str = "single", max_missed: int = 15,
                 max_distance: float = 0.25, domain: str | None = None) -> None:
        if mode not in PERSON_MODES:
            raise ValueError(f"unknown person mode {mode!r}; use one of {', '.join(PERSON_MODES)}")
        self.mode = mode
        self.num_slots = int(recognizer.model.num_persons)
        if mode == "pair" and self.num_slots < 2:
            raise ValueError("pair mode needs a model with two person slots")
        recognizer.reset()
        self.recognizer = recognizer
        own_domain: str = getattr(recognizer, "domain", "camera3d")
        self.tracker = PersonTracker(domain or own_domain, max_distance=max_distance, max_missed=max_missed)
        self._recs: dict[int, Stream] = {}
        self._pair_members: tuple[int, ...] = ()
        self._pair_id: int | None = None
        self._next_pair = 0
        self.left: list[int] = []

    @property
    def ids(self) -> list[int]:
        """Ids with a state now."""
        return list(self._recs)

    def reset(self) -> None:
        """Forget every person and state (new source, seek)."""
        self.tracker.reset()
        for stream in self._recs.values():
            self.recognizer.release(stream)
        self._recs.clear()
        self._pair_members, self._pair_id = (), None
        self.left = []

    def _drop(self, key: int) -> bool:
        stream = self._recs.pop(key, None)
        if stream is None:
            return False
        self.recognizer.release(stream)
        return True

    def step(self, skeleton: np.ndarray, timestamp: float, index: int | None = None) -> list[PersonPrediction]:
        """Feed one frame ``(C, V, M)``; one :class:`PersonPrediction` per tracked person (or pair)."""
        self.tracker.update(skeleton)
        self.left = []
        for tid in self.tracker.left:
            if self._drop(tid) and self.mode == "single":
                self.left.append(tid)
        shape = np.shape(skeleton)
        return (self._step_single(shape, timestamp, index) if self.mode == "single"
                else self._step_pair(shape, timestamp, index))

    def _step_single(self, shape: tuple[int, ...], timestamp: float, index: int | None) -> list[PersonPrediction]:
        out = []
        for tid, track in sorted(self.tracker.tracks.items()):
            new = tid not in self._recs
            if new:
                self._recs[tid] = self.recognizer.new_stream()
            x = np.zeros(shape, np.float32)
            x[..., 0] = track.skeleton
            pred = self.recognizer.step(x, timestamp, index=index, stream=self._recs[tid])
            pred.persons = int(track.missed == 0)
            out.append(PersonPrediction(tid, (track.slot,), pred, new, track.missed == 0))
        return out

    def _step_pair(self, shape: tuple[int, ...], timestamp: float, index: int | None) -> list[PersonPrediction]:
        tracks = sorted(self.tracker.tracks.values(), key=lambda t: t.id)[: self.num_slots]
        members = tuple(t.id for t in tracks)
        if members != self._pair_members:
            if self._pair_id is not None:
                self._drop(self._pair_id)
                self.left.append(self._pair_id)
            self._pair_members, self._pair_id = members, None
            if members:
                self._pair_id = self._next_pair
                self._next_pair += 1
        if self._pair_id is None:
            return []
        new = self._pair_id not in self._recs
        if new:
            self._recs[self._pair_id] = self.recognizer.new_stream()
        x = np.zeros(shape, np.float32)
        for m, t in enumerate(tracks):
            x[..., m] = t.skeleton
        present = sum(t.missed == 0 for t in tracks)
        pred = self.recognizer.step(x, timestamp, index=index, stream=self._recs[self._pair_id])
        pred.persons = present
        return [PersonPrediction(self._pair_id, tuple(t.slot for t in tracks), pred, new, present > 0)]
