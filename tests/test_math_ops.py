"""The math ops added for PyTorch parity (issue 10): inverse trig/hyperbolic, exp2, frac, the binary
transcendentals, bitwise ops, and the composites (cummax/cummin, diff, searchsorted/bucketize,
histc, lerp, einsum, Tensor.unfold, F.unfold/F.fold), plus the exactness fixes (clamp gradients,
flip/squeeze, isclose) and the axis=/keepdims= aliases.

Forward against NumPy (and PyTorch where installed), backward by float64 gradcheck, error types
and messages against PyTorch's.
"""

import math

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn as nn
import rustgrad.nn.functional as F
from conftest import assert_close, gradcheck


def _torch():
    return pytest.importorskip("torch", exc_type=ImportError)


def _np(t):
    return t.detach().numpy()


# ---------------------------------------------------------------- unary ops

# name -> (NumPy reference, input range, has a PyTorch in-place form)
UNARY = {
    "acos": (np.arccos, (-0.95, 0.95)),
    "asin": (np.arcsin, (-0.95, 0.95)),
    "atan": (np.arctan, (-4.0, 4.0)),
    "acosh": (np.arccosh, (1.05, 6.0)),
    "asinh": (np.arcsinh, (-6.0, 6.0)),
    "atanh": (np.arctanh, (-0.95, 0.95)),
    "sinh": (np.sinh, (-5.0, 5.0)),
    "cosh": (np.cosh, (-5.0, 5.0)),
    "exp2": (np.exp2, (-8.0, 8.0)),
    "frac": (lambda x: x - np.trunc(x), (-5.0, 5.0)),
}
ALIASES = {"arccos": "acos", "arcsin": "asin", "arctan": "atan", "arccosh": "acosh", "arcsinh": "asinh",
           "arctanh": "atanh"}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [rg.float32, rg.float64])
def test_unary_forward_matches_numpy(name, dtype):
    ref, (lo, hi) = UNARY[name]
    a = np.random.default_rng(1).uniform(lo, hi, (7, 33)).astype(np.float64)
    x = rg.tensor(a, dtype=dtype)
    want = ref(a.astype(np.float32 if dtype is rg.float32 else np.float64))
    tol = 2e-6 if dtype is rg.float32 else 1e-12
    assert_close(getattr(rg, name)(x), want, rtol=tol, atol=tol)
    assert_close(getattr(x, name)(), want, rtol=tol, atol=tol)
    # Strided input takes the copy path.
    assert_close(getattr(rg, name)(x.t()), want.T, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch_including_specials(name):
    torch = _torch()
    vals = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.5, 1e-8, 30.0, -30.0, 100.0, 200.0, math.inf, -math.inf,
            math.nan]
    for dt, tdt in ((rg.float32, torch.float32), (rg.float64, torch.float64)):
        got = _np(getattr(rg, name)(rg.tensor(vals, dtype=dt)))
        want = getattr(torch, name)(torch.tensor(vals, dtype=tdt)).numpy()
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=0, equal_nan=True)
        finite = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))  # signed zeros


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    lo, hi = UNARY[name][1]
    if name == "frac":
        lo, hi = 0.1, 0.9  # away from the jumps at integers
    gradcheck(lambda x: getattr(rg, name)(x), (3, 4), low=lo, high=hi)
    # Second order through the backward rule (create_graph).
    x = rg.tensor(np.linspace(lo * 0.9, hi * 0.9, 5), dtype=rg.float64, requires_grad=True)
    (g,) = rg.autograd.grad(getattr(rg, name)(x).sum(), x, create_graph=True)
    assert g.requires_grad or name == "frac"


def test_unary_grad_fn_names_match_torch():
    torch = _torch()
    for name in UNARY:
        lo, hi = UNARY[name][1]
        x = rg.tensor([(lo + hi) / 2], requires_grad=True)
        t = torch.tensor([(lo + hi) / 2], requires_grad=True)
        assert getattr(rg, name)(x).grad_fn.name() == getattr(torch, name)(t).grad_fn.name()


def _domain_point(name):
    return rg.tensor([1.2, 1.5, 2.0]) if name in ("acosh", "arccosh") else rg.tensor([0.1, -0.4, 0.7])


def test_unary_aliases_and_inplace():
    for alias, name in ALIASES.items():
        x = _domain_point(name)
        assert_close(getattr(rg, alias)(x), getattr(rg, name)(x))
        assert_close(getattr(x, alias)(), getattr(rg, name)(x))
    for name in list(UNARY) + list(ALIASES):
        want = getattr(rg, name)(_domain_point(name))
        y = _domain_point(name)
        assert getattr(y, name + "_")() is y
        assert_close(y, want)
        z = _domain_point(name)
        assert getattr(rg, name + "_")(z) is z
        assert_close(z, want)


def test_unary_integer_inputs_promote_like_torch():
    torch = _torch()
    for name in UNARY:
        if name == "frac":
            continue
        for vals in ([1, 2, 3], [True, False]):
            got = getattr(rg, name)(rg.tensor(vals))
            want = getattr(torch, name)(torch.tensor(vals))
            assert got.dtype is rg.float32 and str(want.dtype) == "torch.float32"
            np.testing.assert_allclose(_np(got), want.numpy(), rtol=1e-6, equal_nan=True)
    # frac has no integer kernel in PyTorch; in-place float results into integer tensors refuse.
    with pytest.raises(NotImplementedError, match="\"frac_cpu\" not implemented for 'Long'"):
        rg.frac(rg.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="\"frac_cpu\" not implemented for 'Bool'"):
        rg.tensor([True]).frac()
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        rg.tensor([1, 2]).sinh_()


