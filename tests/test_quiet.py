"""Native log lines kept off the terminal without losing anyone else's (cognn.pose.quiet): MediaPipe logs on fd 2
whenever it likes, and a progress line or a warning from another thread must still get through."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from helpers import REPO, shared_data

from cognn.pose.quiet import is_native_log_line

#: lines the native libraries print (MediaPipe 0.10.x and 1.x, LiteRT, OpenCV, FFmpeg through OpenCV)
NATIVE = [
    b"W0000 00:00:1796689767.932195   30804 inference_runner_litert.cc:1433] Input tensor memory is not aligned\n",
    b"I0000 00:00:1733822123.123456   12345 gl_context.cc:357] GL version: 3.2\n",
    b"WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.\n",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
    b"WARNING: Logging before InitGoogle() is written to STDERR\n",
    b"[ WARN:0@0.030] global cap_v4l.cpp:999 open VIDEOIO(V4L2:/dev/video0): can't open camera by index\n",
    b"[ERROR:0@0.031] global obsensor_uvc_stream_channel.cpp:158 getStreamChannelGroup Camera index out of range\n",
    b"[h264 @ 0x55d5c8a0f140] error while decoding MB 12 7\n",
]
#: lines that are somebody's message, not a native log
OURS = [b"cognn-infer: wrote 90 records to r.jsonl\n", b"INFO: starting\n", b"Warning: low light\n",
        b"/x/y.py:3: UserWarning: careful\n", b"[1/3] squat\n"]


def test_native_lines_are_told_from_messages():
    assert all(is_native_log_line(line) for line in NATIVE)
    assert not any(is_native_log_line(line) for line in OURS)


def _run(code: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def test_threads_share_one_redirect_and_the_real_stderr_comes_back():
    """Two threads whose silenced stretches overlap (a plain redirect each would leave fd 2 on /dev/null): native
    lines written meanwhile are dropped, the threads' own lines all arrive, and fd 2 works afterwards."""
    proc = _run(f"""
        import os, sys, threading
        from cognn.pose.quiet import stderr_silenced
        native = {NATIVE!r}
        def work(name):
            for k in range(200):
                with stderr_silenced():
                    os.write(2, native[k % len(native)])
                    os.write(2, f"{{name}} {{k}}\\n".encode())  # one write per line: threads' prints interleave
        threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("after", file=sys.stderr)
    """)
    lines = proc.stderr.decode().splitlines()
    assert not any(is_native_log_line(line.encode()) for line in lines), lines[:5]
    assert sorted(lines) == sorted([f"{n} {k}" for n in "ab" for k in range(200)] + ["after"])
    assert lines[-1] == "after"


def test_mediapipe_running_drops_its_log_but_not_a_thread_s_lines():
    """Real MediaPipe on a real clip (it logs as it first finds and projects a pose) while another thread prints:
    none of MediaPipe's lines reach stderr, every one of the thread's does."""
    clip = next(shared_data("video", "real", "burpee").glob("*.mp4"))
    proc = _run(f"""
        import sys, threading, time
        import cv2
        from cognn.pose import PoseEstimator
        stop = threading.Event()
        def talk():
            k = 0
            while not stop.is_set():
                print(f"line {{k}}", file=sys.stderr); k += 1; time.sleep(0.01)
            print(f"last {{k}}", file=sys.stderr)
        talker = threading.Thread(target=talk); talker.start()
        cap = cv2.VideoCapture({str(clip)!r})
        with PoseEstimator(mode="video") as est:
            found = 0
            for k in range(45):
                ok, frame = cap.read()
                found += bool(ok and est.process(frame, k / 30))
        stop.set(); talker.join()
        print(f"found {{found}}", file=sys.stderr)
    """)
    text = proc.stderr.decode()
    lines = text.splitlines()
    assert not any(is_native_log_line(line.encode()) for line in lines), [x for x in lines if "line" not in x][:5]
    found = next(x for x in lines if x.startswith("found "))
    assert int(found.split()[1]) > 30, found  # MediaPipe found the person (so it ran all the way)
    last = int(next(x for x in lines if x.startswith("last ")).split()[1])
    # every line's text arrives (one written just as fd 2 comes back may land a line later: not checked in order)
    assert sorted(int(k) for k in re.findall(r"line (\d+)", text)) == list(range(last)), text[:500]
