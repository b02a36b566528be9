"""Tensor creation functions with PyTorch's signatures."""

import builtins
import math

import numpy as np

from rustgrad import _out
from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor

__all__ = [
    "tensor", "as_tensor", "asarray", "zeros", "ones", "full", "empty", "arange", "linspace", "logspace",
    "eye", "zeros_like", "ones_like", "full_like", "empty_like", "scalar_tensor", "range",
]


_INT64 = (-(2**63), 2**63 - 1)


def _size_int(v, fn, pos):
    if isinstance(v, Tensor) and v.ndim == 0 and not v.is_floating_point() and v.dtype is not _C.bool:
        v = v.item()
    # (PyTorch's parser takes a bool as an int anywhere but first: zeros(2, True) is [2, 1])
    if isinstance(v, (builtins.bool, np.bool_)) and pos == 1 or not isinstance(v, (builtins.int, np.integer)):
        raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {pos} with error "
                        f"\"type must be tuple of ints,but got {type(v).__name__}\"")
    v = builtins.int(v)
    if not _INT64[0] <= v <= _INT64[1]:
        raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {pos} with error "
                        "\"Overflow when unpacking long long\"")
    return v


def _sizes(size, fn="zeros"):
    """``*size`` as PyTorch's parser reads it: ints, or one tuple/list/Size of ints; TypeError otherwise."""
    if not size:
        raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return [_size_int(s, fn, i + 1) for i, s in enumerate(size[0])]
    if builtins.any(isinstance(s, (tuple, list)) for s in size):
        raise TypeError(f"{fn}() takes 1 positional argument but {len(size)} were given")
    if len(size) == 1 and not isinstance(size[0], (builtins.int, np.integer, Tensor)) or \
            isinstance(size[0], (builtins.bool, np.bool_)):
        raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, not {type(size[0]).__name__}")
    return [_size_int(s, fn, i + 1) for i, s in enumerate(size)]


