"""HDF5 files of cognn: prepared datasets (``cognn-dataset``) and live recordings (``cognn-recording``).

Both are written through :class:`~cognn.atomic.AtomicOutput`: a unique temporary file beside the target (created at
the first record, so a run that fails before it creates nothing), renamed into place only when complete, so an
interrupted write never leaves a file that looks valid and two runs writing one target never share a file. An
output that is one of the inputs is refused before anything is opened for writing.

Both are validated when opened, through one function (:func:`open_h5`), and any problem raises
:class:`~cognn.errors.InputFileError` naming the file and what is wrong. Nothing is ever read outside the file: soft
and external links, datasets with external storage, virtual datasets and filters other than HDF5's built-in ones
(which could load a plugin) are refused. Every declared size is checked before anything is allocated: a dataset must
store what it declares (allocated chunks, or storage bytes, cover its extent, within the file's size), and stay
within :data:`MAX_SAMPLES` samples, :data:`MAX_SAMPLE_BYTES` a sample, :data:`MAX_LOAD_BYTES` a recording,
:data:`MAX_ATTR_BYTES` an attribute. Joints with non-finite or absurd values are zeroed with an
:class:`~cognn.data.files.InputValueWarning`; a recording's ``fps``, ``canvas_size`` or ``persons`` attribute that
makes no sense is dropped with one.

Files are written in the HDF5 1.10 format (checksums on all metadata, so the library refuses a damaged file
instead of misreading it) and with fixed-length UTF-8 strings only: variable-length strings live in HDF5's global
heap, which has no checksum, and a damaged one can crash or hang the HDF5 library (found by fuzzing). Files of
earlier cognn versions (variable-length strings) are read as before. The HDF5 library itself is not hardened against
every crafted metadata structure; what cognn checks is listed above.

Dataset file (``format="cognn-dataset"``, ``version=1``)::

    data         float32 (N, 3, T, V, M)   chunks (1, 3, T, V, M), gzip; T = 300, M = 2 by default
    label        int64   (N,)              0-based index into ``classes``
    sample_name  utf-8   (N,)              written at the end
    attrs: format, version, layout, domain, classes (JSON list), dataset, benchmark, split,
           preprocessing, preprocessing_version, created_by

Recording file (``format="cognn-recording"``, ``version=1``)::

    skeleton     float32 (T, 3, V, M)      resizable along T
    timestamp    float64 (T,)              seconds, non-decreasing
    events       utf-8   (K,)              optional (written at the end), one JSON document per event
    attrs: format, version, layout, domain, source, fps (optional, nominal), persons (optional), created_by,
           plus any extra attributes (``canvas_size`` ``(width, height)`` for drawing)
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from .. import __version__
from ..atomic import AtomicOutput, OutputError, check_output
from ..domains import LAYOUT_DOMAIN, check_domain
from ..errors import InputFileError
from ..layouts import Layout, get_layout
from .files import check_input_file, warn_values, warn_zeroed, zero_bad_joints

__all__ = ["DATASET_FORMAT", "RECORDING_FORMAT", "FORMAT_VERSION", "MAX_SAMPLES", "MAX_SAMPLE_BYTES",
           "MAX_LOAD_BYTES", "MAX_ATTR_BYTES", "MAX_NAME_BYTES", "MAX_PERSONS", "MAX_FPS", "MAX_CANVAS_SIDE",
           "DatasetWriter", "DatasetFile", "Sample", "open_dataset", "dataset_length", "h5_format", "open_h5",
           "Recording", "RecordingWriter", "save_recording", "load_recording"]

DATASET_FORMAT = "cognn-dataset"
RECORDING_FORMAT = "cognn-recording"
FORMAT_VERSION = 1
_CREATED_BY = f"cognn {__version__}"

#: most samples a dataset file may declare (NTU-120 has 114 480, Kinetics-400 about 260 000)
MAX_SAMPLES = 10_000_000
#: largest sample (decoded) or chunk read at once: 64 MiB (a 300-frame NTU sample is 180 kB)
MAX_SAMPLE_BYTES = 64 * 2**20
#: largest recording loaded whole: 1 GiB of float32 skeletons (16 hours of 2 NTU persons at 30 fps)
MAX_LOAD_BYTES = 2**30
#: largest attribute (a ``persons`` list of 2 million frames fits)
MAX_ATTR_BYTES = 16 * 2**20
#: longest sample name a dataset writer stores (names are file names: at most 255 bytes)
MAX_NAME_BYTES = 1024
#: most attributes a file may carry
MAX_ATTRS = 1000
#: most person slots of a recording or dataset
MAX_PERSONS = 64
#: most events of a recording
MAX_EVENTS = 1_000_000
#: a recording's nominal frame rate above this is no frame rate (cameras reach a few hundred)
MAX_FPS = 10_000.0
#: largest side of a drawing canvas in pixels
MAX_CANVAS_SIDE = 65_536
#: timestamps beyond this many seconds (317 years) are not seconds from a start
MAX_TIMESTAMP = 1e10
#: most a compressed dataset may decode to, per byte of the file, beyond :data:`DECODE_SLACK`: real skeletons
#: (float32 coordinates, zero-padded frames and person slots) compress 1.1x to some 20x; zeros compress 1000x with
#: gzip, so a small file can otherwise declare gigabytes (a decompression bomb)
MAX_DECODE_RATIO = 256
#: decoded bytes any compressed dataset may have whatever its file's size (short all-zero recordings stay readable)
DECODE_SLACK = 64 * 2**20
#: frames of a recording decoded at once (a whole recording is read in such chunks, never decoded twice)
_READ_FRAMES = 65_536
#: HDF5's built-in filters (gzip, shuffle, fletcher32, szip, n-bit, scale-offset) and h5py's bundled lzf; any other
#: filter would make HDF5 look for a plugin library
_SAFE_FILTERS = {1, 2, 3, 4, 5, 6, 32000}
_LAYOUT_NAMES = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked"}


def _attr_str(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _py(v: Any) -> Any:
    """HDF5 attribute value as a plain Python value (str, int, float; arrays stay arrays)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------------------------------------------------------------
