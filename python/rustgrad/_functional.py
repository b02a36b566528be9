"""Module-level math functions (``torch.exp``, ``torch.add``, ``torch.where`` ...).

Where PyTorch's ``Tensor`` method and function share argument rules (fmod, addcmul, maximum,
logical_and ...) one implementation here serves both (bound onto ``Tensor`` at the end)."""

import builtins

import numpy as np

from rustgrad import _out
from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor
from rustgrad._unary_ops import UNARY_OPS, make_function

__all__ = []


def _export(fn, name=None):
    name = name or fn.__name__
    globals()[name] = fn
    __all__.append(name)
    return fn


def _inplace_fn(name):
    """``torch.<name>_(input)``: ``input.<name>_()``."""
    def fn(input):
        return getattr(input, name + "_")()

    fn.__name__ = fn.__qualname__ = name + "_"
    fn.__doc__ = f"``torch.{name}_(input)``: elementwise {name} written into ``input``."
    return fn


for _n in UNARY_OPS:
    _export(make_function(_n))
    _export(_inplace_fn(_n))


def _t(x):
    return x if isinstance(x, Tensor) else _C.tensor(x)


@_export
@_out.supports_out("round", _out.SAME_FOUND)
def round(input, *, decimals=0):
    """``torch.round(input, *, decimals=0, out=None)``: round half to even."""
    return input.round(decimals)


@_export
@_out.supports_out("clamp", _out.SAME_FOUND)
def clamp(input, min=None, max=None):
    """``torch.clamp(input, min=None, max=None, *, out=None)``: elementwise limits."""
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


def _scaled_out(name, input, other, alpha, out):
    """``input op alpha * other`` into ``out``: native when ``alpha`` is 1, else the scaled
    operand is formed first (PyTorch's alpha checks included) and the op then writes into out."""
    if alpha.__class__ is int and alpha == 1:
        return _out.binary(name, name, input, other, out)
    _out.check_grad(name, out, input, other)
    return _out.write(out, _scaled(name, input, other, alpha))


@_export
def add(input, other, *, alpha=1, out=None):
    """``torch.add(input, other, *, alpha=1, out=None)``: ``input + alpha * other``."""
    if out is not None:
        return _scaled_out("add", input, other, alpha, out)
    return _scaled("add", input, other, alpha)


@_export
def sub(input, other, *, alpha=1, out=None):
    """``torch.sub(input, other, *, alpha=1, out=None)``: ``input - alpha * other``."""
    if out is not None:
        return _scaled_out("sub", input, other, alpha, out)
    return _scaled("sub", input, other, alpha)


subtract = _export(sub, "subtract")


@_export
def mul(input, other, *, out=None):
    """``torch.mul(input, other, *, out=None)``: ``input * other``."""
    if out is not None:
        return _out.binary("mul", "mul", input, other, out)
    return _C._binary("mul", input, other)


multiply = _export(mul, "multiply")


@_export
def div(input, other, *, rounding_mode=None, out=None):
    """``torch.div``: true division, or ``rounding_mode='floor'`` / ``'trunc'`` (integer inputs stay
    integer, computed exactly, and refuse a zero divisor)."""
    input = _t(input)
    if out is not None:
        if rounding_mode in (None, "floor"):
            return _out.binary("div", "div" if rounding_mode is None else "floor_divide", input, other, out)
        return _div_trunc_out(input, other, out=out)
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
    return r


@_out.supports_out("div")
def _div_trunc_out(input, other):
    return div(input, other, rounding_mode="trunc")


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


def _native_binary(name, op, doc):
    def fn(input, other, *, out=None):
        if out is not None:
            return _out.binary(name, op, input, other, out)
        return _C._binary(op, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return _export(fn)


true_divide = _native_binary("true_divide", "div", "``torch.true_divide(input, other, *, out=None)``: ``input / other``.")
floor_divide = _native_binary("floor_divide", "floor_divide",
                              "``torch.floor_divide(input, other, *, out=None)``: ``input // other``.")
remainder = _native_binary("remainder", "remainder",
                           "``torch.remainder(input, other, *, out=None)``: ``input % other`` (Python's sign).")


def _need_tensors(name, input, other):
    for pos, (arg, v) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(v).__name__}")


@_export
@_out.supports_out("fmod")
def fmod(input, other):
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
    return res


@_export
def maximum(input, other, *, out=None):
    """``torch.maximum(input, other, *, out=None)``: elementwise maximum (NaN propagates)."""
    _need_tensors("maximum", input, other)
    if out is not None:
        return _out.binary("maximum", "maximum", input, other, out)
    return _C._binary("maximum", input, other)


