"""MNIST-format datasets read from IDX files (plain or gzip)."""

import gzip
import math
import os
import struct

import numpy as np

import rustgrad
from rustgrad.vision.datasets._common import VisionDataset, to_image

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_NAMES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def read_idx(path, dtype_code=None, ndim=None):
    """Parse an IDX file (optionally .gz) into a NumPy array. The header must be well formed and
    the data must fill the rest of the file exactly; ``dtype_code``/``ndim``, when given, are the
    type code (0x08 for uint8) and number of dimensions the file must declare. Malformed files raise
    ``RuntimeError`` naming the file."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            buf = f.read()
    except (OSError, EOFError) as e:  # unreadable or corrupt gzip stream
        raise RuntimeError(f"{path}: cannot read IDX file: {e}") from None
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{path}: not an IDX file (bad magic number)")
    code, nd = buf[2], buf[3]
    if dtype_code is not None and code != dtype_code:
        raise RuntimeError(
            f"{path}: IDX type code 0x{code:02X} ({_IDX_NAMES[code]}), expected 0x{dtype_code:02X} "
            f"({_IDX_NAMES[dtype_code]})"
        )
    if ndim is not None and nd != ndim:
        raise RuntimeError(f"{path}: IDX file has {nd} dimensions, expected {ndim}")
    start = 4 + 4 * nd
    if len(buf) < start:
        raise RuntimeError(
            f"{path}: truncated IDX header ({nd} dimensions declared, file is {len(buf)} bytes)"
        )
    dims = tuple(int(d) for d in struct.unpack(f">{nd}i", buf[4:start]))
    if any(d < 0 for d in dims):
        raise RuntimeError(f"{path}: negative dimension in IDX header {dims}")
    dt = np.dtype(_IDX_DTYPES[code])
    n = math.prod(dims)  # exact: the header cannot overflow a size computation
    need = start + n * dt.itemsize
    if len(buf) < need:
        raise RuntimeError(
            f"{path}: truncated IDX file (expected {n} items of shape {dims}, {need} bytes; file is {len(buf)} bytes)"
        )
    if len(buf) > need:
        raise RuntimeError(
            f"{path}: IDX file has {len(buf) - need} bytes after the {n} items of shape {dims}"
        )
    arr = np.frombuffer(buf, dtype=dt, count=n, offset=start).reshape(dims)
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
        # Like torchvision: images are (N, H, W) uint8 (type code 0x08), labels (N,) uint8.
        images = read_idx(img_path, dtype_code=0x08, ndim=3)
        labels = read_idx(lbl_path, dtype_code=0x08, ndim=1)
        if len(images) != len(labels):
            raise RuntimeError(
                f"{type(self).__name__}: {img_path} holds {len(images)} images but {lbl_path} holds "
                f"{len(labels)} labels"
            )
        self._images = np.ascontiguousarray(images)
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
