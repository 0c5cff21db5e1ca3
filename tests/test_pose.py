"""Pose from pixels (issue 5): the bundled .task model, the MediaPipe wrapper, the NTU-25 / Kinetics-18 mappings
checked against a real Kinect skeleton of the same recording, person slots, and bad inputs."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cognn.errors import InputFileError
from cognn.layouts import KINETICS18, NTU25
from cognn.pose import (
    KINETICS18_FROM_MP,
    MODEL_ENV_VAR,
    NTU25_FROM_MP,
    PersonPose,
    PersonSlots,
    PoseEstimator,
    arrange,
    default_model_path,
    estimate_root_translation,
    extract_skeletons,
    iter_video_frames,
    load_image,
    mediapipe_to_kinetics18,
    mediapipe_to_ntu25,
    normalize_kinetics,
    ntu25_visibility,
    resolve_model_path,
)
from cognn.pose.mapping import mp_world_to_ntu_axes

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NTU_SAMPLE = "S001C001P001R001A001"  # "drink water": one person, 103 frames, RGB video + Kinect skeleton
TASK_SHA256 = "6008c267ecb95d2ad55a3aafaf4a6bac0fcacc2fd0c1862464a6dbc6044b9dd2"
WHEEL = REPO / ".cache" / "wheels" / "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"

# MediaPipe landmark pairs that swap under a left/right mirror
MP_MIRROR = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(i, i + 1) for i in range(11, 33, 2)]


def data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared test data lives beside the repository)")
    return path


# -------------------------------------------------------------------------------------------------------------------
# Kinect reference (cognn.data.ntu when present, else a tiny local parser)

def kinect_xyz(path: Path) -> np.ndarray:
    """Body 0 of an NTU .skeleton file as (T, 25, 3) metres."""
    try:
        from cognn.data.ntu import read_ntu_skeleton, to_array
    except ImportError:
        tok = path.read_text().split()
        i, frames = 1, []
        for _ in range(int(tok[0])):
            nb = int(tok[i])
            i += 1
            joints = None
            for b in range(nb):
                i += 10
                nj = int(tok[i])
                arr = np.array(tok[i + 1:i + 1 + nj * 12], dtype=np.float64).reshape(nj, 12)
                i += 1 + nj * 12
                if b == 0:
                    joints = arr[:, :3]
            frames.append(joints if joints is not None else np.zeros((25, 3)))
        return np.asarray(frames, dtype=np.float32)
    return to_array(read_ntu_skeleton(path))[..., 0].transpose(1, 2, 0)


def normalise(seq: np.ndarray) -> np.ndarray:
    """(T, 25, 3) -> reference NTU preprocessing (centre on spine-mid, spine to +z, shoulders to +x)."""
    try:
        from cognn.data.transforms import pre_normalization
    except ImportError:
        s = seq - seq[:, 1:2]
        z = s[0, 1] - s[0, 0]
        z /= np.linalg.norm(z)
        x = s[0, 8] - s[0, 4]
        x -= z * (x @ z)
        x /= np.linalg.norm(x)
        rot = np.stack([x, np.cross(z, x), z])
        return s @ rot.T
    arr = np.zeros((3, len(seq), 25, 2), np.float32)
    arr[..., 0] = seq.transpose(2, 0, 1)
    return pre_normalization(arr)[..., 0].transpose(1, 2, 0)


@pytest.fixture(scope="module")
def kinect() -> np.ndarray:
    return kinect_xyz(data("ntu", "skeletons", f"{NTU_SAMPLE}.skeleton"))


@pytest.fixture(scope="module")
def ntu_video() -> Path:
    return data("video", f"{NTU_SAMPLE}_rgb.avi")


@pytest.fixture(scope="module")
def image_estimator():
    with PoseEstimator(mode="image", num_poses=2) as est:
        yield est


@pytest.fixture(scope="module")
def mediapipe_run(ntu_video):
    """The NTU video, un-mirrored (NTU RGB is mirrored), through pose + NTU-25 mapping with Kinect v2 optics."""
    skel, stamps, info = extract_skeletons(ntu_video, "ntu25", num_persons=1, flip_horizontal=True, max_side=640,
                                           hfov_deg=84.1)
    return skel[:, :, :, 0].transpose(0, 2, 1), stamps, info  # (T, 25, 3)


# -------------------------------------------------------------------------------------------------------------------
# (a) the model file and pose on real images / videos

def test_task_file_is_bundled_and_loads_offline(monkeypatch, capfd):
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    path = resolve_model_path()
    assert path == default_model_path() and path.parent.name == "weights"
    assert (path.parent / "NOTICE").read_text().count("Apache License, Version 2.0") >= 1
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == TASK_SHA256
    capfd.readouterr()
    with PoseEstimator() as est:
        assert est.process(np.zeros((120, 160, 3), np.uint8)) == []
    assert capfd.readouterr().err == ""  # the ~50 native log lines are silenced
    assert est.closed


def test_build_is_reproducible(tmp_path):
    if not WHEEL.is_file():
        pytest.skip(f"{WHEEL.name} not downloaded (python tools/build_pose_task.py fetches it)")
    out = tmp_path / "a.task"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "build_pose_task.py"), "--wheel", str(WHEEL),
                           "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert TASK_SHA256 in proc.stdout and "Traceback" not in proc.stderr, proc.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == TASK_SHA256


def test_unclosed_estimator_exits_quietly():
    code = ("from cognn.pose import PoseEstimator\nimport numpy as np\n"
            "e = PoseEstimator(mode='image')\ne.process(np.zeros((64, 64, 3), np.uint8))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("name, expected", [("h36m_S1_Directions_1.54138969_000001.jpg", 1),
                                            ("coco_000000196141.jpg", None)])
def test_pose_on_real_images(image_estimator, name, expected):
    img = load_image(data("images", name))
    people = image_estimator.process(img)
    if expected is None:
        assert len(people) >= 1
    else:
        assert len(people) == expected
    h, w = img.shape[:2]
    for p in people:
        assert isinstance(p, PersonPose)
        assert p.image_px.shape == (33, 2) and p.image_norm.shape == (33, 3) and p.world.shape == (33, 3)
        assert p.visibility.shape == (33,) and p.image_px.dtype == np.float32
        assert 0 <= p.image_px[0, 0] < w and 0 <= p.image_px[0, 1] < h  # the nose is in the picture
        np.testing.assert_allclose(p.world[[23, 24]].mean(0), 0, atol=0.01)  # world origin = hip midpoint
        assert p.world[0, 1] < p.world[27, 1]  # y down: the nose above the ankles
        assert 0.2 < np.linalg.norm(p.world[11] - p.world[12]) < 0.6  # shoulder width in metres


def test_pose_on_a_few_frames_of_each_video(image_estimator):
    videos = sorted(p for p in data("video").iterdir() if p.suffix in {".avi", ".mp4"})
    assert videos
    for video in videos:
        found = 0
        for i, _ts, frame in iter_video_frames(video, max_frames=6):
            if i % 5:
                continue
            people = image_estimator.process(frame)
            assert all(p.image_px.shape == (33, 2) for p in people) and len(people) <= 2
            found += bool(people)
        if video.name.startswith(("S0", "pyskl_ntu")):  # the NTU recordings show people from the first frame
            assert found >= 1, video.name


def test_extract_skeletons_reuses_a_given_estimator():
    video = data("video", "S004C002P003R001A055_rgb.avi")
    with PoseEstimator(mode="video", num_poses=2) as est:
        for _ in range(2):  # the second run restarts tracking and timestamps
            skel, stamps, info = extract_skeletons(video, "kinetics18", max_frames=4, estimator=est, max_side=640)
            assert skel.shape == (4, 3, 18, 2) and skel.dtype == np.float32
            assert info["domain"] == "image2d" and info["track_ids"].shape == (4, 2) and info["width"] == 640
            assert (info["track_ids"][:, 0] == 0).all() and np.abs(skel[:, :2]).max() <= 0.5
            assert not skel[:, :, :, 1][info["track_ids"][:, 1] < 0].any()  # an empty slot is zeros
        assert not est.closed


# -------------------------------------------------------------------------------------------------------------------
# (b) left / right against the Kinect skeleton on a real frame

def test_left_right_matches_kinect_on_a_real_frame(image_estimator, ntu_video, kinect):
    """Frame 80: the person holds the cup to the mouth with the RIGHT hand (Kinect joint 10 is high).

    The shoulders' x order fixes the x-axis sign (the person faces the camera: right shoulder at the larger x in both
    skeletons).  Which wrist is raised fixes the sides: NTU's RGB video is mirrored (Kinect colour x grows with camera
    x), so only the un-mirrored frame gives MediaPipe the person's true sides; on the mirrored frame the mapped LEFT
    wrist is the raised one, the pitfall this guards.
    """
    import cv2

    n = 80
    frame = next(f for i, _, f in iter_video_frames(ntu_video, max_frames=n + 1) if i == n)
    k = kinect[n]
    assert k[8, 0] > k[4, 0]  # Kinect: right shoulder at larger x (x = the sensor's left)
    assert k[10, 1] > k[6, 1] + 0.1  # the right wrist is the raised one (y up)
    for flip, same in ((True, True), (False, False)):
        people = image_estimator.process(cv2.flip(frame, 1) if flip else frame)
        assert len(people) == 1
        j = mediapipe_to_ntu25(people[0].world, people[0].visibility)
        assert j[8, 0] > j[4, 0]  # shoulders' x order: the same whether mirrored or not
        assert (j[10, 1] > j[6, 1] + 0.1) == same  # which wrist is raised
        assert (j[6, 1] > j[10, 1] + 0.1) == (not same)


# -------------------------------------------------------------------------------------------------------------------
# (c) the whole recording: MediaPipe -> NTU-25 vs the Kinect skeleton

BONES = {"left upper arm": (4, 5), "right upper arm": (8, 9), "left forearm": (5, 6), "right forearm": (9, 10),
         "left thigh": (12, 13), "right thigh": (16, 17), "left shin": (13, 14), "right shin": (17, 18),
         "shoulder width": (4, 8)}


def _bone(seq: np.ndarray, i: int, j: int) -> float:
    return float(np.median(np.linalg.norm(seq[:, i] - seq[:, j], axis=-1)))


def test_cross_sensor_bone_lengths(mediapipe_run, kinect):
    """Criterion: one global scale factor (MediaPipe's metric scale is an average-body prior; this subject is
    small) within 25 %, and after removing it every major bone's median length within 25 % of the Kinect's."""
    mp_seq, stamps, info = mediapipe_run
    assert mp_seq.shape == kinect.shape == (103, 25, 3)
    assert info["frames_with_people"] == 103 and info["domain"] == "camera3d"
    ratios = {name: _bone(mp_seq, i, j) / _bone(kinect, i, j) for name, (i, j) in BONES.items()}
    scale = float(np.median(list(ratios.values())))
    assert 0.8 < scale < 1.25, ratios
    bad = {n: round(r / scale, 2) for n, r in ratios.items() if not 0.75 < r / scale < 1.25}
    assert not bad, (scale, bad)


def test_cross_sensor_sides_and_placement(mediapipe_run, kinect):
    mp_seq, stamps, _ = mediapipe_run
    # the shoulders' left/right x order agrees in (nearly) every frame
    agree = np.mean((mp_seq[:, 8, 0] > mp_seq[:, 4, 0]) == (kinect[:, 8, 0] > kinect[:, 4, 0]))
    assert agree >= 0.95
    # the estimated root translation puts the body where the Kinect saw it (depth within 15 %, x/y within 0.2 m)
    off = np.median(mp_seq[:, 0] - kinect[:, 0], axis=0)
    assert abs(off[0]) < 0.2 and abs(off[1]) < 0.2 and abs(off[2]) < 0.15 * np.median(kinect[:, 0, 2]), off
    np.testing.assert_allclose(np.diff(stamps), 1 / 30, atol=1e-3)


def test_cross_sensor_same_motion_after_preprocessing(mediapipe_run, kinect):
    """After the reference normalisation (spine -> +z, shoulders -> +x) the drinking (right) arm moves the same way:
    the vertical (z) trajectories of the right wrist and elbow correlate > 0.9 with the Kinect's, the wrist rises
    by the same amount (within 35 %), and in both the right wrist travels at least twice as far up as the left."""
    a, b = normalise(kinect), normalise(mediapipe_run[0])
    for joint in (10, 9):  # right wrist, right elbow
        r = np.corrcoef(a[:, joint, 2], b[:, joint, 2])[0, 1]
        assert r > 0.9, (NTU25.joint_names[joint], r)
    rise_k, rise_m = np.ptp(a[:, 10, 2]), np.ptp(b[:, 10, 2])
    assert 0.65 < rise_m / rise_k < 1.35, (rise_k, rise_m)
    for seq in (a, b):
        assert np.ptp(seq[:, 10, 2]) > 2 * np.ptp(seq[:, 6, 2])
    # the spine and head agree closely after normalisation (metres)
    dist = np.linalg.norm(a - b, axis=-1).mean(0)
    assert dist[[0, 1, 2, 3, 20]].max() < 0.1, dist


# -------------------------------------------------------------------------------------------------------------------
# mapping tables (no MediaPipe needed)

def _random_pose(rng, batch=()) -> np.ndarray:
    return rng.normal(0, 0.3, size=batch + (33, 3)).astype(np.float32)


def test_ntu_mapping_direct_joints_and_axes():
    rng = np.random.default_rng(0)
    w = _random_pose(rng)
    j = mediapipe_to_ntu25(w)
    assert j.shape == (25, 3) and j.dtype == np.float32
    flip = np.array([-1, -1, 1], np.float32)
    direct = {"left_shoulder": 11, "left_elbow": 13, "left_wrist": 15, "right_shoulder": 12, "right_elbow": 14,
              "right_wrist": 16, "left_knee": 25, "left_ankle": 27, "right_knee": 26, "right_ankle": 28}
    for name, mp_idx in direct.items():
        np.testing.assert_allclose(j[NTU25.index(name)], w[mp_idx] * flip, atol=1e-6)
    np.testing.assert_allclose(j[NTU25.index("spine_base")], w[[23, 24]].mean(0) * flip, atol=1e-6)
    np.testing.assert_allclose(j[NTU25.index("spine_shoulder")], w[[11, 12]].mean(0) * flip, atol=1e-6)
    np.testing.assert_allclose(j[NTU25.index("head")], w[[7, 8]].mean(0) * flip, atol=1e-6)
    assert np.allclose(NTU25_FROM_MP.sum(1), 1)  # every joint is an affine combination (translation-equivariant)
    assert np.allclose(KINETICS18_FROM_MP.sum(1), 1)
    root = np.array([0.1, 0.2, 3.0], np.float32)
    np.testing.assert_allclose(mediapipe_to_ntu25(w, root=root), j + root, atol=1e-6)


def test_mappings_respect_mirror_symmetry():
    """Mirroring the MediaPipe input (negate x, swap sides) mirrors the output (negate x, swap the layout's pairs)."""
    rng = np.random.default_rng(1)
    w = _random_pose(rng)
    mw = w.copy()
    for a, b in MP_MIRROR:
        mw[[a, b]] = mw[[b, a]]
    mw[:, 0] *= -1
    j, mj = mediapipe_to_ntu25(w), mediapipe_to_ntu25(mw)
    for a, b in NTU25.mirror_pairs:
        mj[[a, b]] = mj[[b, a]]
    mj[:, 0] *= -1
    np.testing.assert_allclose(mj, j, atol=1e-6)
    k = KINETICS18_FROM_MP @ w
    mk = KINETICS18_FROM_MP @ mw
    for a, b in KINETICS18.mirror_pairs:
        mk[[a, b]] = mk[[b, a]]
    mk[:, 0] *= -1
    np.testing.assert_allclose(mk, k, atol=1e-6)


def test_mapping_batches_equal_single_frames():
    rng = np.random.default_rng(2)
    w = _random_pose(rng, (4, 5))
    vis = rng.uniform(0, 1, (4, 5, 33)).astype(np.float32)
    batch = mediapipe_to_ntu25(w, vis)
    assert batch.shape == (4, 5, 25, 3)
    np.testing.assert_allclose(batch[2, 3], mediapipe_to_ntu25(w[2, 3]), atol=1e-6)
    v = ntu25_visibility(vis)
    assert v.shape == (4, 5, 25)
    assert v[0, 0, NTU25.index("spine_base")] == vis[0, 0, [23, 24]].min()
    with pytest.raises(ValueError):
        mediapipe_to_ntu25(np.zeros((25, 3)))


def test_kinetics_mapping_order_scores_and_normalisation():
    rng = np.random.default_rng(3)
    w, h = 640, 480
    px = np.stack([rng.uniform(10, w - 10, 33), rng.uniform(10, h - 10, 33)], -1).astype(np.float32)
    vis = rng.uniform(0.5, 1, 33).astype(np.float32)
    names = {"nose": 0, "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16, "left_shoulder": 11,
             "left_elbow": 13, "left_wrist": 15, "right_hip": 24, "right_knee": 26, "right_ankle": 28,
             "left_hip": 23, "left_knee": 25, "left_ankle": 27, "right_eye": 5, "left_eye": 2, "right_ear": 8,
             "left_ear": 7}
    k = mediapipe_to_kinetics18(px, vis, w, h)
    assert k.shape == (18, 3)
    for name, i in names.items():
        np.testing.assert_allclose(k[KINETICS18.index(name)], [*px[i], vis[i]], atol=1e-4)
    np.testing.assert_allclose(k[1], [*px[[11, 12]].mean(0), vis[[11, 12]].min()], atol=1e-4)
    # outside the image or below min_score -> (0, 0, 0), like an undetected OpenPose joint
    px2, vis2 = px.copy(), vis.copy()
    px2[27] = (-5, 100)
    vis2[28] = 0.05
    k2 = mediapipe_to_kinetics18(px2, vis2, w, h)
    assert not k2[KINETICS18.index("left_ankle")].any() and not k2[KINETICS18.index("right_ankle")].any()
    n = normalize_kinetics(k2, w, h)
    np.testing.assert_allclose(n[0, :2], px[0] / [w, h] - 0.5, atol=1e-6)
    assert not n[KINETICS18.index("left_ankle")].any()
    assert n[0, 1] == -normalize_kinetics(k2, w, h, flip_y=True)[0, 1]


def test_root_translation_recovers_a_synthetic_camera():
    rng = np.random.default_rng(4)
    w, h, hfov = 1280, 720, 70.0
    f = 0.5 * w / np.tan(np.radians(hfov) / 2)
    world = _random_pose(rng, (3,)) * 0.5
    t = np.array([[0.3, -0.2, 3.0], [-0.5, 0.1, 2.0], [0.0, 0.0, 4.5]])  # MediaPipe camera axes
    cam = world + t[:, None, :]
    norm = np.stack([cam[..., 0] / cam[..., 2] * f / w + 0.5, cam[..., 1] / cam[..., 2] * f / h + 0.5], -1)
    est = estimate_root_translation(world, norm, w, h, hfov_deg=hfov)
    np.testing.assert_allclose(est, mp_world_to_ntu_axes(t), atol=1e-3)
    np.testing.assert_allclose(estimate_root_translation(world[1], norm[1], w, h, hfov_deg=hfov), est[1], atol=1e-5)
    none = estimate_root_translation(world[0], norm[0], w, h, visibility=np.zeros(33))
    assert not none.any()


# -------------------------------------------------------------------------------------------------------------------
# (d) person slots

def _walkers(t: int) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0.2 + 0.005 * t, 0.5]), np.array([0.8 - 0.005 * t, 0.5])


