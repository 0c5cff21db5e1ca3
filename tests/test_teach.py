"""cognn.teach: features of whole clips equal what the continual model's head sees when stepping; a new head stays
exact; cognn-teach learns from a folder, caches pose and features, extends a model with --add, and its result loads
like any checkpoint."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cognn.teach import features as F
from cognn.teach.augment import augment_clip, mirror_pairs
from cognn.teach.build import load_base, with_head
from cognn.teach.head import fit_head

REPO = Path(__file__).resolve().parents[1]
KINETICS = REPO / "weights" / "kinetics400_costgcn_original.safetensors"
SHARED = REPO.parent / "shared" / "data"
NTU = SHARED / "ntu" / "skeletons"


@pytest.fixture(scope="module")
def base():
    torch.set_num_threads(1)
    model, _ = load_base(KINETICS, clip_frames=80)
    return model


def _clip(t: int, persons: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((3, t, 18, 2), np.float32)
    x[:2, :, :, :persons] = rng.normal(0, 0.15, (2, t, 18, persons))
    x[2, :, :, :persons] = 1.0
    return x


def _stepped_positions(model, x: np.ndarray) -> np.ndarray:
    got = []
    orig = model._pool_step

    def hook(f, rep, pre):
        got.append(f.clone())
        return orig(f, rep, pre)

    model.clean_state()
    model._pool_step = hook
    try:
        with torch.no_grad():
            for t in range(x.shape[1]):
                model.forward_step(torch.from_numpy(x[None, :, t]))
    finally:
        del model._pool_step
        model.clean_state()
    return torch.cat(got).numpy()


@pytest.mark.parametrize("persons", [1, 2])
def test_positions_equal_the_continual_step(base, persons):
    x = _clip(360, persons)
    pos = F.positions(base, x)
    stepped = _stepped_positions(base, x)
    assert len(stepped) == (360 - base.delay + base.pool_padding * base.stride + base.stride - 1) // base.stride \
        or len(stepped) > 0
    np.testing.assert_allclose(pos[:len(stepped)], stepped, atol=2e-5)
    frames = F.answer_frames(base, len(stepped))
    assert frames[0] == base._backbone_geometry()[0] - 1 - base._backbone_geometry()[1]
    assert np.all(np.diff(frames) == base.stride)


def test_blank_slots_and_long_clips_are_exact(base):
    for t in (401, 1702):
        x = _clip(t, 1, seed=t)
        fast = F.positions(base, x)
        full = F._positions_once(base, torch.from_numpy(x)[None])[0].numpy()
        np.testing.assert_allclose(fast, full, atol=2e-5)


def test_new_head_step_outputs_equal_features_through_the_head(base):
    rng = np.random.default_rng(3)
    head = fit_head(rng.normal(size=(60, 256)).astype(np.float32), np.repeat(np.arange(3), 20), 3)
    model = with_head(base, head)
    x = _clip(300, 1, seed=5)
    feats = F.step_features(F.positions(model, x), model.pool_size)
    model.clean_state()
    outs = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y = model.forward_step(torch.from_numpy(x[None, :, t]))
            if y is not None:
                outs.append(y[0].numpy())
    assert outs, "the model answered"
    np.testing.assert_allclose(np.stack(outs), head.logits(feats[:len(outs)]), atol=1e-4)


def test_head_learns_separable_classes_and_stays_linear():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (4, 16))
    x = np.concatenate([c + rng.normal(0, 1, (50, 16)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(4), 50)
    head = fit_head(x, y, 5)  # class 4 has no sample: silent
    assert (head.logits(x).argmax(1) == y).mean() > 0.95
    assert head.probabilities(x)[:, 4].max() < 1e-6


def test_augment_mirror_swaps_sides_and_keeps_unseen_joints_zero():
    perm = mirror_pairs("kinetics18")
    assert perm[2] == 5 and perm[5] == 2 and perm[0] == 0
    x = _clip(90).transpose(1, 0, 2, 3).copy()  # (T, 3, V, M)
    x[:, :, 7] = 0  # an unseen joint
    out, src = augment_clip(x, np.random.default_rng(1))
    assert out.shape[1:] == x.shape[1:] and len(src) == len(out)
    unseen = out[:, 2] == 0
    assert np.all(out[:, 0][unseen] == 0) and np.all(out[:, 1][unseen] == 0)
    assert np.abs(out[:, :2]).max() <= 0.5 + 1e-6


@pytest.mark.skipif(not NTU.is_dir(), reason="../shared/data/ntu is absent (the NTU skeleton samples)")
def test_cognn_teach_folder_cache_and_add(tmp_path, capsys):
    from cognn.checkpoints import read_checkpoint
    from cognn.cli.teach import main
    from cognn.online import OnlineRecognizer

    folder = tmp_path / "acts"
    for name, files in {"drink": ["S001C001P001R001A001.skeleton"], "brush": ["S002C001P003R001A003.skeleton"],
                        "reading": ["S001C001P001R001A011.skeleton"]}.items():
        (folder / name).mkdir(parents=True)
        for f in files:
            shutil.copy(NTU / f, folder / name / f)
    out = tmp_path / "m.safetensors"
    t = time.perf_counter()
    assert main([str(folder), "-o", str(out), "--base", "kinetics400", "--copies", "2"]) == 0
    first = time.perf_counter() - t
    said = capsys.readouterr()
    assert "no 'none' folder" in said.err
    ck = read_checkpoint(out)
    assert ck.meta["classes"] == ["none", "brush", "drink", "reading"]
    assert ck.meta["live"]["alarms"]["thresholds"]["drink"] >= 0.3
    assert (out.parent / "m.teach.npz").is_file()
    assert (folder / ".cognn-cache" / "features").is_dir()
    # a second run with one clip more: the first clips' features come from the cache
    shutil.copy(NTU / "S001C001P001R001A050.skeleton", folder / "reading" / "more.skeleton")
    cached = len(list((folder / ".cognn-cache" / "features").glob("pos-*.npy")))
    assert main([str(folder), "-o", str(out), "--base", "kinetics400", "--copies", "2"]) == 0
    assert len(list((folder / ".cognn-cache" / "features").glob("pos-*.npy"))) == cached + 3  # the new clip's 3 copies
    # the same content under another name costs nothing
    shutil.copy(NTU / "lf_variant" / "S001C001P001R001A001.skeleton", folder / "drink" / "again.skeleton")
    assert main([str(folder), "-o", str(out), "--base", "kinetics400", "--copies", "2"]) == 0
    assert len(list((folder / ".cognn-cache" / "features").glob("pos-*.npy"))) == cached + 3
    # --add: another action on top of the taught model, without the first folder
    more = tmp_path / "more" / "pancake"
    more.mkdir(parents=True)
    shutil.copy(SHARED / "kinetics" / "--33Lscn6sk.json", more / "a.json")
    out2 = tmp_path / "m2.safetensors"
    assert main([str(more.parent), "--add", str(out), "-o", str(out2), "--base", "kinetics400",
                 "--copies", "1"]) == 0
    assert read_checkpoint(out2).meta["classes"] == ["none", "brush", "drink", "reading", "pancake"]
    rec = OnlineRecognizer.from_weights(out2)
    assert rec.classes == ["none", "brush", "drink", "reading", "pancake"]
    assert first < 120


def test_cognn_teach_refuses_what_it_cannot_use(tmp_path, capsys):
    from cognn.cli.teach import main

    assert main([str(tmp_path / "missing"), "-o", str(tmp_path / "x.safetensors"), "--base", "kinetics400"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty" / "a").mkdir(parents=True)
    assert main([str(tmp_path / "empty"), "-o", str(tmp_path / "x.safetensors"), "--base", "kinetics400"]) == 2
    assert "holds no sub-folder with clips" in capsys.readouterr().err
    model = tmp_path / "plain.safetensors"
    shutil.copy(KINETICS, model)
    (tmp_path / "one" / "a").mkdir(parents=True)
    (tmp_path / "one" / "a" / "x.json").write_text("{}")
    assert main([str(tmp_path / "one"), "--add", str(model), "-o", str(tmp_path / "y.safetensors"),
                 "--base", "kinetics400"]) == 2
    assert "no teaching record" in capsys.readouterr().err


def test_a_taught_class_the_base_knows_by_name_starts_from_the_base_row():
    from cognn.teach.head import class_key, prior_from

    assert class_key("Push-ups") == class_key("push_up") == class_key("push up") == "pushup"
    assert class_key("sit_up") == class_key("situp") and class_key("press") == "press"
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 8)).astype(np.float32), np.array([0.1, 0.2, 0.3], np.float32)
    prior = prior_from(w, b, ["none", "push up", "squat"], ["none", "wave", "push_ups"])
    assert prior is not None
    head, rows = prior
    assert rows.tolist() == [True, False, True]
    np.testing.assert_array_equal(head.weight[2], w[1])
    assert head.bias[0] == b[0] and not head.weight[1].any()
    assert prior_from(w, b, ["a", "b", "c"], ["none", "wave"]) is None
    # a class with a prior row and few windows keeps the base's voice: on the base's own separable features, the
    # taught head with the prior names the prior's class where the base does
    x = rng.normal(size=(600, 8))
    y = np.argmax(x @ w.T + b, axis=1)
    few = np.concatenate([np.flatnonzero(y != 1)[:300], np.flatnonzero(y == 1)[:2]])
    labels = np.where(y[few] == 1, 2, np.where(y[few] == 2, 1, 0))  # base order -> taught order
    with_prior = fit_head(x[few], labels, 3, l2=1e-2, prior=head, prior_rows=rows)
    plain = fit_head(x[few], labels, 3, l2=1e-2)
    test = y == 1
    named = [(h.probabilities(x[test]).argmax(1) == 2).mean() for h in (with_prior, plain)]
    assert named[0] > 0.65 and named[0] > named[1] + 0.1, named  # measured 0.72 vs 0.52


def test_augmented_copies_are_cached_by_how_they_were_drawn(base, tmp_path):
    """A copy drawn with other augmentation ranges is computed anew, never served from the cache of another; the clip
    itself (copy 0) is shared."""
    from cognn.teach.augment import AugmentConfig
    from cognn.teach.learn import LabelledClip, collect_windows

    x = _clip(200).transpose(1, 0, 2, 3)  # (T, C, V, M)
    clip = LabelledClip("a", x, np.ones(200, np.int64))
    cache = tmp_path / "features"
    other_ranges = AugmentConfig(aspect=(0.9, 1.1))
    first = collect_windows(base, [clip], copies=1, convention="stgcn-kinetics-feeder", cache=cache)
    assert len(list(cache.glob("pos-*.npy"))) == 2
    other = collect_windows(base, [clip], copies=1, convention="stgcn-kinetics-feeder", cache=cache,
                            augment=other_ranges)
    assert len(list(cache.glob("pos-*.npy"))) == 3  # the new copy only
    np.testing.assert_array_equal(first.features[first.original], other.features[other.original])
    assert not np.allclose(first.features[~first.original][:5], other.features[~other.original][:5])


def test_generated_motion_joins_the_actions_the_generator_knows_by_name():
    """Taught actions named like a cognn.synth class get generated clips of it (the same every run, so their features
    are cached), labelled with the action; an event's onset splits none from the event; other names, `none` and other
    layouts get none."""
    from cognn.synth.exercises import EVENTS, GENERATED
    from cognn.teach.generated import generated_clips, generated_name

    assert generated_name("Squats") == "squat" and generated_name("bicep curls") == "bicep_curl"
    assert generated_name("pancake") is None and generated_name("none") is None
    assert "fall" in EVENTS and "squat" in GENERATED
    classes = ["none", "Squats", "pancake", "fall"]
    clips = generated_clips(classes, classes, "kinetics18", per_class=2)
    assert [c.name for c in clips] == ["generated/squat/0", "generated/squat/1", "generated/fall/0",
                                       "generated/fall/1"]
    assert all(c.weight == 0.5 and c.skeleton.shape == (300, 3, 18, 2) for c in clips)
    assert np.isfinite(np.stack([c.skeleton for c in clips])).all()
    assert (clips[0].frame_labels == 1).all()
    fall = clips[2].frame_labels
    onset = int(np.argmax(fall == 3))
    assert onset > 0 and (fall[:onset] == 0).all() and (fall[onset:onset + 75] == 3).all()
    assert (fall[onset + 75:] == -1).all()
    again = generated_clips(["Squats"], classes, "kinetics18", per_class=2)
    assert [c.digest() for c in again] == [c.digest() for c in clips[:2]]
    assert generated_clips(classes, classes, "ntu25") == [] and generated_clips(classes, classes, "kinetics18",
                                                                                per_class=0) == []


def test_a_taught_fall_is_an_alarm_the_body_confirms_and_a_plank_is_held():
    from cognn.live.alarms import AlarmConfig
    from cognn.live.falls import FALL_CONFIRM_S
    from cognn.teach.folder import _alarm_roles

    classes = ["none", "Falls", "push_ups", "plank", "squat"]
    roles = _alarm_roles(classes, {})
    assert roles == {"alarm": ["Falls"], "confirm": {"Falls": FALL_CONFIRM_S},
                     "by_body": {"Falls": ["push_ups", "plank"]}, "hold": ["plank"]}
    policy = AlarmConfig.from_dict({"default_threshold": 0.3, **roles})
    policy.check_classes(classes)
    assert policy.by_body == {"Falls": ("push_ups", "plank")}
    assert _alarm_roles(["none", "wave"], {}) == {} and "hold" not in _alarm_roles(classes, {"plank": "push"})
    from cognn.teach.folder import _ONCE

    assert {"fall", "sit_down", "stand_up", "plank"} <= set(_ONCE)  # never detected as repetitive


@pytest.mark.skipif(not NTU.is_dir(), reason="../shared/data/ntu is absent (the NTU skeleton samples)")
def test_cognn_teach_adds_generated_motion_and_keeps_thresholds_to_the_takes(tmp_path, capsys):
    from cognn.checkpoints import read_checkpoint
    from cognn.cli.teach import main

    folder = tmp_path / "acts"
    for name, f in {"squat": "S001C001P001R001A001.skeleton", "none": "S001C001P001R001A011.skeleton"}.items():
        (folder / name).mkdir(parents=True)
        shutil.copy(NTU / f, folder / name / f)
    out = tmp_path / "m.safetensors"
    assert main([str(folder), "-o", str(out), "--base", "kinetics400", "--copies", "1", "--generated", "2"]) == 0
    assert "squat: 2 generated clips each" in capsys.readouterr().err
    meta = read_checkpoint(out).meta
    assert meta["classes"] == ["none", "squat"] and meta["metrics"]["generated_per_class"] == 2
    assert meta["live"]["alarms"]["repetitive"] == {"squat": "squat"}  # a fitness exercise's own signal, by name
    cached = len(list((folder / ".cognn-cache" / "features").glob("pos-*.npy")))
    assert cached == 2 * 2 + 2  # two takes with one copy each, two generated clips
    assert main([str(folder), "-o", str(out), "--base", "kinetics400", "--copies", "1", "--generated", "0"]) == 0
    assert "generated clips" not in capsys.readouterr().err
    assert read_checkpoint(out).meta["metrics"]["generated_per_class"] == 0
    assert main([str(folder), "-o", str(out), "--generated", "-1"]) == 2
    assert "expected at least 0 (a whole number), got -1" in capsys.readouterr().err
