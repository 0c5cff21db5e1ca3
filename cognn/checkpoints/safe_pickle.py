"""Read PyTorch files (zip and legacy formats) with a restricted unpickler that never runs code from the file.

``torch.load(weights_only=True)`` refuses PyTorch-Lightning 1.x checkpoints (their ``callbacks`` dict is keyed by a
class object) and a plain ``torch.load`` would execute whatever the pickle asks for. :func:`load_torch_file` sits in
between:

* tensors, storages, dtypes and plain containers are rebuilt by cognn's own small functions (not torch's), from raw
  bytes read out of the file;
* any other class or function the pickle names becomes an inert placeholder: it can be stored, used as a dict key,
  given state or items, and it does nothing. Placeholders never stand in for tensors, so a state dict that needs one
  is reported as broken by the caller;
* a pickle that *calls* a function outside that set (the ``REDUCE`` opcode, how every code-running pickle works, e.g.
  ``os.system``, ``eval``, ``subprocess.Popen``) is refused with :class:`UnsafePickleError` before anything runs.
  Calls into the training frameworks that write checkpoints (torch, numpy, Lightning) only yield placeholders;
* quantized tensors (``torch._utils._rebuild_qtensor``: int8/uint8 storage, per-tensor or per-channel affine) become
  inert :class:`~cognn.checkpoints.quantized.QuantizedTensor` records, never torch quantized tensors;
* what the pickle built is bounded before anyone looks at it: containers shared through the memo and nested into
  each other can describe an object tree far larger than the file (a few hundred bytes can stand for 2^30 lists), so
  the tree is walked once, counting every container and item as often as it is reachable, and refused
  (:class:`PickleBombError`) beyond :data:`MAX_OBJECTS` or :data:`MAX_DEPTH`. Nothing here calls ``repr`` or ``str``
  on what the file holds;
* work is bounded while the pickle is read, not only after: the unpickler is Python's own pure-Python one (so Ctrl-C
  stops it at once), runs at most :data:`MAX_OPCODES` instructions, and checks every object before it is hashed or
  compared (a dict key, a set item, the arguments of ``set``/``OrderedDict``): an object of more than
  :data:`MAX_KEY_OBJECTS` parts or :data:`MAX_DEPTH` levels is refused (a tuple doubled 64 times hashes for ages, one
  nested a million deep overflows the C stack). Storage keys must be short names, never converted from objects;
* the storages a file declares must fit in it: their sizes together at most the file's size, zip records neither
  overlapping nor outside the file, checked before anything is allocated.
"""
from __future__ import annotations

import collections
import io
import itertools
import pickle
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .quantized import QDTYPES, QuantizedTensor

__all__ = ["load_torch_file", "UnsafePickleError", "PickleBombError", "Placeholder", "LEGACY_MAGIC",
           "is_placeholder", "MAX_OBJECTS", "MAX_DEPTH", "MAX_OPCODES", "MAX_KEY_OBJECTS", "MAX_HASH_WORK",
           "MAX_PICKLE_BYTES"]

#: first bytes of a legacy (non-zip) torch file: PROTO 2, LONG1 of torch's magic number 0x1950a86a20f9469cfc6c
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_LEGACY_PROTOCOL = 1001
#: most containers and items a pickle may expand to (each counted as often as it is reachable)
MAX_OBJECTS = 200_000
#: deepest nesting of containers a pickle may build
MAX_DEPTH = 40
#: most pickle instructions one load may run (a large Lightning checkpoint needs some 10^5)
MAX_OPCODES = 2_000_000
#: most parts (containers and items) an object may have to be used as a dict key or set item (hashed, compared)
MAX_KEY_OBJECTS = 10_000
#: most parts hashed in one load, all keys together (a memoized key of 10 000 parts used a million times would
#: otherwise hash 10^10 parts)
MAX_HASH_WORK = 2_000_000
#: largest pickle record (``data.pkl``) read from a zip checkpoint
MAX_PICKLE_BYTES = 256 * 2**20
#: longest storage key (PyTorch names storages "0", "1", ... or by a number of some 15 digits)
_MAX_KEY_CHARS = 64