def test_slots_keep_identity_when_detection_order_changes():
    slots = PersonSlots(2)
    for t in range(40):
        a, b = _walkers(t)
        dets = [b, a] if t % 3 == 2 else [a, b]  # the detector's order is arbitrary
        res = slots.update(dets)
        assert res.track_ids == (0, 1)
        assert np.allclose(dets[res.detections[0]], a) and np.allclose(dets[res.detections[1]], b)


def test_slots_absent_person_is_zeros_and_comes_back():
    slots = PersonSlots(2, max_missed=5)
    for t in range(5):
        slots.update(list(_walkers(t)))
    a, b = _walkers(5)
    res = slots.update([b])  # person A missing for a moment
    assert res.detections == (None, 0) and res.track_ids == (None, 1)
    joints = arrange(res, [np.ones((25, 3))], (25, 3))
    assert joints.shape == (2, 25, 3) and not joints[0].any() and joints[1].all()
    res = slots.update([b, _walkers(6)[0]])
    assert res.detections == (1, 0) and res.track_ids == (0, 1)  # same slot, same track


def test_slots_leave_enter_and_promotion():
    slots = PersonSlots(2, max_missed=3)
    for t in range(5):
        slots.update(list(_walkers(t)))
    b = _walkers(5)[1]
    for _ in range(3):
        res = slots.update([b])
        assert res.detections == (None, 0)
    res = slots.update([b])  # A missed more than 3 frames: slot 0 freed, B promoted to slot 0 (the main body)
    assert res.detections == (0, None) and res.track_ids == (1, None)
    res = slots.update([b, np.array([0.1, 0.4])])  # a newcomer gets the free slot and a new track id
    assert res.detections == (0, 1) and res.track_ids == (1, 2)
    res = slots.update([])
    assert res.detections == (None, None)
    assert arrange(res, [], (25, 3)).shape == (2, 25, 3)


