"""Module-level math functions (``torch.exp``, ``torch.add``, ``torch.where`` ...).

Where PyTorch's ``Tensor`` method and function share argument rules (fmod, addcmul, maximum,
logical_and ...) one implementation here serves both (bound onto ``Tensor`` at the end)."""

import builtins

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor

__all__ = []


def _export(fn, name=None):
    name = name or fn.__name__
    globals()[name] = fn
    __all__.append(name)
    return fn


def _unary_fn(name):
    def f(input, *, out=None):
        r = getattr(input, name)() if isinstance(input, Tensor) else _C._unary(name, input)
        if out is not None:
            out.copy_(r)
            return out
        return r

    f.__name__ = name
    f.__doc__ = f"``torch.{name}(input)``: elementwise {name}."
    return f


for _n in ["neg", "negative", "abs", "absolute", "exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt",
           "sin", "cos", "tan", "tanh", "sigmoid", "relu", "erf", "floor", "ceil", "trunc", "reciprocal", "square",
           "sign", "acos", "arccos", "asin", "arcsin", "atan", "arctan", "acosh", "arccosh", "asinh", "arcsinh",
           "atanh", "arctanh", "sinh", "cosh", "exp2", "frac"]:
    _export(_unary_fn(_n))
    _export((lambda n: lambda input: getattr(input, n + "_")())(_n), _n + "_")


def _t(x):
    return x if isinstance(x, Tensor) else _C.tensor(x)


@_export
def round(input, *, decimals=0):
    return input.round(decimals)


@_export
def clamp(input, min=None, max=None):
    return input.clamp(min, max)


clip = _export(clamp, "clip")
_export(lambda input, min=None, max=None: input.clamp_(min, max), "clamp_")


def _promote(a, b):
    return b if a is None else a if b is None else _C._promote_types(a, b)


def _combine(higher, lower):
    """PyTorch's combine_categories: a lower tier only wins with a higher category."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is _C.bool or lower.is_floating_point:
        return _promote(higher, lower)
    return higher


def _result_dtype(*operands):
    """The dtype PyTorch's type promotion gives ``operands``: dimensioned tensors, then 0-d
    tensors, then Python numbers, each tier promoted on its own and combined by category."""
    dim = zero = wrapped = None
    for x in operands:
        if isinstance(x, Tensor):
            if x.ndim:
                dim = _promote(dim, x.dtype)
            else:
                zero = _promote(zero, x.dtype)
        else:
            dt = _C.bool if isinstance(x, (builtins.bool, np.bool_)) else \
                _C.int64 if isinstance(x, (builtins.int, np.integer)) else _C.float32
            wrapped = _promote(wrapped, dt)
    return _combine(dim, _combine(zero, wrapped))


def _scaled(name, input, other, alpha):
    """``input op alpha * other`` with PyTorch's alpha rules (checked before computing)."""
    if alpha.__class__ is int and alpha == 1:
        return _C._binary(name, input, other)
    rt = _result_dtype(input, other)
    if isinstance(alpha, (builtins.bool, np.bool_)):
        if rt is not _C.bool:
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, (float, np.floating)) and not rt.is_floating_point:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if rt is _C.bool:
        if name == "sub":
            return _C._binary("sub", input, other)  # raises PyTorch's bool-subtraction error
        # a bool result: alpha is cast to bool too (alpha=0 adds nothing)
        return _C._binary(name, input, other if alpha else _C._logical("and", _t(other), _C.tensor(False)))
    if alpha == 1:
        return _C._binary(name, input, other)
    # alpha * other in the result dtype (a uint8 other times -1 must not wrap first)
    return _C._binary(name, input, (other.to(rt) if isinstance(other, Tensor) else other) * alpha)


@_export
def add(input, other, *, alpha=1, out=None):
    r = _scaled("add", input, other, alpha)
    return out.copy_(r) if out is not None else r


@_export
def sub(input, other, *, alpha=1, out=None):
    r = _scaled("sub", input, other, alpha)
    return out.copy_(r) if out is not None else r


subtract = _export(sub, "subtract")


@_export
def mul(input, other, *, out=None):
    r = _C._binary("mul", input, other)
    return out.copy_(r) if out is not None else r


multiply = _export(mul, "multiply")


