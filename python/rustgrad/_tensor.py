"""Python-level ``Tensor`` methods. Hot paths (arithmetic, views, sum, backward) are native; this
module adds PyTorch's long tail of methods onto the same class."""

import builtins

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._printing import tensor_repr
from rustgrad._rustgrad import Tensor

_UNARY = [
    "neg", "negative", "abs", "absolute", "exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "sin",
    "cos", "tan", "tanh", "sigmoid", "relu", "erf", "floor", "ceil", "trunc", "reciprocal", "square", "sign",
    "acos", "arccos", "asin", "arcsin", "atan", "arctan", "acosh", "arccosh", "asinh", "arcsinh", "atanh",
    "arctanh", "sinh", "cosh", "exp2", "frac",
]


def _method(name):
    return _C.Tensor.__dict__.get(name)


def _add_unary(name):
    if _method(name) is None:
        def f(self):
            return _C._unary(name, self)

        f.__name__ = name
        f.__doc__ = f"``Tensor.{name}()`` (see ``torch.{name}``)."
        setattr(Tensor, name, f)

    def f_(self):
        return _C._unary_(name, self)

    f_.__name__ = name + "_"
    setattr(Tensor, name + "_", f_)


for _n in _UNARY:
    _add_unary(_n)


def _round(self, decimals=0):
    if decimals == 0:
        return _C._unary("round", self)
    s = 10.0 ** decimals
    return _C._unary("round", self * s) / s


Tensor.round = _round
Tensor.round_ = lambda self, decimals=0: self.copy_(_round(self, decimals)) if not self.requires_grad else _C._unary_("round", self)


def _clamp(self, min=None, max=None):
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        r = self
        if min is not None:
            r = _C._binary("maximum", r, min)
        if max is not None:
            r = _C._binary("minimum", r, max)
        return r
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if not self.is_floating_point() and any(isinstance(v, builtins.float) for v in (min, max)):
        # A float bound promotes an integer tensor, as PyTorch does.
        self = self.to(__import__("rustgrad").get_default_dtype())
    return _C._unary("clamp", self, None if min is None else builtins.float(min), None if max is None else builtins.float(max))


def _clamp_(self, min=None, max=None):
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return self.copy_(_clamp(self, min, max))
    return _C._unary_("clamp", self, None if min is None else builtins.float(min), None if max is None else builtins.float(max))


Tensor.clamp = Tensor.clip = _clamp
Tensor.clamp_ = Tensor.clip_ = _clamp_
Tensor.clamp_min = lambda self, min: _clamp(self, min=min)
Tensor.clamp_max = lambda self, max: _clamp(self, max=max)
Tensor.pow = lambda self, exponent: self ** exponent
Tensor.pow_ = lambda self, exponent: self._binary_("pow", exponent)
Tensor.leaky_relu = lambda self, negative_slope=0.01: _C._unary("leaky_relu", self, negative_slope)


# ---- arithmetic methods (alpha, rounding modes) ----

# add/sub/div (with alpha and rounding_mode), fmod, maximum/minimum, addcmul/addcdiv and the
# logical ops are defined once, as functions and methods, in _functional.py.
Tensor.mul = Tensor.multiply = lambda self, other: self * other
Tensor.true_divide = lambda self, other: self / other
Tensor.floor_divide = lambda self, other: self // other
Tensor.remainder = lambda self, other: self % other
Tensor.rsub = lambda self, other, alpha=1: other - self * alpha
Tensor.add_ = lambda self, other, *, alpha=1: self._binary_("add", other, alpha)
Tensor.sub_ = lambda self, other, *, alpha=1: self._binary_("sub", other, alpha)
Tensor.mul_ = lambda self, other: self._binary_("mul", other)
Tensor.remainder_ = lambda self, other: self._binary_("remainder", other)
Tensor.floor_divide_ = lambda self, other: self._binary_("floor_divide", other)

# lerp (PyTorch's two-sided formula) is defined in _math_extra.py.

for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Tensor, _name, (lambda n: lambda self, other: _C._compare(n, self, other))(_name))
    setattr(Tensor, _name + "_", (lambda n: lambda self, other: self.copy_(_C._compare(n, self, other)))(_name))
Tensor.greater = Tensor.gt
Tensor.greater_equal = Tensor.ge
Tensor.less = Tensor.lt
Tensor.less_equal = Tensor.le
Tensor.not_equal = Tensor.ne