def test_slots_more_people_than_slots_keep_the_best_scored():
    slots = PersonSlots(2)
    res = slots.update([[0.1, 0.5], [0.5, 0.5], [0.9, 0.5]], scores=[0.2, 0.9, 0.8])
    assert res.detections == (1, 2)
    res = slots.update([[0.9, 0.5], [0.5, 0.5], [0.1, 0.5]], scores=[0.8, 0.9, 0.99])
    assert res.detections == (1, 0)  # tracks win over a better-scored stranger when slots are full
    slots.reset()
    assert slots.track_ids == (None, None)


# -------------------------------------------------------------------------------------------------------------------
# (e) bad inputs

def test_bad_frames_give_empty_results_or_clean_errors():
    with PoseEstimator(mode="video") as est:
        assert est.process(np.zeros((480, 640, 3), np.uint8), 0.0) == []  # black frame
        assert est.process(np.zeros((1, 1, 3), np.uint8), 0.0) == []  # 1 pixel, repeated timestamp
        assert est.process(np.zeros((0, 0, 3), np.uint8), -1.0) == []  # empty, timestamp going back
        assert est.process(np.zeros((48, 64), np.uint8), None) == []  # gray is accepted
        assert est.process(np.zeros((48, 64, 4), np.uint8), 0.5) == []  # BGRA is accepted
        for bad in (np.zeros((48, 64, 3), np.float64), np.zeros((48, 64, 5), np.uint8), np.zeros(10, np.uint8),
                    [[0, 0], [0, 0]]):
            with pytest.raises(InputFileError):
                est.process(bad, 1.0)
        assert est.process(np.zeros((48, 64, 3), np.uint8)[:, ::-1], 2.0) == []  # non-contiguous view
    with pytest.raises(RuntimeError):
        est.process(np.zeros((48, 64, 3), np.uint8))


