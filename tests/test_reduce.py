"""Reduction family: forward vs NumPy, dtypes, dims, errors, and float64 gradchecks."""

import math

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, gradcheck, requires_torch, torch

FLOATS = [rg.float32, rg.float64]
NP = {rg.float32: np.float32, rg.float64: np.float64, rg.int64: np.int64, rg.int32: np.int32, rg.bool: np.bool_}


def arr(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def T(a, **kw):
    return rg.tensor(a, **kw)


# ------------------------------------------------------------------ sum / mean


@pytest.mark.parametrize("dt", [rg.float32, rg.float64, rg.int64, rg.int32, rg.bool])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_vs_numpy(dt, dim, keepdim):
    a = arr((3, 4, 5), NP[dt])
    r = T(a).sum(dim, keepdim=keepdim)
    e = a.sum(axis=dim, keepdims=keepdim)
    assert r.dtype == (dt if dt in FLOATS else rg.int64)
    assert_close(r, e, rtol=1e-5, atol=1e-5)


def test_sum_large_dim0_and_noncontiguous():
    a = arr((300, 70), np.float32)
    assert_close(T(a).sum(0), a.sum(0), rtol=1e-4, atol=1e-4)
    t = T(a).transpose(0, 1)
    assert_close(t.sum(1), a.T.sum(1), rtol=1e-4, atol=1e-4)
    assert_close(t.sum(0), a.T.sum(0), rtol=1e-4, atol=1e-4)
    s = T(a).narrow(1, 3, 20)
    assert_close(s.sum(0), a[:, 3:23].sum(0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 20000), (20000, 3), (40, 50, 30)])
def test_sum_parallel_split_paths(shape):
    # Large enough to take the segmented/parallel paths of the fast sum.
    a = arr(shape)
    x = T(a)
    for dim in [None, 0, -1, (0, 1)]:
        assert_close(x.sum(dim), a.sum(axis=dim), rtol=1e-9, atol=1e-9)
    assert_close(T(a.astype(np.float32)).sum(0), a.astype(np.float32).sum(0), rtol=1e-4, atol=1e-3)


def test_sum_node_names_and_edge_shapes():
    x = T(arr((2, 3)), requires_grad=True)
    assert x.sum().grad_fn.name() == "SumBackward0"
    assert x.sum(0).grad_fn.name() == "SumBackward1"
    assert rg.max(x).grad_fn.name() == "MaxBackward1"
    assert x.max(1).values.grad_fn.name() == "MaxBackward0"
    assert x.max(1).indices.grad_fn is None
    assert_close(T(np.zeros((0, 3))).sum(0), np.zeros(3))
    assert_close(T(np.zeros((0, 3))).sum(), np.array(0.0))
    assert_close(T(2.5).sum(), np.array(2.5))
    assert_close(T(2.5).sum(0), np.array(2.5))


def test_mean_dtypes_and_errors():
    a = arr((3, 4), np.float32)
    r = T(a).mean(1)
    assert r.dtype == rg.float32
    assert_close(r, a.mean(1), rtol=1e-5)
    with pytest.raises(RuntimeError):
        T([1, 2, 3]).mean()


def test_dim_out_of_range_message():
    x = T(arr((2, 3)))
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\], but got 5"):
        x.sum(5)
    for f in (lambda: x.max(5), lambda: x.argmax(5), lambda: rg.cumsum(x, 5), lambda: rg.softmax(x, 5),
              lambda: rg.sort(x, 5), lambda: rg.amax(x, 5), lambda: x.prod(5), lambda: x.var(5)):
        with pytest.raises(IndexError):
            f()


# ------------------------------------------------------------------ max / min / amax / argmax


@pytest.mark.parametrize("dt", [rg.float32, rg.float64, rg.int64, rg.bool])
def test_max_min_forward(dt):
    a = arr((3, 5), NP[dt])
    x = T(a)
    assert_close(rg.max(x), a.max())
    assert_close(x.min(), a.min())
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            v, i = rg.max(x, dim, keepdim)
            assert_close(v, a.max(dim, keepdims=keepdim))
            assert i.dtype == rg.int64
            ie = np.argmax(a, dim)
            assert_close(i, np.expand_dims(ie, dim) if keepdim else ie)
            r = x.min(dim=dim, keepdim=keepdim)
            assert_close(r.values, a.min(dim, keepdims=keepdim))
            assert_close(r.indices, np.expand_dims(np.argmin(a, dim), dim) if keepdim else np.argmin(a, dim))


