"""Dtype inference, promotion, casts, integer division semantics and wrapping overflow."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import requires_torch, torch


@pytest.mark.parametrize(
    "data,dtype",
    [([1, 2], rg.int64), ([1, 2.5], rg.float32), ([True, False], rg.bool), ([True, 2], rg.int64),
     (3, rg.int64), (3.5, rg.float32), (np.array([1.0]), rg.float64), (np.array([1], dtype=np.int32), rg.int32)],
)
def test_inference(data, dtype):
    assert rg.tensor(data).dtype == dtype


PROMO = [
    (rg.int64, rg.float32, rg.float32), (rg.float32, rg.float64, rg.float64), (rg.int32, rg.int64, rg.int64),
    (rg.bool, rg.int64, rg.int64), (rg.bool, rg.bool, rg.bool), (rg.uint8, rg.int32, rg.int32),
    (rg.bool, rg.float32, rg.float32), (rg.uint8, rg.float64, rg.float64),
]


@pytest.mark.parametrize("a,b,out", PROMO)
def test_promotion(a, b, out):
    x, y = rg.ones(2, dtype=a), rg.ones(2, dtype=b)
    assert (x + y).dtype == out and (y * x).dtype == out
    assert rg.promote_types(a, b) == out


def test_scalars_and_zero_dim():
    assert (rg.tensor([1, 2]) * 2.5).dtype == rg.float32
    assert (rg.tensor([1.0]) + 1e-3).dtype == rg.float32
    assert (rg.tensor([1], dtype=rg.int32) + 5).dtype == rg.int32
    assert (rg.tensor(1.0, dtype=rg.float64) + rg.tensor([1.0])).dtype == rg.float32
    assert (rg.tensor(1.5) + rg.tensor([1])).dtype == rg.float32
    assert (rg.tensor(1) + rg.tensor([1], dtype=rg.int32)).dtype == rg.int32
    assert (rg.tensor([True]) + 1).dtype == rg.int64


def test_division_semantics():
    a, b = rg.tensor([7, -7, 7, -7]), rg.tensor([2, 2, -2, -2])
    q = a / b
    assert q.dtype == rg.float32 and q.tolist() == [3.5, -3.5, -3.5, 3.5]
    assert (a // b).tolist() == [3, -4, -4, 3]
    assert (a % b).tolist() == [1, 1, -1, -1]
    assert (a.float() % b.float()).tolist() == [1.0, 1.0, -1.0, -1.0]
    assert (a.float() // b.float()).tolist() == [3.0, -4.0, -4.0, 3.0]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        rg.tensor([1]) // rg.tensor([0])


def test_pow_int():
    assert (rg.tensor([2, 3]) ** 2).tolist() == [4, 9]
    assert (rg.tensor([4]) ** 0.5).dtype == rg.float32
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        rg.tensor([2, 3]) ** -1


def test_casts():
    x = rg.tensor([1.7, -1.7])
    assert x.long().tolist() == [1, -1] and x.int().dtype == rg.int32
    assert x.double().dtype == rg.float64 and x.double().float().dtype == rg.float32
    assert rg.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert rg.tensor([1, 2]).type_as(rg.tensor([1.0])).dtype == rg.float32
    assert x.to(rg.float64).dtype == rg.float64 and x.to(dtype=rg.int32).dtype == rg.int32
    assert x.to("cpu") is x or x.to("cpu").data_ptr() == x.data_ptr()
    assert x.to(rg.tensor([1])).dtype == rg.int64


def test_overflow_wraps():
    assert (rg.tensor([2**62]) * rg.tensor([4])).tolist() == [0]
    assert (rg.tensor([2**30], dtype=rg.int32) * 4).tolist() == [0]
    assert (rg.tensor([255], dtype=rg.uint8) + 1).tolist() == [0]
    assert int(rg.tensor([2**62 + 1])) == 2**62 + 1


def test_finfo_iinfo():
    assert rg.finfo(rg.float32).eps == float(np.finfo(np.float32).eps)
    assert rg.iinfo(rg.int32).max == 2**31 - 1
    assert rg.float64.is_floating_point and not rg.int32.is_floating_point


@requires_torch
def test_promotion_parity():
    names = ["bool", "uint8", "int32", "int64", "float32", "float64"]
    for a in names:
        for b in names:
            x = rg.ones(2, dtype=getattr(rg, a)) + rg.ones(2, dtype=getattr(rg, b))
            y = torch.ones(2, dtype=getattr(torch, a)) + torch.ones(2, dtype=getattr(torch, b))
            assert repr(x.dtype) == repr(y.dtype), (a, b)
