"""MNIST-format datasets read from IDX files (plain or gzip)."""

import gzip
import os

import numpy as np

import rustgrad
from rustgrad.vision.datasets._common import VisionDataset, to_image

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Parse an IDX file (optionally .gz) into a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{path}: not an IDX file (bad magic number)")
    ndim = buf[3]
    dims = np.frombuffer(buf, dtype=">i4", count=ndim, offset=4).astype(np.int64)
    dt = np.dtype(_IDX_DTYPES[buf[2]])
    n = int(np.prod(dims)) if ndim else 1
    start = 4 + 4 * ndim
    if len(buf) - start < n * dt.itemsize:
        raise RuntimeError(f"{path}: truncated IDX file (expected {n} items of shape {tuple(dims)})")
    arr = np.frombuffer(buf, dtype=dt, count=n, offset=start).reshape(tuple(dims))
    return arr.astype(dt.newbyteorder("="))


class MNIST(VisionDataset):
    """MNIST digits. Looks for the IDX files (raw or .gz) in ``root/<ClassName>/raw/`` (torchvision
    layout), ``root/raw/`` or directly in ``root`` (e.g. Debian's /usr/share/datasets layout)."""

    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]
    _files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        root = os.path.expanduser(os.fspath(root))
        super().__init__(root, transform, target_transform)
        self.train = train
        img_name, lbl_name = self._files[bool(train)]
        img_path, lbl_path = self._find(img_name), self._find(lbl_name)
        if img_path is None or lbl_path is None:
            where = os.path.join(self.raw_folder, img_name)
            msg = (
                f"{type(self).__name__} files not found. Put {img_name}[.gz] and {lbl_name}[.gz] "
                f"in {self.raw_folder} (or directly in {root})"
            )
            if download:
                raise RuntimeError(
                    msg
                    + f"; rustgrad does not download datasets (no network access), expected e.g. {where}.gz"
                )
            raise RuntimeError(msg + ". You can use download=True to see where to put them.")
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: inconsistent files {img_path} {lbl_path}")
        self._images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = labels.astype(np.int64)
        self.data = rustgrad.from_numpy(self._images)
        self.targets = rustgrad.from_numpy(self._labels)

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _find(self, name):
        for d in (self.raw_folder, os.path.join(self.root, "raw"), self.root):
            for suffix in ("", ".gz"):
                p = os.path.join(d, name + suffix)
                if os.path.isfile(p):
                    return p
        return None

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        img, target = to_image(self._images[index]), int(self._labels[index])
        return self._finish(img, target)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (same file format as MNIST)."""

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


class KMNIST(MNIST):
    """Kuzushiji-MNIST."""

    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
