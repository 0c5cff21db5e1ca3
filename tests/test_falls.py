"""cognn.live.falls: the trunk's own confirmation of a fall, on trunks drawn in the picture (image2d, y down)."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import shared_data, stick_body

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


def test_leaning_over_a_moment_and_back_up_is_no_fall_a_moment_later():
    standing = [((0.0, -0.2), (0.0, 0.0))] * 30
    lean = [((0.17, -0.1), (0.0, 0.0))] * 6  # 60 degrees for 0.2 s, the hips where they were
    fell = _run(standing + lean + standing)
    assert any(fell[30:36]) and not any(fell[36 + 20:])
    # nor a trunk 3x longer than the upright one (somebody else, or a glimpse of a few joints)
    tiny = [((0.0, -0.05), (0.0, 0.0))] * 30
    big = [((0.3, -0.1), (0.0, 0.05))] * 10
    assert not any(_run(tiny + big))


def test_unseen_joints_teach_nothing():
    check = FallCheck("kinetics18", "image2d")
    s = _person((0.0, -0.2), (0.0, 0.0))
    s[2, 1] = 0.0  # the neck not seen
    for i in range(30):
        check.update(s, i / 30)
    check.update(None, 1.1)
    assert not check._trunk and not check.fell()


def _collapsed(bodies: list[np.ndarray], fps: float = 30.0) -> list[bool]:
    check = FallCheck("kinetics18", "image2d")
    out = []
    for i, b in enumerate(bodies):
        check.update(b, i / fps)
        out.append(check.collapsed())
    return out


def test_the_body_alone_says_a_person_fell_once_they_stayed_down():
    standing = [stick_body(0.0)] * 45
    falling = [stick_body(a, hip_drop=0.45 * a / 85) for a in np.linspace(0, 85, 20)]
    lying = [stick_body(85.0, hip_drop=0.45)] * 100
    seen = _collapsed(standing + falling + lying)
    assert not any(seen[:45 + 10 + 24])  # not before the body has been down (half-way fallen) for 0.8 s
    assert any(seen[65 + 20:65 + 40])
    assert not seen[-1]  # 2 s after the last standing moment and the stay: history


def test_squats_bends_sitting_and_getting_back_up_are_no_collapse():
    standing = [stick_body(0.0)] * 45
    # a deep squat held 1.5 s: hips down, trunk leaning 35 degrees, the body still tall in view
    squat = [stick_body(0.0, hip_drop=0.25, trunk_deg=35.0)] * 45
    # bending over to pick something up: the trunk horizontal, legs straight, the hips stay up
    bend = [stick_body(0.0, trunk_deg=85.0)] * 60
    # a burpee: down to the floor and back up within 0.6 s
    burpee = [stick_body(80.0, hip_drop=0.45)] * 18
    for move in (squat, bend, burpee):
        assert not any(_collapsed(standing + move + standing)), move


def test_collapse_needs_most_of_the_body_in_view():
    standing = [stick_body(0.0)] * 45
    lying = [stick_body(85.0, hip_drop=0.45)] * 60
    for b in lying:
        b[2, [0, 9, 10, 12, 13, 14, 15, 16, 17, 2, 3, 4, 5]] = 0.0  # only the trunk, arms and hips seen
    assert not any(_collapsed(standing + lying))


@pytest.mark.slow
def test_the_body_alone_finds_a_real_fall_and_not_a_real_burpee(tmp_path):
    """Real MediaPipe on real clips (no model): the collapse check fires on a person falling to the floor, not on
    burpees (down to the floor and straight back up)."""
    from cognn.teach.clips import ClipReader

    real = shared_data("video", "real")

    def first_collapse(path) -> float | None:
        with ClipReader("kinetics18", tmp_path) as reader:
            skel = reader.read(path)  # (T, 3, 18, 2) at 30 fps
        check = FallCheck("kinetics18", "image2d")
        for t, frame in enumerate(skel):
            person = frame[..., 0]
            check.update(person if (person[2] > 0).any() else None, t / 30.0)
            if check.collapsed():
                return t / 30.0
        return None

    fell_at = first_collapse(real / "fall" / "fall-detector__Fall01.mp4")
    assert fell_at is not None and 4.5 < fell_at < 6.9, fell_at  # the fall, after the person stood
    assert first_collapse(real / "burpee" / "videos__burpees.mp4") is None