Tensor.logical_not = lambda self: _C._compare("eq", self.bool(), False)


# Bitwise ops and their operators are native; they are attached in _math_extra.py.

# ---- conversion ----


def _to(self, *args, **kwargs):
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


def _cpu(self, memory_format=None):
    """A copy on the CPU (a sync point for a device tensor); ``self`` when already there."""
    return self._to_device("cpu")


Tensor.to = _to
Tensor.cpu = _cpu
Tensor.float = lambda self, memory_format=None: self._to_dtype(_C.float32)
Tensor.double = lambda self, memory_format=None: self._to_dtype(_C.float64)
Tensor.long = lambda self, memory_format=None: self._to_dtype(_C.int64)
Tensor.int = lambda self, memory_format=None: self._to_dtype(_C.int32)
Tensor.bool = lambda self, memory_format=None: self._to_dtype(_C.bool)
Tensor.byte = lambda self, memory_format=None: self._to_dtype(_C.uint8)
Tensor.char = lambda self, memory_format=None: self._to_dtype(_C.int8)
Tensor.short = lambda self, memory_format=None: self._to_dtype(_C.int16)
Tensor.half = lambda self, memory_format=None: self._to_dtype(_C.float16)
Tensor.bfloat16 = lambda self, memory_format=None: self._to_dtype(_C.bfloat16)


def _cuda(self, *a, **k):
    raise RuntimeError("Torch not compiled with CUDA enabled")


Tensor.cuda = _cuda
Tensor.type_as = lambda self, other: self._to_dtype(other.dtype)

_LEGACY = {
    "torch.FloatTensor": _C.float32, "torch.DoubleTensor": _C.float64, "torch.LongTensor": _C.int64,
    "torch.IntTensor": _C.int32, "torch.ByteTensor": _C.uint8, "torch.BoolTensor": _C.bool,
    "torch.CharTensor": _C.int8, "torch.ShortTensor": _C.int16, "torch.HalfTensor": _C.float16,
    "torch.BFloat16Tensor": _C.bfloat16,
}


def _type(self, dtype=None, non_blocking=False, **kw):
    if dtype is None:
        return {v: k for k, v in _LEGACY.items()}[self.dtype]
    if isinstance(dtype, str):
        dtype = _LEGACY[dtype]
    elif isinstance(dtype, type):  # a legacy type such as rustgrad.LongTensor
        dtype = dtype.dtype
    return self._to_dtype(dtype)


Tensor.type = _type
Tensor.__repr__ = tensor_repr
Tensor.__str__ = tensor_repr


def _format(self, spec):
    if self.dim() == 0:
        return self.item().__format__(spec)
    return object.__format__(tensor_repr(self), spec)


Tensor.__format__ = _format
Tensor.__array_priority__ = 1000
Tensor.__iter__ = lambda self: (self[i] for i in builtins.range(len(self)))
Tensor.__reversed__ = lambda self: self.flip(0) if self.dim() else self
Tensor.__contains__ = lambda self, el: builtins.bool((self == el).any().item())


_native_numpy = Tensor.numpy


def _numpy(self, force=False):
    return _native_numpy(self.detach() if force else self)


Tensor.numpy = _numpy


def _reduce_ex(self, proto):
    # Pickle through NumPy: safe to load, no code in the payload besides these constructors.
    return (_rebuild, (self.detach().numpy().copy(), self.requires_grad))