@_export
def div(input, other, *, rounding_mode=None, out=None):
    """``torch.div``: true division, or ``rounding_mode='floor'`` / ``'trunc'`` (integer inputs stay
    integer, computed exactly, and refuse a zero divisor)."""
    input = _t(input)
    if rounding_mode is None:
        r = _C._binary("div", input, other)
    elif rounding_mode == "floor":
        r = _C._binary("floor_divide", input, other)
    elif rounding_mode == "trunc":
        rt = _result_dtype(input, other)
        if rt.is_floating_point:
            r = _C._unary("trunc", _C._binary("div", input, other))
        else:
            b = other.to(rt) if isinstance(other, Tensor) else other
            q = _C._binary("floor_divide", input.to(rt), b)  # raises ZeroDivisionError like PyTorch
            rem = _C._binary("remainder", input.to(rt), b)
            # floor and trunc differ by one where the remainder is nonzero and the signs differ
            fix = _C._logical("and", rem != 0, _C._compare("ne", input < 0, _C._compare("lt", b, 0)
                                                              if isinstance(b, Tensor) else _C.tensor(b < 0)))
            r = _C._where(fix, _C._binary("add", q, 1), q)
    else:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    return out.copy_(r) if out is not None else r


_DNAME = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool",
          "float16": "Half", "bfloat16": "BFloat16", "int8": "Char", "int16": "Short"}


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return self._binary_("div", other)
    r = div(self, other, rounding_mode=rounding_mode)
    if not can_cast(r.dtype, self.dtype):
        raise RuntimeError(f"result type {_DNAME[str(r.dtype).split('.')[-1]]} can't be cast to the desired output "
                           f"type {_DNAME[str(self.dtype).split('.')[-1]]}")
    return self.copy_(r)


divide = _export(div, "divide")
true_divide = _export(lambda input, other: _C._binary("div", input, other), "true_divide")
floor_divide = _export(lambda input, other: _C._binary("floor_divide", input, other), "floor_divide")
remainder = _export(lambda input, other: _C._binary("remainder", input, other), "remainder")


def _need_tensors(name, input, other):
    for pos, (arg, v) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(v).__name__}")


@_export
def fmod(input, other, *, out=None):
    """``torch.fmod``: C-style remainder (the sign of the dividend). Integer inputs stay integer and
    refuse a zero divisor; float values are exact (``np.fmod``), with gradients 1 and -trunc(a/b)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fmod() received an invalid combination of arguments - got ({type(input).__name__}, "
                        f"{type(other).__name__})")
    shape = broadcast_shapes(input.shape, other.shape if isinstance(other, Tensor) else ())
    rt = _result_dtype(input, other)
    if rt is _C.bool:
        raise NotImplementedError("\"fmod_cpu\" not implemented for 'Bool'")
    a = input.to(rt)
    b = other.to(rt) if isinstance(other, Tensor) else other
    if not rt.is_floating_point:
        if not int(np.prod(shape)):
            return _C._zeros(list(shape), rt)  # nothing is divided (PyTorch checks no divisor then)
        if builtins.bool((b == 0).any() if isinstance(b, Tensor) else b == 0):
            raise RuntimeError("ZeroDivisionError")
        r = _C._binary("remainder", a, b)  # sign of the divisor; move it to the dividend's
        fix = _C._logical("and", r != 0, _C._compare("ne", r < 0, a < 0))
        res = _C._where(fix, _C._binary("sub", r, b), r)
    else:
        an = a.detach().numpy()
        bn = b.detach().numpy() if isinstance(b, Tensor) else np.asarray(b, dtype=an.dtype)
        with np.errstate(all="ignore"):
            val = np.fmod(an, bn)
            q = np.trunc((an - val) / bn)
        res = _C.from_numpy(np.ascontiguousarray(np.broadcast_to(val, tuple(shape))).reshape(tuple(shape)))
        if _C.is_grad_enabled() and (a.requires_grad or (isinstance(b, Tensor) and b.requires_grad)):
            res = res + (a - a.detach())
            if isinstance(b, Tensor):
                qt = _C.from_numpy(np.ascontiguousarray(np.nan_to_num(q, nan=0.0, posinf=0.0, neginf=0.0)))
                res = res - qt * (b - b.detach())
    return out.copy_(res) if out is not None else res


@_export
def maximum(input, other, *, out=None):
    _need_tensors("maximum", input, other)
    r = _C._binary("maximum", input, other)
    return out.copy_(r) if out is not None else r


@_export
def minimum(input, other, *, out=None):
    _need_tensors("minimum", input, other)
    r = _C._binary("minimum", input, other)
    return out.copy_(r) if out is not None else r


def _addc(input, tensor1, tensor2, value, div):
    """``input + value * tensor1 {*,/} tensor2``, computed in the promoted dtype of all three."""
    name = "addcdiv" if div else "addcmul"
    rt = _result_dtype(input, tensor1, tensor2)
    if div and not tensor1.is_floating_point() and not tensor2.is_floating_point():
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a "
            "true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as "
            "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
            "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    if rt is _C.bool:
        raise NotImplementedError(f"\"{name}_cpu_out\" not implemented for 'Bool'")
    if not rt.is_floating_point and isinstance(value, (float, np.floating)):
        value = int(value)  # PyTorch converts the scalar to the integer compute dtype
    t1, t2 = tensor1.to(rt), tensor2.to(rt)
    prod = t1 / t2 if div else t1 * t2
    return prod if value == 1 and not isinstance(value, builtins.bool) else prod * value


@_export
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    r = _C._binary("add", input.to(_result_dtype(input, tensor1, tensor2)), _addc(input, tensor1, tensor2, value, False))
    return out.copy_(r) if out is not None else r


@_export
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    r = _C._binary("add", input.to(_result_dtype(input, tensor1, tensor2)), _addc(input, tensor1, tensor2, value, True))
    return out.copy_(r) if out is not None else r


def _addcmul_(self, tensor1, tensor2, *, value=1):
    return self.add_(_addc(self, tensor1, tensor2, value, False))


def _addcdiv_(self, tensor1, tensor2, *, value=1):
    return self.add_(_addc(self, tensor1, tensor2, value, True))

rsub = _export(lambda input, other, alpha=1: _t(input).rsub(other, alpha), "rsub")


@_export
def pow(input, exponent, *, out=None):
    r = input ** exponent if isinstance(input, Tensor) else _C._binary("pow", input, exponent)
    return out.copy_(r) if out is not None else r


for _n in ("eq", "ne", "lt", "le", "gt", "ge"):
    _export((lambda n: lambda input, other, *, out=None: _C._compare(n, input, other))(_n), _n)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne  # noqa: F821
__all__ += ["greater", "greater_equal", "less", "less_equal", "not_equal"]



def _logical_fn(op):
    def f(input, other, *, out=None):
        _need_tensors(f"logical_{op}", input, other)
        r = _C._logical(op, input, other)
        return out.copy_(r) if out is not None else r

    f.__name__ = f"logical_{op}"
    return f


logical_and = _export(_logical_fn("and"))
logical_or = _export(_logical_fn("or"))
logical_xor = _export(_logical_fn("xor"))
logical_not = _export(lambda input: _t(input).logical_not(), "logical_not")
# bitwise_not and the other bitwise ops are defined in _math_extra.py.


@_export
def where(condition, input=None, other=None):
    """``where(cond, x, y)``: elementwise choice; ``where(cond)`` returns nonzero indices."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    return _C._where(condition, input, other)


