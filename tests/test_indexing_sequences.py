"""Indexing with Python ranges, lists, tuples of sequences and NumPy arrays (getitem, setitem, grads)."""

import warnings

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close, requires_torch, torch

A = np.arange(24.0).reshape(4, 6)
Y = [1, 0, 5, 2]

INDICES = {
    "range_list": lambda: (range(4), Y),
    "range_tensor": lambda: (range(4), rg.tensor(Y)),
    "range": lambda: range(1, 3),
    "range_step": lambda: (slice(None), range(0, 6, 2)),
    "range_negative": lambda: range(-2, 0),
    "range_empty": lambda: range(0),
    "np_int64": lambda: (np.array([0, 3]), np.array([1, 2])),
    "np_int32": lambda: np.array([0, 3], dtype=np.int32),
    "np_int_2d": lambda: np.array([[0, 1], [2, 3]]),
    "np_bool": lambda: np.array([True, False, True, False]),
    "np_bool_2d": lambda: A > 10,
    "tuple_of_tuples": lambda: ((0, 2), (1, 3)),
    "np_scalar": lambda: np.int64(2),
    "duplicates": lambda: ([0, 0, 1], [2, 2, 3]),
    "list_and_ellipsis": lambda: (Ellipsis, [5, 0]),
}


def _numpy_index(idx):
    """The same index for NumPy (ranges and tensors become arrays)."""
    def conv(i):
        if isinstance(i, range):
            return np.arange(i.start, i.stop, i.step)
        if isinstance(i, rg.Tensor):
            return i.numpy()
        return i

    return tuple(conv(i) for i in idx) if isinstance(idx, tuple) else conv(idx)


@pytest.mark.parametrize("name", list(INDICES))
def test_getitem_matches_numpy(name):
    idx = INDICES[name]()
    assert_close(rg.tensor(A)[idx], A[_numpy_index(idx)])


@pytest.mark.parametrize("name", list(INDICES))
def test_getitem_grad_accumulates(name):
    idx = INDICES[name]()
    x = rg.tensor(A, requires_grad=True)
    out = x[idx]
    w = np.random.randn(*out.shape)
    (out * rg.tensor(w)).sum().backward()
    expected = np.zeros_like(A)
    np.add.at(expected, _numpy_index(idx), w)
    assert_close(x.grad, expected)


@pytest.mark.parametrize("name", list(INDICES))
def test_setitem_scalar_and_tensor(name):
    idx = INDICES[name]()
    npi = _numpy_index(idx)
    x = rg.tensor(A).clone()
    x[idx] = -1.0
    ref = A.copy()
    ref[npi] = -1.0
    assert_close(x, ref)
    if name == "duplicates":
        return  # which duplicate write wins is unspecified (as in PyTorch)
    shape = A[npi].shape
    vals = np.random.randn(*shape)
    x = rg.tensor(A).clone()
    x[idx] = rg.tensor(vals)
    ref = A.copy()
    ref[npi] = vals
    assert_close(x, ref)


def test_setitem_with_range_carries_grads():
    base = rg.tensor(A, requires_grad=True)
    v = rg.tensor([10.0, 20.0, 30.0, 40.0], requires_grad=True)
    x = base * 1.0
    x[range(4), Y] = v * 2.0
    w = np.random.randn(4, 6)
    (x * rg.tensor(w)).sum().backward()
    gbase = w.copy()
    gbase[np.arange(4), Y] = 0.0  # overwritten entries pass no gradient back to base
    assert_close(base.grad, gbase)
    assert_close(v.grad, 2.0 * w[np.arange(4), Y])


def test_cross_entropy_idiom_gradcheck():
    """The idiom of hand-written NLL: -log_softmax(x)[range(n), y].mean()."""
    y = [2, 0, 1]
    assert rg.autograd.gradcheck(
        lambda x: -rg.log_softmax(x, 1)[range(3), y].mean(),
        [rg.tensor(np.random.randn(3, 4), requires_grad=True)],
        eps=1e-6, atol=1e-5, rtol=1e-3,
    )


def test_list_of_sequences_is_a_tuple_with_warning():
    x = rg.tensor(A)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = x[[range(2), [1, 3]]]
    assert_close(out, A[[0, 1], [1, 3]])
    assert any("Using a non-tuple sequence for multidimensional indexing is deprecated" in str(w.message)
               for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x[[0, 1]]  # a list of ints is one index: no warning


def test_errors():
    x = rg.tensor(A)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 4"):
        x[range(5)]
    with pytest.raises(IndexError, match="shape mismatch"):
        x[range(3), Y]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        x[np.array([0.5, 1.0])]


@requires_torch
@pytest.mark.parametrize("name", list(INDICES))
def test_matches_torch(name):
    idx = INDICES[name]()
    tidx = tuple(torch.tensor(i.numpy()) if isinstance(i, rg.Tensor) else i for i in idx) \
        if isinstance(idx, tuple) else idx
    ours = rg.tensor(A, requires_grad=True)
    theirs = torch.tensor(A, requires_grad=True)
    o, t = ours[idx], theirs[tidx]
    assert_close(o, t.detach().numpy())
    o.sum().backward()
    t.sum().backward()
    assert_close(ours.grad, theirs.grad.numpy())