# safe reading: the one way cognn opens an HDF5 input

def _link_problem(f: h5py.File) -> str | None:
    """Why the file's top level cannot be trusted (a soft or external link), or None."""
    for name in f.keys():  # link names only: nothing is resolved
        link = f.get(name, getlink=True)
        if isinstance(link, h5py.SoftLink):
            return (f"holds a soft link {name!r} (to {link.path!r}); cognn files hold none, and it is not followed")
        if isinstance(link, h5py.ExternalLink):
            return (f"holds an external link {name!r} to {link.filename!r}; cognn never reads outside the input "
                    "file")
        if not isinstance(link, h5py.HardLink):
            return f"holds a link {name!r} of an unknown kind; it is not followed"
    return None


def open_h5(path: str | os.PathLike, expected: str | Sequence[str] | None = None) -> h5py.File:
    """Open a cognn HDF5 input read-only, safely; ``expected``: the format(s) it must have (None: any cognn format).

    Refused with :class:`InputFileError`: a path that is not a regular file, a file that is not HDF5, a top level
    holding soft or external links, a missing or wrong ``format``, a ``version`` newer than this cognn, more than
    ``MAX_ATTRS`` attributes or one larger than :data:`MAX_ATTR_BYTES`. Datasets are checked when read
    (:func:`_check_dataset`). The caller closes the file.
    """
    p = check_input_file(path)
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        if "lock" in str(e).lower():
            raise InputFileError(p, "is locked by a program writing it; try again when it is done") from None
        kind = expected if isinstance(expected, str) else "cognn"
        raise InputFileError(p, f"not an HDF5 file (expected a {kind} file)") from None
    except Exception as e:  # h5py can raise others on damaged superblocks
        raise InputFileError(p, f"damaged HDF5 file ({type(e).__name__}: {e})") from None
    try:
        problem = _link_problem(f)
        if problem:
            raise InputFileError(p, problem)
        names = list(f.attrs.keys())
        if len(names) > MAX_ATTRS:
            raise InputFileError(p, f"carries {len(names)} attributes, more than the {MAX_ATTRS} cognn reads")
        fmt = _attr(f, p, "format")
        allowed = (DATASET_FORMAT, RECORDING_FORMAT) if expected is None else \
            (expected,) if isinstance(expected, str) else tuple(expected)
        what = " or ".join(allowed)
        if fmt is None:
            raise InputFileError(p, f"HDF5 file without a 'format' attribute; not a {what} file", field="format")
        fmt = _attr_str(fmt)
        if fmt not in allowed:
            raise InputFileError(p, f"is a {fmt[:60]!r} file, expected {what!r}" if expected is not None else
                                 f"is an HDF5 file of format {fmt[:60]!r}, not a cognn recording or dataset",
                                 field="format")
        version = _attr(f, p, "version")
        if not isinstance(version, (int, np.integer)) or isinstance(version, (bool, np.bool_)) or version < 1:
            raise InputFileError(p, f"bad format version {str(version)[:40]!r}", field="version")
        if version > FORMAT_VERSION:
            raise InputFileError(p, f"format version {int(version)} is newer than this cognn understands "
                                    f"({FORMAT_VERSION}); update cognn", field="version")
    except InputFileError:
        f.close()
        raise
    except BaseException as e:
        f.close()
        if isinstance(e, (OSError, KeyError, TypeError, ValueError, RuntimeError)):
            raise InputFileError(p, f"corrupt or unreadable HDF5 content ({_short(e)})") from None
        raise
    return f


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _attr(f: h5py.File, p: Path, name: str) -> Any:
    """Attribute ``name`` (None if absent), its size checked before it is read."""
    if name not in f.attrs:
        return None
    try:
        aid = f.attrs.get_id(name)
        n = math.prod(aid.shape or ())
        size = n * max(1, aid.dtype.itemsize)
    except (OSError, TypeError, ValueError, KeyError, RuntimeError) as e:
        raise InputFileError(p, f"attribute cannot be read ({_short(e)})", field=name) from None
    if size > MAX_ATTR_BYTES:
        raise InputFileError(p, f"attribute of {size} bytes, more than the {MAX_ATTR_BYTES} cognn reads",
                             field=name)
    try:
        return f.attrs[name]
    except (OSError, TypeError, ValueError, KeyError, RuntimeError) as e:
        raise InputFileError(p, f"attribute cannot be read ({_short(e)})", field=name) from None


def _all_attrs(f: h5py.File, p: Path) -> dict[str, Any]:
    return {k: _py(_attr(f, p, k)) for k in f.attrs.keys()}


