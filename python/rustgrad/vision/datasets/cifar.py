"""CIFAR-10/100 from the python-pickle batches, loaded WITHOUT executing code from the files.

The batches are pickles, so they are read by a restricted unpickler: the only globals it resolves
are stand-ins for the handful of NumPy reconstructors an array pickle names (and ``_codecs.encode``
for protocol-2 bytes). NumPy's own ``__setstate__`` never sees data from the file: the stand-ins
check each array's dtype (plain numeric types only), shape and byte count, then build it with
``np.frombuffer``. Every other global is refused with ``UnpicklingError``. The batch contents are
validated too (uint8 images, one label per image, labels in range), so a malformed file raises
``RuntimeError`` naming the file instead of loading as something else.
"""

import io
import math
import os
import pickle
import pickletools

import numpy as np

import rustgrad
from rustgrad.vision.datasets._common import VisionDataset, to_image

_PLAIN_DTYPES = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"}


def _as_bytes(data):
    if isinstance(data, str):  # Python 2 pickles read with encoding="latin1"
        return data.encode("latin1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise pickle.UnpicklingError(f"array data must be bytes, got {type(data).__name__}")


class _DTypeStub:
    """Stands for ``numpy.dtype(spec, align, copy)`` + its BUILD state; plain numeric types only."""

    def __init__(self, spec, align=False, copy=False):
        spec = spec.decode("latin1") if isinstance(spec, bytes) else spec
        if not isinstance(spec, str) or spec not in _PLAIN_DTYPES:
            raise pickle.UnpicklingError(f"dtype {spec!r} is not allowed in dataset files")
        self.dtype = np.dtype(spec)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError(f"invalid dtype state {state!r}")
        if any(x is not None for x in state[2:5]):  # subarray / names / fields: structured dtypes
            raise pickle.UnpicklingError("structured dtypes are not allowed in dataset files")
        if state[1] in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(state[1])


def _dtype_of(d):
    if not isinstance(d, _DTypeStub):
        raise pickle.UnpicklingError(f"expected a dtype, got {type(d).__name__}")
    return d.dtype


def _array(raw, dtype, shape, fortran=False):
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise pickle.UnpicklingError(f"invalid array shape {shape!r}")
    raw = _as_bytes(raw)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise pickle.UnpicklingError(
            f"array of shape {shape} and dtype {dtype} needs {math.prod(shape) * dtype.itemsize} bytes, "
            f"the file holds {len(raw)}"
        )
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=dtype.newbyteorder("="))  # own, writable, native byte order


class _ArrayStub:
    """Stands for ``numpy.core.multiarray._reconstruct(ndarray, ...)``; BUILD supplies the state
    ``(version, shape, dtype, is_fortran, data)`` and the array is made here, checked."""

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4 or not isinstance(state[2], bool):
            raise pickle.UnpicklingError("invalid ndarray state")
        shape, dtype, fortran, raw = state
        self.array = _array(raw, _dtype_of(dtype), shape, fortran)


def _reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return _ArrayStub()


def _frombuffer(buf, dtype, shape, order):  # protocol-5 array pickles
    if order not in ("C", "F"):
        raise pickle.UnpicklingError(f"invalid array order {order!r}")
    return _array(
        buf, _dtype_of(dtype), tuple(shape) if isinstance(shape, (tuple, list)) else shape, order == "F"
    )


def _scalar(dtype, data):
    return _array(data, _dtype_of(dtype), (1,))[0]


def _codecs_encode(s, encoding="latin1", errors="strict"):
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("unsupported _codecs.encode call")
    return s.encode("latin1", errors)


class RestrictedUnpickler(pickle.Unpickler):
    """Allows only the globals a NumPy-array pickle needs (as checked stand-ins); anything else is
    refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "scalar"): _scalar,
        ("numpy._core.multiarray", "scalar"): _scalar,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _DTypeStub,
        ("_codecs", "encode"): _codecs_encode,
    }

    def find_class(self, module, name):
        fn = self._ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden in dataset files")
        return fn


def _unstub(obj):
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise pickle.UnpicklingError("ndarray without state")
        return obj.array
    if isinstance(obj, _DTypeStub):
        return obj.dtype
    if isinstance(obj, dict):
        return {_unstub(k): _unstub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unstub(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_unstub(v) for v in obj)
    return obj


def safe_load_pickle(path):
    """Unpickle a CIFAR batch file with the restricted unpickler (bytes keys, latin1 strings).
    Any problem with the file raises ``pickle.UnpicklingError`` naming it."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        if b"\x96" in raw:  # BYTEARRAY8: check declared lengths before the C unpickler allocates them
            for _ in pickletools.genops(raw):
                pass
        return _unstub(RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load())
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"{path}: {e}") from None
    except Exception as e:  # truncated or garbled pickle stream
        raise pickle.UnpicklingError(f"{path}: not a valid pickle: {type(e).__name__}: {e}") from None


