"""vision.utils.make_grid / save_image against a NumPy transcription of torchvision's algorithm,
and vision.datasets.FakeData."""

import io
import math

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close
from rustgrad.vision import datasets, transforms, utils

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def np_make_grid(x, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """torchvision's documented make_grid, written for NumPy arrays."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        if x.shape[0] == 1:
            x = np.concatenate([x] * 3, 0)
        x = x[None]
    if x.shape[1] == 1:
        x = np.concatenate([x] * 3, 1)

    def norm(img):
        lo, hi = value_range if value_range is not None else (img.min(), img.max())
        return (np.clip(img, lo, hi) - lo) / max(hi - lo, 1e-5)

    if normalize:
        x = np.stack([norm(i) for i in x]) if scale_each else norm(x)
    if x.shape[0] == 1:
        return x[0]
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = np.full((c, (h + padding) * rows + padding, (w + padding) * cols + padding), pad_value)
    for k in range(n):
        r, q = divmod(k, cols)
        top, left = r * (h + padding) + padding, q * (w + padding) + padding
        grid[:, top : top + h, left : left + w] = x[k]
    return grid


CASES = [
    dict(),
    dict(nrow=3),
    dict(nrow=2, padding=0),
    dict(padding=3, pad_value=0.7),
    dict(normalize=True),
    dict(normalize=True, value_range=(-1.0, 1.0)),
    dict(normalize=True, scale_each=True),
    dict(normalize=True, scale_each=True, value_range=(0.0, 0.5)),
]


@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("shape", [(7, 3, 5, 4), (5, 1, 4, 4), (1, 3, 4, 6)])
def test_make_grid_matches_reference(kw, shape):
    x = np.random.randn(*shape)
    assert_close(utils.make_grid(rg.tensor(x), **kw), np_make_grid(x, **kw), rtol=1e-6, atol=1e-7)


def test_make_grid_inputs_and_errors():
    imgs = [rg.rand(3, 4, 4) for _ in range(3)]
    assert_close(utils.make_grid(imgs, nrow=2), np_make_grid(np.stack([i.numpy() for i in imgs]), nrow=2))
    assert utils.make_grid(rg.rand(4, 5)).shape == (3, 4, 5)  # one gray image -> RGB
    assert utils.make_grid(rg.rand(1, 4, 5)).shape == (3, 4, 5)
    assert utils.make_grid(rg.rand(10, 3, 2, 2)).shape == (3, 2 * 4 + 2, 8 * 4 + 2)  # default nrow=8
    with pytest.raises(TypeError, match="tensor or list of tensors expected, got <class 'numpy.ndarray'>"):
        utils.make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="got a list containing <class 'int'>"):
        utils.make_grid([rg.rand(3, 2, 2), 1])
    with pytest.raises(TypeError, match=r"value_range has to be a tuple \(min, max\)"):
        utils.make_grid(rg.rand(2, 3, 2, 2), normalize=True, value_range=[0, 1])


def _expected_pixels(x, **kw):
    g = np_make_grid(x, **kw).astype(np.float32)
    return np.clip(g * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def test_save_image_png_path_and_file_object(tmp_path):
    x = np.random.rand(6, 3, 5, 5).astype(np.float32)
    path = tmp_path / "grid.png"
    utils.save_image(rg.tensor(x), path, nrow=3, padding=1)
    got = np.asarray(Image.open(path))
    np.testing.assert_array_equal(got, _expected_pixels(x, nrow=3, padding=1))
    utils.save_image(rg.tensor(x), str(tmp_path / "g2.png"), nrow=3, padding=1)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g2.png")), got)

    buf = io.BytesIO()
    utils.save_image(rg.tensor(x), buf, format="png", nrow=3, padding=1)
    buf.seek(0)
    im = Image.open(buf)
    assert im.format == "PNG"
    np.testing.assert_array_equal(np.asarray(im), got)


def test_save_image_single_gray_image_and_out_of_range(tmp_path):
    x = np.linspace(-0.5, 1.5, 20).reshape(1, 4, 5)  # clamped to 0..255
    utils.save_image(rg.tensor(x, dtype=rg.float32), tmp_path / "one.png")
    got = np.asarray(Image.open(tmp_path / "one.png"))
    assert got.shape == (4, 5, 3)
    np.testing.assert_array_equal(got, _expected_pixels(x))


def test_save_image_other_format(tmp_path):
    buf = io.BytesIO()
    utils.save_image(rg.rand(2, 3, 8, 8), buf, format="BMP")
    buf.seek(0)
    assert Image.open(buf).format == "BMP"


def test_matches_torchvision_if_installed():
    tv = pytest.importorskip("torchvision")
    import torch

    x = np.random.randn(5, 3, 4, 4).astype(np.float32)
    for kw in CASES:
        assert_close(utils.make_grid(rg.tensor(x), **kw), tv.utils.make_grid(torch.tensor(x), **kw).numpy())


# ----------------------------------------------------------------------------------- FakeData
def test_fakedata_shape_determinism_and_transforms():
    d = datasets.FakeData(size=6, image_size=(3, 8, 10), num_classes=4)
    assert len(d) == 6
    img, label = d[2]
    assert isinstance(img, Image.Image) and img.size == (10, 8) and img.mode == "RGB"
    assert isinstance(label, int) and 0 <= label < 4
    again, label2 = d[2]
    np.testing.assert_array_equal(np.asarray(img), np.asarray(again))
    assert label == label2
    assert not np.array_equal(np.asarray(d[3][0]), np.asarray(img))
    with pytest.raises(IndexError, match="FakeData index out of range"):
        d[6]

    shifted = datasets.FakeData(size=6, image_size=(3, 8, 10), num_classes=4, random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[1][0]), np.asarray(d[2][0]))

    gray = datasets.FakeData(size=2, image_size=(1, 5, 5), transform=transforms.ToTensor(),
                             target_transform=lambda t: t + 100)
    x, t = gray[0]
    assert x.shape == (1, 5, 5) and x.dtype == rg.float32 and t >= 100


def test_fakedata_pixels_follow_the_seeded_stream_and_leave_global_state():
    rg.manual_seed(123)
    before = rg.rand(1).item()
    rg.manual_seed(123)
    d = datasets.FakeData(size=3, image_size=(3, 4, 4), num_classes=10)
    img, label = d[1]
    assert rg.rand(1).item() == before  # global stream untouched
    rg.manual_seed(1)
    ref = rg.randn(3, 4, 4).numpy()
    ref_label = int(rg.randint(0, 10, size=(1,))[0])
    pixels = (ref * 255).astype(np.int64) & 255  # x * 255 truncated, wrapped to a byte
    np.testing.assert_array_equal(np.asarray(img), pixels.astype(np.uint8).transpose(1, 2, 0))
    assert label == ref_label
    assert repr(d).splitlines()[:2] == ["Dataset FakeData", "    Number of datapoints: 3"]


def test_fakedata_with_dataloader():
    loader = rg.utils.data.DataLoader(
        datasets.FakeData(size=10, image_size=(1, 6, 6), num_classes=3, transform=transforms.ToTensor()),
        batch_size=4,
    )
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 1, 6, 6) and yb.dtype == rg.int64
