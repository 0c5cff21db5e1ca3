"""The body's own confirmation of an alarm class (a fall): the trunk was upright a moment ago and is not now.

A model that learnt falls from a few clips also calls other things falls (a person walking away down a corridor
shrinks in the picture the way a falling one does). :class:`FallCheck` (one per person) follows the trunk, the line
from the neck (NTU: spine-shoulder) to the hip centre, in the picture plane: its tilt from vertical and the hip
centre's height and the trunk's length. A fall is confirmed when, within the last ``window`` seconds, the trunk was
upright (tilt under ``upright_deg``) and since then it has tilted past ``fallen_deg`` or shrunk (a fall towards or away
from the camera) with the hips no higher. The session shows an alarm class, and reports its event, only while the check
holds (:class:`cognn.live.session.Session`).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..domains import IMAGE2D
from ..layouts import Layout, get_layout

__all__ = ["FallConfig", "FallCheck"]


@dataclass(frozen=True)
class FallConfig:
    """Thresholds of :class:`FallCheck`."""

    window: float = 4.0  # seconds
    upright_deg: float = 35.0
    fallen_deg: float = 50.0
    shrink: float = 0.5  # of the upright trunk's length


class FallCheck:
    """Per-person trunk history (see the module docstring)."""

    def __init__(self, layout: str | Layout, domain: str, config: FallConfig = FallConfig()) -> None:
        lay = get_layout(layout)
        names = lay.joint_names
        self.neck = names.index("neck") if "neck" in names else names.index("spine_shoulder")
        self.hips = (names.index("left_hip"), names.index("right_hip"))
        self.image = domain == IMAGE2D
        self.config = config
        #: (time, tilt in degrees, hip height in torso lengths of the upright moment's scale)
        self._trunk: deque[tuple[float, float, float, float]] = deque()

    def reset(self) -> None:
        self._trunk.clear()

    def update(self, skeleton: np.ndarray | None, t: float) -> None:
        """One model frame: the person's ``(C, V)`` (None or joints unseen: nothing is learnt)."""
        win = self.config.window
        while self._trunk and self._trunk[0][0] < t - win:
            self._trunk.popleft()
        if skeleton is None:
            return
        s = np.asarray(skeleton, np.float64)
        pts = [s[:2, self.neck], s[:2, self.hips[0]], s[:2, self.hips[1]]]
        if self.image:
            if s.shape[0] > 2 and not all(s[2, j] > 0 for j in (self.neck, *self.hips)):
                return
            up = np.array([0.0, -1.0])  # y points down in the picture
        else:
            if not all(np.any(s[:, j] != 0) for j in (self.neck, *self.hips)):
                return
            up = np.array([0.0, 1.0])
        hip = 0.5 * (pts[1] + pts[2])
        trunk = pts[0] - hip
        length = float(np.linalg.norm(trunk))
        if not np.isfinite(length) or length <= 1e-6:
            return
        tilt = float(np.degrees(np.arccos(np.clip(trunk @ up / length, -1.0, 1.0))))
        self._trunk.append((float(t), tilt, float(hip @ up), length))

    def fell(self) -> bool:
        """True when, within the window, an upright trunk was followed by a fallen one: tilted past ``fallen_deg``, or
        foreshortened to under ``shrink`` of its upright length with the hips no higher (a body falling towards or
        away from the camera). A person walking towards the camera, whose hips go down the picture as the trunk
        grows, does not qualify; one walking away shrinks with the hips going up."""
        cfg = self.config
        upright: tuple[float, float] | None = None  # the longest upright trunk so far: (hip height, trunk length)
        for _, tilt, height, length in self._trunk:
            if upright is not None and (tilt > cfg.fallen_deg
                                        or (length < cfg.shrink * upright[1] and height <= upright[0])):
                return True
            if tilt < cfg.upright_deg and (upright is None or length > upright[1]):
                upright = (height, length)
        return False
