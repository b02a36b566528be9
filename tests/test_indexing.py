"""Indexing (__getitem__/__setitem__) and index ops vs NumPy, with gradchecks and error cases."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, gradcheck, requires_torch, torch

A = np.arange(24).reshape(2, 3, 4)

GET_CASES = [
    1, -1, (0, 1), (slice(None), 1), (Ellipsis, None), (slice(None), slice(1, 3)), (slice(None, None, 2),),
    (Ellipsis, slice(None, None, 3)), (None, 0, Ellipsis), ([0, 1],), ([1, 0], [2, 0]), (slice(None), [2, 0, 2]),
    (0, [1, 2], [0, 3]), ([1, 0], slice(None), [3, 0]), (np.array([[0, 1], [1, 0]]),), (A % 2 == 0,),
    (np.array([True, False]),), (slice(None), np.array([True, False, True])), (Ellipsis, [-1]),
    (slice(None), [[0], [2]], [1, 3]), (slice(5, 1),), (slice(-10, 10),),
]


@pytest.mark.parametrize("idx", GET_CASES, ids=[str(i)[:30] for i in range(len(GET_CASES))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_getitem_vs_numpy(idx, dtype):
    a = (A % 5).astype(dtype)
    x = rg.tensor(a)
    assert_close(x[idx], a[idx])


def test_getitem_mixed_separated_advanced_goes_first():
    # PyTorch rule: advanced indices separated by a slice put the broadcast dims first.
    x = rg.tensor(A)
    assert tuple(x[[0, 1], :, [1, 2]].shape) == (2, 3)
    assert tuple(x[:, [0, 1]][:, :, [0]].shape) == (2, 2, 1)


def test_getitem_tensor_indices_and_0d():
    x = rg.tensor(A)
    i = rg.tensor(1)
    assert_close(x[i], A[1])
    assert_close(x[rg.tensor([1, 0])], A[[1, 0]])
    assert_close(x[x > 10], A[A > 10])
    assert_close(rg.tensor(5.0)[None], np.array([5.0]))


def test_basic_indexing_returns_views():
    x = rg.zeros(3, 4)
    v = x[:, 1:3]
    v[0, 0] = 7.0
    assert x[0, 1].item() == 7.0
    x[1][2] = 5.0
    assert x.numpy()[1, 2] == 5.0
    w = x[::2, ::-1] if False else x[::2]
    assert w.stride() == (8, 1)
    assert x[..., None].data_ptr() == x.data_ptr()


def test_getitem_errors():
    x = rg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        x[:, [0, 4]]
    with pytest.raises(IndexError):
        x[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError):
        x[rg.tensor([0.5])]
    with pytest.raises(ValueError):
        x[::-1]


SET_CASES = [1, (0, 1), (slice(None), 1), (slice(None, None, 2),), ([0, 2],), ([1, 0], [2, 3]),
             (np.arange(12).reshape(3, 4) > 5,), (slice(None), [3, 0]), (Ellipsis, 0)]


@pytest.mark.parametrize("idx", SET_CASES, ids=[str(i) for i in range(len(SET_CASES))])
def test_setitem_vs_numpy(idx):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = rg.tensor(a.copy())
    x[idx] = -1
    a[idx] = -1
    assert_close(x, a)
    # A tensor value with broadcasting and a dtype cast.
    b = np.zeros((3, 4), dtype=np.float32)
    y = rg.tensor(b.copy())
    shape = b[idx].shape
    val = np.arange(int(np.prod(shape[-1:])) if shape else 1, dtype=np.int64).reshape(shape[-1:] if shape else ())
    if any(isinstance(i, (list, np.ndarray)) for i in (idx if isinstance(idx, tuple) else (idx,))):
        # Advanced indices write with index_put_, which (in PyTorch) wants the target's dtype.
        with pytest.raises(RuntimeError, match="dtypes match"):
            y[idx] = rg.tensor(val)
        val = val.astype(np.float32)
    y[idx] = rg.tensor(val)
    b[idx] = val
    assert_close(y, b)


def test_setitem_noncontiguous_target_and_version():
    base = rg.zeros(4, 4)
    t = base.t()
    v0 = base._version
    t[[0, 1], [2, 3]] = rg.tensor([1.0, 2.0])
    ref = np.zeros((4, 4), dtype=np.float32)
    ref.T[[0, 1], [2, 3]] = [1.0, 2.0]
    assert_close(base, ref)
    assert base._version > v0


def test_setitem_leaf_requires_grad_raises():
    x = rg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."):
        x[0] = 1.0


def test_setitem_autograd():
    a = rg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = rg.tensor([10.0, 20.0], requires_grad=True)
    y = a * 2
    y[:, 1] = v
    y[[0, 1], [0, 0]] = v * 3
    (y * rg.tensor(np.arange(1.0, 7.0).reshape(2, 3))).sum().backward()
    # Written positions get no gradient in a; v gets g at (.,1) plus 3*g at (.,0).
    assert_close(a.grad, np.array([[0, 0, 6], [0, 0, 12]], dtype=np.float64))
    assert_close(v.grad, np.array([2 + 3 * 1, 5 + 3 * 4], dtype=np.float64))


def test_getitem_grad_accumulates_duplicates():
    x = rg.tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    assert_close(x.grad, np.array([2.0, 0, 1, 0]))


@pytest.mark.parametrize("idx", [(slice(None), 1), ([1, 0, 1],), (slice(None), [2, 0]), (np.array([[True, False, True], [False, True, True]]),)])
def test_getitem_gradcheck(idx):
    gradcheck(lambda x: x[idx] * 1.5, (2, 3))


def test_gather_scatter_vs_numpy():
    a = np.random.rand(3, 4)
    idx = np.array([[0, 2], [1, 1], [3, 0]])
    x = rg.tensor(a)
    assert_close(rg.gather(x, 1, rg.tensor(idx)), np.take_along_axis(a, idx, 1))
    assert_close(x.gather(0, rg.tensor([[2, 0, 1, 0]])), np.take_along_axis(a, np.array([[2, 0, 1, 0]]), 0))
    src = np.random.rand(3, 2)
    out = rg.scatter(rg.zeros(3, 4, dtype=rg.float64), 1, rg.tensor(idx), rg.tensor(src))
    ref = np.zeros((3, 4))
    np.put_along_axis(ref, idx, src, 1)
    assert_close(out, ref)
    add = rg.zeros(3, 4, dtype=rg.float64).scatter_add(1, rg.tensor(idx), rg.tensor(src))
    ref = np.zeros((3, 4))
    for i in range(3):
        for j in range(2):
            ref[i, idx[i, j]] += src[i, j]
    assert_close(add, ref)
    v = rg.zeros(2, 3).scatter_(1, rg.tensor([[1], [2]]), 5.0)
    assert_close(v, np.array([[0, 5, 0], [0, 0, 5]], dtype=np.float32))
    m = rg.ones(2, 3).scatter(1, rg.tensor([[1, 1]]), rg.full((1, 2), 3.0), reduce="multiply")
    assert_close(m, np.array([[1, 9, 1], [1, 1, 1]], dtype=np.float32))


def test_gather_errors():
    x = rg.zeros(3, 4)
    with pytest.raises(RuntimeError):
        rg.gather(x, 1, rg.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        rg.gather(x, 1, rg.tensor([[0.5]]))
    with pytest.raises(RuntimeError, match="out of bounds"):  # PyTorch: RuntimeError, not IndexError
        rg.gather(x, 1, rg.tensor([[4]]))


def test_index_ops_vs_numpy():
    a = np.random.rand(4, 3)
    x = rg.tensor(a)
    i = rg.tensor([2, 0, 2])
    assert_close(rg.index_select(x, 0, i), a[[2, 0, 2]])
    assert_close(x.index_select(1, rg.tensor([1])), a[:, [1]])
    ref = a.copy()
    np.add.at(ref, [2, 0, 2], np.ones((3, 3)))
    assert_close(rg.index_add(x, 0, i, rg.ones(3, 3, dtype=rg.float64)), ref)
    ref = a.copy()
    ref[[3, 1]] = 0.5
    assert_close(rg.index_copy(x, 0, rg.tensor([3, 1]), rg.full((2, 3), 0.5, dtype=rg.float64)), ref)
    ref = a.copy()
    ref[:, [0, 2]] = -2
    assert_close(x.index_fill(1, rg.tensor([0, 2]), -2), ref)
    assert_close(rg.take(x, rg.tensor([[0, 11], [5, 5]])), a.reshape(-1)[[[0, 11], [5, 5]]])
    ti = np.array([[0], [2], [1], [0]])
    assert_close(rg.take_along_dim(x, rg.tensor(ti), 1), np.take_along_axis(a, ti, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_masked_and_nonzero(dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    x = rg.tensor(a)
    m = np.arange(12).reshape(3, 4) % 2 == 0
    ref = a.copy()
    ref[m] = 1
    assert_close(x.masked_fill(rg.tensor(m), 1), ref)
    assert_close(rg.masked_select(x, rg.tensor(m)), a[m])
    assert_close(rg.nonzero(x), np.argwhere(a))
    for got, exp in zip(rg.nonzero(x, as_tuple=True), np.nonzero(a)):
        assert_close(got, exp)
    assert_close(rg.argwhere(x), np.argwhere(a))
    assert tuple(rg.nonzero(rg.zeros(0, 2)).shape) == (0, 2)


def test_masked_fill_tensor_value_and_inplace():
    x = rg.zeros(2, 2)
    x.masked_fill_(rg.tensor([[True, False], [False, True]]), rg.tensor(3.0))
    assert_close(x, np.array([[3, 0], [0, 3]], dtype=np.float32))
    with pytest.raises(RuntimeError):
        x.masked_fill(rg.tensor([[1, 0], [0, 1]]), 1.0)


def test_index_op_gradchecks():
    idx = rg.tensor([[0, 2], [1, 1], [3, 0]])
    gradcheck(lambda x: rg.gather(x, 1, idx), (3, 4))
    uniq = rg.tensor([[0, 2], [1, 3], [3, 0]])  # scatter with duplicates is order-dependent
    gradcheck(lambda x, s: rg.scatter(x, 1, uniq, s), (3, 4), (3, 2))
    gradcheck(lambda x, s: rg.scatter_add(x, 1, idx, s), (3, 4), (3, 2))
    gradcheck(lambda x: rg.index_select(x, 0, rg.tensor([1, 1, 0])), (2, 3))
    gradcheck(lambda x, s: rg.index_add(x, 0, rg.tensor([1, 1]), s, alpha=2), (2, 3), (2, 3))
    m = rg.tensor([[True, False, True], [False, False, True]])
    gradcheck(lambda x: x.masked_fill(m, 0.5), (2, 3))
    gradcheck(lambda x: rg.masked_select(x, m), (2, 3))
    gradcheck(lambda x: rg.take_along_dim(x, rg.tensor([[1], [0]]), 1), (2, 3))


@requires_torch
def test_torch_parity_advanced():
    a = np.random.rand(2, 3, 4)
    for idx in [(slice(None), [0, 2], [1, 3]), ([0, 1], slice(None), [1, 3]), (0, slice(None), [1, 2])]:
        assert_close(rg.tensor(a)[idx], torch.tensor(a)[idx].numpy())
