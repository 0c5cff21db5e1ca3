"""The body's own confirmation of an alarm class (a fall): the trunk was upright a moment ago and is not now.

A model that learnt falls from a few clips also calls other things falls (a person walking away down a corridor
shrinks in the picture the way a falling one does). :class:`FallCheck` (one per person) follows the trunk, the line
from the neck (NTU: spine-shoulder) to the hip centre, in the picture plane: its tilt from vertical and the hip
centre's height and the trunk's length. A fall is confirmed when, within the last ``window`` seconds, the trunk was
upright (tilt under ``upright_deg``) and since then it has tilted past ``fallen_deg`` or shrunk (a fall towards or
away from the camera) with the hips no higher, and it was so within the last ``recent`` seconds (a person who leaned
over a table a moment ago and sits upright again has not fallen). The session shows an alarm class, and reports its
event, only while the check holds (:class:`cognn.live.session.Session`).

:meth:`FallCheck.collapsed` is the stricter test a policy can let raise the alarm by itself (``by_body``), for people
the model never saw fall: within ``fall_s`` seconds of standing (trunk within ``standing_deg`` of vertical), the body's
height in view (the extent of its seen joints) dropped under ``low`` of the standing height, the hips went down by
``drop`` of it, the trunk tilted or foreshortened, and the body has stayed that low for ``stay`` seconds since. A
squat, a sit or a bend comes back up or stays taller; a burpee drops the hips less and the model names it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..domains import IMAGE2D
from ..layouts import Layout, get_layout

__all__ = ["FallConfig", "FallCheck", "FLOOR_EXERCISES", "FALL_CONFIRM_S"]

#: exercises done on the floor, whose body looks fallen to :meth:`FallCheck.collapsed`: a policy that lets the body
#: raise a fall alone names them as exceptions (``by_body``)
FLOOR_EXERCISES: tuple[str, ...] = ("push_up", "plank", "burpee", "sit_up")
#: seconds a fall the model names must hold before it is shown (an alarm policy's ``confirm``): the drop into a
#: burpee is named a fall for about half a second before the model sees the push-up (docs/fitness.md)
FALL_CONFIRM_S = 0.6


@dataclass(frozen=True)
class FallConfig:
    """Thresholds of :class:`FallCheck`."""

    window: float = 4.0  # seconds
    upright_deg: float = 35.0
    fallen_deg: float = 50.0
    shrink: float = 0.5  # of the upright trunk's length
    rise: float = 0.25  # the most the hips may go up while the trunk tilts, of the upright trunk's length
    grow: float = 1.5  # the longest a fallen trunk may be, of the upright one's length
    recent: float = 0.6  # seconds: fell() holds while the trunk was fallen this recently
    # collapsed(): the body alone
    fall_s: float = 2.0  # from standing to down
    standing_deg: float = 30.0
    low: float = 0.6  # of the standing body's height in view
    drop: float = 0.35  # the hips' drop, of the standing body's height in view
    down_deg: float = 40.0
    down_shrink: float = 0.6  # or the trunk foreshortened under this of its standing length
    stay: float = 0.8  # seconds down since


class FallCheck:
    """Per-person trunk history (see the module docstring)."""

    def __init__(self, layout: str | Layout, domain: str, config: FallConfig = FallConfig()) -> None:
        lay = get_layout(layout)
        names = lay.joint_names
        self.neck = names.index("neck") if "neck" in names else names.index("spine_shoulder")
        self.hips = (names.index("left_hip"), names.index("right_hip"))
        self.image = domain == IMAGE2D
        self.config = config
        #: (time, tilt in degrees, hip height, trunk length, the body's height in view), in the skeleton's units
        self._trunk: deque[tuple[float, float, float, float, float]] = deque()

    def reset(self) -> None:
        self._trunk.clear()

    def update(self, skeleton: np.ndarray | None, t: float) -> None:
        """One model frame: the person's ``(C, V)`` (None or joints unseen: nothing is learnt)."""
        win = max(self.config.window, self.config.fall_s + self.config.stay + 0.1)
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
        seen = s[2] > 0 if self.image and s.shape[0] > 2 else np.any(s != 0, axis=0)
        heights = s[:2, seen].T @ up
        # the height in view needs most of the body: with half the joints unseen it says nothing (0: not used)
        extent = float(heights.max() - heights.min()) if heights.size >= s.shape[1] // 2 else 0.0
        self._trunk.append((float(t), tilt, float(hip @ up), length, extent))

    def fell(self) -> bool:
        """True when, within the window, an upright trunk was followed by a fallen one, fallen within the last
        ``recent`` seconds: tilted past ``fallen_deg``, or foreshortened to under ``shrink`` of its upright
        length with the hips no higher (a body falling towards or away from the camera). A person walking
        towards the camera, whose hips go down the picture as the trunk grows, does not qualify; one walking
        away shrinks with the hips going up; a tilted trunk whose hips went up by more than ``rise`` of its
        upright length neither (leaning across a table, the legs out of the picture), nor one much longer than
        the upright one (somebody else, or a pose estimator's glimpse of a few joints), nor a trunk that leaned
        over a moment and is upright again."""
        cfg = self.config
        upright: tuple[float, float] | None = None  # the longest upright trunk so far: (hip height, trunk length)
        last_down = -np.inf
        since = self._trunk[-1][0] - cfg.window if self._trunk else 0.0
        for t, tilt, height, length, _ in self._trunk:
            if t < since:  # kept for collapsed(), older than this check's window
                continue
            if upright is not None and length <= cfg.grow * upright[1] and (
                    (tilt > cfg.fallen_deg and height <= upright[0] + cfg.rise * upright[1])
                    or (length < cfg.shrink * upright[1] and height <= upright[0])):
                last_down = t
            if tilt < cfg.upright_deg and (upright is None or length > upright[1]):
                upright = (height, length)
        return bool(self._trunk) and last_down >= self._trunk[-1][0] - cfg.recent

    def collapsed(self) -> bool:
        """True when the body alone says the person fell (module docstring): standing within ``fall_s`` before a
        moment ``stay`` seconds ago, low (under ``low`` of the standing height in view, hips down by ``drop`` of it,
        trunk tilted past ``down_deg`` or foreshortened) at that moment and on every frame since."""
        cfg = self.config
        rows = [r for r in self._trunk if r[4] > 0]
        if not rows:
            return False
        now = rows[-1][0]
        first = next((k for k, r in enumerate(rows) if r[0] >= now - cfg.stay), None)
        if first is None or first == 0 or now - rows[first][0] < 0.75 * cfg.stay:
            return False
        t1, tilt1, hip1, len1, ext1 = rows[first]
        standing = [r for r in rows[:first] if r[0] >= t1 - cfg.fall_s and r[1] < cfg.standing_deg]
        if not standing:
            return False
        _, _, hip0, len0, ext0 = max(standing, key=lambda r: r[4])
        fallen = (lambda tilt, length, ext, hip: ext < cfg.low * ext0 and hip0 - hip > cfg.drop * ext0
                  and (tilt > cfg.down_deg or length < cfg.down_shrink * len0))
        if not fallen(tilt1, len1, ext1, hip1):
            return False
        since = rows[first:]
        return all(r[4] < (cfg.low + 0.1) * ext0 and (r[1] > cfg.standing_deg + 5 or r[3] < cfg.down_shrink * len0)
                   for r in since)
