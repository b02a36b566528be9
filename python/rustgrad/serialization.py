"""save/load in PyTorch's zip checkpoint format, and the safetensors format.

``save`` writes exactly what ``torch.save`` writes (a zip archive holding ``data.pkl``, one raw
little-endian file per storage, ``byteorder`` and ``version``), so ``torch.load(path,
weights_only=True)`` reads our checkpoints and we read PyTorch's. Views keep their storage offset
and strides and tensors sharing a storage share one record, as in PyTorch; the record holds the
part of the storage the saved tensors can reach (PyTorch writes the whole storage).

``load`` follows ``torch.load``'s rules (PyTorch 2.6+). By default (``weights_only=True``) it never
executes code from the file: its unpickler (``rustgrad._weights_only``) resolves only a fixed
allow-list of globals (containers, the torch tensor/storage rebuild functions and NumPy's array,
dtype and scalar reconstruction functions, all mapped to our own checked implementations) plus
what the user allow-lists with ``add_safe_globals`` / ``safe_globals``. ``weights_only=False`` is a
full unpickler for trusted files (whole modules); the FORCE environment variables work as in
PyTorch. Either way it never trusts the file's tensor data: every storage record's size is checked against
what ``data.pkl`` declares, and every tensor's dtype, sizes, strides and storage offset are checked
(with exact integer arithmetic) against its storage before a tensor is built, so a corrupt or
malicious file raises ``RuntimeError`` naming the record and the problem. torch is never imported.
"""

import collections
import io
import json
import math
import os
import pickle
import pickletools
import re
import secrets
import stat
import struct
import warnings
import zipfile

import numpy as np

import rustgrad
from rustgrad._weights_only import (
    WeightsOnlyUnpickler,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    globals_in_pickle,
    numpy_default_globals,
    safe_globals,
    user_allowed_globals,
    weights_only_message,
)

try:  # advisory locks mark a temporary file as "a save is writing me" (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]
# Also public in this module, as in torch.serialization (not re-exported at the top level):
# add_safe_globals, get_safe_globals, clear_safe_globals, safe_globals,
# get_unsafe_globals_in_checkpoint.
_PUBLIC_HERE = (add_safe_globals, get_safe_globals, clear_safe_globals, safe_globals)

# -- dtype tables ------------------------------------------------------------------------------
_STORAGE_OF = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
}
# storage class name -> (numpy dtype to read the bytes, numpy dtype of the tensor we build)
_NP_OF_STORAGE = {
    "FloatStorage": ("<f4", "float32"),
    "DoubleStorage": ("<f8", "float64"),
    "LongStorage": ("<i8", "int64"),
    "IntStorage": ("<i4", "int32"),
    "ByteStorage": ("u1", "uint8"),
    "BoolStorage": ("?", "bool"),
    "ShortStorage": ("<i2", "int16"),
    "CharStorage": ("i1", "int8"),
    "HalfStorage": ("<f2", "float16"),
    "BFloat16Storage": ("bf16", "bfloat16"),
}
# Storage types loaded into a different dtype (with a warning); every torch dtype rustgrad has
# now loads as itself.
_LOSSY = {}
_INT64_MAX = 2**63 - 1
_MAX_DIMS = 64  # what the native core (and NumPy) supports


def _itemsize(src):
    return 2 if src == "bf16" else np.dtype(src).itemsize


def _np_name(t):
    return str(t.dtype).replace("torch.", "")


def _tensor_numpy(t):
    """The array whose bytes are ``t``'s storage: bfloat16 (no NumPy dtype) as its uint16 bit
    patterns, taken from the exact float32 widening."""
    if t.dtype == rustgrad.bfloat16:
        return (t.detach().float().numpy().view(np.uint32) >> 16).astype(np.uint16)
    return t.detach().numpy()


def _to_tensor(arr, dst):
    """A tensor of dtype ``dst`` from a ``_decode`` result (bfloat16 arrives as exact float32)."""
    flat = rustgrad.from_numpy(arr)
    return flat.to(rustgrad.bfloat16) if dst == "bfloat16" else flat


def _decode(raw, src, dst):
    """Raw little-endian bytes -> an owned, writable, native-endian array of dtype ``dst``."""
    if src == "bf16":
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    if src == "?":
        # Any nonzero byte is True; never hand the core a bool byte other than 0/1.
        return np.frombuffer(raw, dtype=np.uint8) != 0
    return np.array(np.frombuffer(raw, dtype=src), dtype=dst)


