"""cognn-prep end to end on the real sample files, plus the shipped class / split / missing-skeleton lists."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import cognn.cli.prep as prep
from cognn.data.classes import class_names, datasets_dir, in_train_split, missing_skeletons, split_train_ids
from cognn.data.ntu import parse_sample_name, read_ntu_skeleton, to_array
from cognn.data.store import open_dataset
from cognn.data.transforms import pad_to, pre_normalization

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SKEL = DATA / "ntu" / "skeletons"
NTU_FILES = sorted(SKEL.glob("*.skeleton")) if SKEL.is_dir() else []
KIN_FILES = sorted((DATA / "kinetics").glob("*.json")) if DATA.is_dir() else []
needs_ntu = pytest.mark.skipif(not NTU_FILES, reason=f"real NTU samples not found in {SKEL}")
needs_kin = pytest.mark.skipif(not KIN_FILES, reason=f"real Kinetics samples not found in {DATA / 'kinetics'}")

BAD = "S001C001P002R001A005.skeleton"  # a valid name with corrupt content
MISSING = "S001C002P005R002A008.skeleton"  # on the official missing-skeleton lists
A061 = "S018C001P008R001A061.skeleton"  # an NTU-120-only action


@pytest.fixture
def ntu_src(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in NTU_FILES:
        (src / f.name).symlink_to(f)
    good = NTU_FILES[0].read_bytes()
    (src / BAD).write_bytes(good[: len(good) // 3])
    (src / MISSING).symlink_to(NTU_FILES[0])
    (src / A061).symlink_to(NTU_FILES[1])
    (src / "notes.txt").write_text("ignored")
    return src


def _run(argv, capsys):
    rc = prep.main([str(a) for a in argv])
    return rc, capsys.readouterr().err


@needs_ntu
def test_prep_ntu60(ntu_src, tmp_path, capsys):
    out = tmp_path / "ntu60.h5"
    rc, err = _run(["ntu60", "--src", ntu_src, "--out", out, "--workers", "2", "--quiet"], capsys)
    assert rc == 0, err
    assert "Traceback" not in err and BAD in err and "bad file" in err
    assert "missing-skeleton" in err and "NTU-60" in err
    assert sorted(os.listdir(tmp_path)) == ["ntu60.h5", "src"]
    ds = open_dataset(out)
    names = [f.name.split(".")[0] for f in NTU_FILES]
    assert ds.sample_names == names and len(ds) == 4
    assert ds.labels.tolist() == [parse_sample_name(n).label for n in names]
    assert (ds.dataset, ds.benchmark, ds.split, ds.layout.name, ds.domain) == ("ntu60", "xsub", "all", "ntu25",
                                                                               "camera3d")
    assert ds.classes == class_names("ntu60") and ds.preprocessing == "2s-agcn-pre-normalization"
    ref = pre_normalization(np.stack([pad_to(to_array(read_ntu_skeleton(f)), 300) for f in NTU_FILES]))
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds.sample(i).data, ref[i])


@needs_ntu
def test_prep_splits_and_ntu120(ntu_src, tmp_path, capsys):
    rc, err = _run(["ntu60", "--src", ntu_src, "--out", tmp_path / "t.h5", "--split", "train", "--workers", "1"],
                   capsys)
    assert rc == 0, err
    assert open_dataset(tmp_path / "t.h5").sample_names == [f.name[:20] for f in NTU_FILES if "P001" in f.name]
    rc, err = _run(["ntu60", "--src", ntu_src, "--out", tmp_path / "v.h5", "--split", "val", "--workers", "1"],
                   capsys)
    assert rc == 0 and open_dataset(tmp_path / "v.h5").sample_names == ["S002C001P003R001A003"]
    # all samples are camera 1: the xview train split is empty
    rc, err = _run(["ntu60", "--src", ntu_src, "--out", tmp_path / "x.h5", "--benchmark", "xview", "--split",
                    "train", "--workers", "1"], capsys)
    assert rc == 2 and "cognn-prep: error: no samples" in err and not (tmp_path / "x.h5").exists()
    rc, err = _run(["ntu120", "--src", ntu_src, "--out", tmp_path / "n.h5", "--benchmark", "xset", "--workers",
                    "1"], capsys)
    assert rc == 0
    ds = open_dataset(tmp_path / "n.h5")
    assert len(ds) == 5 and "S018C001P008R001A061" in ds.sample_names and ds.benchmark == "xset"
    assert len(ds.classes) == 120


@needs_ntu
def test_prep_interrupted_leaves_nothing(ntu_src, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.h5"
    out.write_bytes(b"previous")
    real = prep._work
    calls = []

    def flaky(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(prep, "_work", flaky)
    rc, err = _run(["ntu60", "--src", ntu_src, "--out", out, "--workers", "1"], capsys)
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["o.h5", "src"]


@needs_ntu
def test_prep_all_bad_writes_nothing(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / BAD).write_bytes(b"12\n1\n")
    rc, err = _run(["ntu60", "--src", src, "--out", tmp_path / "o.h5", "--workers", "1"], capsys)
    assert rc == 1 and BAD in err and not (tmp_path / "o.h5").exists()
    assert sorted(os.listdir(tmp_path)) == ["src"]


def test_prep_user_errors(tmp_path, capsys):
    cases = [
        (["ntu60", "--src", tmp_path / "none", "--out", tmp_path / "o.h5"], "folder not found"),
        (["ntu60", "--src", tmp_path, "--out", tmp_path / "o.h5"], "no .skeleton files"),
        (["ntu60", "--src", tmp_path, "--out", tmp_path / "no" / "o.h5"], "output folder does not exist"),
        (["ntu60", "--src", tmp_path, "--out", tmp_path / "o.h5", "--benchmark", "xset"], "no benchmark 'xset'"),
        (["ntu120", "--src", tmp_path, "--out", tmp_path / "o.h5", "--benchmark", "xview"], "no benchmark"),
        (["kinetics", "--src", tmp_path, "--out", tmp_path / "o.h5", "--benchmark", "xsub"], "NTU only"),
        (["ntu60", "--src", tmp_path, "--out", tmp_path / "o.h5", "--workers", "0"], "at least 1"),
        (["ntu61", "--src", tmp_path, "--out", tmp_path / "o.h5"], "invalid choice"),
        (["ntu60", "--out", tmp_path / "o.h5"], "--src"),
    ]
    for argv, text in cases:
        rc, err = _run(argv, capsys)
        assert rc == 2, (argv, err)
        assert "cognn-prep: error:" in err and text in err and "Traceback" not in err, err
    assert prep.main(["--help"]) == 0


@needs_kin
def test_prep_kinetics(tmp_path, capsys):
    src = tmp_path / "kinetics_val"
    src.mkdir()
    for f in KIN_FILES:
        (src / f.name).symlink_to(f)
    rc, err = _run(["kinetics", "--src", src, "--out", tmp_path / "k.h5", "--workers", "1"], capsys)
    assert rc == 0, err
    ds = open_dataset(tmp_path / "k.h5")
    assert ds.sample_names == ["--33Lscn6sk", "S004C002P003R001A055_rgb"] and ds.labels.tolist() == [129, 55]
    assert ds.layout.name == "kinetics18" and ds.domain == "image2d" and len(ds.classes) == 400
    assert ds.shape == (2, 3, 300, 18, 2)
    # a label file next to the folder is picked up: has_skeleton false skips, disagreement is a bad file
    labels = {"--33Lscn6sk": {"label_index": 128, "has_skeleton": True},
              "S004C002P003R001A055_rgb": {"label_index": 55, "has_skeleton": False}}
    (tmp_path / "kinetics_val_label.json").write_text(json.dumps(labels))
    rc, err = _run(["kinetics", "--src", src, "--out", tmp_path / "k2.h5", "--workers", "1"], capsys)
    assert rc == 1 and "disagrees" in err and "has_skeleton" in err
    labels["--33Lscn6sk"]["label_index"] = 129
    (tmp_path / "lab.json").write_text(json.dumps(labels))
    rc, err = _run(["kinetics", "--src", src, "--out", tmp_path / "k3.h5", "--labels", tmp_path / "lab.json",
                    "--workers", "1"], capsys)
    assert rc == 0 and open_dataset(tmp_path / "k3.h5").sample_names == ["--33Lscn6sk"]


# ---------------------------------------------------------------------------------------------------------------------
# shipped lists

def test_datasets_folder_is_not_a_package():
    d = datasets_dir()
    assert d.is_dir() and not (d / "__init__.py").exists() and (d / "README.md").is_file()


def test_class_names():
    n60, n120, k400 = class_names("ntu60"), class_names("ntu120"), class_names("kinetics400")
    assert (len(n60), len(n120), len(k400)) == (60, 120, 400)
    assert n60 == n120[:60] and class_names("kinetics") == k400
    assert n60[0] == "drink water" and n60[49] == "punching/slapping other person"
    assert n120[108] == "grab other person's stuff" and n120[116] == "whisper in other person's ear"
    assert k400[129] == "flipping pancake" and len(set(k400)) == 400
    assert all(name.isascii() and name == name.strip() and name for name in n120 + k400)
    with pytest.raises(ValueError):
        class_names("ucf101")


def test_class_names_agree_with_shared_labels():
    labels = DATA / "labels"
    if not labels.is_dir():
        pytest.skip(f"label lists not found in {labels}")
    norm = [s.strip().replace("\u2019", "'") for s in (labels / "nturgbd_120.txt").read_text("utf-8").splitlines()]
    assert class_names("ntu120") == norm
    assert class_names("kinetics400") == (labels / "kinetics400_label_name.txt").read_text().splitlines()
    for ds, fname, n in (("ntu60", "NTU_RGBD_samples_with_missing_skeletons.txt", 302),
                         ("ntu120", "NTU_RGBD120_samples_with_missing_skeletons.txt", 535)):
        official = {s.strip() for s in (labels / fname).read_text().splitlines() if s.startswith("S0")}
        assert missing_skeletons(ds) == official and len(official) == n


def test_splits():
    assert split_train_ids("ntu60", "xsub") == ("performer", frozenset(
        {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}))
    assert split_train_ids("ntu60", "xview") == ("camera", frozenset({2, 3}))
    field, ids = split_train_ids("ntu120", "xsub")
    assert field == "performer" and ids == frozenset(
        {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50, 52, 53, 54,
         55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103})
    assert split_train_ids("ntu120", "xset") == ("setup", frozenset(range(2, 33, 2)))
    assert in_train_split(parse_sample_name("S002C001P003R001A003"), "ntu120", "xset")
    assert not in_train_split(parse_sample_name("S002C001P003R001A003"), "ntu60", "xsub")
    with pytest.raises(ValueError):
        split_train_ids("ntu60", "xset")