#: module roots whose functions may be *called* by a pickle; the call only makes an inert placeholder
_TOLERATED_CALLS = frozenset({"torch", "numpy", "pytorch_lightning", "lightning", "lightning_fabric", "torchmetrics",
                              "ride"})

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64, "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8, "QInt8Storage": torch.int8, "QUInt8Storage": torch.uint8,
}
#: torch quantization schemes a pickle may name (as quantizer parameters of a quantized tensor)
_QSCHEMES = ("per_tensor_affine", "per_channel_affine", "per_channel_affine_float_qparams", "per_tensor_symmetric",
             "per_channel_symmetric")


class UnsafePickleError(Exception):
    """The pickle asks to call a function while loading (it would run code)."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname
        super().__init__(f"the file would run code while loading (its pickle calls {qualname}); "
                         "cognn never executes code from checkpoint files")


class PickleBombError(UnsafePickleError):
    """The pickle builds an object tree too large or too deep to inspect (shared containers nested into each other)."""

    def __init__(self, what: str) -> None:
        self.qualname = ""
        Exception.__init__(self, f"its pickle {what}; a checkpoint never needs that (a 'billion laughs' file?)")


class Placeholder:
    """Stand-in for a class or function named in a pickle; instances accept state and items and do nothing."""

    qualname = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # reached only when the pickle *calls* the global (REDUCE / INST), never for NEWOBJ
        if type(self).qualname.split(".", 1)[0] not in _TOLERATED_CALLS:
            raise UnsafePickleError(type(self).qualname)

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).qualname}>"


def is_placeholder(obj: Any) -> bool:
    """True for a placeholder class or instance made by the restricted unpickler."""
    return isinstance(obj, Placeholder) or (isinstance(obj, type) and issubclass(obj, Placeholder))


def _placeholder_class(module: str, name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (Placeholder,), {"qualname": f"{module}.{name}", "__module__": __name__})


class _QScheme:
    """A torch quantization scheme named by the pickle (only its name is kept)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class _Storage:
    """A storage: a flat tensor of its dtype (filled later for legacy files)."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data


def _as_storage(obj: Any) -> _Storage:
    if not isinstance(obj, _Storage):
        raise pickle.UnpicklingError(f"a tensor refers to a {type(obj).__name__} instead of a storage")
    return obj


def _view(flat: torch.Tensor, offset: int, size: Any, stride: Any) -> torch.Tensor:
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or min(size + stride + (int(offset),), default=0) < 0:
        raise pickle.UnpicklingError(f"bad tensor geometry: size {size}, stride {stride}, offset {offset}")
    return torch.as_strided(flat, size, stride, int(offset))


def _rebuild_tensor(storage: Any, storage_offset: int, size: Any, stride: Any, *_ignored: Any) -> torch.Tensor:
    return _view(_as_storage(storage).data, storage_offset, size, stride)


def _rebuild_tensor_v3(storage: Any, storage_offset: int, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, dtype: Any, metadata: Any = None) -> torch.Tensor:
    if not isinstance(dtype, torch.dtype):
        raise pickle.UnpicklingError(f"a tensor's dtype is a {type(dtype).__name__}")
    flat = _as_storage(storage).data
    if flat.dtype != dtype:
        flat = flat.view(torch.uint8).view(dtype)
    return _view(flat, storage_offset, size, stride)


def _rebuild_parameter(data: Any, *_ignored: Any) -> torch.Tensor:
    if type(data) is not torch.Tensor:
        raise pickle.UnpicklingError("a parameter wraps something that is not a tensor")
    return data


def _rebuild_qtensor(storage: Any, storage_offset: int, size: Any, stride: Any, quantizer_params: Any,
                     *_ignored: Any) -> QuantizedTensor:
    """A quantized tensor as an inert record: integer values, scales, zero points, axis and scheme."""
    flat = _as_storage(storage).data
    qtype = {dt: name for name, dt in QDTYPES.items()}.get(flat.dtype)
    if qtype is None:
        raise pickle.UnpicklingError(f"quantized tensor of storage type {flat.dtype} (cognn reads qint8 and quint8)")
    if not isinstance(quantizer_params, tuple) or not quantizer_params or \
            not isinstance(quantizer_params[0], _QScheme):
        raise pickle.UnpicklingError("a quantized tensor without quantizer parameters")
    scheme, params = quantizer_params[0].name, quantizer_params[1:]
    values = _view(flat, storage_offset, size, stride)
    try:
        if scheme == "per_tensor_affine" and len(params) == 2 and isinstance(params[0], float) \
                and isinstance(params[1], int):
            return QuantizedTensor(values, torch.tensor([params[0]], dtype=torch.float64),
                                   torch.tensor([params[1]], dtype=torch.int64), None, scheme, qtype)
        if scheme == "per_channel_affine" and len(params) == 3 and type(params[0]) is torch.Tensor \
                and type(params[1]) is torch.Tensor and isinstance(params[2], int):
            return QuantizedTensor(values, params[0].to(torch.float64), params[1].to(torch.int64), params[2], scheme,
                                   qtype)
    except (ValueError, RuntimeError) as e:
        raise pickle.UnpicklingError(f"a quantized tensor is inconsistent ({e})") from None
    raise pickle.UnpicklingError(f"quantization scheme {scheme} with these parameters is not supported "
                                 "(cognn reads per-tensor and per-channel affine)")


def _encode(obj: Any, encoding: str = "utf-8") -> bytes:
    # protocol-2 pickles store bytes as _codecs.encode(str, "latin1")
    if not isinstance(obj, str) or encoding.lower() not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError("unexpected arguments to _codecs.encode")
    return obj.encode(encoding)


def _plain_dict(*_args: Any) -> dict:
    return {}


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    # protocol 0/1 form of object construction: only placeholders may be made this way
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        return object.__new__(cls)
    raise pickle.UnpicklingError("refusing to reconstruct an object that is not a placeholder")




#: the callables a pickle may call that hash their arguments (checked first, against the load's hashing budget)
_HASHING_CALLS = (set, frozenset, collections.OrderedDict, collections.Counter)


def _storage_key(key: Any) -> str:
    """A storage's key as text: a short name or number, never a container (``str`` of one can be exponential)."""
    if type(key) is int and abs(key) < 10 ** 30:
        return str(key)
    if type(key) is str and len(key) <= _MAX_KEY_CHARS:
        return key
    raise pickle.UnpicklingError(f"a storage key is a {type(key).__name__}, not a short name")


