"""Autograd engine: grad_fn names, accumulation, retain_graph, hooks, grad modes, version counter."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, gradcheck, requires_torch, torch


def leaf(*v):
    return rg.tensor(list(v), requires_grad=True)


@pytest.mark.parametrize(
    "fn,name",
    [(lambda x: x + 1, "AddBackward0"), (lambda x: x * x, "MulBackward0"), (lambda x: x.sum(), "SumBackward0"),
     (lambda x: x.exp(), "ExpBackward0"), (lambda x: x.view(2), "ViewBackward0"), (lambda x: x / 2, "DivBackward0"),
     (lambda x: -x, "NegBackward0"), (lambda x: x.tanh(), "TanhBackward0"), (lambda x: x.t(), "TBackward0")],
)
def test_grad_fn_names(fn, name):
    assert fn(leaf(1.0, 2.0)).grad_fn.name() == name


def test_leaf_flags_and_accumulation():
    x = leaf(1.0, 2.0)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and x.grad_fn is None and y.requires_grad
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    (x * 2).backward(rg.tensor([1.0, 3.0]))
    assert x.grad.tolist() == [7.0, 11.0]


def test_retain_graph_and_errors():
    x = leaf(1.0)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (leaf(1.0, 2.0) * 2).backward()
    with pytest.raises(RuntimeError, match="floating point"):
        rg.tensor([1], requires_grad=True)


def test_autograd_grad_higher_order():
    x = rg.tensor([0.3, -0.7], dtype=rg.float64, requires_grad=True)
    for f, d2 in [(lambda t: t**3, lambda v: 6 * v), (rg.exp, np.exp),
                  (rg.tanh, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
                  (rg.sigmoid, lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s))]:
        (g,) = rg.autograd.grad(f(x).sum(), x, create_graph=True)
        (h,) = rg.autograd.grad(g.sum(), x)
        np.testing.assert_allclose(h.numpy(), d2(x.detach().numpy()), rtol=1e-6)
    y = leaf(1.0)
    gx, gy = rg.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError):
        rg.autograd.grad((x * 2).sum(), [x, y])


def test_hooks_and_retain_grad():
    x = rg.ones(2, requires_grad=True)
    h = x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    x.grad = None
    (y * 5).sum().backward()
    assert y.grad.tolist() == [6.0, 6.0] and x.grad.tolist() == [12.0, 12.0]

    def bad(g):
        raise KeyError("boom")

    z = rg.ones(2, requires_grad=True)
    z.register_hook(bad)
    with pytest.raises(KeyError, match="boom"):
        (z * 3).sum().backward()


def test_grad_modes():
    x = leaf(1.0)
    with rg.no_grad():
        assert not (x * 2).requires_grad
        with rg.enable_grad():
            assert (x * 2).requires_grad
    with rg.set_grad_enabled(False):
        assert not rg.is_grad_enabled()
    assert rg.is_grad_enabled()
    with rg.inference_mode():
        assert rg.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not rg.is_inference_mode_enabled()

    @rg.no_grad()
    def f():
        return x * 2

    @rg.enable_grad()
    def g():
        return x * 2

    assert not f().requires_grad
    with rg.no_grad():
        assert g().requires_grad
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_inplace_errors():
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf(1.0, 2.0).add_(1)
    x = leaf(1.0, 2.0)
    y = x.exp()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_grad_through_views_and_broadcast():
    x = rg.zeros(4, requires_grad=True)
    (x.view(2, 2).t() * rg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0, 2.0, 4.0]
    b = rg.zeros(1, 2, requires_grad=True)
    (b + rg.zeros(3, 2)).sum().backward()
    assert b.grad.tolist() == [[3.0, 3.0]]


def test_custom_function():
    class Cube(rg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    x = leaf(2.0)
    Cube.apply(x).sum().backward()
    assert x.grad.tolist() == [12.0]
    gradcheck(Cube.apply, (3,))


def test_gradcheck_detects_wrong_grad():
    class Bad(rg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = rg.tensor([1.0], dtype=rg.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        rg.autograd.gradcheck(Bad.apply, (x,))
    assert rg.autograd.gradcheck(Bad.apply, (x,), raise_exception=False) is False


UNARY = ["neg", "abs", "exp", "tanh", "sigmoid", "sin", "cos", "erf", "relu", "square", "expm1", "log1p"]
POS = ["log", "log2", "log10", "sqrt", "rsqrt", "reciprocal"]


@pytest.mark.parametrize("name", UNARY + POS)
def test_gradcheck_unary(name):
    lo = 0.5 if name in POS else -0.9
    gradcheck(lambda x: getattr(x, name)(), (2, 3), low=lo, high=1.5 if name in POS else 0.9)


@pytest.mark.parametrize("fn", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b + 3),
                                lambda a, b: (a + 2) ** b, rg.maximum, rg.minimum,
                                lambda a, b: rg.where(a > 0, a, b)])
def test_gradcheck_binary(fn):
    gradcheck(fn, (2, 3), (3,))


# ---- in-place ops on recorded tensors and on views (history rebasing) ----


def test_inplace_unary_on_nonleaf_keeps_gradient():
    x = rg.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    y = x * 2
    y.relu_()
    y.sum().backward()
    assert_close(x.grad, np.array([0.0, 2.0, 0.0, 2.0], dtype=np.float32))


def test_inplace_binary_uses_value_before_the_write():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    z = rg.tensor([3.0, -1.0], requires_grad=True)
    y = x * 2
    y.mul_(z)
    y.sum().backward()
    assert_close(x.grad, 2 * z.detach())
    assert_close(z.grad, 2 * x.detach())


def test_inplace_through_view_rebases_base_history():
    x = rg.tensor([1.0, 1.0], requires_grad=True)
    y = x * 2
    y.narrow(0, 0, 1).mul_(3)
    y.sum().backward()
    assert_close(x.grad, np.array([6.0, 2.0], dtype=np.float32))


def test_copy_into_view_of_buffer_gives_value_gradient():
    x = rg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = rg.zeros(3)
    b[1:].copy_(x[:2] * 5)
    (b * rg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert_close(x.grad, np.array([10.0, 15.0, 0.0], dtype=np.float32))


def test_inplace_on_view_of_leaf_raises():
    w = rg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0].mul_(2)
    with rg.no_grad():
        w[0].mul_(2)
    assert w.tolist() == [2.0, 1.0, 1.0]


@requires_torch
def test_view_inplace_matches_torch():
    for lib in (rg, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x.sin()  # saves its input, not its output, so the write below is legal
        y[:, 1].mul_(2)
        (y * y).sum().backward()
        if lib is rg:
            ours = x.grad.numpy().copy()
        else:
            theirs = x.grad.numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
