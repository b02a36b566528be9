"""nn.init: gains, fans, bounds and statistics of every initialiser; default layer init."""

import math

import numpy as np
import pytest
import rustgrad
import rustgrad.nn as nn
from rustgrad.nn import init


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        init.calculate_gain("foo")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(rustgrad.empty(4, 3)) == (3, 4)
    assert init._calculate_fan_in_and_fan_out(rustgrad.empty(8, 2, 3, 5)) == (30, 120)
    with pytest.raises(ValueError):
        init._calculate_fan_in_and_fan_out(rustgrad.empty(3))


def test_uniform_normal_constant():
    w = rustgrad.empty(200, 100)
    assert init.uniform_(w, -0.3, 0.7) is w
    a = w.numpy()
    assert a.min() >= -0.3 and a.max() < 0.7 and abs(a.mean() - 0.2) < 0.01
    init.normal_(w, 1.0, 2.0)
    assert abs(w.numpy().mean() - 1.0) < 0.05 and abs(w.numpy().std() - 2.0) < 0.05
    init.constant_(w, 3.5)
    assert (w.numpy() == 3.5).all()
    init.zeros_(w)
    assert (w.numpy() == 0).all()
    init.ones_(w)
    assert (w.numpy() == 1).all()
    e = init.eye_(rustgrad.empty(3, 4))
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 4))


def test_init_under_no_grad_keeps_leaf():
    p = nn.Parameter(rustgrad.empty(5, 5))
    init.kaiming_normal_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_xavier_kaiming_stats():
    w = rustgrad.empty(300, 200)
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.95 * bound
    init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.003
    init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.95 * bound
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.003
    with pytest.raises(ValueError):
        init.kaiming_uniform_(w, mode="fan_middle")


def test_trunc_normal():
    w = rustgrad.empty(100, 100)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = w.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    # mean of N(0.5, 1) truncated symmetric around 0.5 at +-1 and -1.5..1: just check it is in range
    assert 0.1 < a.mean() < 0.5


def test_orthogonal():
    w = rustgrad.empty(4, 6)
    init.orthogonal_(w, gain=2.0)
    a = w.numpy().astype(np.float64)
    np.testing.assert_allclose(a @ a.T, 4 * np.eye(4), atol=1e-5)
    w = rustgrad.empty(6, 3, dtype=rustgrad.float64)
    init.orthogonal_(w)
    np.testing.assert_allclose(w.numpy().T @ w.numpy(), np.eye(3), atol=1e-10)


def test_dirac():
    w = init.dirac_(rustgrad.empty(3, 3, 3))
    ref = np.zeros((3, 3, 3))
    for i in range(3):
        ref[i, i, 1] = 1
    np.testing.assert_array_equal(w.numpy(), ref)


def test_default_layer_init_bounds():
    lin = nn.Linear(50, 30)
    assert tuple(lin.weight.shape) == (30, 50) and tuple(lin.bias.shape) == (30,)
    b = 1 / math.sqrt(50)  # kaiming_uniform(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(lin.weight.detach().numpy()).max() <= b and np.abs(lin.weight.detach().numpy()).max() > 0.9 * b
    assert np.abs(lin.bias.detach().numpy()).max() <= b
    conv = nn.Conv2d(3, 8, 3)
    assert tuple(conv.weight.shape) == (8, 3, 3, 3)
    b = 1 / math.sqrt(27)
    assert np.abs(conv.weight.detach().numpy()).max() <= b and np.abs(conv.bias.detach().numpy()).max() <= b
    emb = nn.Embedding(1000, 20, padding_idx=3)
    a = emb.weight.detach().numpy()
    assert abs(a.std() - 1) < 0.05 and (a[3] == 0).all()
    lstm = nn.LSTM(5, 10)
    for p in lstm.parameters():
        assert np.abs(p.detach().numpy()).max() <= 1 / math.sqrt(10)
    bn = nn.BatchNorm2d(4)
    assert (bn.weight.detach().numpy() == 1).all() and (bn.bias.detach().numpy() == 0).all()
    assert (bn.running_var.numpy() == 1).all() and bn.num_batches_tracked.item() == 0
    mha = nn.MultiheadAttention(8, 2)
    assert tuple(mha.in_proj_weight.shape) == (24, 8) and (mha.in_proj_bias.detach().numpy() == 0).all()
