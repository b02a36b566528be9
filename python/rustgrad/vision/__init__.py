"""rustgrad.vision: datasets and image transforms (``torchvision`` layout)."""

from rustgrad.vision import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