def _check_storage(d: h5py.Dataset, p: Path, name: str, file_size: int) -> None:
    """Refuse storage outside the file, unknown filters and a dataset that declares more than it stores."""
    dcpl = d.id.get_create_plist()
    if dcpl.get_external_count() > 0:
        raise InputFileError(p, "stores its data in another file (HDF5 external storage); cognn never reads "
                                "outside the input file", field=name)
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise InputFileError(p, "is a virtual dataset (its data lives in other files); cognn never reads outside "
                                "the input file", field=name)
    if layout not in _LAYOUT_NAMES:
        raise InputFileError(p, f"uses an unknown HDF5 storage layout ({layout})", field=name)
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in _SAFE_FILTERS:
            raise InputFileError(p, f"uses HDF5 filter {code}, which cognn does not read (cognn files use gzip)",
                                 field=name)
    elem = d.id.get_type().get_size()  # bytes per element on disk (16 for a variable-length string)
    declared = math.prod(d.shape) * elem
    stored = d.id.get_storage_size()
    if stored > file_size:
        raise InputFileError(p, f"claims {stored} bytes of storage in a file of {file_size} bytes (damaged or "
                                "crafted file)", field=name)
    if layout == h5py.h5d.CHUNKED:
        chunks = d.chunks or d.shape
        chunk_bytes = math.prod(chunks) * max(elem, d.dtype.itemsize)
        if chunk_bytes > MAX_SAMPLE_BYTES:
            raise InputFileError(p, f"uses chunks of {chunk_bytes} bytes, more than the {MAX_SAMPLE_BYTES} cognn "
                                    "decodes at once", field=name)
        expected = math.prod(-(-s // c) for s, c in zip(d.shape, chunks)) if all(d.shape) else 0
        have = d.id.get_num_chunks() if expected else 0
        if have < expected:
            raise InputFileError(p, f"declares {d.shape[0]} entries but stores only {have} of its {expected} "
                                    "chunks (truncated or crafted file)", field=name)
    elif stored < declared:
        raise InputFileError(p, f"declares {d.shape[0] if d.shape else 1} entries ({declared} bytes) but stores "
                                f"only {stored} bytes (truncated or crafted file)", field=name)
    if dcpl.get_nfilters() and declared > MAX_DECODE_RATIO * file_size + DECODE_SLACK:
        raise InputFileError(p, f"declares {_size(declared)} of data compressed into a file of {_size(file_size)} "
                                f"(more than {MAX_DECODE_RATIO}x, beyond what skeletons compress to: a decompression "
                                "bomb?)", field=name)


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _check_dataset(f: h5py.File, p: Path, name: str, dtype_kind: str, ndim: int,
                   max_len: int = MAX_SAMPLES, whole: bool = True) -> h5py.Dataset:
    """The dataset ``name``, checked: kind of values, dimensions, first-axis length, storage (see
    :func:`_check_storage`) and, when it is to be read ``whole``, its size in memory (at most
    :data:`MAX_LOAD_BYTES`); nothing of its data is read."""
    link = f.get(name, getlink=True)
    if link is None:
        raise InputFileError(p, "missing dataset", field=name)
    if not isinstance(link, h5py.HardLink):
        raise InputFileError(p, "is a link, not a dataset; it is not followed", field=name)
    d = f[name]
    if not isinstance(d, h5py.Dataset):
        raise InputFileError(p, "missing dataset (a group or type has that name)", field=name)
    if d.ndim != ndim:
        raise InputFileError(p, f"expected {ndim} dimensions, got shape {d.shape}", field=name)
    kind = "S" if h5py.check_string_dtype(d.dtype) else d.dtype.kind
    if kind not in dtype_kind or (kind == "f" and d.dtype.itemsize > 8):
        raise InputFileError(p, f"unexpected data type {d.dtype}", field=name)
    if ndim and d.shape[0] > max_len:
        raise InputFileError(p, f"declares {d.shape[0]} entries, more than the {max_len} cognn reads", field=name)
    size = math.prod(d.shape) * max(4, d.dtype.itemsize)
    if whole and size > MAX_LOAD_BYTES:
        raise InputFileError(p, f"would take {size / 2**30:.1f} GB in memory, more than the "
                                f"{MAX_LOAD_BYTES / 2**30:.0f} GB cognn loads", field=name)
    _check_storage(d, p, name, os.path.getsize(f.filename))
    return d


def _layout_attr(f: h5py.File, p: Path) -> tuple[Layout, str]:
    try:
        lay = get_layout(_attr_str(_attr(f, p, "layout") or ""))
    except ValueError as e:
        raise InputFileError(p, str(e), field="layout") from None
    try:
        domain = check_domain(_attr_str(_attr(f, p, "domain") or ""))
    except ValueError as e:
        raise InputFileError(p, str(e), field="domain") from None
    return lay, domain


def _guard(path: str | os.PathLike, fn, *args):
    """Run ``fn(Path(path), *args)``, turning an HDF5 library error into one :class:`InputFileError`."""
    p = Path(path)
    try:
        return fn(p, *args)
    except InputFileError:
        raise
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError) as e:
        raise InputFileError(p, f"corrupt or unreadable HDF5 content ({_short(e)})") from None


def h5_format(path: str | os.PathLike) -> str:
    """The cognn ``format`` attribute of an HDF5 input (``"cognn-recording"`` or ``"cognn-dataset"``).

    Anything else raises :class:`InputFileError` with one sentence: not a regular file, not HDF5, no or another
    ``format``, unsafe links. Cheap: attributes only.
    """
    def run(p: Path) -> str:
        with open_h5(p) as f:
            return _attr_str(_attr(f, p, "format"))

    return _guard(path, run)


def _writer_error(e: OSError) -> str:
    m = re.search(r"error message = '([^']+)'", str(e))
    if m:
        return m.group(1)
    if e.errno:
        return os.strerror(e.errno)
    return _short(e)


class _Sink:
    """A writer's temporary file as the file object HDF5 writes through.

    The first error (disk full, file too large, I/O error) is kept in :attr:`error` and every later write is dropped
    as if done, so that HDF5 itself never sees a failure: it would retry its flush at every close and again at exit,
    print errors from destructors, and can crash the process. The writer checks :attr:`error` after each operation,
    reports it as one :class:`~cognn.atomic.OutputError` and removes the file.
    """

    def __init__(self, path: Path) -> None:
        self._f = open(path, "r+b", buffering=0)
        self.error: OSError | None = None

    def _fail(self, e: OSError) -> None:
        if self.error is None:
            self.error = e

    def readinto(self, buf) -> int:
        try:
            return self._f.readinto(buf) or 0
        except OSError as e:
            self._fail(e)
            return 0

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n) or b""
        except OSError as e:
            self._fail(e)
            return b""

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):
                    done += self._f.write(view[done:]) or 0
            except OSError as e:
                self._fail(e)
        return len(view)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._f.truncate(size)
            except OSError as e:
                self._fail(e)
        return self._f.tell() if size is None else size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as e:
            self._fail(e)


