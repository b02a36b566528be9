"""Arithmetic, comparison and logical methods of ``Tensor`` (the operators' hot paths are native;
these are PyTorch's named forms and the in-place variants). Bitwise ops, lerp and the newer math
methods are in :mod:`.math_extra`."""

import builtins

from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor
from rustgrad._unary_ops import UNARY_OPS, make_inplace, make_method


def unary_methods():
    """``Tensor.<op>()`` for every unary op without a native method, and ``Tensor.<op>_()``."""
    methods = {}
    for name in UNARY_OPS:
        if name not in vars(Tensor):
            methods[name] = make_method(name)
        methods[name + "_"] = make_inplace(name)
    return methods


def _clamp_bound(v):
    return None if v is None else builtins.float(v)


class ArithmeticMethods:
    """Installed onto ``Tensor`` by :func:`rustgrad._tensor_methods.install`."""

    def round(self, decimals=0):
        """``round(decimals=0)``: round half to even, at ``decimals`` decimal places."""
        if decimals == 0:
            return _C._unary("round", self)
        s = 10.0 ** decimals
        return _C._unary("round", self * s) / s

    def round_(self, decimals=0):
        """``round_(decimals=0)``: :meth:`round` in place."""
        if decimals == 0 or self.requires_grad:
            return _C._unary_("round", self)
        return self.copy_(ArithmeticMethods.round(self, decimals))

    def clamp(self, min=None, max=None):
        """``clamp(min=None, max=None)``: elementwise limits (numbers or tensors). A float bound
        promotes an integer tensor, as PyTorch does."""
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
            self = self.to(_C.float32)
        return _C._unary("clamp", self, _clamp_bound(min), _clamp_bound(max))

    clip = clamp

    def clamp_(self, min=None, max=None):
        """``clamp_(min=None, max=None)``: :meth:`clamp` in place."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            return self.copy_(ArithmeticMethods.clamp(self, min, max))
        return _C._unary_("clamp", self, _clamp_bound(min), _clamp_bound(max))

    clip_ = clamp_

    def clamp_min(self, min):
        """``clamp_min(min)``: ``clamp(min=min)``."""
        return ArithmeticMethods.clamp(self, min=min)

    def clamp_max(self, max):
        """``clamp_max(max)``: ``clamp(max=max)``."""
        return ArithmeticMethods.clamp(self, max=max)

    def pow(self, exponent):
        """``pow(exponent)``: ``self ** exponent``."""
        return self ** exponent

    def pow_(self, exponent):
        """``pow_(exponent)``: ``self **= exponent`` in place."""
        return self._binary_("pow", exponent)

    def leaky_relu(self, negative_slope=0.01):
        """``leaky_relu(negative_slope=0.01)``: x where x > 0, else ``negative_slope * x``."""
        return _C._unary("leaky_relu", self, negative_slope)

    def mul(self, other):
        """``mul(other)``: ``self * other``."""
        return self * other

    multiply = mul

    def true_divide(self, other):
        """``true_divide(other)``: ``self / other``."""
        return self / other

    def floor_divide(self, other):
        """``floor_divide(other)``: ``self // other`` (rounds toward minus infinity)."""
        return self // other

    def remainder(self, other):
        """``remainder(other)``: ``self % other`` (Python's sign convention)."""
        return self % other

    def rsub(self, other, alpha=1):
        """``rsub(other, alpha=1)``: ``other - alpha * self``."""
        return other - self * alpha

    def add_(self, other, *, alpha=1):
        """``add_(other, *, alpha=1)``: ``self += alpha * other`` in place."""
        return self._binary_("add", other, alpha)

    def sub_(self, other, *, alpha=1):
        """``sub_(other, *, alpha=1)``: ``self -= alpha * other`` in place."""
        return self._binary_("sub", other, alpha)

    def mul_(self, other):
        """``mul_(other)``: ``self *= other`` in place."""
        return self._binary_("mul", other)

    def remainder_(self, other):
        """``remainder_(other)``: ``self %= other`` in place."""
        return self._binary_("remainder", other)

    def floor_divide_(self, other):
        """``floor_divide_(other)``: ``self //= other`` in place."""
        return self._binary_("floor_divide", other)

    # Augmented assignment writes in place, as in PyTorch (without these `x //= y` would rebind x
    # to a new tensor: no result-type check, no write through views).
    def __ifloordiv__(self, other):
        return self.floor_divide_(other)

    def __imod__(self, other):
        return self.remainder_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    # ---- comparisons

    def eq(self, other):
        """``eq(other)``: elementwise ``self == other`` (bool)."""
        return _C._compare("eq", self, other)

    def ne(self, other):
        """``ne(other)``: elementwise ``self != other`` (bool)."""
        return _C._compare("ne", self, other)

    def lt(self, other):
        """``lt(other)``: elementwise ``self < other`` (bool)."""
        return _C._compare("lt", self, other)

    def le(self, other):
        """``le(other)``: elementwise ``self <= other`` (bool)."""
        return _C._compare("le", self, other)

    def gt(self, other):
        """``gt(other)``: elementwise ``self > other`` (bool)."""
        return _C._compare("gt", self, other)

    def ge(self, other):
        """``ge(other)``: elementwise ``self >= other`` (bool)."""
        return _C._compare("ge", self, other)

    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

    def eq_(self, other):
        """``eq_(other)``: ``self == other`` written into ``self`` (as 0/1 in its dtype)."""
        return self.copy_(_C._compare("eq", self, other))

    def ne_(self, other):
        """``ne_(other)``: ``self != other`` written into ``self``."""
        return self.copy_(_C._compare("ne", self, other))

    def lt_(self, other):
        """``lt_(other)``: ``self < other`` written into ``self``."""
        return self.copy_(_C._compare("lt", self, other))

    def le_(self, other):
        """``le_(other)``: ``self <= other`` written into ``self``."""
        return self.copy_(_C._compare("le", self, other))

    def gt_(self, other):
        """``gt_(other)``: ``self > other`` written into ``self``."""
        return self.copy_(_C._compare("gt", self, other))

    def ge_(self, other):
        """``ge_(other)``: ``self >= other`` written into ``self``."""
        return self.copy_(_C._compare("ge", self, other))

    # ---- logical

    def logical_not(self):
        """``logical_not()``: elementwise ``not`` (bool result)."""
        return _C._compare("eq", self.bool(), False)


