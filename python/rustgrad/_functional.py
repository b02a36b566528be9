"""Module-level math functions (``torch.exp``, ``torch.add``, ``torch.where`` ...)."""

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
           "sign"]:
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


@_export
def add(input, other, *, alpha=1, out=None):
    r = _C._binary("add", input, other * alpha if alpha != 1 else other)
    return out.copy_(r) if out is not None else r


@_export
def sub(input, other, *, alpha=1, out=None):
    r = _C._binary("sub", input, other * alpha if alpha != 1 else other)
    return out.copy_(r) if out is not None else r


subtract = _export(sub, "subtract")


@_export
def mul(input, other, *, out=None):
    r = _C._binary("mul", input, other)
    return out.copy_(r) if out is not None else r


multiply = _export(mul, "multiply")


@_export
def div(input, other, *, rounding_mode=None, out=None):
    r = _t(input).div(other, rounding_mode=rounding_mode)
    return out.copy_(r) if out is not None else r


divide = _export(div, "divide")
true_divide = _export(lambda input, other: _C._binary("div", input, other), "true_divide")
floor_divide = _export(lambda input, other: _C._binary("floor_divide", input, other), "floor_divide")
remainder = _export(lambda input, other: _C._binary("remainder", input, other), "remainder")
fmod = _export(lambda input, other: _t(input).fmod(other), "fmod")
maximum = _export(lambda input, other: _C._binary("maximum", input, other), "maximum")
minimum = _export(lambda input, other: _C._binary("minimum", input, other), "minimum")
rsub = _export(lambda input, other, alpha=1: _t(input).rsub(other, alpha), "rsub")


@_export
def pow(input, exponent, *, out=None):
    r = input ** exponent if isinstance(input, Tensor) else _C._binary("pow", input, exponent)
    return out.copy_(r) if out is not None else r


for _n in ("eq", "ne", "lt", "le", "gt", "ge"):
    _export((lambda n: lambda input, other, *, out=None: _C._compare(n, input, other))(_n), _n)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne  # noqa: F821
__all__ += ["greater", "greater_equal", "less", "less_equal", "not_equal"]

logical_and = _export(lambda input, other: _C._logical("and", input, other), "logical_and")
logical_or = _export(lambda input, other: _C._logical("or", input, other), "logical_or")
logical_xor = _export(lambda input, other: _C._logical("xor", input, other), "logical_xor")
logical_not = _export(lambda input: _t(input).logical_not(), "logical_not")
bitwise_not = _export(lambda input: ~input, "bitwise_not")


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


for _n in ("reshape", "permute", "transpose", "squeeze", "unsqueeze", "flatten", "narrow", "select", "t", "detach",
           "clone", "view_as_real", "numel", "unflatten", "movedim", "moveaxis", "swapaxes", "swapdims", "ravel",
           "addcmul", "addcdiv", "lerp", "broadcast_to", "leaky_relu"):
    if hasattr(Tensor, _n):
        _export((lambda n: lambda input, *a, **k: getattr(input, n)(*a, **k))(_n), _n)


@_export
def result_type(tensor1, tensor2):
    import rustgrad

    a = tensor1 if isinstance(tensor1, Tensor) else None
    b = tensor2 if isinstance(tensor2, Tensor) else None
    if a is None and b is None:
        return (rustgrad.tensor(tensor1) + rustgrad.tensor(tensor2)).dtype
    return (_C._binary("add", (a if a is not None else tensor1) * 0, (b if b is not None else tensor2) * 0)).dtype


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
