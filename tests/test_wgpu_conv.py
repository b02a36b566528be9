"""Convolution and pooling on the wgpu device: forward values and input/weight/bias gradients
against the same ops on the CPU (float32), over grids of stride/padding/dilation/groups/bias,
non-contiguous inputs and shapes that cross workgroup (256) and matmul tile (64) boundaries; every
pooling variant forward and backward; the MNIST example net's first layers; and no readback during
a forward + backward that ends without `.item()`.

Skips when no adapter exists, unless RUSTGRAD_REQUIRE_WGPU=1 (CI), which makes that a failure.
"""

import itertools
import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"

if not rg.wgpu.is_available():
    if REQUIRE:
        raise RuntimeError("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
    pytest.skip("no wgpu adapter", allow_module_level=True)

RTOL, ATOL = 1e-4, 1e-5


def arr(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def run(fn, arrays, device, upstream, prep):
    """fn(*tensors) on `device` with the leaves made by prep(leaf); returns (out, idx, grads)."""
    leaves = [rg.tensor(a, device=device, requires_grad=True) if a is not None else None for a in arrays]
    out = fn(*[prep(t) if t is not None else None for t in leaves])
    idx = None
    if isinstance(out, tuple):
        out, idx = out
    assert out.device.type == device
    if upstream is None:
        upstream = np.random.default_rng(99).standard_normal(tuple(out.shape)).astype(np.float32)
    (out * rg.tensor(upstream, device=device)).sum().backward()
    grads = [t.grad if t is not None else None for t in leaves]
    for g in grads:
        assert g is None or g.device.type == device
    return out, idx, grads, upstream


def parity(fn, arrays, prep=lambda t: t, rtol=RTOL, atol=ATOL):
    """The same op on the CPU and on wgpu: equal values, indices and gradients."""
    c_out, c_idx, c_grads, up = run(fn, arrays, "cpu", None, prep)
    g_out, g_idx, g_grads, _ = run(fn, arrays, "wgpu", up, prep)
    assert tuple(g_out.shape) == tuple(c_out.shape)
    np.testing.assert_allclose(g_out.detach().cpu().numpy(), c_out.detach().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)
    if c_idx is not None:
        assert g_idx.dtype == rg.int64 and g_idx.device.type == "wgpu"
        np.testing.assert_array_equal(g_idx.cpu().numpy(), c_idx.numpy())
    for c, g in zip(c_grads, g_grads):
        if c is not None:
            np.testing.assert_allclose(g.cpu().numpy(), c.numpy(), rtol=rtol, atol=atol)
    return g_out


# ---------------------------------------------------------------- conv2d

CONV_GRID = list(itertools.product([1, 2], [0, 1, 2], [1, 2], [1, 2], [True, False], [1, 3]))


@pytest.mark.parametrize("stride,padding,dilation,groups,bias,batch", CONV_GRID)
def test_conv2d_grid(stride, padding, dilation, groups, bias, batch):
    rng = np.random.default_rng(stride * 100 + padding * 10 + dilation + groups)
    x, w = arr(rng, batch, 4, 9, 11), arr(rng, 6, 4 // groups, 3, 2)
    b = arr(rng, 6) if bias else None
    y = parity(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b])
    assert y.grad_fn is not None


@pytest.mark.parametrize("case", [
    # (x shape, w shape, stride, padding, dilation, groups): tile- and workgroup-crossing sizes,
    # pointwise kernels (which skip im2col), depthwise, asymmetric kernels.
    ((2, 3, 20, 17), (70, 3, 3, 3), 1, 1, 1, 1),
    ((3, 5, 13, 9), (7, 5, 1, 1), 1, 0, 1, 1),
    ((2, 6, 12, 12), (9, 2, 1, 1), 1, 0, 1, 3),
    ((2, 4, 10, 10), (4, 1, 3, 3), 1, 1, 1, 4),
    ((1, 2, 30, 40), (3, 2, 5, 1), (3, 2), (2, 0), (1, 3), 1),
    ((2, 80, 3, 3), (66, 80, 2, 2), 1, 0, 1, 1),
])
def test_conv2d_shapes(case):
    xs, ws, s, p, d, g = case
    rng = np.random.default_rng(len(xs) + ws[0])
    x, w, b = arr(rng, *xs), arr(rng, *ws), arr(rng, ws[0])
    parity(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), [x, w, b], rtol=2e-4, atol=5e-5)


@pytest.mark.parametrize("view", ["permuted", "sliced", "batch_offset", "transposed_weight"])
def test_conv2d_non_contiguous(view):
    rng = np.random.default_rng(7)
    if view == "permuted":
        # Stored NHWC, seen as NCHW.
        x, prep_x = arr(rng, 2, 9, 10, 4), lambda t: t.permute(0, 3, 1, 2)
    elif view == "sliced":
        x, prep_x = arr(rng, 2, 4, 12, 21), lambda t: t[:, :, 1:, ::2]
    elif view == "batch_offset":
        x, prep_x = arr(rng, 4, 4, 9, 9), lambda t: t[1:3]
    else:
        x, prep_x = arr(rng, 2, 4, 9, 9), lambda t: t
    w = arr(rng, 4, 5, 3, 3) if view == "transposed_weight" else arr(rng, 5, 4, 3, 3)
    prep_w = (lambda t: t.transpose(0, 1)) if view == "transposed_weight" else (lambda t: t)
    b = arr(rng, 5)

    def fn(x, w, b):
        return F.conv2d(prep_x(x), prep_w(w), b, 1, 1)

    parity(fn, [x, w, b])


def test_conv2d_same_padding_and_unbatched():
    rng = np.random.default_rng(3)
    x, w = arr(rng, 3, 8, 7), arr(rng, 4, 3, 2, 3)
    y = parity(lambda x, w: F.conv2d(x, w, padding="same"), [x, w])
    assert tuple(y.shape) == (4, 8, 7)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, "same", 2, 1), (3, 2, 2, 1)])
