"""save/load in PyTorch's zip checkpoint format, and the safetensors format.

``save`` writes exactly what ``torch.save`` writes (a zip archive holding ``data.pkl``, one raw
little-endian file per storage, ``byteorder`` and ``version``), so ``torch.load(path,
weights_only=True)`` reads our checkpoints and we read PyTorch's. ``load`` never executes code from
the file: its unpickler resolves only a fixed whitelist of globals (containers, and the torch
tensor/storage rebuild functions, which are mapped to our own implementations). torch is never
imported.
"""

import collections
import io
import json
import os
import pickle
import struct
import tempfile
import warnings
import zipfile

import numpy as np

import rustgrad

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

# -- dtype tables ------------------------------------------------------------------------------
_STORAGE_OF = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}
# storage class name -> (numpy dtype to read the bytes, numpy dtype of the tensor we build)
_NP_OF_STORAGE = {
    "FloatStorage": ("<f4", "float32"),
    "DoubleStorage": ("<f8", "float64"),
    "LongStorage": ("<i8", "int64"),
    "IntStorage": ("<i4", "int32"),
    "ByteStorage": ("u1", "uint8"),
    "BoolStorage": ("?", "bool"),
    "ShortStorage": ("<i2", "int32"),
    "CharStorage": ("i1", "int32"),
    "HalfStorage": ("<f2", "float32"),
    "BFloat16Storage": ("bf16", "float32"),
}
_LOSSY = {
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "ShortStorage": "int16",
    "CharStorage": "int8",
}


def _np_name(t):
    return str(t.dtype).replace("torch.", "")


def _tensor_numpy(t):
    return t.detach().numpy()


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


