"""Dtype and device conversion, printing, NumPy interop, pickling and copying methods of
``Tensor``."""

import builtins

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._printing import tensor_repr
from rustgrad._rustgrad import Tensor

# The legacy type strings of ``Tensor.type()``.
_LEGACY = {
    "torch.FloatTensor": _C.float32, "torch.DoubleTensor": _C.float64, "torch.LongTensor": _C.int64,
    "torch.IntTensor": _C.int32, "torch.ByteTensor": _C.uint8, "torch.BoolTensor": _C.bool,
    "torch.CharTensor": _C.int8, "torch.ShortTensor": _C.int16, "torch.HalfTensor": _C.float16,
    "torch.BFloat16Tensor": _C.bfloat16,
}

# The native ``numpy()`` (no ``force``), wrapped by ``ConversionMethods.numpy``.
_native_numpy = Tensor.numpy


def _rebuild(arr, requires_grad):
    """Unpickling constructor of a tensor (see ``__reduce_ex__``)."""
    t = _C.tensor(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


class ConversionMethods:
    """Installed onto ``Tensor`` by :func:`rustgrad._tensor_methods.install`."""

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; returns self if nothing changes.

        ``non_blocking`` is accepted and ignored: uploads are ordered in the device's command stream
        anyway, and downloads are sync points, as ``.to("cpu")`` is in PyTorch.
        """
        dtype = kwargs.get("dtype")
        device = kwargs.get("device")
        copy = kwargs.get("copy", False)
        for a in args:
            if a is None:
                continue
            if isinstance(a, _C.dtype):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
                device = a.device
            elif isinstance(a, (str, _C.device)):
                device = a
            elif isinstance(a, builtins.bool):
                pass
            else:
                raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
        r = self
        if device is not None:
            device = _C.device(device)  # validates
            # Convert the dtype on the host side (float64 never reaches the device): before an
            # upload, after a download.
            if dtype is not None and self.device.type == "cpu":
                r = r._to_dtype(dtype)
                dtype = None
            r = r._to_device(device)
        if dtype is not None:
            r = r._to_dtype(dtype)
        if copy and r is self:
            r = self.clone()
        return r

    def cpu(self, memory_format=None):
        """A copy on the CPU (a sync point for a device tensor); ``self`` when already there."""
        return self._to_device("cpu")

    def cuda(self, *args, **kwargs):
        """``cuda()``: refused, as PyTorch built without CUDA refuses it."""
        raise RuntimeError("Torch not compiled with CUDA enabled")

    def float(self, memory_format=None):
        """``float()``: ``to(float32)``."""
        return self._to_dtype(_C.float32)

    def double(self, memory_format=None):
        """``double()``: ``to(float64)``."""
        return self._to_dtype(_C.float64)

    def long(self, memory_format=None):
        """``long()``: ``to(int64)``."""
        return self._to_dtype(_C.int64)

    def int(self, memory_format=None):
        """``int()``: ``to(int32)``."""
        return self._to_dtype(_C.int32)

    def bool(self, memory_format=None):
        """``bool()``: ``to(bool)``."""
        return self._to_dtype(_C.bool)

    def byte(self, memory_format=None):
        """``byte()``: ``to(uint8)``."""
        return self._to_dtype(_C.uint8)

    def char(self, memory_format=None):
        """``char()``: ``to(int8)``."""
        return self._to_dtype(_C.int8)

    def short(self, memory_format=None):
        """``short()``: ``to(int16)``."""
        return self._to_dtype(_C.int16)

    def half(self, memory_format=None):
        """``half()``: ``to(float16)`` (stored as float16, computed in float32)."""
        return self._to_dtype(_C.float16)

    def bfloat16(self, memory_format=None):
        """``bfloat16()``: ``to(bfloat16)`` (stored as bfloat16, computed in float32)."""
        return self._to_dtype(_C.bfloat16)

    def type_as(self, other):
        """``type_as(other)``: ``to(other.dtype)``."""
        return self._to_dtype(other.dtype)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """``type()``: the legacy type string (``'torch.FloatTensor'``); ``type(dtype_or_string)``
        converts."""
        if dtype is None:
            return {v: k for k, v in _LEGACY.items()}[self.dtype]
        if isinstance(dtype, str):
            dtype = _LEGACY[dtype]
        elif isinstance(dtype, type):  # a legacy type such as rustgrad.LongTensor
            dtype = dtype.dtype
        return self._to_dtype(dtype)

    def numpy(self, force=False):
        """``numpy(force=False)``: a NumPy array sharing memory (CPU tensors without grad);
        ``force=True`` detaches first."""
        return _native_numpy(self.detach() if force else self)

    __repr__ = tensor_repr
    __str__ = tensor_repr

    def __format__(self, spec):
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(tensor_repr(self), spec)

    # NumPy defers to the tensor's reflected operators (ndarray + tensor gives a tensor).
    __array_priority__ = 1000

    def __iter__(self):
        return (self[i] for i in builtins.range(len(self)))

    def __reversed__(self):
        return self.flip(0) if self.dim() else self

    def __contains__(self, element):
        return builtins.bool((self == element).any().item())

    def __reduce_ex__(self, proto):
        # Pickle through NumPy: safe to load, no code in the payload besides these constructors.
        return (_rebuild, (self.detach().numpy().copy(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if type(self) is not Tensor:
            r = type(self).__new__(type(self), self.detach().clone())
            r.requires_grad_(self.requires_grad)
        else:
            r = self.detach().clone()
            if self.requires_grad:
                r.requires_grad_(True)
        if self.grad is not None:
            r.grad = self.grad.detach().clone()
        r.__dict__.update({k: v for k, v in getattr(self, "__dict__", {}).items()})
        memo[id(self)] = r
        return r


def apply_numpy(self, fn, *others):
    """``fn`` vectorised over the elements of ``self`` (and ``others``), as a tensor of ``self``'s dtype."""
    arrays = [t.detach().numpy() for t in (self, *others)]
    return _C.tensor(np.vectorize(fn)(*arrays), dtype=self.dtype)
