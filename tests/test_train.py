"""cognn-train / cognn-eval on real NTU samples: loss goes down, exact resume, 2-process gloo DDP, custom actions,
fine-tuning and evaluation in clip and step mode.

Training runs use 8-frame clips (``--clip-frames``) of a small dataset file built from the four NTU ``.skeleton``
files in ../shared/data plus moved copies, one thread per process, to stay fast on a shared CPU.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import randomise, shared_data

from cognn.checkpoints import load_model, read_checkpoint, save_checkpoint
from cognn.cli import evaluate as eval_cli
from cognn.cli import train as train_cli
from cognn.data.augment import random_move
from cognn.data.ntu import read_ntu_skeleton, to_array
from cognn.data.store import DatasetWriter
from cognn.data.transforms import PREPROCESSING_NAME, pad_to, pre_normalization
from cognn.errors import InputFileError
from cognn.models import build
from cognn.train.clips import CACHE_DIR, fit_length, prepare_clips, resample, stratified_split
from cognn.train.finetune import load_initial_weights
from cognn.train.state import capture_rng, load_state, restore_rng, save_state

CLASSES = ["drink water", "reading", "punching other person", "brushing teeth"]
# short clips, one step per epoch (8 samples, batch 8), a small constant LR: the loss falls on every run
TRAIN_ARGS = ["--model", "stgcn", "--clip-frames", "8", "--batch", "8", "--lr", "0.001", "--milestones", "10",
              "--epochs", "2", "--workers", "0", "--seed", "1", "--quiet"]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def _ntu_samples() -> list[np.ndarray]:
    files = sorted(shared_data("ntu", "skeletons").glob("*.skeleton"))
    assert len(files) == 4
    return [pre_normalization(pad_to(to_array(read_ntu_skeleton(f)), 300)) for f in files]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """``train.h5``: the 4 real samples + a moved copy of each (T=300); ``eval81.h5``: the 4 samples, T=81."""
    root = tmp_path_factory.mktemp("train_data")
    samples = _ntu_samples()
    rng = np.random.default_rng(0)
    with DatasetWriter(root / "train.h5", "ntu25", CLASSES, dataset="ntu-samples",
                       preprocessing=PREPROCESSING_NAME) as w:
        for copy in range(2):
            for label, x in enumerate(samples):
                w.append(random_move(x, rng) if copy else x, label, f"sample{label}_{copy}")
    with DatasetWriter(root / "eval81.h5", "ntu25", CLASSES, preprocessing=PREPROCESSING_NAME, num_frames=81) as w:
        for label, x in enumerate(samples):
            w.append(x[:, :81], label, f"sample{label}")
    return {"train": root / "train.h5", "eval81": root / "eval81.h5", "root": root}


def _train(out: Path, data: dict, *extra: str) -> int:
    return train_cli.main([*TRAIN_ARGS, "--data", str(data["train"]), "--val", str(data["train"]),
                           "--out", str(out), *extra])


@pytest.fixture(scope="module")
def run_a(data) -> Path:
    """The uninterrupted reference run (2 epochs)."""
    out = data["root"] / "run_a"
    assert _train(out, data) == 0
    return out


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path).state_dict


# ---------------------------------------------------------------------------------------------------------------------
# training

def test_training_lowers_the_loss_and_writes_every_output(run_a):
    log = json.loads((run_a / "log.json").read_text())
    losses = [e["train_loss"] for e in log["epochs"]]
    assert len(losses) == 2 and losses[1] < 0.5 * losses[0], losses
    assert log["classes"] == CLASSES and log["settings"]["frames"] == 8
    header = (run_a / "log.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["epoch", "lr", "train_loss"] and "val_top5" in header
    assert (run_a / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("best.safetensors", "last.safetensors"):
        model = load_model(run_a / name)
        meta = model.checkpoint_meta
        assert meta["model"] == "stgcn" and meta["classes"] == CLASSES and meta["layout"] == "ntu25"
        assert meta["modality"] == "joint" and meta["preprocessing"] == PREPROCESSING_NAME
        assert meta["metrics"]["epoch"] in (1, 2) and "val_top1" in meta["metrics"]
    state = torch.load(run_a / "last_state.pt", weights_only=True)  # plain containers only
    assert state["epoch"] == 2 and set(state["rng"]) >= {"torch", "numpy", "python"}


def test_resume_equals_an_uninterrupted_run(run_a, data):
    out = data["root"] / "run_b"
    assert _train(out, data, "--stop-after", "1") == 0
    assert len(json.loads((out / "log.json").read_text())["epochs"]) == 1
    assert _train(out, data, "--resume") == 0
    a, b = (json.loads((d / "log.json").read_text())["epochs"] for d in (run_a, out))
    for key in ("train_loss", "train_top1", "val_loss", "val_top1", "lr"):
        assert [e[key] for e in a] == [e[key] for e in b], key
    wa, wb = _weights(run_a / "last.safetensors"), _weights(out / "last.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_two_process_gloo_ddp_matches_one_process(run_a, data):
    """Two CPU ranks (gloo), launched as torchrun does (RANK / WORLD_SIZE / MASTER_* in the environment): the
    global batch 8 is split 4 + 4 and BatchNorm normalises over the global batch.

    Gradients agree to 1e-14 in float64 (test_global_batchnorm_gradients_equal_one_process); in float32 the sharp
    loss of this tiny problem turns rounding into ~1e-4 differences after two steps.
    """
    out = data["root"] / "run_ddp"
    argv = [*TRAIN_ARGS, "--data", str(data["train"]), "--val", str(data["train"]), "--out", str(out)]
    _run_ranks(_cli_rank, (argv, _free_port()))
    a, d = (json.loads((p / "log.json").read_text()) for p in (run_a, out))
    assert d["world_size"] == 2
    for ea, ed in zip(a["epochs"], d["epochs"], strict=True):
        for key in ("train_loss", "val_loss"):
            assert ed[key] == pytest.approx(ea[key], rel=2e-3), key
        assert ed["train_top1"] == ea["train_top1"] and ed["val_top1"] == ea["val_top1"]
    wa, wd = _weights(run_a / "last.safetensors"), _weights(out / "last.safetensors")
    for k in wa:
        assert torch.allclose(wa[k].double(), wd[k].double(), rtol=1e-3, atol=1e-3), k


def _run_ranks(fn, args: tuple) -> None:
    """``fn(rank, *args)`` in 2 forked processes (fork: the children need not import torch again)."""
    import torch.multiprocessing as mp

    mp.start_processes(fn, args=args, nprocs=2, join=True, start_method="fork")


def _cli_rank(rank: int, argv: list[str], port: int) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    assert train_cli.main(argv) == 0


def test_global_batchnorm_gradients_equal_one_process(data):
    """The DDP gradient with GlobalBatchNorm is the single-process full-batch gradient (float64, 2 gloo ranks)."""
    x, y = _batch(data["train"])
    out = data["root"] / "ddp_grads.pt"
    _run_ranks(_ddp_grad_worker, (str(data["train"]), str(out), _free_port()))
    torch.manual_seed(0)
    model = build("stgcn", num_classes=4).double().train()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    theirs = torch.load(out, weights_only=True)
    assert len(theirs["grads"]) == sum(1 for p in model.parameters() if p.grad is not None)
    for name, p in model.named_parameters():
        if p.grad is not None:
            assert torch.allclose(p.grad, theirs["grads"][name], rtol=1e-9, atol=1e-12), name
    for name, buf in model.state_dict().items():
        assert torch.allclose(buf.double(), theirs["state"][name].double(), rtol=1e-9, atol=1e-12), name


def _batch(path: Path, samples: int = 4, frames: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    from cognn.data.store import open_dataset

    f = open_dataset(path)
    x = np.stack([f.sample(i).data[:, :frames] for i in range(samples)])
    return torch.from_numpy(x).double(), torch.from_numpy(f.labels[:samples])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_grad_worker(rank: int, path: str, out: str, port: int) -> None:
    import torch.distributed as dist

    from cognn.train.syncbn import convert_batchnorm

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        x, y = _batch(Path(path))
        torch.manual_seed(0)
        model = convert_batchnorm(build("stgcn", num_classes=4).double().train(), torch.device("cpu"))
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        mine = list(range(rank, len(y), 2))
        torch.nn.functional.cross_entropy(ddp(x[mine]), y[mine]).backward()
        if rank == 0:
            torch.save({"grads": {k: p.grad for k, p in model.named_parameters() if p.grad is not None},
                        "state": dict(model.state_dict())}, out)
    finally:
        dist.destroy_process_group()


def test_resume_state_round_trips_rng_and_loads_safely(tmp_path):
    import random

    rng = capture_rng()
    first = (torch.rand(3), np.random.rand(3), random.random())
    save_state(tmp_path / "s.pt", {"epoch": 1, "model": {"w": torch.ones(2)}, "optimizer": {}, "scheduler": {},
                                   "rng": rng, "history": [], "config": {}, "best": {}})
    restore_rng(load_state(tmp_path / "s.pt")["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(InputFileError, match="bad.pt"):
        load_state(tmp_path / "bad.pt")


# ---------------------------------------------------------------------------------------------------------------------
# fine-tuning and custom actions

def test_regular_weights_transfer_to_the_mod_variant(run_a):
    mod = build("stgcn_mod", num_classes=4)
    meta = load_initial_weights(mod, run_a / "best.safetensors", CLASSES, warn=pytest.fail)
    assert meta["model"] == "stgcn"
    src = _weights(run_a / "best.safetensors")
    assert all(torch.equal(v, src[k]) for k, v in mod.state_dict().items())
    with pytest.raises(InputFileError, match="kinetics18"):
        load_initial_weights(build("stgcn", num_classes=4, layout="kinetics18"), run_a / "best.safetensors",
                             CLASSES, warn=print)


def _clip_folder(root: Path) -> Path:
    files = sorted(shared_data("ntu", "skeletons").glob("*.skeleton"))
    for name, picks in (("wave", files[:2]), ("clap", files[2:])):
        (root / name).mkdir(parents=True)
        for f in picks:
            (root / name / f.name).symlink_to(f)
    return root


def test_custom_actions_from_a_clip_folder(run_a, tmp_path, capsys):
    clips = _clip_folder(tmp_path / "clips")
    out = tmp_path / "custom"
    code = train_cli.main(["--model", "stgcn", "--clips", str(clips), "--init", str(run_a / "best.safetensors"),
                           "--freeze", "backbone", "--clip-frames", "8", "--epochs", "1", "--batch", "2",
                           "--lr", "0.01", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "fewer than 10 clips" in err and "class head (fc) starts from fresh weights" in err
    assert "validation per class" in err and "clap" in err and "wave" in err
    model = load_model(out / "last.safetensors")
    assert model.checkpoint_meta["classes"] == ["clap", "wave"] and model.num_classes == 2
    assert model.checkpoint_meta["preprocessing"] == PREPROCESSING_NAME
    init = _weights(run_a / "best.safetensors")
    for k, v in model.state_dict().items():  # frozen backbone: unchanged, BatchNorm statistics included
        if not k.startswith("fc."):
            assert torch.equal(v, init[k]), k


def test_init_gives_the_architecture_of_its_checkpoint(tmp_path, capsys):
    """``--init`` a slim 90-frame continual checkpoint: width and clip length come from it (issue 23), unless told."""
    init = Path(__file__).resolve().parents[1] / "weights" / "gestures_costgcn_mod.safetensors"
    clips = _clip_folder(tmp_path / "clips")
    out = tmp_path / "from_init"
    code = train_cli.main(["--model", "costgcn_mod", "--clips", str(clips), "--init", str(init), "--freeze", "backbone",
                           "--epochs", "1", "--batch", "2", "--lr", "0.01", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "architecture from" in err and "base_channels 32" in err and "clip_frames 90" in err
    model = load_model(out / "last.safetensors")
    assert model.base_channels == 32 and model.clip_frames == 90 and model.receptive_field == 90
    assert model.checkpoint_meta["model_kwargs"] == {"clip_frames": 90, "base_channels": 32}
    start = read_checkpoint(init).state_dict
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items() if not k.startswith("fc."))
    code = train_cli.main(["--model", "costgcn_mod", "--clips", str(clips), "--init", str(init), "--base-channels",
                           "64", "--epochs", "1", "--batch", "2", "--out", str(tmp_path / "told")])
    err = capsys.readouterr().err
    assert code == 2 and "has shape (32,)" in err and "Traceback" not in err


def test_stratified_split_and_clip_length():
    labels = np.array([0] * 5 + [1] * 2 + [2])
    train, val = stratified_split(labels, 0.2, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(8))
    assert [int((labels[val] == c).sum()) for c in range(3)] == [1, 1, 0]
    skel = np.ones((400, 3, 25, 1), np.float32) * np.arange(400, dtype=np.float32)[:, None, None, None]
    clip, cut = fit_length(skel, 300)
    assert cut and clip.shape == (3, 300, 25, 2) and clip[0, 0, 0, 0] == 50 and not clip[..., 1].any()
    stamps = np.arange(0, 61) / 60.0  # 60 fps -> 30 fps keeps every second frame
    assert resample(skel[:61], stamps)[:, 0, 0, 0].tolist() == list(range(0, 61, 2))


def test_video_pose_is_extracted_once_and_cached(tmp_path):
    import cv2

    video = shared_data("video", "S001C001P001R001A001_rgb.avi")
    clips = _clip_folder(tmp_path / "clips")
    cap = cv2.VideoCapture(str(video))
    writer = cv2.VideoWriter(str(clips / "wave" / "short.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (480, 270))
    for _ in range(12):
        ok, frame = cap.read()
        assert ok
        writer.write(cv2.resize(frame, (480, 270)))
    writer.release()
    cap.release()
    first = prepare_clips(clips, val_fraction=0.0)
    cached = list((clips / CACHE_DIR).glob("*.h5"))
    assert len(cached) == 1 and first.counts == [2, 3] and first.train.data.shape == (5, 3, 300, 25, 2)
    stamp = cached[0].stat().st_mtime_ns
    second = prepare_clips(clips, val_fraction=0.0)
    assert cached[0].stat().st_mtime_ns == stamp
    assert np.array_equal(first.train.data, second.train.data)


# ---------------------------------------------------------------------------------------------------------------------
# evaluation

def test_eval_reports_clip_and_step_mode(data, tmp_path, capsys):
    """CoST-GCN* on 81-frame clips: the last step-mode prediction is the clip-mode prediction."""
    torch.manual_seed(0)
    model = randomise(build("costgcn_mod", num_classes=4, clip_frames=81), calibrate_frames=81)
    weights = save_checkpoint(tmp_path / "co.safetensors", model, {"classes": CLASSES})
    out = tmp_path / "eval"
    assert eval_cli.main(["--weights", str(weights), "--data", str(data["eval81"]), "--step-mode", "--batch", "4",
                          "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "clip mode" in printed and "step mode" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    clip, step = metrics["modes"]["clip"], metrics["modes"]["step"]
    assert clip["samples"] == step["samples"] == 4
    assert clip["top1"] == step["top1"] and step["loss"] == pytest.approx(clip["loss"], rel=1e-4, abs=1e-4)
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "sample,label,pred_clip,pred_step" and all(r.split(",")[2] == r.split(",")[3] for r in rows[1:])
    conf = (out / "confusion_step.csv").read_text().splitlines()
    assert len(conf) == 5 and conf[0].split(",")[1:] == CLASSES
    assert (out / "confusion_clip.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_of_a_trained_checkpoint_and_its_errors(run_a, data, capsys):
    assert eval_cli.main(["--weights", str(run_a / "best.safetensors"), "--data", str(data["eval81"]), "--json",
                          "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["modes"]["clip"]["samples"] == 4 and 0 <= result["modes"]["clip"]["top1"] <= 1
    assert eval_cli.main(["--weights", str(run_a / "best.safetensors"), "--data", str(data["eval81"]),
                          "--step-mode"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cognn-eval: error:") and "continual" in err and "Traceback" not in err


def test_cli_user_errors_are_one_sentence(run_a, data, tmp_path, capsys):
    cases = [
        ["--model", "stgcn", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")],
        ["--model", "stgcn", "--data", str(data["train"]), "--out", str(run_a)],  # a run is there: needs --resume
        ["--model", "stgcn", "--data", str(data["train"]), "--out", str(tmp_path / "new"), "--resume"],
        ["--model", "stgcn", "--data", str(data["train"]), "--freeze", "backbone", "--out", str(tmp_path / "o")],
        ["--model", "agcn", "--data", str(data["train"]), "--out", str(run_a), "--resume"],
        ["--model", "nope", "--data", str(data["train"])],
        ["--model", "stgcn", "--data", str(data["train"]), "--device", "cuda"] if not torch.cuda.is_available()
        else ["--model", "stgcn", "--data", str(data["train"]), "--epochs", "0"],
    ]
    for argv in cases:
        assert train_cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "cognn-train: error:" in err and "Traceback" not in err, err


def test_a_slim_network_trains_and_saves_its_width(data, tmp_path):
    """``--base-channels``: the width reaches the model, the checkpoints and the continual export."""
    out = tmp_path / "slim"
    assert train_cli.main(["--model", "costgcn_mod", "--data", str(data["train"]), "--clip-frames", "81",
                           "--base-channels", "16", "--epochs", "1", "--batch", "8", "--lr", "0.001", "--quiet",
                           "--out", str(out)]) == 0
    model = load_model(out / "last.safetensors")
    assert model.name == "costgcn_mod" and model.base_channels == 16 and model.fc.in_features == 64
    assert model.checkpoint_meta["model_kwargs"] == {"clip_frames": 81, "base_channels": 16}
    assert train_cli.main(["--model", "stgcn", "--data", str(data["train"]), "--base-channels", "12",
                           "--out", str(tmp_path / "bad")]) == 2