class _TorchPickler(pickle._Pickler):
    """Pure-Python pickler (protocol 2) that writes torch globals by name and tensors as storages."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, storages):
        super().__init__(file, protocol=2)
        self._storages = storages  # storage id -> (key, base numpy array, _StorageRef)
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

    def _storage_for(self, t):
        name = _np_name(t)
        if name not in _STORAGE_OF:
            raise RuntimeError(f"save: unsupported dtype {t.dtype}")
        sid = (t._storage_id(), name)
        entry = self._storages.get(sid)
        if entry is None:
            # The whole underlying storage, so views keep their offsets/strides and tensors that
            # share a storage still share it after loading.
            n = int(t.storage_size())
            base = t.detach().as_strided((n,), (1,), 0)
            ref = _StorageRef(str(len(self._storages)), _STORAGE_OF[name], n)
            entry = self._storages[sid] = (ref, _tensor_numpy(base))
        return entry[0]

    def reducer_override(self, obj):
        if isinstance(obj, rustgrad.Tensor):
            ref = self._storage_for(obj)
            args = (
                ref,
                int(obj.storage_offset()),
                tuple(int(s) for s in obj.shape),
                tuple(int(s) for s in obj.stride()),
                bool(obj.requires_grad),
                collections.OrderedDict(),
            )
            try:
                from rustgrad.nn import Parameter
            except ImportError:
                Parameter = None
            if Parameter is not None and isinstance(obj, Parameter):
                inner = (_REBUILD_V2, (ref,) + args[1:4] + (False, collections.OrderedDict()))
                return (_REBUILD_PARAM, (_Rebuilt(inner), bool(obj.requires_grad), collections.OrderedDict()))
            return (_REBUILD_V2, args)
        return NotImplemented


class _Rebuilt:
    """A nested reduce (used for Parameter's inner tensor)."""

    def __init__(self, reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value


def _zip_write(zf, name, data):
    # Align each record's data to 64 bytes like torch does (lets readers mmap the storages).
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    pos = zf.fp.tell() + 30 + len(name.encode())
    pad = (-(pos + 4)) % 64
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    zf.writestr(info, data)


def _write_archive(obj, fileobj):
    storages = {}
    buf = io.BytesIO()
    _TorchPickler(buf, storages).dump(obj)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        _zip_write(zf, "archive/data.pkl", buf.getvalue())
        _zip_write(zf, "archive/byteorder", b"little")
        for ref, arr in storages.values():
            _zip_write(
                zf,
                f"archive/data/{ref.key}",
                np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes(),
            )
        _zip_write(zf, "archive/version", b"3\n")


def _atomic_write(path, writer):
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True):
    """Save ``obj`` (tensors, state_dicts, nested dict/list/tuple of tensors and plain values) to
    ``f`` (path or binary file object) in PyTorch's checkpoint format. Paths are written atomically
    (temporary file in the same directory, then ``os.replace``)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        _atomic_write(f, lambda fh: _write_archive(obj, fh))
    else:
        _write_archive(obj, f)


# -- reading -----------------------------------------------------------------------------------
def _bf16_to_f32(raw):
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32)


class _StorageClass:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    t = storage.as_strided(tuple(size), tuple(stride), int(storage_offset))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return storage.as_strided(tuple(size), tuple(stride), int(storage_offset))


def _rebuild_parameter(data, requires_grad, backward_hooks=None, *state):
    try:
        from rustgrad.nn import Parameter
    except ImportError:
        return data.detach().requires_grad_(requires_grad)
    return Parameter(data, requires_grad)


def _codecs_encode(s, encoding="latin1", errors="strict"):
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); this is all we allow.
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unsupported _codecs.encode call")
    return s.encode("latin1", errors)


_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}
for _n in _NP_OF_STORAGE:
    _SAFE_GLOBALS[("torch", _n)] = _StorageClass(_n)


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only whitelisted globals and reads storages from the archive."""

    def __init__(self, file, load_record):
        super().__init__(file)
        self._load_record = load_record
        self._cache = {}

    def find_class(self, module, name):
        g = _SAFE_GLOBALS.get((module, name))
        if g is None:
            raise pickle.UnpicklingError(
                f"Unsupported global: GLOBAL {module}.{name} was not an allowed global; rustgrad.load "
                "only loads tensors, containers and plain values and never runs code from the file"
            )
        return g

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        stype, key = pid[1], str(pid[2])
        if not isinstance(stype, _StorageClass):
            raise pickle.UnpicklingError(f"unsupported storage type {stype!r}")
        if key in self._cache:
            return self._cache[key]
        raw = self._load_record(key)
        src, dst = _NP_OF_STORAGE[stype.name]
        if stype.name in _LOSSY:
            warnings.warn(f"rustgrad.load: converting {_LOSSY[stype.name]} storage to {dst}", stacklevel=4)
        arr = _bf16_to_f32(raw) if src == "bf16" else np.frombuffer(raw, dtype=src)
        arr = np.array(arr, dtype=dst)  # own, writable, native-endian copy
        t = rustgrad.from_numpy(arr)
        self._cache[key] = t
        return t


def _read_archive(zf):
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkl:
        raise RuntimeError("rustgrad.load: archive has no data.pkl (not a PyTorch checkpoint)")
    prefix = pkl[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in names and zf.read(f"{prefix}byteorder").strip() != b"little":
        raise RuntimeError("rustgrad.load: big-endian checkpoints are not supported")

    def record(key):
        return zf.read(f"{prefix}data/{key}")

    return _SafeUnpickler(io.BytesIO(zf.read(pkl[0])), record).load()


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load an object saved by ``save`` or ``torch.save`` (zip format). Only tensors, containers
    and plain values are accepted; any other global in the pickle raises ``UnpicklingError``
    (regardless of ``weights_only``), so loading never executes code. ``map_location`` is accepted
    for compatibility; everything is loaded on the CPU."""
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_fileobj(fh)
    return _load_fileobj(f)


def _load_fileobj(fh):
    start = fh.tell() if fh.seekable() else None
    data = None
    if start is None:
        data = io.BytesIO(fh.read())
        fh = data
        start = 0
    if not zipfile.is_zipfile(fh):
        raise RuntimeError(
            "rustgrad.load: not a zip checkpoint (legacy pre-1.6 torch.save files are not supported)"
        )
    fh.seek(start)
    with zipfile.ZipFile(fh) as zf:
        return _read_archive(zf)


# -- safetensors -------------------------------------------------------------------------------
_ST_DTYPES = {
    "float32": "F32",
    "float64": "F64",
    "int64": "I64",
    "int32": "I32",
    "uint8": "U8",
    "bool": "BOOL",
}
_ST_READ = {
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
    "I64": ("<i8", "int64"),
    "I32": ("<i4", "int32"),
    "U8": ("u1", "uint8"),
    "BOOL": ("?", "bool"),
    "F16": ("<f2", "float32"),
    "BF16": ("bf16", "float32"),
    "I16": ("<i2", "int32"),
    "I8": ("i1", "int32"),
}


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
        raw = np.ascontiguousarray(_tensor_numpy(t)).astype(np.dtype(_ST_READ[_ST_DTYPES[dt]][0])).tobytes()
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
    """Read a safetensors file into a ``{name: tensor}`` dict (metadata is ignored)."""
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < 8:
        raise RuntimeError("safetensors: file too small")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise RuntimeError("safetensors: header length exceeds file size")
    try:
        header = json.loads(buf[8 : 8 + n])
    except ValueError as e:
        raise RuntimeError(f"safetensors: invalid header: {e}") from None
    data = memoryview(buf)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt not in _ST_READ:
            raise RuntimeError(f"safetensors: unsupported dtype {dt!r} for {name!r}")
        src, dst = _ST_READ[dt]
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        width = 2 if src == "bf16" else np.dtype(src).itemsize
        if not 0 <= begin <= end <= len(data) or end - begin != width * int(np.prod(shape, dtype=np.int64)):
            raise RuntimeError(f"safetensors: bad data_offsets for {name!r}")
        raw = bytes(data[begin:end])
        if dt in ("F16", "BF16", "I16", "I8"):
            warnings.warn(f"load_safetensors: converting {dt} tensor {name!r} to {dst}", stacklevel=2)
        arr = _bf16_to_f32(raw) if src == "bf16" else np.frombuffer(raw, dtype=src)
        out[name] = rustgrad.from_numpy(np.array(arr, dtype=dst).reshape(shape))
    return out
