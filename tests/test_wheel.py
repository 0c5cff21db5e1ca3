"""A wheel built from the repository (``python -m build``: the sdist, then the wheel from it) and installed in another
venv in another folder finds its bundled files: ``cognn-infer --demo`` and ``cognn-export kinetics400 x.onnx`` run
there as in the checkout.

The new venv gets the wheel (``pip install --no-deps``) and borrows the test venv's third-party packages (torch,
mediapipe, ...) through a ``.pth`` line, so nothing is downloaded but the build backend; the test venv's editable
cognn is not seen there (a ``.pth`` line adds a folder, not the editable finder its own ``.pth`` files install).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import REPO

from cognn.weights import load_manifest


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_a_built_wheel_runs_from_another_folder(tmp_path):
    pytest.importorskip("build", reason="building the wheel needs the 'build' package (in the test extra)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], tmp_path, env, timeout=900)
    wheel = next(dist.glob("cognn-*.whl"))

    venv = tmp_path / "elsewhere" / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path,
                     env).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere" / "work"
    work.mkdir()
    env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "COGNN_THREADS": "1"}
    where = _run([str(python), "-c", "import cognn, cognn.resources as r; print(cognn.__file__); "
                  "print(r.weights_dir()); print(r.demo_recording())"], work, env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the installed copy, not the checkout
    manifest = load_manifest(Path(where[1]) / "manifest.json")
    assert {e.file for e in manifest} == {e.file for e in load_manifest()}  # every listed file ships
    assert all(e.path.is_file() for e in manifest)

    proc = _run([str(venv / "bin" / "cognn-infer"), "--demo", "-o", "demo.jsonl"], work, env)
    records = [json.loads(line) for line in (work / "demo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 360 and "demo.h5: " in proc.stderr  # its summary line, whatever the default model
    _run([str(venv / "bin" / "cognn-export"), "kinetics400", "x.onnx"], work, env)
    assert (work / "x.onnx").stat().st_size > 0 and (work / "x.onnx.json").is_file()
    info = _run([str(venv / "bin" / "cognn-info"), "gestures"], work, env).stdout
    assert "costgcn_mod" in info and str(venv) in info
