"""HDF5 dataset / recording files, the torch Dataset over them and the reference augmentations."""
from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cognn.atomic import OutputError
from cognn.data import augment
from cognn.data.dataset import SkeletonDataset
from cognn.data.store import DatasetWriter, RecordingWriter, load_recording, open_dataset, save_recording
from cognn.data.transforms import bone, motion
from cognn.errors import InputFileError

CLASSES = ["wave", "clap", "jump"]


def _samples(n: int, v: int = 25, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, 3, 300, v, 2)).astype(np.float32)
    x[:, :, 200:] = 0  # realistic: a zero tail
    return x


def _write_dataset(path, n: int = 5, layout: str = "ntu25", **kw):
    x = _samples(n, 25 if layout == "ntu25" else 18)
    with DatasetWriter(path, layout, CLASSES, dataset="toy", benchmark="xsub", split="train",
                       preprocessing="none", **kw) as w:
        for i in range(n):
            w.append(x[i], i % 3, f"sample-{i}-é")
    return x


# ---------------------------------------------------------------------------------------------------------------------
# dataset files

def test_dataset_roundtrip(tmp_path):
    path = tmp_path / "d.h5"
    x = _write_dataset(path, 70)  # more than the first growth step
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]
    ds = open_dataset(path)
    assert len(ds) == 70 and ds.shape == (70, 3, 300, 25, 2)
    assert ds.classes == CLASSES and ds.layout.name == "ntu25" and ds.domain == "camera3d"
    assert (ds.dataset, ds.benchmark, ds.split, ds.preprocessing) == ("toy", "xsub", "train", "none")
    assert ds.attrs["format"] == "cognn-dataset" and ds.attrs["version"] == 1
    assert ds.attrs["preprocessing_version"] == 1 and json.loads(ds.attrs["classes"]) == CLASSES
    s = ds.sample(7)
    np.testing.assert_array_equal(s.data, x[7])
    assert (s.label, s.name) == (1, "sample-7-é") and s.data.dtype == np.float32
    assert ds.sample(-1).name == "sample-69-é"
    with pytest.raises(IndexError):
        ds.sample(70)
    ds.close()
    with h5py.File(path) as f:
        d = f["data"]
        assert d.chunks == (1, 3, 300, 25, 2) and d.compression == "gzip"
        assert f["label"].dtype == np.int64 and h5py.check_string_dtype(f["sample_name"].dtype).encoding == "utf-8"


def test_writer_validates_and_aborts(tmp_path):
    path = tmp_path / "d.h5"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with DatasetWriter(path, "ntu25", CLASSES) as w:
            w.append(np.zeros((3, 300, 25, 2)), 0, "a")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["d.h5"]
    with DatasetWriter(tmp_path / "e.h5", "kinetics18", CLASSES) as w:
        with pytest.raises(ValueError, match="shape"):
            w.append(np.zeros((3, 300, 25, 2)), 0, "a")
        with pytest.raises(ValueError, match="label"):
            w.append(np.zeros((3, 300, 18, 2)), 3, "a")
    ds = open_dataset(tmp_path / "e.h5")
    assert len(ds) == 0 and ds.domain == "image2d"
    with pytest.raises(OutputError, match="output folder does not exist"):
        DatasetWriter(tmp_path / "no" / "x.h5", "ntu25", CLASSES)


def _corrupt(path, how: str) -> None:
    with h5py.File(path, "r+") as f:
        if how == "format":
            f.attrs["format"] = "cognn-recording"
        elif how == "no-format":
            del f.attrs["format"]
        elif how == "version":
            f.attrs["version"] = 99
        elif how == "layout":
            f.attrs["layout"] = "coco17"
        elif how == "classes":
            f.attrs["classes"] = "not json"
        elif how == "missing":
            del f["label"]
        elif how == "shape":
            del f["data"]
            f["data"] = np.zeros((5, 3, 300, 24, 2), np.float32)
        elif how == "count":
            del f["sample_name"]
            f["sample_name"] = np.array([b"a"] * 4, dtype=h5py.string_dtype())
        elif how == "labels":
            f["label"][0] = 7


@pytest.mark.parametrize("how, text", [
    ("format", "is a 'cognn-recording' file"), ("no-format", "'format'"), ("version", "newer"),
    ("layout", "unknown layout"), ("classes", "'classes'"), ("missing", "missing dataset"),
    ("shape", "does not match"), ("count", "5 samples"), ("labels", "labels outside")])
