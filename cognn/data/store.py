"""HDF5 files of cognn: prepared datasets (``cognn-dataset``) and live recordings (``cognn-recording``).

Both are written to a temporary ``<path>.partial`` next to the target and renamed into place only when complete, so
an interrupted write never leaves a file that looks valid. Both are validated when opened: any problem raises
:class:`~cognn.errors.InputFileError` naming the file and what is wrong.

Dataset file (``format="cognn-dataset"``, ``version=1``)::

    data         float32 (N, 3, T, V, M)   chunks (1, 3, T, V, M), gzip; T = 300, M = 2 by default
    label        int64   (N,)              0-based index into ``classes``
    sample_name  utf-8   (N,)
    attrs: format, version, layout, domain, classes (JSON list), dataset, benchmark, split,
           preprocessing, preprocessing_version, created_by

Recording file (``format="cognn-recording"``, ``version=1``)::

    skeleton     float32 (T, 3, V, M)      resizable along T
    timestamp    float64 (T,)              seconds, non-decreasing
    events       utf-8   (K,)              optional, one JSON document per event
    attrs: format, version, layout, domain, source, fps (optional, nominal), persons (optional), created_by,
           plus any extra attributes
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import h5py
import numpy as np

from .. import __version__
from ..domains import LAYOUT_DOMAIN, check_domain
from ..errors import InputFileError
from ..layouts import Layout, get_layout

__all__ = ["DATASET_FORMAT", "RECORDING_FORMAT", "FORMAT_VERSION", "DatasetWriter", "DatasetFile", "Sample",
           "open_dataset", "Recording", "RecordingWriter", "save_recording", "load_recording"]

DATASET_FORMAT = "cognn-dataset"
RECORDING_FORMAT = "cognn-recording"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_CREATED_BY = f"cognn {__version__}"


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _attr_str(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _py(v: Any) -> Any:
    """HDF5 attribute value as a plain Python value (str, int, float; arrays stay arrays)."""
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.generic):
        return v.item()
    return v


def _open_h5(path: str | Path, expected: str) -> h5py.File:
    """Open ``path`` read-only and check its ``format`` / ``version`` attributes."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, "file not found")
    if p.is_dir():
        raise InputFileError(p, "is a directory, not a file")
    try:
        f = h5py.File(p, "r")
    except OSError:
        raise InputFileError(p, f"not an HDF5 file (expected a {expected} file)") from None
    try:
        fmt = f.attrs.get("format")
        if fmt is None:
            raise InputFileError(p, f"HDF5 file without a 'format' attribute; not a {expected} file", field="format")
        fmt = _attr_str(fmt)
        if fmt != expected:
            raise InputFileError(p, f"is a {fmt!r} file, expected {expected!r}", field="format")
        version = f.attrs.get("version")
        if not isinstance(version, (int, np.integer)) or version < 1:
            raise InputFileError(p, f"bad format version {version!r}", field="version")
        if version > FORMAT_VERSION:
            raise InputFileError(p, f"format version {int(version)} is newer than this cognn understands "
                                    f"({FORMAT_VERSION}); update cognn", field="version")
    except BaseException:
        f.close()
        raise
    return f


def _check_dataset(f: h5py.File, p: Path, name: str, dtype_kind: str, ndim: int) -> h5py.Dataset:
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise InputFileError(p, "missing dataset", field=name)
    d = f[name]
    if d.ndim != ndim:
        raise InputFileError(p, f"expected {ndim} dimensions, got shape {d.shape}", field=name)
    kind = "S" if h5py.check_string_dtype(d.dtype) else d.dtype.kind
    if kind not in dtype_kind:
        raise InputFileError(p, f"unexpected data type {d.dtype}", field=name)
    return d


def _layout_attr(f: h5py.File, p: Path) -> tuple[Layout, str]:
    try:
        lay = get_layout(_attr_str(f.attrs.get("layout", "")))
    except ValueError as e:
        raise InputFileError(p, str(e), field="layout") from None
    try:
        domain = check_domain(_attr_str(f.attrs.get("domain", "")))
    except ValueError as e:
        raise InputFileError(p, str(e), field="domain") from None
    return lay, domain


