"""Interrupted ``cognn-infer`` runs, for real (subprocesses and signals): Ctrl-C ends it within seconds with no worker
left and no temporary file; a live run keeps what it wrote; a killed render leaves only a temporary file, which the
next run removes and names."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, shared_data

INFER = [sys.executable, "-c", "import sys; from cognn.cli.infer import main; sys.exit(main())"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(INFER + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until something was written under ``path``'s folder (a temporary file growing), or the process ended."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if any(f.stat().st_size > 1000 for f in path.iterdir() if f.is_file()):
            return
        time.sleep(0.2)


def _children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return out.split()


def test_ctrl_c_stops_workers_at_once_and_leaves_no_file(tmp_path):
    videos = shared_data("video")
    proc = _start([str(videos), "--workers", "2", "-o", "out.jsonl", "--render", "r.mp4", "--save-skeletons",
                   "s.h5"], tmp_path)
    _wait_for(tmp_path, proc)
    assert proc.poll() is None, proc.communicate()[1]
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err
    assert not _children(proc.pid)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in left if "partial" in n], left
    assert not (tmp_path / "out.jsonl").exists() or all(json.loads(line) for line in
                                                         (tmp_path / "out.jsonl").read_text().splitlines())


def test_ctrl_c_on_a_live_run_keeps_the_records_so_far(tmp_path):
    video = shared_data("video", "selinkesler_Office.mp4")
    proc = _start([str(video), "-o", "out.jsonl", "--render", "r.mp4"], tmp_path)
    _wait_for(tmp_path, proc)
    time.sleep(1.0)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert records and [r["frame"] for r in records] == list(range(len(records)))
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "r.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(records)  # the render closed cleanly, frame for frame
    cap.release()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_a_killed_render_leaves_a_temporary_file_that_the_next_run_removes(tmp_path):
    video = shared_data("video", "selinkesler_Office.mp4")
    proc = _start([str(video), "-o", "out.jsonl", "--render", "r.mp4"], tmp_path)
    _wait_for(tmp_path, proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert not (tmp_path / "r.mp4").exists() and not (tmp_path / "out.jsonl").exists()
    left = [p for p in tmp_path.iterdir() if "partial" in p.name]
    assert left  # at most temporary files, never a broken video under the final name
    again = _start([str(shared_data("ntu", "skeletons", "S001C001P001R001A011.skeleton")), "-o", "out.jsonl",
                    "--render", "r.mp4", "--max-frames", "5"], tmp_path)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "left behind by an interrupted run" in err
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    assert (tmp_path / "r.mp4").is_file() and len((tmp_path / "out.jsonl").read_text().splitlines()) == 5


@pytest.mark.parametrize("target", ["/dev/full"])
def test_a_full_device_blames_the_output(tmp_path, target):
    if not Path(target).exists():
        pytest.skip(f"{target} is not on this system")
    proc = _start(["--demo", "-o", target, "-q"], tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"cognn-infer: error: the records cannot be written to {target} " \
                                           "(No space left on device)"


def test_ctrl_c_lets_the_frame_in_hand_finish_and_then_stops():
    """cognn-infer's loop: Ctrl-C during a frame's step and records is held until they are written, then raised;
    between frames (waiting for the next one) it stops at once; the handler is put back afterwards."""
    from cognn.cli.common import WholeUnits

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner replaced Python's own SIGINT handler")
    done = []
    with pytest.raises(KeyboardInterrupt), WholeUnits() as whole:
        with whole.unit():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run by now: it only noted the request
            done.append("records of the frame")
        done.append("the next frame")  # never reached
    assert done == ["records of the frame"]
    with pytest.raises(KeyboardInterrupt), WholeUnits():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        done.append("waiting")  # never reached: outside a unit Ctrl-C interrupts at once
    assert done == ["records of the frame"]
    with pytest.raises(KeyboardInterrupt), WholeUnits() as whole, whole.unit():  # a frame that fails after Ctrl-C:
        os.kill(os.getpid(), signal.SIGINT)                                       # the stop is not lost
        time.sleep(0.05)
        raise ValueError("the frame failed")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
