"""Issue 21, reader/writer side: hostile or careless inputs and outputs end in one sentence within seconds.

Every case builds its crafted file itself (small files). Each outcome is a clean result or one InputFileError /
OutputError naming the file and the problem; nothing is read outside the input, no NaN is passed on, and inputs and
earlier outputs stay intact.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import cognn.cli.prep as prep
import cognn.data.store as store
from cognn.atomic import OutputError
from cognn.data.files import MAX_INPUT_BYTES, InputValueWarning, check_input_file, read_bytes
from cognn.data.kinetics import read_kinetics_json
from cognn.data.ntu import MAX_FRAMES, read_ntu_skeleton, to_array
from cognn.data.store import (
    DatasetWriter,
    RecordingWriter,
    dataset_length,
    h5_format,
    load_recording,
    open_dataset,
    save_recording,
)
from cognn.errors import CognnError, InputFileError

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]


def ntu_text(frames: int, bodies: int = 1, seed: int = 0) -> bytes:
    """A valid NTU ``.skeleton`` text: ``frames`` frames of ``bodies`` moving bodies."""
    rng = np.random.default_rng(seed)
    out = [str(frames)]
    for _ in range(frames):
        out.append(str(bodies))
        for b in range(bodies):
            out += [f"{72057594037927 + b} 0 1 1 1 1 0 0.01 -0.5 2", "25"]
            xyz = rng.normal(size=(25, 3)) * 0.1 + np.array([b, 0.0, 3.0])
            out += [f"{x:.6f} {y:.6f} {z:.6f} 250.5 200.25 900.5 500.75 0.1 -0.2 0.3 0.9 2" for x, y, z in xyz]
    return ("\n".join(out) + "\n").encode()


def _within(seconds: float, fn, *args, unblock: Path | None = None):
    """``fn(*args)`` in a thread; fails (after unblocking a fifo reader) if it takes longer than ``seconds``."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(seconds)
    if t.is_alive():
        if unblock is not None:
            fd = os.open(unblock, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        pytest.fail(f"{getattr(fn, '__name__', fn)} took more than {seconds} s (hang)")
    box["seconds"] = time.monotonic() - t0
    return box


def _one_sentence(e: BaseException, path) -> str:
    msg = str(e)
    assert str(path) in msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


# ---------------------------------------------------------------------------------------------------------------------
# 4. paths that are not regular files

from cognn.data.classes import class_subset  # noqa: E402
from cognn.live.alarms import load_alarm_config  # noqa: E402
from cognn.live.events import read_events  # noqa: E402

READERS = [("ntu", read_ntu_skeleton, ".skeleton"), ("kinetics", read_kinetics_json, ".json"),
           ("recording", load_recording, ".h5"), ("dataset", open_dataset, ".h5"), ("format", h5_format, ".h5"),
           ("length", dataset_length, ".h5"), ("bytes", read_bytes, ".bin"), ("check", check_input_file, ".bin"),
           ("class list", lambda p: class_subset(str(p)), ".txt"), ("alarm policy", load_alarm_config, ".json"),
           ("events", read_events, ".jsonl")]


@pytest.mark.parametrize("name, reader, ext", READERS, ids=[r[0] for r in READERS])
def test_non_regular_inputs_are_refused_at_once(tmp_path, name, reader, ext):
    fifo = tmp_path / f"fifo{ext}"
    os.mkfifo(fifo)
    zero = tmp_path / f"zero{ext}"
    zero.symlink_to("/dev/zero")
    broken = tmp_path / f"broken{ext}"
    broken.symlink_to(tmp_path / "nowhere")
    loop = tmp_path / f"loop{ext}"
    loop.symlink_to(loop)
    folder = tmp_path / f"folder{ext}"
    folder.mkdir()
    cases = {fifo: "named pipe", zero: "character device", broken: "broken symbolic link", loop: "loops",
             folder: "directory", tmp_path / f"missing{ext}": "not found"}
    for path, text in cases.items():
        box = _within(5, reader, path, unblock=fifo if path == fifo else None)
        assert isinstance(box.get("error"), InputFileError), (path, box)
        msg = _one_sentence(box["error"], path)
        assert text in msg, msg
        assert box["seconds"] < 2


def test_oversized_text_inputs_are_refused_before_reading(tmp_path):
    for name, reader in (("big.skeleton", read_ntu_skeleton), ("big.json", read_kinetics_json)):
        p = tmp_path / name
        with open(p, "wb") as f:
            f.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk space used
        with pytest.raises(InputFileError) as ei:
            reader(p)
        assert "more than" in _one_sentence(ei.value, p)
    assert check_input_file(tmp_path / "big.json") == tmp_path / "big.json"  # no bound unless asked


def test_symlink_to_a_regular_file_is_followed(tmp_path):
    real = tmp_path / "S001C001P001R001A001.skeleton"
    real.write_bytes(ntu_text(3))
    link = tmp_path / "S001C001P001R001A002.skeleton"
    link.symlink_to(real)
    assert read_ntu_skeleton(link).num_frames == 3


# ---------------------------------------------------------------------------------------------------------------------
# 3. NTU counts

def test_ntu_frame_count_is_bounded_before_allocating(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_bytes(b"200000\n" + b"0\n" * 200_000)  # 400 kB of empty frames
    box = _within(10, read_ntu_skeleton, p)
    assert isinstance(box.get("error"), InputFileError), box
    msg = _one_sentence(box["error"], p)
    assert "200000 frames" in msg and str(MAX_FRAMES) in msg and box["seconds"] < 3
    p.write_bytes(f"{MAX_FRAMES}\n".encode() + b"0\n" * MAX_FRAMES)  # the largest accepted: cheap to hold
    s = read_ntu_skeleton(p)
    x = to_array(s)
    assert s.num_frames == MAX_FRAMES and x.shape == (3, MAX_FRAMES, 25, 2) and not x.any()


def test_ntu_declared_counts_beyond_the_file(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton"
    for text in (b"1000000000\n1\n", b"2\n999999999\n", b"1\n1\n72057594037927 0 1 1 1 1 0 0.01 -0.5 2\n99999\n",
                 b"99999999999999999999999999\n"):
        p.write_bytes(text)
        box = _within(5, read_ntu_skeleton, p)
        assert isinstance(box.get("error"), InputFileError), (text, box)
        _one_sentence(box["error"], p)


# ---------------------------------------------------------------------------------------------------------------------
# 2. Kinetics frame indices and values

def _kinetics(records: int, frame_index, pose0=0.5, score0=0.9) -> dict:
    person = {"pose": [pose0] + [0.5] * 35, "score": [score0] + [0.9] * 17}
    return {"data": [{"frame_index": frame_index if i == records - 1 else i + 1, "skeleton": [person]}
                     for i in range(records)], "label": "x", "label_index": 1}


@pytest.mark.parametrize("index", [10**6, 10**9, 2**63, 2**64 + 1])
def test_kinetics_frame_index_bounded(tmp_path, index):
    p = tmp_path / "clip.json"
    p.write_text(json.dumps(_kinetics(76, index)))
    box = _within(5, read_kinetics_json, p)
    assert isinstance(box.get("error"), InputFileError), box
    msg = _one_sentence(box["error"], p)
    assert "frame index" in msg and "frame_index" in msg and box["seconds"] < 2


@pytest.mark.parametrize("pose0, score0", [(1e300, 0.9), (0.5, -1e308), (float("nan"), 0.9), (0.5, float("inf"))])
def test_kinetics_absurd_values_zeroed(tmp_path, pose0, score0):
    p = tmp_path / "clip.json"
    p.write_text(json.dumps(_kinetics(3, 3, pose0, score0)))  # json writes NaN / Infinity as Python does
    with pytest.warns(InputValueWarning) as rec:
        clip = read_kinetics_json(p)
    assert str(p) in str(rec[0].message) and "3 joint(s)" in str(rec[0].message)
    for fr in clip.frames:
        person = fr.persons[0]
        assert np.isfinite(person.pose).all() and np.isfinite(person.score).all()
        assert person.pose[0].tolist() == [0.0, 0.0] and person.score[0] == 0.0


# ---------------------------------------------------------------------------------------------------------------------
# 1. HDF5: nothing read outside the file, declared sizes checked, values sanitised

def _recording(path: Path, frames: int = 5) -> Path:
    skel = np.random.default_rng(0).normal(size=(frames, 3, 25, 2)).astype(np.float32)
    return save_recording(path, skel, np.arange(frames) / 30, "ntu25", "camera3d", fps=30,
                          extra_attrs={"canvas_size": [1920, 1080]})


def _dataset(path: Path, n: int = 3) -> Path:
    with DatasetWriter(path, "ntu25", CLASSES) as w:
        for i in range(n):
            w.append(np.full((3, 300, 25, 2), 0.1 * i, np.float32), i % 3, f"s{i}")
    return path


def _replace(f: h5py.File, name: str) -> None:
    del f[name]


def _external(f, secret):
    _replace(f, "skeleton")
    f.create_dataset("skeleton", (5, 3, 25, 2), dtype="f4", external=[(str(secret), 0, 5 * 3 * 25 * 2 * 4)])


def _soft_loop(f, secret):
    _replace(f, "skeleton")
    f["skeleton"] = h5py.SoftLink("/skeleton")


def _soft_other(f, secret):
    f["other"] = f["skeleton"][()]
    _replace(f, "skeleton")
    f["skeleton"] = h5py.SoftLink("/other")


def _external_link(f, secret):
    _replace(f, "skeleton")
    f["skeleton"] = h5py.ExternalLink(str(secret.with_suffix(".h5")), "/skeleton")


def _virtual(f, secret):
    _replace(f, "skeleton")
    layout = h5py.VirtualLayout(shape=(5, 3, 25, 2), dtype="f4")
    layout[:] = h5py.VirtualSource(str(secret.with_suffix(".h5")), "skeleton", shape=(5, 3, 25, 2))
    f.create_virtual_dataset("skeleton", layout)


def _declared_frames(f, secret):
    f["skeleton"].resize(10**6, axis=0)
    f["timestamp"].resize(10**6, axis=0)


def _group(f, secret):
    _replace(f, "skeleton")
    f.create_group("skeleton")


def _timestamps(f, secret):
    f["timestamp"][4] = 1e300


def _version(f, secret):
    f.attrs["version"] = np.bool_(True)


@pytest.mark.parametrize("craft, text", [
    (_external, "another file"), (_soft_loop, "soft link"), (_soft_other, "soft link"),
    (_external_link, "external link"), (_virtual, "virtual dataset"), (_declared_frames, "stores only"),
    (_group, "missing dataset"), (_timestamps, "timestamps"), (_version, "version")],
    ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else None)
def test_crafted_recordings_are_refused(tmp_path, craft, text):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"SECRET!!" * 1000)
    _recording(secret.with_suffix(".h5"))  # a valid recording the links point at
    p = _recording(tmp_path / "crafted.h5")
    with h5py.File(p, "r+") as f:
        craft(f, secret)
    before = {q.name: q.read_bytes() for q in tmp_path.iterdir()}
    box = _within(5, load_recording, p)
    assert isinstance(box.get("error"), InputFileError), box
    msg = _one_sentence(box["error"], p)
    assert text in msg, msg
    assert box["seconds"] < 2
    assert {q.name: q.read_bytes() for q in tmp_path.iterdir()} == before


def test_h5_format_and_dataset_length(tmp_path):
    rec = _recording(tmp_path / "r.h5")
    ds = _dataset(tmp_path / "d.h5", n=4)
    assert h5_format(rec) == "cognn-recording" and h5_format(ds) == "cognn-dataset"
    assert dataset_length(ds) == 4
    with pytest.raises(InputFileError, match="expected 'cognn-dataset'"):
        dataset_length(rec)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    none = tmp_path / "none.h5"
    h5py.File(none, "w").close()
    text = tmp_path / "text.h5"
    text.write_text("hello")
    for path, problem in ((other, "format 'something-else'"), (none, "without a 'format'"), (text, "not an HDF5")):
        with pytest.raises(InputFileError) as ei:
            h5_format(path)
        assert problem in _one_sentence(ei.value, path)
    loop = tmp_path / "loop.h5"
    with h5py.File(loop, "w") as f:
        f.attrs.update(format="cognn-dataset", version=1)
        f["data"] = h5py.SoftLink("/data")
    with pytest.raises(InputFileError, match="soft link"):
        h5_format(loop)
    with pytest.raises(InputFileError, match="soft link"):
        dataset_length(loop)


@pytest.mark.parametrize("n", [10**6, 10**9])
def test_dataset_declaring_more_than_it_stores(tmp_path, n):
    p = _dataset(tmp_path / "d.h5")
    with h5py.File(p, "r+") as f:
        names = f["sample_name"][()]
        del f["sample_name"]
        f.create_dataset("sample_name", data=names, maxshape=(None,), chunks=(4096,))
        for key in ("data", "label", "sample_name"):
            f[key].resize(n, axis=0)
    assert p.stat().st_size < 300_000
    for reader in (dataset_length, open_dataset):
        box = _within(5, reader, p)
        assert isinstance(box.get("error"), InputFileError), box
        assert str(n) in _one_sentence(box["error"], p) and box["seconds"] < 2


def _contiguous_labels(f):
    del f["label"], f["sample_name"]
    f.create_dataset("label", shape=(10**6,), dtype="i8")  # contiguous, never written: nothing stored
    f.create_dataset("sample_name", shape=(10**6,), dtype=h5py.string_dtype("utf-8", 8))
    f["data"].resize(10**6, axis=0)


def _unknown_filter(f):
    del f["label"]
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4,))
    dcpl.set_filter(32001, h5py.h5z.FLAG_OPTIONAL)  # blosc: HDF5 would look for a plugin to read it
    space = h5py.h5s.create_simple((3,), (h5py.h5s.UNLIMITED,))
    h5py.Dataset(h5py.h5d.create(f.id, b"label", h5py.h5t.NATIVE_INT64, space, dcpl=dcpl))[:] = [0, 1, 2]


