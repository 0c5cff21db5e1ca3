"""The ``weights/`` manifest: which model and pose files ship with cognn, what they are, and which is the default.

``weights/manifest.json`` (schema in ``weights/README.md``)::

    {"format": "cognn-weights-manifest", "version": 1,
     "entries": [{"name": ..., "kind": "model" | "pose", "file": ..., "sha256": ..., "default": true, ...}]}

The CLIs and the app read it to find default files: :func:`default_entry` for a kind, :func:`find_weights` for a model,
:func:`resolve_weights` for what a user typed (a bundled name such as ``kinetics400`` or ``gestures``, or a path).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data.files import file_digest
from .errors import InputFileError

__all__ = ["MANIFEST_FORMAT", "KINDS", "WeightsEntry", "weights_dir", "manifest_path", "load_manifest",
           "default_entry", "find_weights", "resolve_weights", "verify_sha256"]

MANIFEST_FORMAT = "cognn-weights-manifest"
MANIFEST_VERSION = 1
KINDS = ("model", "pose")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_STR_FIELDS = ("name", "alias", "kind", "file", "model", "layout", "domain", "classes_file", "data", "sha256",
               "licence", "description", "url")


@dataclass(frozen=True)
class WeightsEntry:
    """One file listed in the manifest. ``path`` is absolute; ``classes`` is a list of names or a dataset name;
    ``alias`` is a short name users may type instead of ``name``."""

    name: str
    kind: str
    file: str
    path: Path
    sha256: str
    alias: str = ""
    model: str = ""
    layout: str = ""
    domain: str = ""
    classes: list[str] | str = field(default_factory=list)
    classes_file: str = ""
    data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    default: bool = False
    description: str = ""
    url: str = ""

    def class_names(self) -> list[str]:
        """The class names: the list itself, the named dataset's list, or the lines of ``classes_file``."""
        if isinstance(self.classes, list) and self.classes:
            return list(self.classes)
        if isinstance(self.classes, str) and self.classes:
            from .data.classes import class_names

            return class_names(self.classes)
        if self.classes_file:
            path = self.path.parent / self.classes_file
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as e:
                raise InputFileError(path, f"cannot be read ({e.strerror or e})") from None
            return [line.strip() for line in text.splitlines() if line.strip()]
        return []


def weights_dir() -> Path:
    """The bundled ``weights/`` folder (the checkout's, or the installed package's copy: :mod:`cognn.resources`)."""
    from .resources import weights_dir as bundled

    return bundled()


def manifest_path() -> Path:
    return weights_dir() / "manifest.json"


