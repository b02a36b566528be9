"""The implicit-GEMM convolution's exact integer-division variant (shaders/gemm_conv.wgsl with
FAST_DIV = false). Real problems take it only when an address index reaches 2^22 (too big for
lavapipe), so the test switch ``rustgrad.wgpu.force_exact_conv_division`` builds it for small
shapes: forward, input gradient and weight gradient must match the CPU, and match the f32
reciprocal variant bit for bit (the two differ only in how addresses are decomposed). Also
strides on both sides of the limit.

The limit itself (dividends just below 2^22 through the reciprocal) is checked exhaustively by
the Rust test `fast_divmod_is_exact_below_its_limit` (src/wgpu/tests.rs): a conv with 2^22 GEMM
columns takes lavapipe minutes.

Skips when no adapter exists, unless RUSTGRAD_REQUIRE_WGPU=1 (CI), which makes that a failure.
"""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"

if not rg.wgpu.is_available():
    if REQUIRE:
        raise RuntimeError("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
    pytest.skip("no wgpu adapter", allow_module_level=True)


@pytest.fixture
def exact():
    """Force the exact variant for one test, then restore the previous setting."""
    prev = rg.wgpu.force_exact_conv_division(True)
    yield
    rg.wgpu.force_exact_conv_division(prev)


def conv_and_grads(device, x, w, b, kw, conv=F.conv2d):
    xt = rg.tensor(x, device=device, requires_grad=True)
    wt = rg.tensor(w, device=device, requires_grad=True)
    bt = None if b is None else rg.tensor(b, device=device, requires_grad=True)
    y = conv(xt, wt, bt, **kw)
    up = np.random.default_rng(5).standard_normal(tuple(y.shape)).astype(np.float32)
    (y * rg.tensor(up, device=device)).sum().backward()
    out = [y.detach().cpu().numpy(), xt.grad.cpu().numpy(), wt.grad.cpu().numpy()]
    if bt is not None:
        out.append(bt.grad.cpu().numpy())
    return out


CASES = [
    # (x shape, w shape, stride, padding, dilation, groups, bias)
    ((2, 4, 9, 11), (6, 4, 3, 3), 2, 1, 1, 1, True),
    ((2, 4, 10, 9), (6, 2, 3, 2), 1, 2, 2, 2, False),
    ((1, 6, 13, 12), (6, 1, 3, 3), 2, (2, 1), (1, 2), 6, True),
    ((3, 3, 7, 7), (5, 3, 1, 1), 1, 0, 1, 1, False),
    ((1, 8, 17, 19), (8, 4, 5, 3), (3, 2), (2, 3), (2, 1), 2, True),
    # More output columns than one 64-wide tile, and a weight gradient long enough (K = n * oh *
    # ow > 512) to split K.
    ((4, 3, 30, 30), (7, 3, 3, 3), 1, 1, 1, 1, True),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation,groups,bias", CASES)
def test_exact_division_matches_cpu_and_fast_variant(xs, ws, stride, padding, dilation, groups, bias):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32) if bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    cpu = conv_and_grads("cpu", x, w, b, kw)
    fast = conv_and_grads("wgpu", x, w, b, kw)
    prev = rg.wgpu.force_exact_conv_division(True)
    try:
        exact = conv_and_grads("wgpu", x, w, b, kw)
    finally:
        rg.wgpu.force_exact_conv_division(prev)
    for name, c, f, e in zip(["y", "dx", "dw", "db"], cpu, fast, exact):
        np.testing.assert_allclose(e, c, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(e, f, err_msg=name)


def test_switch_builds_the_exact_variant():
    """The switch reaches the pipeline key: a conv warm in the fast variant compiles exactly one
    new pipeline under the switch (its exact twin; the "big" tile, which no other test here
    uses, keeps that true whatever ran before), none when run again, and the setting is
    reported back."""
    rng = np.random.default_rng(0)
    x = rg.tensor(rng.standard_normal((1, 2, 6, 5)).astype(np.float32), device="wgpu")
    w = rg.tensor(rng.standard_normal((3, 2, 2, 2)).astype(np.float32), device="wgpu")
    b = rg.tensor(rng.standard_normal(3).astype(np.float32), device="wgpu")

    def compiles():
        rg.wgpu.synchronize()
        before = rg.wgpu.stats()["pipelines_compiled"]
        y = F.conv2d(x, w, b, padding=1, dilation=2).cpu().numpy()
        return rg.wgpu.stats()["pipelines_compiled"] - before, y

    variant = rg.wgpu.matmul_variant("big")
    try:
        compiles()
        n0, y_fast = compiles()
        prev = rg.wgpu.force_exact_conv_division(True)
        try:
            assert rg.wgpu.force_exact_conv_division(True) is True
            n1, y_exact = compiles()
            n2, _ = compiles()
        finally:
            rg.wgpu.force_exact_conv_division(prev)
    finally:
        rg.wgpu.matmul_variant(variant)
    assert (n0, n1, n2) == (0, 1, 0)
    np.testing.assert_array_equal(y_exact, y_fast)


def test_conv1d_exact(exact):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 40)).astype(np.float32)
    w = rng.standard_normal((6, 2, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    kw = dict(stride=3, padding=4, dilation=2, groups=2)
    cpu = conv_and_grads("cpu", x, w, b, kw, conv=F.conv1d)
    dev = conv_and_grads("wgpu", x, w, b, kw, conv=F.conv1d)
    for name, c, d in zip(["y", "dx", "dw", "db"], cpu, dev):
        np.testing.assert_allclose(d, c, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("stride", [2**22 - 1, 2**22, 2**31 - 1])
def test_huge_stride(stride):
    """Strides on both sides of the fast variant's limit (the input gradient divides by them; the
    host sends a stride of 2^22 or more to the exact variant) up to the largest the window
    kernels take: one output position per plane, so the gradient lands on the window at the
    origin only."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((2, 3, 2, 3)).astype(np.float32)
    kw = dict(stride=stride, padding=1)
    cpu = conv_and_grads("cpu", x, w, None, kw)
    dev = conv_and_grads("wgpu", x, w, None, kw)
    assert cpu[0].shape == (2, 2, 1, 1)
    for name, c, d in zip(["y", "dx", "dw"], cpu, dev):
        np.testing.assert_allclose(d, c, rtol=1e-4, atol=1e-5, err_msg=name)