# -- layout checks (shared by the zip and safetensors readers) --------------------------------
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_shape(where, size):
    """``size`` must be a sequence of non-negative int64 values whose element count (and that of
    every prefix, ignoring zeros) fits in int64. Returns (tuple, numel)."""
    if not isinstance(size, (tuple, list)) or not all(_is_int(s) for s in size):
        raise RuntimeError(f"{where}: size must be a tuple of ints, got {size!r}")
    size = tuple(size)
    if len(size) > _MAX_DIMS:
        raise RuntimeError(f"{where}: {len(size)} dimensions (at most {_MAX_DIMS} are supported)")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{where}: negative dimension in size {list(size)}")
    if math.prod(max(s, 1) for s in size) > _INT64_MAX:
        raise RuntimeError(
            f"{where}: size {list(size)} is too large (its number of elements overflows int64)"
        )
    return size, math.prod(size)


def _check_layout(where, size, stride, offset, storage_numel, itemsize):
    """Validate a strided view of a storage of ``storage_numel`` elements, exactly (Python ints):
    PyTorch's setStorage/computeStorageNbytes checks, plus non-negative strides and offset."""
    size, numel = _check_shape(where, size)
    if not isinstance(stride, (tuple, list)) or not all(_is_int(s) for s in stride):
        raise RuntimeError(f"{where}: stride must be a tuple of ints, got {stride!r}")
    stride = tuple(stride)
    if len(stride) != len(size):
        raise RuntimeError(
            f"{where}: size {list(size)} and stride {list(stride)} have different lengths "
            f"({len(size)} vs {len(stride)})"
        )
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{where}: negative stride in {list(stride)} (negative strides are not supported)")
    if any(s * itemsize > _INT64_MAX for s in stride):
        # Even where a dimension of size 0 or 1 makes a stride irrelevant to addressing, a byte
        # stride beyond int64 is nonsense no saver writes, and overflows byte-stride arithmetic.
        raise RuntimeError(f"{where}: stride {list(stride)} times itemsize {itemsize} overflows int64")
    if not _is_int(offset) or not 0 <= offset <= _INT64_MAX:
        raise RuntimeError(f"{where}: invalid storage offset {offset!r}")
    if numel * itemsize > _INT64_MAX:
        raise RuntimeError(f"{where}: storage size calculation overflowed with sizes={list(size)}")
    if numel == 0:
        if offset > storage_numel:
            raise RuntimeError(
                f"{where}: storage offset {offset} is past the end of the storage ({storage_numel} elements)"
            )
        return size, stride
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= storage_numel:
        raise RuntimeError(
            f"{where}: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and itemsize "
            f"{itemsize} requiring a storage size of {(last + 1) * itemsize} are out of bounds for storage "
            f"of size {storage_numel * itemsize}"
        )
    return size, stride


# -- writing -----------------------------------------------------------------------------------
class _Global:
    """Stands for a global (``module.name``) that is pickled by name without importing it."""

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __call__(self, *args):  # pickle requires reduce functions to be callable
        raise RuntimeError("placeholder global")


class _StorageRef:
    def __init__(self, key, storage_name, numel):
        self.key = key
        self.storage_name = storage_name
        self.numel = numel


_REBUILD_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAM = _Global("torch._utils", "_rebuild_parameter")


def _span(t):
    """``(first, end)``: the elements of ``t``'s underlying storage that ``t`` can reach (strides
    are never negative here); an empty tensor reaches nothing and spans ``(offset, offset)``."""
    off = int(t.storage_offset())
    shape = [int(s) for s in t.shape]
    if 0 in shape:
        return off, off
    return off, off + sum((s - 1) * int(st) for s, st in zip(shape, t.stride())) + 1


