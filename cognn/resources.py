"""Where the bundled files are: the repository's ``weights/`` and ``datasets/`` folders in a source checkout or an
editable install, their copies inside the package (``cognn/_bundled/...``) in an installed wheel.

``pyproject.toml`` maps the two folders to the package-data packages ``cognn._bundled.weights`` and
``cognn._bundled.datasets``, so the repository's folders stay the one source of truth: any file put there ships.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED", "bundled_dir", "weights_dir", "datasets_dir", "demo_recording"]

#: the bundled folders (their names in the repository and inside the installed package)
BUNDLED = ("weights", "datasets")
_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The folder ``name`` ("weights" or "datasets"): the installed copy if there is one, else the checkout's."""
    if name not in BUNDLED:
        raise ValueError(f"no bundled folder {name!r}; known: {', '.join(BUNDLED)}")
    installed = _PACKAGE / "_bundled" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def weights_dir() -> Path:
    """The bundled model and pose files with ``manifest.json``."""
    return bundled_dir("weights")


def datasets_dir() -> Path:
    """The class lists, splits, missing-skeleton lists and the demo recording."""
    return bundled_dir("datasets")


def demo_recording() -> Path:
    """The bundled demo recording (generated motion): ``cognn-infer --demo`` and the app's first start."""
    return datasets_dir() / "samples" / "demo.h5"