def test_open_dataset_validation(tmp_path, how, text):
    path = tmp_path / "d.h5"
    _write_dataset(path)
    _corrupt(path, how)
    with pytest.raises(InputFileError) as ei:
        open_dataset(path)
    assert str(path) in str(ei.value) and text in str(ei.value), str(ei.value)


def test_open_dataset_not_hdf5(tmp_path):
    p = tmp_path / "x.h5"
    p.write_text("hello")
    with pytest.raises(InputFileError, match="not an HDF5 file"):
        open_dataset(p)
    with pytest.raises(InputFileError, match="file not found"):
        open_dataset(tmp_path / "none.h5")
    full = tmp_path / "full.h5"
    _write_dataset(full)
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(full.read_bytes()[:3000])
    with pytest.raises(InputFileError):
        open_dataset(trunc)


# ---------------------------------------------------------------------------------------------------------------------
# recordings

def test_recording_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    skel = rng.normal(size=(40, 3, 18, 2)).astype(np.float32)
    ts = np.cumsum(rng.uniform(0.02, 0.05, 40))
    p = save_recording(tmp_path / "r.h5", skel, ts, "kinetics18", "image2d", source="webcam 0", fps=30,
                       events=[{"t": 0.5, "label": "wave"}, "note"], extra_attrs={"persons": 2, "pose": "mp"})
    r = load_recording(p)
    np.testing.assert_array_equal(r.skeleton, skel)
    np.testing.assert_array_equal(r.timestamps, ts)
    assert (r.layout, r.domain, r.fps, r.source, r.num_frames) == ("kinetics18", "image2d", 30.0, "webcam 0", 40)
    assert r.events == [{"t": 0.5, "label": "wave"}, "note"] and r.attrs == {"persons": 2, "pose": "mp"}
    r2 = load_recording(save_recording(tmp_path / "r2.h5", skel[:0], ts[:0], "kinetics18", "image2d"))
    assert r2.num_frames == 0 and r2.fps is None and r2.events == []
    assert sorted(os.listdir(tmp_path)) == ["r.h5", "r2.h5"]
    with pytest.raises(ValueError):
        save_recording(tmp_path / "bad.h5", skel, ts[::-1], "kinetics18", "image2d")
    with pytest.raises(ValueError):
        save_recording(tmp_path / "bad.h5", skel, ts, "ntu25", "camera3d")
    with pytest.raises(ValueError):
        save_recording(tmp_path / "bad.h5", skel, ts, "kinetics18", "pixels")
    with pytest.raises(InputFileError, match="is a 'cognn-recording' file"):
        open_dataset(p)


def test_recording_writer_incremental(tmp_path):
    path = tmp_path / "live.h5"
    frames = np.random.default_rng(2).normal(size=(300, 3, 25, 1)).astype(np.float32)
    with RecordingWriter(path, "ntu25", "camera3d", num_persons=1, source="kinect", fps=30) as w:
        for i, fr in enumerate(frames):
            w.append(fr, i / 30)
            if i == 10:
                w.add_event({"t": i / 30, "label": "start"})
        partial = sorted(tmp_path.glob(".live.h5.*.partial"))
        assert len(partial) == 1 and partial[0] == w.temp and not path.exists()
        with pytest.raises(ValueError, match="back in time"):
            w.append(frames[0], 0.0)
        with pytest.raises(ValueError, match="shape"):
            w.append(frames[0, :, :24], 99.0)
    r = load_recording(path)
    np.testing.assert_array_equal(r.skeleton, frames)
    assert r.num_frames == 300 and r.events == [{"t": 10 / 30, "label": "start"}]
    with pytest.raises(KeyError):
        with RecordingWriter(tmp_path / "x.h5", "ntu25", "camera3d") as w:
            w.append(np.zeros((3, 25, 2)), 0.0)
            raise KeyError("crash")
    assert sorted(os.listdir(tmp_path)) == ["live.h5"]


@pytest.mark.parametrize("how, text", [("format", "expected 'cognn-recording'"), ("timestamps", "timestamps"),
                                       ("order", "non-decreasing"), ("events", "events[0]"),
                                       ("domain", "unknown input domain")])
