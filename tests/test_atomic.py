"""cognn.atomic: unique temporary files beside the target, renamed at the end; outputs that must not be written."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from cognn.atomic import NAME_MAX, AtomicOutput, OutputError, check_output, clean_stale, partial_name, same_file


def _names(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_commit_and_abort(tmp_path):
    target = tmp_path / "out.h5"
    target.write_bytes(b"previous")
    a = AtomicOutput(target)
    assert a.temp.parent == tmp_path and a.temp.name.startswith(".out.h5.") and ".partial" in a.temp.name
    assert a.temp.exists() and a.temp.read_bytes() == b""
    a.temp.write_bytes(b"new")
    assert target.read_bytes() == b"previous"  # untouched until the commit
    assert a.commit() == target and target.read_bytes() == b"new" and _names(tmp_path) == ["out.h5"]
    b = AtomicOutput(target)
    b.temp.write_bytes(b"half")
    b.abort()
    assert target.read_bytes() == b"new" and _names(tmp_path) == ["out.h5"]
    with pytest.raises(RuntimeError):
        with AtomicOutput(target) as c:
            c.temp.write_bytes(b"x")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"new" and _names(tmp_path) == ["out.h5"]


def test_two_writers_never_share_a_temporary_file(tmp_path):
    target = tmp_path / "same.h5"
    a, b = AtomicOutput(target), AtomicOutput(target)
    assert a.temp != b.temp and a.temp.exists() and b.temp.exists()
    a.temp.write_bytes(b"first")
    b.temp.write_bytes(b"second")
    a.commit()
    assert target.read_bytes() == b"first"
    b.commit()
    assert target.read_bytes() == b"second" and _names(tmp_path) == ["same.h5"]


def test_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with AtomicOutput(tmp_path / "m.bin") as a:
            a.temp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.bin").stat().st_mode) == 0o640


def test_long_names_are_shortened(tmp_path):
    name = "n" * 246 + ".h5"  # 249 bytes: valid, but not with ".partial" appended
    for keep in (False, True):
        a = AtomicOutput(tmp_path / name, keep_suffix=keep)
        assert len(a.temp.name.encode()) <= NAME_MAX and a.temp.name.endswith(".h5" if keep else ".partial")
        a.temp.write_bytes(b"x")
        a.commit()
    assert _names(tmp_path) == [name]
    # multi-byte characters are never cut in half
    uname = "é" * 124 + ".h5"
    t = partial_name(tmp_path / uname, "1-abcdef-0011aabb", keep_suffix=False)
    assert len(t.encode()) <= NAME_MAX and t.encode().decode() == t
    with pytest.raises(OutputError, match="too long|longer than 255 bytes"):
        check_output(tmp_path / ("x" * 256))


def test_check_output_refusals(tmp_path):
    src = tmp_path / "in.skeleton"
    src.write_bytes(b"data")
    link = tmp_path / "link.h5"
    link.symlink_to(src)
    hard = tmp_path / "hard.h5"
    os.link(src, hard)
    for out in (src, link, hard):
        with pytest.raises(OutputError, match="is also an input"):
            check_output(out, "output", inputs=(src,))
    with pytest.raises(OutputError, match="is also an input"):
        check_output(src, "output", inputs=(f"{src}#3",))  # a sample spec of that file
    assert same_file(link, src) and not same_file(tmp_path / "none", src)
    with pytest.raises(OutputError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(OutputError, match="output folder does not exist"):
        check_output(tmp_path / "no" / "x.h5")
    with pytest.raises(OutputError, match="is not a folder"):
        check_output(src / "x.h5")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="no program reads"):
        check_output(fifo)  # nothing reads it: refused at once instead of waiting forever (issue 30)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert check_output(fifo) == fifo  # a stream with a reader may be written in place ...
    finally:
        os.close(reader)
    with pytest.raises(OutputError, match="named pipe"):
        check_output(fifo, allow_stream=False)  # ... but not where a regular file is needed
    with pytest.raises(OutputError, match="character device"):
        AtomicOutput("/dev/full", allow_stream=False)
    assert AtomicOutput("/dev/null").direct
    assert src.read_bytes() == b"data" and sorted(_names(tmp_path)) == ["fifo", "hard.h5", "in.skeleton", "link.h5"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_folder_that_takes_no_files(tmp_path):
    with pytest.raises(OutputError) as ei:
        AtomicOutput("/proc/cognn-test.h5")
    assert "/proc/cognn-test.h5" in str(ei.value) and "cannot be written" in str(ei.value)


def test_clean_stale_removes_only_dead_local_runs(tmp_path):
    target = tmp_path / "r.h5"
    a = AtomicOutput(target)  # this process: alive
    host = a.temp.name.split(".")[-2].split("-")[1]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / partial_name(target, f"{dead_pid}-{host}-00000000", keep_suffix=False)
    elsewhere = tmp_path / partial_name(target, f"{dead_pid}-zzzzzz-00000000", keep_suffix=False)
    unrelated = tmp_path / ".other.h5.1-abc-0.partial"
    for f in (stale, elsewhere, unrelated):
        f.write_bytes(b"x")
    b = AtomicOutput(target)
    assert b.cleaned == [stale] and not stale.exists()
    assert a.temp.exists() and elsewhere.exists() and unrelated.exists()
    a.abort()
    b.abort()
    assert clean_stale(target) == []
