"""``Tensor`` methods of the math functions in ``rustgrad._math_extra``: the tensor-only binary ops
(atan2, hypot ...), copysign/xlogy, the native bitwise ops and their operators, lerp, cummax/cummin,
diff, histc and ``unfold``."""

from rustgrad import _math_extra as _mx
from rustgrad import _rustgrad as _C


def _commit(self, result):
    return _mx._inplace(self, result)


class MathExtraMethods:
    """Installed onto ``Tensor`` by :func:`rustgrad._tensor_methods.install`."""

    def atan2_(self, other):
        """``atan2_(other)``: :meth:`atan2` in place."""
        return _commit(self, _mx.BINARY_METHODS["atan2"](self, other))

    arctan2_ = atan2_

    def hypot_(self, other):
        """``hypot_(other)``: :meth:`hypot` in place."""
        return _commit(self, _mx.BINARY_METHODS["hypot"](self, other))

    def copysign(self, other):
        """``copysign(other)``: |self| with the sign of ``other``."""
        return _mx.copysign(self, other)

    def copysign_(self, other):
        """``copysign_(other)``: :meth:`copysign` in place."""
        return _commit(self, _mx.copysign(self, other))

    def xlogy(self, other):
        """``xlogy(other)``: ``self * log(other)``, 0 where ``self`` is 0."""
        return _mx.xlogy(self, other)

    def xlogy_(self, other):
        """``xlogy_(other)``: :meth:`xlogy` in place."""
        return _commit(self, _mx.xlogy(self, other))

    def bitwise_and(self, other):
        """``bitwise_and(other)`` / ``self & other`` (integer and bool tensors)."""
        return _C._bitwise("and", self, other)

    def bitwise_or(self, other):
        """``bitwise_or(other)`` / ``self | other``."""
        return _C._bitwise("or", self, other)

    def bitwise_xor(self, other):
        """``bitwise_xor(other)`` / ``self ^ other``."""
        return _C._bitwise("xor", self, other)

    def bitwise_left_shift(self, other):
        """``bitwise_left_shift(other)`` / ``self << other``."""
        return _C._bitwise("left_shift", self, other)

    def bitwise_right_shift(self, other):
        """``bitwise_right_shift(other)`` / ``self >> other`` (arithmetic shift for signed)."""
        return _C._bitwise("right_shift", self, other)

    def bitwise_and_(self, other):
        """``bitwise_and_(other)``: ``self &= other``."""
        return _commit(self, _C._bitwise("and", self, other))

    def bitwise_or_(self, other):
        """``bitwise_or_(other)``: ``self |= other``."""
        return _commit(self, _C._bitwise("or", self, other))

    def bitwise_xor_(self, other):
        """``bitwise_xor_(other)``: ``self ^= other``."""
        return _commit(self, _C._bitwise("xor", self, other))

    def bitwise_left_shift_(self, other):
        """``bitwise_left_shift_(other)``: ``self <<= other``."""
        return _commit(self, _C._bitwise("left_shift", self, other))

    def bitwise_right_shift_(self, other):
        """``bitwise_right_shift_(other)``: ``self >>= other``."""
        return _commit(self, _C._bitwise("right_shift", self, other))

    def bitwise_not(self):
        """``bitwise_not()``: ``~x`` on integers, logical not on bool."""
        return _C._bitwise_not(self)

    def bitwise_not_(self):
        """``bitwise_not_()``: :meth:`bitwise_not` in place."""
        return _commit(self, _C._bitwise_not(self))

    def __invert__(self):
        if self.is_floating_point():
            raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
        return _C._bitwise_not(self)

    __and__ = bitwise_and
    __or__ = bitwise_or
    __xor__ = bitwise_xor
    __lshift__ = bitwise_left_shift
    __rshift__ = bitwise_right_shift
    __iand__ = bitwise_and_
    __ior__ = bitwise_or_
    __ixor__ = bitwise_xor_
    __ilshift__ = bitwise_left_shift_
    __irshift__ = bitwise_right_shift_

    def __rand__(self, other):
        return _C._bitwise("and", other, self)

    def __ror__(self, other):
        return _C._bitwise("or", other, self)

    def __rxor__(self, other):
        return _C._bitwise("xor", other, self)

    def __rlshift__(self, other):
        return _C._bitwise("left_shift", other, self)

    def __rrshift__(self, other):
        return _C._bitwise("right_shift", other, self)

    def lerp(self, end, weight):
        """``lerp(end, weight)``: ``self + weight * (end - self)`` (PyTorch's two-sided form)."""
        return _mx.lerp(self, end, weight)

    def lerp_(self, end, weight):
        """``lerp_(end, weight)``: :meth:`lerp` in place."""
        return self.copy_(_mx.lerp(self, end, weight))

    def cummax(self, dim):
        """``cummax(dim)``: running maximum and its indices along ``dim``."""
        return _mx.cummax(self, dim)

    def cummin(self, dim):
        """``cummin(dim)``: running minimum and its indices along ``dim``."""
        return _mx.cummin(self, dim)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """``diff(n=1, dim=-1, prepend=None, append=None)``: the n-th forward difference."""
        return _mx.diff(self, n, dim, prepend, append)

    def histc(self, bins=100, min=0, max=0):
        """``histc(bins=100, min=0, max=0)``: counts in equal-width bins."""
        return _mx.histc(self, bins, min, max)

    def unfold(self, dimension, size, step):
        """``unfold(dimension, size, step)``: every ``size``-long window of ``dimension``, ``step``
        apart, as a new last dim of a view (windows may overlap; gradients add up)."""
        return _C._unfold(self, dimension, size, step)


def binary_methods():
    """``Tensor.atan2``/``hypot``/``logaddexp``/``logaddexp2`` and ``arctan2``."""
    methods = dict(_mx.BINARY_METHODS)
    methods["arctan2"] = methods["atan2"]
    return methods