def _index(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value < 2 ** 48:
        raise pickle.UnpicklingError(f"a storage's {what} is not a sensible whole number (a {type(value).__name__})")
    return value


class _BoundedReader:
    """A file read from its current position up to ``end``: a length the pickle declares never reads (allocates)
    more than the file holds."""

    def __init__(self, f: Any, end: int) -> None:
        self._f = f
        self._end = end

    def _left(self) -> int:
        return max(0, self._end - self._f.tell())

    def read(self, n: int = -1) -> bytes:
        left = self._left()
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        return self._f.readline(min(self._left(), 1 << 20))


class _Budget:
    """What the pickles of one file have used so far: instructions run, parts hashed."""

    def __init__(self) -> None:
        self.ops = 0
        self.hashed = 0


_BaseUnpickler: Any = pickle._Unpickler


class RestrictedUnpickler(_BaseUnpickler):
    """The pure-Python ``pickle`` unpickler whose globals come from a fixed table or are inert placeholders, that runs
    at most :data:`MAX_OPCODES` instructions and hashes only bounded objects.

    ``storages(pid)`` resolves the persistent ids of tensor storages (zip or legacy layout).
    """

    dispatch: dict[int, Any] = {}

    def __init__(self, file: Any, storages: Any, budget: _Budget | None = None) -> None:
        super().__init__(file)
        self._storages = storages
        self.placeholders: dict[str, type] = {}
        #: instructions run and parts hashed, shared by every pickle of one file (a legacy file holds five)
        self._budget = budget if budget is not None else _Budget()

    def _count(self) -> None:
        self._budget.ops += 1
        if self._budget.ops > MAX_OPCODES:
            raise PickleBombError(f"runs more than {MAX_OPCODES:,} instructions")

    def _charge(self, parts: int) -> None:
        self._budget.hashed += parts
        if self._budget.hashed > MAX_HASH_WORK:
            raise PickleBombError(f"hashes more than {MAX_HASH_WORK:,} objects as keys")

    def _hashable(self, obj: Any) -> None:
        """Refuse an object about to be hashed or compared (a dict key, a set item) unless it is small and shallow,
        and count its parts against the load's hashing budget."""
        if type(obj) in (str, bytes, int, float, bool, type(None)):
            self._charge(1)
            return
        self._charge(check_expansion(obj, MAX_KEY_OBJECTS, MAX_DEPTH, what=f"uses an object of more than "
                                     f"{MAX_KEY_OBJECTS:,} parts or {MAX_DEPTH} levels as a key"))

    def _load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if any(func is f for f in _HASHING_CALLS):  # set(...), OrderedDict(...): the arguments may all be hashed
            self._charge(check_expansion(args))
        self.stack[-1] = func(*args)

    def _load_setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        for i in range(0, len(items) - 1, 2):
            if not isinstance(target, Placeholder):
                self._hashable(items[i])
            target[items[i]] = items[i + 1]

    def _load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, Placeholder):
            self._hashable(key)
        target[key] = value

    def _load_dict(self) -> None:
        items = self.pop_mark()
        for k in items[::2]:
            self._hashable(k)
        self.append({items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)})

    def _load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        for item in items:
            self._hashable(item)
        if isinstance(target, set):
            target.update(items)
        else:
            for item in items:
                target.add(item)

    def _load_frozenset(self) -> None:
        items = self.pop_mark()
        for item in items:
            self._hashable(item)
        self.append(frozenset(items))

    def _load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        for part in (state, slotstate):
            if not part:
                continue
            if not isinstance(part, dict) or not all(type(k) is str for k in part):
                raise pickle.UnpicklingError(f"gives a {type(inst).__name__} state that is not a map of names")
            try:
                for k, v in part.items():
                    setattr(inst, k, v)
            except (AttributeError, TypeError):
                raise pickle.UnpicklingError(f"gives state to a {type(inst).__name__}, which takes none") from None


    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _QSCHEMES:
            return _QScheme(name)
        if module == "torch" and isinstance(vars(torch).get(name), torch.dtype):  # no lazy imports
            return vars(torch)[name]
        key = f"{module}.{name}"
        if key not in self.placeholders:
            self.placeholders[key] = _placeholder_class(module, name)
        return self.placeholders[key]

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"unexpected persistent id (a {type(pid).__name__})")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":  # legacy whole-module pickles name their source: keep an inert marker
            return _placeholder_class("torch.nn", "Module")
        if kind != "storage":
            raise pickle.UnpicklingError("unexpected persistent id kind")
        if not isinstance(pid[1], _StorageType):
            raise pickle.UnpicklingError("storage of unknown type")
        return self._storages(pid)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._utils", "_rebuild_qtensor"): _rebuild_qtensor,
    ("torch", "Size"): torch.Size,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("collections", "defaultdict"): _plain_dict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): _encode,
    ("copyreg", "_reconstructor"): _reconstructor,
}


