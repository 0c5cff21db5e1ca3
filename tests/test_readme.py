"""Every shell example of the README runs as written: the ``cognn-*`` commands of its ``bash`` blocks whose inputs
ship with the repository (or lie in ../shared/data) are run in a scratch folder beside a view of the repository; those
that need what a user brings (their own clips, a camera, a dataset download) are listed and left out."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, SHARED_DATA

#: options whose value is an output the command writes
OUTPUT_OPTIONS = {"-o", "--output", "--render", "--save-skeletons", "--events", "--screenshot", "--out", "--plot",
                  "--json"}
#: commands that need a person's own hardware
NEEDS_HARDWARE = ("--camera",)


def _examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("cognn-"):
                lines.append(line)
    return lines


def _inputs_present(argv: list[str], cwd: Path) -> bool:
    """True when every input path of the command exists (outputs and option values that are not paths aside)."""
    skip_next = False
    for arg in argv[1:]:
        if skip_next:
            skip_next = False
            continue
        if arg in OUTPUT_OPTIONS:
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        looks_like_path = "/" in arg or re.search(r"\.(mp4|avi|skeleton|json|h5|pt|pth|ckpt|safetensors|txt)$", arg)
        if looks_like_path and not (cwd / arg).exists():
            return False
    return True


def test_the_readme_has_runnable_examples():
    runnable = [e for e in _examples() if not any(h in e for h in NEEDS_HARDWARE)]
    assert len(runnable) >= 8


@pytest.mark.slow
def test_readme_examples_run_as_written(tmp_path):
    """The examples run in a scratch folder that sees the repository's files as the README's reader does (from
    the repository's root, with ../shared beside it)."""
    work = tmp_path / "cognn"
    work.mkdir()
    for name in ("datasets", "weights", "docs", "tools", "README.md"):
        (work / name).symlink_to(REPO / name)
    if SHARED_DATA.exists():
        (tmp_path / "shared").symlink_to(SHARED_DATA.parent)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "QT_QPA_PLATFORM": "offscreen",
           "COGNN_APP_SETTINGS": str(tmp_path / "app.ini"), "COGNN_THREADS": "1"}
    ran, left_out = [], []
    for line in _examples():
        argv = shlex.split(line)
        if any(h in argv for h in NEEDS_HARDWARE) or not _inputs_present(argv, work):
            left_out.append(line)
            continue
        if not (bin_dir / argv[0]).exists():
            pytest.fail(f"README example {line!r}: no such command {argv[0]}")
        proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"README example {line!r} failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, line
        ran.append(line)
    assert len(ran) >= 8, f"ran {ran}; left out (their inputs are the user's): {left_out}"