_CTYPE = {"float32": "float", "float64": "double", "int64": "int64_t", "int32": "int", "uint8": "uint8_t",
          "int16": "int16_t", "int8": "int8_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}
# The largest finite value of each float dtype (a finite Python number beyond it overflows).
_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float16": 65504.0, "bfloat16": 3.3895313892515355e38}


def _check_scalar(value, dtype):
    """Refuse a Python number that ``dtype`` cannot hold, as PyTorch's ``checked_convert`` does
    (``int_tensor[0] = nan`` and ``full((2,), 300, dtype=uint8)`` raise instead of wrapping)."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, builtins.bool) or not isinstance(value, (builtins.int, builtins.float)):
        return value
    if isinstance(value, builtins.int) and not _INT64[0] <= value <= _INT64[1]:
        raise ValueError("Overflow when unpacking long long")
    name = str(dtype).replace("torch.", "")
    if name == "bool":
        return value
    bad = False
    if name in ("float32", "float64", "float16", "bfloat16"):
        bad = name in _FLOAT_MAX and math.isfinite(value) and builtins.abs(value) > _FLOAT_MAX[name]
    elif isinstance(value, builtins.float) and not math.isfinite(value):
        bad = True
    else:
        info = np.iinfo(name)
        v = math.trunc(value)
        lo = -builtins.int(info.max) if info.min == 0 and isinstance(value, builtins.int) else builtins.int(info.min)
        bad = not lo <= v <= builtins.int(info.max)
    if bad:
        raise RuntimeError(f"value cannot be converted to type {_CTYPE[name]} without overflow")
    return value


def _check_device(device):
    if device is not None:
        _C.device(device)  # raises for unavailable devices


def _dev(device):
    """``device`` for the native factories that build on an accelerator directly (zeros, ones,
    full: one fill kernel instead of a host buffer and an upload)."""
    return None if device is None else _C.device(device)


def _finish(t, requires_grad, device=None):
    """Move a freshly made tensor to ``device`` (a no-op when it was made there) and set
    ``requires_grad``. Factories without a device kernel build on the CPU and upload."""
    if device is not None and _C.device(device).type != "cpu":
        t = t._to_device(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Copy ``data`` (number, nested sequence, NumPy array or tensor) into a new tensor."""
    _check_device(device)
    return _finish(_C.tensor(data, dtype), requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with tensors and NumPy arrays when no conversion is needed."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype.name in ("float32", "float64", "float16", "int64", "int32", "int16",
                                                                 "int8", "uint8", "bool"):
        t = _C.from_numpy(np.ascontiguousarray(data) if any(s < 0 for s in data.strides) else data)
        return t if dtype is None or t.dtype == dtype else t.to(dtype)
    return _C.tensor(data, dtype)


asarray = as_tensor


@_out.supports_out("zeros", _out.ANY, creation=True)
def zeros(*size, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _finish(_C._zeros(_sizes(size, "zeros"), dtype, _dev(device)), requires_grad, device)


@_out.supports_out("ones", _out.ANY, creation=True)
def ones(*size, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _finish(_C._full(_sizes(size, "ones"), 1.0 if dtype is None else 1,
                            dtype if dtype is not None else _C.float32, _dev(device)), requires_grad, device)


@_out.supports_out("full", _out.ANY, creation=True)
def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    sizes = _sizes((size,), "full")
    if dtype is not None:
        _check_scalar(fill_value, dtype)
    return _finish(_C._full(sizes, fill_value, dtype, _dev(device)), requires_grad, device)


@_out.supports_out("empty", _out.ANY, creation=True)
def empty(*size, dtype=None, device=None, requires_grad=False, pin_memory=False, memory_format=None):
    _check_device(device)
    return _finish(_C._empty(_sizes(size, "empty"), dtype), requires_grad, device)


@_out.supports_out("arange", _out.ANY, creation=True)
def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if isinstance(vals[2], builtins.float) and not math.isfinite(vals[2]):
        raise RuntimeError(f"step must be finite but got {vals[2]}")
    return _finish(_C._arange(*vals, dtype), requires_grad, device)


@_out.supports_out("range", _out.ANY, creation=True)
def range(start, end, step=1, dtype=None, device=None, requires_grad=False):
    """Deprecated inclusive range (``torch.range``)."""
    n = builtins.int(np.floor((end - start) / step)) + 1
    return _finish(_C._linspace(start, start + (n - 1) * step, n, dtype), requires_grad, device)


def _steps(steps, fn):
    if isinstance(steps, (builtins.bool, np.bool_)) or not isinstance(steps, (builtins.int, np.integer)):
        raise TypeError(f"{fn}(): argument 'steps' must be int, not {type(steps).__name__}")
    if not _INT64[0] <= steps <= _INT64[1]:
        raise ValueError("Overflow when unpacking long long")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return builtins.int(steps)


@_out.supports_out("linspace", _out.ANY, creation=True)
def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    steps = _steps(steps, "linspace")
    if dtype is not None and steps:  # (PyTorch converts the end only when it is used)
        _check_scalar(start, dtype)
        if steps > 1:
            _check_scalar(end, dtype)
    return _finish(_C._linspace(builtins.float(start), builtins.float(end), builtins.int(steps), dtype), requires_grad, device)


@_out.supports_out("logspace", _out.ANY, creation=True)
def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    steps = _steps(steps, "logspace")
    t = _C._linspace(builtins.float(start), builtins.float(end), builtins.int(steps), _C.float64)
    r = _C._binary("pow", builtins.float(base), t)
    return _finish(r.to(dtype or _C.float32), requires_grad, device)


_NO_M = object()


@_out.supports_out("eye", _out.ANY, creation=True)
def eye(n, m=_NO_M, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    for name, v in (("n", n), ("m", m)):
        if v is not _NO_M and (isinstance(v, (builtins.bool, np.bool_)) or not isinstance(v, (builtins.int, np.integer))):
            raise TypeError(f"eye(): argument '{name}' must be int, not {type(v).__name__}")  # (m=None too)
    m = None if m is _NO_M else m
    for v in (n, m):
        if v is not None and not _INT64[0] <= v <= _INT64[1]:
            raise ValueError("Overflow when unpacking long long")
    return _finish(_C._eye(n, m, dtype), requires_grad, device)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    return _finish(_C.tensor(s, dtype or _C.float32), requires_grad, device)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._zeros(list(input.shape), dtype or input.dtype, _dev(input.device if device is None else device)), requires_grad, input.device if device is None else device)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._full(list(input.shape), 1, dtype or input.dtype, _dev(input.device if device is None else device)), requires_grad, input.device if device is None else device)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    _check_scalar(fill_value, dtype or input.dtype)
    return _finish(_C._full(list(input.shape), fill_value, dtype or input.dtype, _dev(input.device if device is None else device)), requires_grad, input.device if device is None else device)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._empty(list(input.shape), dtype or input.dtype), requires_grad, input.device if device is None else device)