def _with_count(fn: Any) -> Any:
    def counted(self: RestrictedUnpickler) -> Any:
        self._count()
        return fn(self)
    return counted


_R = RestrictedUnpickler
_OVERRIDES = {pickle.SETITEMS[0]: _R._load_setitems, pickle.SETITEM[0]: _R._load_setitem,
              pickle.DICT[0]: _R._load_dict, pickle.ADDITEMS[0]: _R._load_additems,
              pickle.FROZENSET[0]: _R._load_frozenset, pickle.BUILD[0]: _R._load_build,
              pickle.REDUCE[0]: _R._load_reduce}
_R.dispatch = {code: _with_count(_OVERRIDES.get(code, fn)) for code, fn in _BaseUnpickler.dispatch.items()}


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _from_bytes(raw: bytes, dtype: torch.dtype, big_endian: bool = False) -> torch.Tensor:
    es = _element_size(dtype)
    if len(raw) % es:
        raise pickle.UnpicklingError(f"storage of {len(raw)} bytes is not a whole number of {dtype} elements")
    if not raw:
        return torch.empty(0, dtype=dtype)
    flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    if big_endian and es > 1:
        flat = flat.view(-1, es).flip(1).reshape(-1)
    return flat.view(dtype)


def _record_spans(zf: zipfile.ZipFile, size: int) -> None:
    """Refuse records that overlap each other or reach past the file (from their local headers), so that the
    records together never hold more bytes than the file: a crafted zip can point hundreds of records at one
    region and make each read allocate it again."""
    spans = []
    fp = zf.fp
    assert fp is not None
    for info in zf.infolist():
        fp.seek(info.header_offset)
        local = fp.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise pickle.UnpicklingError(f"record {info.filename[:60]} has no local header")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset
        end = start + 30 + name_len + extra_len + info.compress_size
        if info.file_size != info.compress_size or end > size:
            raise pickle.UnpicklingError(f"record {info.filename[:60]} reaches past the end of the file")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise pickle.UnpicklingError("records overlap each other (a crafted file: each read would allocate the "
                                         "same bytes again)")


