"""conv1d/conv2d/conv_transpose2d and pooling: naive NumPy references, gradcheck, errors."""

import numpy as np
import pytest
import rustgrad as torch
import rustgrad._nn_native as F
from conftest import assert_close, gradcheck


def np_conv2d(x, w, b, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + dil[0] * (kh - 1) + 1:dil[0],
                           j * stride[1]:j * stride[1] + dil[1] * (kw - 1) + 1:dil[1]]
                y[:, oc, i, j] = (patch * w[oc]).sum((1, 2, 3))
    if b is not None:
        y += b[None, :, None, None]
    return y


CONV = [((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, 1, 1), ((1, 4, 6, 5), (4, 2, 3, 2), (2, 1), (1, 0), 1, 2),
        ((2, 2, 7, 7), (3, 2, 3, 3), 2, 1, 2, 1), ((2, 3, 4, 4), (6, 1, 1, 1), 1, 0, 1, 3),
        ((1, 2, 5, 4), (2, 2, 2, 3), (1, 2), (1, 1), (2, 1), 1)]


@pytest.mark.parametrize("xs,ws,s,p,d,g", CONV)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_forward(xs, ws, s, p, d, g, dtype, bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    ref = np_conv2d(x, w, b if bias else None, pair(s), pair(p), pair(d), g)
    y = F.conv2d(torch.tensor(x, dtype=dtype), torch.tensor(w, dtype=dtype),
                 torch.tensor(b, dtype=dtype) if bias else None, s, p, d, g)
    assert y.dtype == dtype
    assert_close(y, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs,ws,s,p,d,g", CONV)
def test_conv2d_grad(xs, ws, s, p, d, g):
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p, d, g), xs, ws, (ws[0],))


def test_conv2d_same_unbatched_and_1d():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 5, 6)), rng.standard_normal((2, 3, 2, 3))
    y = F.conv2d(torch.tensor(x), torch.tensor(w), padding="same")
    assert tuple(y.shape) == (2, 5, 6)
    xp = np.pad(x, ((0, 0), (0, 1), (1, 1)))
    assert_close(y, np_conv2d(xp[None], w, None, (1, 1), (0, 0), (1, 1), 1)[0])
    x1, w1 = rng.standard_normal((2, 3, 7)), rng.standard_normal((4, 3, 3))
    y1 = F.conv1d(torch.tensor(x1), torch.tensor(w1), stride=2, padding=1)
    assert_close(y1, np_conv2d(x1[:, :, None], w1[:, :, None], None, (1, 2), (0, 1), (1, 1), 1)[:, :, 0])
    gradcheck(lambda x, w, b: F.conv1d(x, w, b, 1, 1, 2), (2, 3, 7), (4, 3, 2), (4,))
    assert tuple(F.conv2d(torch.ones(1, 3, 5, 5), torch.ones(2, 3, 3, 3), padding="valid").shape) == (1, 2, 3, 3)


def np_conv_transpose2d(x, w, b, s, p, op, g, d):
    n, ci, h, wd = x.shape
    _, cog, kh, kw = w.shape
    hf = (h - 1) * s + d * (kh - 1) + 1 + op
    wf = (wd - 1) * s + d * (kw - 1) + 1 + op
    y = np.zeros((n, cog * g, hf, wf))
    cig = ci // g
    for c in range(ci):
        gi = c // cig
        for i in range(h):
            for j in range(wd):
                y[:, gi * cog:(gi + 1) * cog, i * s:i * s + d * (kh - 1) + 1:d, j * s:j * s + d * (kw - 1) + 1:d] += \
                    x[:, c, i, j][:, None, None, None] * w[c][None]
    y = y[:, :, p:hf - p if p else None, p:wf - p if p else None]
    if b is not None:
        y += b[None, :, None, None]
    return y


@pytest.mark.parametrize("s,p,op,g,d", [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 0, 2, 1), (1, 1, 0, 1, 2)])
def test_conv_transpose2d(s, p, op, g, d):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((4, 3, 2, 3)), rng.standard_normal(3 * g)
    y = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), s, p, op, g, d)
    assert_close(y, np_conv_transpose2d(x, w, b, s, p, op, g, d))
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d), (2, 4, 3, 3), (4, 3, 2, 3), (3 * g,))


def np_pool(x, k, s, p, fn, pad_val):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=pad_val)
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = fn(xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]], axis=(2, 3))
    return y