def test_max_returns_namedtuple_and_binary_form():
    x = T(arr((2, 3)))
    r = x.max(1)
    assert type(r).__name__ == "max" and r.values is r[0] and r.indices is r[1]
    y = T(arr((2, 3), seed=1))
    assert_close(rg.max(x, y), np.maximum(x.numpy(), y.numpy()))


def test_max_nan_propagates_and_first_index():
    x = T([1.0, math.nan, 3.0])
    assert math.isnan(rg.max(x).item()) and math.isnan(rg.min(x).item())
    v, i = x.max(0)
    assert math.isnan(v.item()) and i.item() == 1
    assert rg.argmax(T([1.0, 3.0, 3.0])).item() == 1
    assert math.isnan(rg.amax(T([[1.0, math.nan]]), 1).item())


@pytest.mark.parametrize("dt", [rg.float64, rg.int64])
def test_max_over_middle_dim_with_ties_and_nan(dt):
    a = np.random.default_rng(3).integers(0, 3, (4, 7, 1500)).astype(NP[dt])  # many ties
    if dt == rg.float64:
        a[1, 4, 10] = np.nan
        a[2, 0, 11] = np.nan
    x = T(a)
    v, i = x.max(1)
    assert_close(v, a.max(1))
    assert_close(i, np.argmax(a, 1))
    assert_close(x.min(1, keepdim=True).indices, np.expand_dims(np.argmin(a, 1), 1))
    assert_close(rg.amax(x, (0, 1)), a.max((0, 1)))
    assert_close(rg.amin(x, 0), a.min(0))


def test_max_errors():
    with pytest.raises(RuntimeError):
        rg.max(T(np.zeros((0,))))
    with pytest.raises(IndexError):  # PyTorch: IndexError for argmax of an empty tensor without dim
        rg.argmax(T(np.zeros((0, 2))))
    with pytest.raises(IndexError):
        T(np.zeros((0, 2))).max(0)
    assert tuple(T(np.zeros((0, 2))).max(1).values.shape) == (0,)