class _TorchPickler(pickle._Pickler):
    """Pure-Python pickler (protocol 2) that writes torch globals by name and tensors as storages.

    It runs after a planning pass (``_Planner``) that recorded, per underlying storage, the span
    all the object's tensors on it reach; it stores that span once per storage (as one record) and
    every tensor as (record, offset into it, size, stride), like ``torch.save``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, plan):
        super().__init__(file, protocol=2)
        self.plan = plan  # storage id -> [first, end, tensors kept alive]
        self.storages = {}  # -> (_StorageRef, numpy array of the record's elements, first)
        self._keep = []  # tensors met only while writing: their ids must stay unique
        self._globals = {}

    def _glob(self, module, name):
        g = self._globals.get((module, name))
        if g is None:
            g = self._globals[(module, name)] = _Global(module, name)
        return g

    def _save_placeholder(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_placeholder

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", self._glob("torch", obj.storage_name), obj.key, "cpu", obj.numel)
        return None

    def _new_ref(self, t, numel):
        return _StorageRef(str(len(self.storages)), _STORAGE_OF[_np_name(t)], numel)

    def _storage_for(self, t):
        """-> (storage ref, storage offset, stride) to pickle ``t`` with."""
        if _np_name(t) not in _STORAGE_OF:
            raise RuntimeError(f"save: unsupported dtype {t.dtype}")
        sid = t._storage_id()
        first, end = _span(t)
        p = self.plan.get(sid)
        if p is not None and p[0] <= first and end <= p[1]:
            entry = self.storages.get(sid)
            if entry is None:
                n = p[1] - p[0]
                base = t.detach().as_strided((n,), (1,), p[0])
                entry = self.storages[sid] = (self._new_ref(t, n), _tensor_numpy(base), p[0])
            return entry[0], int(t.storage_offset()) - entry[2], tuple(int(s) for s in t.stride())
        # Not seen by the planning pass (an object made a fresh tensor while being pickled): a
        # compact copy of its own.
        self._keep.append(t)
        arr = np.ascontiguousarray(_tensor_numpy(t)).reshape(-1)
        ref = self._new_ref(t, arr.size)
        self.storages[("copy", len(self.storages))] = (ref, arr, 0)
        shape = [int(s) for s in t.shape]
        stride = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            stride[i] = stride[i + 1] * max(shape[i + 1], 1)
        return ref, 0, tuple(stride)

    def reducer_override(self, obj):
        if not isinstance(obj, rustgrad.Tensor):
            return NotImplemented
        ref, offset, stride = self._storage_for(obj)
        size = tuple(int(s) for s in obj.shape)
        try:
            from rustgrad.nn import Parameter
        except ImportError:
            Parameter = None
        if Parameter is not None and isinstance(obj, Parameter):
            inner = (_REBUILD_V2, (ref, offset, size, stride, False, collections.OrderedDict()))
            return (_REBUILD_PARAM, (_Rebuilt(inner), bool(obj.requires_grad), collections.OrderedDict()))
        return (_REBUILD_V2, (ref, offset, size, stride, bool(obj.requires_grad), collections.OrderedDict()))


def _planned():  # stands for a tensor in the planning pass's (discarded) output
    raise AssertionError


class _Planner(pickle.Pickler):
    """Planning pass (the fast C pickler, output discarded): per underlying storage, the span of
    elements that the object's tensors on it reach, and the tensors (kept alive so that storage
    ids stay unique until the writing pass is done)."""

    def __init__(self):
        super().__init__(_NullFile(), protocol=2)
        self.plan = {}

    def reducer_override(self, obj):
        if not isinstance(obj, rustgrad.Tensor):
            return NotImplemented
        first, end = _span(obj)
        p = self.plan.get(obj._storage_id())
        if p is None:
            self.plan[obj._storage_id()] = [first, end, [obj]]
        else:
            p[0], p[1] = min(p[0], first), max(p[1], end)
            p[2].append(obj)
        return (_planned, ())


class _Rebuilt:
    """A nested reduce (used for Parameter's inner tensor)."""

    def __init__(self, reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value


class _NullFile:
    def write(self, b):
        return len(b)


def _zip_write(zf, name, data):
    # Align each record's data to 64 bytes like torch does (lets readers mmap the storages).
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    pos = zf.fp.tell() + 30 + len(name.encode())
    pad = (-(pos + 4)) % 64
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    zf.writestr(info, data)


def _write_archive(obj, fileobj):
    planner = _Planner()
    planner.dump(obj)
    buf = io.BytesIO()
    writer = _TorchPickler(buf, planner.plan)
    writer.dump(obj)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        _zip_write(zf, "archive/data.pkl", buf.getvalue())
        _zip_write(zf, "archive/byteorder", b"little")
        for ref, arr, _ in writer.storages.values():
            le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).reshape(-1)
            _zip_write(zf, f"archive/data/{ref.key}", memoryview(le.view(np.uint8)))
        _zip_write(zf, "archive/version", b"3\n")


# -- atomic writes -----------------------------------------------------------------------------
# A save to DIR/NAME writes DIR/.tmp-NAME-XXXXXXXX (8 characters of _TMP_ALPHABET, the pattern
# tempfile.mkstemp used before) and renames it over DIR/NAME. While writing it holds an exclusive
# flock on the temporary file, so a later save can tell a file left by a killed save (lock free)
# from one another process is writing right now (locked), and removes only the former.
_TMP_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
# Temp files this process is writing right now. flock already tells them apart on local file
# systems, but where locks are per process (POSIX-lock emulation, e.g. NFS) a concurrent save in
# another thread would look abandoned.
_LIVE_TEMPS = set()


def _tmp_pattern(base):
    return re.compile(r"\.tmp-" + re.escape(base) + r"-[a-z0-9_]{8}")


def _remove_stale_temps(d, base):
    """Delete temporary files that earlier, killed saves to DIR/base left behind."""
    if fcntl is None:  # pragma: no cover - no way to tell a live save's file from a dead one's
        return
    pat = _tmp_pattern(base)
    try:
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        p = os.path.join(d, name)
        if not pat.fullmatch(name) or p in _LIVE_TEMPS:
            continue
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live save holds it
            now = os.lstat(p)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                os.unlink(p)
        except OSError:
            pass
        finally:
            os.close(fd)


def _open_temp(d, base, mode):
    """Create and lock a fresh temporary file next to the target; -> (fd, path). The path is in
    ``_LIVE_TEMPS`` from before it exists until the caller discards it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(d, f".tmp-{base}-" + "".join(secrets.choice(_TMP_ALPHABET) for _ in range(8)))
        _LIVE_TEMPS.add(tmp)
        try:
            fd = os.open(tmp, flags, mode)  # the kernel applies the umask, as for open(path, "wb")
        except FileExistsError:
            _LIVE_TEMPS.discard(tmp)
            continue
        except BaseException:
            _LIVE_TEMPS.discard(tmp)
            raise
        if fcntl is None:  # pragma: no cover
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Between creating and locking, another save may have taken the unlocked file for a
        # killed save's leftover and removed it: then start again with a new name.
        try:
            st, mine = os.lstat(tmp), os.fstat(fd)
            if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                return fd, tmp
        except OSError:
            pass
        os.close(fd)
        _LIVE_TEMPS.discard(tmp)


def _atomic_write(path, writer):
    # Write through a symlink to its target (as open(path, "wb") would), atomically.
    path = os.path.realpath(os.fspath(path))
    d, base = os.path.split(path)
    _remove_stale_temps(d, base)
    try:
        st = os.stat(path)
        keep_mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        keep_mode = None
    fd, tmp = _open_temp(d, base, 0o666)
    try:
        if keep_mode is not None and hasattr(
            os, "fchmod"
        ):  # overwriting: keep the existing file's permission bits
            os.fchmod(fd, keep_mode)
        with os.fdopen(os.dup(fd), "wb") as f:  # the lock lives on fd until the rename is done
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        if fcntl is None:  # pragma: no cover - Windows cannot rename an open file
            os.close(fd)
            fd = None
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock
        _LIVE_TEMPS.discard(tmp)
    try:  # make the rename durable
        dfd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True):
    """Save ``obj`` (tensors, state_dicts, nested dict/list/tuple of tensors and plain values) to
    ``f`` (path or binary file object) in PyTorch's checkpoint format. Paths are written atomically:
    a temporary file in the same directory (left-overs of earlier killed saves to the same path are
    removed first), fsynced, then renamed over ``f``; a new file gets the usual ``0o666 & ~umask``
    permissions and an existing one keeps its own."""
    if isinstance(f, (str, bytes, os.PathLike)):
        _atomic_write(f, lambda fh: _write_archive(obj, fh))
    else:
        _write_archive(obj, f)


# -- reading -----------------------------------------------------------------------------------
class _StorageClass:
    def __init__(self, name):
        self.name = name


def _codecs_encode(s, encoding="latin1", errors="strict"):
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); this is all we allow.
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unsupported _codecs.encode call")
    return s.encode("latin1", errors)


_REBUILDERS = {
    ("torch._utils", "_rebuild_tensor_v2"): "_rebuild_tensor_v2",
    ("torch._utils", "_rebuild_tensor"): "_rebuild_tensor",
    ("torch._utils", "_rebuild_parameter"): "_rebuild_parameter",
    ("torch._utils", "_rebuild_parameter_with_state"): "_rebuild_parameter",
}


def _bytearray(data=b""):
    # bytearray(n) would allocate n bytes for any n the file names: only copy bytes-like data.
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError(f"bytearray() of {type(data).__name__} is not allowed")
    return bytearray(data)


def _device(kind, index=None):
    # torch.device pickles as torch.device("cpu") / ("cuda", 0): strings and ints only.
    if not isinstance(kind, str) or not (index is None or _is_int(index)):
        raise pickle.UnpicklingError(f"torch.device({kind!r}, {index!r}): invalid arguments")
    try:
        return rustgrad.device(kind) if index is None else rustgrad.device(kind, index)
    except Exception as e:
        raise pickle.UnpicklingError(f"torch.device({kind!r}): {e}") from None


def _safe_globals_table():
    """The globals every load resolves, PyTorch names -> rustgrad objects, plus NumPy's
    reconstruction names (unlike PyTorch 2.15, which refuses them by default: they resolve to
    checked stand-ins that never call NumPy with file data, see ``rustgrad._weights_only``)."""
    from rustgrad._size import Size

    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "slice"): slice,
        ("builtins", "bytearray"): _bytearray,
        ("_codecs", "encode"): _codecs_encode,
        ("torch", "Size"): Size,
        ("torch", "device"): _device,
        ("rustgrad._size", "Size"): Size,
    }
    table.update(numpy_default_globals())
    for n in _NP_OF_STORAGE:
        table[("torch", n)] = _StorageClass(n)
    for n in ("float32", "float64", "int64", "int32", "uint8", "bool", "float16", "bfloat16", "int16", "int8"):
        dt = getattr(rustgrad, n, None)
        if isinstance(dt, rustgrad.dtype):
            table[("torch", n)] = dt
    return table


_SAFE_GLOBALS = None


def _safe_globals():
    global _SAFE_GLOBALS
    if _SAFE_GLOBALS is None:
        _SAFE_GLOBALS = _safe_globals_table()
    return _SAFE_GLOBALS


class _LoadedStorage:
    __slots__ = ("flat", "name", "numel", "record", "itemsize")

    def __init__(self, flat, name, numel, record, itemsize):
        self.flat, self.name, self.numel, self.record, self.itemsize = flat, name, numel, record, itemsize


class _ArchiveReading:
    """What both unpicklers share: storages read from the archive after checking their sizes, and
    every tensor's layout checked against its storage (torch's rebuild functions map here)."""

    def _init_archive(self, read_record, source):
        self._read_record = read_record  # (record name, expected bytes) -> bytes
        self._source = source
        self._cache = {}  # key -> _LoadedStorage
        self._by_id = {}  # id(storage object handed to the pickle) -> _LoadedStorage

    def _archive_globals(self):
        table = dict(_safe_globals())
        for key, method in _REBUILDERS.items():
            table[key] = getattr(self, method)
        try:
            from rustgrad.nn import Parameter
        except ImportError:  # pragma: no cover - during package import
            Parameter = None
        if Parameter is not None:
            table[("torch.nn.parameter", "Parameter")] = Parameter
            table[("rustgrad.nn.parameter", "Parameter")] = Parameter
        return table

    def _unknown_storage(self, module, name):
        if module == "torch" and name.endswith("Storage"):
            raise RuntimeError(
                f"rustgrad.load: {self._source}: data.pkl uses storage type torch.{name}, whose dtype "
                "rustgrad does not support"
            )

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        stype, key, _location, numel = pid[1:]
        if not isinstance(stype, _StorageClass):
            raise pickle.UnpicklingError(f"unsupported storage type {stype!r}")
        if _is_int(key):
            key = str(key)
        if not isinstance(key, str):
            raise RuntimeError(f"rustgrad.load: {self._source}: invalid storage key {key!r}")
        record = f"data/{key}"
        src, dst = _NP_OF_STORAGE[stype.name]
        itemsize = _itemsize(src)
        if not _is_int(numel) or numel < 0 or numel * itemsize > _INT64_MAX:
            raise RuntimeError(
                f"rustgrad.load: {self._source}: record {record}: invalid element count {numel!r}"
            )
        cached = self._cache.get(key)
        if cached is not None:
            if (cached.name, cached.numel) != (stype.name, numel):
                raise RuntimeError(
                    f"rustgrad.load: {self._source}: record {record} is referenced as {cached.numel} "
                    f"{cached.name} elements and as {numel} {stype.name} elements"
                )
            return cached.flat
        raw = self._read_record(record, numel * itemsize)
        if stype.name in _LOSSY:
            warnings.warn(f"rustgrad.load: converting {_LOSSY[stype.name]} storage to {dst}", stacklevel=5)
        flat = _to_tensor(_decode(raw, src, dst), dst)
        st = self._cache[key] = _LoadedStorage(flat, stype.name, numel, record, itemsize)
        self._by_id[id(flat)] = st
        return flat

    def _storage_of(self, storage, fn):
        st = self._by_id.get(id(storage))
        if st is None or st.flat is not storage:
            raise RuntimeError(
                f"rustgrad.load: {self._source}: {fn} called with {type(storage).__name__} instead of a "
                "storage from this archive"
            )
        return st

    def _build(self, fn, storage, storage_offset, size, stride, requires_grad=False):
        st = self._storage_of(storage, fn)
        where = f"rustgrad.load: {self._source}: tensor on record {st.record}"
        size, stride = _check_layout(where, size, stride, storage_offset, st.numel, st.itemsize)
        if not isinstance(requires_grad, bool):
            raise RuntimeError(f"{where}: requires_grad must be a bool, got {requires_grad!r}")
        t = st.flat.as_strided(size, stride, storage_offset)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def _rebuild_tensor_v2(
        self, storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
    ):
        return self._build("_rebuild_tensor_v2", storage, storage_offset, size, stride, requires_grad)

    def _rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._build("_rebuild_tensor", storage, storage_offset, size, stride)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks=None, *state):
        if not isinstance(data, rustgrad.Tensor) or not isinstance(requires_grad, bool):
            raise RuntimeError(
                f"rustgrad.load: {self._source}: _rebuild_parameter expects (tensor, bool), got "
                f"({type(data).__name__}, {requires_grad!r})"
            )
        try:
            from rustgrad.nn import Parameter
        except ImportError:
            return data.detach().requires_grad_(requires_grad)
        return Parameter(data, requires_grad)


class _WeightsOnlyArchiveUnpickler(_ArchiveReading, WeightsOnlyUnpickler):
    """``weights_only=True``: tensors, containers and plain values, plus what the user
    allow-listed with ``add_safe_globals`` (see ``rustgrad._weights_only``)."""

    def __init__(self, file, read_record, source):
        self._init_archive(read_record, source)
        super().__init__(file)

    def builtin_globals(self):
        return self._archive_globals()

    def unsupported_global(self, module, name):
        self._unknown_storage(module, name)
        super().unsupported_global(module, name)


class _FullArchiveUnpickler(_ArchiveReading, pickle.Unpickler):
    """``weights_only=False``: a full unpickler (it runs whatever the file names: for files the
    user trusts). torch's tensor/storage names still map to rustgrad's checked rebuilds; any other
    ``torch.*`` class (a whole PyTorch module) cannot become a rustgrad object and is refused."""

    def __init__(self, file, read_record, source, **pickle_load_args):
        self._init_archive(read_record, source)
        super().__init__(file, **pickle_load_args)
        self._table = self._archive_globals()

    def find_class(self, module, name):
        obj = self._table.get((module, name))
        if obj is not None:
            return obj
        if module == "torch" or module.startswith("torch."):
            self._unknown_storage(module, name)
            raise pickle.UnpicklingError(
                f"rustgrad.load: {self._source}: the file holds the PyTorch object {module}.{name}, which "
                "rustgrad cannot rebuild (a module saved whole by torch.save needs PyTorch's classes); "
                "save its state_dict() with torch.save and load that into the rustgrad module instead"
            )
        return super().find_class(module, name)


class _ZipError(Exception):
    pass


def _read_archive(zf, source, archive_size, weights_only=True, pickle_module=None, pickle_load_args=None):
    def zip_call(what, fn, *args):
        try:
            return fn(*args)
        except Exception as e:  # BadZipFile, bad CRC, EOFError, zlib.error, NotImplementedError, ...
            raise RuntimeError(
                f"rustgrad.load: {source}: failed reading zip archive ({what}): {type(e).__name__}: {e}"
            ) from e

    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pkl:
        raise RuntimeError(f"rustgrad.load: {source}: archive has no data.pkl (not a PyTorch checkpoint)")
    prefix = pkl[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in names:
        order = zip_call(f"{prefix}byteorder", zf.read, f"{prefix}byteorder")
        if order.strip() != b"little":
            raise RuntimeError(f"rustgrad.load: {source}: big-endian checkpoints are not supported")

    def read_record(record, nbytes):
        name = prefix + record
        try:
            info = zf.getinfo(name)
        except KeyError:
            raise RuntimeError(
                f"rustgrad.load: {source}: data.pkl refers to storage record {name}, which is not in the archive"
            ) from None
        if info.file_size != nbytes:
            raise RuntimeError(
                f"rustgrad.load: {source}: storage record {name} holds {info.file_size} bytes but data.pkl "
                f"declares {nbytes} bytes"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size > archive_size:
            raise RuntimeError(f"rustgrad.load: {source}: storage record {name} is larger than the file")
        raw = zip_call(name, zf.read, name)
        if len(raw) != nbytes:
            raise RuntimeError(
                f"rustgrad.load: {source}: storage record {name} holds {len(raw)} bytes, expected {nbytes}"
            )
        return raw

    data = zip_call(pkl[0], zf.read, pkl[0])
    if weights_only or b"\x96" in data:
        # Both unpicklers allocate a BYTEARRAY8's declared length before reading it (and the C one
        # on a short read trips a CPython bug: "deallocated bytearray object has exported
        # buffers"); the pure-Python one also takes a short read of counted data silently. Check
        # every counted length against the data first (a linear scan; data.pkl is small).
        try:
            for _ in pickletools.genops(data):
                pass
        except Exception as e:
            raise pickle.UnpicklingError(f"rustgrad.load: {source}: malformed data.pkl: {e}") from None
    if not weights_only:
        # The user trusts this file: errors are the unpickler's own (AttributeError for a class that
        # is gone, ...), as with torch.load(weights_only=False).
        cls = _FullArchiveUnpickler
        base = getattr(pickle_module, "Unpickler", pickle.Unpickler)
        if pickle_module is not None and base is not pickle.Unpickler:
            cls = type("_FullArchiveUnpickler", (_FullArchiveUnpickler, base), {})
        return cls(io.BytesIO(data), read_record, source, **(pickle_load_args or {})).load()
    try:
        return _WeightsOnlyArchiveUnpickler(io.BytesIO(data), read_record, source).load()
    except (RuntimeError, pickle.UnpicklingError):
        raise
    except Exception as e:  # truncated/garbled pickle stream, wrong argument counts, ...
        raise pickle.UnpicklingError(
            f"rustgrad.load: {source}: malformed data.pkl: {type(e).__name__}: {e}"
        ) from e


_TRUE_VALUES = ("1", "y", "yes", "true")
# Each force switch is read under rustgrad's name and under PyTorch's, so that a program run
# with PyTorch's variable set behaves as it does under PyTorch.
_FORCE_WEIGHTS_ONLY = ("RUSTGRAD_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_WEIGHTS_ONLY_LOAD")
_FORCE_NO_WEIGHTS_ONLY = ("RUSTGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")


def _env_set(names):
    return [n for n in names if os.getenv(n, "0").lower() in _TRUE_VALUES]


def _resolve_weights_only(weights_only, pickle_module, pickle_load_args):
    """``torch.load``'s rules for the effective ``weights_only`` (default True; the force
    environment variables; ``pickle_module`` only without weights_only)."""
    not_set = weights_only is None
    if not_set:
        weights_only = pickle_module is None
    force, force_no = _env_set(_FORCE_WEIGHTS_ONLY), _env_set(_FORCE_NO_WEIGHTS_ONLY)
    if force and force_no:
        raise RuntimeError(
            f"Only one of `{force[0]}` or `{force_no[0]}` should be set, but both were set."
        )
    if force:
        weights_only = True
    elif force_no and not_set:
        # Only a call that did not choose weights_only itself is overridden (as in PyTorch).
        warnings.warn(
            f"Environment variable {force_no[0]} detected, since the "
            "`weights_only` argument was not explicitly passed to `rustgrad.load`, forcing weights_only=False.",
            UserWarning,
            stacklevel=3,
        )
        weights_only = False
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=3)
    return bool(weights_only)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``save`` or ``torch.save`` (zip format), with ``torch.load``'s rules.

    ``weights_only=True`` (the default, as in PyTorch 2.6+): only tensors, containers, plain
    values and NumPy arrays, numeric dtypes and NumPy scalars are rebuilt, plus globals
    allow-listed with :func:`add_safe_globals` / :class:`safe_globals`; anything else raises
    ``UnpicklingError`` ("Weights only load failed ..."), so loading never executes code. Unlike
    PyTorch 2.15, which refuses NumPy objects unless they are allow-listed, rustgrad accepts them by
    default because it rebuilds them itself: checked stand-ins (bool/int/float/complex dtypes only,
    exact byte counts) build the arrays from the file's bytes, and NumPy's own reconstruction
    functions are never called with file data. Object, structured and string dtypes and every other
    NumPy global are still refused.
    ``weights_only=False`` runs a full unpickler, for files you trust (whole modules saved with
    ``save(model, f)``); ``RUSTGRAD_FORCE_WEIGHTS_ONLY_LOAD=1`` / ``RUSTGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
    (or PyTorch's ``TORCH_FORCE_...`` names) override it as in PyTorch: the first always, the
    second only where ``weights_only`` was not passed. Either way corrupt or inconsistent files (bad
    zip structure or CRC, storage records whose size disagrees with ``data.pkl``, tensor
    sizes/strides/offsets outside their storage) raise ``RuntimeError``. ``map_location`` is
    accepted for compatibility; everything is loaded on the CPU."""
    weights_only = _resolve_weights_only(weights_only, pickle_module, pickle_load_args)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_fileobj(fh, os.fsdecode(f), weights_only, pickle_module, pickle_load_args)
    return _load_fileobj(f, getattr(f, "name", None) or type(f).__name__, weights_only, pickle_module, pickle_load_args)


