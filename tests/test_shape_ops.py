"""Joining/splitting/shape ops vs NumPy, views sharing memory, gradchecks and error cases."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, gradcheck

DTYPES = [np.float32, np.float64, np.int64, np.bool_]


def _arr(shape, dtype):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_stack_vs_numpy(dtype):
    a, b = _arr((2, 3), dtype), _arr((4, 3), dtype)
    assert_close(rg.cat([rg.tensor(a), rg.tensor(b)]), np.concatenate([a, b]))
    assert_close(rg.concat((rg.tensor(a), rg.tensor(a)), dim=-1), np.concatenate([a, a], -1))
    assert_close(rg.stack([rg.tensor(a), rg.tensor(a)], 1), np.stack([a, a], 1))
    assert_close(rg.hstack([rg.tensor(a), rg.tensor(a)]), np.hstack([a, a]))
    assert_close(rg.vstack([rg.tensor(a), rg.tensor(b)]), np.vstack([a, b]))
    assert_close(rg.dstack([rg.tensor(a), rg.tensor(a)]), np.dstack([a, a]))


def test_cat_promotion_empty_and_noncontiguous():
    a = rg.tensor([[1, 2], [3, 4]])
    f = rg.tensor([[0.5, 1.5]])
    r = rg.cat([a, f])
    assert r.dtype == rg.float32
    assert_close(r, np.array([[1, 2], [3, 4], [0.5, 1.5]], dtype=np.float32))
    assert_close(rg.cat([rg.tensor([]), a]), a.numpy())
    assert_close(rg.cat([a.t(), a.t()], 1), np.concatenate([a.numpy().T] * 2, 1))
    assert tuple(rg.cat([rg.zeros(0, 3), rg.zeros(2, 3)]).shape) == (2, 3)


def test_cat_stack_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        rg.cat([rg.zeros(2, 3), rg.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        rg.cat([rg.tensor(1.0)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        rg.stack([rg.zeros(2), rg.zeros(3)])
    with pytest.raises(TypeError):
        rg.cat(rg.zeros(2))


def test_split_chunk_unbind_views():
    x = rg.tensor(np.arange(10.0))
    parts = rg.split(x, 3)
    assert [p.shape[0] for p in parts] == [3, 3, 3, 1]
    parts[1][0] = 100.0
    assert x[3].item() == 100.0
    assert [p.shape[0] for p in x.split([2, 8])] == [2, 8]
    assert [p.shape[0] for p in x.chunk(4)] == [3, 3, 3, 1]
    assert [p.shape[0] for p in rg.tensor_split(x, 3)] == [4, 3, 3]
    assert [p.shape[0] for p in rg.tensor_split(x, [2, 5])] == [2, 3, 5]
    m = rg.tensor(np.arange(6).reshape(2, 3))
    for i, r in enumerate(m.unbind(1)):
        assert_close(r, np.arange(6).reshape(2, 3)[:, i])
    with pytest.raises(RuntimeError, match="split_with_sizes"):
        x.split([2, 2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_flip_roll_repeat_tile(dtype):
    a = _arr((2, 3, 4), dtype)
    x = rg.tensor(a)
    assert_close(rg.flip(x, (0, 2)), np.flip(a, (0, 2)))
    assert_close(x.flip(1), np.flip(a, 1))
    assert_close(rg.fliplr(x), np.fliplr(a))
    assert_close(rg.flipud(x), np.flipud(a))
    assert_close(rg.roll(x, 1), np.roll(a, 1))
    assert_close(rg.roll(x, (1, -2), (0, 2)), np.roll(a, (1, -2), (0, 2)))
    assert_close(x.repeat(2, 1, 1, 2), np.tile(a, (2, 1, 1, 2)))
    assert_close(rg.tile(x, (2,)), np.tile(a, (2,)))
    assert_close(rg.repeat_interleave(x, 2, dim=1), np.repeat(a, 2, 1))
    assert_close(x.repeat_interleave(2), np.repeat(a, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [-1, 0, 2])
def test_tril_triu_diag(dtype, k):
    a = _arr((3, 4), dtype)
    x = rg.tensor(a)
    assert_close(rg.tril(x, k), np.tril(a, k))
    assert_close(x.triu(k), np.triu(a, k))
    assert_close(rg.diag(x, k), np.diag(a, k))
    assert_close(rg.diagonal(x, k), np.diagonal(a, k))
    v = _arr((3,), dtype)
    assert_close(rg.diag(rg.tensor(v), k), np.diag(v, k))


def test_diagonal_view_trace_meshgrid():
    x = rg.zeros(3, 3)
    d = x.diagonal()
    d.fill_(2.0)
    assert_close(x, 2 * np.eye(3, dtype=np.float32))
    b = np.random.rand(2, 3, 4)
    assert_close(rg.diagonal(rg.tensor(b), 1, 1, 2), np.diagonal(b, 1, 1, 2))
    assert_close(rg.trace(rg.tensor(b[0])), np.trace(b[0]))
    u, v = rg.tensor([1, 2, 3]), rg.tensor([4, 5])
    for got, exp in zip(rg.meshgrid(u, v, indexing="ij"), np.meshgrid([1, 2, 3], [4, 5], indexing="ij")):
        assert_close(got, exp)
    for got, exp in zip(rg.meshgrid(u, v, indexing="xy"), np.meshgrid([1, 2, 3], [4, 5], indexing="xy")):
        assert_close(got, exp)
    assert_close(rg.cartesian_prod(u, v), np.array([[a, c] for a in [1, 2, 3] for c in [4, 5]]))


def test_unique_bincount_searchsorted():
    a = np.array([3, 1, 3, 0, 1, 3])
    u, inv, cnt = rg.unique(rg.tensor(a), return_inverse=True, return_counts=True)
    eu, ei, ec = np.unique(a, return_inverse=True, return_counts=True)
    assert_close(u, eu)
    assert_close(inv, ei)
    assert_close(cnt, ec)
    assert_close(rg.bincount(rg.tensor(a)), np.bincount(a))
    assert_close(rg.bincount(rg.tensor(a), minlength=6), np.bincount(a, minlength=6))
    with pytest.raises(RuntimeError):
        rg.bincount(rg.tensor([-1, 2]))
    s = np.array([1.0, 3.0, 5.0])
    assert_close(rg.searchsorted(rg.tensor(s), rg.tensor([0.0, 3.0, 6.0])), np.searchsorted(s, [0.0, 3.0, 6.0]))
    assert_close(rg.searchsorted(rg.tensor(s), rg.tensor([3.0]), right=True), np.array([2]))


def test_zero_size():
    z = rg.zeros(0, 3)
    assert tuple(rg.flip(z, (0,)).shape) == (0, 3)
    assert tuple(z.repeat(2, 2).shape) == (0, 6)
    assert tuple(rg.tril(z).shape) == (0, 3)
    assert tuple(rg.stack([z, z]).shape) == (2, 0, 3)


def test_shape_gradchecks():
    gradcheck(lambda a, b: rg.cat([a, b], 1), (2, 3), (2, 2))
    gradcheck(lambda a, b: rg.stack([a, b], 0), (2, 3), (2, 3))
    gradcheck(lambda a: rg.split(a, 2, 1)[1] * 2, (2, 5))
    gradcheck(lambda a: a.chunk(3)[2] * 2, (5, 2))
    gradcheck(lambda a: a.unbind(0)[1] * 3, (3, 2))
    gradcheck(lambda a: rg.flip(a, (0, 1)), (2, 3))
    gradcheck(lambda a: rg.roll(a, (1, 2), (0, 1)), (2, 3))
    gradcheck(lambda a: a.repeat(2, 3), (2, 3))
    gradcheck(lambda a: rg.tile(a, (2,)), (3,))
    gradcheck(lambda a: rg.repeat_interleave(a, 2, 0), (2, 3))
    gradcheck(lambda a: rg.tril(a, 1), (3, 3))
    gradcheck(lambda a: rg.triu(a, -1), (3, 4))
    gradcheck(lambda a: rg.diagonal(a, 1), (3, 4))
    gradcheck(lambda a: rg.diag(a), (3,))
    gradcheck(lambda a: rg.trace(a), (3, 3))
