"""Data pipeline robustness: DataLoader timeouts and prompt shutdown, dataset readers that refuse
malformed files, and BatchNorm's running statistics (unbiased running_var, as in PyTorch)."""

import gc
import gzip
import io
import os
import pickle
import struct
import threading
import time

import numpy as np
import pytest
import rustgrad
from conftest import requires_torch, torch
from rustgrad import nn
from rustgrad.nn import functional as F
from rustgrad.utils.data import DataLoader, Dataset, IterableDataset
from rustgrad.vision import datasets


# -- DataLoader: timeout and prompt shutdown ---------------------------------------------------
class Stuck(Dataset):
    """Items below ``fast`` return at once; the others block (30 s, or until released)."""

    def __init__(self, n=16, fast=1, delay=30.0):
        self.n, self.fast, self.delay = n, fast, delay
        self.release = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.calls += 1
        if i >= self.fast:
            self.release.wait(self.delay)
        return np.float32(i)


@pytest.fixture
def stuck():
    ds = Stuck()
    yield ds
    ds.release.set()  # let abandoned worker threads finish


@pytest.mark.parametrize("batch_size", [1, 3])
def test_timeout_raises_after_timeout_not_after_the_stuck_item(stuck, batch_size):
    stuck.fast = batch_size  # the first batch is fast, the second is stuck
    t0 = time.monotonic()
    got = []
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 1 seconds$"):
        for b in DataLoader(stuck, batch_size=batch_size, num_workers=2, timeout=1):
            got.append(b)
    elapsed = time.monotonic() - t0
    assert len(got) == 1 and 0.9 <= elapsed < 4, elapsed


def test_timeout_on_the_first_batch(stuck):
    stuck.fast = 0
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(iter(DataLoader(stuck, batch_size=2, num_workers=3, timeout=0.5)))
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("num_workers", [1, 3])
def test_break_does_not_wait_for_in_flight_items(stuck, batch_size, num_workers):
    stuck.fast = batch_size
    loader = DataLoader(stuck, batch_size=batch_size, num_workers=num_workers)
    t0 = time.monotonic()
    for b in loader:
        assert b.shape[0] == batch_size
        break
    assert time.monotonic() - t0 < 1.5


def test_del_and_gc_of_iterator_return_promptly(stuck):
    it = iter(DataLoader(stuck, batch_size=1, num_workers=2))
    assert next(it).item() == 0.0
    t0 = time.monotonic()
    del it
    gc.collect()
    assert time.monotonic() - t0 < 1.0

    def consume():  # the iterator dies with the frame that raised
        for _ in DataLoader(stuck, batch_size=1, num_workers=2):
            raise KeyError("stop")

    t0 = time.monotonic()
    with pytest.raises(KeyError):
        consume()
    gc.collect()
    assert time.monotonic() - t0 < 1.5


class Counting(Dataset):
    def __init__(self, n=64, delay=0.05):
        self.n, self.delay, self.calls = n, delay, 0
        self.lock = threading.Lock()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.lock:
            self.calls += 1
        time.sleep(self.delay)
        return np.float32(i)


def test_abandoned_batches_stop_at_the_next_sample():
    ds = Counting()
    for _ in DataLoader(ds, batch_size=8, num_workers=2):  # 4 batches of 8 in flight
        break
    at_break = ds.calls
    time.sleep(0.4)  # long enough for several more samples, were the workers still going
    assert ds.calls <= at_break + 2, (at_break, ds.calls)  # each worker ends its current sample only


def test_persistent_workers_survive_an_early_break():
    ds = Counting(n=12, delay=0.002)
    dl = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True)
    for _ in dl:
        break
    assert [b.tolist() for b in dl] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]


def test_worker_threads_exit_with_their_loader():
    before = set(threading.enumerate())
    ds = Counting(n=8, delay=0.0)
    dl = DataLoader(ds, batch_size=2, num_workers=3, persistent_workers=True)
    assert len(list(dl)) == 4 and len(list(dl)) == 4
    for _ in DataLoader(ds, batch_size=2, num_workers=2):  # not persistent: gone after the loop
        pass
    del dl
    gc.collect()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and set(threading.enumerate()) - before:
        time.sleep(0.02)
    assert not set(threading.enumerate()) - before