# ---------------------------------------------------------------------------------------------------------------------
# dataset files

class DatasetWriter:
    """Stream samples into a dataset file; use as a context manager.

    ``with DatasetWriter(path, "ntu25", classes, dataset="ntu60", ...) as w: w.append(x, label, name)``. The file is
    written as ``<path>.partial`` and renamed to ``path`` on a clean exit; on an exception it is removed.
    """

    def __init__(self, path: str | Path, layout: str | Layout, classes: Sequence[str], *, dataset: str = "",
                 benchmark: str = "", split: str = "", preprocessing: str = "none", preprocessing_version: int = 1,
                 domain: str | None = None, num_frames: int = 300, num_persons: int = 2, compression: int = 4,
                 extra_attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.layout = get_layout(layout)
        self.classes = [str(c) for c in classes]
        self.shape = (3, num_frames, self.layout.num_joints, num_persons)
        self.domain = check_domain(domain or LAYOUT_DOMAIN[self.layout.name])
        self.attrs = dict(format=DATASET_FORMAT, version=FORMAT_VERSION, layout=self.layout.name,
                          domain=self.domain, classes=json.dumps(self.classes), dataset=dataset,
                          benchmark=benchmark, split=split, preprocessing=preprocessing,
                          preprocessing_version=int(preprocessing_version), created_by=_CREATED_BY)
        self.attrs.update(extra_attrs or {})
        self.compression = compression
        self.count = 0
        self._file: h5py.File | None = None
        self._tmp = _partial(self.path)
        self.open()

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Create the temporary file (done by the constructor)."""
        if self._file is not None:
            return
        if not self.path.parent.is_dir():
            raise InputFileError(self.path, "the output folder does not exist")
        _remove(self._tmp)
        f = h5py.File(self._tmp, "w")
        f.attrs.update(self.attrs)
        f.create_dataset("data", shape=(0,) + self.shape, maxshape=(None,) + self.shape, dtype=np.float32,
                         chunks=(1,) + self.shape, compression="gzip", compression_opts=self.compression,
                         shuffle=True)
        f.create_dataset("label", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))
        f.create_dataset("sample_name", shape=(0,), maxshape=(None,), dtype=_STR, chunks=(4096,))
        self._file = f

    def append(self, sample: np.ndarray, label: int, name: str) -> None:
        """Add one sample ``(3, T, V, M)`` with its 0-based label and its name."""
        if self._file is None:
            raise RuntimeError("DatasetWriter is not open; use it as a context manager")
        sample = np.asarray(sample, np.float32)
        if sample.shape != self.shape:
            raise ValueError(f"sample has shape {sample.shape}, this dataset stores {self.shape}")
        if not 0 <= int(label) < len(self.classes):
            raise ValueError(f"label {label} outside 0..{len(self.classes) - 1}")
        f, i = self._file, self.count
        if i >= f["data"].shape[0]:
            grow = max(64, i // 4)
            for key in ("data", "label", "sample_name"):
                f[key].resize(i + grow, axis=0)
        f["data"][i] = sample
        f["label"][i] = int(label)
        f["sample_name"][i] = str(name)
        self.count += 1

    def close(self) -> Path:
        """Trim, close and rename the temporary file to ``path``; returns ``path``."""
        if self._file is None:
            raise RuntimeError("DatasetWriter is not open")
        f, self._file = self._file, None
        try:
            for key in ("data", "label", "sample_name"):
                f[key].resize(self.count, axis=0)
            f.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            f.close()
            _remove(self._tmp)
            raise
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; ``path`` is left untouched."""
        if self._file is not None:
            f, self._file = self._file, None
            try:
                f.close()
            finally:
                _remove(self._tmp)
        else:
            _remove(self._tmp)


class Sample(NamedTuple):
    """One dataset sample: ``data`` float32 ``(3, T, V, M)``, 0-based ``label``, ``name``."""

    data: np.ndarray
    label: int
    name: str


class DatasetFile:
    """A validated dataset file, read lazily. Labels and names are loaded at open; samples on demand.

    The HDF5 handle is (re)opened in whichever process first reads a sample, so the object can be shared with
    DataLoader worker processes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._validate()
        except (OSError, KeyError, TypeError) as e:
            raise InputFileError(self.path, f"corrupt or unreadable HDF5 content ({e})") from None
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def _validate(self) -> None:
        p = self.path
        with _open_h5(p, DATASET_FORMAT) as f:
            self.layout, self.domain = _layout_attr(f, p)
            try:
                classes = json.loads(_attr_str(f.attrs.get("classes", "")))
                if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or not classes:
                    raise ValueError
            except ValueError:
                raise InputFileError(p, "expected a JSON list of class names", field="classes") from None
            self.classes: list[str] = classes
            data = _check_dataset(f, p, "data", "f", 5)
            labels = _check_dataset(f, p, "label", "iu", 1)
            names = _check_dataset(f, p, "sample_name", "S", 1)
            n, c, t, v, m = data.shape
            if c != 3 or v != self.layout.num_joints:
                raise InputFileError(p, f"shape {data.shape} does not match (N, 3, T, {self.layout.num_joints}, M) "
                                        f"of layout {self.layout.name!r}", field="data")
            if labels.shape != (n,) or names.shape != (n,):
                raise InputFileError(p, f"{n} samples in 'data' but {labels.shape[0]} labels and {names.shape[0]} "
                                        "names", field="label" if labels.shape != (n,) else "sample_name")
            self.labels = labels[()].astype(np.int64)
            if n and (self.labels.min() < 0 or self.labels.max() >= len(classes)):
                raise InputFileError(p, f"labels outside 0..{len(classes) - 1}", field="label")
            self.sample_names: list[str] = [_attr_str(s) for s in names[()]]
            self.shape = data.shape
            self.attrs: dict[str, Any] = {k: _py(v) for k, v in f.attrs.items()}
        self.dataset = str(self.attrs.get("dataset", ""))
        self.benchmark = str(self.attrs.get("benchmark", ""))
        self.split = str(self.attrs.get("split", ""))
        self.preprocessing = str(self.attrs.get("preprocessing", ""))

    def __len__(self) -> int:
        return self.shape[0]

    def _data(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file["data"]

    def sample(self, i: int) -> Sample:
        """Sample ``i`` (negative indices count from the end)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sample {i} out of range for {n} samples")
        i %= n
        try:
            data = self._data()[i]
        except (OSError, KeyError) as e:
            raise InputFileError(self.path, f"cannot read sample {i} ({e})", field="data") from None
        return Sample(data, int(self.labels[i]), self.sample_names[i])

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> "DatasetFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state


def open_dataset(path: str | Path) -> DatasetFile:
    """Open and validate a ``cognn-dataset`` file."""
    return DatasetFile(path)


# ---------------------------------------------------------------------------------------------------------------------
# recordings

@dataclass
class Recording:
    """A recorded skeleton sequence: ``skeleton`` float32 ``(T, 3, V, M)``, ``timestamps`` float64 ``(T,)`` seconds."""

    skeleton: np.ndarray
    timestamps: np.ndarray
    layout: str
    domain: str
    fps: float | None = None
    source: str = ""
    events: list[Any] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)