def _load_zip(path: Path) -> tuple[Any, RestrictedUnpickler]:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise pickle.UnpicklingError("no data.pkl record: a zip file but not a PyTorch checkpoint")
        if any(info.compress_type != zipfile.ZIP_STORED for info in zf.infolist()):
            raise pickle.UnpicklingError("compressed records: PyTorch writes its files uncompressed")
        _record_spans(zf, size)
        prefix = pkl[0][: -len("data.pkl")]
        big = prefix + "byteorder" in names and zf.read(prefix + "byteorder")[:16].strip() == b"big"
        cache: dict[str, _Storage] = {}

        def storages(pid: tuple) -> _Storage:
            if len(pid) != 5:
                raise pickle.UnpicklingError(f"unexpected storage id of {len(pid)} fields")
            _, stype, key, _location, numel = pid
            key = _storage_key(key)
            numel = _index(numel, "element count")
            if key not in cache:
                record = f"{prefix}data/{key}"
                if record not in names:
                    raise pickle.UnpicklingError(f"storage record {record} is missing")
                data = _from_bytes(zf.read(record), stype.dtype, big)
                if data.numel() < numel:
                    raise pickle.UnpicklingError(f"storage {key} holds {data.numel()} elements, {numel} expected")
                cache[key] = _Storage(data)
            return cache[key]

        if zf.getinfo(pkl[0]).file_size > MAX_PICKLE_BYTES:
            raise pickle.UnpicklingError(f"its data.pkl record is larger than {MAX_PICKLE_BYTES >> 20} MB")
        with zf.open(pkl[0]) as f:
            unpickler = RestrictedUnpickler(io.BytesIO(f.read(MAX_PICKLE_BYTES + 1)), storages)
            return unpickler.load(), unpickler


