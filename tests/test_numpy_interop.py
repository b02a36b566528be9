"""NumPy interop and Python scalar conversions."""

import numpy as np
import pytest
import rustgrad as rg


def test_numpy_shares_memory():
    t = rg.zeros(3)
    n = t.numpy()
    n[0] = 4
    t.add_(1)
    assert n.tolist() == [5, 1, 1]
    assert np.asarray(rg.tensor([1, 2])).dtype == np.int64
    assert np.asarray(rg.tensor([1, 2]), dtype=np.float32).dtype == np.float32
    assert rg.zeros(2, 3).t().numpy().shape == (3, 2)
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\) instead"):
        rg.zeros(2, requires_grad=True).numpy()


def test_conversions():
    assert rg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert rg.tensor(1.5).tolist() == 1.5 and rg.tensor([True]).tolist() == [True]
    assert type(rg.tensor([1]).item()) is int and type(rg.tensor([1.0]).item()) is float
    assert float(rg.tensor([2.5])) == 2.5 and int(rg.tensor([-2.7])) == -2 and bool(rg.tensor([1]))
    assert int(rg.tensor(2**62 + 1)) == 2**62 + 1 and [10, 20][rg.tensor(1)] == 20
    assert len(rg.zeros(3, 2)) == 3
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        rg.zeros(2).item()
    with pytest.raises(ValueError):
        float(rg.zeros(2))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(rg.zeros(2))
    with pytest.raises(TypeError):
        len(rg.tensor(1.0))


def test_asarray_refuses_tensor_that_requires_grad():
    t = rg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(t)
    np.testing.assert_array_equal(np.asarray(t.detach()), np.ones(3, dtype=np.float32))
