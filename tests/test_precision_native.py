"""What the CPU runs natively (cognn.precision): an emulated bf16 or int8 step is named as such, the benchmark words a
slowdown as a slowdown, and ``--precision auto`` picks the fastest precision measured on this machine (cached)."""
from __future__ import annotations

import json

import pytest

from cognn import precision as prec
from cognn.bench.table import speed_words
from cognn.nn.linear import PRECISIONS
from cognn.online import OnlineRecognizer

pytestmark = pytest.mark.usefixtures("one_thread")

AVX2_ONLY = frozenset({"fpu", "sse4_2", "avx", "avx2", "fma"})
SAPPHIRE = AVX2_ONLY | {"avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8"}


def test_native_precisions_follow_the_cpu_flags():
    assert prec.native("fp32", AVX2_ONLY) is True
    assert prec.native("bf16", AVX2_ONLY) is False and prec.native("int8", AVX2_ONLY) is False
    assert prec.native("bf16", SAPPHIRE) is True and prec.native("int8", SAPPHIRE) is True
    assert prec.native("bf16", frozenset({"bf16", "asimddp"})) is True  # Arm's Features
    assert prec.native("bf16", frozenset()) is None  # unknown: nothing said
    assert "emulated" in prec.emulation_note("bf16", AVX2_ONLY) and prec.emulation_note("bf16", SAPPHIRE) is None
    assert prec.emulation_note("int8", AVX2_ONLY) and prec.emulation_note("fp32", AVX2_ONLY) is None


def test_this_machines_flags_are_read():
    flags = prec.cpu_flags()
    if not flags:
        pytest.skip("/proc/cpuinfo has no flags here (not Linux)")
    assert any(f.startswith(("sse", "avx", "fp", "asimd")) for f in flags)


def test_a_slowdown_is_worded_as_a_slowdown():
    assert speed_words(2.1) == "2.10x faster"
    assert speed_words(0.04) == "25x slower"  # was "0.04x faster"
    assert speed_words(0.5) == "2.00x slower"


def test_an_emulated_precision_warns_in_one_sentence(monkeypatch, tmp_path, capsys):
    from cognn.cli.infer import main

    monkeypatch.setattr(prec, "cpu_flags", lambda: AVX2_ONLY)
    assert main(["--demo", "--max-frames", "5", "--precision", "bf16", "-o", str(tmp_path / "r.jsonl"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "cognn-infer: warning: --precision bf16: this CPU has no native bfloat16" in err and "Traceback" not in err


def test_auto_picks_the_fastest_measured_and_caches_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rec = OnlineRecognizer.from_weights("gestures")
    best, timings = prec.pick_precision(rec.model)
    assert set(timings) == set(PRECISIONS) and all(t > 0 for t in timings.values())
    assert best == min(timings, key=timings.get) and rec.model.precision == best
    cached = json.loads(prec.cache_path().read_text(encoding="utf-8"))
    assert list(cached.values()) == [timings]

    def no_measuring(*_a, **_k):
        raise AssertionError("measured again despite the cache")

    monkeypatch.setattr(prec, "_time_steps", no_measuring)
    again = OnlineRecognizer.from_weights("gestures", precision="auto")
    assert again.model.precision == best


def test_infer_and_app_take_auto(monkeypatch, tmp_path, capsys):
    from cognn_app.main import build_parser

    from cognn.cli.infer import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["--demo", "--max-frames", "30", "--precision", "auto", "-o", str(tmp_path / "r.jsonl"), "-q"]) == 0
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 30
    assert build_parser().parse_args(["--precision", "auto"]).precision == "auto"