class StuckStream(IterableDataset):
    def __init__(self, release):
        self.release = release

    def __iter__(self):
        yield np.float32(0)
        self.release.wait(30)
        yield np.float32(1)


def test_iterable_dataset_timeout_and_break():
    release = threading.Event()
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="timed out after 1 seconds"):
            list(DataLoader(StuckStream(release), batch_size=None, num_workers=1, timeout=1))
        assert time.monotonic() - t0 < 4
        t0 = time.monotonic()
        for _ in DataLoader(StuckStream(release), batch_size=None, num_workers=2, prefetch_factor=1):
            break
        assert time.monotonic() - t0 < 1.5
    finally:
        release.set()


_PROC_DATASET = """
import time
import numpy as np


class StuckProc:
    def __init__(self, n, fast, delay):
        self.n, self.fast, self.delay = n, fast, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.fast:
            time.sleep(self.delay)
        return np.float32(i)
"""


def test_process_workers_timeout_and_break(tmp_path, monkeypatch):
    # The dataset lives in a tiny module of its own, so spawned workers start fast (importing this
    # test module would import torch in every worker).
    (tmp_path / "trust_stuck_ds.py").write_text(_PROC_DATASET)
    monkeypatch.syspath_prepend(str(tmp_path))
    from trust_stuck_ds import StuckProc

    ds = StuckProc(8, 2, 30)
    t0 = time.monotonic()
    got = []
    with pytest.raises(RuntimeError, match="timed out after 4 seconds"):
        for b in DataLoader(ds, batch_size=1, num_workers=2, timeout=4, multiprocessing_context="spawn"):
            got.append(b.item())
    assert got == [0.0, 1.0] and time.monotonic() - t0 < 15
    for _ in DataLoader(ds, batch_size=1, num_workers=2, multiprocessing_context="spawn"):
        t0 = time.monotonic()
        break
    assert time.monotonic() - t0 < 3  # workers stuck in __getitem__ are terminated, not awaited


def test_timeout_argument_checked():
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(Stuck(), timeout=-1)


# -- MNIST-format readers ----------------------------------------------------------------------
_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr, code=None, dims=None):
    code = _CODES[arr.dtype.type] if code is None else code
    dims = arr.shape if dims is None else dims
    header = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_mnist(folder, images=None, labels=None, gz=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8) if images is None else images
    labels = rng.integers(0, 10, 5).astype(np.uint8) if labels is None else labels
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, blob in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        blob = blob if isinstance(blob, bytes) else idx_bytes(blob)
        p = os.path.join(folder, name + (".gz" if gz else ""))
        with (gzip.open if gz else open)(p, "wb") as f:
            f.write(blob)
        paths.append(p)
    return paths


_IMGS = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 256
_LBLS = np.array([3, 1, 4, 1, 5])
MNIST_BAD = {
    # name: (images, labels, which file the message must name, message regex)
    "float32_images": (_IMGS.astype(np.float32), None, "images", r"0x0D \(float32\), expected 0x08"),
    "float64_images": (_IMGS.astype(np.float64), None, "images", "0x0E"),
    "int32_images": (_IMGS.astype(np.int32), None, "images", "0x0C"),
    "int8_labels": (None, _LBLS.astype(np.int8), "labels", "0x09"),
    "int32_labels": (None, _LBLS.astype(np.int32), "labels", "0x0C"),
    "float_labels": (None, _LBLS.astype(np.float32), "labels", "0x0D"),
    "count_mismatch": (None, _LBLS[:4].astype(np.uint8), "labels", "5 images but .* 4 labels"),
    "images_2d": (_IMGS[0].astype(np.uint8), None, "images", "2 dimensions, expected 3"),
    "labels_2d": (None, _LBLS.reshape(5, 1).astype(np.uint8), "labels", "2 dimensions, expected 1"),
    "trailing_bytes": (idx_bytes(_IMGS.astype(np.uint8)) + b"\0\0\0", None, "images", "3 bytes after"),
    "truncated_data": (idx_bytes(_IMGS.astype(np.uint8))[:-1], None, "images", "truncated"),
    "truncated_header": (bytes([0, 0, 8, 3, 0, 0, 0, 5]), None, "images", "truncated IDX header"),
    "negative_dim": (bytes([0, 0, 8, 3]) + struct.pack(">3i", -5, 28, 28), None, "images", "negative"),
    "dims_overflow_int64": (
        bytes([0, 0, 8, 3]) + struct.pack(">3i", 2**31 - 1, 2**31 - 1, 2**31 - 1),
        None,
        "images",
        "truncated",
    ),
    "bad_magic": (b"\x01\x02\x03\x04" + b"\0" * 16, None, "images", "magic"),
    "empty_file": (b"", None, "images", "magic"),
    "unknown_type_code": (bytes([0, 0, 0x0A, 1, 0, 0, 0, 0]), None, "images", "magic"),
}


