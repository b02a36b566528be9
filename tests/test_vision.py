"""rustgrad.vision: IDX/CIFAR datasets on small files written here, transforms vs NumPy."""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import rustgrad
from rustgrad.utils.data import DataLoader
from rustgrad.vision import datasets
from rustgrad.vision import transforms as T
from rustgrad.vision.transforms import functional as TF

PIL = pytest.importorskip("PIL.Image")


def write_idx(path, arr, gz=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[arr.dtype.type], arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


def make_mnist(folder, n_train=7, n_test=3, gz=False):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        lbls = rng.integers(0, 10, n).astype(np.uint8)
        sfx = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte{sfx}"), imgs, gz)
        write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte{sfx}"), lbls, gz)
        out[split] = (imgs, lbls)
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["torchvision", "flat"])
def test_mnist_layouts(tmp_path, gz, layout):
    cls = datasets.FashionMNIST
    folder = tmp_path / "FashionMNIST" / "raw" if layout == "torchvision" else tmp_path
    ref = make_mnist(str(folder), gz=gz)
    train = cls(str(tmp_path), train=True)
    test = cls(tmp_path, train=False)
    assert len(train) == 7 and len(test) == 3
    assert train.data.shape == (7, 28, 28) and train.data.dtype == rustgrad.uint8
    assert train.targets.dtype == rustgrad.int64
    np.testing.assert_array_equal(train.data.numpy(), ref["train"][0])
    np.testing.assert_array_equal(test.targets.numpy(), ref["t10k"][1])
    img, target = train[2]
    assert isinstance(img, PIL.Image) and img.mode == "L" and img.size == (28, 28)
    assert isinstance(target, int) and target == int(ref["train"][1][2])
    np.testing.assert_array_equal(np.asarray(img), ref["train"][0][2])
    assert len(cls.classes) == 10 and train.classes[0] == "T-shirt/top"


def test_mnist_transforms_and_loader(tmp_path):
    ref = make_mnist(str(tmp_path / "MNIST" / "raw"))
    ds = datasets.MNIST(tmp_path, transform=T.ToTensor(), target_transform=lambda t: t + 100)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == rustgrad.float32 and y == int(ref["train"][1][0]) + 100
    np.testing.assert_allclose(x.numpy()[0], ref["train"][0][0] / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    assert xb.shape == (4, 1, 28, 28) and yb.dtype == rustgrad.int64


def test_mnist_missing_files(tmp_path):
    with pytest.raises(RuntimeError, match="not found"):
        datasets.MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="raw"):
        datasets.MNIST(tmp_path, download=True)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(RuntimeError, match="IDX"):
        datasets.MNIST(tmp_path)


def make_cifar(root, n=4):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    rng = np.random.default_rng(1)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"batch_label": b"x", "data": data, "labels": labels}, f, protocol=2)
        batches.append((data, labels))
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)], "num_vis": 3072}, f)
    return batches