def _h5_create(sink: _Sink) -> h5py.File:
    """A new HDF5 file written through ``sink``, in the HDF5 1.10 format: every piece of metadata carries a checksum,
    so a damaged file is refused by the library instead of being misread."""
    return h5py.File(sink, "w", libver=("v110", "latest"))


def _fixed_strings(values: Sequence[str]) -> np.ndarray:
    """``values`` as a fixed-length UTF-8 string array (no variable-length strings: those live in HDF5's global
    heap, which has no checksum, and a damaged one can crash or hang the HDF5 library)."""
    encoded = [str(v).encode("utf-8") for v in values]
    return np.array(encoded, dtype=h5py.string_dtype("utf-8", max([1, *map(len, encoded)])))


def _fixed_attr(value: Any) -> Any:
    """An attribute value as written: strings (and lists of strings) fixed-length, anything else as it is."""
    if isinstance(value, str):
        return _fixed_strings([value])[0]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return _fixed_strings(value)
    return value


def _set_attrs(f: h5py.File, attrs: dict[str, Any]) -> None:
    for k, v in attrs.items():
        f.attrs[k] = _fixed_attr(v)


# ---------------------------------------------------------------------------------------------------------------------
# dataset files

class _H5Output:
    """The output side both writers share: the output checked at once, a temporary file created at the first record
    (:class:`~cognn.atomic.AtomicOutput`) and written through a :class:`_Sink`, renamed at the end; any write
    failure becomes one :class:`~cognn.atomic.OutputError` and removes the temporary file."""

    def __init__(self, path: str | os.PathLike, what: str, inputs: Sequence[str | os.PathLike]) -> None:
        self.what = what
        self.inputs = tuple(inputs)
        self.path = check_output(path, what, self.inputs, allow_stream=False)
        self._file: h5py.File | None = None
        self._out: AtomicOutput | None = None
        self._sink: _Sink | None = None
        self._closed = False

    @property
    def temp(self) -> Path | None:
        """The temporary file being written (None before the first record)."""
        return None if self._out is None else self._out.temp

    def _layout_file(self, f: h5py.File) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def open(self) -> None:
        """Create the temporary file (done by the first record)."""
        if self._file is not None:
            return
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")
        self._out = AtomicOutput(self.path, what=self.what, inputs=self.inputs, allow_stream=False)
        with self._writing():
            self._sink = _Sink(self._out.temp)
            f = _h5_create(self._sink)
            self._file = f
            self._layout_file(f)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Run file operations; a failure (kept by the sink, or raised) aborts and raises one OutputError."""
        try:
            yield
        except OSError as e:
            raise self._failed(e) from None
        except BaseException:
            self.abort()
            raise
        if self._sink is not None and self._sink.error is not None:
            raise self._failed(self._sink.error)

    def _failed(self, e: OSError) -> OutputError:
        if self._sink is not None and self._sink.error is not None:
            e = self._sink.error
        self.abort()
        return OutputError(f"{self.what} {self.path} could not be written ({_writer_error(e)})")

    def _finish(self) -> Path:
        """Close the HDF5 file and rename the temporary file to the target."""
        f, self._file = self._file, None
        assert f is not None and self._out is not None and self._sink is not None
        with self._writing():
            f.close()
            self._sink.close()
        self._closed = True
        return self._out.commit()

    def abort(self) -> None:
        """Close and delete the temporary file; ``path`` is left as it was."""
        self._closed = True
        f, self._file = self._file, None
        try:
            if f is not None:
                f.close()
        except Exception:
            pass
        finally:
            if self._sink is not None:
                self._sink.close()
            if self._out is not None:
                self._out.abort()


class DatasetWriter(_H5Output):
    """Stream samples into a dataset file; use as a context manager.

    ``with DatasetWriter(path, "ntu25", classes, dataset="ntu60", ...) as w: w.append(x, label, name)``. The output is
    checked at once (:class:`~cognn.atomic.OutputError`: a folder, a device, a missing folder, one of ``inputs``);
    the file is created under a temporary name at the first :meth:`append` (or :meth:`close`) and renamed to ``path``
    on a clean exit; on an exception it is removed. A write failure (disk full) raises one ``OutputError``.
    Joints with non-finite values are stored as zeros.
    """

    def __init__(self, path: str | Path, layout: str | Layout, classes: Sequence[str], *, dataset: str = "",
                 benchmark: str = "", split: str = "", preprocessing: str = "none", preprocessing_version: int = 1,
                 domain: str | None = None, num_frames: int = 300, num_persons: int = 2, compression: int = 4,
                 extra_attrs: dict[str, Any] | None = None, inputs: Sequence[str | os.PathLike] = (),
                 what: str = "output") -> None:
        super().__init__(path, what, inputs)
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
        self._names: list[str] = []

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _layout_file(self, f: h5py.File) -> None:
        _set_attrs(f, self.attrs)
        f.create_dataset("data", shape=(0,) + self.shape, maxshape=(None,) + self.shape, dtype=np.float32,
                         chunks=(1,) + self.shape, compression="gzip", compression_opts=self.compression,
                         shuffle=True)
        f.create_dataset("label", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))

    def append(self, sample: np.ndarray, label: int, name: str) -> None:
        """Add one sample ``(3, T, V, M)`` with its 0-based label and its name."""
        if self._closed:
            raise RuntimeError("DatasetWriter is closed")
        sample = np.asarray(sample, np.float32)
        if sample.shape != self.shape:
            raise ValueError(f"sample has shape {sample.shape}, this dataset stores {self.shape}")
        if not 0 <= int(label) < len(self.classes):
            raise ValueError(f"label {label} outside 0..{len(self.classes) - 1}")
        if len(str(name).encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"sample name of more than {MAX_NAME_BYTES} bytes: {str(name)[:40]!r}...")
        sample, _ = zero_bad_joints(sample, channel_axis=0)  # never write NaN
        self.open()
        f, i = self._file, self.count
        assert f is not None
        with self._writing():
            if i >= f["data"].shape[0]:
                grow = max(64, i // 4)
                for key in ("data", "label"):
                    f[key].resize(i + grow, axis=0)
            f["data"][i] = sample
            f["label"][i] = int(label)
        self._names.append(str(name))  # written at the end, as fixed-length strings
        self.count += 1

    def close(self) -> Path:
        """Trim, close and rename the temporary file to ``path``; returns ``path``."""
        if self._closed:
            raise RuntimeError("DatasetWriter is not open")
        self.open()
        f = self._file
        assert f is not None
        with self._writing():
            for key in ("data", "label"):
                f[key].resize(self.count, axis=0)
            f.create_dataset("sample_name", data=_fixed_strings(self._names))
        return self._finish()


class Sample(NamedTuple):
    """One dataset sample: ``data`` float32 ``(3, T, V, M)``, 0-based ``label``, ``name``."""

    data: np.ndarray
    label: int
    name: str


def _dataset_structure(f: h5py.File, p: Path) -> tuple[Layout, str, list[str], h5py.Dataset, h5py.Dataset,
                                                      h5py.Dataset]:
    """Everything about a dataset file that needs no per-sample read: layout, domain, classes and the three
    datasets, their shapes and storage checked."""
    lay, domain = _layout_attr(f, p)
    try:
        classes = json.loads(_attr_str(_attr(f, p, "classes") or ""))
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or not classes:
            raise ValueError
    except (ValueError, RecursionError):
        raise InputFileError(p, "expected a JSON list of class names", field="classes") from None
    data = _check_dataset(f, p, "data", "f", 5, whole=False)
    labels = _check_dataset(f, p, "label", "iu", 1)
    names = _check_dataset(f, p, "sample_name", "S", 1)
    n, c, t, v, m = data.shape
    if c != 3 or v != lay.num_joints:
        raise InputFileError(p, f"shape {data.shape} does not match (N, 3, T, {lay.num_joints}, M) of layout "
                                f"{lay.name!r}", field="data")
    if not 1 <= m <= MAX_PERSONS:
        raise InputFileError(p, f"{m} person slots; cognn reads 1 to {MAX_PERSONS}", field="data")
    if c * t * v * m * 4 > MAX_SAMPLE_BYTES:
        raise InputFileError(p, f"samples of {t} frames ({c * t * v * m * 4} bytes each) are more than the "
                                f"{MAX_SAMPLE_BYTES} bytes cognn reads at once", field="data")
    if labels.shape != (n,) or names.shape != (n,):
        raise InputFileError(p, f"{n} samples in 'data' but {labels.shape[0]} labels and {names.shape[0]} "
                                "names", field="label" if labels.shape != (n,) else "sample_name")
    return lay, domain, classes, data, labels, names


def dataset_length(path: str | os.PathLike) -> int:
    """Number of samples of a ``cognn-dataset`` file, validated without reading any sample, label or name.

    Anything that is not a sound dataset file raises :class:`InputFileError` (see :func:`h5_format` to tell a
    recording from a dataset first).
    """
    def run(p: Path) -> int:
        with open_h5(p, DATASET_FORMAT) as f:
            return int(_dataset_structure(f, p)[3].shape[0])

    return _guard(path, run)


class DatasetFile:
    """A validated dataset file, read lazily. Labels and names are loaded at open; samples on demand.

    The HDF5 handle is (re)opened, through the same checks, in whichever process first reads a sample, so the
    object can be shared with DataLoader worker processes. A sample's non-finite or absurd joints are zeroed with
    one :class:`~cognn.data.files.InputValueWarning` per file and process.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _guard(self.path, lambda p: self._validate())
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._warned = False

    def _validate(self) -> None:
        p = self.path
        with open_h5(p, DATASET_FORMAT) as f:
            self.layout, self.domain, classes, data, labels, names = _dataset_structure(f, p)
            self.classes: list[str] = classes
            n = data.shape[0]
            self.labels = labels[()].astype(np.int64)
            if n and (self.labels.min() < 0 or self.labels.max() >= len(classes)):
                raise InputFileError(p, f"labels outside 0..{len(classes) - 1}", field="label")
            self.sample_names: list[str] = [_attr_str(s) for s in names[()]]
            self.shape = data.shape
            self.attrs: dict[str, Any] = _all_attrs(f, p)
        self.dataset = str(self.attrs.get("dataset", ""))
        self.benchmark = str(self.attrs.get("benchmark", ""))
        self.split = str(self.attrs.get("split", ""))
        self.preprocessing = str(self.attrs.get("preprocessing", ""))

    def __len__(self) -> int:
        return self.shape[0]

    def _data(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            f = open_h5(self.path, DATASET_FORMAT)
            try:
                d = _check_dataset(f, self.path, "data", "f", 5, whole=False)
                if d.shape != self.shape:
                    raise InputFileError(self.path, f"changed since it was opened (shape {d.shape}, was "
                                                    f"{self.shape})", field="data")
            except BaseException:
                f.close()
                raise
            self._file, self._pid = f, os.getpid()
        return self._file["data"]

    def sample(self, i: int) -> Sample:
        """Sample ``i`` (negative indices count from the end)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sample {i} out of range for {n} samples")
        i %= n
        try:
            data = np.asarray(_guard(self.path, lambda p: self._data()[i]), np.float32)
        except InputFileError as e:
            raise InputFileError(self.path, f"cannot read sample {i} ({e.problem})", field="data") from None
        data, bad = zero_bad_joints(data, channel_axis=0)
        if bad and not self._warned:
            self._warned = True
            warn_zeroed(self.path, bad, f"sample {i} {self.sample_names[i]!r}; further samples of this file with "
                                        "such values are zeroed without a warning")
        return Sample(data, int(self.labels[i]), self.sample_names[i])

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def __enter__(self) -> DatasetFile:
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


def _valid_fps(fps: Any) -> float | None:
    """``fps`` as a float if it is a frame rate (finite, > 0, at most :data:`MAX_FPS`), else None."""
    if isinstance(fps, (bool, np.bool_, str, bytes)):
        return None
    try:
        v = float(fps)
    except (TypeError, ValueError, OverflowError):
        return None
    return v if math.isfinite(v) and 0 < v <= MAX_FPS else None


def _valid_canvas(canvas: Any) -> tuple[int, int] | None:
    """``canvas`` as ``(width, height)`` if it is two whole numbers from 1 to :data:`MAX_CANVAS_SIDE`, else None."""
    try:
        a = np.asarray(canvas, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if a.shape != (2,) or not np.isfinite(a).all() or (a != np.round(a)).any() or (a < 1).any() \
            or (a > MAX_CANVAS_SIDE).any():
        return None
    return int(a[0]), int(a[1])


def _recording_attrs(layout: Layout, domain: str, source: str, fps: float | None,
                     extra_attrs: dict[str, Any] | None) -> dict[str, Any]:
    attrs: dict[str, Any] = dict(format=RECORDING_FORMAT, version=FORMAT_VERSION, layout=layout.name,
                                 domain=check_domain(domain), source=str(source), created_by=_CREATED_BY)
    fps = _valid_fps(fps) if fps is not None else None
    if fps is not None:  # a frame rate that is none (0, inf, NaN) is not stored: readers use the timestamps
        attrs["fps"] = fps
    for k, v in (extra_attrs or {}).items():
        if k in _RESERVED:
            raise ValueError(f"extra attribute {k!r} is reserved")
        if k == "canvas_size" and v is not None:
            v = _valid_canvas(v)  # a canvas without area is not stored
            v = None if v is None else list(v)
        if v is not None:  # HDF5 has no null attribute: None means "absent"
            attrs[k] = v
    return attrs


class RecordingWriter(_H5Output):
    """Append frames one at a time to a recording file; use as a context manager.

    The output is checked at once (:class:`~cognn.atomic.OutputError`: a folder, a device, a missing folder, one of
    ``inputs``); the file is created under a unique temporary name at the first :meth:`append` or :meth:`add_event`
    (or by :meth:`close`), with resizable datasets, and renamed to ``path`` by :meth:`close` (or a clean ``with``
    exit); :meth:`abort` or an exception inside ``with`` deletes it. A write failure raises one ``OutputError``.
    An ``fps`` that is not a frame rate, or a ``canvas_size`` without area, is not stored.
    """

    def __init__(self, path: str | Path, layout: str | Layout, domain: str, num_persons: int = 2, *,
                 source: str = "", fps: float | None = None, extra_attrs: dict[str, Any] | None = None,
                 flush_every: int = 30, inputs: Sequence[str | os.PathLike] = (), what: str = "recording") -> None:
        super().__init__(path, what, inputs)
        self.layout = get_layout(layout)
        if not 1 <= int(num_persons) <= MAX_PERSONS:
            raise ValueError(f"num_persons must be 1 to {MAX_PERSONS}, got {num_persons}")
        self.frame_shape = (3, self.layout.num_joints, int(num_persons))
        self.attrs = _recording_attrs(self.layout, domain, source, fps, extra_attrs)
        self.flush_every = flush_every
        self.count = 0
        self._events = 0
        self._last_t = -np.inf
        self._buf: list[np.ndarray] = []
        self._buf_t: list[float] = []
        self._event_texts: list[str] = []

    def _layout_file(self, f: h5py.File) -> None:
        _set_attrs(f, self.attrs)
        f.create_dataset("skeleton", shape=(0,) + self.frame_shape, maxshape=(None,) + self.frame_shape,
                         dtype=np.float32, chunks=(64,) + self.frame_shape)
        f.create_dataset("timestamp", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def append(self, frame: np.ndarray, timestamp: float) -> None:
        """Add one frame ``(3, V, M)`` taken at ``timestamp`` seconds (non-decreasing).

        Frames are buffered and written in blocks of ``flush_every`` (and by :meth:`flush` / :meth:`close`). Joints
        with non-finite values are stored as zeros.
        """
        if self._closed:
            raise RuntimeError("RecordingWriter is closed")
        frame = np.asarray(frame, np.float32)
        if frame.shape != self.frame_shape:
            raise ValueError(f"frame has shape {frame.shape}, this recording stores {self.frame_shape}")
        timestamp = float(timestamp)
        if not np.isfinite(timestamp) or timestamp < self._last_t:
            raise ValueError(f"timestamp {timestamp} is not finite or goes back in time (last {self._last_t})")
        if abs(timestamp) > MAX_TIMESTAMP:
            raise ValueError(f"timestamp {timestamp} is beyond {MAX_TIMESTAMP:g} seconds")
        self.open()
        frame, _ = zero_bad_joints(frame, channel_axis=0)
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
        with self._writing():
            n0, k = f["skeleton"].shape[0], len(self._buf)
            f["skeleton"].resize(n0 + k, axis=0)
            f["timestamp"].resize(n0 + k, axis=0)
            f["skeleton"][n0:] = np.stack(self._buf)
            f["timestamp"][n0:] = np.asarray(self._buf_t)
            self._buf.clear()
            self._buf_t.clear()
            f.flush()

    def set_fps(self, fps: float | None) -> None:
        """Declare another frame rate (None, or one that is not a rate: none, readers use the timestamps), e.g. when
        the frames appended turned out to be every other one of the source's."""
        fps = _valid_fps(fps) if fps is not None else None
        if fps is None:
            self.attrs.pop("fps", None)
        else:
            self.attrs["fps"] = fps
        if self._file is not None:
            with self._writing():
                if fps is None:
                    self._file.attrs.pop("fps", None)
                else:
                    self._file.attrs["fps"] = _fixed_attr(fps)

    def add_event(self, event: Any) -> None:
        """Record an event (any JSON-serialisable value, e.g. ``{"t": 1.2, "label": "wave"}``)."""
        if self._closed:
            raise RuntimeError("RecordingWriter is closed")
        text = json.dumps(_json_safe(event), allow_nan=False)
        self.open()
        self._event_texts.append(text)  # written at the end, as fixed-length strings
        self._events += 1

    def close(self) -> Path:
        """Write what is buffered, close and rename to ``path``; returns ``path``."""
        if self._closed:
            return self.path
        self.open()
        self.flush()
        assert self._file is not None
        with self._writing():
            self._file.create_dataset("events", data=_fixed_strings(self._event_texts))
        return self._finish()


def save_recording(path: str | Path, skeleton: np.ndarray, timestamps: np.ndarray, layout: str | Layout,
                   domain: str, source: str = "", fps: float | None = None, events: Sequence[Any] | None = None,
                   extra_attrs: dict[str, Any] | None = None, inputs: Sequence[str | os.PathLike] = ()) -> Path:
    """Write a whole recording ``skeleton`` ``(T, 3, V, M)`` with ``timestamps`` ``(T,)`` atomically.

    ``extra_attrs`` become file attributes (e.g. ``{"persons": 1, "canvas_size": (1920, 1080)}``; None values are
    left out); ``events`` are stored as JSON documents. Joints with non-finite values are stored as zeros.
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
    if len(timestamps) and np.abs(timestamps).max() > MAX_TIMESTAMP:
        raise ValueError(f"timestamps must be within {MAX_TIMESTAMP:g} seconds")
    skeleton, _ = zero_bad_joints(skeleton, channel_axis=1)
    with RecordingWriter(path, lay, domain, skeleton.shape[3], source=source, fps=fps, extra_attrs=extra_attrs,
                         inputs=inputs) as w:
        w.open()
        f = w._file
        assert f is not None
        t = skeleton.shape[0]
        with w._writing():
            f["skeleton"].resize(t, axis=0)
            f["timestamp"].resize(t, axis=0)
            if t:
                f["skeleton"][:] = skeleton
                f["timestamp"][:] = timestamps
        w.count = t
        w._last_t = float(timestamps[-1]) if t else -np.inf
        for e in events or ():
            w.add_event(e)
    return w.path


def load_recording(path: str | Path) -> Recording:
    """Read and validate a ``cognn-recording`` file.

    Refused with one :class:`InputFileError`: anything :func:`open_h5` refuses, a skeleton that does not match the
    layout or is larger than :data:`MAX_LOAD_BYTES`, timestamps that are not finite, go back in time or lie beyond
    :data:`MAX_TIMESTAMP`, events that are not JSON. Replaced, with an :class:`~cognn.data.files.InputValueWarning`:
    joints with non-finite or absurd values (zeroed), an ``fps`` that is not a frame rate (dropped: timestamps
    give the rate), a ``canvas_size`` without area or a ``persons`` that is not a count per frame (dropped).
    """
    return _guard(path, _load_recording)


def _load_recording(p: Path) -> Recording:
    with open_h5(p, RECORDING_FORMAT) as f:
        lay, domain = _layout_attr(f, p)
        skel = _check_dataset(f, p, "skeleton", "f", 4)
        ts = _check_dataset(f, p, "timestamp", "f", 1)
        t = skel.shape[0]
        if skel.shape[1] != 3 or skel.shape[2] != lay.num_joints:
            raise InputFileError(p, f"shape {skel.shape} does not match (T, 3, {lay.num_joints}, M) of layout "
                                    f"{lay.name!r}", field="skeleton")
        if not 1 <= skel.shape[3] <= MAX_PERSONS:
            raise InputFileError(p, f"{skel.shape[3]} person slots; cognn reads 1 to {MAX_PERSONS}",
                                 field="skeleton")
        if ts.shape != (t,):
            raise InputFileError(p, f"{ts.shape[0]} timestamps for {t} frames", field="timestamp")
        timestamps = ts[()].astype(np.float64)
        if not np.isfinite(timestamps).all() or (np.diff(timestamps) < 0).any():
            raise InputFileError(p, "timestamps must be finite and non-decreasing", field="timestamp")
        if t and np.abs(timestamps).max() > MAX_TIMESTAMP:
            raise InputFileError(p, f"timestamps beyond {MAX_TIMESTAMP:g} seconds are not seconds from a start",
                                 field="timestamp")
        events: list[Any] = []
        if "events" in f.keys():
            ev = _check_dataset(f, p, "events", "S", 1, max_len=MAX_EVENTS)
            for i, e in enumerate(ev[()]):
                try:
                    events.append(_json_safe(json.loads(_attr_str(e))))
                except (ValueError, RecursionError):
                    raise InputFileError(p, "not a JSON document", field=f"events[{i}]") from None
        attrs = _all_attrs(f, p)
        skeleton = np.empty(skel.shape, np.float32)
        bad = 0
        for start in range(0, t, _READ_FRAMES):  # in chunks: bounded scratch memory, Ctrl-C between them
            part = skel[start:start + _READ_FRAMES].astype(np.float32, copy=False)
            part, n_bad = zero_bad_joints(part, channel_axis=1)
            skeleton[start:start + len(part)] = part
            bad += n_bad
    warn_zeroed(p, bad, stacklevel=6)  # the caller of load_recording
    fps = attrs.pop("fps", None)
    if fps is not None and _valid_fps(fps) is None:
        warn_values(p, f"fps {_brief(fps)} is not a frame rate (a number from 0 to {MAX_FPS:g}); it is ignored and "
                       "the timestamps give the rate", stacklevel=5)
        fps = None
    extra = {k: v for k, v in attrs.items() if k not in _RESERVED}
    if "canvas_size" in extra:
        canvas = _valid_canvas(extra["canvas_size"])
        if canvas is None:
            warn_values(p, f"canvas_size {_brief(extra['canvas_size'])} is not a width and height from 1 to "
                           f"{MAX_CANVAS_SIDE} pixels; it is ignored", stacklevel=5)
            del extra["canvas_size"]
    if "persons" in extra and not _valid_persons(extra["persons"], t):
        warn_values(p, f"persons {_brief(extra['persons'])} is not a count of persons (per frame); it is ignored",
                    stacklevel=5)
        del extra["persons"]
    return Recording(skeleton=np.asarray(skeleton, np.float32), timestamps=timestamps, layout=lay.name,
                     domain=domain, fps=None if fps is None else float(fps), source=str(attrs.get("source", "")),
                     events=events, attrs=extra)


def _json_safe(v: Any) -> Any:
    """``v`` with every non-finite float (NaN, inf: not JSON) replaced by None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def _brief(v: Any) -> str:
    text = repr(v.tolist() if isinstance(v, np.ndarray) else v)
    return text if len(text) <= 40 else text[:37] + "..."


def _valid_persons(v: Any, t: int) -> bool:
    try:
        a = np.asarray(v)
    except (TypeError, ValueError):
        return False
    if a.dtype.kind not in "iuf" or a.ndim > 1 or (a.ndim == 1 and a.shape != (t,)):
        return False
    return bool(np.isfinite(a).all() and (a >= 0).all() and (a <= 10_000).all() and (a == np.round(a)).all())
