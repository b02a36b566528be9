"""nn losses against NumPy references (and PyTorch where installed)."""

import numpy as np
import pytest
import rustgrad
import rustgrad.nn as nn
import rustgrad.nn.functional as F
from conftest import assert_close, gradcheck, requires_torch, torch


def T(a, dtype=rustgrad.float64, grad=False):
    return rustgrad.tensor(np.asarray(a), dtype=dtype, requires_grad=grad)


def np_log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def np_reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    x, y = np.random.randn(4, 3), np.random.randn(4, 3)
    d = x - y
    assert_close(F.mse_loss(T(x), T(y), reduction=reduction), np_reduce(d**2, reduction))
    assert_close(F.l1_loss(T(x), T(y), reduction=reduction), np_reduce(np.abs(d), reduction))
    for beta in (0.5, 1.0):
        ref = np.where(np.abs(d) < beta, 0.5 * d**2 / beta, np.abs(d) - 0.5 * beta)
        assert_close(nn.SmoothL1Loss(reduction=reduction, beta=beta)(T(x), T(y)), np_reduce(ref, reduction))
    delta = 0.7
    ref = np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))
    assert_close(nn.HuberLoss(reduction=reduction, delta=delta)(T(x), T(y)), np_reduce(ref, reduction))


def test_regression_loss_grads():
    y = T(np.random.randn(3, 2))
    gradcheck(lambda x: F.mse_loss(x, y), (3, 2))
    gradcheck(lambda x: F.smooth_l1_loss(x, y, beta=0.5), (3, 2))
    gradcheck(lambda x: F.huber_loss(x, y, delta=0.3), (3, 2))


def np_nll(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    # logp (N, C, *) -> move C last
    lp = np.moveaxis(logp, 1, -1) if logp.ndim > 2 else logp
    C = lp.shape[-1]
    w = np.ones(C) if weight is None else weight
    valid = target != ignore_index
    t = np.where(valid, target, 0)
    picked = np.take_along_axis(lp, t[..., None], -1)[..., 0]
    wt = w[t] * valid
    loss = -picked * wt
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return np_reduce(loss, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (2, 4, 2, 3)])
def test_cross_entropy_indices(reduction, shape):
    x = np.random.randn(*shape)
    tshape = (shape[0],) + shape[2:]
    t = np.random.randint(0, shape[1], tshape)
    t.reshape(-1)[0] = -100
    w = np.random.rand(shape[1]) + 0.5
    ref = np_nll(np_log_softmax(x, 1), t, w, -100, reduction)
    out = F.cross_entropy(T(x), rustgrad.tensor(t), weight=T(w), reduction=reduction)
    assert_close(out, ref)
    t = np.where(t == -100, 0, t)
    ref = np_nll(np_log_softmax(x, 1), t, None, 2, reduction)
    assert_close(nn.CrossEntropyLoss(ignore_index=2, reduction=reduction)(T(x), rustgrad.tensor(t)), ref)


def test_cross_entropy_label_smoothing_vs_numpy():
    x = np.random.randn(6, 5)
    t = np.array([0, 4, 2, -100, 1, 1])
    w = np.random.rand(5) + 0.5
    eps = 0.2
    lp = np_log_softmax(x, 1)
    valid = t != -100
    nll = np_nll(lp, t, w)
    smooth = -(lp * w).sum(1) * valid
    smooth = smooth.sum() / (w[np.where(valid, t, 0)] * valid).sum()
    ref = (1 - eps) * nll + eps / 5 * smooth
    assert_close(F.cross_entropy(T(x), rustgrad.tensor(t), weight=T(w), label_smoothing=eps), ref)


def test_cross_entropy_probabilities():
    x = np.random.randn(4, 3, 2)
    p = np.random.rand(4, 3, 2)
    p /= p.sum(1, keepdims=True)
    w = np.array([0.2, 1.0, 2.0])
    lp = np_log_softmax(x, 1)
    ref = -(lp * p * w[None, :, None]).sum(1)
    assert_close(F.cross_entropy(T(x), T(p), weight=T(w), reduction="none"), ref)
    assert_close(F.cross_entropy(T(x), T(p), weight=T(w)), ref.mean())
    ps = p * 0.9 + 0.1 / 3
    assert_close(F.cross_entropy(T(x), T(p), label_smoothing=0.1), (-(lp * ps).sum(1)).mean())


