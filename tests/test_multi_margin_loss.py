"""F.multi_margin_loss / nn.MultiMarginLoss against a NumPy reference, torch, and gradcheck."""

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F
from conftest import assert_close, gradcheck, requires_torch, torch


def np_multi_margin(x, y, p=1, margin=1.0, w=None, reduction="mean"):
    x = np.atleast_2d(x)
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j == y[i]:
                continue
            z = max(0.0, margin - x[i, y[i]] + x[i, j]) ** p
            out[i] += z * (w[y[i]] if w is not None else 1.0)
    out /= c
    return {"mean": out.mean(), "sum": out.sum(), "none": out}[reduction]


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_forward_numpy(p, reduction, weighted):
    x = np.random.randn(5, 4)
    y = np.array([0, 3, 1, 1, 2])
    w = np.random.rand(4) if weighted else None
    got = F.multi_margin_loss(
        rg.tensor(x), rg.tensor(y), p=p, margin=0.7, weight=None if w is None else rg.tensor(w), reduction=reduction
    )
    assert_close(got, np_multi_margin(x, y, p, 0.7, w, reduction))


def test_unbatched_shapes():
    x = rg.randn(4)
    assert F.multi_margin_loss(x, rg.tensor(2)).shape == ()
    assert F.multi_margin_loss(x, rg.tensor(2), reduction="none").shape == ()
    assert F.multi_margin_loss(x, rg.tensor([2]), reduction="none").shape == (1,)


@pytest.mark.parametrize("p", [1, 2])
def test_gradcheck(p):
    y = rg.tensor([1, 0, 2])
    w = rg.tensor([0.5, 1.0, 2.0], dtype=rg.float64)
    gradcheck(lambda x: F.multi_margin_loss(x, y, p=p, margin=0.9, weight=w), (3, 3))
    gradcheck(lambda x: F.multi_margin_loss(x, y, p=p, reduction="sum"), (3, 3))


def test_module_and_errors():
    m = rg.nn.MultiMarginLoss(p=2, margin=0.5, weight=rg.ones(4))
    assert list(m.state_dict()) == ["weight"]
    x, y = rg.randn(3, 4), rg.tensor([0, 1, 2])
    assert_close(m(x, y), F.multi_margin_loss(x, y, p=2, margin=0.5))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        rg.nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, y, p=3)
    with pytest.raises(RuntimeError, match=r"Expected target size \[3\], but got \[2\]"):
        F.multi_margin_loss(x, rg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"inconsistent weight size, expected 4 but got \[3\]"):
        F.multi_margin_loss(x, y, weight=rg.ones(3))
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, rg.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.multi_margin_loss(x, y.float())
    with pytest.raises(RuntimeError, match=r"non-empty vector or matrix .* \[2, 3, 4\]"):
        F.multi_margin_loss(rg.randn(2, 3, 4), y)
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        F.multi_margin_loss(x, y, reduction="bad")


@requires_torch
@pytest.mark.parametrize("p", [1, 2])
def test_matches_torch_value_and_grad(p):
    x = np.random.randn(6, 5)
    y = np.array([0, 4, 1, 2, 3, 3])
    w = np.random.rand(5)
    ours = rg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    lo = F.multi_margin_loss(ours, rg.tensor(y), p=p, margin=1.3, weight=rg.tensor(w))
    lt = torch.nn.functional.multi_margin_loss(theirs, torch.tensor(y), p=p, margin=1.3, weight=torch.tensor(w))
    lo.backward()
    lt.backward()
    assert_close(lo, lt.detach().numpy())
    assert_close(ours.grad, theirs.grad.numpy())
