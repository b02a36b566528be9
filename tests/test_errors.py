"""Bad inputs raise PyTorch's exception types instead of crashing."""

import pytest
import rustgrad as rg


@pytest.mark.parametrize("n", [2**40, 2**62])
def test_absurd_sizes(n):
    with pytest.raises(RuntimeError):
        rg.empty(n)
    with pytest.raises(RuntimeError):
        rg.zeros(2**32, 2**32)


def test_negative_dims():
    with pytest.raises(RuntimeError, match="negative"):
        rg.empty(-1)
    with pytest.raises(RuntimeError):
        rg.zeros(2, -3)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        rg.zeros(6).view(-1, -1)


def test_bad_ops_name_shapes():
    with pytest.raises(RuntimeError, match=r"\(3\).*\(4\)|\(4\).*\(3\)"):
        rg.zeros(3) + rg.zeros(4)
    with pytest.raises(IndexError, match="Dimension out of range"):
        rg.zeros(2).unsqueeze(3)
    with pytest.raises(RuntimeError):
        rg.arange(6).narrow(0, 5, 3)
    with pytest.raises((RuntimeError, NotImplementedError)):
        -rg.tensor([True])
    with pytest.raises(TypeError):
        rg.zeros(2) + "a"


def test_zero_size_and_nan_dont_crash():
    z = rg.zeros(0, 3)
    assert (z * 2 + 1).exp().shape == (0, 3) and z.t().contiguous().shape == (3, 0)
    x = rg.tensor([float("nan"), float("inf")])
    assert x.long().dtype == rg.int64 and (x // 2).shape == (2,)


def test_grad_assign_checks():
    x = rg.tensor([1.0])
    with pytest.raises(RuntimeError):
        x.grad = rg.zeros(2)
