"""The CPU's fused cross entropy (class-index targets): values against a log_softmax + gather
composition written here in NumPy, gradients by float64 gradcheck and gradgradcheck, float32
against PyTorch where installed, and the errors of the composed path."""

import numpy as np
import pytest
import rustgrad
import rustgrad.nn.functional as F
from conftest import requires_torch, torch
from rustgrad.autograd import gradcheck, gradgradcheck

CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=1),
    dict(label_smoothing=0.2),
    dict(weight=True, ignore_index=0, label_smoothing=0.1),
    dict(weight=True, reduction="none", label_smoothing=0.3),
]


def _reference(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's rule in NumPy: x [N, C, ...], t [N, ...]."""
    xm = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]).astype(np.float64)
    tf = t.reshape(-1)
    c = xm.shape[1]
    lse = np.log(np.exp(xm - xm.max(1, keepdims=True)).sum(1)) + xm.max(1)
    logp = xm - lse[:, None]
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    valid = tf != ignore_index
    tv = np.where(valid, tf, 0)
    wt = w[tv] * valid
    nll = -logp[np.arange(len(tf)), tv] * wt
    smooth = -(logp * w).sum(1) * valid
    per = (1 - label_smoothing) * nll + label_smoothing / c * smooth
    if reduction == "none":
        return per.reshape(t.shape)
    if reduction == "sum":
        return per.sum()
    return per.sum() / wt.sum()


def _args(shape, kw, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype) * 3
    tshape = (shape[0],) + shape[2:]
    t = rng.integers(0, shape[1], tshape).astype(np.int64)
    kw = dict(kw)
    w = None
    if kw.pop("weight", False):
        w = rng.uniform(0.2, 2.0, shape[1]).astype(dtype)
    return x, t, w, kw


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("kw", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_the_composition(shape, kw, dtype):
    x, t, w, kw = _args(shape, kw, dtype)
    got = F.cross_entropy(
        rustgrad.from_numpy(x), rustgrad.from_numpy(t),
        weight=None if w is None else rustgrad.from_numpy(w), **kw)
    assert got.dtype == (rustgrad.float32 if dtype == np.float32 else rustgrad.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.numpy(), _reference(x, t, w, **kw), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2)])
@pytest.mark.parametrize("kw", CASES)
def test_gradcheck_and_gradgradcheck(shape, kw):
    x, t, w, kw = _args(shape, kw, np.float64, seed=1)
    tt = rustgrad.from_numpy(t)
    wt = None if w is None else rustgrad.from_numpy(w)
    x0 = rustgrad.from_numpy(x).requires_grad_()
    assert gradcheck(lambda a: F.cross_entropy(a, tt, weight=wt, **kw), (x0,))
    assert gradgradcheck(lambda a: F.cross_entropy(a, tt, weight=wt, **kw), (x0,))


def test_training_step_gradient_is_softmax_minus_onehot():
    x = rustgrad.randn(8, 10, dtype=rustgrad.float64, requires_grad=True)
    t = rustgrad.randint(0, 10, (8,))
    F.cross_entropy(x, t).backward()
    p = np.exp(x.detach().numpy())
    p /= p.sum(1, keepdims=True)
    p[np.arange(8), t.numpy()] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p / 8, rtol=1e-12, atol=1e-14)


def test_errors_are_those_of_the_composed_path():
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(rustgrad.randn(3, 4), rustgrad.tensor([1, 2, 7]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds"):
        F.cross_entropy(rustgrad.randn(3, 4), rustgrad.tensor([1, -3, 0]))
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(rustgrad.randn(3, 4), rustgrad.tensor([1, 2]))
    # All targets ignored: mean is 0/0 = NaN, as in PyTorch; the gradient is zero.
    x = rustgrad.randn(2, 3, requires_grad=True)
    loss = F.cross_entropy(x, rustgrad.tensor([5, 5]), ignore_index=5)
    assert np.isnan(loss.item())
    loss.backward()
    assert (x.grad.numpy() == 0).all()


@requires_torch
@pytest.mark.parametrize("kw", CASES)
def test_float32_matches_torch(kw):
    x, t, w, kw = _args((16, 7, 3), kw, np.float32, seed=3)
    xr = rustgrad.from_numpy(x.copy()).requires_grad_()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    a = F.cross_entropy(xr, rustgrad.from_numpy(t), weight=None if w is None else rustgrad.from_numpy(w), **kw)
    b = torch.nn.functional.cross_entropy(
        xt, torch.from_numpy(t), weight=None if w is None else torch.from_numpy(w), **kw)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=2e-6)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=2e-5, atol=2e-6)
    if not kw.get("label_smoothing"):  # (PyTorch adds the smoothing term as its own op)
        assert a.grad_fn.name() == b.grad_fn.name() or kw.get("reduction") == "none"
