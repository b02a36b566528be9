"""Legacy constructors (FloatTensor, LongTensor, ...): construction, isinstance, Tensor.type()."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import requires_torch, torch

TYPES = [
    ("FloatTensor", rg.float32), ("DoubleTensor", rg.float64), ("LongTensor", rg.int64),
    ("IntTensor", rg.int32), ("BoolTensor", rg.bool), ("ByteTensor", rg.uint8),
]


@pytest.mark.parametrize("name,dtype", TYPES)
def test_constructs_from_sizes_data_and_tensors(name, dtype):
    T = getattr(rg, name)
    assert T.dtype == dtype and T.is_cuda is False
    t = T(2, 3)
    assert t.shape == (2, 3) and t.dtype == dtype
    assert T(rg.Size([4, 1])).shape == (4, 1)
    assert T().shape == (0,)
    data = T([[1, 0], [3, 1]])
    assert data.dtype == dtype
    np.testing.assert_array_equal(data.numpy(), np.array([[1, 0], [3, 1]]).astype(data.numpy().dtype))
    assert T(np.array([1, 0, 1])).dtype == dtype
    same = rg.zeros(3, dtype=dtype)
    alias = T(same)
    assert alias is not same and alias.dtype == dtype
    assert alias.data_ptr() == same.data_ptr()  # shares storage, as PyTorch


def test_value_conversion():
    np.testing.assert_array_equal(rg.LongTensor([1.7, 2.0]).numpy(), [1, 2])
    np.testing.assert_array_equal(rg.BoolTensor([0, 2]).numpy(), [False, True])
    np.testing.assert_array_equal(rg.FloatTensor((2, 3)).numpy(), [2.0, 3.0])  # a tuple is data


@pytest.mark.parametrize("name,dtype", TYPES)
def test_isinstance_by_dtype(name, dtype):
    T = getattr(rg, name)
    assert isinstance(rg.zeros(2, dtype=dtype), T)
    others = [d for _, d in TYPES if d != dtype]
    assert not any(isinstance(rg.zeros(2, dtype=d), T) for d in others)
    assert not isinstance(np.zeros(2), T)
    assert not issubclass(T, rg.Tensor)  # as in PyTorch
    assert repr(T) == f"<class 'torch.{name}'>"


def test_parameter_isinstance_and_type_names():
    p = rg.nn.Parameter(rg.ones(2))
    assert isinstance(p, rg.FloatTensor)
    assert rg.ones(2).type() == "torch.FloatTensor"
    assert rg.ones(2, dtype=rg.int64).type() == "torch.LongTensor"
    assert rg.ones(2).type(rg.LongTensor).dtype == rg.int64
    assert rg.ones(2).type("torch.DoubleTensor").dtype == rg.float64


def test_errors():
    with pytest.raises(TypeError, match=r"expected TensorOptions\(dtype=float, .*\(got TensorOptions\(dtype=long int"):
        rg.FloatTensor(rg.ones(2, dtype=rg.int64))
    with pytest.raises(TypeError, match=r"new\(\): data must be a sequence \(got float\)"):
        rg.FloatTensor(2.5)
    with pytest.raises(TypeError, match="new\\(\\): invalid data type 'str'"):
        rg.FloatTensor("a")
    with pytest.raises(TypeError, match="new\\(\\) received an invalid combination of arguments"):
        rg.FloatTensor([1, 2], dtype=rg.float64)
    with pytest.raises(TypeError, match="failed to unpack the object at pos 2"):
        rg.FloatTensor(2, 3.0)
    with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -1: \[-1\]"):
        rg.FloatTensor(-1)
    with pytest.raises(RuntimeError, match="legacy constructor expects device type: cpu but device type: cuda"):
        rg.FloatTensor(2, device="cuda")


@requires_torch
def test_matches_torch_behaviour():
    for name, _ in TYPES:
        ours, theirs = getattr(rg, name), getattr(torch, name)
        assert repr(ours) == repr(theirs)
        assert str(ours.dtype) == str(theirs.dtype)
        for data in ([1, 0, 2], [[1.5, 0.0]], np.arange(3)):
            np.testing.assert_array_equal(ours(data).numpy(), theirs(data).numpy())
        assert tuple(ours(3, 2).shape) == tuple(theirs(3, 2).shape)
    for bad in (2.5, "a"):
        with pytest.raises(TypeError) as e1:
            rg.FloatTensor(bad)
        with pytest.raises(TypeError) as e2:
            torch.FloatTensor(bad)
        assert str(e1.value) == str(e2.value)
    with pytest.raises(TypeError) as e1:
        rg.FloatTensor(rg.ones(2, dtype=rg.int64))
    with pytest.raises(TypeError) as e2:
        torch.FloatTensor(torch.ones(2, dtype=torch.int64))
    assert str(e1.value) == str(e2.value)