def test_conv1d(stride, padding, dilation, groups):
    rng = np.random.default_rng(11)
    x, w, b = arr(rng, 3, 4, 300), arr(rng, 6, 4 // groups, 3), arr(rng, 6)
    parity(lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups), [x, w, b])


# ---------------------------------------------------------------- conv_transpose

TRANSPOSE_GRID = [c for c in itertools.product([1, 2], [0, 1], [0, 1], [1, 2], [1, 2], [True, False], [1, 3])
                  if c[2] < max(c[0], c[3])]


@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups,bias,batch", TRANSPOSE_GRID)
def test_conv_transpose2d_grid(stride, padding, output_padding, dilation, groups, bias, batch):
    rng = np.random.default_rng(stride + 10 * padding + 100 * dilation)
    x, w = arr(rng, batch, 4, 7, 6), arr(rng, 4, 6 // groups, 3, 2)
    b = arr(rng, 6) if bias else None
    parity(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
           [x, w, b])


def test_conv_transpose_non_contiguous_and_1d():
    rng = np.random.default_rng(5)
    x, w, b = arr(rng, 2, 8, 9, 3), arr(rng, 3, 70, 3, 3), arr(rng, 70)
    parity(lambda x, w, b: F.conv_transpose2d(x.permute(0, 3, 1, 2), w, b, 2, 1, 1), [x, w, b],
           rtol=2e-4, atol=5e-5)
    x1, w1 = arr(rng, 2, 3, 130), arr(rng, 3, 2, 4)
    parity(lambda x, w: F.conv_transpose1d(x, w, None, 2, 1, 1), [x1, w1])


# ---------------------------------------------------------------- pooling

MAX_POOL_GRID = [c for c in itertools.product([2, 3], [None, 1, 2], [0, 1], [1, 2], [False, True])
                 if c[2] * 2 <= c[0]]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil", MAX_POOL_GRID)
def test_max_pool2d_grid(kernel, stride, padding, dilation, ceil):
    rng = np.random.default_rng(kernel + 3 * padding + 7 * dilation)
    x = arr(rng, 2, 3, 11, 13)
    parity(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation, ceil, return_indices=True), [x])


def test_max_pool2d_ties_nans_and_big_planes():
    # Ties: the index (and so the gradient) goes where the CPU puts it; NaNs win their window.
    x = np.round(np.random.default_rng(2).standard_normal((2, 2, 9, 9))).astype(np.float32)
    x[0, 0, 2, 3] = np.nan
    x[1, 1, 5, :] = np.nan
    parity(lambda x: F.max_pool2d(x, 3, 1, 1, return_indices=True), [x])
    big = arr(np.random.default_rng(4), 1, 3, 40, 33)
    parity(lambda x: F.max_pool2d(x, (3, 2), (2, 1), (1, 0), return_indices=True), [big])