# ---------------------------------------------------------------- binary transcendentals

BINARY = {
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "copysign": np.copysign,
    "logaddexp": np.logaddexp,
    "logaddexp2": np.logaddexp2,
    "xlogy": lambda a, b: np.where(a == 0, 0.0, a * np.log(np.where(a == 0, 1.0, b))),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [rg.float32, rg.float64])
def test_binary_forward_broadcast(name, dtype):
    rng = np.random.default_rng(2)
    a = rng.uniform(-3, 3, (4, 1, 5))
    b = rng.uniform(0.2, 3, (3, 1)) * (1 if name == "xlogy" else rng.choice([-1, 1], (3, 1)))
    a[0, 0, 0] = 0.0
    np_dt = np.float32 if dtype is rg.float32 else np.float64
    want = BINARY[name](a.astype(np_dt), b.astype(np_dt))
    got = getattr(rg, name)(rg.tensor(a, dtype=dtype), rg.tensor(b, dtype=dtype))
    tol = 2e-6 if dtype is rg.float32 else 1e-12
    assert_close(got, want, rtol=tol, atol=tol)
    assert_close(getattr(rg.tensor(a, dtype=dtype), name)(rg.tensor(b, dtype=dtype)), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch_specials(name):
    torch = _torch()
    sp = [0.0, -0.0, 1.0, -2.0, math.inf, -math.inf, math.nan, 1e30]
    a = [x for x in sp for _ in sp]
    b = [y for _ in sp for y in sp]
    for dt, tdt in ((rg.float32, torch.float32), (rg.float64, torch.float64)):
        got = _np(getattr(rg, name)(rg.tensor(a, dtype=dt), rg.tensor(b, dtype=dt)))
        want = getattr(torch, name)(torch.tensor(a, dtype=tdt), torch.tensor(b, dtype=tdt)).numpy()
        np.testing.assert_allclose(got, want, rtol=2e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name):
    if name == "xlogy":
        gradcheck(lambda a, b: rg.xlogy(a, b), (3, 4), (4,), low=0.2, high=2.0)
    elif name == "copysign":
        # Away from a == 0, where |a| has its kink.
        gradcheck(lambda a, b: rg.copysign(a + 2.5, b), (3, 4), (3, 1))
    else:
        gradcheck(lambda a, b: getattr(rg, name)(a, b), (3, 4), (4,), low=0.1, high=2.0)


def test_binary_grads_match_torch_at_edges():
    torch = _torch()
    a0 = [0.0, 0.0, 1.0, -2.0, 3.0]
    b0 = [0.0, -1.0, 0.0, 2.0, -3.0]
    for name in BINARY:
        a = rg.tensor(a0, dtype=rg.float64, requires_grad=True)
        b = rg.tensor(b0, dtype=rg.float64, requires_grad=True)
        ta = torch.tensor(a0, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
        getattr(rg, name)(a, b).sum().backward()
        getattr(torch, name)(ta, tb).sum().backward()
        np.testing.assert_allclose(_np(a.grad), ta.grad.numpy(), equal_nan=True, err_msg=name)
        np.testing.assert_allclose(_np(b.grad), tb.grad.numpy(), equal_nan=True, err_msg=name)
        assert getattr(rg, name)(a, b).grad_fn.name() == getattr(torch, name)(ta, tb).grad_fn.name()


def test_binary_dtypes_scalars_and_errors_match_torch():
    torch = _torch()
    i = rg.tensor([1, 2])
    assert rg.atan2(i, i).dtype is rg.float32
    assert rg.copysign(i, -1.5).dtype is rg.float32
    assert rg.xlogy(2.0, rg.tensor([1.0, 4.0])).dtype is rg.float32
    assert_close(rg.xlogy(rg.tensor([0.0, 2.0]), 3), torch.xlogy(torch.tensor([0.0, 2.0]), 3).numpy())
    assert_close(rg.arctan2(rg.tensor([1.0]), rg.tensor([-1.0])), [3 * math.pi / 4])
    for name in ("hypot", "logaddexp", "logaddexp2"):
        with pytest.raises(NotImplementedError, match=f"\"{name}_cpu\" not implemented for 'Long'"):
            getattr(rg, name)(i, i)
    for name in ("atan2", "hypot", "logaddexp"):
        with pytest.raises(TypeError, match=rf"{name}\(\): argument 'other' \(position 2\) must be Tensor, not float"):
            getattr(rg, name)(rg.tensor([1.0]), 2.0)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        rg.tensor([1, 2]).atan2_(rg.tensor([1, 1]))
    x = rg.tensor([1.0, -2.0])
    assert x.copysign_(rg.tensor([-1.0, 1.0])) is x
    assert_close(x, [-1.0, 2.0])
    y = rg.tensor([1.0, 2.0])
    y.hypot_(rg.tensor([0.0, 0.0]))
    assert_close(y, [1.0, 2.0])
    out = rg.empty(2)
    assert rg.atan2(rg.tensor([1.0, 0.0]), rg.tensor([1.0, 1.0]), out=out) is out
    assert_close(out, [math.pi / 4, 0.0])


# ---------------------------------------------------------------- bitwise ops

INT_DTYPES = [(rg.uint8, np.uint8), (rg.int32, np.int32), (rg.int64, np.int64)]


@pytest.mark.parametrize("dt,npdt", INT_DTYPES)
def test_bitwise_ops_match_numpy(dt, npdt):
    rng = np.random.default_rng(3)
    lo = 0 if npdt is np.uint8 else -100
    a = rng.integers(lo, 100, (4, 6)).astype(npdt)
    b = rng.integers(lo, 100, (6,)).astype(npdt)
    ta, tb = rg.tensor(a), rg.tensor(b)
    for op, ref in (("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor)):
        assert_close(getattr(rg, f"bitwise_{op}")(ta, tb), ref(a, b))
    assert_close(ta & tb, a & b)
    assert_close(ta | tb, a | b)
    assert_close(ta ^ tb, a ^ b)
    assert_close(~ta, ~a)
    assert_close(rg.bitwise_not(ta), np.invert(a))
    assert (ta & tb).dtype is dt
    s = rng.integers(0, 8, (6,)).astype(npdt)
    assert_close(ta << rg.tensor(s), (a << s).astype(npdt))
    assert_close(ta >> rg.tensor(s), a >> s)
    assert_close(rg.bitwise_left_shift(ta, 2), (a << 2).astype(npdt))
    assert_close(rg.bitwise_right_shift(ta, 1), a >> 1)


def test_bitwise_shift_edges_scalars_and_bool_match_torch():
    torch = _torch()
    cases = [
        (lambda m: m.tensor([1, -8, 5, 127]) << m.tensor([1, 2, 64, -1])),
        (lambda m: m.tensor([1, -8, 5, -127]) >> m.tensor([1, 2, 64, -1])),
        (lambda m: m.tensor([1, -8], dtype=m.int32) << m.tensor([31, 33], dtype=m.int32)),
        (lambda m: m.tensor([-1, -8], dtype=m.int32) >> m.tensor([31, 40], dtype=m.int32)),
        (lambda m: m.tensor([1, 200], dtype=m.uint8) << 3),
        (lambda m: m.tensor([1, 200], dtype=m.uint8) >> 9),
        (lambda m: m.tensor([True, False]) << 1),
        (lambda m: m.tensor([True, False]) & True),
        (lambda m: m.tensor([True, False]) ^ m.tensor([1, 1])),
        (lambda m: ~m.tensor([True, False])),
        (lambda m: 5 << m.tensor([1, 2])),
        (lambda m: 1 & m.tensor([3])),
        (lambda m: m.tensor([3, 5], dtype=m.int32) & 7),
        (lambda m: m.tensor([3, 5], dtype=m.int32) & m.tensor([1, 2])),
        (lambda m: m.bitwise_and(m.tensor([True, False]), 1)),
        (lambda m: ~m.tensor([0, 255], dtype=m.uint8)),
    ]
    for make in cases:
        got, want = make(rg), make(torch)
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(_np(got), want.numpy())


def test_bitwise_errors_match_torch():
    f = rg.tensor([1.0])
    for fn, msg in ((lambda: f & 1, "\"bitwise_and_cpu\" not implemented for 'Float'"),
                    (lambda: f << 1, "\"lshift_cpu\" not implemented for 'Float'"),
                    (lambda: rg.tensor([1]) >> 1.5, "\"rshift_cpu\" not implemented for 'Float'"),
                    (lambda: rg.tensor([1]) | 1.5, "\"bitwise_or_cpu\" not implemented for 'Float'"),
                    (lambda: rg.tensor([1.0], dtype=rg.float64) ^ 1, "\"bitwise_xor_cpu\" not implemented for 'Double'"),
                    (lambda: rg.tensor([True]) << rg.tensor([True]), "\"lshift_cpu\" not implemented for 'Bool'"),
                    (lambda: rg.bitwise_not(f), "\"bitwise_not_cpu\" not implemented for 'Float'")):
        with pytest.raises(NotImplementedError, match=msg):
            fn()
    with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented on integer and Boolean-type"):
        _ = ~f


def test_bitwise_inplace_forms():
    x = rg.tensor([12, 10])
    y = x
    x &= rg.tensor([4, 2])
    assert x is y and x.tolist() == [4, 2]
    x |= 1
    x ^= 3
    x <<= 2
    x >>= 1
    assert x.tolist() == [((4 | 1) ^ 3) << 2 >> 1, ((2 | 1) ^ 3) << 2 >> 1]
    assert x.bitwise_and_(rg.tensor([0xff, 0])) is x
    assert x.bitwise_not_().tolist() == [~(((4 | 1) ^ 3) << 1), -1]
    b = rg.tensor([True, False])
    b.bitwise_xor_(True)
    assert b.tolist() == [False, True]
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        b.bitwise_or_(rg.tensor([2, 3]))


# ---------------------------------------------------------------- lerp

def test_lerp_scalar_and_tensor_weight():
    torch = _torch()
    a = np.array([1.0, -2.0, 3.0], np.float32)
    e = np.array([5.0, 4.0, -1.0], np.float32)
    w = np.array([0.0, 0.4, 1.0], np.float32)
    # PyTorch's kernel fuses the multiply-add (FMA); the composite rounds twice: within 1 ulp.
    for weight in (0.25, 0.75, 1.0):
        np.testing.assert_allclose(_np(rg.lerp(rg.tensor(a), rg.tensor(e), weight)),
                                   torch.lerp(torch.tensor(a), torch.tensor(e), weight).numpy(), rtol=2e-7)
    np.testing.assert_allclose(_np(rg.tensor(a).lerp(rg.tensor(e), rg.tensor(w))),
                               torch.tensor(a).lerp(torch.tensor(e), torch.tensor(w)).numpy(), rtol=2e-7)
    # The end points are exact (the two-sided formula).
    assert rg.lerp(rg.tensor(a), rg.tensor(e), 1.0).tolist() == e.tolist()
    assert rg.lerp(rg.tensor(a), rg.tensor(e), 0.0).tolist() == a.tolist()
    x = rg.tensor(a)
    assert x.lerp_(rg.tensor(e), 0.5) is x
    assert_close(x, (a + e) / 2)
    gradcheck(lambda s, t, u: rg.lerp(s, t, u), (2, 3), (2, 3), (3,), low=0.0, high=1.0)
    gradcheck(lambda s, t: rg.lerp(s, t, 0.7), (4,), (4,))
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        rg.lerp(rg.tensor([1.0]), rg.tensor([2.0], dtype=rg.float64), 0.5)
    with pytest.raises(NotImplementedError, match="\"lerp_kernel_scalar\" not implemented for 'Long'"):
        rg.lerp(rg.tensor([1]), rg.tensor([2]), 0.5)


# ---------------------------------------------------------------- cummax / cummin

def test_cummax_cummin_match_torch():
    torch = _torch()
    a = np.array([[1.0, 3.0, 3.0, 2.0, 5.0], [0.0, np.nan, 2.0, np.nan, 1.0], [2.0, 2.0, 1.0, 1.0, 0.0]], np.float32)
    for fn in ("cummax", "cummin"):
        for dim in (0, 1, -1):
            got = getattr(rg, fn)(rg.tensor(a), dim)
            want = getattr(torch, fn)(torch.tensor(a), dim)
            np.testing.assert_array_equal(_np(got.values), want.values.numpy())
            np.testing.assert_array_equal(_np(got.indices), want.indices.numpy())
            assert type(got).__name__ == fn and got.indices.dtype is rg.int64
        ints = rg.tensor([[3, 1, 4, 1, 5]])
        got = getattr(ints, fn)(1)
        want = getattr(torch.tensor([[3, 1, 4, 1, 5]]), fn)(1)
        assert got.values.tolist() == want.values.tolist() and got.indices.tolist() == want.indices.tolist()
    v, i = rg.cummax(rg.tensor(3.0), 0)
    assert v.item() == 3.0 and i.item() == 0 and i.ndim == 0


def test_cummax_gradient():
    gradcheck(lambda x: rg.cummax(x, 1).values, (3, 5))
    gradcheck(lambda x: rg.cummin(x, 0).values * 2, (4, 2))


# ---------------------------------------------------------------- diff

def test_diff_matches_numpy_and_torch():
    torch = _torch()
    a = np.random.default_rng(4).normal(size=(3, 6)).astype(np.float32)
    for n in (0, 1, 2, 7):
        for dim in (0, 1, -1):
            assert_close(rg.diff(rg.tensor(a), n=n, dim=dim), np.diff(a, n=n, axis=dim))
    pre, app = rg.tensor(a[:, :2]), rg.tensor(a[:, :1])
    assert_close(rg.tensor(a).diff(dim=1, prepend=pre, append=app),
                 np.diff(a, axis=1, prepend=a[:, :2], append=a[:, :1]))
    b = [True, False, False, True]
    assert rg.diff(rg.tensor(b)).tolist() == torch.diff(torch.tensor(b)).tolist()
    assert rg.diff(rg.tensor([1, 4, 9])).dtype is rg.int64
    gradcheck(lambda x: rg.diff(x, n=2, dim=1), (3, 5))
    gradcheck(lambda x, p: rg.diff(x, dim=0, prepend=p), (3, 2), (1, 2))
    with pytest.raises(RuntimeError, match="diff expects input to be at least one-dimensional"):
        rg.diff(rg.tensor(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        rg.diff(rg.tensor([1.0, 2.0]), n=-1)
    with pytest.raises(RuntimeError, match="diff expects prepend or append to be the same dimension as input"):
        rg.diff(rg.tensor([[1.0, 2.0]]), prepend=rg.tensor([1.0]))
    with pytest.raises(TypeError, match="diff\\(\\): argument 'prepend' must be Tensor, not float"):
        rg.diff(rg.tensor([1.0, 2.0]), prepend=1.0)


# ---------------------------------------------------------------- searchsorted / bucketize / histc

def test_searchsorted_and_bucketize_match_torch():
    torch = _torch()
    s = [1.0, 2.0, 2.0, 3.0, 5.0]
    v = [[0.0, 2.0, 2.5], [5.0, 6.0, 3.0]]
    for kw in ({}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}):
        got = rg.searchsorted(rg.tensor(s), rg.tensor(v), **kw)
        want = torch.searchsorted(torch.tensor(s), torch.tensor(v), **kw)
        assert got.tolist() == want.tolist() and str(got.dtype) == str(want.dtype)
        got = rg.bucketize(rg.tensor(v), rg.tensor(s), **{k: x for k, x in kw.items() if k != "side"})
        want = torch.bucketize(torch.tensor(v), torch.tensor(s), **{k: x for k, x in kw.items() if k != "side"})
        assert got.tolist() == want.tolist()
    batched = [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    assert (rg.searchsorted(rg.tensor(batched), rg.tensor(v)).tolist()
            == torch.searchsorted(torch.tensor(batched), torch.tensor(v)).tolist())
    unsorted, order = [3.0, 1.0, 2.0], [1, 2, 0]
    assert (rg.searchsorted(rg.tensor(unsorted), rg.tensor([1.5, 3.0]), sorter=rg.tensor(order)).tolist()
            == torch.searchsorted(torch.tensor(unsorted), torch.tensor([1.5, 3.0]), sorter=torch.tensor(order)).tolist())
    r = rg.searchsorted(rg.tensor(s), 2.5)
    assert r.ndim == 0 and r.item() == 3
    assert rg.bucketize(1.5, rg.tensor([1.0, 2.0])).item() == 1
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        rg.searchsorted(rg.tensor(s), rg.tensor([1.0]), right=True, side="left")
    with pytest.raises(RuntimeError, match="side can only be 'left' or 'right' but got up"):
        rg.searchsorted(rg.tensor(s), rg.tensor([1.0]), side="up")
    with pytest.raises(RuntimeError, match=r"but we got boundaries tensor \[1, 2\] and input value tensor \[2, 1\]"):
        rg.searchsorted(rg.tensor([[1.0, 2.0]]), rg.tensor([[1.0], [2.0]]))
    with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
        rg.bucketize(rg.tensor([1.5]), rg.tensor([[1.0, 2.0]]))


def test_histc_matches_torch():
    torch = _torch()
    a = np.random.default_rng(5).normal(size=200).astype(np.float32)
    for kw in ({}, {"bins": 7}, {"bins": 5, "min": -1, "max": 1}, {"bins": 3, "min": 0, "max": 0}):
        np.testing.assert_array_equal(_np(rg.histc(rg.tensor(a), **kw)), torch.histc(torch.tensor(a), **kw).numpy())
    edges = [0.0, 1.0, 2.0, 3.0, 3.0]
    np.testing.assert_array_equal(_np(rg.tensor(edges).histc(bins=3, min=0, max=3)),
                                  torch.tensor(edges).histc(bins=3, min=0, max=3).numpy())
    np.testing.assert_array_equal(_np(rg.histc(rg.tensor([2.0, 2.0]), bins=4)),
                                  torch.histc(torch.tensor([2.0, 2.0]), bins=4).numpy())
    assert rg.histc(rg.tensor([1.0], dtype=rg.float64), bins=2).dtype is rg.float64
    with pytest.raises(NotImplementedError, match="\"histogram_cpu\" not implemented for 'Long'"):
        rg.histc(rg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="bins must be > 0, but got 0 for dimension 0"):
        rg.histc(rg.tensor([1.0]), bins=0)
    with pytest.raises(RuntimeError, match="torch.histc: max must be larger than min"):
        rg.histc(rg.tensor([1.0]), min=3, max=1)
    with pytest.raises(RuntimeError, match=r"torch.histc: range of \[1, inf\] is not finite"):
        rg.histc(rg.tensor([1.0, 2.0, math.inf]), bins=3)


# ---------------------------------------------------------------- einsum

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("b...,b...->b...", [(2, 3, 4), (2, 3, 4)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("iij->j", [(2, 2, 3)]),
    ("Ab,bA->A", [(3, 2), (2, 3)]),
    ("ba", [(2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_matches_numpy(eq, shapes):
    rng = np.random.default_rng(6)
    arrs = [rng.normal(size=s) for s in shapes]
    want = np.einsum(eq, *arrs)
    got = rg.einsum(eq, *[rg.tensor(a, dtype=rg.float64) for a in arrs])
    assert_close(got, want, rtol=1e-10, atol=1e-10)
    got_list = rg.einsum(eq, [rg.tensor(a, dtype=rg.float64) for a in arrs])
    assert_close(got_list, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("eq,shapes", [EINSUM[0], EINSUM[2], EINSUM[5], EINSUM[9], EINSUM[12]])
def test_einsum_gradcheck(eq, shapes):
    gradcheck(lambda *xs: rg.einsum(eq, *xs), *shapes)


def test_einsum_sublist_form_and_errors_match_torch():
    torch = _torch()
    # PyTorch (unlike NumPy) sums ellipsis dims left out of the output.
    p, q = np.random.default_rng(9).normal(size=(2, 2, 3, 4))
    assert_close(rg.einsum("b...,b...->b", rg.tensor(p), rg.tensor(q)),
                 torch.einsum("b...,b...->b", torch.tensor(p), torch.tensor(q)).numpy(), rtol=1e-10)
    # ... and broadcasts size-1 dims of a repeated subscript.
    u, v, w = np.arange(4.0), np.arange(4.0) + 1, np.array([2.0])
    assert_close(rg.einsum("i,i,i->i", rg.tensor(u), rg.tensor(v), rg.tensor(w)),
                 torch.einsum("i,i,i->i", torch.tensor(u), torch.tensor(v), torch.tensor(w)).numpy())
    a, b = np.ones((2, 3)), np.arange(12.0).reshape(3, 4)
    got = rg.einsum(rg.tensor(a), [0, 1], rg.tensor(b), [1, 2], [0, 2])
    assert_close(got, a @ b)
    assert_close(rg.einsum(rg.tensor(a), [Ellipsis, 1], [Ellipsis]), a.sum(1))
    cases = [
        lambda m: m.einsum("ij,jk", m.ones(2, 3), m.ones(3)),
        lambda m: m.einsum("ij,jk->ik", m.ones(2, 3)),
        lambda m: m.einsum("ij->ik", m.ones(2, 3)),
        lambda m: m.einsum("ij->ii", m.ones(2, 3)),
        lambda m: m.einsum("i1->i", m.ones(2, 3)),
        lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(4, 2)),
        lambda m: m.einsum("ii->i", m.ones(2, 3)),
        lambda m: m.einsum("ij,j->i", m.ones(2, 3), m.ones(3), m.ones(3)),
    ]
    for make in cases:
        with pytest.raises(RuntimeError) as want:
            make(torch)
        with pytest.raises(RuntimeError) as got:
            make(rg)
        assert str(got.value) == str(want.value)


# ---------------------------------------------------------------- Tensor.unfold, F.unfold / F.fold

def test_tensor_unfold_is_a_view_with_torch_shapes():
    torch = _torch()
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    for args in ((0, 1, 1), (1, 2, 1), (2, 2, 2), (2, 3, 1), (-1, 4, 3), (1, 0, 1)):
        got = rg.tensor(a).unfold(*args)
        want = torch.tensor(a).unfold(*args)
        assert tuple(got.shape) == tuple(want.shape) and got.stride() == want.stride(), args
        np.testing.assert_array_equal(_np(got), want.numpy())
    x = rg.tensor(a)
    u = x.unfold(2, 2, 1)
    assert u.data_ptr() == x.data_ptr() and not u.is_contiguous()
    x[0, 0, 1] = 100.0
    assert u[0, 0, 0, 1].item() == 100.0 and u[0, 0, 1, 0].item() == 100.0
    assert rg.tensor(3.0).unfold(0, 1, 1).tolist() == [3.0]
    cases = [
        (lambda m: m.zeros(2, 3).unfold(5, 2, 1), IndexError),
        (lambda m: m.zeros(2, 3).unfold(1, 4, 1), RuntimeError),
        (lambda m: m.zeros(2, 3).unfold(1, 2, 0), RuntimeError),
        (lambda m: m.zeros(2, 3).unfold(1, -1, 1), RuntimeError),
    ]
    for make, exc in cases:
        with pytest.raises(exc) as want:
            make(torch)
        with pytest.raises(exc) as got:
            make(rg)
        assert str(got.value) == str(want.value)


def test_tensor_unfold_gradients_add_over_overlaps():
    gradcheck(lambda x: x.unfold(1, 3, 1) * 1.5, (2, 6))
    gradcheck(lambda x: x.unfold(0, 2, 3).sin(), (8, 2))
    x = rg.ones(5, requires_grad=True)
    x.unfold(0, 3, 1).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 2.0, 1.0]
    assert x.unfold(0, 3, 1).grad_fn.name() == "UnfoldBackward0"


UNFOLD_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=(2, 1)),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(2, 2), dilation=(2, 1), padding=(1, 0), stride=2),
]


@pytest.mark.parametrize("kw", UNFOLD_CASES)
def test_functional_unfold_fold_match_torch(kw):
    torch = _torch()
    a = np.random.default_rng(7).normal(size=(2, 3, 5, 6)).astype(np.float32)
    got = F.unfold(rg.tensor(a), **kw)
    want = torch.nn.functional.unfold(torch.tensor(a), **kw)
    assert tuple(got.shape) == tuple(want.shape)
    assert_close(got, want.numpy())
    assert_close(F.unfold(rg.tensor(a[0]), **kw), torch.nn.functional.unfold(torch.tensor(a[0]), **kw).numpy())
    cols = want.numpy()
    got = F.fold(rg.tensor(cols), (5, 6), **kw)
    wantf = torch.nn.functional.fold(torch.tensor(cols), (5, 6), **kw)
    assert_close(got, wantf.numpy(), rtol=1e-5, atol=1e-5)
    assert_close(F.fold(rg.tensor(cols[0]), (5, 6), **kw), wantf[0].numpy(), rtol=1e-5, atol=1e-5)
    assert_close(nn.Unfold(**kw)(rg.tensor(a)), want.numpy())
    assert_close(nn.Fold((5, 6), **kw)(rg.tensor(cols)), wantf.numpy(), rtol=1e-5, atol=1e-5)
    assert repr(nn.Unfold(**kw)) == repr(torch.nn.Unfold(**kw))
    assert repr(nn.Fold((5, 6), **kw)) == repr(torch.nn.Fold((5, 6), **kw))


def test_functional_unfold_fold_gradcheck_and_errors():
    gradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (1, 2, 4, 3))
    gradcheck(lambda c: F.fold(c, (3, 4), 2), (1, 8, 6))
    torch = _torch()
    for make in (lambda m, f: f.fold(m.zeros(1, 7, 12), (4, 5), 2),
                 lambda m, f: f.fold(m.zeros(1, 8, 11), (4, 5), 2)):
        with pytest.raises(RuntimeError) as want:
            make(torch, torch.nn.functional)
        with pytest.raises(RuntimeError) as got:
            make(rg, F)
        assert str(got.value) == str(want.value)


# ---------------------------------------------------------------- exactness fixes

def test_clamp_gradients_at_the_bounds_match_torch():
    torch = _torch()
    vals = [-1.0, 0.0, 0.5, 1.0, 2.0]
    for kw in (dict(min=0.0, max=1.0), dict(min=0.0), dict(max=1.0), dict(min=0.5, max=0.5), dict(min=2.0, max=0.0)):
        for fn in ("clamp", "clip"):
            x = rg.tensor(vals, requires_grad=True)
            t = torch.tensor(vals, requires_grad=True)
            getattr(rg, fn)(x, **kw).sum().backward()
            getattr(torch, fn)(t, **kw).sum().backward()
            assert x.grad.tolist() == t.grad.tolist(), (fn, kw)
    lo = [0.0, 0.0, 0.5, 0.0, 3.0]
    hi = [1.0, 1.0, 1.0, 1.0, 4.0]
    x = rg.tensor(vals, requires_grad=True)
    lt, ht = rg.tensor(lo, requires_grad=True), rg.tensor(hi, requires_grad=True)
    t = torch.tensor(vals, requires_grad=True)
    ltt, htt = torch.tensor(lo, requires_grad=True), torch.tensor(hi, requires_grad=True)
    rg.clamp(x, lt, ht).sum().backward()
    torch.clamp(t, ltt, htt).sum().backward()
    assert x.grad.tolist() == t.grad.tolist()
    assert lt.grad.tolist() == ltt.grad.tolist() and ht.grad.tolist() == htt.grad.tolist()


def test_flip_and_squeeze_edges_match_torch():
    torch = _torch()
    cases = [
        lambda m: m.arange(6.0).reshape(2, 3).flip(0, 0),
        lambda m: m.flip(m.arange(6.0).reshape(2, 3), (1, -1)),
        lambda m: m.flip(m.arange(6.0).reshape(2, 3), (2,)),
        lambda m: m.zeros(1, 2, 1, 3).squeeze((0, 0)),
        lambda m: m.zeros(1, 2).squeeze(5),
    ]
    for make in cases:
        with pytest.raises((RuntimeError, IndexError)) as want:
            make(torch)
        with pytest.raises((RuntimeError, IndexError)) as got:
            make(rg)
        assert type(got.value) is type(want.value) and str(got.value) == str(want.value)
    for dims in (None, 0, 1, -1, (0, 1), (0, 2), (1, 3), [0, 2, 3]):
        a = np.arange(6.0).reshape(1, 2, 1, 3)
        x = rg.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        y = x.squeeze() if dims is None else x.squeeze(dims)
        ty = t.squeeze() if dims is None else t.squeeze(dims)
        assert tuple(y.shape) == tuple(ty.shape)
        assert y.grad_fn.name() == ty.grad_fn.name()
        w = np.arange(1.0, 1.0 + ty.numel()).reshape(tuple(ty.shape))
        (y * rg.tensor(w)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        np.testing.assert_array_equal(_np(x.grad), t.grad.numpy())
        gradcheck(lambda v, d=dims: (v.squeeze() if d is None else v.squeeze(d)) * 2, (1, 2, 1, 3))


def test_isclose_allclose_edges_match_torch():
    torch = _torch()
    inf, nan = math.inf, math.nan
    a = [1.0, inf, -inf, nan, inf, 1.0, 0.0, nan, -inf]
    b = [1.0 + 1e-6, inf, inf, nan, 1e38, inf, 1e-9, 1.0, -inf]
    for kw in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 0}, {"rtol": 0, "atol": 0, "equal_nan": True},
               {"atol": inf}, {"rtol": 1.0}, {"rtol": 0.0, "atol": 1e-3}):
        for dt, tdt in ((rg.float32, torch.float32), (rg.float64, torch.float64)):
            got = rg.isclose(rg.tensor(a, dtype=dt), rg.tensor(b, dtype=dt), **kw).tolist()
            assert got == torch.isclose(torch.tensor(a, dtype=tdt), torch.tensor(b, dtype=tdt), **kw).tolist(), kw
            assert (rg.allclose(rg.tensor(a, dtype=dt), rg.tensor(b, dtype=dt), **kw)
                    == torch.allclose(torch.tensor(a, dtype=tdt), torch.tensor(b, dtype=tdt), **kw))
    ints = ([1, 2, 3, 100], [1, 3, 3, 101])
    for kw in ({}, {"atol": 1}, {"rtol": 0.01}):
        assert (rg.isclose(rg.tensor(ints[0]), rg.tensor(ints[1]), **kw).tolist()
                == torch.isclose(torch.tensor(ints[0]), torch.tensor(ints[1]), **kw).tolist())
    assert (rg.isclose(rg.tensor([True, False]), rg.tensor([True, True])).tolist()
            == torch.isclose(torch.tensor([True, False]), torch.tensor([True, True])).tolist())
    assert rg.isclose(rg.tensor([1.0, 2.0]), rg.tensor(1.0)).tolist() == [True, False]
    assert rg.tensor([1.0, 2.0]).isclose(rg.tensor([1.0, 2.0 + 1e-7])).tolist() == [True, True]
    for make in (lambda m: m.isclose(m.tensor([1, 2]), m.tensor([1.0, 2.0])),
                 lambda m: m.isclose(m.tensor([1.0]), m.tensor([1.0]), rtol=-1),
                 lambda m: m.isclose(m.tensor([1.0]), m.tensor([1.0]), atol=-0.5)):
        with pytest.raises(RuntimeError) as want:
            make(torch)
        with pytest.raises(RuntimeError) as got:
            make(rg)
        assert str(got.value) == str(want.value)
    with pytest.raises(TypeError, match=r"isclose\(\): argument 'other' \(position 2\) must be Tensor, not float"):
        rg.isclose(rg.tensor([1.0]), 1.0)


# ---------------------------------------------------------------- axis= / keepdims=

AXIS_CASES = [
    ("sum", {}), ("mean", {}), ("std", {}), ("var", {}), ("all", {}), ("any", {}), ("prod", {}),
    ("amax", {}), ("amin", {}), ("argmax", {}), ("argmin", {}), ("logsumexp", {}), ("nansum", {}),
    ("nanmean", {}), ("max", {}), ("min", {}), ("median", {}), ("cumsum", None), ("cumprod", None),
    ("softmax", None), ("log_softmax", None), ("count_nonzero", None), ("cummax", None), ("diff", None),
]


@pytest.mark.parametrize("name,keep", AXIS_CASES)
def test_axis_and_keepdims_aliases_match_dim_and_keepdim(name, keep):
    torch = _torch()
    a = np.random.default_rng(8).normal(size=(3, 4)).astype(np.float32)

    def norm(r):
        if isinstance(r, tuple):
            return [norm(v) for v in r]
        return r.detach().numpy() if hasattr(r, "detach") else np.asarray(r)

    kws = [dict(axis=1)] if keep is None else [dict(axis=1), dict(dim=1, keepdims=True), dict(axis=0, keepdims=True)]
    for kw in kws:
        for owner_rg, owner_t, x, t in ((rg, torch, rg.tensor(a), torch.tensor(a)),
                                        (rg.Tensor, torch.Tensor, rg.tensor(a), torch.tensor(a))):
            got = getattr(owner_rg, name)(x, **kw)
            want = getattr(owner_t, name)(t, **kw)
            g, w = norm(got), norm(want)
            if isinstance(g, list):
                for gi, wi in zip(g, w):
                    np.testing.assert_allclose(gi, wi, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_axis_alias_on_joins_and_conflicts():
    x = rg.ones(2, 3)
    assert tuple(rg.cat([x, x], axis=1).shape) == (2, 6)
    assert tuple(rg.stack([x, x], axis=0).shape) == (2, 2, 3)
    assert tuple(x.unsqueeze(axis=0).shape) == (1, 2, 3)
    assert tuple(x.sum(axis=(0, 1), keepdims=True).shape) == (1, 1)
    with pytest.raises(TypeError, match="multiple values for argument 'dim'"):
        x.sum(dim=0, axis=1)


def test_nan_to_num_defaults_per_dtype_and_out():
    torch = _torch()
    for dt, tdt in ((rg.float32, torch.float32), (rg.float64, torch.float64)):
        vals = [1.0, math.nan, math.inf, -math.inf]
        for kw in ({}, {"nan": 2.0, "posinf": 5.0}, {"neginf": -7.0}):
            assert (rg.nan_to_num(rg.tensor(vals, dtype=dt), **kw).tolist()
                    == torch.nan_to_num(torch.tensor(vals, dtype=tdt), **kw).tolist())
    assert rg.nan_to_num(rg.tensor([1, 2])).tolist() == [1, 2]
    out = rg.empty(2)
    assert rg.nan_to_num(rg.tensor([math.nan, 1.0]), out=out) is out
    assert out.tolist() == [0.0, 1.0]
    y = rg.tensor([1.0, math.nan])
    assert y.nan_to_num_() is y and y.tolist() == [1.0, 0.0]
    x = rg.tensor([1.0, math.nan, math.inf], requires_grad=True)
    rg.nan_to_num(x).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]


def test_squeeze_of_a_0d_tensor_keeps_the_graph():
    x = rg.tensor(2.0, requires_grad=True)
    for y in (x.squeeze(), x.squeeze(0), x.squeeze(-1), x.squeeze((0,))):
        assert y.grad_fn is not None
        (y * 3).backward()
        assert x.grad.item() == 3.0
        x.grad = None
