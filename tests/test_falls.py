"""cognn.live.falls: the trunk's own confirmation of a fall, on trunks drawn in the picture (image2d, y down)."""
from __future__ import annotations

import numpy as np

from cognn.live.falls import FallCheck


def _person(neck: tuple[float, float], hip: tuple[float, float]) -> np.ndarray:
    """An OpenPose-18 person (3, 18) with the neck and both hips at the given picture positions, every joint seen."""
    s = np.zeros((3, 18), np.float32)
    s[2] = 1.0
    s[:2, 1] = neck
    s[:2, 8] = (hip[0] - 0.02, hip[1])
    s[:2, 11] = (hip[0] + 0.02, hip[1])
    return s


def _run(trunks: list[tuple[tuple[float, float], tuple[float, float]]], fps: float = 30.0) -> list[bool]:
    check = FallCheck("kinetics18", "image2d")
    out = []
    for i, (neck, hip) in enumerate(trunks):
        check.update(_person(neck, hip), i / fps)
        out.append(check.fell())
    return out


def test_a_trunk_that_tips_over_is_a_fall_and_stops_being_one_after_the_window():
    standing = [((0.0, -0.2), (0.0, 0.0))] * 30
    tipping = [((0.2 * np.sin(a), -0.2 * np.cos(a) + 0.1 * a), (0.0, 0.1 * a)) for a in np.linspace(0, 1.4, 15)]
    lying = [((0.2, 0.15), (0.0, 0.15))] * 150
    fell = _run(standing + tipping + lying)
    assert not any(fell[:35])
    assert any(fell[40:60])
    assert not fell[-1]  # 4 s after the last upright moment it is history


def test_walking_towards_the_camera_is_no_fall_but_falling_towards_it_is():
    # towards the camera: the trunk grows and the hips go down the picture, the trunk stays upright
    walk = [((0.0, -0.1 - 0.004 * i), (0.0, 0.004 * i)) for i in range(90)]
    assert not any(_run(walk))
    # falling towards the camera: the trunk shortens (foreshortened) while the hips go down
    fall = [((0.0, -0.2), (0.0, 0.0))] * 20 + [((0.0, -0.2 + 0.03 * i), (0.0, 0.01 * i)) for i in range(9)]
    assert any(_run(fall))


def test_unseen_joints_teach_nothing():
    check = FallCheck("kinetics18", "image2d")
    s = _person((0.0, -0.2), (0.0, 0.0))
    s[2, 1] = 0.0  # the neck not seen
    for i in range(30):
        check.update(s, i / 30)
    check.update(None, 1.1)
    assert not check._trunk and not check.fell()
