"""nn.functional against NumPy references, float64 gradcheck, and PyTorch parity where installed."""

import math

import numpy as np
import pytest
import rustgrad
import rustgrad.nn.functional as F
from conftest import assert_close, gradcheck, requires_torch, torch


def T(a, dtype=rustgrad.float64, grad=False):
    return rustgrad.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


_ERF = np.vectorize(math.erf)
ACTS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    "selu": (F.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _ERF(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "softplus": (lambda x: F.softplus(x, 2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "logsigmoid": (F.logsigmoid, lambda x: -np.log1p(np.exp(-x))),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh, np.tanh),
}


@pytest.mark.parametrize("name", list(ACTS))
def test_activation_forward_and_grad(name):
    fn, ref = ACTS[name]
    x = np.random.randn(3, 5) * 3
    assert_close(fn(T(x)), ref(x), rtol=1e-6, atol=1e-8)
    assert_close(fn(T(x, rustgrad.float32)), ref(x).astype(np.float32), rtol=1e-4, atol=1e-5)
    gradcheck(fn, (2, 3), low=0.1, high=2.0)
    gradcheck(fn, (2, 3), low=-2.0, high=-0.1)


def test_inplace_activations():
    x = T(np.array([-1.0, 2.0]))
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    y = T(np.array([-1.0, 2.0]))
    F.leaky_relu(y, 0.5, inplace=True)
    np.testing.assert_array_equal(y.numpy(), [-0.5, 2.0])


def test_softmax_family():
    x = np.random.randn(2, 3, 4)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    assert_close(F.softmax(T(x), dim=1), sm)
    assert_close(F.log_softmax(T(x), dim=1), np.log(sm))
    e2 = np.exp(-x - (-x).max(-1, keepdims=True))
    assert_close(F.softmin(T(x), dim=-1), e2 / e2.sum(-1, keepdims=True))
    assert F.softmax(T(x, rustgrad.float32), dim=0, dtype=rustgrad.float64).dtype == rustgrad.float64
    with pytest.warns(UserWarning):
        F.softmax(T(x[0]))
    gradcheck(lambda a: F.log_softmax(a, 0), (3, 2))


def test_glu_prelu():
    x = np.random.randn(2, 4)
    assert_close(F.glu(T(x), -1), x[:, :2] / (1 + np.exp(-x[:, 2:])))
    with pytest.raises(RuntimeError):
        F.glu(T(np.random.randn(2, 3)))
    w = np.array([0.1, 0.2, 0.3])
    x = np.random.randn(2, 3, 4)
    assert_close(F.prelu(T(x), T(w)), np.where(x >= 0, x, x * w[None, :, None]))


def test_dropout():
    x = rustgrad.ones(1000, dtype=rustgrad.float64)
    out = F.dropout(x, 0.3, training=True).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    assert 0.6 < kept.mean() < 0.8
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(ValueError):
        F.dropout(x, 1.5)
    # gradient is the same mask / (1 - p)
    xg = T(np.ones(50), grad=True)
    o = F.dropout(xg, 0.5)
    o.sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), o.detach().numpy())


def test_channel_dropout():
    x = rustgrad.ones(8, 16, 5, 5)
    out = F.dropout2d(x, 0.5).numpy()
    per_channel = out.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    out1 = F.dropout1d(rustgrad.ones(4, 6, 7), 0.5).numpy()
    assert ((out1 == 0).all(-1) | (out1 == 2).all(-1)).all()
    with pytest.raises(RuntimeError):
        F.dropout1d(rustgrad.ones(2, 3, 4, 5))


