"""Padding modules (``torch.nn.modules.padding``): thin wrappers over ``F.pad``.

An int ``padding`` pads every side of the last 1/2/3 dims by that amount; a tuple is
(left, right[, top, bottom[, front, back]]) as in ``F.pad``.
"""

from rustgrad.nn import functional as F
from rustgrad.nn.modules.module import Module

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]


def _ntuple_padding(padding, n):
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    return tuple(padding)  # a wrong length is reported by F.pad at forward time, as in PyTorch


class _PadNd(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple_padding(padding, self.dims)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``."""

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with ``value``."""

    dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""

    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dims with zeros."""

    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dims with zeros."""

    dims = 3


class _ReflectionPadNd(_PadNd):
    mode = "reflect"


class _ReplicationPadNd(_PadNd):
    mode = "replicate"


class _CircularPadNd(_PadNd):
    mode = "circular"


class ReflectionPad1d(_ReflectionPadNd):
    """Pads the last dim with its reflection (edge not repeated)."""

    dims = 1


class ReflectionPad2d(_ReflectionPadNd):
    """Pads the last two dims with their reflection."""

    dims = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Pads the last three dims with their reflection."""

    dims = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Pads the last dim by repeating its edge value."""

    dims = 1


class ReplicationPad2d(_ReplicationPadNd):
    """Pads the last two dims by repeating their edge values."""

    dims = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Pads the last three dims by repeating their edge values."""

    dims = 3


class CircularPad1d(_CircularPadNd):
    """Pads the last dim by wrapping around."""

    dims = 1


class CircularPad2d(_CircularPadNd):
    """Pads the last two dims by wrapping around."""

    dims = 2


class CircularPad3d(_CircularPadNd):
    """Pads the last three dims by wrapping around."""

    dims = 3
