"""Unary/binary elementwise ops vs NumPy: dtypes, NaN/inf, 0-d, zero-size, non-contiguous, in-place."""

import math

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, requires_torch, torch

_erf = np.vectorize(math.erf)
REF = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0), "erf": _erf, "floor": np.floor, "ceil": np.ceil, "round": np.round,
    "trunc": np.trunc, "reciprocal": lambda x: 1 / x, "square": np.square, "sign": np.sign,
}
POS = {"log", "log2", "log10", "sqrt", "rsqrt"}


def _inputs(name, dtype):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.1, 3, (3, 4)) if name in POS else rng.uniform(-3, 3, (3, 4))
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(REF))
def test_unary_vs_numpy(name, dtype):
    a = _inputs(name, dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    t = rg.tensor(a)
    out = getattr(rg, name)(t)
    assert out.dtype == t.dtype
    assert_close(out, REF[name](a).astype(dtype), **tol)
    # non-contiguous input, 0-d and zero-size
    assert_close(getattr(t.t(), name)(), REF[name](a.T).astype(dtype), **tol)
    assert_close(getattr(rg.tensor(a[0, 0]), name)(), REF[name](a[0, 0]).astype(dtype), **tol)
    assert getattr(rg.zeros(0, 3, dtype=t.dtype), name)().shape == (0, 3)


def test_unary_int_dtypes():
    x = rg.tensor([-2, 3])
    assert x.abs().tolist() == [2, 3] and x.neg().dtype == rg.int64 and x.sign().tolist() == [-1, 1]
    assert x.exp().dtype == rg.float32 and x.sqrt().dtype == rg.float32 and x.sigmoid().dtype == rg.float32
    assert x.floor().dtype == rg.int64 and x.square().dtype == rg.int64


def test_nan_inf():
    x = rg.tensor([float("nan"), float("inf"), -float("inf"), 0.0])
    assert np.isnan(x.exp().numpy()[0]) and x.exp().tolist()[1:] == [math.inf, 0.0, 1.0]
    assert x.relu().tolist()[1:] == [math.inf, 0.0, 0.0] and math.isnan(x.relu().tolist()[0])
    assert x.sigmoid().tolist()[1:] == [1.0, 0.0, 0.5]
    assert rg.tensor([-1.0]).log().isnan().item() and rg.tensor([0.0]).log().tolist() == [-math.inf]
    mx = rg.maximum(rg.tensor([1.0, math.nan]), rg.tensor([math.nan, 1.0]))
    assert np.isnan(mx.numpy()).all() and np.isnan(rg.minimum(rg.tensor([math.nan]), rg.tensor([1.0])).numpy()).all()


def test_clamp_and_activations():
    x = rg.tensor([-2.0, 0.5, 3.0])
    assert x.clamp(-1, 1).tolist() == [-1, 0.5, 1] and x.clamp(max=0).tolist() == [-2, 0, 0]
    assert rg.tensor([1, 5, 9]).clamp(2, 6).tolist() == [2, 5, 6]
    assert rg.tensor([1, 5, 9]).clamp(2.5).tolist() == [2.5, 5, 9]
    with pytest.raises(RuntimeError):
        x.clamp()
    assert rg.tensor([1.2345]).round(decimals=2).tolist()[0] == pytest.approx(1.23)


def test_binary_broadcast_and_scalars():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 1, 4)).astype(np.float32), rng.standard_normal((2, 1)).astype(np.float32)
    ta, tb = rg.tensor(a), rg.tensor(b)
    for op in ("__add__", "__sub__", "__mul__", "__truediv__"):
        assert_close(getattr(ta, op)(tb), getattr(a, op)(b))
    assert (2 - rg.tensor([1, 2])).tolist() == [1, 0] and (2 / rg.tensor([1, 2])).tolist() == [2.0, 1.0]
    assert (2 ** rg.tensor([1, 2])).tolist() == [2, 4]
    assert rg.add(rg.ones(2), rg.ones(2), alpha=2).tolist() == [3, 3]
    assert rg.sub(rg.ones(2), rg.ones(2), alpha=3).tolist() == [-2, -2]
    with pytest.raises(RuntimeError, match="must match the size"):
        rg.zeros(2, 3) + rg.zeros(4)
    assert_close(ta.t() if False else rg.tensor(a[:, 0, :]).t() * 2, a[:, 0, :].T * 2)


def test_inplace():
    x = rg.ones(2)
    assert x.add_(rg.ones(2), alpha=2) is x and x.tolist() == [3, 3]
    x.mul_(2).sub_(1).div_(5)
    assert x.tolist() == [1, 1]
    with pytest.raises(RuntimeError, match="can't be cast"):
        rg.ones(2, dtype=rg.int64).add_(1.5)
    y = rg.zeros(2, 2)
    y.copy_(rg.tensor([1, 2]))
    assert y.tolist() == [[1, 2], [1, 2]] and y.dtype == rg.float32
    assert rg.zeros(2).fill_(3.5).tolist() == [3.5, 3.5] and rg.ones(2).zero_().tolist() == [0, 0]
    assert rg.arange(5.0).clamp_(1, 3).tolist() == [1, 1, 2, 3, 3]
    with pytest.raises(RuntimeError):
        rg.ones(2).add_(rg.ones(2, 2))
    with pytest.raises(RuntimeError):
        rg.zeros(2, 2).copy_(rg.tensor([1, 2, 3]))
    base = rg.zeros(2, 3)
    base.t().add_(rg.tensor([1.0, 2.0]))
    assert base.tolist() == [[1, 1, 1], [2, 2, 2]]


def test_comparisons_logical_where():
    assert (rg.tensor([1, 2]) == 1).tolist() == [True, False]
    assert (rg.tensor([1.0, 2.0]) >= rg.tensor([2, 2])).tolist() == [False, True]
    assert rg.logical_and(rg.tensor([1, 0]), rg.tensor([1.0, 1.0])).tolist() == [True, False]
    assert rg.logical_not(rg.tensor([1, 0])).tolist() == [False, True]
    assert (~rg.tensor([True, False])).tolist() == [False, True] and (~rg.tensor([1, 0])).tolist() == [-2, -1]
    assert (rg.tensor([5]) ^ rg.tensor([3])).tolist() == [6]
    w = rg.where(rg.tensor([True, False]), rg.tensor([1, 2]), 2.5)
    assert w.dtype == rg.float32 and w.tolist() == [1.0, 2.5]
    assert rg.where(rg.tensor([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]


@requires_torch
@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "relu", "sigmoid", "erf"])
def test_activation_parity(name):
    a = np.linspace(-5, 5, 11, dtype=np.float32)
    ref = getattr(torch, name, None) or getattr(torch.nn.functional, name)
    mine = getattr(rg, name, None)
    if mine is None:
        pytest.skip(f"rustgrad.{name} lives in nn.functional")
    assert_close(mine(rg.tensor(a)), ref(torch.tensor(a)).numpy(), rtol=1e-5, atol=1e-6)


def test_fmod_keeps_int():
    assert rg.fmod(rg.tensor([-7, 7]), 3).tolist() == [-1, 1]
    assert rg.fmod(rg.tensor([-7.5, 7.0]), 3).tolist() == [-1.5, 1.0]
