"""Preprocessing follows the checkpoint: one skeleton sequence reaches the model as the same tensor whether it comes
from a Kinetics-skeleton JSON replay, from pixels through the pose tracker (the camera's and a video's path), or from
training data (cognn-prep's Kinetics path), for both Kinetics conventions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cognn.data.conventions import AGCN_KINETICS, STGCN_KINETICS, FramePrep, convention, convention_for
from cognn.data.kinetics import read_kinetics_json, to_array
from cognn.pose import KINETICS18_FROM_MP, PersonPose, PoseOptions, PoseTracker
from cognn.pose.landmarks import LandmarkClip, ReplayEstimator
from cognn.pose.smoothing import NO_SMOOTHING
from cognn.sources import open_source

W, H, T = 640, 360, 40


def _people(rng: np.random.Generator) -> list[PersonPose]:
    """A person moving over T frames: 33 landmarks whose neck (the shoulder midpoint) is exact, all in view."""
    base = rng.uniform([0.3, 0.2], [0.7, 0.8], size=(33, 2))
    out = []
    for t in range(T):
        norm = np.zeros((33, 3), np.float32)
        norm[:, :2] = base + 0.05 * np.sin(0.3 * t + np.arange(33))[:, None]
        px = norm[:, :2] * np.array([W, H], np.float32)
        out.append(PersonPose(image_px=px, image_norm=norm, world=np.zeros((33, 3), np.float32),
                              visibility=np.full(33, 0.9, np.float32)))
    return out


def _pixel_path(people: list[PersonPose]) -> np.ndarray:
    """The camera's way: the pose tracker (person slots, mapping to Kinetics-18) over stored landmarks."""
    clip = LandmarkClip("synthetic", W, H, np.arange(T) / 30.0,
                        np.stack([[p.world, np.zeros_like(p.world)] for p in people]),
                        np.stack([[p.image_norm, np.zeros_like(p.image_norm)] for p in people]),
                        np.stack([[p.visibility, np.zeros_like(p.visibility)] for p in people]),
                        np.ones(T, np.int64))
    tracker = PoseTracker("kinetics18", 2, PoseOptions(max_side=None, smoothing=NO_SMOOTHING),
                          estimator=ReplayEstimator(clip))
    tracker.new_stream()
    picture = np.zeros((H, W, 3), np.uint8)
    return np.stack([tracker.process(picture, t / 30.0).skeleton for t in range(T)])  # (T, 3, 18, 2)


def _json(people: list[PersonPose], path) -> None:
    """The same person as a Kinetics-skeleton JSON (OpenPose-18 keypoints normalised by the frame size)."""
    data = []
    for t, p in enumerate(people):
        k18 = KINETICS18_FROM_MP @ p.image_px.astype(np.float64)
        pose = (k18 / np.array([W, H])).reshape(-1).tolist()
        data.append({"frame_index": t + 1, "skeleton": [{"pose": pose, "score": [0.9] * 18}]})
    path.write_text(json.dumps({"data": data, "label": "testing", "label_index": 0}))


@pytest.mark.parametrize("name", [STGCN_KINETICS, AGCN_KINETICS])
def test_one_sequence_reaches_the_model_alike_by_every_path(tmp_path, name):
    people = _people(np.random.default_rng(3))
    pixels = _pixel_path(people)
    _json(people, tmp_path / "clip.json")
    with open_source(tmp_path / "clip.json", layout="kinetics18") as src:
        replay = np.stack([f.skeleton for f in src])
    assert replay.shape == pixels.shape == (T, 3, 18, 2)
    conv = convention(name)
    prep_pixels, prep_replay = FramePrep(conv, "kinetics18"), FramePrep(conv, "kinetics18")
    live = np.stack([prep_pixels(x) for x in pixels], axis=1)  # (3, T, 18, 2), as the recognizer feeds the model
    played = np.stack([prep_replay(x) for x in replay], axis=1)
    training = to_array(read_kinetics_json(tmp_path / "clip.json"), convention=name)[:, 1:T + 1]  # index 0 is empty
    np.testing.assert_allclose(live, played, atol=1e-6)
    np.testing.assert_allclose(training, played, atol=1e-6)
    assert np.abs(training[:, :, :, 0]).sum() > 10 and not training[:, :, :, 1].any()
    # the plain form has y pointing down as in the image; only the 2s-AGCN convention negates it
    plain_y = replay.transpose(1, 0, 2, 3)[1]
    np.testing.assert_array_equal(played[1], -plain_y if conv.negate_y else plain_y)
    np.testing.assert_array_equal(played[0], replay.transpose(1, 0, 2, 3)[0])


def test_each_checkpoint_names_its_convention():
    assert convention_for({"preprocessing": "stgcn-kinetics-feeder"}, "kinetics18").mode == "stgcn-kinetics"
    assert convention_for({"preprocessing": "kinetics-feeder"}, "kinetics18").name == AGCN_KINETICS  # older files
    assert convention_for({}, "kinetics18").name == AGCN_KINETICS and convention_for({}, "ntu25").mode == "ntu"
    with pytest.raises(ValueError, match="unknown preprocessing"):
        convention("yolo")
