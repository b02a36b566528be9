"""rustgrad.vision: datasets and image transforms (``torchvision`` layout)."""

from rustgrad.vision import datasets, transforms

__all__ = ["datasets", "transforms"]
