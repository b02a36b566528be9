"""Shared helpers for the vision datasets."""

import numpy as np

from rustgrad.utils.data import Dataset


def to_image(arr):
    """uint8 HW / HWC array -> PIL Image when Pillow is installed, else the array itself."""
    try:
        from PIL import Image
    except ImportError:
        return arr
    return Image.fromarray(np.ascontiguousarray(arr))


class VisionDataset(Dataset):
    """Base with ``root``/``transform``/``target_transform`` and torchvision's repr."""

    def __init__(self, root, transform=None, target_transform=None):
        self.root = root
        self.transform = transform
        self.target_transform = target_transform

    def _finish(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        lines = [
            f"Dataset {type(self).__name__}",
            f"    Number of datapoints: {len(self)}",
        ]
        if self.root is not None:  # (torchvision leaves the line out for root-less sets)
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
