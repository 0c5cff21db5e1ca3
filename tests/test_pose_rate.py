"""Pose only on the pictures the model needs: a 60 fps video for a 30 fps model runs pose on every other picture.

The held pictures are still shown (one record and one drawn picture per input frame), carry the last posed skeleton,
release no model frame and add nothing to a skeleton recording; the model sees the same grid of times as with pose
on every picture.
"""
from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, shared_data

from cognn.data.store import load_recording
from cognn.live.records import make_records
from cognn.live.session import LiveConfig, Session
from cognn.pose import PoseOptions
from cognn.sources import open_source

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

SIXTY = ("video", "fanchiang_3-2.mp4")  # 1920x1080, 60 fps, jumping jacks
THIRTY = ("video", "S001C001P001R001A001_rgb.avi")  # NTU RGB, 30 fps
GESTURES = REPO / "weights" / "gestures_costgcn_mod.safetensors"
POSE = PoseOptions(max_side=480)


def test_a_60_fps_video_runs_pose_on_every_other_picture_and_holds_the_rest():
    with open_source(shared_data(*SIXTY), pose=POSE) as src:
        assert src.fps == pytest.approx(60, abs=0.1)
        assert src.pose_at_most(30.0) == 2
        frames = [src.read() for _ in range(6)]
        assert [f.posed for f in frames] == [True, False] * 3
        for posed, held in zip(frames[::2], frames[1::2]):
            assert posed.pose_ms is not None and posed.pose_ms > 0
            assert held.pose_ms is None and held.image is not None and held.image is not posed.image
            assert held.skeleton is posed.skeleton and held.persons == posed.persons
            np.testing.assert_array_equal(held.draw_px, posed.draw_px)
            assert held.timestamp > posed.timestamp
        assert [f.index for f in frames] == list(range(6))
        src.seek(41)  # a new stream: pose on the first picture after the seek, then every other one
        after = [src.read() for _ in range(3)]
        assert [(f.index, f.posed) for f in after] == [(41, True), (42, False), (43, True)]
        assert src.pose_at_most(60.0) == 1 and all(src.read().posed for _ in range(3))


def test_videos_at_the_model_rate_or_between_rates_keep_every_picture():
    with open_source(shared_data(*THIRTY), pose=POSE) as src:
        assert src.pose_at_most(30.0) == 1
        assert src.pose_at_most(24.0) == 1  # 30 / 24 = 1.25: the model's grid falls between pictures
        assert src.pose_at_most(15.0) == 2
        assert src.pose_at_most(float("nan")) == 1


def _run(every_frame: bool, tmp_path, frames: int = 48):
    if not GESTURES.exists():
        pytest.skip(f"{GESTURES} is not there (the bundled gesture model)")
    config = LiveConfig(pose=POSE, pose_every_frame=every_frame)
    h5 = tmp_path / f"every{int(every_frame)}.h5"
    with Session.from_weights(GESTURES, config=config) as session:
        src = session.open(shared_data(*SIXTY))
        session.start(src)
        session.start_recording(h5, fps=src.fps)
        steps = list(session.steps(src, max_frames=frames, prefetch=2))
        session.finish()
        session.stop_recording()
        src.close()
    return steps, load_recording(h5)


def test_the_session_poses_the_model_grid_and_answers_on_every_picture(tmp_path):
    held, rec_held = _run(False, tmp_path)
    every, rec_every = _run(True, tmp_path)
    assert len(held) == len(every) == 48  # one step (one record, one picture) per input frame either way
    assert [s.frame.posed for s in held] == [True, False] * 24 and all(s.frame.posed for s in every)
    # the same 24 model frames, released by the same input frames (the 30 fps grid lies on the even pictures)
    assert [s.model_frames for s in held] == [s.model_frames for s in every] == [1, 0] * 24
    assert all(s.prediction is not None and s.image is not None for s in held)
    for a, b in zip(held[1::2], held[0::2]):  # a held picture shows the answer of the picture before
        np.testing.assert_array_equal(a.prediction.probs, b.prediction.probs)
    records = [make_records(s, "clip", "costgcn_mod", True)[0] for s in held]
    assert [r["held"] for r in records] == [False, True] * 24  # no new output on a picture the model does not use
    assert [r["pose_ms"] is None for r in records] == [False, True] * 24
    # the model's input differs only by pose tracking and smoothing seeing 30 instead of 60 pictures a second
    diff = np.abs(np.stack([s.frame.skeleton for s in held[::2]]) - np.stack([s.frame.skeleton for s in every[::2]]))
    assert np.median(diff) < 0.01 and diff.max() < 0.2  # metres, NTU camera space
    top1 = [int(np.argmax(a.prediction.probs)) == int(np.argmax(b.prediction.probs)) for a, b in zip(held, every)]
    assert np.mean(top1) >= 0.9
    # a recording holds the skeletons pose gave: 24 at 30 fps, not the held copies
    assert rec_held.num_frames == 24 and rec_every.num_frames == 48
    np.testing.assert_allclose(np.diff(rec_held.timestamps), 1 / 30, atol=2e-3)
    # its rate is not the video's: none is declared and a replay takes it from the timestamps
    assert rec_held.fps is None and rec_every.fps == pytest.approx(59.94, abs=0.01)
    with open_source(tmp_path / "every0.h5") as replay:
        assert replay.fps == pytest.approx(30, abs=0.1) and replay.num_frames == 24


def test_searching_for_more_people_every_nth_frame_tracks_the_one_in_view_in_between():
    """MediaPipe's two-person landmarker runs its detector on every frame while it sees one person; with
    ``search_every=10`` a one-person landmarker tracks that person and the two-person one looks on frames 0, 10, 20."""
    import cv2

    from cognn.pose.landmarker import PoseEstimator

    with pytest.raises(ValueError, match="search_every"):
        PoseOptions(search_every=0)
    cap = cv2.VideoCapture(str(shared_data(*SIXTY)))
    pictures = []
    while len(pictures) < 30:
        ok, picture = cap.read()
        assert ok
        pictures.append(cv2.resize(picture, (640, 360), interpolation=cv2.INTER_AREA))
    cap.release()
    with PoseEstimator(num_poses=2) as every, PoseEstimator(num_poses=2, search_every=10) as sparse:
        searched = []
        for i, picture in enumerate(pictures):
            a = every.process(picture, i / 60)
            b = sparse.process(picture, i / 60)
            searched.append(sparse._since_search == 0)
            assert len(a) == len(b) == 1  # one person in view
            assert np.median(np.abs(a[0].image_norm[:, :2] - b[0].image_norm[:, :2])) < 0.01
        assert [i for i, s in enumerate(searched) if s] == [0, 10, 20]
        assert set(sparse._fewer) == {1}
        sparse.new_stream()
        assert not sparse._fewer  # a new stream forgets the tracking landmarker too