@pytest.mark.parametrize(
    "cls", [datasets.MNIST, datasets.FashionMNIST, datasets.KMNIST], ids=lambda c: c.__name__
)
@pytest.mark.parametrize("case", sorted(MNIST_BAD))
def test_mnist_readers_refuse_malformed_files(tmp_path, cls, case):
    images, labels, which, msg = MNIST_BAD[case]
    img_p, lbl_p = write_mnist(str(tmp_path), images, labels)
    with pytest.raises(RuntimeError, match=msg) as ei:
        cls(tmp_path)
    assert (img_p if which == "images" else lbl_p) in str(ei.value)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_well_formed_files_still_load(tmp_path, gz):
    write_mnist(str(tmp_path), _IMGS.astype(np.uint8), _LBLS.astype(np.uint8), gz=gz)
    ds = datasets.MNIST(tmp_path)
    assert len(ds) == 5 and ds.targets.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(ds.data.numpy(), _IMGS.astype(np.uint8))
    empty = tmp_path / "empty"
    write_mnist(str(empty), np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8))
    assert len(datasets.MNIST(empty)) == 0


def test_mnist_corrupt_gzip(tmp_path):
    img_p, _ = write_mnist(str(tmp_path), gz=True)
    raw = open(img_p, "rb").read()
    with open(img_p, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(RuntimeError, match="train-images"):
        datasets.MNIST(tmp_path)


# -- CIFAR batches -----------------------------------------------------------------------------
def cifar_folder(root, name="cifar-10-batches-py"):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    return folder


def good_batch(n=3, seed=0, key="labels"):
    rng = np.random.default_rng(seed)
    return {
        "batch_label": "b",
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        key: [int(x) for x in rng.integers(0, 10, n)],
    }


def write_cifar10(root, test_batch=None, meta=None, protocol=2):
    folder = cifar_folder(root)
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        entry = test_batch if (name == "test_batch" and test_batch is not None) else good_batch(seed=i)
        with open(os.path.join(folder, name), "wb") as f:
            if isinstance(entry, bytes):
                f.write(entry)
            else:
                pickle.dump(entry, f, protocol=protocol)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump(
            {"label_names": [f"c{i}" for i in range(10)]} if meta is None else meta, f, protocol=protocol
        )
    return folder


_U8 = np.zeros((3, 3072), np.uint8)
CIFAR_BAD = {
    "no_labels": ({"data": _U8}, "no 'labels' entry"),
    "no_data": ({"labels": [0, 1, 2]}, "no 'data' entry"),
    "label_count_mismatch": ({"data": _U8, "labels": [0, 1]}, "3 images but 2"),
    "float_data": ({"data": _U8.astype(np.float32), "labels": [0, 1, 2]}, "uint8 array, got float32"),
    "int64_data": ({"data": _U8.astype(np.int64), "labels": [0, 1, 2]}, "uint8"),
    "list_data": ({"data": [[0] * 3072] * 3, "labels": [0, 1, 2]}, "uint8 array, got list"),
    "wrong_row_size": ({"data": np.zeros((3, 1024), np.uint8), "labels": [0, 1, 2]}, r"\(N, 3072\)"),
    "flat_data": ({"data": np.zeros(3 * 3072, np.uint8), "labels": [0, 1, 2]}, r"\(N, 3072\)"),
    "label_out_of_range": ({"data": _U8, "labels": [0, 10, 2]}, "label 10"),
    "negative_label": ({"data": _U8, "labels": [0, -1, 2]}, "label -1"),
    "labels_not_ints": ({"data": _U8, "labels": ["a", "b", "c"]}, "list of ints"),
    "not_a_dict": ([1, 2, 3], "expected a dict"),
}


@pytest.mark.parametrize("case", sorted(CIFAR_BAD))
def test_cifar_refuses_malformed_batches(tmp_path, case):
    entry, msg = CIFAR_BAD[case]
    folder = write_cifar10(str(tmp_path), test_batch=entry)
    with pytest.raises(RuntimeError, match=msg) as ei:
        datasets.CIFAR10(tmp_path, train=False)
    assert os.path.join(folder, "test_batch") in str(ei.value)


def test_cifar100_requires_fine_labels(tmp_path):
    folder = cifar_folder(str(tmp_path), "cifar-100-python")
    with open(os.path.join(folder, "test"), "wb") as f:
        pickle.dump({"data": _U8, "coarse_labels": [0, 1, 2]}, f, protocol=2)
    with pytest.raises(RuntimeError, match="no 'fine_labels' entry"):
        datasets.CIFAR100(tmp_path, train=False)
    with open(os.path.join(folder, "test"), "wb") as f:
        pickle.dump({"data": _U8, "fine_labels": [99, 0, 50], "coarse_labels": [0, 1, 2]}, f, protocol=2)
    with open(os.path.join(folder, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": [f"f{i}" for i in range(100)]}, f)
    ds = datasets.CIFAR100(tmp_path, train=False)
    assert ds.targets == [99, 0, 50] and ds.classes[99] == "f99"


@pytest.mark.parametrize(
    "meta,msg",
    [
        ({"names": []}, "label_names"),
        ({"label_names": ["a"] * 9}, "9 class names"),
        ({"label_names": [1] * 10}, "strings"),
    ],
)
def test_cifar_refuses_malformed_meta(tmp_path, meta, msg):
    write_cifar10(str(tmp_path), meta=meta)
    with pytest.raises(RuntimeError, match=msg):
        datasets.CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_loads_every_pickle_protocol(tmp_path, protocol):
    write_cifar10(str(tmp_path), protocol=protocol)
    ds = datasets.CIFAR10(tmp_path, train=False)
    ref = good_batch(seed=5)
    assert len(ds) == 3 and ds.targets == ref["labels"] and ds.classes[0] == "c0"
    np.testing.assert_array_equal(ds.data, ref["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


class _Py2Pickler(pickle._Pickler):
    """Writes bytes the way Python 2 wrote str (SHORT_BINSTRING/BINSTRING), as the original CIFAR
    batches do; read back with encoding='latin1' they arrive as str."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def test_cifar_python2_style_batch(tmp_path):
    entry = {
        b"batch_label": b"testing batch 1 of 1",
        b"data": good_batch()["data"],
        b"labels": [1, 2, 3],
        b"filenames": [b"a.png"] * 3,
    }
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(entry)
    write_cifar10(str(tmp_path), test_batch=buf.getvalue())
    ds = datasets.CIFAR10(tmp_path, train=False)
    assert ds.targets == [1, 2, 3]
    np.testing.assert_array_equal(ds.data, good_batch()["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _np_global_pickle(module, name, args):
    # GLOBAL module.name, args, REDUCE
    body = pickle.dumps(args, protocol=2)[2:-1]
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + body + b"R."


@pytest.mark.parametrize(
    "blob,msg",
    [
        (pickle.dumps({"data": _Evil(), "labels": [0]}, protocol=2), "forbidden"),
        (
            pickle.dumps({"data": np.array([object()] * 3), "labels": [0]}, protocol=2),
            "forbidden|not allowed",
        ),
        (
            pickle.dumps({"data": np.zeros(3, dtype=[("a", "u1"), ("b", "f4")]), "labels": [0]}, protocol=2),
            "not allowed",
        ),
        (pickle.dumps({"data": np.zeros(3, dtype="U4"), "labels": [0]}, protocol=2), "not allowed"),
        (pickle.dumps({"data": _U8, "labels": [0, 1, 2]}, protocol=2)[:-40], "not a valid pickle"),
        (b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"xx.", "bytearray8"),
        (_np_global_pickle("builtins", "eval", ("1+1",)), "forbidden"),
        (_np_global_pickle("numpy", "load", ("x",)), "forbidden"),
    ],
    ids=[
        "os_system",
        "object_array",
        "structured",
        "unicode_array",
        "truncated",
        "bytearray8_bomb",
        "eval",
        "np_load",
    ],
)
def test_cifar_restricted_unpickler(tmp_path, blob, msg):
    folder = write_cifar10(str(tmp_path), test_batch=blob)
    with pytest.raises(pickle.UnpicklingError, match=msg) as ei:
        datasets.CIFAR10(tmp_path, train=False)
    assert os.path.join(folder, "test_batch") in str(ei.value)


class _ArrayWithState:
    """Pickles as numpy's own ndarray reduce, with a replaced BUILD state."""

    def __init__(self, arr, **change):
        func, args, state = arr.__reduce__()
        version, shape, dtype, fortran, raw = state
        new = dict(shape=shape, dtype=dtype, fortran=fortran, raw=raw)
        new.update(change)
        self.reduce = (func, args, (version, new["shape"], new["dtype"], new["fortran"], new["raw"]))

    def __reduce__(self):
        return self.reduce


@pytest.mark.parametrize(
    "change,msg",
    [
        (dict(raw=b"\0" * 100), "needs 9216 bytes"),
        (dict(shape=(3, 3073)), "needs 9219 bytes"),
        (dict(shape=(2**40, 2**40)), "needs"),
        (dict(shape=(-3, 3072)), "invalid array shape"),
        (dict(shape="abc"), "invalid array shape"),
        (dict(dtype="u1"), "expected a dtype"),
        (dict(fortran="yes"), "invalid ndarray state"),
        (dict(raw=12345), "must be bytes"),
    ],
)
def test_cifar_array_state_checked(tmp_path, change, msg):
    # numpy's __setstate__ never sees the file's state: the stand-in checks it and refuses.
    blob = pickle.dumps({"data": _ArrayWithState(_U8, **change), "labels": [0, 1, 2]}, protocol=2)
    write_cifar10(str(tmp_path), test_batch=blob)
    with pytest.raises(pickle.UnpicklingError, match=msg):
        datasets.CIFAR10(tmp_path, train=False)


def test_cifar_array_state_round_trip(tmp_path):
    # The stand-ins rebuild byte order and Fortran order faithfully.
    data = np.asfortranarray(np.arange(3 * 3072).reshape(3, 3072) % 251).astype(np.uint8)
    labels = np.array([1, 2, 3], dtype=">i8")
    blob = pickle.dumps({"data": data, "labels": labels}, protocol=2)
    write_cifar10(str(tmp_path), test_batch=blob)
    ds = datasets.CIFAR10(tmp_path, train=False)
    assert ds.targets == [1, 2, 3]
    np.testing.assert_array_equal(ds.data, data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


# -- BatchNorm running statistics --------------------------------------------------------------
def np_batchnorm_steps(xs, momentum, eps=1e-5):
    """NumPy reference for training-mode BatchNorm over a sequence of batches: outputs use the
    biased batch variance; running_var follows the unbiased one; momentum=None averages."""
    c = xs[0].shape[1]
    rm, rv, outs = np.zeros(c), np.ones(c), []
    for k, x in enumerate(xs, 1):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        mean, var = x.mean(axes), x.var(axes)
        n = x.size // c
        outs.append((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps))
        f = 1.0 / k if momentum is None else momentum
        rm = (1 - f) * rm + f * mean
        rv = (1 - f) * rv + f * var * n / (n - 1)
    return outs, rm, rv


BN_CASES = [
    (nn.BatchNorm1d, [(4, 3), (2, 3), (7, 3)], 0.1),
    (nn.BatchNorm1d, [(2, 3, 5), (3, 3, 1), (1, 3, 2)], None),
    (nn.BatchNorm2d, [(2, 3, 4, 4), (1, 3, 2, 1), (3, 3, 1, 1)], 0.3),
    (nn.BatchNorm3d, [(2, 2, 2, 3, 2), (1, 2, 1, 1, 2)], 0.1),
]


@pytest.mark.parametrize("cls,shapes,momentum", BN_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_batchnorm_running_var_is_unbiased_numpy(cls, shapes, momentum):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) * 3 + 1 for s in shapes]
    bn = cls(shapes[0][1], momentum=momentum).double()
    outs = [bn(rustgrad.tensor(x)).detach().numpy() for x in xs]
    ref_outs, rm, rv = np_batchnorm_steps(xs, momentum)
    for a, b in zip(outs, ref_outs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == len(xs)
    bn.eval()
    x = rng.standard_normal(shapes[0])
    shape = (1, -1) + (1,) * (x.ndim - 2)
    np.testing.assert_allclose(
        bn(rustgrad.tensor(x)).detach().numpy(),
        (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + 1e-5),
        rtol=1e-9,
    )


def test_functional_batch_norm_running_stats_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3))  # n = 6 values per channel
    rm, rv = rustgrad.zeros(4, dtype=rustgrad.float64), rustgrad.ones(4, dtype=rustgrad.float64)
    out = F.batch_norm(rustgrad.tensor(x), rm, rv, training=True, momentum=0.5)
    _, ref_rm, ref_rv = np_batchnorm_steps([x], 0.5)
    np.testing.assert_allclose(rv.numpy(), ref_rv, rtol=1e-12)
    np.testing.assert_allclose(rm.numpy(), ref_rm, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.5 + 0.5 * x.var((0, 2), ddof=1), rtol=1e-12)
    np.testing.assert_allclose(out.numpy().var((0, 2)), x.var((0, 2)) / (x.var((0, 2)) + 1e-5), rtol=1e-9)


def test_functional_batch_norm_argument_errors():
    x = rustgrad.randn(4, 3)
    with pytest.raises(ValueError, match="must either both be None or neither be None"):
        F.batch_norm(x, None, rustgrad.ones(3), training=True)
    with pytest.raises(ValueError, match="must either both be None or neither be None"):
        F.batch_norm(x, rustgrad.zeros(3), None, training=True)
    with pytest.raises(RuntimeError, match="^running_mean must be defined in evaluation mode$"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(RuntimeError, match="^running_mean should contain 3 elements not 2$"):
        F.batch_norm(x, rustgrad.zeros(2), rustgrad.ones(2), training=True)
    with pytest.raises(RuntimeError, match="^weight should contain 3 elements not 2$"):
        F.batch_norm(x, None, None, weight=rustgrad.ones(2), training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(rustgrad.zeros(1, 3))
    assert F.batch_norm(x, None, None, training=True).shape == (4, 3)


@requires_torch
@pytest.mark.parametrize("cls,shapes,momentum", BN_CASES, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batchnorm_running_stats_match_torch(cls, shapes, momentum, dtype):
    rng = np.random.default_rng(2)
    c = shapes[0][1]
    ours = cls(c, momentum=momentum)
    theirs = getattr(torch.nn, cls.__name__)(c, momentum=momentum)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    for s in shapes:
        x = (rng.standard_normal(s) * 2 + 0.5).astype(dtype)
        np.testing.assert_allclose(
            ours(rustgrad.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), **tol
        )
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), **tol)
        np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), **tol)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shapes[0]).astype(dtype)
    np.testing.assert_allclose(
        ours(rustgrad.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), **tol
    )


@requires_torch
def test_functional_batch_norm_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 2, 3)).astype("float32")
    w, b = rng.standard_normal(2).astype("float32"), rng.standard_normal(2).astype("float32")
    rm, rv = rustgrad.zeros(2), rustgrad.ones(2)
    trm, trv = torch.zeros(2), torch.ones(2)
    for _ in range(3):
        out = F.batch_norm(rustgrad.tensor(x), rm, rv, rustgrad.tensor(w), rustgrad.tensor(b), True, 0.2)
        ref = torch.nn.functional.batch_norm(
            torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b), True, 0.2
        )
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-6)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-6, atol=1e-7)