@pytest.mark.parametrize("kernel,stride,padding,ceil,count_include_pad,divisor", [
    (2, None, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, True, False, None),
    (3, 2, 1, True, True, None), ((3, 2), (1, 2), (1, 1), False, False, None), (2, 1, 1, True, True, 3),
    (4, 3, 2, True, False, 5),
])
def test_avg_pool2d(kernel, stride, padding, ceil, count_include_pad, divisor):
    x = arr(np.random.default_rng(8), 2, 3, 11, 10)
    parity(lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil, count_include_pad, divisor), [x])


@pytest.mark.parametrize("out", [(1, 1), (3, 4), (5, 5), (7, 13), (None, 2), 4])
def test_adaptive_pool2d(out):
    x = arr(np.random.default_rng(9), 2, 3, 7, 10)
    parity(lambda x: F.adaptive_avg_pool2d(x, out), [x])
    parity(lambda x: F.adaptive_max_pool2d(x, out, return_indices=True), [x])


def test_pool1d_variants_and_unbatched():
    rng = np.random.default_rng(10)
    x = arr(rng, 3, 4, 301)
    parity(lambda x: F.max_pool1d(x, 3, 2, 1, 2, True, return_indices=True), [x])
    parity(lambda x: F.avg_pool1d(x, 4, 3, 2, True, False), [x])
    parity(lambda x: F.adaptive_avg_pool1d(x, 17), [x])
    parity(lambda x: F.adaptive_max_pool1d(x, 17, return_indices=True), [x])
    parity(lambda x: F.max_pool2d(x, 2), [arr(rng, 3, 8, 9)])


def test_pool_modules_and_non_contiguous_input():
    rng = np.random.default_rng(12)
    x = arr(rng, 2, 9, 8, 3)
    perm = lambda t: t.permute(0, 3, 1, 2)  # noqa: E731
    for m in (rg.nn.MaxPool2d(3, 2, 1), rg.nn.AvgPool2d(2, ceil_mode=True), rg.nn.AdaptiveAvgPool2d((3, 2)),
              rg.nn.AdaptiveMaxPool2d(3)):
        parity(m, [x], prep=perm)


def test_max_pool_indices_on_device_feed_other_ops():
    x = rg.tensor(arr(np.random.default_rng(13), 1, 2, 6, 6), device="wgpu")
    v, i = F.max_pool2d(x, 2, return_indices=True)
    flat = x.detach().cpu().reshape(1, 2, 36)
    picked = rg.gather(flat, 2, i.cpu().reshape(1, 2, 9)).reshape(1, 2, 3, 3)
    np.testing.assert_array_equal(picked.numpy(), v.cpu().numpy())


# ---------------------------------------------------------------- the MNIST net's first layers


def mnist_head():
    rg.manual_seed(0)
    c1, c2 = rg.nn.Conv2d(1, 10, 5), rg.nn.Conv2d(10, 20, 5)
    return c1, c2


def test_mnist_first_layers_match_cpu_without_readback():
    images = np.random.default_rng(14).random((4, 1, 28, 28), dtype=np.float32)
    results = []
    for device in ("cpu", "wgpu"):
        c1, c2 = mnist_head()
        c1.to(device)
        c2.to(device)
        x = rg.tensor(images, device=device)
        if device == "wgpu":
            rg.wgpu.synchronize()
            before = rg.wgpu.stats()["bytes_downloaded"]
        out = c2(F.relu(F.max_pool2d(c1(x), 2)))
        loss = (out * out).sum()
        loss.backward()
        if device == "wgpu":
            rg.wgpu.synchronize()
            assert rg.wgpu.stats()["bytes_downloaded"] == before, "the forward/backward read data back"
            assert out.device.type == "wgpu"
        assert tuple(out.shape) == (4, 20, 8, 8)
        params = [c1.weight, c1.bias, c2.weight, c2.bias]
        assert all(p.grad.device.type == device for p in params)
        results.append([out.detach().cpu().numpy()] + [p.grad.cpu().numpy() for p in params])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=2e-4, atol=1e-4)


def test_conv_device_errors():
    g = rg.ones(1, 2, 5, 5, device="wgpu")
    w = rg.ones(3, 2, 3, 3)
    msg = "Expected all tensors to be on the same device, but found at least two devices, wgpu:0 and cpu!"
    with pytest.raises(RuntimeError, match=msg):
        F.conv2d(g, w)
    with pytest.raises(RuntimeError, match=msg):
        F.conv2d(g, w.to("wgpu"), rg.ones(3))
    with pytest.raises(RuntimeError, match="Given groups=1, weight of size"):
        F.conv2d(g, rg.ones(3, 4, 3, 3, device="wgpu"))