@_export
def sum(input, dim=None, keepdim=False, *, dtype=None):
    return input.sum(dim, keepdim, dtype=dtype)


@_export
def mean(input, dim=None, keepdim=False, *, dtype=None):
    return input.mean(dim, keepdim, dtype=dtype)


# (movedim, moveaxis and unflatten come from _shape.py as functions and methods.)
for _n in ("reshape", "permute", "transpose", "squeeze", "unsqueeze", "flatten", "narrow", "select", "t", "detach",
           "clone", "view_as_real", "numel", "swapaxes", "swapdims", "ravel", "lerp", "broadcast_to", "leaky_relu"):
    if hasattr(Tensor, _n):
        _export((lambda n: lambda input, *a, **k: getattr(input, n)(*a, **k))(_n), _n)


@_export
def result_type(tensor1, tensor2):
    return _result_dtype(tensor1, tensor2)


@_export
def promote_types(type1, type2):
    return _C._promote_types(type1, type2)


@_export
def can_cast(from_, to):
    f, t = from_, to
    if f.is_floating_point and not t.is_floating_point:
        return False
    if f is not _C.bool and t is _C.bool:
        return False
    return True


@_export
def broadcast_shapes(*shapes):
    import numpy as np

    from rustgrad._size import Size

    try:
        return Size(np.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,) for s in shapes]))
    except ValueError as e:
        raise RuntimeError(f"shape mismatch: objects cannot be broadcast to a single shape: {e}") from None


@_export
def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


@_export
def is_nonzero(input):
    return bool(input)


@_export
def is_grad_enabled():
    return _C.is_grad_enabled()


# One implementation for function and method (these replace the Tensor-level versions).
Tensor.fmod = fmod
Tensor.maximum = maximum
Tensor.minimum = minimum
Tensor.logical_and = logical_and
Tensor.logical_or = logical_or
Tensor.logical_xor = logical_xor
Tensor.addcmul = addcmul
Tensor.addcdiv = addcdiv
Tensor.addcmul_ = _addcmul_
Tensor.addcdiv_ = _addcdiv_
Tensor.add = add
Tensor.sub = Tensor.subtract = sub
Tensor.div = Tensor.divide = div
Tensor.div_ = _div_
# Augmented assignment writes in place, as in PyTorch (without these `x //= y` rebinds x to a new
# tensor: no result-type check, no write through views).
Tensor.__ifloordiv__ = lambda self, other: self.floor_divide_(other)
Tensor.__imod__ = lambda self, other: self.remainder_(other)
Tensor.__ipow__ = lambda self, other: self.pow_(other)
Tensor.__ixor__ = lambda self, other: self.copy_(self ^ other)
