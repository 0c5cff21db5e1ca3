"""The online pipeline: frame sources (cognn.sources) and the recognizer (cognn.online) on real files."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import randomise, shared_data

from cognn.data.kinetics import read_kinetics_json
from cognn.data.ntu import read_ntu_skeleton
from cognn.data.ntu import to_array as ntu_to_array
from cognn.data.store import DatasetWriter, save_recording
from cognn.data.transforms import OnlineNormalizer
from cognn.errors import CognnError, InputFileError
from cognn.models import build
from cognn.online import OnlineRecognizer, UntrainedWeightsWarning, preprocess_mode
from cognn.sources import expand_inputs, open_source

torch.set_num_threads(1)
CLIP = 84  # a short receptive field keeps the tests fast: costgcn_mod with clip_frames=84 sees 84 frames


@pytest.fixture(scope="module")
def small_model():
    """A randomised CoST-GCN* with an 84-frame receptive field and 5 classes."""
    torch.manual_seed(0)
    return randomise(build("costgcn_mod", num_classes=5, clip_frames=CLIP), seed=1, calibrate_frames=CLIP)


def _ntu(name: str = "S001C001P001R001A001.skeleton"):
    return shared_data("ntu", "skeletons", name)


# ---------------------------------------------------------------------------------------------------------------------
# sources

def test_ntu_source_frames_timestamps_and_drawing():
    path = _ntu()
    skel = read_ntu_skeleton(path)
    with open_source(path) as src:
        assert (src.layout.name, src.domain, src.fps, src.num_frames) == ("ntu25", "camera3d", 30.0, skel.num_frames)
        frames = list(src)
    assert [f.index for f in frames] == list(range(skel.num_frames))
    assert frames[30].timestamp == pytest.approx(1.0)
    expected = ntu_to_array(skel).transpose(1, 0, 2, 3)
    np.testing.assert_array_equal(np.stack([f.skeleton for f in frames]), expected)
    f = frames[0]
    assert f.skeleton.shape == (3, 25, 2) and f.skeleton.dtype == np.float32
    assert f.persons == 1 and f.image is None and f.pose_ms is None
    assert f.draw_px.shape == (2, 25, 2)
    body = skel.frames[0][0].joints
    np.testing.assert_allclose(f.draw_px[0], body[:, 5:7], rtol=1e-6)  # colorX, colorY of the file
    assert np.isnan(f.draw_px[1]).all()  # the absent second person


def test_lf_variant_reads_like_the_crlf_original():
    a = [f.skeleton for f in open_source(_ntu())]
    lf = shared_data("ntu", "skeletons", "lf_variant", "S001C001P001R001A001.skeleton")
    b = [f.skeleton for f in open_source(lf)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))


def test_two_person_ntu_file_fills_both_slots():
    frames = list(open_source(_ntu("S001C001P001R001A050.skeleton")))
    assert len(frames) == 74
    assert all(f.persons == 2 for f in frames)
    assert all(np.abs(f.skeleton[..., 1]).sum() > 0 for f in frames)


def test_kinetics_source_is_image2d_with_y_down_and_zeros_where_unseen():
    path = shared_data("kinetics", "--33Lscn6sk.json")
    clip = read_kinetics_json(path)
    with open_source(path, layout="kinetics18") as src:
        assert (src.domain, src.num_frames) == ("image2d", 189)
        frames = list(src)
    assert len(frames) == 189
    first = clip.frames[0]
    best = max(first.persons, key=lambda p: p.score.sum())
    seen = best.score > 0
    np.testing.assert_allclose(frames[0].skeleton[0, seen, 0], best.pose[seen, 0] - 0.5, atol=1e-6)
    np.testing.assert_allclose(frames[0].skeleton[1, seen, 0], best.pose[seen, 1] - 0.5, atol=1e-6)
    assert (frames[0].skeleton[:2, ~seen, 0] == 0).all()
    w, h = src.canvas_size
    np.testing.assert_allclose(frames[0].draw_px[0, seen], best.pose[seen] * [w, h], rtol=1e-5)
    # the NTU-derived file has every score 0: nothing is usable, all zeros
    zero = list(open_source(shared_data("kinetics", "S004C002P003R001A055_rgb.json"), layout="kinetics18"))
    assert len(zero) == 76 and all(not f.skeleton[:2].any() for f in zero)


def test_layout_mismatch_and_bad_files_name_the_file(tmp_path):
    with pytest.raises(InputFileError, match="kinetics18.*ntu25"):
        open_source(shared_data("kinetics", "--33Lscn6sk.json"))
    bad = tmp_path / "x.skeleton"
    bad.write_text("12\nnot a number\n")
    with pytest.raises(InputFileError, match="x.skeleton"):
        open_source(bad)
    with pytest.raises(InputFileError, match="unsupported file type '.txt'"):
        open_source(tmp_path / "notes.txt")
    with pytest.raises(InputFileError, match="not found"):
        open_source(tmp_path / "missing.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(InputFileError, match="fake.mp4"):
        open_source(fake)


def test_recording_source_round_trip_and_seek(tmp_path):
    rng = np.random.default_rng(0)
    skel = rng.normal(size=(40, 3, 25, 2)).astype(np.float32)
    skel[:, :, :, 1] = 0
    ts = np.arange(40) / 25.0
    path = save_recording(tmp_path / "rec.h5", skel, ts, "ntu25", "camera3d", fps=25.0)
    with open_source(path) as src:
        assert (src.fps, src.num_frames) == (25.0, 40)
        frames = list(src)
        np.testing.assert_array_equal(np.stack([f.skeleton for f in frames]), skel)
        assert [f.timestamp for f in frames] == pytest.approx(ts)
        assert all(f.persons == 1 for f in frames)
        assert np.isfinite(frames[0].draw_px[0]).all() and np.isnan(frames[0].draw_px[1]).all()
        src.seek(37)
        assert [f.index for f in src] == [37, 38, 39]


def test_dataset_file_every_sample_is_a_clip(tmp_path):
    path = tmp_path / "data.h5"
    rng = np.random.default_rng(1)
    with DatasetWriter(path, "ntu25", ["a", "b"], num_frames=50) as w:
        for i, length in enumerate((30, 50)):
            x = np.zeros((3, 50, 25, 2), np.float32)
            x[:, :length, :, 0] = rng.normal(size=(3, length, 25))
            w.append(x, i, f"clip{i}")
    specs = expand_inputs([tmp_path])
    assert specs == [f"{path}#0", f"{path}#1"]
    assert [len(list(open_source(s))) for s in specs] == [30, 50]  # the zero padding at the end is not a frame
    assert len(list(open_source(path))) == 30  # a bare path opens sample 0
    with pytest.raises(InputFileError, match="sample 5"):
        open_source(f"{path}#5")


def test_video_source_pose_timestamps_and_seek():
    path = shared_data("video", "S001C001P001R001A001_rgb.avi")
    with open_source(path) as src:
        assert src.domain == "camera3d" and src.canvas_size == (1920, 1080) and src.num_frames == 103
        frames = [src.read() for _ in range(3)]
        src.seek(50)
        later = src.read()
    for i, f in enumerate(frames):
        assert f.index == i and f.timestamp == pytest.approx(i / 30.0, abs=2e-3)
        assert f.image.shape == (1080, 1920, 3) and f.pose_ms > 0
        assert f.skeleton.shape == (3, 25, 2)
    assert frames[0].persons == 1 and np.abs(frames[0].skeleton[..., 0]).sum() > 0
    px = frames[0].draw_px[0]
    assert np.isfinite(px).all() and (px[:, 0] > 0).all() and (px[:, 0] < 1920).all()
    assert later.index == 50 and later.timestamp == pytest.approx(50 / 30.0, abs=2e-3)


def test_skeleton_file_replayed_over_its_video():
    video = shared_data("video", "S001C001P001R001A001_rgb.avi")
    with open_source(_ntu(), skeleton_video=video) as src:
        first = src.read()
        src.seek(40)
        later = src.read()
    assert first.image.shape == (1080, 1920, 3) and later.index == 40 and later.image is not None
    # the file's colour-space joints fall on the person: the head joint is on a non-uniform part of the frame
    x, y = first.draw_px[0, 3].round().astype(int)
    patch = first.image[y - 20:y + 20, x - 20:x + 20]
    assert patch.size and patch.std() > 5


def test_camera_that_cannot_open_says_so():
    with pytest.raises(CognnError, match="camera 97 cannot be opened"):
        open_source(97)


# ---------------------------------------------------------------------------------------------------------------------
# recognizer

def _frames(path=None):
    return list(open_source(path or _ntu()))


def test_predictions_equal_the_regular_model_on_the_normalised_window(small_model):
    """Exactness: once ready, the step prediction is the regular twin on the last 84 normalised frames."""
    frames = _frames()
    rec = OnlineRecognizer(small_model, list("abcde"), top_k=5)
    preds = [rec.step(f.skeleton, f.timestamp, index=f.index) for f in frames]
    regular = build("stgcn_mod", num_classes=5)
    regular.load_state_dict(small_model.state_dict())
    regular.eval()
    norm = OnlineNormalizer("ntu25").transform(np.stack([f.skeleton for f in frames], axis=1))  # (3, T, 25, 2)
    for t in (CLIP - 1, len(frames) - 1):
        window = torch.from_numpy(norm[:, t - CLIP + 1: t + 1])[None]
        with torch.no_grad():
            want = torch.softmax(regular(window), -1)[0].numpy()
        np.testing.assert_allclose(preds[t].probs, want, atol=2e-5)
        assert preds[t].ready


def test_ready_warmup_topk_and_reset(small_model):
    frames = _frames()[:CLIP + 5]
    rec = OnlineRecognizer(small_model, ["w", "x", "y", "z", "v"], top_k=3)
    assert rec.receptive_field == CLIP and rec.frames_to_ready == CLIP
    preds = [rec.step(f.skeleton, f.timestamp, index=f.index) for f in frames]
    assert [p.ready for p in preds] == [False] * (CLIP - 1) + [True] * 6
    assert preds[0].warmup == (1, CLIP) and preds[-1].warmup == (CLIP, CLIP)
    for p in preds:  # warm start: a prediction from the first frame on
        assert len(p.top) == 3 and p.top[0][1] >= p.top[1][1] >= p.top[2][1]
        assert p.probs.sum() == pytest.approx(1.0, abs=1e-5) and p.top[0][1] == pytest.approx(p.probs.max())
        assert p.model_ms > 0 and p.pose_ms is None and p.has_weights and p.persons == 1
    rec.reset()
    again = [rec.step(f.skeleton, f.timestamp, index=f.index) for f in frames[:10]]
    for a, b in zip(again, preds[:10]):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
        assert a.ready == b.ready


def test_cold_start_has_no_prediction_until_the_delay(small_model):
    rec = OnlineRecognizer(small_model, list("abcde"), warm_start=False)
    preds = [rec.step(f.skeleton, f.timestamp, index=f.index) for f in _frames()[:CLIP]]
    assert all(p.top == [] and p.probs is None for p in preds[:-1])
    assert preds[-1].ready and len(preds[-1].top) == 5
    small_model.warm_start = True


def test_frame_shape_and_class_count_are_checked(small_model):
    with pytest.raises(CognnError, match="class names"):
        OnlineRecognizer(small_model, ["a", "b"])
    rec = OnlineRecognizer(small_model, list("abcde"))
    with pytest.raises(CognnError, match=r"\(3, 25, 2\)"):
        rec.step(np.zeros((3, 18, 2), np.float32), 0.0)
    with pytest.raises(CognnError, match="not a continual model"):
        OnlineRecognizer(build("stgcn_mod", num_classes=5), list("abcde"))


def test_from_weights_reads_classes_and_preprocessing(tmp_path, small_model):
    from cognn.checkpoints import save_checkpoint

    path = save_checkpoint(tmp_path / "m.safetensors", small_model,
                           {"classes": ["one", "two", "three", "four", "five"], "data": "test"})
    rec = OnlineRecognizer.from_weights(path, top_k=2)
    assert rec.has_weights and rec.classes[0] == "one" and rec.preprocess == "ntu"
    assert rec.model_name == "costgcn_mod" and rec.receptive_field == CLIP and "m.safetensors" in rec.description
    frames = _frames()[:5]
    ref = OnlineRecognizer(small_model, rec.classes, top_k=2)
    for f in frames:
        a, b = rec.step(f.skeleton, f.timestamp), ref.step(f.skeleton, f.timestamp)
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
    # a regular model name loads the same file into the continual twin
    assert OnlineRecognizer.from_weights(path, model="stgcn_mod").model_name == "costgcn_mod"


def test_untrained_model_is_flagged_and_warned():
    with pytest.warns(UntrainedWeightsWarning, match="UNTRAINED"):
        rec = OnlineRecognizer.from_weights(model="coagcn_mod")
    assert not rec.has_weights and "UNTRAINED" in rec.description and len(rec.classes) == 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kin = OnlineRecognizer.from_weights(model="costgcn_mod", layout="kinetics18")
    assert kin.layout.name == "kinetics18" and kin.preprocess == "kinetics" and len(kin.classes) == 400


def test_preprocess_modes_from_metadata():
    assert preprocess_mode({"preprocessing": "2s-agcn-pre-normalization"}, "ntu25") == "ntu"
    assert preprocess_mode({"preprocessing": "kinetics-feeder"}, "kinetics18") == "kinetics"
    assert preprocess_mode({"preprocessing": "none"}, "ntu25") == "none"
    assert preprocess_mode({}, "kinetics18") == "kinetics" and preprocess_mode(None, "ntu25") == "ntu"


def test_kinetics_preprocessing_negates_y():
    torch.manual_seed(0)
    model = randomise(build("costgcn_mod", num_classes=4, layout="kinetics18", clip_frames=CLIP), seed=2,
                      calibrate_frames=CLIP)
    frames = list(open_source(shared_data("kinetics", "--33Lscn6sk.json"), layout="kinetics18"))[:3]
    rec = OnlineRecognizer(model, list("abcd"))
    got = [rec.step(f.skeleton, f.timestamp, index=f.index).probs for f in frames]
    model.clean_state()
    with torch.inference_mode():
        for f, p in zip(frames, got):
            x = f.skeleton.copy()
            x[1] = -x[1]
            y = model.forward_step(torch.from_numpy(x)[None])
            np.testing.assert_allclose(p, torch.softmax(y, -1)[0].numpy(), atol=1e-6)
