"""Shared test helpers: NumPy references, optional PyTorch, float64 gradcheck."""

import numpy as np
import pytest
import rustgrad

try:  # PyTorch parity tests run only where torch is installed.
    import torch  # noqa: F401

    HAS_TORCH = True
except Exception:  # pragma: no cover - depends on the machine
    torch = None
    HAS_TORCH = False

requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


@pytest.fixture(autouse=True)
def _seed():
    rustgrad.manual_seed(0)
    np.random.seed(0)
    yield


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    a = actual.detach().numpy() if isinstance(actual, rustgrad.Tensor) else np.asarray(actual)
    e = expected.detach().numpy() if isinstance(expected, rustgrad.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True)


def gradcheck(fn, *shapes, low=-1.0, high=1.0, seed=0):
    """Finite-difference gradcheck of ``fn`` on fresh float64 inputs of the given shapes."""
    rng = np.random.default_rng(seed)
    xs = [rustgrad.tensor(rng.uniform(low, high, s), dtype=rustgrad.float64, requires_grad=True) for s in shapes]
    assert rustgrad.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-3)
