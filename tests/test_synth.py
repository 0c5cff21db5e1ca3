"""The motion generator: shapes, determinism, a rigid body, NTU conventions, and classes that really differ."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import shared_data

from cognn.data.store import open_dataset
from cognn.data.transforms import pre_normalization
from cognn.layouts import NTU25
from cognn.synth import CLASSES, generate_clip, generate_dataset, generate_person
from cognn.synth.body import BodyPose, BodyShape, J, bone_lengths, forward_kinematics, limb_direction, two_bone_ik
from cognn.synth.motions import NONE_KINDS, none
from cognn.synth.noise import LEG_JOINTS, dropouts, hide_legs


def test_classes_cover_the_issue():
    assert CLASSES[0] == "none"
    for name in ("wave_left", "wave_right", "clap", "jumping_jacks", "squat", "arm_raise", "punch", "march", "bow"):
        assert name in CLASSES
    assert len(set(CLASSES)) == len(CLASSES) == 10


def test_clip_shape_dtype_and_slots():
    rng = np.random.default_rng(0)
    clip = generate_clip("clap", rng, 40)
    assert clip.shape == (3, 40, 25, 2) and clip.dtype == np.float32
    assert np.isfinite(clip).all()
    assert np.abs(clip[..., 1]).sum() == 0  # one person: the second slot is empty
    two = generate_clip("wave_right", np.random.default_rng(1), 30, two_person=1.0)
    assert (np.abs(two).sum(axis=(0, 1, 2)) > 0).all()  # both slots filled
    ref = generate_clip("bow", np.random.default_rng(2), 30, reference_frame=True)
    assert ref.shape == (3, 31, 25, 2)


def test_unknown_class_and_bad_length_are_refused():
    with pytest.raises(ValueError, match="unknown gesture class"):
        generate_clip("dance", np.random.default_rng(0), 10)
    with pytest.raises(ValueError, match="frames"):
        generate_clip("clap", np.random.default_rng(0), 0)


def test_deterministic_with_a_seed():
    a = generate_clip("punch", np.random.default_rng(7), 50, two_person=0.5)
    b = generate_clip("punch", np.random.default_rng(7), 50, two_person=0.5)
    c = generate_clip("punch", np.random.default_rng(8), 50, two_person=0.5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("label", CLASSES)
def test_bone_lengths_constant_within_a_clip(label):
    joints = generate_person(label, np.random.default_rng(3), 90)
    lengths = bone_lengths(joints)  # (T, 24)
    assert lengths.min() > 0.01
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), atol=1e-6)


def test_bodies_vary_between_clips():
    a = bone_lengths(generate_person("none", np.random.default_rng(0), 5))[0]
    b = bone_lengths(generate_person("none", np.random.default_rng(1), 5))[0]
    assert np.abs(a - b).max() > 0.005


def test_two_bone_ik_reaches_targets_in_reach():
    target = np.array([[0.1, -0.2, -0.3], [0.0, 0.3, -0.1], [0.3, 0.0, 0.0]])
    first, second = two_bone_ik(target, 0.25, 0.23, np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(0.25 * first + 0.23 * second, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0)


def test_limb_direction_axes():
    # left arm out to the side points to -x (the person's left when facing the sensor), forward is -z, up is +y
    np.testing.assert_allclose(limb_direction(-1.0, np.pi / 2, 0.0)[0], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(limb_direction(1.0, 0.0, np.pi / 2)[0], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(limb_direction(1.0, np.pi, 0.0)[0], [0, 1, 0], atol=1e-12)


def test_left_right_and_y_up_match_a_real_ntu_skeleton():
    from cognn.data.ntu import read_ntu_skeleton, to_array

    real = to_array(read_ntu_skeleton(shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton")))
    frame = real[:, 0, :, 0].T  # (25, 3) of a person facing the Kinect
    gen = generate_clip("none", np.random.default_rng(4), 10)[:, 0, :, 0].T
    for f in (frame, gen):
        assert f[J["left_shoulder"], 0] < f[J["right_shoulder"], 0]  # the person's left at smaller x
        assert f[J["left_hip"], 0] < f[J["right_hip"], 0]
        assert f[J["head"], 1] > f[J["spine_mid"], 1] > f[J["left_knee"], 1] > f[J["left_foot"], 1]  # y up
        assert f[J["spine_base"], 2] > 1.0  # z: metres away from the sensor
    # and the generated body is about as big as the real one
    real_len = bone_lengths(frame)
    gen_len = bone_lengths(gen)
    assert 0.6 < gen_len.sum() / real_len.sum() < 1.6


@pytest.mark.parametrize("label,hand,other", [("wave_left", "left_hand", "right_hand"),
                                              ("wave_right", "right_hand", "left_hand")])
def test_wave_raises_the_named_hand(label, hand, other):
    for seed in range(4):
        joints = generate_person(label, np.random.default_rng(seed), 90)
        up = joints[:, J[hand], 1] - joints[:, J["spine_shoulder"], 1]
        down = joints[:, J[other], 1] - joints[:, J["spine_shoulder"], 1]
        assert np.median(up) > 0.1 > np.median(down)
        # and that hand is on the person's own side: NTU's left_* is the person's left
        side = joints[:, J[hand], 0] - joints[:, J["spine_base"], 0]
        assert np.median(side) * (-1 if hand.startswith("left") else 1) > -0.05


def test_facing_yaw_is_within_30_degrees():
    for seed in range(10):  # (the "none" class may also turn or walk around; clapping people face one way)
        joints = generate_person("clap", np.random.default_rng(seed), 30)
        across = joints[:, J["right_shoulder"]] - joints[:, J["left_shoulder"]]
        yaw = np.degrees(np.arctan2(-across[:, 2], across[:, 0]))
        assert np.abs(yaw).max() < 42  # ±30° facing, plus sway and a twist of the chest


def _features(clip: np.ndarray) -> np.ndarray:
    """Simple per-clip statistics of person 0 after the reference preprocessing: mean pose and joint motion."""
    x = pre_normalization(clip)[..., 0]  # (3, T, V)
    return np.concatenate([x.mean(1).ravel(), x.std(1).ravel(), np.abs(np.diff(x, axis=1)).mean(1).ravel()])


def test_classes_differ_measurably():
    """A nearest-centroid classifier on plain statistics tells the generated classes apart far above chance."""
    rng = np.random.default_rng(5)
    train = {c: np.stack([_features(generate_clip(c, rng, 90, two_person=0)) for _ in range(8)]) for c in CLASSES}
    mean = np.concatenate(list(train.values())).mean(0)
    std = np.concatenate(list(train.values())).std(0) + 1e-6
    centroids = np.stack([((f - mean) / std).mean(0) for f in train.values()])
    hits = total = 0
    for k, c in enumerate(CLASSES):
        for _ in range(5):
            f = (_features(generate_clip(c, rng, 90, two_person=0)) - mean) / std
            hits += int(np.argmin(((centroids - f) ** 2).sum(1)) == k)
            total += 1
    assert hits / total > 0.5  # chance is 0.1


def test_partial_visibility_and_dropouts():
    rng = np.random.default_rng(6)
    joints = generate_person("march", rng, 60)
    zero = hide_legs(joints, rng, "zero")
    assert np.all(zero[:, list(LEG_JOINTS)] == 0) and np.array_equal(zero[:, J["head"]], joints[:, J["head"]])
    guessed = hide_legs(joints, rng, "guess")
    knee = J["left_knee"]
    # a guessed leg barely follows the real knee lifts
    assert np.ptp(guessed[:, knee, 1] - guessed[:, 0, 1]) < np.ptp(joints[:, knee, 1] - joints[:, 0, 1])
    with pytest.raises(ValueError):
        hide_legs(joints, rng, "blur")
    dropped = dropouts(joints, rng, bursts=2, keep_first=5)
    empty = np.abs(dropped).sum(axis=(1, 2)) == 0
    assert empty.any() and not empty[:5].any()


def test_forward_kinematics_default_pose_is_upright():
    joints = forward_kinematics(BodyShape(), BodyPose(2))
    assert joints.shape == (2, 25, 3)
    assert joints[0, J["head"], 1] > joints[0, J["neck"], 1] > joints[0, J["spine_shoulder"], 1]
    assert joints[0, J["left_ankle"], 1] < -0.7
    np.testing.assert_allclose(bone_lengths(joints)[0, 0], BodyShape().spine_lower)


def test_generate_dataset_writes_a_normalised_dataset(tmp_path):
    path = generate_dataset(tmp_path / "g.h5", 1, 20, seed=3)
    ds = open_dataset(path)
    assert ds.classes == list(CLASSES)
    assert ds.shape == (len(CLASSES), 3, 20, NTU25.num_joints, 2)
    assert sorted(ds.labels.tolist()) == list(range(len(CLASSES)))
    assert ds.layout.name == "ntu25" and ds.domain == "camera3d"
    assert ds.preprocessing == "2s-agcn-pre-normalization"
    assert ds.attrs["seed"] == 3
    x = ds.sample(0).data
    present = np.abs(x[..., 0]).sum(axis=(0, 2)) > 0
    np.testing.assert_allclose(x[:, present, J["spine_mid"], 0], 0.0, atol=1e-5)  # centred on the spine
    again = open_dataset(generate_dataset(tmp_path / "h.h5", 1, 20, seed=3))
    np.testing.assert_array_equal(ds.sample(3).data, again.sample(3).data)
    ds.close()
    again.close()


@pytest.mark.parametrize("kind", list(NONE_KINDS))
def test_every_kind_of_none_is_a_rigid_upright_body(kind):
    shape = BodyShape()
    joints = forward_kinematics(shape, none(np.random.default_rng(11), 90, 30.0, shape, kind=kind))
    assert np.isfinite(joints).all()
    lengths = bone_lengths(joints)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), atol=1e-6)
    assert (joints[:, J["head"], 1] > joints[:, J["spine_base"], 1]).all()  # nobody ends upside down


def test_none_kinds_do_what_they_say():
    shape = BodyShape()
    pose = lambda kind, seed=0: forward_kinematics(shape, none(np.random.default_rng(seed), 90, 30.0, shape,  # noqa
                                                               kind=kind))
    sit, stand = pose("sit"), pose("idle")
    assert sit[:, J["spine_base"], 1].mean() < stand[:, J["spine_base"], 1].mean() - 0.25  # hips at seat height
    walk = pose("walk_across")
    assert np.linalg.norm(walk[-1, J["spine_base"], [0, 2]] - walk[0, J["spine_base"], [0, 2]]) > 1.0  # 3 s walking
    flow = pose("flow")  # free movement: the wrists travel far, and not along one repeating path
    assert np.linalg.norm(np.diff(flow[:, J["right_wrist"]], axis=0), axis=1).sum() > 0.8
    with pytest.raises(ValueError, match="unknown kind"):
        none(np.random.default_rng(0), 10, kind="juggle")


def test_generate_dataset_repeats_a_class(tmp_path):
    ds = open_dataset(generate_dataset(tmp_path / "r.h5", 2, 12, seed=1, repeat={"none": 3}))
    with ds:
        counts = np.bincount(ds.labels, minlength=len(CLASSES))
        assert counts[0] == 6 and (counts[1:] == 2).all()
        assert ds.attrs["repeat"] == "none:3"
    with pytest.raises(ValueError, match="repeat"):
        generate_dataset(tmp_path / "bad.h5", 1, 12, seed=1, repeat={"dance": 2})