def _entry(raw: Any, index: int, path: Path) -> WeightsEntry:
    where = f"entries[{index}]"
    if not isinstance(raw, dict):
        raise InputFileError(path, f"{where} is not an object")
    for key in ("name", "kind", "file", "sha256"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise InputFileError(path, f"{where} has no {key!r}", field=key)
    for key in _STR_FIELDS:
        if key in raw and not isinstance(raw[key], str):
            raise InputFileError(path, f"{where}.{key} must be a string", field=key)
    if raw["kind"] not in KINDS:
        raise InputFileError(path, f"{where}.kind is {raw['kind']!r}; use one of {', '.join(KINDS)}", field="kind")
    if not _SHA.match(raw["sha256"]):
        raise InputFileError(path, f"{where}.sha256 is not 64 lower-case hex digits", field="sha256")
    if raw["kind"] == "model" and not (raw.get("model") and raw.get("layout")):
        raise InputFileError(path, f"{where} is a model entry without 'model' and 'layout'")
    if Path(raw["file"]).is_absolute() or ".." in Path(raw["file"]).parts:
        raise InputFileError(path, f"{where}.file must be a path inside the weights folder", field="file")
    classes = raw.get("classes", [])
    if not (isinstance(classes, str) or (isinstance(classes, list) and all(isinstance(c, str) for c in classes))):
        raise InputFileError(path, f"{where}.classes must be a list of names or a dataset name", field="classes")
    if not isinstance(raw.get("metrics", {}), dict) or not isinstance(raw.get("default", False), bool):
        raise InputFileError(path, f"{where}: metrics must be an object and default a boolean")
    known = {k: raw[k] for k in _STR_FIELDS if k in raw}
    return WeightsEntry(**known, path=path.parent / raw["file"], classes=classes,
                        metrics=dict(raw.get("metrics", {})), default=raw.get("default", False))


def load_manifest(path: str | Path | None = None) -> list[WeightsEntry]:
    """All entries of a manifest (default: ``weights/manifest.json``; no file means no entries)."""
    path = Path(path) if path is not None else manifest_path()
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"cannot be read ({e})") from None
    except json.JSONDecodeError as e:
        raise InputFileError(path, f"is not valid JSON ({e.msg})", line=e.lineno) from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise InputFileError(path, f"is not a {MANIFEST_FORMAT} file", field="format")
    if not isinstance(doc.get("version"), int) or doc["version"] > MANIFEST_VERSION:
        raise InputFileError(path, f"has manifest version {doc.get('version')!r}; this cognn reads "
                                   f"{MANIFEST_VERSION}", field="version")
    if not isinstance(doc.get("entries"), list):
        raise InputFileError(path, "has no 'entries' list", field="entries")
    entries = [_entry(raw, i, path) for i, raw in enumerate(doc["entries"])]
    names = [e.name for e in entries] + [e.alias for e in entries if e.alias]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputFileError(path, f"lists the name(s) {', '.join(dup)} more than once (names and aliases)")
    for kind in KINDS:
        defaults = [e.name for e in entries if e.kind == kind and e.default]
        if len(defaults) > 1:
            raise InputFileError(path, f"marks {len(defaults)} {kind} entries as default ({', '.join(defaults)})")
    return entries


def default_entry(kind: str = "model", path: str | Path | None = None) -> WeightsEntry | None:
    """The default entry of ``kind`` ("model" or "pose"), or None when the manifest has none."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return next((e for e in load_manifest(path) if e.kind == kind and e.default), None)


def find_weights(model: str | None = None, *, kind: str = "model",
                 path: str | Path | None = None) -> WeightsEntry | None:
    """The best entry for ``model`` (its own weights, else its regular/continual twin's), preferring the default.

    With ``model=None``: the default entry of ``kind``, else the first one. None when nothing fits.
    """
    entries = [e for e in load_manifest(path) if e.kind == kind]
    if model is not None:
        from .models import twin

        try:
            other = twin(model)
        except ValueError:
            other = model
        exact = [e for e in entries if e.model == model]
        entries = exact + [e for e in entries if e.model == other and e not in exact]
    return next((e for e in entries if e.default), entries[0] if entries else None)


def resolve_weights(text: str | os.PathLike, *, kind: str = "model", path: str | Path | None = None) -> Path:
    """The checkpoint a user means: an existing file as it is, else the bundled entry of that name or alias
    (``kinetics400``, ``gestures``); InputFileError (one sentence listing the bundled names) for anything else."""
    given = Path(text).expanduser()
    if given.is_file():
        return given
    entries = [e for e in load_manifest(path) if e.kind == kind]
    for e in entries:
        if str(text) in (e.name, e.alias):
            return e.path
    bundled = ", ".join(f"{e.alias} ({e.name})" if e.alias else e.name for e in entries) or "none"
    if given.suffix or os.sep in str(text) or (os.altsep and os.altsep in str(text)):  # meant as a file
        raise InputFileError(given, f"no such file (the bundled {kind}s, usable by name: {bundled})")
    raise InputFileError(given, f"is neither a checkpoint file nor a bundled {kind} name (bundled: {bundled})")


def verify_sha256(entry: WeightsEntry) -> bool:
    """True when the entry's file exists and its sha256 is the one listed; InputFileError if the file is absent."""
    if not entry.path.is_file():
        raise InputFileError(entry.path, f"is listed in the weights manifest as {entry.name!r} but is not there")
    return file_digest(entry.path) == entry.sha256