def _huge_chunks(f):
    del f["data"]
    f.create_dataset("data", shape=(3, 3, 10**6, 25, 2), chunks=(1, 3, 10**6, 25, 2), dtype="f4")


def _many_attrs(f):
    for i in range(1001):
        f.attrs[f"a{i}"] = i


@pytest.mark.parametrize("craft, text", [(_contiguous_labels, "stores only"), (_unknown_filter, "filter 32001"),
                                         (_huge_chunks, "bytes"), (_many_attrs, "1012 attributes")],
                         ids=["contiguous", "filter", "chunks", "attrs"])
def test_crafted_datasets_are_refused(tmp_path, craft, text):
    p = _dataset(tmp_path / "d.h5")
    with h5py.File(p, "r+") as f:
        craft(f)
    box = _within(5, open_dataset, p)
    assert isinstance(box.get("error"), InputFileError), box
    assert text in _one_sentence(box["error"], p)


def test_oversized_attribute_is_not_read(tmp_path, monkeypatch):
    p = _recording(tmp_path / "r.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["notes"] = np.zeros(1000)
    monkeypatch.setattr(store, "MAX_ATTR_BYTES", 4000)  # the real bound is 16 MiB: keep the file small
    with pytest.raises(InputFileError, match="8000 bytes") as ei:
        load_recording(p)
    _one_sentence(ei.value, p)


def test_recording_values_and_attributes_sanitised(tmp_path):
    p = _recording(tmp_path / "r.h5")
    with h5py.File(p, "r+") as f:
        f["skeleton"][1, 0, 3, 0] = np.nan
        f["skeleton"][2, :, 4, 1] = np.inf
        f["skeleton"][3, 2, 5, 0] = 1e30
        f.attrs["fps"] = np.inf
        f.attrs["canvas_size"] = [0, 0]
        f.attrs["persons"] = [-1, 2, 3, 4, 5]
    with pytest.warns(InputValueWarning) as rec:
        r = load_recording(p)
    messages = [str(w.message) for w in rec]
    assert all(str(p) in m for m in messages)
    assert any("3 joint(s)" in m for m in messages) and any("fps inf" in m for m in messages)
    assert any("canvas_size" in m for m in messages) and any("persons" in m for m in messages)
    assert np.isfinite(r.skeleton).all() and np.abs(r.skeleton).max() < 100
    assert not r.skeleton[1, :, 3, 0].any() and not r.skeleton[2, :, 4, 1].any() and not r.skeleton[3, :, 5, 0].any()
    assert r.fps is None and "canvas_size" not in r.attrs and "persons" not in r.attrs
    with h5py.File(p, "r+") as f:
        del f.attrs["canvas_size"], f.attrs["persons"]
    for fps in (0, -5, np.nan, 1e300, "fast"):
        with h5py.File(p, "r+") as f:
            f.attrs["fps"] = fps
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert load_recording(p).fps is None
        assert any("not a frame rate" in str(w.message) for w in caught), fps


def test_dataset_sample_values_sanitised(tmp_path):
    p = _dataset(tmp_path / "d.h5")
    with h5py.File(p, "r+") as f:
        f["data"][1, :, 7, 3, 0] = [np.nan, 0, 0]
    ds = open_dataset(p)
    assert dataset_length(p) == 3
    with pytest.warns(InputValueWarning, match="1 joint") as rec:
        x = ds.sample(1).data
    assert str(p) in str(rec[0].message) and "sample 1" in str(rec[0].message)
    assert np.isfinite(x).all() and not x[:, 7, 3, 0].any() and (x[:, 8, 3, 0] == np.float32(0.1)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds.sample(0)  # a clean sample: no warning


def test_writers_never_store_nan(tmp_path):
    skel = np.ones((4, 3, 25, 1), np.float32)
    skel[2, 1, 0, 0] = np.nan
    p = save_recording(tmp_path / "r.h5", skel, np.arange(4.0), "ntu25", "camera3d", fps=float("inf"),
                       extra_attrs={"canvas_size": (0, 0)})
    with h5py.File(p, "r") as f:
        assert np.isfinite(f["skeleton"][()]).all() and "fps" not in f.attrs and "canvas_size" not in f.attrs
    x = np.ones((3, 300, 25, 2), np.float32)
    x[0, 5, 5, 1] = np.inf
    with DatasetWriter(tmp_path / "d.h5", "ntu25", CLASSES) as w:
        w.append(x, 0, "s")
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert np.isfinite(f["data"][()]).all()


# ---------------------------------------------------------------------------------------------------------------------
# 5. writers: unique temporary files, nothing before the first record, inputs refused

def test_writer_creates_nothing_before_its_first_record(tmp_path):
    out = tmp_path / "rec.h5"
    out.write_bytes(b"earlier output")
    w = RecordingWriter(out, "ntu25", "camera3d", 2, source="x", fps=30, extra_attrs={"canvas_size": [640, 480]})
    assert w.temp is None and sorted(os.listdir(tmp_path)) == ["rec.h5"]
    w.abort()
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "d.h5", "ntu25", CLASSES):
            raise RuntimeError("the run fails before its first sample")
    assert sorted(os.listdir(tmp_path)) == ["rec.h5"] and out.read_bytes() == b"earlier output"


def test_writers_refuse_an_input_as_output(tmp_path):
    src = tmp_path / "S001C001P001R001A001.skeleton"
    src.write_bytes(ntu_text(2))
    for make in (lambda: RecordingWriter(src, "ntu25", "camera3d", inputs=[src]),
                 lambda: DatasetWriter(src, "ntu25", CLASSES, inputs=[str(src)]),
                 lambda: save_recording(src, np.zeros((1, 3, 25, 2)), [0.0], "ntu25", "camera3d", inputs=[src])):
        with pytest.raises(OutputError, match="is also an input"):
            make()
    assert src.read_bytes() == ntu_text(2) and os.listdir(tmp_path) == [src.name]


def test_two_writers_of_one_target_keep_their_own_files(tmp_path):
    out = tmp_path / "same.h5"
    a = RecordingWriter(out, "ntu25", "camera3d", 1, flush_every=1)
    b = RecordingWriter(out, "ntu25", "camera3d", 1, flush_every=1)
    for i in range(10):
        a.append(np.full((3, 25, 1), 1.0, np.float32), i / 30)
        b.append(np.full((3, 25, 1), 2.0, np.float32), i / 30)
    assert a.temp != b.temp and a.temp.exists() and b.temp.exists()
    a.close()
    assert (load_recording(out).skeleton == 1.0).all()
    b.append(np.full((3, 25, 1), 2.0, np.float32), 1.0)
    b.close()
    r = load_recording(out)
    assert r.num_frames == 11 and (r.skeleton == 2.0).all() and os.listdir(tmp_path) == ["same.h5"]


def test_long_output_name_and_umask(tmp_path):
    name = "r" * 247 + ".h5"  # 250 bytes
    old = os.umask(0o027)
    try:
        p = _recording(tmp_path / name)
    finally:
        os.umask(old)
    assert p.name == name and load_recording(p).num_frames == 5 and os.listdir(tmp_path) == [name]
    assert p.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------------------------------------------------------------
# 6. cognn-prep: output errors blame the output; write failures; Ctrl-C; concurrent runs

def _ntu_src(folder: Path, n: int, frames: int = 30, bodies: int = 1) -> list[Path]:
    folder.mkdir()
    base = folder.parent / "base.skeleton.txt"
    base.write_bytes(ntu_text(frames, bodies))
    files = []
    for i in range(n):
        f = folder / f"S001C001P{1 + i // 60:03d}R001A{1 + i % 60:03d}.skeleton"
        os.link(base, f)  # one content, many names: cheap
        files.append(f)
    return files


def _prep(argv, capsys) -> tuple[int, str]:
    rc = prep.main([str(a) for a in argv])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("out, text", [("/proc/cognn-test.h5", "cannot be written"),
                                       ("/dev/full", "character device"),
                                       ("{src}/S001C001P001R001A001.skeleton", "is also an input"),
                                       ("{tmp}/base.skeleton.txt/x.h5", "is not a folder"),
                                       ("{tmp}/missing/x.h5", "output folder does not exist"),
                                       ("{src}", "is a folder")])
def test_prep_output_errors_blame_the_output(tmp_path, capsys, out, text):
    if out.startswith("/proc") and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux /proc")
    src = tmp_path / "src"
    files = _ntu_src(src, 2)
    out = out.format(src=src, tmp=tmp_path)
    rc, err = _prep(["ntu60", "--src", src, "--out", out, "--workers", "1", "--quiet"], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"cognn-prep: error: output {out}") and text in lines[0], err
    assert sorted(os.listdir(src)) == sorted(f.name for f in files)
    assert all(f.read_bytes() == ntu_text(30) for f in files)


def test_prep_write_failure_is_one_sentence(tmp_path):
    src = tmp_path / "src"
    _ntu_src(src, 20)
    out = tmp_path / "out" / "d.h5"
    out.parent.mkdir()

    def small_files():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG, like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    r = subprocess.run([sys.executable, "-m", "cognn.cli.prep", "ntu60", "--src", str(src), "--out", str(out),
                        "--workers", "1", "--quiet"], capture_output=True, text=True, timeout=120,
                       preexec_fn=small_files, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"cognn-prep: error: output {out} could not be written (File too large)", r.stderr
    assert os.listdir(out.parent) == []


def _group_members(pgid: int) -> list[str]:
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(d)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc to look for left-over workers")
def test_prep_ctrl_c_with_workers(tmp_path):
    src = tmp_path / "src"
    _ntu_src(src, 180, frames=300, bodies=2)  # about 1 MB each, parsed in a few seconds on 2 workers
    out = tmp_path / "o.h5"
    for attempt, (delay, to_group) in enumerate([(0.0, True), (0.3, False), (0.8, True)]):
        out.write_bytes(b"earlier output")
        proc = subprocess.Popen([sys.executable, "-m", "cognn.cli.prep", "ntu60", "--src", str(src), "--out",
                                 str(out), "--workers", "2", "--quiet"], cwd=ROOT, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            t0 = time.monotonic()
            while not list(tmp_path.glob(".o.h5.*.partial")):  # started: its first sample is being written
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() - t0 < 120, "cognn-prep did not start writing"
                time.sleep(0.01)
            time.sleep(delay)
            assert proc.poll() is None, "cognn-prep ended before Ctrl-C: give it more files"
            sent = time.monotonic()
            (os.killpg if to_group else os.kill)(proc.pid, signal.SIGINT)  # a terminal signals the whole group
            rc = proc.wait(timeout=10)
            took = time.monotonic() - sent
            err = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert rc == 130 and took < 5, (attempt, rc, took, err)
        assert err == "cognn-prep: interrupted; no output written\n", err
        assert sorted(os.listdir(tmp_path)) == ["base.skeleton.txt", "o.h5", "src"], os.listdir(tmp_path)
        assert out.read_bytes() == b"earlier output"
        deadline = time.monotonic() + 5
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _group_members(proc.pid) == [], "worker processes were left behind"


def test_two_preps_to_one_output(tmp_path):
    src = tmp_path / "src"
    _ntu_src(src, 6)
    out = tmp_path / "d.h5"
    cmd = [sys.executable, "-m", "cognn.cli.prep", "ntu60", "--src", str(src), "--out", str(out), "--workers", "1",
           "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for rc, err in results:
        assert rc == 0 and "Traceback" not in err, err
    assert len(open_dataset(out)) == 6 and sorted(os.listdir(tmp_path)) == ["base.skeleton.txt", "d.h5", "src"]


def test_prep_notes_zeroed_values(tmp_path, capsys):
    src = tmp_path / "src"
    files = _ntu_src(src, 2)
    bad = files[1]
    bad.unlink()
    bad.write_bytes(ntu_text(30).replace(b"250.5 200.25", b"nan 200.25", 1))
    rc, err = _prep(["ntu60", "--src", src, "--out", tmp_path / "d.h5", "--workers", "1", "--quiet"], capsys)
    assert rc == 0 and f"note: {bad}: 1 joint(s)" in err, err
    ds = open_dataset(tmp_path / "d.h5")
    assert len(ds) == 2 and all(np.isfinite(ds.sample(i).data).all() for i in range(2))


def test_errors_are_cognn_errors():
    assert issubclass(InputFileError, CognnError) and issubclass(OutputError, CognnError)
