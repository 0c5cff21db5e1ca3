"""The shape of the code: imports flow one way, the library never imports Qt, the app's workers are loops around the
session."""
from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

#: a package may import its own rank and lower ranks only
RANKS = {
    "errors": 0, "domains": 0, "layouts": 0, "handoff": 0, "resources": 0,
    "atomic": 1, "nn": 1, "precision": 1,
    "data": 2, "models": 2, "pose": 2,
    "checkpoints": 3, "weights": 3, "flops": 3, "synth": 3, "render": 3, "sources": 3,
    "online": 4, "bench": 4, "train": 4, "export": 4,
    "live": 5, "teach": 5, "serve": 5,
    "cli": 6,
}


def _imports(path: Path, package: list[str]) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions (absolute names)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                out.add(".".join(base + ([node.module] if node.module else [])))
            else:
                out.add(node.module or "")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _modules(folder: Path, name: str) -> dict[str, set[str]]:
    found = {}
    for f in folder.rglob("*.py"):
        parts = [name, *f.relative_to(folder).with_suffix("").parts]
        package = parts if f.name == "__init__.py" else parts[:-1]
        found[".".join(p for p in parts if p != "__init__")] = _imports(f, package[:-1] if f.name == "__init__.py"
                                                                           else package)
    return found


def test_the_library_imports_flow_one_way_and_never_qt():
    modules = _modules(REPO / "cognn", "cognn")
    assert len(modules) > 50
    wrong = []
    for mod, imports in modules.items():
        parts = mod.split(".")
        if len(parts) < 2:
            continue
        own = parts[1]
        assert own in RANKS, f"{mod}: package {own} has no rank in this test"
        for imp in imports:
            assert not imp.startswith(("PyQt", "PySide", "cognn_app")), f"{mod} imports {imp}"
            if imp.startswith("cognn.") and imp.split(".")[1] in RANKS and RANKS[imp.split(".")[1]] > RANKS[own]:
                wrong.append(f"{mod} -> {imp}")
    assert not wrong, "imports that run back up: " + ", ".join(sorted(wrong))


def test_the_app_workers_loop_around_the_session():
    """The workers use the session (and the sources' facts), not the pipeline's parts."""
    app = _modules(REPO / "app", "cognn_app")
    allowed = {"cognn.live.session", "cognn.sources", "cognn.errors", "cognn.pose", "cognn.live.events",
               "cognn.online", "cognn.render", "cognn.layouts", "cognn.live.mirror"}
    for name in ("cognn_app.capture", "cognn_app.stepper", "cognn_app.messages"):
        used = {i for i in app[name] if i.startswith("cognn.")}
        assert used <= allowed, f"{name} imports {sorted(used - allowed)}"
    # nothing in the app touches a private attribute of the library's objects
    for f in (REPO / "app").glob("*.py"):
        text = f.read_text(encoding="utf-8")
        for private in ("._canvas_width", "._pipe", "._rec.", "pipe.config =", "._estimator"):
            assert private not in text, f"{f.name} reaches under the session ({private})"
