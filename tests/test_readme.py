"""Every fenced code block of the README (```sh, ```bash and ```python alike) is checked as written.

How each line is checked (the reason is in each case's name):
- ``run``: the command runs in a scratch folder that sees the repository's files as the README's reader does (from
  the repository's root, with ../shared beside it) and must exit 0 without a traceback;
- ``scripted``: a ``cognn-app`` line without ``--frames`` (the app would wait for its user) runs with ``--frames 20``
  appended, which plays 20 frames offscreen and exits: the same options, the same source and the same weights;
- ``parsed``: a line that needs what a user brings (a camera, a stream, their own dataset or clips, several GPUs), or
  a server that runs until stopped (``cognn-serve``), is
  parsed by the command's own argument parser, with the app's and the CLI's own checks, so an option the README uses
  and the command lacks still fails;
- ``install``: ``python3 -m venv .venv && .venv/bin/pip install ...`` is the install this test suite itself runs
  under (``.ci/run``; ``tests/test_wheel.py`` installs a built wheel elsewhere); what follows the install runs;
- the test command must be the one ``.ci/run`` runs (running the suite inside itself is left out);
- ```python blocks run as scripts with this interpreter.
A fenced block without a language (the folder layout) is text, not code.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, SHARED_DATA

#: options whose value is an output the command writes
OUTPUT_OPTIONS = {"-o", "--output", "--render", "--save-skeletons", "--events", "--screenshot", "--out", "--plot",
                  "--json"}
#: options that need a person's own hardware
NEEDS_HARDWARE = ("--camera", "--device")
LANGUAGES = ("sh", "bash", "python")
#: commands that serve until stopped: parsed (tests/test_serve*.py run the server itself)
SERVERS = ("cognn-serve",)
APP_FRAMES = "20"


def _blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of the README, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(lang, body) for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)]


def _shell_lines() -> list[str]:
    lines = []
    for lang, body in _blocks():
        if lang in ("sh", "bash"):
            for line in body.splitlines():
                line = line.split("  #")[0].strip()
                if line:
                    lines.append(line)
    return lines


def _is_install(part: str) -> bool:
    return part.startswith("python3 -m venv") or (part.startswith(".venv/bin/pip install") and "-c constraints.txt"
                                                  in part)


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


def _parse_only(argv: list[str]) -> None:
    """Parse ``argv`` with its command's own parser (and checks); fails the test on an option the command lacks."""
    import importlib

    parsers = {"cognn-infer": ("cognn.cli.infer", "build_parser"), "cognn-app": ("cognn_app.main", "build_parser"),
               "cognn-train": ("cognn.cli.train", "build_parser"), "cognn-eval": ("cognn.cli.evaluate", "build_parser"),
               "cognn-prep": ("cognn.cli.prep", "_parser"), "cognn-bench": ("cognn.cli.bench", "_parser"),
               "cognn-export": ("cognn.cli.export", "_parser"), "cognn-info": ("cognn.cli.info", "_parser"),
               "cognn-convert": ("cognn.cli.convert", "_parser"), "cognn-teach": ("cognn.cli.teach", "_parser"),
               "cognn-serve": ("cognn.cli.serve", "_parser")}
    module, name = parsers[argv[0]]
    parser = getattr(importlib.import_module(module), name)()
    try:
        args = parser.parse_args(argv[1:])
        if argv[0] == "cognn-app" and "--camera" in argv:  # the app's own check of a camera or stream spec
            from cognn_app.main import _check_args

            _check_args(parser, args)
    except SystemExit as e:
        pytest.fail(f"README example {shlex.join(argv)!r} does not parse (exit {e.code})")


def _plan(line: str, cwd: Path) -> list[tuple[str, list[str]]]:
    """How to check one README line: [(how, argv)] for each ``&&`` part (see the module's docstring)."""
    steps: list[tuple[str, list[str]]] = []
    for part in (p.strip() for p in line.split("&&")):
        if _is_install(part):
            steps.append(("install", []))
            continue
        if part.startswith("QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest"):
            steps.append(("test-command", shlex.split(part)))
            continue
        argv = shlex.split(part)
        if argv[0].startswith(".venv/bin/"):
            argv[0] = argv[0][len(".venv/bin/"):]
        if argv[0] == "torchrun":  # several processes (GPUs): the command after --no-python is parsed
            argv = argv[argv.index("--no-python") + 1:]
            steps.append(("parsed", argv))
            continue
        assert argv[0].startswith("cognn-"), f"README line {line!r}: no rule for {argv[0]!r} in tests/test_readme.py"
        if argv[0] in SERVERS or any(h in argv for h in NEEDS_HARDWARE) or not _inputs_present(argv, cwd):
            steps.append(("parsed", argv))
        elif argv[0] == "cognn-app" and "--frames" not in argv:
            steps.append(("scripted", argv + ["--frames", APP_FRAMES]))
        else:
            steps.append(("run", argv))
    return steps