@_export
def minimum(input, other, *, out=None):
    """``torch.minimum(input, other, *, out=None)``: elementwise minimum (NaN propagates)."""
    _need_tensors("minimum", input, other)
    if out is not None:
        return _out.binary("minimum", "minimum", input, other, out)
    return _C._binary("minimum", input, other)


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
@_out.supports_out("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1):
    """``torch.addcmul(input, tensor1, tensor2, *, value=1, out=None)``: ``input + value * tensor1 * tensor2``."""
    return _C._binary("add", input.to(_result_dtype(input, tensor1, tensor2)), _addc(input, tensor1, tensor2, value, False))


@_export
@_out.supports_out("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``torch.addcdiv(input, tensor1, tensor2, *, value=1, out=None)``: ``input + value * tensor1 / tensor2``."""
    return _C._binary("add", input.to(_result_dtype(input, tensor1, tensor2)), _addc(input, tensor1, tensor2, value, True))


def _addcmul_(self, tensor1, tensor2, *, value=1):
    return self.add_(_addc(self, tensor1, tensor2, value, False))


def _addcdiv_(self, tensor1, tensor2, *, value=1):
    return self.add_(_addc(self, tensor1, tensor2, value, True))

rsub = _export(lambda input, other, alpha=1: _t(input).rsub(other, alpha), "rsub")


@_export
def pow(input, exponent, *, out=None):
    """``torch.pow(input, exponent, *, out=None)``: ``input ** exponent`` (either may be a number)."""
    if out is not None:
        return _out.binary("pow", "pow", input, exponent, out)
    return input ** exponent if isinstance(input, Tensor) else _C._binary("pow", input, exponent)


def _compare_fn(name):
    @_out.supports_out(name, _out.ANY)
    def fn(input, other):
        return _C._compare(name, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input, other, *, out=None)``: elementwise comparison (bool result)."
    return fn


for _n in ("eq", "ne", "lt", "le", "gt", "ge"):
    _export(_compare_fn(_n))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne  # noqa: F821
__all__ += ["greater", "greater_equal", "less", "less_equal", "not_equal"]



def _logical_fn(op):
    @_out.supports_out(f"logical_{op}", _out.ANY)
    def f(input, other):
        _need_tensors(f"logical_{op}", input, other)
        return _C._logical(op, input, other)

    f.__name__ = f.__qualname__ = f"logical_{op}"
    f.__doc__ = f"``torch.logical_{op}(input, other, *, out=None)``: elementwise logical {op} (bool result)."
    return f


logical_and = _export(_logical_fn("and"))
logical_or = _export(_logical_fn("or"))
logical_xor = _export(_logical_fn("xor"))
@_export
@_out.supports_out("logical_not", _out.ANY)
def logical_not(input):
    """``torch.logical_not(input, *, out=None)``: elementwise ``not`` (bool result)."""
    return _t(input).logical_not()

# bitwise_not and the other bitwise ops are defined in _math_extra.py.


@_export
def where(condition, input=None, other=None, *, out=None):
    """``where(cond, x, y, *, out=None)``: elementwise choice; ``where(cond)`` returns nonzero indices."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if out is not None:
        return _where_out(condition, input, other, out=out)
    return _C._where(condition, input, other)


@_out.supports_out("where", _out.SAME_WHERE)
def _where_out(condition, input, other):
    return _C._where(condition, input, other)


@_export
@_out.supports_out("sum", _out.ANY)
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """``torch.sum(input, dim=None, keepdim=False, *, dtype=None, out=None)``."""
    return input.sum(dim, keepdim, dtype=dtype)


@_export
@_out.supports_out("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """``torch.mean(input, dim=None, keepdim=False, *, dtype=None, out=None)``."""
    return input.mean(dim, keepdim, dtype=dtype)


def _method_as_function(name):
    """``torch.<name>(input, ...)`` as ``input.<name>(...)`` (looked up when called)."""
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``."
    return fn


# (movedim, moveaxis and unflatten come from _shape.py as functions and methods.)
for _n in ("reshape", "permute", "transpose", "squeeze", "unsqueeze", "flatten", "narrow", "select", "t", "detach",
           "clone", "numel", "swapaxes", "swapdims", "ravel", "lerp", "broadcast_to", "leaky_relu"):
    _export(_method_as_function(_n))


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
