"""matmul / @ and its special cases, linear: NumPy forward references, gradcheck, errors."""

import numpy as np
import pytest
import rustgrad as torch
import rustgrad._nn_native as F
from conftest import assert_close, gradcheck

SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
          ((2, 3), (4, 3, 5)), ((2, 1, 2, 3), (3, 3, 2)), ((4, 2, 3), (4, 3, 2)), ((3,), (2, 3, 4)),
          ((2, 2, 3), (3,)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_matmul_forward(sa, sb, dtype):
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, sa) if dtype == torch.int64 else rng.standard_normal(sa)
    b = rng.integers(-3, 4, sb) if dtype == torch.int64 else rng.standard_normal(sb)
    ta, tb = torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype)
    r = ta @ tb
    assert r.dtype == dtype
    assert tuple(r.shape) == np.matmul(a, b).shape
    assert_close(r, np.matmul(a, b), rtol=1e-5, atol=1e-5)


def test_matmul_noncontiguous():
    a = np.random.default_rng(1).standard_normal((4, 3))
    b = np.random.default_rng(2).standard_normal((5, 4))
    r = torch.tensor(a).t() @ torch.tensor(b).t()
    assert_close(r, a.T @ b.T)


@pytest.mark.parametrize("sa,sb", [s for s in SHAPES if 0 not in s[0] + s[1]])
def test_matmul_grad(sa, sb):
    gradcheck(torch.matmul, sa, sb)


def test_named_products():
    rng = np.random.default_rng(3)
    a, b, v = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    assert_close(torch.mm(torch.tensor(a), torch.tensor(b)), a @ b)
    assert_close(torch.mv(torch.tensor(a), torch.tensor(v)), a @ v)
    assert_close(torch.dot(torch.tensor(v), torch.tensor(v)), v @ v)
    assert_close(torch.outer(torch.tensor(v), torch.tensor(v)), np.outer(v, v))
    c = rng.standard_normal((2, 4))
    assert_close(torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=0.5, alpha=2), 0.5 * c + 2 * a @ b)
    x, y = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 4))
    assert_close(torch.bmm(torch.tensor(x), torch.tensor(y)), x @ y)
    assert_close(torch.linalg.matmul(torch.tensor(x), torch.tensor(y)), x @ y)


def test_linear():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    assert_close(F.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)), x @ w.T + b)
    assert_close(F.linear(torch.tensor(x), torch.tensor(w)), x @ w.T)
    gradcheck(F.linear, (2, 3), (4, 3), (4,))
    gradcheck(F.linear, (2, 2, 3), (4, 3), (4,))


def test_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        torch.ones(2, 3) @ torch.ones(4, 5)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        torch.matmul(torch.tensor(1.0), torch.ones(3))
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: float != double"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        torch.ones(3) @ torch.ones(4)
    with pytest.raises(RuntimeError):
        torch.mm(torch.ones(3), torch.ones(3, 2))