def test_cifar10(tmp_path):
    batches = make_cifar(str(tmp_path))
    train = datasets.CIFAR10(tmp_path, train=True)
    test = datasets.CIFAR10(tmp_path, train=False, transform=T.ToTensor())
    assert len(train) == 20 and len(test) == 4
    assert train.data.shape == (20, 32, 32, 3) and train.classes[3] == "c3"
    img, t = train[5]
    expected = batches[1][0][1].reshape(3, 32, 32).transpose(1, 2, 0)
    assert img.mode == "RGB" and t == batches[1][1][1]
    np.testing.assert_array_equal(np.asarray(img), expected)
    x, _ = test[0]
    assert x.shape == (3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_cifar_refuses_malicious_pickle(tmp_path):
    make_cifar(str(tmp_path))
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": _Evil(), "labels": [0]}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="forbidden"):
        datasets.CIFAR10(tmp_path, train=False)


def test_missing_cifar(tmp_path):
    with pytest.raises(RuntimeError, match="not found"):
        datasets.CIFAR10(tmp_path)


# -- transforms --------------------------------------------------------------------------------
@pytest.fixture
def rgb():
    return np.random.default_rng(2).integers(0, 256, (6, 8, 3), dtype=np.uint8)


def test_to_tensor_and_pil_to_tensor(rgb):
    x = T.ToTensor()(rgb)
    assert x.shape == (3, 6, 8) and x.dtype == rustgrad.float32
    np.testing.assert_allclose(x.numpy(), rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    pil = PIL.fromarray(rgb)
    np.testing.assert_allclose(T.ToTensor()(pil).numpy(), x.numpy())
    p = T.PILToTensor()(pil)
    assert p.dtype == rustgrad.uint8
    np.testing.assert_array_equal(p.numpy(), rgb.transpose(2, 0, 1))
    gray = T.ToTensor()(rgb[:, :, 0])
    assert gray.shape == (1, 6, 8)
    f = T.ToTensor()(np.ones((2, 2, 1), np.float64))
    assert f.dtype == rustgrad.float64  # non-uint8 arrays are not rescaled
    with pytest.raises(TypeError):
        T.ToTensor()(x)


def test_normalize(rgb):
    x = T.ToTensor()(rgb)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.Normalize(mean, std)(x)
    ref = (rgb.transpose(2, 0, 1) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(x.numpy(), y.numpy())
    z = T.Normalize(mean, std, inplace=True)(x)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert z is x
    with pytest.raises(TypeError):
        T.Normalize(mean, std)(rustgrad.zeros(3, 2, 2, dtype=rustgrad.uint8))
    with pytest.raises(ValueError):
        T.Normalize((0.0,), (0.0,))(rustgrad.zeros(1, 2, 2))


def test_flips_crops_pad(rgb):
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(rgb), rgb[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(rgb), rgb)
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(rgb), rgb[::-1])
    pil = T.RandomHorizontalFlip(1.0)(PIL.fromarray(rgb))
    np.testing.assert_array_equal(np.asarray(pil), rgb[:, ::-1])
    t = T.ToTensor()(rgb)
    np.testing.assert_allclose(T.RandomHorizontalFlip(1.0)(t).numpy(), t.numpy()[:, :, ::-1])
    np.testing.assert_array_equal(T.CenterCrop(4)(rgb), rgb[1:5, 2:6])
    np.testing.assert_array_equal(TF.crop(rgb, 1, 2, 3, 4), rgb[1:4, 2:6])
    padded = TF.pad(rgb, 2, fill=7)
    assert padded.shape == (10, 12, 3) and (padded[:2] == 7).all()
    np.testing.assert_array_equal(padded[2:-2, 2:-2], rgb)
    refl = TF.pad(rgb, (1, 2), padding_mode="reflect")
    np.testing.assert_array_equal(refl, np.pad(rgb, ((2, 2), (1, 1), (0, 0)), mode="reflect"))
    with pytest.raises(ValueError):
        TF.pad(rgb, 1, padding_mode="wrap")


def test_random_crop(rgb):
    rustgrad.manual_seed(0)
    out = T.RandomCrop(4)(rgb)
    assert out.shape == (4, 4, 3)
    # the crop must be a window of the input
    found = any((rgb[i : i + 4, j : j + 4] == out).all() for i in range(3) for j in range(5))
    assert found
    padded = T.RandomCrop(8, padding=1)(rgb)
    assert padded.shape == (8, 8, 3)
    grown = T.RandomCrop((7, 9), pad_if_needed=True)(rgb)
    assert grown.shape == (7, 9, 3)
    with pytest.raises(ValueError):
        T.RandomCrop(10)(rgb)
    rustgrad.manual_seed(3)
    a = T.RandomCrop(4, padding=2)(rgb)
    rustgrad.manual_seed(3)
    np.testing.assert_array_equal(T.RandomCrop(4, padding=2)(rgb), a)


def test_resize_rotation_topil(rgb):
    assert T.Resize((3, 4))(rgb).shape == (3, 4, 3)
    assert T.Resize(3)(rgb).shape == (3, 4, 3)  # short side 6 -> 3, long side 8 -> 4
    assert T.Resize(3)(PIL.fromarray(rgb)).size == (4, 3)
    t = T.Resize((12, 16), interpolation="nearest")(T.ToTensor()(rgb))
    assert t.shape == (3, 12, 16)
    np.testing.assert_allclose(t.numpy()[:, ::2, ::2], rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    sq = np.arange(16, dtype=np.uint8).reshape(4, 4)
    np.testing.assert_array_equal(TF.rotate(sq, 90), np.rot90(sq))
    r = T.RandomRotation((90, 90))(PIL.fromarray(sq))
    np.testing.assert_array_equal(np.asarray(r), np.rot90(sq))
    r0 = T.RandomRotation(0)(rgb)
    np.testing.assert_array_equal(r0, rgb)
    filled = TF.rotate(np.full((5, 5), 9, np.uint8), 45, fill=0)
    assert filled[0, 0] == 0 and filled[2, 2] == 9
    back = T.ToPILImage()(T.ToTensor()(rgb))
    assert back.mode == "RGB"
    np.testing.assert_allclose(np.asarray(back).astype(int), rgb.astype(int), atol=1)


def test_compose_lambda_grayscale_jitter(rgb):
    tf = T.Compose([T.CenterCrop(4), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    np.testing.assert_allclose(tf(rgb).numpy(), rgb[1:5, 2:6].transpose(2, 0, 1) / 255.0 * 2, rtol=1e-6)
    assert "CenterCrop" in repr(tf)
    g = T.Grayscale()(rgb)
    ref = np.round(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114)
    np.testing.assert_allclose(g[..., 0], ref, atol=1)
    assert T.Grayscale()(PIL.fromarray(rgb)).mode == "L"
    j = T.ColorJitter(0.5, 0.5, 0.5, 0.1)(PIL.fromarray(rgb))
    assert j.size == (8, 6)
    np.testing.assert_array_equal(TF.adjust_brightness(rgb, 1.0), rgb)
    np.testing.assert_array_equal(TF.adjust_brightness(rgb, 0.0), np.zeros_like(rgb))
    rrc = T.RandomResizedCrop(5)(rgb)
    assert rrc.shape == (5, 5, 3)
    with pytest.raises(TypeError):
        T.Lambda(3)
