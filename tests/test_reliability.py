"""Issue 30, reliability round two: no output destroys an input or another output, crafted files are refused within
bounded time and memory, a full disk is an error, interruptions leave no partial file. Every crafted input is made
here; each test fails on the code before the fix."""
from __future__ import annotations

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from cognn.atomic import OutputError
from cognn.checkpoints import read_checkpoint
from cognn.checkpoints.safe_pickle import LEGACY_MAGIC
from cognn.cli import infer, info
from cognn.errors import InputFileError

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


def test_training_never_overwrites_its_init_weights(tmp_path, capsys):
    from cognn.cli import train

    out = tmp_path / "run"
    out.mkdir()
    init = out / "best.safetensors"
    init.write_bytes(b"earlier weights")
    data = tmp_path / "train.h5"
    data.write_bytes(b"x")
    rc = train.main(["--model", "stgcn", "--data", str(data), "--init", str(init), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "same file as the input --init" in err and err.count("\n") == 1, err
    assert init.read_bytes() == b"earlier weights"


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


# --- 4, 5. crafted pickles: hash bombs, deep keys, exponential storage keys, declared sizes, overlapping records ------

def _u(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _ops(obj) -> bytes:
    """The pickle instructions that build ``obj`` (protocol 2, without PROTO and STOP): memo from 0."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def _doubled(n: int):
    t = ()
    for _ in range(n):
        t = (t, t)  # 2^n leaves when walked, n objects in the pickle
    return t


def _legacy(main: bytes, keys: bytes = b"]", tail: bytes = b"") -> bytes:
    """A legacy torch file: magic, protocol, sys_info, ``main`` (pickle instructions), the storage key list."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = b"".join(pickle.dumps(p, protocol=2) for p in (int.from_bytes(LEGACY_MAGIC[4:], "little"), 1001, sys_info))
    return head + b"\x80\x02" + main + b"." + b"\x80\x02" + keys + b"." + tail


def _zip(records: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            zf.writestr(name, data)
    return buf.getvalue()


def _pid(key_ops: bytes, numel: int, legacy: bool) -> bytes:
    return (b"(" + _u("storage") + b"ctorch\nFloatStorage\n" + key_ops + _u("cpu") + b"J" + struct.pack("<i", numel)
            + (b"N" if legacy else b"") + b"tQ")


HASH_BOMB = _ops(_doubled(64))
DEEP = b")" + b"\x85" * 1_000_000  # a tuple nested a million deep


CRAFTED = {
    "hash bomb as a dict key": _legacy(b"}" + HASH_BOMB + b"K\x01s"),
    "hash bomb in an OrderedDict": _legacy(b"ccollections\nOrderedDict\n(((" + HASH_BOMB + b"K\x01tltR"),
    "hash bomb in a frozenset": _legacy(b"(" + HASH_BOMB + b"\x91"),
    "hash bomb in the header": (pickle.dumps(int.from_bytes(LEGACY_MAGIC[4:], "little"), protocol=2)
                                + b"\x80\x02}" + HASH_BOMB + b"K\x01s."),
    "deep tuple as a dict key": _legacy(b"}" + DEEP + b"K\x01s"),
    "exponential legacy storage key": _legacy(b"]" + _pid(_ops(_doubled(40)), 1, True) + b"a"),
    "exponential zip storage key": _zip([("archive/data.pkl",
                                          b"\x80\x02]" + _pid(_ops(_doubled(40)), 1, False) + b"a.")]),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_pickles_are_refused_quickly(tmp_path, capsys, name):
    path = tmp_path / "crafted.pt"
    path.write_bytes(CRAFTED[name])
    t0 = time.perf_counter()
    with pytest.raises(InputFileError) as ei:
        read_checkpoint(path)
    msg = str(ei.value)
    assert msg.startswith(str(path)) and "\n" not in msg and len(msg) < 400, msg
    assert time.perf_counter() - t0 < 10, name
    assert info.main([str(path)]) == 2 and "Traceback" not in capsys.readouterr().err


def _memoized_key_reused(times: int) -> bytes:
    """A dict whose one key (a tuple of 8 191 parts, memoized) is set ``times`` times: each time it is hashed."""
    import pickletools

    key = _ops(_doubled(12))
    last = max(arg for op, arg, _ in pickletools.genops(b"\x80\x02" + key + b".") if op.name == "BINPUT")
    return _legacy(b"}" + key + b"0(" + (b"h" + bytes([last]) + b"K\x01") * times + b"u")


def test_reused_keys_and_self_nested_lists_cost_bounded_work(tmp_path):
    path = tmp_path / "reused.pt"
    path.write_bytes(_memoized_key_reused(400_000))  # 3 * 10^9 parts to hash without the budget
    t0 = time.perf_counter()
    with pytest.raises(InputFileError, match="hashes more than"):
        read_checkpoint(path)
    selfish: list = []
    selfish.extend([selfish] * 400_000)  # one list holding itself 400 000 times (1 MB pickled)
    path.write_bytes(_legacy(b"}" + _u("x") + _ops(selfish) + b"s"))
    with pytest.raises(InputFileError, match="levels deep"):
        read_checkpoint(path)
    assert time.perf_counter() - t0 < 10


def test_storages_declaring_more_than_the_file_are_refused_before_allocation(tmp_path):
    numel = 2**18  # 1 MB of float32 each, about the file's size; 5000 of them declared
    main = b"]" + b"(" + b"".join(_pid(_u(str(i)), numel, True) for i in range(5000)) + b"e"
    path = tmp_path / "declared.pt"
    path.write_bytes(_legacy(main, tail=b"\0" * (numel * 4)))
    with pytest.raises(InputFileError, match="declare .* more than the file"):
        read_checkpoint(path)


def _overlapping_zip(kernel: bytes, count: int) -> bytes:
    """A zip whose ``count`` STORED records nest into each other, each holding (almost) all of ``kernel``."""
    names = [f"archive/data/{i}" for i in range(count)]
    pkl = b"\x80\x02]" + b"(" + b"".join(_pid(_u(str(i)), 1, False) for i in range(count)) + b"e."
    headers = [len(n) + 30 for n in names]
    body = bytearray()
    central = bytearray()
    entries = [("archive/data.pkl", pkl)]
    # record i's data is every later local header followed by the kernel
    for i, name in enumerate(names):
        data_len = sum(headers[i + 1:]) + len(kernel)
        entries.append((name, data_len))
    blob = bytearray()
    for name, data in entries[:1]:
        blob += _local(name, data, zlib.crc32(data), len(data)) + data
    nested_start = len(blob)
    tail = bytearray(kernel)
    locals_ = []
    for name, data_len in reversed(entries[1:]):
        crc = zlib.crc32(bytes(tail))
        header = _local(name, b"", crc, data_len)
        locals_.append((name, crc, data_len))
        tail = bytearray(header) + tail
    blob += tail
    offset = nested_start
    for name, crc, size in reversed(locals_):
        central += _central(name, crc, size, offset)
        offset += 30 + len(name)
    central = _central("archive/data.pkl", zlib.crc32(pkl), len(pkl), 0) + central
    body = blob + central
    return bytes(body + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count + 1, count + 1, len(central), len(blob),
                                    0))


def _local(name: str, data: bytes, crc: int, size: int) -> bytes:
    n = name.encode()
    return struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0x21, crc, size, size, len(n), 0) + n


def _central(name: str, crc: int, size: int, offset: int) -> bytes:
    n = name.encode()
    return struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0x21, crc, size, size, len(n), 0, 0,
                       0, 0, 0, offset) + n


def test_overlapping_zip_records_are_refused(tmp_path):
    path = tmp_path / "overlap.pt"
    path.write_bytes(_overlapping_zip(b"\1" * 65536, 20))
    with zipfile.ZipFile(path) as zf:  # a valid zip: every record reads, each holding most of the file
        assert sum(len(zf.read(n)) for n in zf.namelist()) > 20 * 65536
    with pytest.raises(InputFileError, match="records overlap"):
        read_checkpoint(path)


# --- 7, 8. text and JSON readers: bounded lines, bounded nesting, short excerpts ------------------------------------

def test_one_huge_line_is_refused_quickly_and_not_echoed(tmp_path, capsys):
    from cognn.data.classes import class_subset
    from cognn.data.ntu import read_ntu_skeleton

    skel = tmp_path / "S001C001P001R001A001.skeleton"
    skel.write_bytes(b"1 " * (10 * 2**20) + b"\n")  # 20 MB on one line
    t0 = time.perf_counter()
    with pytest.raises(InputFileError, match="line 1.*line of 20.0 MB") as ei:
        read_ntu_skeleton(skel)
    assert len(str(ei.value)) < 300 and time.perf_counter() - t0 < 10
    rc, err = _run_infer(capsys, skel, "--max-frames", "1", "-q")
    assert rc == 1 and len(err) < 1000 and "line of 20.0 MB" in err
    words = tmp_path / "classes.txt"
    words.write_text("a\n" + "b" * 5000 + "\n")
    with pytest.raises(InputFileError, match=r"line 2.*longer than the 1 KB of any line of class list files") as ei:
        class_subset(str(words))
    assert len(str(ei.value)) < 300
    words.write_text("x" * (15 * 2**20))
    with pytest.raises(InputFileError, match="more than the 1.0 MB") as ei:
        class_subset(str(words))
    assert len(str(ei.value)) < 300
    joint = tmp_path / "S001C001P001R001A002.skeleton"
    joint.write_text("1\n1\n" + "x" * 60_000 + " 0 0 0 0 0 0 0 0 2\n")
    with pytest.raises(InputFileError) as ei:
        read_ntu_skeleton(joint)
    assert len(str(ei.value)) < 300


DEEP_JSON = "[" * 100_000 + "]" * 100_000


def test_deep_or_huge_json_gives_one_sentence(tmp_path, capsys):
    from cognn.data.kinetics import read_kinetics_json
    from cognn.export.sidecar import read_description, sidecar_path
    from cognn.live.alarms import load_alarm_config

    policy = tmp_path / "policy.json"
    policy.write_text('{"thresholds": ' + DEEP_JSON + "}")
    with pytest.raises(InputFileError, match="nested 100,001 levels deep"):
        load_alarm_config(policy)
    policy.write_text('{"default_threshold": ' + "9" * 5000 + "}")
    with pytest.raises(InputFileError, match="a number of 5,000 digits") as ei:
        load_alarm_config(policy)
    assert "4300" not in str(ei.value)
    graph = tmp_path / "step.onnx"
    graph.write_bytes(b"")
    sidecar_path(graph).write_text(DEEP_JSON)
    with pytest.raises(InputFileError, match="nested 100,000 levels deep"):
        read_description(graph, {})
    clip = tmp_path / "clip.json"
    clip.write_text('{"data": ' + DEEP_JSON + "}")
    with pytest.raises(InputFileError, match="nested"):
        read_kinetics_json(clip)
    rc, err = _run_infer(capsys, DEMO, "--thresholds", policy, "--max-frames", "1")
    assert rc == 2 and err.count("\n") == 1 and str(policy) in err


# --- 9. refusals name the file, the field and what was found ---------------------------------------------------------

def test_refusals_name_the_file_and_what_was_found(tmp_path, capsys):
    from cognn.data.kinetics import read_kinetics_json

    classes = tmp_path / "mine.txt"
    classes.write_text("banana\n")
    rc, err = _run_infer(capsys, DEMO, "--classes", classes, "--max-frames", "1", "-q")
    assert rc == 2 and str(classes) in err and "banana" in err
    policy = tmp_path / "policy.json"
    policy.write_text('{"thresholds": {"banana": 0.5}}')
    rc, err = _run_infer(capsys, DEMO, "--thresholds", policy, "--max-frames", "1", "-q")
    assert rc == 2 and str(policy) in err and "names a class the model does not have: banana" in err
    policy.write_text('{"thresholds": null}')
    rc, err = _run_infer(capsys, DEMO, "--thresholds", policy, "--max-frames", "1", "-q")
    assert rc == 2 and "null" in err and "NoneType" not in err and str(policy) in err
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    rc, err = _run_infer(capsys, empty)
    assert rc == 2 and str(empty) in err and "no supported file" in err
    clip = tmp_path / "clip.json"
    clip.write_text('{"data": {"a": 1}}')
    with pytest.raises(InputFileError, match="'data'.*expected a list, got a map") as ei:
        read_kinetics_json(clip)
    assert "NoneType" not in str(ei.value) and str(clip) in str(ei.value)


# --- 12. start-up runs no C compiler ---------------------------------------------------------------------------------

def test_pose_estimator_start_runs_no_compiler(tmp_path):
    """MediaPipe's audio import (sounddevice -> ctypes.util.find_library -> gcc) is kept out of cognn's start-up."""
    code = (
        "import sys\n"
        "spawned = []\n"
        "sys.addaudithook(lambda ev, args: spawned.append(str(args[0])[:80]) "
        "if ev in ('subprocess.Popen', 'os.posix_spawn', 'os.exec') else None)\n"
        "from cognn.pose.landmarker import PoseEstimator\n"
        "est = PoseEstimator(mode='image')\n"
        "est.close()\n"
        "print('SPAWNED', spawned, sys.modules.get('sounddevice') is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = [x for x in out.stdout.splitlines() if x.startswith("SPAWNED")]
    assert line, out.stderr[-2000:]
    assert line[0] == "SPAWNED [] False", line[0]


# --- 10, 10b, 13. ONNX graphs and torch weights that compute nonsense; ONNX Runtime's home folder --------------------

NTU_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ntu" / "skeletons" / \
    "S001C001P001R001A001.skeleton"


@pytest.fixture(scope="module")
def small_graph(tmp_path_factory) -> Path:
    """A small exported step graph (CoST-GCN*, 8 channels) with its sidecar."""
    import torch
    from helpers import randomise

    from cognn.export.build import export_model, write_step
    from cognn.models import build

    torch.manual_seed(0)
    net = randomise(build("costgcn_mod", num_classes=5, base_channels=8, clip_frames=81), seed=1, calibrate_frames=100)
    path = tmp_path_factory.mktemp("graph") / "good" / "step.onnx"
    path.parent.mkdir()
    write_step(export_model(net), path)
    return path


def _graph_copy(good: Path, folder: Path, edit=None, sidecar: bool = True) -> Path:
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    proto = onnx.load(str(good))
    if edit is not None:
        edit(proto)
    path = folder / "step.onnx"
    onnx.save(proto, str(path))
    if sidecar:
        Path(str(path) + ".json").write_bytes(Path(str(good) + ".json").read_bytes())
    return path


def _first_float(proto):
    import onnx

    return next(t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims))


def test_onnx_graphs_that_should_not_run_are_refused(small_graph, tmp_path, capsys):
    import numpy as np
    from onnx import numpy_helper

    from cognn.export.runtime import OnnxStep

    def poison(value):
        def edit(proto):
            t = _first_float(proto)
            a = numpy_helper.to_array(t).copy()
            a.flat[0] = value
            t.CopyFrom(numpy_helper.from_array(a, t.name))
        return edit

    def external(proto):
        t = _first_float(proto)
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.data_location = 1  # EXTERNAL
        entry = t.external_data.add()
        entry.key, entry.value = "location", "../../secret.bin"
    (tmp_path / "secret.bin").write_bytes(b"\0" * 4096)
    cases = {
        "no-sidecar": (_graph_copy(small_graph, tmp_path / "a", sidecar=False), "has no description step.onnx.json"),
        "nan": (_graph_copy(small_graph, tmp_path / "b", poison(np.nan)), "holds NaN or infinite values"),
        "huge": (_graph_copy(small_graph, tmp_path / "c", poison(3e38)), "beyond 1e30"),
        "outside": (_graph_copy(small_graph, tmp_path / "d" / "e", external), "outside the graph's folder"),
    }
    assert OnnxStep.load(small_graph).num_classes == 5
    for name, (path, expect) in cases.items():
        with pytest.raises(InputFileError, match=expect) as ei:
            OnnxStep.load(path)
        assert str(ei.value).startswith(str(path)), name
        rc, err = _run_infer(capsys, NTU_SAMPLE, "--backend", "onnx", "--weights", path, "--max-frames", "2", "-q")
        assert rc == 2 and expect in err and err.count("\n") == 1, (name, err)


def test_weights_that_compute_nan_are_refused_naming_the_file(tmp_path, capsys):
    import torch

    from cognn.checkpoints import save_checkpoint
    from cognn.models import build

    torch.manual_seed(0)
    net = build("costgcn_mod", num_classes=5, base_channels=8, clip_frames=81)
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var.fill_(-1.0)  # finite, but sqrt(-1) is NaN
    path = save_checkpoint(tmp_path / "negative_var.safetensors", net, {"classes": list("abcde")})
    out = tmp_path / "records.jsonl"
    rc, err = _run_infer(capsys, NTU_SAMPLE, "--weights", path, "--max-frames", "20", "-q", "-o", out)
    assert rc == 2 and str(path) in err and "not finite" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_onnx_runtime_writes_nothing_into_home(small_graph, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = ("from cognn.export.runtime import OnnxStep\nimport numpy as np\n"
            f"s = OnnxStep.load({str(small_graph)!r})\n"
            "s.step(np.zeros((1, 3, 25, 2), np.float32))\nprint('stepped')\n")
    for h in (home, tmp_path / "not-a-folder" / "home"):  # writable, and one that cannot be created
        env = {**os.environ, "HOME": str(h)}
        env.pop("ORT_DISABLE_TELEMETRY", None)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0 and "stepped" in out.stdout and "telemetry" not in out.stderr, out.stderr[-500:]
    assert list(home.rglob("*")) == []


# --- 2. a full disk is an error: one sentence, non-zero exit, the previous file untouched, no partial file ------------

@pytest.fixture()
def small_disk(tmp_path):
    """A 256 KB tmpfs, nearly full (some 40 KB left, less the old files): a real ENOSPC from the kernel. Needs root
    (mount); skipped, saying so, elsewhere."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {res.stderr.strip()[:100]}")
    try:
        (mnt / "fill").write_bytes(b"\0" * (208 * 1024))
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _left_alone(folder: Path, names: dict[str, bytes]) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(["fill", *names])
    for name, data in names.items():
        assert (folder / name).read_bytes() == data


def test_full_disk_is_an_error_and_keeps_the_previous_file(small_disk, tmp_path, capsys):
    old = {"v.mp4": b"old video", "r.jsonl": b"old records\n", "w.safetensors": b"old weights",
           "step.onnx": b"old graph", "step.onnx.json": b"{}"}
    for name, data in old.items():
        (small_disk / name).write_bytes(data)
    rc, err = _run_infer(capsys, DEMO, "--max-frames", "100", "-q", "--render", small_disk / "v.mp4")
    assert rc != 0 and "v.mp4 could not be written (the disk is full)" in err and err.count("\n") == 1, err
    rc, err = _run_infer(capsys, DEMO, "--max-frames", "300", "-q", "-o", small_disk / "r.jsonl")
    assert rc == 2 and "r.jsonl" in err and err.count("\n") == 1, err
    _left_alone(small_disk, old)

    import torch

    from cognn.checkpoints import save_checkpoint
    from cognn.cli import export
    from cognn.models import build

    torch.manual_seed(0)
    net = build("costgcn_mod", num_classes=5, base_channels=32, clip_frames=81)
    with pytest.raises(OutputError, match="w.safetensors could not be written .the disk is full."):
        save_checkpoint(small_disk / "w.safetensors", net)
    weights = save_checkpoint(tmp_path / "w.safetensors", net)
    assert export.main([str(weights), str(small_disk / "step.onnx")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "could not be written (the disk is full)" in err and err.count("\n") == 1, err
    _left_alone(small_disk, old)


# --- 11, 11b. SIGTERM and SIGHUP stop like Ctrl-C; workers die with their parent; Ctrl-C keeps workers' records -------

INFER_CMD = [sys.executable, "-c", "import sys; from cognn.cli.infer import main; sys.exit(main())"]
VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"


def _start_infer(args: list[object], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen(INFER_CMD + [str(a) for a in args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _until_writing(folder: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if any(f.stat().st_size > 2000 for f in folder.iterdir() if f.is_file()):
            return
        time.sleep(0.1)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    pairs = [(int(a), int(b)) for a, b in zip(out[::2], out[1::2])]
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in pairs if parent == p]
        found += kids
        todo += kids
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_run_like_ctrl_c(tmp_path, sig):
    proc = _start_infer([VIDEOS / "S004C002P003R001A055_rgb.avi", "-o", "out.jsonl", "--render", "r.mp4",
                         "--save-skeletons", "s.h5"], tmp_path)
    _until_writing(tmp_path, proc)
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err, err[-800:]
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]
    records = (tmp_path / "out.jsonl").read_text().splitlines()
    assert records and (tmp_path / "r.mp4").exists()


@pytest.mark.slow  # two worker processes start (torch, MediaPipe) twice: some 35 s on a busy 2-core box
def test_workers_keep_their_records_on_ctrl_c_and_die_with_a_killed_parent(tmp_path):
    inputs = [VIDEOS / "S004C002P003R001A055_rgb.avi", VIDEOS / "S004C002P003R002A046_rgb.avi"]
    run = tmp_path / "run"
    run.mkdir()
    proc = _start_infer([*inputs, "--workers", "2", "-o", "out.jsonl", "--events", "ev.jsonl", "--save-skeletons",
                         "s.h5"], run)
    end = time.monotonic() + 90
    while time.monotonic() < end and proc.poll() is None and not any(run.glob(".s_*partial*")):
        time.sleep(0.2)  # a worker started its input
    time.sleep(2.0)  # and made records
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err, err[-800:]
    assert (run / "out.jsonl").exists(), f"Ctrl-C with --workers kept no record: {err[-500:]}"
    records = [json.loads(line) for line in (run / "out.jsonl").read_text().splitlines()]
    assert records
    assert not [p.name for p in run.iterdir() if "partial" in p.name]

    killed = tmp_path / "killed"
    killed.mkdir()
    proc = _start_infer([*inputs, "--workers", "2", "--save-skeletons", "s.h5", "-o", "out.jsonl"], killed)
    end = time.monotonic() + 90
    while time.monotonic() < end and proc.poll() is None and not any(killed.glob(".s_*partial*")):
        time.sleep(0.2)
    workers = _descendants(proc.pid)
    assert proc.poll() is None and workers
    proc.kill()  # SIGKILL: no handler runs in the parent
    proc.communicate(timeout=30)
    end = time.monotonic() + 10
    while time.monotonic() < end and any(os.path.exists(f"/proc/{w}") and
                                         "zombie" not in _state(w) for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if os.path.exists(f"/proc/{w}") and "zombie" not in _state(w)]
    assert not alive, f"workers outlived their killed parent: {alive}"
    left = sorted(p.name for p in killed.iterdir())
    assert not [n for n in left if n.startswith("s_")], left  # no recording under its final name
    assert not [n for n in left if n.startswith(".s_")], left  # and the workers removed their temporary files


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


# --- 6. HDF5 decompression bombs --------------------------------------------------------------------------------------

def test_hdf5_decompression_bombs_are_refused_at_once(tmp_path, capsys):
    import h5py
    import numpy as np

    from cognn.data.store import DatasetWriter, dataset_length, load_recording, save_recording

    rec = tmp_path / "bomb.h5"
    save_recording(rec, np.zeros((2, 3, 25, 2), np.float32), np.arange(2.0), "ntu25", "camera3d")
    frames = 200_000  # 120 MB of zeros, some 300 KB compressed
    with h5py.File(rec, "r+") as f:
        del f["skeleton"], f["timestamp"]
        f.create_dataset("skeleton", shape=(frames, 3, 25, 2), dtype=np.float32, chunks=(8192, 3, 25, 2),
                         compression="gzip", fillvalue=0.0)
        sk = f["skeleton"]
        block = np.zeros((8192, 3, 25, 2), np.float32)
        for i in range(0, frames, 8192):
            sk[i:i + 8192] = block[: frames - i]
        f.create_dataset("timestamp", data=np.arange(frames, dtype=np.float64), compression="gzip", shuffle=True)
    assert rec.stat().st_size < 2**20
    t0 = time.perf_counter()
    with pytest.raises(InputFileError, match="decompression bomb") as ei:
        load_recording(rec)
    assert str(ei.value).startswith(str(rec)) and time.perf_counter() - t0 < 10
    rc, err = _run_infer(capsys, rec, "-q", "--max-frames", "1")
    assert rc != 0 and "decompression bomb" in err

    from cognn.data.classes import class_names

    ds = tmp_path / "ds.h5"
    with DatasetWriter(ds, "ntu25", class_names("ntu60"), dataset="ntu60", num_frames=300) as w:
        zero = np.zeros((3, 300, 25, 2), np.float32)
        for i in range(1000):  # 180 MB decoded from about 300 KB
            w.append(zero, 0, f"S001C001P001R001A{1 + i % 60:03d}")
    with pytest.raises(InputFileError, match="decompression bomb"):
        dataset_length(ds)


def test_a_long_recording_still_loads_in_chunks(tmp_path):
    import numpy as np

    from cognn.data.store import load_recording, save_recording

    rng = np.random.default_rng(0)
    skeleton = rng.standard_normal((70_000, 3, 25, 1)).astype(np.float32)  # more than one read chunk
    rec = save_recording(tmp_path / "long.h5", skeleton, np.arange(70_000) / 30.0, "ntu25", "camera3d")
    back = load_recording(rec)
    assert back.skeleton.dtype == np.float32 and np.array_equal(back.skeleton, skeleton)


def test_the_app_closes_on_sigterm(tmp_path):
    """cognn-app: SIGTERM closes the window as the user would (exit 130), once its handler is in place."""
    code = (
        "import os, signal, sys, threading, time\n"
        "def stop():\n"
        "    end = time.monotonic() + 60\n"
        "    while signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and time.monotonic() < end:\n"
        "        time.sleep(0.1)\n"
        "    time.sleep(0.5)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "threading.Thread(target=stop, daemon=True).start()\n"
        "from cognn_app.main import main\n"
        f"rc = main(['--source', {str(DEMO)!r}, '--speed', '0.25', '--frames', '100000'])\n"
        "print('RC', rc, flush=True)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "RC 130" in out.stdout, (out.returncode, out.stderr[-800:])


@pytest.mark.slow  # a training run to its second epoch: some 20 s on a busy 2-core box
def test_training_stopped_by_sigterm_leaves_no_partial_file(tmp_path):
    import numpy as np

    from cognn.data.store import DatasetWriter

    data = tmp_path / "train.h5"
    rng = np.random.default_rng(0)
    with DatasetWriter(data, "ntu25", ["a", "b"], num_frames=16) as w:
        for i in range(8):
            w.append(rng.standard_normal((3, 16, 25, 2)).astype(np.float32), i % 2, f"s{i}")
    out = tmp_path / "run"
    code = (
        "import os, signal, sys, threading, time\n"
        "def stop():\n"
        "    end = time.monotonic() + 60\n"
        f"    while not os.path.exists({str(out / 'last_state.pt')!r}) and time.monotonic() < end:\n"
        "        time.sleep(0.05)\n"
        "    time.sleep(0.3)  # in the next epoch, writing its state again\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "threading.Thread(target=stop, daemon=True).start()\n"
        "from cognn.cli.train import main\n"
        f"sys.exit(main(['--model', 'stgcn', '--clip-frames', '8', '--batch', '4', '--epochs', '100000', "
        f"'--workers', '0', '--quiet', '--base-channels', '8', '--data', {str(data)!r}, '--val', {str(data)!r}, "
        f"'--out', {str(out)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr[-800:]
    left = sorted(p.name for p in out.iterdir())
    assert "last_state.pt" in left and not [n for n in left if "partial" in n], left


def test_checkpoint_metadata_refusals_name_the_file_and_field(tmp_path):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from cognn.checkpoints import save_checkpoint
    from cognn.checkpoints.st_bytes import serialize
    from cognn.models import build

    torch.manual_seed(0)
    good = save_checkpoint(tmp_path / "good.safetensors", build("costgcn_mod", num_classes=3, base_channels=8,
                                                                 clip_frames=81), {"classes": ["a", "b", "c"]})
    with safe_open(str(good), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(good))
    cases = {"classes": ("null", "'classes'"), "model_kwargs": ('{"clip_frames": [1, 2]}', "a list of 2 items"),
             "num_classes": ("9" * 5000, "'num_classes'")}
    for field, (value, expect) in cases.items():
        bad = tmp_path / f"bad_{field}.safetensors"
        bad.write_bytes(serialize(tensors, {**meta, field: value}))
        with pytest.raises(InputFileError) as ei:
            read_checkpoint(bad)
        msg = str(ei.value)
        assert msg.startswith(str(bad)) and expect in msg and "NoneType" not in msg and len(msg) < 300, msg