def _open_archive(fh, source):
    start = fh.tell() if fh.seekable() else None
    if start is None:
        fh = io.BytesIO(fh.read())
        start = 0
    end = fh.seek(0, io.SEEK_END)
    fh.seek(start)
    if not zipfile.is_zipfile(fh):
        raise RuntimeError(
            f"rustgrad.load: {source}: not a zip checkpoint (failed finding central directory; legacy "
            "pre-1.6 torch.save files are not supported)"
        )
    fh.seek(start)
    try:
        return zipfile.ZipFile(fh), end - start
    except Exception as e:
        raise RuntimeError(
            f"rustgrad.load: {source}: failed reading zip archive: {type(e).__name__}: {e}"
        ) from e


def _load_fileobj(fh, source, weights_only=True, pickle_module=None, pickle_load_args=None):
    if weights_only:
        user_allowed_globals()  # a malformed allow-list raises ValueError/TypeError, as in torch
    zf, size = _open_archive(fh, source)
    with zf:
        if not weights_only:
            return _read_archive(zf, source, size, False, pickle_module, pickle_load_args)
        try:
            return _read_archive(zf, source, size)
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(weights_only_message(str(e))) from None


def get_unsafe_globals_in_checkpoint(f):
    """The ``module.name`` globals a checkpoint's pickle names that a ``weights_only`` load would
    refuse (neither built in nor allow-listed): ``torch.serialization.get_unsafe_globals_in_checkpoint``.
    A static scan: nothing is unpickled."""
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return get_unsafe_globals_in_checkpoint(fh)
    source = getattr(f, "name", None) or type(f).__name__
    zf, _ = _open_archive(f, source)
    with zf:
        pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        found = globals_in_pickle(zf.read(pkl[0]))
    known = {f"{m}.{n}" for m, n in _safe_globals()} | {f"{m}.{n}" for m, n in _REBUILDERS}
    known |= {"torch.nn.parameter.Parameter", "rustgrad.nn.parameter.Parameter"}
    known |= set(user_allowed_globals())
    return sorted(found - known)


