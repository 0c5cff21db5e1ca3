"""``cognn-infer`` end to end on the shared real data: one record per frame, failures, formats, workers, outputs."""
from __future__ import annotations

import csv
import json
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from helpers import randomise, shared_data

from cognn.cli.infer import DEMO_RECORDING, main
from cognn.data.kinetics import read_kinetics_json
from cognn.data.ntu import read_ntu_skeleton
from cognn.data.store import DatasetWriter, load_recording

CLIP = 84  # receptive field of the test model (costgcn_mod with clip_frames=84)
CLASSES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
FIELDS = {"source", "frame", "timestamp", "persons", "ready", "held", "label", "label_score", "top", "model_ms",
          "pose_ms", "latency_ms", "model", "weights_trained", "steady", "reps", "body", "gap", "reset", "hold_s"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """A randomised CoST-GCN* checkpoint (6 named classes, 84-frame receptive field) in cognn's format."""
    from cognn.checkpoints import save_checkpoint
    from cognn.models import build

    torch.manual_seed(0)
    model = randomise(build("costgcn_mod", num_classes=len(CLASSES), clip_frames=CLIP), seed=3, calibrate_frames=CLIP)
    path = tmp_path_factory.mktemp("weights") / "test_costgcn_mod.safetensors"
    return str(save_checkpoint(path, model, {"classes": CLASSES, "data": "random test weights"}))


def infer(capsys, *args: str) -> tuple[int, list[dict], str]:
    """Run cognn-infer in-process; (exit status, records parsed from stdout, stderr)."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert "Traceback" not in err
    return rc, records, err


def by_source(records: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["source"], []).append(r)
    return groups


def check_stream(records: list[dict], k: int) -> None:
    """Every record well formed; each source's records contiguous and in frame order 0, 1, 2, ..."""
    order = [r["source"] for r in records]
    runs = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
    assert len(runs) == len(set(runs)), "an input's records are not together"
    for src, recs in by_source(records).items():
        assert [r["frame"] for r in recs] == list(range(len(recs))), src
        ts = [r["timestamp"] for r in recs]
        assert ts == sorted(ts)
    for r in records:
        assert set(r) == FIELDS
        assert len(r["top"]) == k and all(set(t) == {"label", "score"} for t in r["top"])
        scores = [t["score"] for t in r["top"]]
        assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
        assert r["model_ms"] > 0 and isinstance(r["ready"], bool)


# ---------------------------------------------------------------------------------------------------------------------
# every shared file, one record per frame

def test_every_ntu_skeleton_file_incl_lf_variant(capsys, weights):
    folder = shared_data("ntu", "skeletons")
    rc, records, err = infer(capsys, folder, "--weights", weights, "--top-k", "3")
    assert rc == 0, err
    files = sorted(folder.rglob("*.skeleton"))
    assert len(files) == 5 and any("lf_variant" in str(f) for f in files)
    groups = by_source(records)
    assert list(groups) == [str(f) for f in files]
    for f in files:
        assert len(groups[str(f)]) == read_ntu_skeleton(f).num_frames
    check_stream(records, 3)
    assert {t["label"] for r in records for t in r["top"]} <= set(CLASSES)
    assert all(r["pose_ms"] is None and r["weights_trained"] and r["model"] == "costgcn_mod" for r in records)
    assert any(r["persons"] == 2 for r in groups[str(folder / "S001C001P001R001A050.skeleton")])
    assert f"{len(files)} inputs (0 failed)" in err and "frames/s end to end" in err and "p95" in err


def test_every_kinetics_file_with_an_untrained_kinetics_model(capsys):
    folder = shared_data("kinetics")
    rc, records, err = infer(capsys, folder, "--layout", "kinetics18", "--top-k", "2")
    assert rc == 0, err
    groups = by_source(records)
    files = sorted(folder.glob("*.json"))
    assert list(groups) == [str(f) for f in files]
    for f in files:
        assert len(groups[str(f)]) == max(fr.frame_index for fr in read_kinetics_json(f).frames)
    check_stream(records, 2)
    if not records[0]["weights_trained"]:  # no trained Kinetics weights ship: said plainly, and in every record
        assert "UNTRAINED" in err and not any(r["weights_trained"] for r in records)


@pytest.fixture(scope="module")
def whole_video(tmp_path_factory, weights):
    """One whole short real video (103 frames, 1080p) with --render and --save-skeletons."""
    out = tmp_path_factory.mktemp("video")
    video = shared_data("video", "S001C001P001R001A001_rgb.avi")
    rc = main([str(video), "--weights", weights, "--render", str(out / "r.mp4"),
               "--save-skeletons", str(out / "s.h5"), "-o", str(out / "rec.jsonl")])
    records = [json.loads(line) for line in (out / "rec.jsonl").read_text().splitlines()]
    return rc, records, out, video


def test_whole_short_video_one_record_per_frame(whole_video):
    rc, records, _, video = whole_video
    assert rc == 0
    assert len(records) == 103 and {r["source"] for r in records} == {str(video)}
    check_stream(records, 5)
    assert all(r["pose_ms"] > 0 for r in records)
    assert sum(r["persons"] >= 1 for r in records) > 90  # one person is in view throughout
    assert records[-1]["timestamp"] == pytest.approx(102 / 30.0, abs=0.01)
    assert [r["ready"] for r in records] == [i >= CLIP - 1 for i in range(103)]


def test_render_is_a_readable_mp4_with_every_frame(whole_video):
    _, _, out, _ = whole_video
    cap = cv2.VideoCapture(str(out / "r.mp4"))
    assert cap.isOpened()
    count, first = 0, None
    while True:
        ok, img = cap.read()
        if not ok:
            break
        first = img if first is None else first
        count += 1
    cap.release()
    # the picture at its own size (1080p is within the 360-720 line range after reduction) beside the side panel
    assert count == 103 and first.shape[0] == 720 and first.shape[1] > 1280 and first.std() > 10


def test_saved_skeletons_replay_to_the_same_predictions(capsys, whole_video, weights):
    _, records, out, video = whole_video
    rec = load_recording(out / "s.h5")
    assert rec.skeleton.shape == (103, 3, 25, 2) and rec.layout == "ntu25" and rec.domain == "camera3d"
    assert rec.source == str(video) and rec.timestamps[1] == pytest.approx(1 / 30.0, abs=2e-3)
    rc, replay, _ = infer(capsys, out / "s.h5", "--weights", weights)
    assert rc == 0 and len(replay) == 103
    for a, b in zip(records, replay):
        assert [t["label"] for t in a["top"]] == [t["label"] for t in b["top"]]
        assert a["ready"] == b["ready"] and a["timestamp"] == pytest.approx(b["timestamp"], abs=1e-6)
        assert b["pose_ms"] is None


@pytest.mark.slow
def test_every_shared_video_with_max_frames(capsys, weights, tmp_path):
    # the top-level shared videos in a folder of their own (the folder is read recursively, and real/ holds more)
    folder = tmp_path / "videos"
    folder.mkdir()
    for p in sorted(shared_data("video").iterdir()):
        if p.suffix in (".mp4", ".avi"):
            (folder / p.name).symlink_to(p)
    videos = sorted(folder.iterdir())
    assert len(videos) >= 2
    rc, records, err = infer(capsys, folder, "--weights", weights, "--max-frames", "5", "--top-k", "1")
    assert rc == 0, err
    groups = by_source(records)
    assert list(groups) == [str(v) for v in videos]
    assert all(len(recs) == 5 for recs in groups.values())
    check_stream(records, 1)
    # pose on every picture, except every other one of the 60 fps clip (the model's 30 fps does not need it)
    assert all((r["pose_ms"] is None) == (r["source"].endswith("fanchiang_3-2.mp4") and r["frame"] % 2 == 1)
               for r in records)


def test_skeleton_round_trip_gives_the_same_top_labels(capsys, weights, tmp_path):
    src = shared_data("ntu", "skeletons", "S002C001P003R001A003.skeleton")
    rc, first, _ = infer(capsys, src, "--weights", weights, "--save-skeletons", tmp_path / "a.h5",
                         "--max-frames", "40")
    assert rc == 0
    rc, again, _ = infer(capsys, tmp_path / "a.h5", "--weights", weights)
    assert rc == 0 and len(again) == len(first) == 40
    assert [[t["label"] for t in r["top"]] for r in first] == [[t["label"] for t in r["top"]] for r in again]
    assert [r["persons"] for r in first] == [r["persons"] for r in again]


# ---------------------------------------------------------------------------------------------------------------------
# failures, usage, formats, workers

def test_bad_inputs_are_reported_and_skipped(capsys, weights, tmp_path):
    corrupt = tmp_path / "corrupt.skeleton"
    corrupt.write_text("3\n1\nthis is not a body line\n")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all\n" * 100)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    missing = tmp_path / "missing.skeleton"
    good = shared_data("ntu", "skeletons", "S001C001P001R001A050.skeleton")
    rc, records, err = infer(capsys, missing, corrupt, good, fake, notes, "--weights", weights)
    assert rc == 1
    assert list(by_source(records)) == [str(good)] and len(records) == 74
    errors = [line for line in err.splitlines() if line.startswith("cognn-infer: error:")]
    assert len(errors) == 4
    for bad in (missing, corrupt, fake, notes):
        assert any(str(bad) in line for line in errors), bad
    assert "5 inputs (4 failed)" in err


def test_camera_that_cannot_open_fails_the_input(capsys, weights):
    rc, records, err = infer(capsys, "--camera", "97", "--weights", weights)
    assert rc == 1 and records == [] and "camera 97 cannot be opened" in err


@pytest.mark.parametrize("args, message", [
    (["--top-k", "0"], "positive integer"),
    (["--model", "nope"], "unknown model 'nope'"),
    ([], "--demo"),
    (["--weights", "/no/such/file.safetensors"], "/no/such/file.safetensors"),
    (["--output", "/no/such/dir/out.jsonl"], "/no/such/dir"),
    (["--camera", "0", "x.skeleton"], "--camera"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_usage_errors_exit_2_without_traceback(capsys, args, message):
    needs_input = args and args[0] in ("--top-k", "--model", "--weights", "--output")
    argv = args + ([str(shared_data("ntu", "skeletons", "S001C001P001R001A050.skeleton"))] if needs_input else [])
    rc, _, err = infer(capsys, *argv)
    assert rc == 2 and message in err and "cognn-infer: error:" in err


def test_cuda_asked_without_a_gpu_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    rc, _, err = infer(capsys, "--demo", "--device", "cuda")
    assert rc == 2 and "no CUDA GPU" in err


def test_csv_has_the_same_fields_flattened(capsys, weights, tmp_path):
    src = shared_data("ntu", "skeletons", "S001C001P001R001A050.skeleton")
    common = [str(src), "--weights", weights, "--top-k", "3", "--max-frames", "25"]
    rc, records, _ = infer(capsys, *common)
    assert rc == 0
    assert main(common + ["--format", "csv", "-o", str(tmp_path / "o.csv")]) == 0
    capsys.readouterr()
    with open(tmp_path / "o.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(records) == 25
    assert list(rows[0]) == ["source", "frame", "timestamp", "persons", "ready", "held", "label", "label_score",
                             "model_ms", "pose_ms", "latency_ms", "model", "weights_trained", "top1_label",
                             "top1_score", "top2_label", "top2_score", "top3_label", "top3_score",
                             "steady", "reps", "body", "gap", "reset", "hold_s"]  # later fields last: no column moves
    for row, rec in zip(rows, records):
        assert int(row["frame"]) == rec["frame"] and row["ready"] == str(rec["ready"]).lower()
        assert [row[f"top{i}_label"] for i in (1, 2, 3)] == [t["label"] for t in rec["top"]]
        assert float(row["top1_score"]) == pytest.approx(rec["top"][0]["score"], abs=1e-6)
        assert row["pose_ms"] == "" and row["weights_trained"] == "true"
    # the format follows the output's name unless --format says otherwise
    assert main(common + ["-o", str(tmp_path / "auto.CSV")]) == 0
    with open(tmp_path / "auto.CSV", newline="") as f:
        assert [r["top1_label"] for r in csv.DictReader(f)] == [r["top1_label"] for r in rows]
    assert main(common + ["--format", "jsonl", "-o", str(tmp_path / "forced.csv")]) == 0
    assert (tmp_path / "forced.csv").read_text().startswith("{")


def test_workers_keep_input_order(capsys, weights, tmp_path):
    folder = shared_data("ntu", "skeletons")
    inputs = [folder / "S001C001P001R001A050.skeleton", tmp_path / "missing.skeleton",
              folder / "S002C001P003R001A003.skeleton", folder / "S001C001P001R001A011.skeleton"]
    common = ["--weights", weights, "--max-frames", "12", "--top-k", "2"]
    rc1, one, _ = infer(capsys, *inputs, *common)
    rc2, two, err = infer(capsys, *inputs, *common, "--workers", "2")
    assert rc1 == rc2 == 1 and "missing.skeleton" in err
    assert list(by_source(two)) == [str(p) for p in inputs if p.exists()]
    check_stream(two, 2)
    timing = ("model_ms", "latency_ms")
    strip = [{k: v for k, v in r.items() if k not in timing} for r in one]
    assert [{k: v for k, v in r.items() if k not in timing} for r in two] == strip


def test_several_inputs_save_one_recording_each(capsys, weights, tmp_path):
    folder = shared_data("ntu", "skeletons")
    a, b = folder / "S001C001P001R001A011.skeleton", folder / "S001C001P001R001A050.skeleton"
    rc, records, err = infer(capsys, a, b, "--weights", weights, "--max-frames", "7",
                             "--save-skeletons", tmp_path / "skel.h5", "--render", tmp_path / "v.mp4")
    assert rc == 0 and len(records) == 14
    for i, src in enumerate((a, b)):
        rec = load_recording(tmp_path / f"skel_{i}.h5")
        assert rec.num_frames == 7 and rec.source == str(src)
        cap = cv2.VideoCapture(str(tmp_path / f"v_{i}.mp4"))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 7
        cap.release()
        assert f"wrote {tmp_path / f'skel_{i}.h5'}" in err


def test_dataset_file_samples_are_separate_inputs(capsys, weights, tmp_path):
    path = tmp_path / "data.h5"
    rng = np.random.default_rng(0)
    with DatasetWriter(path, "ntu25", ["x", "y"], num_frames=20) as w:
        for i, n in enumerate((12, 20)):
            x = np.zeros((3, 20, 25, 2), np.float32)
            x[:, :n, :, 0] = rng.normal(size=(3, n, 25))
            w.append(x, i, f"s{i}")
    rc, records, _ = infer(capsys, path, "--weights", weights)
    assert rc == 0
    assert Counter(r["source"] for r in records) == {f"{path}#0": 12, f"{path}#1": 20}


def test_demo_runs_the_default_model_and_becomes_ready(capsys):
    """The README's first command: the bundled recording through the default model of weights/manifest.json."""
    import warnings

    from cognn.online import OnlineRecognizer

    assert DEMO_RECORDING.is_file()
    rc, records, err = infer(capsys, "--demo", "--top-k", "1")
    assert rc == 0
    n = load_recording(DEMO_RECORDING).num_frames
    assert len(records) == n
    check_stream(records, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = OnlineRecognizer.from_weights()
    assert records[0]["model"] == rec.model_name and records[0]["weights_trained"] == rec.has_weights
    assert n > rec.receptive_field
    assert [r["ready"] for r in records] == [i >= rec.receptive_field - 1 for i in range(n)]
    if not rec.has_weights:
        assert "UNTRAINED" in err
