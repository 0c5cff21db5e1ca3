"""Fuzz the readers with damaged copies of the real files: every outcome is a clean parse or InputFileError."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cognn.data import kinetics, ntu
from cognn.errors import InputFileError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NTU_FILES = sorted((DATA / "ntu" / "skeletons").rglob("*.skeleton")) if DATA.is_dir() else []
KIN_FILES = sorted((DATA / "kinetics").glob("*.json")) if DATA.is_dir() else []
N_CUTS = 20
N_FLIPS = 20


def _mutants(raw: bytes, seed: int):
    """~20 truncations and ~20 single-byte replacements at random places (fixed seed)."""
    rng = np.random.default_rng(seed)
    for pos in rng.integers(0, len(raw), N_CUTS):
        yield f"cut@{pos}", raw[:pos]
    for pos, val in zip(rng.integers(0, len(raw), N_FLIPS), rng.integers(0, 256, N_FLIPS)):
        yield f"flip@{pos}={val}", raw[:pos] + bytes([val]) + raw[pos + 1:]


def _check(read, path_name: str, raw: bytes, seed: int, tmp_path: Path, after=None):
    outcomes = {"ok": 0, "error": 0}
    for what, data in _mutants(raw, seed):
        p = tmp_path / path_name
        p.write_bytes(data)
        try:
            obj = read(p)
        except InputFileError as e:
            assert path_name in str(e), (what, str(e))
            outcomes["error"] += 1
            continue
        except Exception as e:  # pragma: no cover - the point of the test
            pytest.fail(f"{path_name} {what}: {type(e).__name__} leaked: {e}")
        if after is not None:
            after(obj)
        outcomes["ok"] += 1
    assert sum(outcomes.values()) == N_CUTS + N_FLIPS
    return outcomes


@pytest.mark.skipif(not NTU_FILES, reason=f"real NTU samples not found under {DATA}")
@pytest.mark.parametrize("path", NTU_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_fuzz_ntu(path, tmp_path):
    raw = path.read_bytes()
    out = _check(ntu.read_ntu_skeleton, path.name, raw, seed=len(raw), tmp_path=tmp_path,
                 after=lambda s: ntu.to_array(s))
    assert out["error"] >= N_CUTS // 2  # almost every truncation breaks the structure


@pytest.mark.skipif(not KIN_FILES, reason=f"real Kinetics-skeleton samples not found under {DATA}")
@pytest.mark.parametrize("path", KIN_FILES, ids=lambda p: p.name)
def test_fuzz_kinetics(path, tmp_path):
    raw = path.read_bytes()
    out = _check(kinetics.read_kinetics_json, path.name, raw, seed=len(raw), tmp_path=tmp_path,
                 after=lambda c: kinetics.to_array(c))
    assert out["error"] >= N_CUTS // 2