# -- safetensors -------------------------------------------------------------------------------
_ST_DTYPES = {
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "int32": "I32",
    "uint8": "U8",
    "bool": "BOOL",
    "float16": "F16",
    "bfloat16": "BF16",
    "int16": "I16",
    "int8": "I8",
}
_ST_READ = {
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
    "I64": ("<i8", "int64"),
    "I32": ("<i4", "int32"),
    "U8": ("u1", "uint8"),
    "BOOL": ("?", "bool"),
    "F16": ("<f2", "float16"),
    "BF16": ("bf16", "bfloat16"),
    "I16": ("<i2", "int16"),
    "I8": ("i1", "int8"),
}
_ST_MAX_HEADER = 100_000_000  # the safetensors library's limit


def save_safetensors(tensors, path, metadata=None):
    """Write a ``{name: tensor}`` dict in the safetensors format (atomically)."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(name, str):
            raise TypeError("safetensors keys must be str")
        if not isinstance(t, rustgrad.Tensor):
            raise TypeError(f"safetensors value for {name!r} is not a tensor")
        dt = _np_name(t)
        if dt not in _ST_DTYPES:
            raise TypeError(f"safetensors: unsupported dtype {t.dtype}")
        src = _ST_READ[_ST_DTYPES[dt]][0]
        arr = np.ascontiguousarray(_tensor_numpy(t))
        raw = (arr if src == "bf16" else arr.astype(np.dtype(src))).tobytes()
        header[name] = {
            "dtype": _ST_DTYPES[dt],
            "shape": [int(s) for s in t.shape],
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)  # the data section starts 8-byte aligned

    def write(fh):
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for b in blobs:
            fh.write(b)

    _atomic_write(path, write)


def load_safetensors(path):
    """Read a safetensors file into a ``{name: tensor}`` dict (metadata is ignored). The header is
    validated like the safetensors library does: known dtypes, non-negative shapes, data_offsets
    that match each tensor's byte size and tile the data section exactly (no gaps or overlaps)."""
    src_name = os.fsdecode(path)
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < 8:
        raise RuntimeError(f"safetensors: {src_name}: file too small")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise RuntimeError(f"safetensors: {src_name}: header length {n} exceeds file size")
    if n > _ST_MAX_HEADER:
        raise RuntimeError(f"safetensors: {src_name}: header of {n} bytes is too large")
    try:
        header = json.loads(buf[8 : 8 + n])
    except ValueError as e:
        raise RuntimeError(f"safetensors: {src_name}: invalid header: {e}") from None
    if not isinstance(header, dict):
        raise RuntimeError(f"safetensors: {src_name}: invalid header: expected a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    ):
        raise RuntimeError(f"safetensors: {src_name}: invalid header: __metadata__ must map str to str")
    data = memoryview(buf)[8 + n :]
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"safetensors: {src_name}: tensor {name!r}"
        if not isinstance(info, dict):
            raise RuntimeError(f"{where}: invalid header entry {info!r}")
        dt = info.get("dtype")
        if dt not in _ST_READ:
            raise RuntimeError(f"safetensors: unsupported dtype {dt!r} for {name!r} in {src_name}")
        src, dst = _ST_READ[dt]
        shape, numel = _check_shape(where, info.get("shape"))
        offs = info.get("data_offsets")
        if not isinstance(offs, list) or len(offs) != 2 or not all(_is_int(x) for x in offs):
            raise RuntimeError(f"{where}: bad data_offsets {offs!r}")
        begin, end = offs
        nbytes = numel * _itemsize(src)
        if not 0 <= begin <= end <= len(data) or end - begin != nbytes:
            raise RuntimeError(
                f"{where}: bad data_offsets [{begin}, {end}] for shape {list(shape)} of {dt} ({nbytes} bytes) "
                f"in a data section of {len(data)} bytes"
            )
        entries.append((begin, end, name, src, dst, shape, dt))
    pos = 0
    for begin, end, name, *_ in sorted(entries, key=lambda e: (e[0], e[1])):
        if begin != pos:
            raise RuntimeError(
                f"safetensors: {src_name}: bad data_offsets for {name!r}: starts at byte {begin}, expected {pos} "
                "(tensors must tile the data section without gaps or overlaps)"
            )
        pos = end
    if pos != len(data):
        raise RuntimeError(
            f"safetensors: {src_name}: data section is {len(data)} bytes but the tensors cover {pos} bytes"
        )
    out = {}
    for begin, end, name, src, dst, shape, _dt in entries:
        out[name] = _to_tensor(_decode(bytes(data[begin:end]), src, dst).reshape(shape), dst)
    return out