def _key(k):
    return k.decode("latin1") if isinstance(k, bytes) else k


def _read_batch(path, label_key, num_classes):
    """-> (uint8 images (N, 3, 32, 32), list of int labels), checked."""
    entry = safe_load_pickle(path)
    if not isinstance(entry, dict):
        raise RuntimeError(f"{path}: not a CIFAR batch (expected a dict, got {type(entry).__name__})")
    entry = {_key(k): v for k, v in entry.items()}
    for k in ("data", label_key):
        if k not in entry:
            raise RuntimeError(f"{path}: CIFAR batch has no {k!r} entry (keys: {sorted(map(str, entry))})")
    data, labels = entry["data"], entry[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        what = f"{data.dtype} array" if isinstance(data, np.ndarray) else type(data).__name__
        raise RuntimeError(f"{path}: CIFAR 'data' must be a uint8 array, got {what}")
    if data.ndim != 2 or data.shape[1] != 3072:
        raise RuntimeError(f"{path}: CIFAR 'data' must have shape (N, 3072), got {data.shape}")
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if not isinstance(labels, (list, tuple)) or not all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in labels
    ):
        raise RuntimeError(f"{path}: CIFAR {label_key!r} must be a list of ints")
    labels = [int(x) for x in labels]
    if len(labels) != len(data):
        raise RuntimeError(f"{path}: {len(data)} images but {len(labels)} entries in {label_key!r}")
    bad = [x for x in labels if not 0 <= x < num_classes]
    if bad:
        raise RuntimeError(f"{path}: label {bad[0]} in {label_key!r} is outside [0, {num_classes})")
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10(VisionDataset):
    """CIFAR-10 from ``root/cifar-10-batches-py/`` (data_batch_1..5, test_batch, batches.meta)."""

    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"
    num_classes = 10

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        root = os.path.expanduser(os.fspath(root))
        super().__init__(root, transform, target_transform)
        self.train = train
        folder = os.path.join(root, self.base_folder)
        names = self.train_list if train else self.test_list
        missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise RuntimeError(
                f"Dataset not found or corrupted: missing {', '.join(missing)} in {folder}"
                + (
                    "; rustgrad does not download datasets (no network access)"
                    if download
                    else ". You can use download=True to see where to put them."
                )
            )
        data, targets = [], []
        for n in names:
            images, labels = _read_batch(os.path.join(folder, n), self.label_key, self.num_classes)
            data.append(images)
            targets.extend(labels)
        self._images = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))  # NHWC
        self.data = self._images  # torchvision keeps a NumPy array here
        self.targets = targets
        meta = os.path.join(folder, self.meta_file)
        if os.path.isfile(meta):
            info = safe_load_pickle(meta)
            names = (
                info.get(self.meta_key, info.get(self.meta_key.encode())) if isinstance(info, dict) else None
            )
            if not isinstance(names, (list, tuple)) or not all(isinstance(c, (str, bytes)) for c in names):
                raise RuntimeError(f"{meta}: CIFAR meta file has no list of strings under {self.meta_key!r}")
            if len(names) != self.num_classes:
                raise RuntimeError(
                    f"{meta}: {len(names)} class names under {self.meta_key!r}, expected {self.num_classes}"
                )
            self.classes = [_key(c) for c in names]
        else:
            self.classes = [str(i) for i in range(max(targets) + 1 if targets else 0)]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self._finish(to_image(self._images[index]), self.targets[index])


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from ``root/cifar-100-python/``."""

    base_folder = "cifar-100-python"
    train_list = ["train"]
    test_list = ["test"]
    meta_file = "meta"
    meta_key = "fine_label_names"
    label_key = "fine_labels"
    num_classes = 100


_ = rustgrad  # keep the package import explicit for users reading the module
