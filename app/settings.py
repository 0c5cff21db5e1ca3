"""Persistent app settings (QSettings): last source, model, weights, top-k and window geometry.

``COGNN_APP_SETTINGS=/path/file.ini`` (or the ``path`` argument) keeps them in an INI file instead of the user's
platform store, which tests use to stay out of the user's settings; scripted runs (``--screenshot``) use
:meth:`AppSettings.ephemeral`, which reads nothing and writes nothing, so their pictures do not depend on the
user's last session and leave it alone.
"""
from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings, QSize

__all__ = ["AppSettings", "SETTINGS_ENV_VAR"]

SETTINGS_ENV_VAR = "COGNN_APP_SETTINGS"


class AppSettings:
    """Typed access to the few values the app remembers between runs."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        path = path if path is not None else os.environ.get(SETTINGS_ENV_VAR)
        self._memory: dict[str, object] | None = None
        if path:
            self._q = QSettings(str(Path(path)), QSettings.Format.IniFormat)
        else:
            self._q = QSettings("cognn", "cognn-app")

    @classmethod
    def ephemeral(cls) -> AppSettings:
        """Settings that start empty and are never stored (scripted runs)."""
        self = cls.__new__(cls)
        self._memory = {}
        return self

    @property
    def location(self) -> str:
        """Where the settings are stored (a file name or a registry path; "memory" for ephemeral ones)."""
        return "memory" if self._memory is not None else self._q.fileName()

    def _value(self, key: str) -> object:
        return self._memory.get(key) if self._memory is not None else self._q.value(key, None)

    def _str(self, key: str) -> str | None:
        v = self._value(key)
        return None if v in (None, "") else str(v)

    def _set(self, key: str, value: object) -> None:
        if self._memory is not None:
            if value is None:
                self._memory.pop(key, None)
            else:
                self._memory[key] = value
        elif value is None:
            self._q.remove(key)
        else:
            self._q.setValue(key, value)

    # last source: an absolute file path or "camera:<index>"
    @property
    def last_source(self) -> str | None:
        return self._str("source/last")

    @last_source.setter
    def last_source(self, value: str | None) -> None:
        if value is not None and not value.startswith("camera:"):
            value = os.path.abspath(Path(value).expanduser())  # absolute, the user's own path (links kept)
        self._set("source/last", value)

    @property
    def model(self) -> str | None:
        return self._str("model/name")

    @model.setter
    def model(self, value: str | None) -> None:
        self._set("model/name", value)

    @property
    def weights(self) -> str | None:
        return self._str("model/weights")

    @weights.setter
    def weights(self, value: str | None) -> None:
        self._set("model/weights", value)

    @property
    def precision(self) -> str | None:
        """The model step's precision (fp32, bf16, int8), or None (fp32)."""
        v = self._str("model/precision")
        return v if v in ("fp32", "bf16", "int8") else None

    @precision.setter
    def precision(self, value: str | None) -> None:
        self._set("model/precision", value)

    @property
    def top_k(self) -> int | None:
        v = self._value("model/top_k")
        try:
            return None if v is None else max(1, int(v))
        except (TypeError, ValueError):
            return None

    @top_k.setter
    def top_k(self, value: int | None) -> None:
        self._set("model/top_k", value)

    @property
    def window_size(self) -> QSize | None:
        v = self._value("window/size")
        return v if isinstance(v, QSize) and v.isValid() else None

    @window_size.setter
    def window_size(self, value: QSize | None) -> None:
        self._set("window/size", value)

    @property
    def geometry(self) -> QByteArray | None:
        v = self._value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray | None) -> None:
        self._set("window/geometry", value)

    def sync(self) -> None:
        """Write pending changes to storage now."""
        if self._memory is None:
            self._q.sync()