def test_every_readme_block_has_a_rule():
    """Every line of every sh/bash block is planned (none is silently skipped) and most of them really run."""
    work = REPO
    hows = [how for line in _shell_lines() for how, _ in _plan(line, work)]
    assert {lang for lang, _ in _blocks()} <= {"", *LANGUAGES}, "a README block in a language this test cannot run"
    assert hows.count("run") + hows.count("scripted") >= 12, hows
    assert "test-command" in hows and "install" in hows


def test_the_readme_test_command_is_what_ci_runs():
    """The README's test command and .ci/run's are the same line (.ci/run runs the README's command)."""
    commands = [line for line in _shell_lines() if "-m pytest" in line and "pip install" in line]
    assert len(commands) == 1, commands
    assert '-m "slow or not slow"' in commands[0]  # CI runs the slow tests too (the default leaves them out)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme_pytest = commands[0].split("&&")[-1].strip().removeprefix("QT_QPA_PLATFORM=offscreen ")
    ci_pytest = [p.strip() for p in ci.splitlines()[-1].split("&&")][-1]
    assert readme_pytest == ci_pytest, (readme_pytest, ci_pytest)
    assert 'pip install -q -c constraints.txt -e ".[test]"' in ci and "QT_QPA_PLATFORM=offscreen" in ci


def test_readme_commands_that_need_a_user_still_parse():
    """The camera, stream, dataset and GPU examples use only options their commands have."""
    parsed = 0
    for line in _shell_lines():
        for how, argv in _plan(line, REPO):
            if how == "parsed":
                _parse_only(argv)
                parsed += 1
    assert parsed >= 5


def _scratch(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "cognn"
    work.mkdir()
    for name in ("datasets", "weights", "docs", "tools", "README.md", "constraints.txt"):
        (work / name).symlink_to(REPO / name)
    if SHARED_DATA.exists():
        (tmp_path / "shared").symlink_to(SHARED_DATA.parent)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "QT_QPA_PLATFORM": "offscreen",
           "COGNN_APP_SETTINGS": str(tmp_path / "app.ini"), "COGNN_THREADS": "1"}
    return work, env


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path):
    work, env = _scratch(tmp_path)
    blocks = [body for lang, body in _blocks() if lang == "python"]
    assert blocks
    for i, body in enumerate(blocks):
        script = tmp_path / "scripts" / f"readme_{i}.py"  # not beside the scratch folder "cognn" (a namespace)
        script.parent.mkdir(exist_ok=True)
        script.write_text(body, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"README python block {i} failed:\n{proc.stderr[-2000:]}"


@pytest.mark.slow
def test_readme_shell_examples_run_as_written(tmp_path):
    """Every sh/bash line runs (or, where it cannot, is scripted or parsed: see the module's docstring)."""
    work, env = _scratch(tmp_path)
    bin_dir = Path(sys.executable).parent
    ran = []
    for line in _shell_lines():
        for how, argv in _plan(line, work):
            if how not in ("run", "scripted"):
                continue
            if not (bin_dir / argv[0]).exists():
                pytest.fail(f"README example {line!r}: no such command {argv[0]}")
            started = time.perf_counter()
            proc = subprocess.run([str(bin_dir / argv[0]), *argv[1:]], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=600)
            print(f"{time.perf_counter() - started:6.1f} s  {shlex.join(argv)}")  # pytest -s: the README's durations
            assert proc.returncode == 0, f"README example {shlex.join(argv)!r} failed ({proc.returncode}):\n" \
                                         f"{proc.stderr[-2000:]}"
            assert "Traceback" not in proc.stderr, line
            ran.append(shlex.join(argv))
    if SHARED_DATA.exists():
        assert len(ran) >= 12, ran
    else:
        pytest.skip(f"{SHARED_DATA} is absent: ran only {len(ran)} README lines, the rest need the shared data")