def _load_legacy(path: Path) -> tuple[Any, RestrictedUnpickler]:
    size = path.stat().st_size
    with open(path, "rb") as raw_file:
        f = _BoundedReader(raw_file, size)

        budget = _Budget()

        def header() -> Any:
            return RestrictedUnpickler(f, lambda pid: None, budget).load()

        if header() != int.from_bytes(LEGACY_MAGIC[4:], "little"):
            raise pickle.UnpicklingError("bad magic number")
        if header() != _LEGACY_PROTOCOL:
            raise pickle.UnpicklingError("unknown legacy protocol version")
        header()  # sys_info: byte order and type sizes of the writer
        roots: dict[str, _Storage] = {}
        views: dict[str, _Storage] = {}
        declared = 0

        def storages(pid: tuple) -> _Storage:
            nonlocal declared
            if len(pid) != 6:
                raise pickle.UnpicklingError(f"unexpected storage id of {len(pid)} fields")
            _, stype, key, _location, numel, view = pid
            key = _storage_key(key)
            if key not in roots:
                nbytes = _index(numel, "element count") * _element_size(stype.dtype)
                declared += nbytes
                if declared > size:  # every storage's bytes follow in the file: together they cannot be larger
                    raise pickle.UnpicklingError(f"its storages declare {declared:,} bytes or more, more than the "
                                                 f"file's {size:,}")
                roots[key] = _Storage(torch.zeros(numel, dtype=stype.dtype))
            root = roots[key]
            if view is None:
                return root
            if not isinstance(view, tuple) or len(view) != 3:
                raise pickle.UnpicklingError("a storage view is not (key, offset, size)")
            vkey, offset, vsize = _storage_key(view[0]), _index(view[1], "offset"), _index(view[2], "size")
            if vkey not in views:
                views[vkey] = _Storage(root.data[offset: offset + vsize])
            return views[vkey]

        unpickler = RestrictedUnpickler(f, storages, budget)
        result = unpickler.load()
        keys = RestrictedUnpickler(f, lambda pid: None, budget).load()
        if not isinstance(keys, list):
            raise pickle.UnpicklingError("the storage key list is missing")
        for key in keys:
            key = _storage_key(key)
            if key not in roots:
                raise pickle.UnpicklingError(f"storage {key} is listed but never used")
            flat = roots[key].data
            (count,) = struct.unpack("<q", f.read(8))
            es = _element_size(flat.dtype)
            if count != flat.numel():
                raise pickle.UnpicklingError(f"storage {key} is truncated")
            raw = f.read(count * es)
            if len(raw) != count * es:
                raise pickle.UnpicklingError(f"storage {key} is truncated")
            flat.copy_(_from_bytes(raw, flat.dtype))
        return result, unpickler


_CONTAINERS = (dict, list, tuple, set, frozenset)


def check_expansion(obj: Any, max_objects: int = MAX_OBJECTS, max_depth: int = MAX_DEPTH, *,
                    what: str | None = None) -> int:
    """Raise :class:`PickleBombError` if ``obj`` expands (shared containers counted every time they are reached) to
    more than ``max_objects`` containers and items, or nests containers deeper than ``max_depth``; else return the
    count.

    Work and memory are bounded by ``max_objects`` and ``max_depth`` (containers are walked with one iterator per
    level, never copied onto a stack whole); nothing is hashed or converted to text.
    """
    count = 1
    if not isinstance(obj, _CONTAINERS):
        return count
    levels: list[Iterator[Any]] = [_children(obj)]
    while levels:
        item = next(levels[-1], _END)
        if item is _END:
            levels.pop()
            continue
        count += 1
        if count > max_objects:
            raise PickleBombError(what or f"expands to more than {max_objects:,} objects")
        if isinstance(item, _CONTAINERS):
            if len(levels) >= max_depth:
                raise PickleBombError(what or f"nests containers more than {max_depth} levels deep")
            levels.append(_children(item))
    return count


_END = object()


def _children(item: Any) -> Iterator[Any]:
    if isinstance(item, dict):
        return itertools.chain.from_iterable(item.items())
    return iter(item)


def load_torch_file(path: str | Path, kind: str) -> tuple[Any, list[str]]:
    """Unpickle a torch file (``kind`` ``"zip"`` or ``"legacy"``) without running its code.

    Returns the object and the names of the classes/functions that were replaced by placeholders. Raises
    :class:`UnsafePickleError` for a pickle that calls a function (:class:`PickleBombError` for one that expands
    beyond the bounds of :func:`check_expansion`), and ``pickle.UnpicklingError`` / ``OSError`` /
    ``zipfile.BadZipFile`` / ``RuntimeError`` / ``EOFError`` for a broken file (the caller words the message).
    """
    path = Path(path)
    if kind not in ("zip", "legacy"):
        raise ValueError(f"kind must be 'zip' or 'legacy', not {kind!r}")
    try:
        obj, unpickler = _load_zip(path) if kind == "zip" else _load_legacy(path)
    except (KeyError, IndexError, TypeError, AttributeError, struct.error) as e:
        # the message of these may hold a repr of what the file built: never shown
        raise pickle.UnpicklingError(f"a malformed pickle ({type(e).__name__})") from None
    check_expansion(obj)
    return obj, sorted(unpickler.placeholders)