_RESERVED = {"format", "version", "layout", "domain", "fps", "source", "created_by"}


def _recording_attrs(layout: Layout, domain: str, source: str, fps: float | None,
                     extra_attrs: dict[str, Any] | None) -> dict[str, Any]:
    attrs: dict[str, Any] = dict(format=RECORDING_FORMAT, version=FORMAT_VERSION, layout=layout.name,
                                 domain=check_domain(domain), source=str(source), created_by=_CREATED_BY)
    if fps is not None:
        attrs["fps"] = float(fps)
    for k, v in (extra_attrs or {}).items():
        if k in _RESERVED:
            raise ValueError(f"extra attribute {k!r} is reserved")
        if v is not None:  # HDF5 has no null attribute: None means "absent"
            attrs[k] = v
    return attrs


class RecordingWriter:
    """Append frames one at a time to a recording file; use as a context manager.

    Written as ``<path>.partial`` with resizable datasets and renamed to ``path`` by :meth:`close` (or a clean
    ``with`` exit); an exception inside ``with`` deletes it.
    """

    def __init__(self, path: str | Path, layout: str | Layout, domain: str, num_persons: int = 2, *,
                 source: str = "", fps: float | None = None, extra_attrs: dict[str, Any] | None = None,
                 flush_every: int = 30) -> None:
        self.path = Path(path)
        self.layout = get_layout(layout)
        self.frame_shape = (3, self.layout.num_joints, num_persons)
        self.attrs = _recording_attrs(self.layout, domain, source, fps, extra_attrs)
        self.flush_every = flush_every
        self.count = 0
        self._events = 0
        self._last_t = -np.inf
        self._buf: list[np.ndarray] = []
        self._buf_t: list[float] = []
        self._tmp = _partial(self.path)
        self._file: h5py.File | None = None
        self.open()

    def open(self) -> None:
        if self._file is not None:
            return
        if not self.path.parent.is_dir():
            raise InputFileError(self.path, "the output folder does not exist")
        _remove(self._tmp)
        f = h5py.File(self._tmp, "w")
        f.attrs.update(self.attrs)
        f.create_dataset("skeleton", shape=(0,) + self.frame_shape, maxshape=(None,) + self.frame_shape,
                         dtype=np.float32, chunks=(64,) + self.frame_shape)
        f.create_dataset("timestamp", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
        f.create_dataset("events", shape=(0,), maxshape=(None,), dtype=_STR, chunks=(64,))
        self._file = f

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def append(self, frame: np.ndarray, timestamp: float) -> None:
        """Add one frame ``(3, V, M)`` taken at ``timestamp`` seconds (non-decreasing).

        Frames are buffered and written in blocks of ``flush_every`` (and by :meth:`flush` / :meth:`close`).
        """
        if self._file is None:
            raise RuntimeError("RecordingWriter is closed")
        frame = np.asarray(frame, np.float32)
        if frame.shape != self.frame_shape:
            raise ValueError(f"frame has shape {frame.shape}, this recording stores {self.frame_shape}")
        timestamp = float(timestamp)
        if not np.isfinite(timestamp) or timestamp < self._last_t:
            raise ValueError(f"timestamp {timestamp} is not finite or goes back in time (last {self._last_t})")
        self._buf.append(frame.copy())
        self._buf_t.append(timestamp)
        self._last_t = timestamp
        self.count += 1
        if len(self._buf) >= max(1, self.flush_every):
            self.flush()

    def flush(self) -> None:
        """Write buffered frames to the (still temporary) file."""
        if self._file is None or not self._buf:
            return
        f = self._file
        n0, k = f["skeleton"].shape[0], len(self._buf)
        f["skeleton"].resize(n0 + k, axis=0)
        f["timestamp"].resize(n0 + k, axis=0)
        f["skeleton"][n0:] = np.stack(self._buf)
        f["timestamp"][n0:] = np.asarray(self._buf_t)
        self._buf.clear()
        self._buf_t.clear()
        f.flush()

    def add_event(self, event: Any) -> None:
        """Record an event (any JSON-serialisable value, e.g. ``{"t": 1.2, "label": "wave"}``)."""
        if self._file is None:
            raise RuntimeError("RecordingWriter is closed")
        text = json.dumps(event)
        ds = self._file["events"]
        ds.resize(self._events + 1, axis=0)
        ds[self._events] = text
        self._events += 1

    def close(self) -> Path:
        """Write what is buffered, close and rename to ``path``; returns ``path``."""
        if self._file is None:
            return self.path
        self.flush()
        f, self._file = self._file, None
        try:
            f.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            f.close()
            _remove(self._tmp)
            raise
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file."""
        f, self._file = self._file, None
        try:
            if f is not None:
                f.close()
        finally:
            _remove(self._tmp)


def save_recording(path: str | Path, skeleton: np.ndarray, timestamps: np.ndarray, layout: str | Layout,
                   domain: str, source: str = "", fps: float | None = None, events: Sequence[Any] | None = None,
                   extra_attrs: dict[str, Any] | None = None) -> Path:
    """Write a whole recording ``skeleton`` ``(T, 3, V, M)`` with ``timestamps`` ``(T,)`` atomically.

    ``extra_attrs`` become file attributes (e.g. ``{"persons": 1, "canvas_size": (1920, 1080)}``; None values are
    left out); ``events`` are stored as JSON documents.
    """
    skeleton = np.asarray(skeleton, np.float32)
    timestamps = np.asarray(timestamps, np.float64)
    lay = get_layout(layout)
    if skeleton.ndim != 4 or skeleton.shape[1] != 3 or skeleton.shape[2] != lay.num_joints:
        raise ValueError(f"skeleton must be (T, 3, {lay.num_joints}, M) for layout {lay.name!r}, "
                         f"got {skeleton.shape}")
    if timestamps.shape != (skeleton.shape[0],):
        raise ValueError(f"timestamps must be ({skeleton.shape[0]},), got {timestamps.shape}")
    if not np.isfinite(timestamps).all() or (np.diff(timestamps) < 0).any():
        raise ValueError("timestamps must be finite and non-decreasing")
    with RecordingWriter(path, lay, domain, skeleton.shape[3], source=source, fps=fps,
                         extra_attrs=extra_attrs) as w:
        f = w._file
        assert f is not None
        t = skeleton.shape[0]
        f["skeleton"].resize(t, axis=0)
        f["timestamp"].resize(t, axis=0)
        if t:
            f["skeleton"][:] = skeleton
            f["timestamp"][:] = timestamps
        w.count = t
        w._last_t = float(timestamps[-1]) if t else -np.inf
        for e in events or ():
            w.add_event(e)
    return Path(path)


def load_recording(path: str | Path) -> Recording:
    """Read and validate a ``cognn-recording`` file."""
    try:
        return _load_recording(Path(path))
    except (OSError, KeyError, TypeError) as e:
        raise InputFileError(path, f"corrupt or unreadable HDF5 content ({e})") from None


def _load_recording(p: Path) -> Recording:
    with _open_h5(p, RECORDING_FORMAT) as f:
        lay, domain = _layout_attr(f, p)
        skel = _check_dataset(f, p, "skeleton", "f", 4)
        ts = _check_dataset(f, p, "timestamp", "f", 1)
        t = skel.shape[0]
        if skel.shape[1] != 3 or skel.shape[2] != lay.num_joints:
            raise InputFileError(p, f"shape {skel.shape} does not match (T, 3, {lay.num_joints}, M) of layout "
                                    f"{lay.name!r}", field="skeleton")
        if ts.shape != (t,):
            raise InputFileError(p, f"{ts.shape[0]} timestamps for {t} frames", field="timestamp")
        timestamps = ts[()].astype(np.float64)
        if not np.isfinite(timestamps).all() or (np.diff(timestamps) < 0).any():
            raise InputFileError(p, "timestamps must be finite and non-decreasing", field="timestamp")
        events: list[Any] = []
        if "events" in f:
            ev = _check_dataset(f, p, "events", "S", 1)
            for i, e in enumerate(ev[()]):
                try:
                    events.append(json.loads(_attr_str(e)))
                except ValueError:
                    raise InputFileError(p, "not a JSON document", field=f"events[{i}]") from None
        attrs = {k: _py(v) for k, v in f.attrs.items()}
        fps = attrs.pop("fps", None)
        return Recording(skeleton=skel[()].astype(np.float32), timestamps=timestamps, layout=lay.name, domain=domain,
                         fps=None if fps is None else float(fps), source=str(attrs.pop("source", "")),
                         events=events,
                         attrs={k: v for k, v in attrs.items() if k not in _RESERVED})