def np_norm(x, axes, eps):
    m = x.mean(axes, keepdims=True)
    v = x.var(axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def test_layer_norm():
    x = np.random.randn(2, 3, 4)
    w, b = np.random.randn(3, 4), np.random.randn(3, 4)
    assert_close(F.layer_norm(T(x), (3, 4), T(w), T(b), 1e-5), np_norm(x, (1, 2), 1e-5) * w + b)
    assert_close(F.layer_norm(T(x), 4), np_norm(x, (2,), 1e-5))
    gradcheck(lambda a, ww, bb: F.layer_norm(a, (3,), ww, bb), (2, 3), (3,), (3,))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(T(x), (5,))


def test_group_and_instance_norm():
    x = np.random.randn(2, 6, 3)
    w, b = np.random.randn(6), np.random.randn(6)
    g = np_norm(x.reshape(2, 3, -1), (2,), 1e-5).reshape(x.shape)
    assert_close(F.group_norm(T(x), 3, T(w), T(b)), g * w[None, :, None] + b[None, :, None])
    assert_close(F.instance_norm(T(x)), np_norm(x, (2,), 1e-5))
    gradcheck(lambda a: F.group_norm(a, 2), (2, 4, 3))
    with pytest.raises(RuntimeError):
        F.group_norm(T(x), 4)


def test_batch_norm_functional():
    x = np.random.randn(5, 3, 2)
    rm, rv = rustgrad.zeros(3, dtype=rustgrad.float64), rustgrad.ones(3, dtype=rustgrad.float64)
    out = F.batch_norm(T(x), rm, rv, training=True, momentum=0.1)
    assert_close(out, np_norm(x, (0, 2), 1e-5))
    assert_close(rm, 0.1 * x.mean((0, 2)))
    assert_close(rv, 0.9 + 0.1 * x.var((0, 2), ddof=1))
    out = F.batch_norm(T(x), rm, rv, training=False)
    ref = (x - rm.numpy()[None, :, None]) / np.sqrt(rv.numpy()[None, :, None] + 1e-5)
    assert_close(out, ref)
    gradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True), (4, 3), (3,), (3,))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(T(np.zeros((1, 3))), None, None, training=True)


def test_embedding_and_one_hot():
    w = np.random.randn(6, 3)
    idx = np.array([[0, 2], [5, 2]])
    assert_close(F.embedding(rustgrad.tensor(idx), T(w)), w[idx])
    wt = T(w, grad=True)
    F.embedding(rustgrad.tensor(idx), wt, padding_idx=2).sum().backward()
    ref = np.zeros_like(w)
    ref[0] = 1
    ref[5] = 1  # row 2 is padding: no gradient
    assert_close(wt.grad, ref)
    with pytest.raises(IndexError):
        F.embedding(rustgrad.tensor([6]), T(w))
    oh = F.one_hot(rustgrad.tensor([0, 2, 1]))
    assert oh.dtype == rustgrad.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(3)[[0, 2, 1]])
    assert tuple(F.one_hot(rustgrad.tensor([[1]]), 5).shape) == (1, 1, 5)
    with pytest.raises(RuntimeError):
        F.one_hot(rustgrad.tensor([3]), 2)


def test_pad():
    x = np.arange(12.0).reshape(1, 3, 4)
    assert_close(F.pad(T(x), (1, 2)), np.pad(x, ((0, 0), (0, 0), (1, 2))))
    assert_close(F.pad(T(x), (1, 2, 0, 1), value=-1.0), np.pad(x, ((0, 0), (0, 1), (1, 2)), constant_values=-1))
    assert_close(F.pad(T(x), (-1, 1)), np.pad(x, ((0, 0), (0, 0), (0, 1)))[..., 1:])
    assert_close(F.pad(T(x), (2, 1), mode="reflect"), np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="reflect"))
    assert_close(F.pad(T(x), (2, 1), mode="replicate"), np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="edge"))
    assert_close(F.pad(T(x), (2, 1), mode="circular"), np.pad(x, ((0, 0), (0, 0), (2, 1)), mode="wrap"))
    x4 = x.reshape(1, 1, 3, 4)
    assert_close(F.pad(T(x4), (1, 1, 2, 1), mode="reflect"), np.pad(x4, ((0, 0), (0, 0), (2, 1), (1, 1)), mode="reflect"))
    gradcheck(lambda a: F.pad(a, (1, 2, 1, 0), mode="replicate"), (1, 2, 3))
    with pytest.raises(RuntimeError):
        F.pad(T(x), (1,))


