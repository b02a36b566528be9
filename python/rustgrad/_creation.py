"""Tensor creation functions with PyTorch's signatures."""

import builtins

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor

__all__ = [
    "tensor", "as_tensor", "asarray", "zeros", "ones", "full", "empty", "arange", "linspace", "logspace",
    "eye", "zeros_like", "ones_like", "full_like", "empty_like", "scalar_tensor", "range",
]


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return [builtins.int(s) for s in size[0]]
    return [builtins.int(s) for s in size]


def _check_device(device):
    if device is not None:
        _C.device(device)  # raises for unavailable devices


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Copy ``data`` (number, nested sequence, NumPy array or tensor) into a new tensor."""
    _check_device(device)
    return _finish(_C.tensor(data, dtype), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with tensors and NumPy arrays when no conversion is needed."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype.name in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        t = _C.from_numpy(np.ascontiguousarray(data) if any(s < 0 for s in data.strides) else data)
        return t if dtype is None or t.dtype == dtype else t.to(dtype)
    return _C.tensor(data, dtype)


asarray = as_tensor


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    return _finish(_C._zeros(_sizes(size), dtype), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    return _finish(_C._full(_sizes(size), 1.0 if dtype is None else 1, dtype if dtype is not None else _C.float32), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _finish(_C._full(_sizes((size,)), fill_value, dtype), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, pin_memory=False, memory_format=None, out=None):
    _check_device(device)
    return _finish(_C._empty(_sizes(size), dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    return _finish(_C._arange(*vals, dtype), requires_grad)


def range(start, end, step=1, dtype=None, device=None, requires_grad=False):
    """Deprecated inclusive range (``torch.range``)."""
    n = builtins.int(np.floor((end - start) / step)) + 1
    return _finish(_C._linspace(start, start + (n - 1) * step, n, dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    return _finish(_C._linspace(builtins.float(start), builtins.float(end), builtins.int(steps), dtype), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    t = _C._linspace(builtins.float(start), builtins.float(end), builtins.int(steps), _C.float64)
    r = _C._binary("pow", builtins.float(base), t)
    return _finish(r.to(dtype or _C.float32), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False, out=None):
    _check_device(device)
    return _finish(_C._eye(n, m, dtype), requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    return _finish(_C.tensor(s, dtype or _C.float32), requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._zeros(list(input.shape), dtype or input.dtype), requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._full(list(input.shape), 1, dtype or input.dtype), requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._full(list(input.shape), fill_value, dtype or input.dtype), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_C._empty(list(input.shape), dtype or input.dtype), requires_grad)
