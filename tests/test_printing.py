"""repr/str of tensors, sizes, dtypes and devices in PyTorch's format."""

import pytest
import rustgrad as rg
from conftest import requires_torch, torch

CASES = [
    ("tensor([1.0, 2.5])", "tensor([1.0000, 2.5000])"),
    ("tensor([1., 2.])", "tensor([1., 2.])"),
    ("tensor([0.5, 1.5, 2.5, -0.5]).round()", "tensor([0., 2., 2., -0.])"),
    ("tensor([1e-8, 1e5])", "tensor([1.0000e-08, 1.0000e+05])"),
    ("tensor([[1, -20], [300, 4]])", "tensor([[  1, -20],\n        [300,   4]])"),
    ("tensor([True, False])", "tensor([ True, False])"),
    ("tensor([True, True])", "tensor([True, True])"),
    ("tensor([1., 2.], dtype=rg.float64)", "tensor([1., 2.], dtype=torch.float64)"),
    ("tensor([1, 2], dtype=rg.int32)", "tensor([1, 2], dtype=torch.int32)"),
    ("tensor([1., 2.], requires_grad=True)", "tensor([1., 2.], requires_grad=True)"),
    ("tensor(3.5)", "tensor(3.5000)"),
    ("tensor(3)", "tensor(3)"),
    ("tensor([])", "tensor([])"),
    ("zeros(0, 3)", "tensor([], size=(0, 3))"),
    ("zeros(0, dtype=rg.int64)", "tensor([], dtype=torch.int64)"),
    ("tensor([float('nan'), 1.])", "tensor([nan, 1.])"),
]


@pytest.mark.parametrize("expr,expected", CASES)
def test_repr(expr, expected):
    assert repr(eval("rg." + expr)) == expected


def test_grad_fn_suffix_and_str():
    x = rg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert str(rg.tensor([1.5])) == "tensor([1.5000])"


def test_summarised():
    r = repr(rg.arange(2000.0))
    assert "..." in r and r.count("\n") < 5
    assert repr(rg.arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"


def test_size_dtype_device_repr():
    assert repr(rg.zeros(2, 3).shape) == "torch.Size([2, 3])"
    assert repr(rg.zeros(()).shape) == "torch.Size([])"
    assert repr(rg.float32) == "torch.float32"
    assert repr(rg.device("cpu")) == "device(type='cpu')"
    assert str(rg.zeros(1).device) == "cpu"


@requires_torch
@pytest.mark.parametrize(
    "data",
    [[1e10, 1.0], [0.0001, 1.0], [-1.0, 2.0], [float("inf"), -float("inf"), 1.5], list(range(0, 3000, 1)),
     [[1.5, -2.25], [100.0, 3.0]]],
)
def test_repr_matches_torch(data):
    assert repr(rg.tensor(data, dtype=rg.float32)) == repr(torch.tensor(data, dtype=torch.float32))
    big = [[float(i * 100 + j) for j in range(100)] for i in range(100)]
    assert repr(rg.tensor(big)) == repr(torch.tensor(big))
