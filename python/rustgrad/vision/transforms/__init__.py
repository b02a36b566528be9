"""Image transforms (``torchvision.transforms``)."""

from rustgrad.vision.transforms import functional
from rustgrad.vision.transforms.transforms import *  # noqa: F403
from rustgrad.vision.transforms.transforms import __all__ as _all

__all__ = ["functional", *_all]
