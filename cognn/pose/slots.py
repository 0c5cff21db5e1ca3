"""Keep each person in the same body slot ``m`` across frames (the ``M`` axis of ``(C, T, V, M)`` skeletons).

Detections are matched to the people already in slots by the distance between their torso centres in normalised
image coordinates (optimal assignment; brute force over the few slots).  A detection farther than ``max_distance``
from every slotted person starts a new track in the lowest free slot; a person unseen for more than ``max_missed``
frames frees the slot.  An empty slot is all zeros in the arranged output, never a copy of someone else.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

__all__ = ["SlotAssignment", "PersonSlots", "arrange"]


@dataclass(frozen=True)
class SlotAssignment:
    """Result for one frame: per slot, the index of the detection placed there (or None) and its track id."""

    detections: tuple[int | None, ...]
    track_ids: tuple[int | None, ...]

    @property
    def num_present(self) -> int:
        return sum(d is not None for d in self.detections)


class PersonSlots:
    """Assign per-frame detections to ``num_slots`` person slots consistently over time.

    ``promote``: when slot 0 has been freed while another slot holds a person, that person moves to slot 0 (the
    reference NTU preprocessing centres every body on body 0, so body 0 should not stay empty).
    """

    def __init__(self, num_slots: int = 2, *, max_distance: float = 0.25, max_missed: int = 5,
                 promote: bool = True) -> None:
        if num_slots < 1:
            raise ValueError(f"num_slots must be >= 1, got {num_slots}")
        self.num_slots = int(num_slots)
        self.max_distance = float(max_distance)
        self.max_missed = int(max_missed)
        self.promote = promote
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (call when the source changes)."""
        self._pos: list[tuple[float, float] | None] = [None] * self.num_slots
        self._track: list[int | None] = [None] * self.num_slots
        self._missed = [0] * self.num_slots
        self._next_id = 0

    @property
    def track_ids(self) -> tuple[int | None, ...]:
        """Track id held by each slot now (None = free)."""
        return tuple(self._track)

    def _match(self, pts: list[tuple[float, float]]) -> dict[int, int]:
        """Slot -> detection matching among occupied slots: as many pairs within ``max_distance`` as possible, then
        the smallest total distance (exhaustive for a few people, greedy beyond)."""
        occupied = [s for s in range(self.num_slots) if self._pos[s] is not None]
        n = len(pts)
        if not occupied or n == 0:
            return {}
        lim = self.max_distance
        held = [cast("tuple[float, float]", self._pos[s]) for s in occupied]  # occupied: not None
        dist = [[math.hypot(p[0] - x, p[1] - y) for x, y in pts] for p in held]
        best: dict[int, int] = {}
        if len(occupied) <= 3 and n <= 4:
            best_key = (0, 0.0)
            options = list(range(n)) + [None] * len(occupied)
            for cols in dict.fromkeys(itertools.permutations(options, len(occupied))):
                pairs = [(r, col) for r, col in enumerate(cols) if col is not None and dist[r][col] <= lim]
                key = (len(pairs), -sum(dist[r][col] for r, col in pairs))
                if key > best_key:
                    best_key, best = key, {occupied[r]: col for r, col in pairs}
            return best
        used_c: set[int] = set()
        cand = sorted((dist[r][c], r, c) for r in range(len(occupied)) for c in range(n) if dist[r][c] <= lim)
        for _, r, c in cand:
            if occupied[r] not in best and c not in used_c:
                best[occupied[r]] = c
                used_c.add(c)
        return best

    def update(self, centres: np.ndarray | Sequence[Sequence[float]],
               scores: Sequence[float] | None = None) -> SlotAssignment:
        """Place this frame's detections (torso centres ``(N, 2)`` in normalised image coordinates) into slots.

        With more detections than free slots, unmatched ones with the highest ``scores`` (default: input order) win.
        """
        pts = [(float(x), float(y)) for x, y in np.asarray(centres, dtype=np.float64).reshape(-1, 2).tolist()]
        matched = self._match(pts)
        assigned: list[int | None] = [None] * self.num_slots
        for slot, det in matched.items():
            assigned[slot] = det
        if len(matched) < len(pts):
            taken = set(matched.values())
            order = range(len(pts)) if scores is None else sorted(range(len(pts)), key=lambda i: -float(scores[i]))
            free = [s for s in range(self.num_slots) if self._pos[s] is None]
            for det in order:
                if not free:
                    break
                if det not in taken:
                    slot = free.pop(0)
                    assigned[slot] = det
                    self._track[slot] = self._next_id
                    self._next_id += 1
        for s in range(self.num_slots):
            chosen = assigned[s]
            if chosen is not None:
                self._pos[s] = pts[chosen]
                self._missed[s] = 0
            elif self._pos[s] is not None:
                self._missed[s] += 1
                if self._missed[s] > self.max_missed:
                    self._pos[s], self._track[s], self._missed[s] = None, None, 0
        if self.promote and self._pos[0] is None:
            src = next((s for s in range(1, self.num_slots) if self._pos[s] is not None), None)
            if src is not None:
                per_slot: tuple[list[Any], ...] = (self._pos, self._track, self._missed, assigned)
                for lst in per_slot:
                    lst[0], lst[src] = lst[src], lst[0]
        tracks = tuple(self._track[s] if assigned[s] is not None else None for s in range(self.num_slots))
        return SlotAssignment(detections=tuple(assigned), track_ids=tracks)


def arrange(assignment: SlotAssignment, items: Sequence[np.ndarray], shape: tuple[int, ...] | None = None,
            dtype: type = np.float32) -> np.ndarray:
    """Stack per-detection arrays into ``(num_slots, *shape)`` by slot; empty slots are zeros.

    ``shape`` defaults to the shape of the first item (required when there are no items).
    """
    if shape is None:
        if not items:
            raise ValueError("shape is required when there are no detections")
        shape = np.shape(items[0])
    out: np.ndarray = np.zeros((len(assignment.detections),) + tuple(shape), dtype=dtype)
    for slot, det in enumerate(assignment.detections):
        if det is not None:
            out[slot] = items[det]
    return out