POOL = [((2, 3, 6, 6), 2, None, 0), ((1, 2, 7, 5), (3, 2), (2, 1), (1, 1)), ((2, 1, 5, 5), 3, 2, 1)]


@pytest.mark.parametrize("xs,k,s,p", POOL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pool2d_forward(xs, k, s, p, dtype):
    x = np.random.default_rng(3).standard_normal(xs)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    kk, ss, pp = pair(k), pair(s if s is not None else k), pair(p)
    tx = torch.tensor(x, dtype=dtype)
    assert_close(F.max_pool2d(tx, k, s, p), np_pool(x, kk, ss, pp, np.max, -np.inf), rtol=1e-5, atol=1e-5)
    assert_close(F.avg_pool2d(tx, k, s, p), np_pool(x, kk, ss, pp, np.mean, 0.0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("xs,k,s,p", POOL)
def test_pool2d_grad(xs, k, s, p):
    gradcheck(lambda x: F.max_pool2d(x, k, s, p), xs)
    gradcheck(lambda x: F.avg_pool2d(x, k, s, p), xs)
    gradcheck(lambda x: F.avg_pool2d(x, k, s, p, count_include_pad=False), xs)


def test_pool_misc():
    x = np.random.default_rng(4).standard_normal((2, 3, 7))
    tx = torch.tensor(x)
    v, i = F.max_pool1d(tx, 2, return_indices=True)
    assert_close(v, x[:, :, :6].reshape(2, 3, 3, 2).max(-1))
    assert i.dtype == torch.int64
    assert_close(i, x[:, :, :6].reshape(2, 3, 3, 2).argmax(-1) + np.arange(3) * 2)
    assert_close(F.avg_pool1d(tx, 3, 2), np_pool(x[:, :, None], (1, 3), (1, 2), (0, 0), np.mean, 0)[:, :, 0])
    assert tuple(F.max_pool2d(torch.ones(1, 1, 5, 5), 2, ceil_mode=True).shape) == (1, 1, 3, 3)
    x2 = np.random.default_rng(5).standard_normal((2, 3, 6, 5))
    assert_close(F.adaptive_avg_pool2d(torch.tensor(x2), (3, 1)), x2.reshape(2, 3, 3, 2, 5).mean((3, 4))[..., None])
    assert_close(F.adaptive_avg_pool1d(tx, 1), x.mean(-1, keepdims=True))
    gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (2, 2, 5, 4))
    assert_close(F.avg_pool2d(torch.ones(1, 1, 4, 4), 2, divisor_override=1), np.full((1, 1, 2, 2), 4.0))


def np_adaptive_max(x, out):
    """Values and flat plane indices of adaptive max pooling (PyTorch's floor/ceil windows)."""
    n, c, h, w = x.shape
    v, i = np.zeros((n, c) + tuple(out)), np.zeros((n, c) + tuple(out), dtype=np.int64)
    for oy in range(out[0]):
        y0, y1 = oy * h // out[0], -(-(oy + 1) * h // out[0])
        for ox in range(out[1]):
            x0, x1 = ox * w // out[1], -(-(ox + 1) * w // out[1])
            win = x[:, :, y0:y1, x0:x1].reshape(n, c, -1)
            a = win.argmax(-1)
            v[:, :, oy, ox] = win.max(-1)
            i[:, :, oy, ox] = (y0 + a // (x1 - x0)) * w + x0 + a % (x1 - x0)
    return v, i


@pytest.mark.parametrize("out", [(1, 1), (2, 3), (4, 4), (7, 9)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adaptive_max_pool2d(out, dtype):
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 7))
    v, i = F.adaptive_max_pool2d(torch.tensor(x, dtype=dtype), out, return_indices=True)
    rv, ri = np_adaptive_max(x, out)
    assert v.dtype == dtype and i.dtype == torch.int64
    assert_close(v, rv, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(i.numpy(), ri)
    gradcheck(lambda x: F.adaptive_max_pool2d(x, out), (2, 3, 5, 7))


def test_adaptive_max_pool_nan_1d_modules_and_errors():
    x = np.array([[[[1.0, np.nan, 3.0, np.nan], [np.nan, 0.0, 0.0, 0.0]]]])
    v, i = F.adaptive_max_pool2d(torch.tensor(x), 1, return_indices=True)
    assert np.isnan(v.item()) and i.item() == 4  # the last NaN wins, as in PyTorch
    x1 = np.random.default_rng(7).standard_normal((2, 3, 10))
    v1, i1 = F.adaptive_max_pool1d(torch.tensor(x1), 4, return_indices=True)
    rv, ri = np_adaptive_max(x1[:, :, None], (1, 4))
    assert_close(v1, rv[:, :, 0])
    np.testing.assert_array_equal(i1.numpy(), ri[:, :, 0])
    m = torch.nn.AdaptiveMaxPool2d((None, 2), return_indices=True)
    assert tuple(m(torch.ones(3, 5, 6))[1].shape) == (3, 5, 2)
    assert tuple(torch.nn.AdaptiveMaxPool1d(3)(torch.ones(2, 4, 7)).shape) == (2, 4, 3)
    with pytest.raises(RuntimeError, match="adaptive_max_pool2d.*non-zero size for non-batch dimensions"):
        F.adaptive_max_pool2d(torch.ones(2, 3, 0, 4), 2)
    with pytest.raises(NotImplementedError, match="adaptive_max_pool2d"):
        F.adaptive_max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.int32), 2)


def test_errors():
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[8, 3, 3, 3\], expected input\[2, 4, 5, 5\] "
                       r"to have 3 channels, but got 4 channels instead"):
        F.conv2d(torch.ones(2, 4, 5, 5), torch.ones(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3))
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(torch.ones(1, 1, 5, 5), 2, padding=2)


def _np_conv2d(x, w, stride, padding, dilation):
    """Direct NumPy conv2d (groups=1) and a function giving the input gradient for an output
    gradient, both tap by tap."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    taps = [(i, j, (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)))
            for i in range(kh) for j in range(kw)]
    y = np.zeros((n, o, oh, ow))
    for i, j, (si, sj) in taps:
        y += np.einsum("ncyx,oc->noyx", xp[:, :, si, sj], w[:, :, i, j])

    def input_grad(g):
        dxp = np.zeros_like(xp)
        for i, j, (si, sj) in taps:
            dxp[:, :, si, sj] += np.einsum("noyx,oc->ncyx", g, w[:, :, i, j])
        return dxp[:, :, ph:ph + h, pw:pw + wd]

    def weight_grad(g):
        dw = np.zeros_like(w)
        for i, j, (si, sj) in taps:
            dw[:, :, i, j] = np.einsum("noyx,ncyx->oc", g, xp[:, :, si, sj])
        return dw

    return y, input_grad, weight_grad


@pytest.mark.parametrize("stride,padding,dilation", [((1, 1), (1, 1), (1, 1)), ((2, 1), (2, 0), (1, 2)),
                                                     ((1, 3), (0, 3), (2, 1))])
def test_conv2d_with_many_output_row_bands(stride, padding, dilation):
    # Big enough that the CPU kernels unfold the image in several bands of output rows (the last
    # one partial), in both float64 and float32.
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 24, 61, 67))
    w = rng.standard_normal((5, 24, 3, 3)) * 0.2
    y_ref, input_grad, _ = _np_conv2d(x, w, stride, padding, dilation)
    g = rng.standard_normal(y_ref.shape)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 2e-4)):
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        wt = torch.tensor(w, dtype=dtype)
        y = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=padding, dilation=dilation)
        np.testing.assert_allclose(y.detach().numpy(), y_ref, rtol=tol, atol=tol)
        y.backward(torch.tensor(g, dtype=dtype))
        np.testing.assert_allclose(xt.grad.numpy(), input_grad(g), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("stride,padding,dilation,groups", [((1, 1), (1, 1), (1, 1), 1), ((2, 1), (2, 0), (1, 2), 2),
                                                            ((1, 3), (0, 3), (2, 1), 3), ((1, 1), (0, 2), (2, 1), 2)])
def test_conv2d_forward_and_weight_grad_over_many_samples(stride, padding, dilation, groups):
    # The CPU weight gradient is one GEMM whose depth runs over every pixel of every sample, its
    # operands unfolded block by block straight from x and dy: here the depth blocks start and end
    # inside output rows and inside samples, which a small gradcheck never reaches.
    rng = np.random.default_rng(12)
    n, cg, og = 9, 4, 3
    x = rng.standard_normal((n, cg * groups, 13, 11))
    w = rng.standard_normal((og * groups, cg, 3, 2)) * 0.3
    refs = [_np_conv2d(x[:, gi * cg:(gi + 1) * cg], w[gi * og:(gi + 1) * og], stride, padding, dilation)
            for gi in range(groups)]
    g = rng.standard_normal((n, og * groups) + refs[0][0].shape[2:])
    dw_ref = np.concatenate([r[2](g[:, gi * og:(gi + 1) * og]) for gi, r in enumerate(refs)])
    y_ref = np.concatenate([r[0] for r in refs], axis=1)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-3)):
        wt = torch.tensor(w, dtype=dtype, requires_grad=True)
        y = torch.nn.functional.conv2d(torch.tensor(x, dtype=dtype), wt, stride=stride, padding=padding,
                                       dilation=dilation, groups=groups)
        np.testing.assert_allclose(y.detach().numpy(), y_ref, rtol=tol, atol=tol)
        y.backward(torch.tensor(g, dtype=dtype))
        np.testing.assert_allclose(wt.grad.numpy(), dw_ref, rtol=tol, atol=tol)


def test_conv2d_weight_grad_with_inf_in_input():
    # Stride-1 weight gradients read the taps from a padded copy of x over "virtual" output
    # columns whose gradient is zero; an inf there would turn into inf * 0 = NaN in taps that the
    # real convolution never multiplies by it. Such inputs take the exact path: taps (kj == 0)
    # whose windows never reach the last column stay finite, as in the reference.
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 6, 7))
    x[1, 2, 3, 6] = np.inf
    w = rng.standard_normal((4, 3, 3, 3))
    _, _, weight_grad = _np_conv2d(x, w, (1, 1), (1, 1), (1, 1))
    g = rng.standard_normal((2, 4, 6, 7))
    ref = weight_grad(g)
    assert np.isfinite(ref[:, 2, :, 0]).all() and not np.isfinite(ref[:, 2, :, 1:]).all()
    for dtype in (torch.float64, torch.float32):
        wt = torch.tensor(w, dtype=dtype, requires_grad=True)
        torch.nn.functional.conv2d(torch.tensor(x, dtype=dtype), wt, padding=1).backward(torch.tensor(g, dtype=dtype))
        np.testing.assert_allclose(wt.grad.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel,dilation", [((4, 2), (1, 1)), ((3, 4), (2, 1))])
def test_conv2d_same_padding_even_kernel_all_gradients(kernel, dilation):
    # padding="same" with an even kernel pads one more at the bottom/right than at the top/left;
    # the CPU kernels that read taps from padded planes must size those planes for it. Reference:
    # NumPy on an explicitly (asymmetrically) padded input.
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4, 9, 8))
    w = rng.standard_normal((5, 4) + kernel) * 0.3
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    pads = [(t // 2, t - t // 2) for t in total]
    xpad = np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))
    y_ref, input_grad, weight_grad = _np_conv2d(xpad, w, (1, 1), (0, 0), dilation)
    g = rng.standard_normal(y_ref.shape)
    dx_ref = input_grad(g)[:, :, pads[0][0]:pads[0][0] + 9, pads[1][0]:pads[1][0] + 8]
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-3)):
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        wt = torch.tensor(w, dtype=dtype, requires_grad=True)
        y = torch.nn.functional.conv2d(xt, wt, padding="same", dilation=dilation)
        np.testing.assert_allclose(y.detach().numpy(), y_ref, rtol=tol, atol=tol)
        y.backward(torch.tensor(g, dtype=dtype))
        np.testing.assert_allclose(xt.grad.numpy(), dx_ref, rtol=tol, atol=tol)
        np.testing.assert_allclose(wt.grad.numpy(), weight_grad(g), rtol=tol, atol=tol)


def test_conv2d_weight_grad_in_sample_chunks():
    # Large enough in float64 that the stride-1 weight gradient's padded copies (32 MB budget)
    # take the batch in two chunks of samples (6 + 2), the second chunk's product added to the first.
    rng = np.random.default_rng(15)
    x = rng.standard_normal((8, 64, 100, 100))
    w = rng.standard_normal((2, 64, 3, 3)) * 0.1
    _, _, weight_grad = _np_conv2d(x, w, (1, 1), (1, 1), (1, 1))
    g = rng.standard_normal((8, 2, 100, 100))
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), wt, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(wt.grad.numpy(), weight_grad(g), rtol=1e-10, atol=1e-9)
