"""Issue 30, reliability round two: no output destroys an input or another output, crafted files are refused within
bounded time and memory, a full disk is an error, interruptions leave no partial file. Every crafted input is made
here; each test fails on the code before the fix."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cognn.cli import infer

DEMO = Path(infer.DEMO_RECORDING)


def _run_infer(capsys, *args: object) -> tuple[int, str]:
    rc = infer.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


# --- 1. an output never replaces an input or another output -----------------------------------------------------------

def test_outputs_never_replace_inputs_or_each_other(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    weights = tmp_path / "W.safetensors"
    weights.write_bytes(b"weights")
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n")
    policy = tmp_path / "policy.json"
    policy.write_text("{}")
    (tmp_path / "hard.safetensors").hardlink_to(weights)
    (tmp_path / "soft.safetensors").symlink_to(weights)
    cases = [
        (["-o", weights, "--weights", weights], "input --weights"),
        (["-o", "hard.safetensors", "--weights", weights], "input --weights"),
        (["-o", "soft.safetensors", "--weights", weights], "input --weights"),
        (["-o", "./W.safetensors", "--weights", "W.safetensors"], "input --weights"),
        (["-o", classes, "--classes", classes], "input --classes"),
        (["--events", "policy.json", "--thresholds", policy], "input --thresholds"),  # suffix refused or collision
        (["-o", "r.jsonl", "--events", "./r.jsonl"], "same file as --output"),
        (["-o", "r.h5", "--save-skeletons", tmp_path / "r.h5"], "same file as --output"),
        (["--render", "v.mp4", "-o", "v.mp4"], "same file as --output"),
    ]
    for extra, message in cases:
        t0 = time.perf_counter()
        rc, err = _run_infer(capsys, DEMO, *extra)
        assert rc == 2 and err.count("\n") == 1, (extra, err)
        assert message in err or (extra[0] == "--events" and "--events writes" in err), (extra, err)
        assert time.perf_counter() - t0 < 10
    assert weights.read_bytes() == b"weights" and classes.read_text() == "a\nb\n" and policy.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["W.safetensors", "classes.txt", "policy.json", "hard.safetensors", "soft.safetensors"])


def test_events_equal_to_a_policy_input_is_refused(tmp_path, capsys):
    policy = tmp_path / "policy.jsonl"  # an events-like name, so only the collision can refuse it
    policy.write_text("{}")
    from cognn.atomic import OutputError, check_outputs

    with pytest.raises(OutputError, match="same file as the input --thresholds"):
        check_outputs([(policy, "--events")], [(policy, "--thresholds")])
    with pytest.raises(OutputError, match="same file as --output"):
        check_outputs([(tmp_path / "x.jsonl", "--output"), (tmp_path / "sub" / ".." / "x.jsonl", "--events")])
    check_outputs([("-", "--output"), ("/dev/null", "--events"), ("/dev/null", "--render")])


# --- 3. a fifo nobody reads is refused, not waited on forever ---------------------------------------------------------

def test_fifo_output_without_reader_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "records.jsonl"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    rc, err = _run_infer(capsys, DEMO, "-o", fifo, "--max-frames", "2")
    assert rc == 2 and "no program reads" in err and str(fifo) in err and time.perf_counter() - t0 < 10
