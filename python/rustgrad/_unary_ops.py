"""The elementwise unary ops that share one native entry point (``_C._unary``): the one list of
their names, and the function, method and in-place method made for each.

``torch.<name>(input, *, out=None)``, ``Tensor.<name>()`` and ``Tensor.<name>_()`` all come from
here, so adding a name to :data:`UNARY_OPS` (with its Rust kernel) adds all three.
"""

from rustgrad import _out
from rustgrad import _rustgrad as _C

#: Unary ops computed by the native kernels, by their PyTorch names (aliases included).
UNARY_OPS = (
    "neg", "negative", "abs", "absolute", "exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "sin",
    "cos", "tan", "tanh", "sigmoid", "relu", "erf", "floor", "ceil", "trunc", "reciprocal", "square", "sign",
    "acos", "arccos", "asin", "arcsin", "atan", "arctan", "acosh", "arccosh", "asinh", "arcsinh", "atanh",
    "arctanh", "sinh", "cosh", "exp2", "frac",
)


def make_function(name):
    """``torch.<name>(input, *, out=None)``."""
    def fn(input, *, out=None):
        if out is not None:
            return _out.unary(name, input, out)
        return _C._unary(name, input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input, *, out=None)``: elementwise {name} (``out=`` is written in place)."
    return fn


def make_method(name):
    """``Tensor.<name>()``."""
    def method(self):
        return _C._unary(name, self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``Tensor.{name}()``: elementwise {name} (see ``torch.{name}``)."
    return method


def make_inplace(name):
    """``Tensor.<name>_()``: the op written into ``self``."""
    def method(self):
        return _C._unary_(name, self)

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``Tensor.{name}_()``: elementwise {name} in place."
    return method