def _rebuild(arr, requires_grad):
    t = _C.tensor(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


Tensor.__reduce_ex__ = _reduce_ex


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    r = type(self).__new__(type(self), self.detach().clone()) if type(self) is not Tensor else self.detach().clone()
    if type(self) is not Tensor:
        r.requires_grad_(self.requires_grad)
    elif self.requires_grad:
        r.requires_grad_(True)
    if self.grad is not None:
        r.grad = self.grad.detach().clone()
    r.__dict__.update({k: v for k, v in getattr(self, "__dict__", {}).items()})
    memo[id(self)] = r
    return r


Tensor.__deepcopy__ = _deepcopy

# ---- new_* constructors and *_as helpers ----


def _new(fn):
    def f(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from rustgrad import _creation

        return getattr(_creation, fn)(*size, dtype=dtype or self.dtype, device=device or self.device,
                                      requires_grad=requires_grad)

    return f


Tensor.new_zeros = _new("zeros")
Tensor.new_ones = _new("ones")
Tensor.new_empty = _new("empty")
Tensor.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: _C._full(
    list(size), fill_value, dtype or self.dtype
)._to_device(device or self.device).requires_grad_(requires_grad)
Tensor.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: _C.tensor(
    data, dtype or self.dtype
)._to_device(device or self.device).requires_grad_(requires_grad)
Tensor.view_as = lambda self, other: self.view(*other.shape)
Tensor.reshape_as = lambda self, other: self.reshape(*other.shape)
Tensor.expand_as = lambda self, other: self.expand(*other.shape)
Tensor.broadcast_to = lambda self, size: self.expand(*size)
Tensor.swapaxes = Tensor.swapdims = Tensor.transpose
Tensor.transpose_ = lambda self, a, b: self.set_(self.transpose(a, b))
Tensor.t_ = lambda self: self.set_(self.t())
Tensor.unsqueeze_ = lambda self, d: self.set_(self.unsqueeze(d))
Tensor.squeeze_ = lambda self, d=None: self.set_(self.squeeze(d))


def _set(self, source):
    self.data = source
    return self


Tensor.set_ = _set


# movedim/moveaxis and unflatten are defined in _shape.py.
Tensor.ravel = lambda self: self.reshape(-1)
Tensor.as_strided = lambda self, size, stride, storage_offset=None: _C._as_strided(
    self, list(size), list(stride), self.storage_offset() if storage_offset is None else storage_offset
)

# ---- random fills ----


def _uniform_(self, a=0.0, b=1.0, *, generator=None):
    from rustgrad._random import _fill_uniform_

    return _fill_uniform_(self, a, b, generator)


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    from rustgrad._random import _fill_normal_

    return _fill_normal_(self, mean, std, generator)


def _random_(self, from_=None, to=None, *, generator=None):
    from rustgrad._random import _random_ as fill

    return fill(self, from_, to, generator=generator)


def _exponential_(self, lambd=1.0, *, generator=None):
    from rustgrad._random import _exponential_ as fill

    return fill(self, lambd, generator=generator)


Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.random_ = _random_
Tensor.exponential_ = _exponential_
# bernoulli_ (with tensor probabilities and the range check) is defined in _random.py.
Tensor.bernoulli = lambda self, p=None, *, generator=None: __import__("rustgrad")._random.bernoulli(self, p, generator=generator)

# ---- misc PyTorch API surface ----



def _is_shared(self):
    """Whether this tensor's storage is in shared memory (see ``share_memory_``)."""
    from rustgrad.multiprocessing.shared_tensor import is_shared

    return is_shared(self)


def _share_memory_(self):
    """Move the storage into shared memory in place (every view sees it); returns self."""
    from rustgrad.multiprocessing.shared_tensor import share_memory_

    return share_memory_(self)


Tensor.is_shared = _is_shared
Tensor.share_memory_ = _share_memory_
Tensor.pin_memory = lambda self: self
Tensor.is_pinned = lambda self: False
Tensor.get_device = lambda self: -1 if self.device.type == "cpu" else self.device.index
Tensor.is_sparse = False
Tensor.is_quantized = False
Tensor.is_meta = False
Tensor.is_mps = False
Tensor.layout = "torch.strided"
Tensor.nbytes = property(lambda self: self.numel() * self.element_size())
Tensor.itemsize = property(lambda self: self.element_size())
Tensor.H = property(lambda self: self.T)
Tensor.real = property(lambda self: self)
Tensor.apply_ = lambda self, fn: self.copy_(_C.tensor(np.vectorize(fn)(self.detach().numpy()), dtype=self.dtype))
Tensor.map_ = lambda self, other, fn: self.copy_(
    _C.tensor(np.vectorize(fn)(self.detach().numpy(), other.detach().numpy()), dtype=self.dtype)
)
Tensor.dim_order = lambda self: tuple(np.argsort([-s for s in self.stride()], kind="stable"))
Tensor.storage_size = lambda self: self.numel()
Tensor.untyped_storage = lambda self: _StorageView(self)


class _StorageView:
    """Minimal stand-in for ``untyped_storage()``: identity and size for sharing checks."""

    def __init__(self, t):
        self._t = t

    def data_ptr(self):
        return self._t.data_ptr() - self._t.storage_offset() * self._t.element_size()

    def nbytes(self):
        return self._t.numel() * self._t.element_size()

    def size(self):
        return self.nbytes()