def test_load_recording_validation(tmp_path, how, text):
    p = save_recording(tmp_path / "r.h5", np.zeros((5, 3, 25, 2)), np.arange(5.0), "ntu25", "camera3d",
                       events=[1])
    with h5py.File(p, "r+") as f:
        if how == "format":
            f.attrs["format"] = "cognn-dataset"
        elif how == "timestamps":
            del f["timestamp"]
            f["timestamp"] = np.arange(4.0)
        elif how == "order":
            f["timestamp"][3] = 0.5
        elif how == "events":
            f["events"][0] = "{not json"
        else:
            f.attrs["domain"] = "pixels"
    with pytest.raises(InputFileError) as ei:
        load_recording(p)
    assert str(p) in str(ei.value) and text in str(ei.value), str(ei.value)


# ---------------------------------------------------------------------------------------------------------------------
# torch Dataset and augmentations

def test_skeleton_dataset_modalities(tmp_path):
    path = tmp_path / "d.h5"
    x = _write_dataset(path, 6)
    ds = SkeletonDataset(path)
    assert len(ds) == 6 and ds.classes == CLASSES and ds.layout.name == "ntu25"
    t, label = ds[4]
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (3, 300, 25, 2) and label == 1
    np.testing.assert_array_equal(t.numpy(), x[4])
    np.testing.assert_array_equal(SkeletonDataset(path, "bone")[2][0].numpy(), bone(x[2], "ntu25"))
    np.testing.assert_array_equal(SkeletonDataset(path, "motion")[2][0].numpy(), motion(x[2]))
    with pytest.raises(ValueError):
        SkeletonDataset(path, "rgb")
    with pytest.raises(ValueError):
        SkeletonDataset(path, random_choose=True)


def test_skeleton_dataset_augmentation_is_seeded(tmp_path):
    path = tmp_path / "d.h5"
    _write_dataset(path, 4)
    kw = dict(random_shift=True, random_choose=True, random_move=True, window_size=150, seed=7)
    a, b = SkeletonDataset(path, **kw), SkeletonDataset(path, **kw)
    assert a[1][0].shape == (3, 150, 25, 2)
    np.testing.assert_array_equal(a[1][0].numpy(), b[1][0].numpy())
    b.set_epoch(1)
    assert not np.array_equal(a[1][0].numpy(), b[1][0].numpy())


def test_dataloader_with_workers(tmp_path):
    path = tmp_path / "d.h5"
    x = _write_dataset(path, 6)
    ds = SkeletonDataset(path)
    _ = ds[0]  # the parent has opened the file: workers must open their own handle
    batches = list(DataLoader(ds, batch_size=3, num_workers=2))
    got = torch.cat([b[0] for b in batches]).numpy()
    np.testing.assert_array_equal(got, x)
    assert torch.cat([b[1] for b in batches]).tolist() == [0, 1, 2, 0, 1, 2]


def test_augmentations():
    rng = np.random.default_rng(0)
    x = np.zeros((3, 50, 25, 2), np.float32)
    x[:, 10:30] = rng.normal(size=(3, 20, 25, 2))
    assert augment.valid_range(x) == (10, 30) and augment.valid_range(np.zeros_like(x)) == (0, 50)
    s = augment.random_shift(x, np.random.default_rng(1))
    b, e = augment.valid_range(s)
    assert e - b == 20 and np.array_equal(s[:, b:e], x[:, 10:30]) and s.dtype == np.float32
    c = augment.random_choose(x, 30, np.random.default_rng(2))
    assert c.shape == (3, 30, 25, 2)
    p = augment.random_choose(x, 80, np.random.default_rng(3))
    assert p.shape == (3, 80, 25, 2) and np.abs(p).sum() == pytest.approx(np.abs(x).sum())
    assert augment.auto_pad(x, 60).shape == (3, 60, 25, 2) and augment.auto_pad(x, 20) is x
    m1 = augment.random_move(x, np.random.default_rng(4))
    m2 = augment.random_move(x, np.random.default_rng(4))
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(m1[2], x[2])  # z untouched
    # rotation + scale + translation of x, y: pairwise distances within a frame scale uniformly
    d0 = np.linalg.norm(x[:2, 15, 0, 0] - x[:2, 15, 1, 0])
    d1 = np.linalg.norm(m1[:2, 15, 0, 0] - m1[:2, 15, 1, 0])
    assert 0.85 < d1 / d0 < 1.15
