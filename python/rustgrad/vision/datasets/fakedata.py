"""FakeData: random images with random labels, for programs that run without a data set."""

import rustgrad
from rustgrad.vision.datasets._common import VisionDataset
from rustgrad.vision.transforms.functional import to_pil_image

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random PIL images of shape ``image_size`` (C, H, W) with labels in [0, num_classes).

    As ``torchvision.datasets.FakeData``: sample ``i`` is drawn from a generator seeded with
    ``i + random_offset`` (a normal image, then the label), so it is the same on every access and
    in every process, and the global random state is left untouched. The float image becomes a
    PIL image the way ``ToPILImage`` converts floats (``x * 255`` cast to uint8). The target is
    a Python int.
    """

    def __init__(
        self,
        size=1000,
        image_size=(3, 224, 224),
        num_classes=10,
        transform=None,
        target_transform=None,
        random_offset=0,
    ):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        gen = rustgrad.Generator().manual_seed(index + self.random_offset)
        img = rustgrad.randn(*self.image_size, generator=gen)
        target = rustgrad.randint(0, self.num_classes, size=(1,), dtype=rustgrad.int64, generator=gen)[0]
        return self._finish(to_pil_image(img), int(target.item()))

    def __len__(self):
        return self.size