def test_bad_files_raise_input_file_error(tmp_path, monkeypatch):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    for path in (text, tmp_path / "missing.png", tmp_path):
        with pytest.raises(InputFileError):
            load_image(path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError):
        load_image(empty)
    fake_video = tmp_path / "clip.avi"
    fake_video.write_text("hello")
    for path in (fake_video, tmp_path / "missing.mp4"):
        with pytest.raises(InputFileError):
            iter_video_frames(path)
        with pytest.raises(InputFileError):
            extract_skeletons(path)
    # model files: missing, not a zip, a zip without the two models; also through the environment variable
    bad_zip = tmp_path / "other.task"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.writestr("readme.txt", "x")
    for path in (tmp_path / "nope.task", text, bad_zip):
        with pytest.raises(InputFileError, match=str(path.name)):
            PoseEstimator(path)
    monkeypatch.setenv(MODEL_ENV_VAR, str(bad_zip))
    with pytest.raises(InputFileError, match="other.task"):
        PoseEstimator()
    # a zip that has the right names but garbage inside is refused by MediaPipe, reported the same way
    junk = tmp_path / "junk.task"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("pose_detector.tflite", b"junk")
        zf.writestr("pose_landmarks_detector.tflite", b"junk")
    with pytest.raises(InputFileError, match="junk.task"):
        PoseEstimator(junk)
    with pytest.raises(ValueError):
        PoseEstimator(mode="live")


def test_environment_variable_selects_the_model(monkeypatch):
    monkeypatch.setenv(MODEL_ENV_VAR, str(default_model_path()))
    assert resolve_model_path() == default_model_path()
    assert os.environ[MODEL_ENV_VAR]
