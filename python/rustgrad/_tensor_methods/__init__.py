"""The Python surface of ``Tensor``, defined in one place.

The native class (``rustgrad._rustgrad.Tensor``) implements the hot paths: arithmetic operators,
views, ``sum``/``mean``, ``backward``. PyTorch's long tail of methods is written in Python, as
real methods with docstrings, in the family modules of this package:

- :mod:`.arithmetic`: named arithmetic, clamp, comparisons, logical and bitwise ops, and one
  method (plus an in-place one) per name of :data:`rustgrad._unary_ops.UNARY_OPS`;
- :mod:`.conversion`: dtype/device conversion, printing, NumPy, pickling, copying;
- :mod:`.construction`: ``new_*``, ``resize_``/``set_``, random fills;
- :mod:`.layout`: view helpers, flags and properties (``is_cuda``-style flags, ``nbytes`` ...);
- :mod:`.math_extra`: bitwise ops and operators, lerp, atan2/hypot/copysign/xlogy, cummax/cummin,
  diff, histc, unfold (over ``rustgrad._math_extra``);
- :func:`function_methods`: the methods that *are* a ``torch.<name>`` function (one
  implementation serves ``torch.gather(x, ...)`` and ``x.gather(...)``), plus the few in-place
  forms of those, defined in :mod:`.functions`.

:func:`install` puts all of them onto the native class, once, after every module they draw on has
been imported; nothing else in the package assigns Tensor attributes, so import order elsewhere
does not matter.
"""

import functools

from rustgrad._rustgrad import Tensor

from .arithmetic import ArithmeticMethods, unary_methods
from .construction import ConstructionMethods
from .conversion import ConversionMethods
from .layout import LayoutMethods
from .math_extra import MathExtraMethods, binary_methods

FAMILIES = (ArithmeticMethods, ConversionMethods, ConstructionMethods, LayoutMethods, MathExtraMethods)

# Class machinery that is not a method to install.
_NOT_METHODS = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__",
                "__static_attributes__"}

_installed = False


def function_methods():
    """``{name: function}`` for the methods implemented by a module-level ``torch`` function
    (and the in-place forms built on them)."""
    from . import functions

    return functions.methods()


@functools.lru_cache(maxsize=None)
def methods():
    """Every Python-level method and property of ``Tensor``, by name (built once)."""
    table = {}
    for family in FAMILIES:
        for name, value in vars(family).items():
            if name not in _NOT_METHODS:
                table[name] = value
    table.update(unary_methods())
    table.update(binary_methods())
    table.update(function_methods())
    # axis=/keepdims= spellings of dim/keepdim, where PyTorch's methods accept them.
    from rustgrad._dim_aliases import method_aliases

    table.update(method_aliases(table))
    return table


def install():
    """Put every Python-level method onto the native ``Tensor`` class (idempotent)."""
    global _installed
    if _installed:
        return
    for name, value in methods().items():
        setattr(Tensor, name, value)
    _installed = True
