"""CIFAR-10/100 from the python-pickle batches, loaded WITHOUT executing code from the files."""

import os
import pickle

import numpy as np

import rustgrad
from rustgrad.vision.datasets._common import VisionDataset, to_image


def _reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _scalar(dtype, data):
    return np.frombuffer(data, dtype=dtype, count=1)[0]


class RestrictedUnpickler(pickle.Unpickler):
    """Allows only the globals a NumPy-array pickle needs; anything else is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.multiarray", "scalar"): _scalar,
        ("numpy._core.multiarray", "scalar"): _scalar,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): lambda s, enc="latin1": s.encode("latin1"),
    }

    def find_class(self, module, name):
        fn = self._ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden in dataset files")
        return fn


def safe_load_pickle(path):
    """Unpickle a CIFAR batch file with the restricted unpickler (bytes keys, latin1 strings)."""
    with open(path, "rb") as f:
        return RestrictedUnpickler(f, encoding="latin1").load()


class CIFAR10(VisionDataset):
    """CIFAR-10 from ``root/cifar-10-batches-py/`` (data_batch_1..5, test_batch, batches.meta)."""

    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        root = os.path.expanduser(os.fspath(root))
        super().__init__(root, transform, target_transform)
        self.train = train
        folder = os.path.join(root, self.base_folder)
        names = self.train_list if train else self.test_list
        missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
        if missing:
            raise RuntimeError(
                f"Dataset not found or corrupted: missing {', '.join(missing)} in {folder}"
                + (
                    "; rustgrad does not download datasets (no network access)"
                    if download
                    else ". You can use download=True to see where to put them."
                )
            )
        data, targets = [], []
        for n in names:
            entry = safe_load_pickle(os.path.join(folder, n))
            data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            targets.extend(int(x) for x in entry.get(self.label_key, entry.get("fine_labels", [])))
        self._images = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))  # NHWC
        self.data = self._images  # torchvision keeps a NumPy array here
        self.targets = targets
        meta = os.path.join(folder, self.meta_file)
        if os.path.isfile(meta):
            self.classes = list(safe_load_pickle(meta)[self.meta_key])
        else:
            self.classes = [str(i) for i in range(max(targets) + 1 if targets else 0)]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self._finish(to_image(self._images[index]), self.targets[index])


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from ``root/cifar-100-python/``."""

    base_folder = "cifar-100-python"
    train_list = ["train"]
    test_list = ["test"]
    meta_file = "meta"
    meta_key = "fine_label_names"
    label_key = "fine_labels"


_ = rustgrad  # keep the package import explicit for users reading the module
