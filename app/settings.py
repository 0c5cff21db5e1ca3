"""Persistent app settings (QSettings): last source, model, weights, top-k and window geometry.

``COGNN_APP_SETTINGS=/path/file.ini`` (or the ``path`` argument) keeps them in an INI file instead of the user's
platform store, which tests and scripted runs use to stay out of the user's settings.
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
        if path:
            self._q = QSettings(str(Path(path)), QSettings.Format.IniFormat)
        else:
            self._q = QSettings("cognn", "cognn-app")

    @property
    def location(self) -> str:
        """Where the settings are stored (a file name or a registry path)."""
        return self._q.fileName()

    def _str(self, key: str) -> str | None:
        v = self._q.value(key, None)
        return None if v in (None, "") else str(v)

    def _set(self, key: str, value) -> None:
        if value is None:
            self._q.remove(key)
        else:
            self._q.setValue(key, value)

    # last source: a file path or "camera:<index>"
    @property
    def last_source(self) -> str | None:
        return self._str("source/last")

    @last_source.setter
    def last_source(self, value: str | None) -> None:
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
    def top_k(self) -> int | None:
        v = self._q.value("model/top_k", None)
        try:
            return None if v is None else max(1, int(v))
        except (TypeError, ValueError):
            return None

    @top_k.setter
    def top_k(self, value: int | None) -> None:
        self._set("model/top_k", value)

    @property
    def window_size(self) -> QSize | None:
        v = self._q.value("window/size", None)
        return v if isinstance(v, QSize) and v.isValid() else None

    @window_size.setter
    def window_size(self, value: QSize | None) -> None:
        self._set("window/size", value)

    @property
    def geometry(self) -> QByteArray | None:
        v = self._q.value("window/geometry", None)
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray | None) -> None:
        self._set("window/geometry", value)

    def sync(self) -> None:
        """Write pending changes to storage now."""
        self._q.sync()