def test_cross_entropy_grad_and_errors():
    t = rustgrad.tensor([1, 0, 2])
    gradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=0.1), (3, 4))
    gradcheck(lambda x: F.nll_loss(x, t, weight=T([1.0, 2.0, 0.5, 1.0])), (3, 4))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(rustgrad.randn(3, 4), rustgrad.tensor([1, 2]))
    with pytest.raises(IndexError):
        F.cross_entropy(rustgrad.randn(3, 4), rustgrad.tensor([1, 2, 7]))


def test_nll_all_ignored_is_nan():
    out = F.nll_loss(rustgrad.randn(2, 3), rustgrad.tensor([-100, -100]))
    assert np.isnan(out.item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce(reduction):
    x = np.random.rand(4, 3) * 0.98 + 0.01
    x[0, 0] = 0.0  # log clamps to -100
    y = (np.random.rand(4, 3) > 0.5).astype(np.float64)
    y[0, 0] = 1.0
    w = np.random.rand(4, 3)
    ref = -(y * np.maximum(np.log(np.maximum(x, 1e-300)), -100) + (1 - y) * np.maximum(np.log(1 - x), -100)) * w
    assert_close(F.binary_cross_entropy(T(x), T(y), weight=T(w), reduction=reduction), np_reduce(ref, reduction))
    with pytest.raises(ValueError):
        F.binary_cross_entropy(T(x), T(y[:2]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    x = np.random.randn(4, 3) * 30  # large logits must stay finite
    y = np.random.rand(4, 3)
    pw = np.array([0.5, 1.0, 3.0])
    w = np.random.rand(4, 3)
    log_sig = -np.logaddexp(0, -x)
    log_1msig = -np.logaddexp(0, x)
    ref = -(pw * y * log_sig + (1 - y) * log_1msig) * w
    out = nn.BCEWithLogitsLoss(weight=T(w), pos_weight=T(pw), reduction=reduction)(T(x), T(y))
    assert_close(out, np_reduce(ref, reduction))
    gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, T(y[:2]), pos_weight=T(pw)), (2, 3))


def test_kl_div():
    x = np_log_softmax(np.random.randn(3, 4), 1)
    p = np.random.rand(3, 4)
    p[0, 0] = 0.0
    ref = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - x), 0.0)
    assert_close(F.kl_div(T(x), T(p), reduction="batchmean"), ref.sum() / 3)
    assert_close(F.kl_div(T(x), T(p), reduction="sum"), ref.sum())
    lp = np.log(p + 0.1)
    ref2 = np.exp(lp) * (lp - x)
    assert_close(nn.KLDivLoss(reduction="none", log_target=True)(T(x), T(lp)), ref2)


def test_margin_losses():
    a, b = np.random.randn(5), np.random.randn(5)
    y = np.array([1, -1, 1, -1, 1.0])
    ref = np.maximum(0, -y * (a - b) + 0.3).mean()
    assert_close(nn.MarginRankingLoss(margin=0.3)(T(a), T(b), T(y)), ref)
    x1, x2 = np.random.randn(5, 3), np.random.randn(5, 3)
    cos = (x1 * x2).sum(1) / np.linalg.norm(x1, axis=1) / np.linalg.norm(x2, axis=1)
    ref = np.where(y == 1, 1 - cos, np.maximum(0, cos - 0.1)).mean()
    assert_close(nn.CosineEmbeddingLoss(margin=0.1)(T(x1), T(x2), T(y)), ref)


def test_invalid_reduction():
    with pytest.raises(ValueError):
        F.mse_loss(rustgrad.randn(2), rustgrad.randn(2), reduction="avg")


@requires_torch
def test_losses_torch_parity():
    x = np.random.randn(6, 5).astype(np.float32)
    t = np.array([0, 4, 2, 3, 1, 1])
    w = (np.random.rand(5) + 0.5).astype(np.float32)
    for kw in ({}, {"label_smoothing": 0.3}, {"ignore_index": 1}):
        xr = rustgrad.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        a = F.cross_entropy(xr, rustgrad.tensor(t), weight=rustgrad.tensor(w), **kw)
        b = torch.nn.functional.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w), **kw)
        a.backward()
        b.backward()
        assert_close(a, b.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert_close(xr.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
