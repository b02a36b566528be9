"""Creation functions, views (memory sharing), strides and devices."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import assert_close


def test_tensor_from_data():
    assert rg.tensor([[1, 2], [3, 4.0]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert rg.tensor([[], []]).shape == (2, 0)
    t = rg.tensor([1.0, 2.0])
    c = rg.tensor(t)
    c.add_(1)
    assert t.tolist() == [1.0, 2.0]
    with pytest.raises((ValueError, TypeError)):
        rg.tensor([[1, 2], [3]])
    assert rg.tensor([1.0], requires_grad=True).requires_grad


def test_memory_sharing():
    a = np.zeros(3, dtype=np.float32)
    t = rg.from_numpy(a)
    a[0] = 5
    t[1:2].fill_(7) if hasattr(t, "__getitem__") else t.narrow(0, 1, 1).fill_(7)
    assert t.tolist()[0] == 5.0 and a[1] == 7
    u = rg.as_tensor(a)
    u.fill_(1)
    assert a.tolist() == [1, 1, 1]
    n = t.numpy()
    n[2] = 9
    assert t.tolist()[2] == 9


def test_creation():
    assert rg.zeros(2, 3).shape == (2, 3) and rg.ones((2,)).tolist() == [1.0, 1.0]
    assert rg.full((2,), 3).dtype == rg.int64 and rg.full((2,), 3.0).dtype == rg.float32
    assert rg.full((1,), True).dtype == rg.bool
    assert rg.empty(2, 3).shape == (2, 3)
    assert rg.arange(5).tolist() == [0, 1, 2, 3, 4] and rg.arange(5).dtype == rg.int64
    assert rg.arange(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75]
    assert rg.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert_close(rg.arange(1.0, 0.0, -0.3), np.arange(1.0, 0.0, -0.3, dtype=np.float32))
    with pytest.raises(RuntimeError):
        rg.arange(0, 5, 0)
    assert_close(rg.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert rg.linspace(0, 1, 1).tolist() == [0.0]
    assert rg.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    x = rg.tensor([1, 2], dtype=rg.int32)
    for f in (rg.zeros_like, rg.ones_like, rg.empty_like, rg.rand_like if False else rg.zeros_like):
        y = f(x)
        assert y.dtype == rg.int32 and y.shape == (2,)
    assert rg.full_like(x, 7).tolist() == [7, 7]
    assert rg.zeros(2, requires_grad=True).requires_grad


def test_random_reproducible():
    for f in (lambda: rg.rand(3), lambda: rg.randn(3), lambda: rg.randint(0, 10, (3,)),
              lambda: rg.normal(0.0, 1.0, (3,))):
        rg.manual_seed(3)
        a = f()
        rg.manual_seed(3)
        assert a.tolist() == f().tolist()
    assert rg.randint(0, 10, (3,)).dtype == rg.int64
    r = rg.rand(1000)
    assert 0 <= r.min().item() and r.max().item() < 1


def test_views_share_memory():
    base = rg.arange(6.0)
    v = base.view(2, 3)
    v.t().narrow(0, 1, 1).fill_(-1)
    assert base.tolist() == [0, -1, 2, 3, -1, 5]
    r = base.view(2, 3).t().reshape(6)  # not viewable -> copy
    r.fill_(0)
    assert base.tolist()[0] == 0 and base.tolist()[1] == -1
    w = base.reshape(3, 2)  # viewable -> shares
    w.zero_()
    assert base.tolist() == [0.0] * 6
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        rg.zeros(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        rg.zeros(6).view(4, 2)


def test_shape_ops():
    x = rg.zeros(2, 3, 4)
    assert x.permute(2, 0, 1).stride() == (1, 12, 4) and x.stride(-1) == 1
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert rg.zeros(2, 3).T.shape == (3, 2) and rg.zeros(3).t().shape == (3,)
    assert rg.zeros(3, 1).expand(2, 3, 4).stride() == (0, 1, 0)
    assert rg.zeros(3, 1).expand(-1, 4).shape == (3, 4)
    assert rg.broadcast_to(rg.zeros(3, 1), (3, 4)).shape == (3, 4)
    y = rg.zeros(1, 2, 1)
    assert y.squeeze().shape == (2,) and y.squeeze(1).shape == (1, 2, 1) and y.squeeze(-1).shape == (1, 2)
    assert rg.zeros(2).unsqueeze(-1).shape == (2, 1)
    assert x.flatten(1).shape == (2, 12) and x.flatten().shape == (24,)
    assert rg.zeros(2, 12).unflatten(1, (3, -1)).shape == (2, 3, 4)
    n = rg.arange(6).narrow(0, 2, 3)
    assert n.tolist() == [2, 3, 4] and n.storage_offset() == 2
    t = rg.zeros(2, 3).t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous() and t.contiguous().stride() == (2, 1)
    with pytest.raises(RuntimeError):
        rg.zeros(3, 2).expand(3, 4)
    with pytest.raises(RuntimeError):
        rg.zeros(2, 3, 4).t()
    with pytest.raises(IndexError):
        rg.zeros(2, 3).transpose(0, 5)
    with pytest.raises(RuntimeError):
        rg.zeros(2, 3).permute(0, 0)


def test_devices():
    assert rg.cuda.is_available() is False and rg.backends.mps.is_available() is False
    d = rg.device("cpu")
    assert d.type == "cpu" and rg.zeros(1).device == d
    x = rg.ones(2)
    assert x.to("cpu").tolist() == [1, 1] and x.to(d).device == d
    assert x.to(d, rg.float64).dtype == rg.float64
    with pytest.raises(RuntimeError):
        rg.zeros(2, device="cuda")


def test_attributes():
    x = rg.zeros(2, 3)
    assert x.numel() == 6 and x.dim() == 2 and x.ndim == 2 and x.size(1) == 3 and x.size() == (2, 3)
    assert x.element_size() == 4 and not rg.zeros(1, dtype=rg.int32).is_floating_point()
    assert rg.is_tensor(x) and rg.numel(x) == 6 and len(x) == 2
    with pytest.raises(IndexError):
        x.size(-3)