def test_normalize_and_distances():
    x, y = np.random.randn(4, 3), np.random.randn(4, 3)
    assert_close(F.normalize(T(x), dim=1), x / np.linalg.norm(x, axis=1, keepdims=True))
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    assert_close(F.cosine_similarity(T(x), T(y)), cos)
    assert_close(F.pairwise_distance(T(x), T(y)), np.linalg.norm(x - y + 1e-6, axis=1))
    gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=1), (2, 3), (2, 3))


def np_sdpa(q, k, v, mask=None):
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def test_scaled_dot_product_attention():
    q, k, v = np.random.randn(2, 3, 4), np.random.randn(2, 5, 4), np.random.randn(2, 5, 2)
    assert_close(F.scaled_dot_product_attention(T(q), T(k), T(v)), np_sdpa(q, k, v))
    mask = np.random.rand(3, 5) > 0.3
    mask[:, 0] = True
    assert_close(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=rustgrad.tensor(mask)), np_sdpa(q, k, v, mask))
    q3 = np.random.randn(1, 4, 4)
    causal = np.tril(np.ones((4, 4), dtype=bool))
    assert_close(F.scaled_dot_product_attention(T(q3), T(q3), T(q3), is_causal=True), np_sdpa(q3, q3, q3, causal))


def test_linear_and_bilinear():
    x, w, b = np.random.randn(2, 3), np.random.randn(4, 3), np.random.randn(4)
    assert_close(F.linear(T(x), T(w), T(b)), x @ w.T + b)
    x1, x2, wb = np.random.randn(2, 3), np.random.randn(2, 5), np.random.randn(4, 3, 5)
    assert_close(F.bilinear(T(x1), T(x2), T(wb), T(b)), np.einsum("ni,oij,nj->no", x1, wb, x2) + b)
    gradcheck(lambda a, ww: F.linear(a, ww), (2, 3), (4, 3))


def test_interpolate_nearest_and_bilinear():
    x = np.random.randn(1, 2, 3, 4)
    out = F.interpolate(T(x), scale_factor=2, mode="nearest")
    assert_close(out, x.repeat(2, axis=2).repeat(2, axis=3))
    out = F.interpolate(T(x), size=(5, 7), mode="bilinear", align_corners=True)
    assert tuple(out.shape) == (1, 2, 5, 7)
    assert_close(out.numpy()[..., 0, 0], x[..., 0, 0])
    assert_close(out.numpy()[..., -1, -1], x[..., -1, -1])


@requires_torch
@pytest.mark.parametrize(
    "case",
    [
        ("interpolate", lambda m, x: m.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False)),
        ("interpolate_ac", lambda m, x: m.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True)),
        ("nearest", lambda m, x: m.interpolate(x, size=(5, 3), mode="nearest")),
        ("pad_reflect", lambda m, x: m.pad(x, (1, 2, 2, 1), mode="reflect")),
        ("group_norm", lambda m, x: m.group_norm(x, 1)),
        ("normalize", lambda m, x: m.normalize(x, p=1.0, dim=2)),
        ("softmin", lambda m, x: m.softmin(x, dim=3)),
        ("celu", lambda m, x: m.celu(x, 0.7)),
        ("softshrink", lambda m, x: m.softshrink(x, 0.3)),
    ],
    ids=lambda c: c[0],
)
def test_functional_torch_parity(case):
    _, fn = case
    x = np.random.randn(2, 2, 3, 4)
    xr = T(x, grad=True)
    xt = torch.tensor(x, requires_grad=True)
    a = fn(F, xr)
    b = fn(torch.nn.functional, xt)
    assert_close(a, b.detach().numpy(), rtol=1e-6, atol=1e-8)
    g = np.random.randn(*b.shape)
    a.backward(T(g))
    b.backward(torch.tensor(g))
    assert_close(xr.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_embedding_max_norm():
    w = rustgrad.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = F.embedding(rustgrad.tensor([0, 1, 0]), w, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), [1.0, 0.5, 1.0], rtol=1e-5)
    np.testing.assert_allclose(w.numpy()[2], [6.0, 8.0])  # unreferenced row untouched
    np.testing.assert_allclose(w.numpy()[0], [0.6, 0.8], rtol=1e-5)  # renormalised in place