@pytest.mark.parametrize("dim", [(), 0, -1, (0, 2), [1, 2]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(dim, keepdim):
    a = arr((2, 3, 4))
    ax = None if dim == () else tuple(dim) if isinstance(dim, list) else dim
    assert_close(rg.amax(T(a), dim, keepdim), a.max(axis=ax, keepdims=keepdim))
    assert_close(T(a).amin(dim, keepdim), a.min(axis=ax, keepdims=keepdim))


def test_argmax_argmin():
    a = arr((3, 4, 5))
    x = T(a)
    assert x.argmax().item() == a.argmax()
    assert rg.argmin(x).item() == a.argmin()
    assert_close(x.argmax(1), a.argmax(1))
    assert tuple(x.argmax(keepdim=True).shape) == (1, 1, 1)
    assert_close(x.argmin(-1, keepdim=True), np.expand_dims(a.argmin(-1), -1))
    assert x.argmax(0).dtype == rg.int64
    # non-contiguous input
    t = x.transpose(0, 2)
    assert_close(t.argmax(0), a.transpose(2, 1, 0).argmax(0))


def test_max_grads():
    gradcheck(lambda x: rg.max(x), (3, 4))
    gradcheck(lambda x: x.max(1).values, (3, 4))
    gradcheck(lambda x: x.min(0, keepdim=True).values, (3, 4))
    gradcheck(lambda x: rg.amax(x, (0, 2)), (2, 3, 4))
    gradcheck(lambda x: rg.amin(x, 1, True), (2, 3, 4))


def test_amax_tie_splits_evenly_max_dim_picks_index():
    x = T([2.0, 5.0, 5.0], requires_grad=True)
    rg.amax(x).backward()
    assert_close(x.grad, [0.0, 0.5, 0.5])
    y = T([2.0, 5.0, 5.0], requires_grad=True)
    y.max(0).values.backward()
    assert_close(y.grad, [0.0, 1.0, 0.0])


# ------------------------------------------------------------------ prod / var / std / norm


@pytest.mark.parametrize("dt", [rg.float64, rg.float32, rg.int64, rg.bool])
def test_prod_forward(dt):
    a = arr((3, 4), NP[dt])
    assert_close(T(a).prod(), a.prod(), rtol=1e-5)
    r = rg.prod(T(a), 1, keepdim=True)
    assert r.dtype == (dt if dt in FLOATS else rg.int64)
    assert_close(r, a.prod(1, keepdims=True), rtol=1e-5)


def test_prod_grad_with_zeros():
    gradcheck(lambda x: x.prod(), (3, 4), low=0.5, high=1.5)
    gradcheck(lambda x: x.prod(1), (3, 4))
    x = T([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    assert_close(x.grad, [0.0, 6.0, 0.0])
    y = T([2.0, 0.0, 0.0], requires_grad=True)
    y.prod().backward()
    assert_close(y.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std(dim, correction, keepdim):
    a = arr((4, 5))
    x = T(a)
    assert_close(rg.var(x, dim, correction=correction, keepdim=keepdim), a.var(axis=dim, ddof=correction, keepdims=keepdim))
    assert_close(x.std(dim, correction=correction, keepdim=keepdim), a.std(axis=dim, ddof=correction, keepdims=keepdim))


def test_var_legacy_unbiased_and_mean_variants():
    a = arr((4, 5), np.float32)
    x = T(a)
    assert_close(x.var(unbiased=False), a.var(), rtol=1e-5)
    assert_close(rg.var(x, False), a.var(), rtol=1e-5)
    assert_close(rg.std(x, 1, True), a.std(1, ddof=1), rtol=1e-5)
    assert x.var().dtype == rg.float32
    v, m = rg.var_mean(x, 1)
    assert_close(v, a.var(1, ddof=1), rtol=1e-5)
    assert_close(m, a.mean(1), rtol=1e-5)
    s, m = rg.std_mean(x, 0, keepdim=True)
    assert_close(s, a.std(0, ddof=1, keepdims=True), rtol=1e-5)
    assert_close(m, a.mean(0, keepdims=True), rtol=1e-5)
    with pytest.raises(RuntimeError):
        T([1, 2, 3]).var()
    assert math.isnan(T([1.0]).var().item())


def test_var_std_grad():
    gradcheck(lambda x: x.var(), (3, 4))
    gradcheck(lambda x: x.std(1, correction=0), (3, 4))
    gradcheck(lambda x: rg.var_mean(x, 0)[0] + rg.var_mean(x, 0)[1], (3, 4))


@pytest.mark.parametrize("p", [2, "fro", 1, math.inf, -math.inf, 3, 0])
def test_norm(p):
    a = arr((3, 4))
    x = T(a)
    npord = 2 if p == "fro" else p
    assert_close(rg.norm(x, p), np.linalg.norm(a.ravel(), npord))
    assert_close(x.norm(p, dim=1), np.linalg.norm(a, npord, axis=1))
    assert_close(x.norm(p, 0, keepdim=True), np.linalg.norm(a, npord, axis=0, keepdims=True))


def test_norm_default_and_grad():
    a = arr((3, 4))
    assert_close(T(a).norm(), np.sqrt((a ** 2).sum()))
    with pytest.raises(RuntimeError):
        T([1, 2]).norm()
    gradcheck(lambda x: x.norm(), (3, 4))
    gradcheck(lambda x: x.norm(1, 1), (3, 4))
    gradcheck(lambda x: x.norm(math.inf, 0), (3, 4))
    gradcheck(lambda x: x.norm(3), (3, 4))


def test_logsumexp():
    a = arr((3, 4))
    from numpy import exp, log
    assert_close(rg.logsumexp(T(a), 1), log(exp(a).sum(1)))
    assert_close(T(a).logsumexp((0, 1), keepdim=True), log(exp(a).sum(keepdims=True)))
    big = T([1000.0, 1000.0])
    assert_close(rg.logsumexp(big, 0), 1000.0 + math.log(2))
    assert rg.logsumexp(T([-math.inf, -math.inf]), 0).item() == -math.inf
    assert rg.logsumexp(T([1, 2]), 0).dtype == rg.float32
    gradcheck(lambda x: rg.logsumexp(x, 1), (3, 4))


# ------------------------------------------------------------------ all / any / count_nonzero


@pytest.mark.parametrize("dt", [rg.bool, rg.int64, rg.float32])
def test_all_any_count(dt):
    a = arr((3, 4), NP[dt])
    a.flat[0] = 0
    x = T(a)
    assert rg.all(x).item() == bool(a.all())
    assert x.any().item() == bool(a.any())
    assert_close(x.all(1), a.all(1))
    assert_close(x.any(0, keepdim=True), a.any(0, keepdims=True))
    assert x.all(1).dtype == rg.bool
    c = rg.count_nonzero(x, 0)
    assert c.dtype == rg.int64
    assert_close(c, np.count_nonzero(a, 0))
    assert rg.count_nonzero(x).item() == np.count_nonzero(a)
    assert rg.all(T(np.zeros((0,)))).item() is True
    assert rg.any(T(np.zeros((0,)))).item() is False


# ------------------------------------------------------------------ cumsum / cumprod


@pytest.mark.parametrize("dt", [rg.float32, rg.float64, rg.int32, rg.bool])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod_forward(dt, dim):
    a = arr((3, 4), NP[dt])
    r = rg.cumsum(T(a), dim)
    assert r.dtype == (dt if dt in FLOATS else rg.int64)
    assert_close(r, np.cumsum(a, dim), rtol=1e-5, atol=1e-5)
    assert_close(T(a).cumprod(dim), np.cumprod(a, dim), rtol=1e-5, atol=1e-5)


def test_cumulative_misc():
    a = arr((3, 4))
    t = T(a).transpose(0, 1)
    assert_close(t.cumsum(1), np.cumsum(a.T, 1))
    assert_close(rg.cumsum(T(2.0), 0), np.array(2.0))
    assert rg.cumsum(T([1, 2]), 0, dtype=rg.float64).dtype == rg.float64
    assert tuple(rg.cumsum(T(np.zeros((0, 3))), 0).shape) == (0, 3)


def test_cumulative_grads():
    gradcheck(lambda x: x.cumsum(1), (3, 4))
    gradcheck(lambda x: x.cumsum(0), (3, 4))
    gradcheck(lambda x: x.cumprod(1), (3, 4))
    gradcheck(lambda x: x.cumprod(0), (3, 4))
    x = T([2.0, 0.0, 3.0, 4.0], requires_grad=True)
    x.cumprod(0).sum().backward()
    # d/dx_i sum_j prod_{k<=j} x_k, computed by hand
    assert_close(x.grad, [1.0, 2.0 + 0 + 0 + 2.0 * 3.0 + 2.0 * 3.0 * 4.0, 0.0, 0.0])


# ------------------------------------------------------------------ softmax / log_softmax


def np_softmax(a, d):
    e = np.exp(a - a.max(d, keepdims=True))
    return e / e.sum(d, keepdims=True)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_forward(dt, dim):
    a = arr((3, 5), NP[dt]) * 10
    tol = dict(rtol=1e-5, atol=1e-6)
    r = rg.softmax(T(a), dim)
    assert r.dtype == dt
    assert_close(r, np_softmax(a.astype(np.float64), dim), **tol)
    assert_close(T(a).log_softmax(dim), np.log(np_softmax(a.astype(np.float64), dim)), rtol=1e-5, atol=1e-5)


def test_softmax_stability_dtype_and_views():
    x = T([1000.0, 1001.0, 1002.0])
    assert_close(rg.softmax(x, 0), np_softmax(np.array([0.0, 1.0, 2.0]), 0))
    assert_close(rg.log_softmax(x, 0), np.log(np_softmax(np.array([0.0, 1.0, 2.0]), 0)), rtol=1e-5, atol=1e-5)
    assert rg.softmax(T([1.0, 2.0]), 0, dtype=rg.float64).dtype == rg.float64
    a = arr((4, 6))
    t = T(a).transpose(0, 1)
    assert_close(t.softmax(1), np_softmax(a.T, 1))
    assert_close(rg.softmax(T(3.0), 0), np.array(1.0))
    with pytest.raises(RuntimeError):
        rg.softmax(T([1, 2]), 0)
    assert "SoftmaxBackward0" in str(rg.softmax(T([1.0], requires_grad=True), 0).grad_fn)


@pytest.mark.parametrize("dt", FLOATS)
def test_softmax_middle_dim_columns(dt):
    a = arr((2, 5, 1100), NP[dt]) * 5
    a[0, :, 3] = -np.inf  # an all -inf column gives NaN, as in PyTorch
    a[1, 2, 7] = np.nan
    x = T(a)
    with np.errstate(invalid="ignore"):
        e = np_softmax(a.astype(np.float64), 1)
    assert_close(rg.softmax(x, 1), e, rtol=1e-5, atol=1e-6)
    assert_close(rg.log_softmax(x, 1), np.log(e), rtol=1e-4, atol=1e-5)
    assert np.isnan(rg.softmax(x, 1).numpy()[0, :, 3]).all()
    gradcheck(lambda x: rg.log_softmax(x, 1), (2, 3, 4))
    gradcheck(lambda x: rg.softmax(x, 0), (2, 3, 4))


def test_softmax_grads():
    gradcheck(lambda x: rg.softmax(x, 1), (3, 4))
    gradcheck(lambda x: rg.softmax(x, 0), (3, 4))
    gradcheck(lambda x: rg.log_softmax(x, 1), (3, 4))
    gradcheck(lambda x: rg.log_softmax(x, 0), (3, 4))


# ------------------------------------------------------------------ sort family


@pytest.mark.parametrize("dt", [rg.float32, rg.float64, rg.int64])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dt, dim, descending):
    a = arr((4, 5), NP[dt])
    v, i = rg.sort(T(a), dim, descending)
    order = np.argsort(-a if descending else a, axis=dim, kind="stable")
    assert i.dtype == rg.int64
    assert_close(i, order)
    assert_close(v, np.take_along_axis(a, order, dim))
    assert_close(T(a).argsort(dim, descending=descending), order)


def test_sort_nan_stable_views():
    v, i = rg.sort(T([3.0, math.nan, 1.0, 3.0]))
    assert_close(v, [1.0, 3.0, 3.0, math.nan])
    assert_close(i, [2, 0, 3, 1])
    v, i = T([3.0, math.nan, 1.0]).sort(descending=True)
    assert math.isnan(v.numpy()[0]) and i.numpy()[0] == 1
    a = arr((3, 4))
    t = T(a).transpose(0, 1)
    assert_close(t.sort(0).values, np.sort(a.T, 0))
    assert type(rg.sort(T(a))).__name__ == "sort"


@pytest.mark.parametrize("largest", [True, False])
def test_topk(largest):
    a = arr((3, 6))
    r = rg.topk(T(a), 3, 1, largest)
    e = np.sort(a, 1)[:, ::-1][:, :3] if largest else np.sort(a, 1)[:, :3]
    assert_close(r.values, e)
    assert_close(np.take_along_axis(a, r.indices.numpy(), 1), e)
    assert tuple(T(a).topk(2, dim=0).values.shape) == (2, 6)
    with pytest.raises(RuntimeError):
        rg.topk(T(a), 7)


def test_kthvalue_median():
    a = arr((5, 4))
    r = rg.kthvalue(T(a), 2, 0)
    assert_close(r.values, np.sort(a, 0)[1])
    assert_close(np.take_along_axis(a, r.indices.numpy()[None], 0)[0], np.sort(a, 0)[1])
    assert tuple(T(a).kthvalue(1, 1, keepdim=True).values.shape) == (5, 1)
    with pytest.raises(RuntimeError):
        rg.kthvalue(T(a), 6, 0)
    # lower median
    b = arr((6,))
    assert_close(rg.median(T(b)), np.sort(b)[2])
    m = T(a).median(1)
    assert_close(m.values, np.sort(a, 1)[:, 1])
    assert_close(np.take_along_axis(a, m.indices.numpy()[:, None], 1)[:, 0], np.sort(a, 1)[:, 1])
    assert tuple(T(a).median(0, keepdim=True).values.shape) == (1, 4)
    assert math.isnan(rg.median(T([1.0, math.nan, 2.0])).item())
    assert math.isnan(rg.median(T([[1.0, math.nan, 2.0]]), 1).values.item())
    assert rg.median(T([3, 1, 2])).item() == 2


def test_mode_nansum_nanmean():
    r = rg.mode(T([1, 3, 2, 3, 2, 5]))
    assert r.values.item() == 2 and r.indices.item() == 4  # smallest of the tied values, last index
    a = np.array([[1.0, 2.0, 2.0], [4.0, 4.0, 1.0]])
    m = T(a).mode(1)
    assert_close(m.values, [2.0, 4.0])
    assert_close(m.indices, [2, 1])
    assert tuple(T(a).mode(0, keepdim=True).values.shape) == (1, 3)
    gradcheck(lambda x: x.mode(1).values, (3, 4))
    b = np.array([[1.0, math.nan], [2.0, 3.0]])
    assert_close(rg.nansum(T(b)), np.nansum(b))
    assert_close(T(b).nansum(1), np.nansum(b, 1))
    assert_close(rg.nanmean(T(b), 0), np.nanmean(b, 0))
    gradcheck(lambda x: rg.nansum(x, 1), (3, 4))


def test_sort_family_grads():
    gradcheck(lambda x: rg.sort(x, 1).values, (3, 4))
    gradcheck(lambda x: rg.sort(x, 0, descending=True).values, (3, 4))
    gradcheck(lambda x: rg.topk(x, 2, 1).values, (3, 4))
    gradcheck(lambda x: rg.kthvalue(x, 2, 0).values, (3, 4))
    gradcheck(lambda x: rg.median(x), (3, 4))
    gradcheck(lambda x: rg.median(x, 1).values, (3, 5))


# ------------------------------------------------------------------ NaN / inf / closeness


def test_nan_inf_tests():
    a = np.array([1.0, math.nan, math.inf, -math.inf, 0.0], dtype=np.float32)
    x = T(a)
    assert_close(rg.isnan(x), np.isnan(a))
    assert_close(x.isinf(), np.isinf(a))
    assert_close(rg.isfinite(x), np.isfinite(a))
    assert_close(rg.isposinf(x), np.isposinf(a))
    assert_close(rg.isneginf(x), np.isneginf(a))
    i = T([1, 2])
    assert not rg.isnan(i).any().item() and rg.isfinite(i).all().item() and rg.isnan(i).dtype == rg.bool
    assert_close(rg.nan_to_num(x), np.nan_to_num(a))
    assert_close(x.nan_to_num(1.0, 2.0, -2.0), np.nan_to_num(a, nan=1.0, posinf=2.0, neginf=-2.0))


def test_isclose_allclose_equal():
    a = np.array([1.0, 2.0, math.nan, math.inf])
    b = np.array([1.0 + 1e-9, 2.1, math.nan, math.inf])
    assert_close(rg.isclose(T(a), T(b)), np.isclose(a, b))
    assert_close(T(a).isclose(T(b), equal_nan=True), np.isclose(a, b, equal_nan=True))
    assert rg.allclose(T([1.0, 2.0]), T([1.0, 2.0 + 1e-7])) is True
    assert rg.allclose(T([1.0]), T([1.1])) is False
    assert rg.equal(T([1, 2]), T([1, 2])) is True
    assert rg.equal(T([1, 2]), T([1, 3])) is False
    assert rg.equal(T([1, 2]), T([[1, 2]])) is False


# ------------------------------------------------------------------ PyTorch parity (optional)


PARITY_CASES = [
    ("sum", (), {}), ("sum", (1,), {}), ("sum", ((0, 2),), {"keepdim": True}), ("mean", (1,), {}),
    ("prod", (1,), {}), ("prod", (), {}), ("amax", ((0, 2),), {}), ("amin", (1,), {"keepdim": True}),
    ("max", (), {}), ("min", (2,), {}), ("max", (1, True), {}), ("argmax", (), {}), ("argmax", (1,), {}),
    ("argmin", (2,), {"keepdim": True}), ("var", (), {}), ("var", (1,), {"correction": 0}),
    ("std", ((0, 1),), {"keepdim": True}), ("var_mean", (1,), {}), ("std_mean", (), {}), ("norm", (), {}),
    ("norm", (1,), {"dim": 1}), ("norm", (math.inf,), {"dim": (0, 2)}), ("logsumexp", (1,), {}),
    ("all", (), {}), ("any", (1,), {}), ("count_nonzero", (), {}), ("count_nonzero", (1,), {}),
    ("cumsum", (1,), {}), ("cumprod", (2,), {}), ("softmax", (1,), {}), ("log_softmax", (0,), {}),
    ("sort", (1,), {}), ("sort", (), {"descending": True, "dim": 0}), ("argsort", (2,), {}), ("topk", (2,), {}),
    ("topk", (2, 1, False), {}), ("kthvalue", (2, 0), {}), ("median", (), {}), ("median", (1,), {}),
    ("mode", (1,), {}), ("isnan", (), {}), ("isfinite", (), {}), ("nan_to_num", (), {}), ("nansum", (1,), {}),
    ("nanmean", (1,), {}), ("aminmax", (), {}), ("msort", (), {}), ("sum", (5,), {}), ("max", (-4,), {}),
]


def _parity_inputs():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((3, 4, 5))
    ints = (rng.permutation(60) - 30).reshape(3, 4, 5)  # distinct values: indices are unambiguous
    return [f, f.astype(np.float32), ints, rng.random((3, 4, 5)) > 0.5]


@requires_torch
@pytest.mark.parametrize("name,args,kw", PARITY_CASES)
def test_torch_parity(name, args, kw):
    for src in _parity_inputs():
        try:
            e = getattr(torch, name)(torch.tensor(src), *args, **kw)
        except Exception as ex:  # noqa: BLE001 - the exception type itself is compared
            with pytest.raises(type(ex)):
                getattr(rg, name)(T(src), *args, **kw)
            continue
        g = getattr(rg, name)(T(src), *args, **kw)
        es, gs = (e, g) if isinstance(e, tuple) else ((e,), (g,))
        assert len(es) == len(gs)
        for x, y in zip(es, gs):
            assert str(x.dtype) == str(y.dtype), (name, src.dtype)
            assert_close(y, x.numpy(), rtol=1e-5, atol=1e-5)


@requires_torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.max(x), lambda m, x: m.amax(x, 1), lambda m, x: m.max(x, 0).values,
        lambda m, x: m.prod(x, 1), lambda m, x: m.var(x, 0), lambda m, x: m.norm(x),
        lambda m, x: m.logsumexp(x, 1), lambda m, x: m.cumprod(x, 1), lambda m, x: m.softmax(x, 0),
        lambda m, x: m.log_softmax(x, 1), lambda m, x: m.sort(x, 1).values, lambda m, x: m.median(x),
        lambda m, x: m.median(x, 1).values, lambda m, x: m.topk(x, 2, 0).values,
    ],
)
def test_torch_grad_parity(fn):
    # Ties and a zero make the tie-splitting and zero-product rules visible.
    a = np.array([[1.0, 3.0, 3.0, -2.0], [0.0, 2.0, -1.0, 3.0], [0.5, -3.0, 2.0, 1.5]])
    tx = torch.tensor(a, requires_grad=True)
    fn(torch, tx).sum().backward()
    x = T(a, requires_grad=True)
    fn(rg, x).sum().backward()
    assert_close(x.grad, tx.grad.numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: rg.softmax(x, 1),
        lambda x: rg.log_softmax(x, 0),
        lambda x: x.cumsum(1),
        lambda x: rg.sort(x, 1).values,
        lambda x: x.max(1).values,
        lambda x: x.var(1),
        lambda x: rg.logsumexp(x, 1),
        lambda x: x.sum(0),
    ],
)
def test_double_backward(fn):
    rng = np.random.default_rng(1)
    x = rg.tensor(rng.uniform(-1, 1, (3, 4)), dtype=rg.float64, requires_grad=True)
    assert rg.autograd.gradgradcheck(fn, [x], eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_row_amax_amin_with_infinities_and_nan(dt):
    # Long rows take the vector path, whose NaN check rescans rows holding an infinity.
    a = np.random.default_rng(7).standard_normal((6, 300)).astype(dt)
    a[0, 5] = np.inf
    a[1, 17] = -np.inf
    a[2, 299] = np.nan
    a[3, 3], a[3, 200] = np.inf, np.nan
    a[4, :] = -np.inf
    t = rg.from_numpy(a)
    np.testing.assert_array_equal(rg.amax(t, 1).numpy(), a.max(1))
    np.testing.assert_array_equal(rg.amin(t, 1).numpy(), a.min(1))
    sm = rg.softmax(t, 1).numpy()
    assert np.isnan(sm[0]).all()  # exp(inf - inf), as in PyTorch
    np.testing.assert_allclose(sm[[1, 5]].sum(1), 1.0, rtol=1e-5)
    assert sm[1, 17] == 0.0
