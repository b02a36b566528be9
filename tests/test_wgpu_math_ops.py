"""The math ops of issue 10 on the wgpu device against the CPU: the new unary and binary kernels
(values, special values, gradients), bitwise ops and shifts on int32/int64/uint8/bool (int64 as
two u32 words), and the composites built on them (Tensor.unfold views, einsum, F.unfold/F.fold,
lerp, diff, cummax) staying on the device."""

import math
import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()

if not HAS_WGPU and not REQUIRE:
    pytest.skip("no wgpu adapter (rustgrad.wgpu.is_available() is False)", allow_module_level=True)


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not HAS_WGPU:
        pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")


def _np(t):
    return t.detach().cpu().numpy()


UNARY = {
    "acos": (-0.95, 0.95), "asin": (-0.95, 0.95), "atan": (-4.0, 4.0), "acosh": (1.05, 6.0),
    "asinh": (-6.0, 6.0), "atanh": (-0.95, 0.95), "sinh": (-5.0, 5.0), "cosh": (-5.0, 5.0),
    "exp2": (-8.0, 8.0), "frac": (-5.0, 5.0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_on_wgpu_matches_cpu(name):
    lo, hi = UNARY[name]
    a = np.random.default_rng(0).uniform(lo, hi, (30, 41)).astype(np.float32)
    cpu = getattr(rg, name)(rg.tensor(a))
    x = rg.tensor(a, device="wgpu")
    dev = getattr(rg, name)(x)
    assert dev.device.type == "wgpu"
    np.testing.assert_allclose(_np(dev), _np(cpu), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(_np(getattr(x.t(), name)()), _np(cpu).T, rtol=2e-5, atol=2e-6)
    sp = [0.0, 1.0, -1.0, 2.0, -2.0, 1e9, -1e9, math.inf, -math.inf, math.nan, 100.0]
    want = _np(getattr(rg, name)(rg.tensor(sp)))
    got = _np(getattr(rg, name)(rg.tensor(sp, device="wgpu")))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients_on_wgpu(name):
    lo, hi = UNARY[name]
    a = np.random.default_rng(1).uniform(lo * 0.9, hi * 0.9, (5, 7)).astype(np.float32)
    grads = []
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a, device=device, requires_grad=True)
        getattr(rg, name)(x).sum().backward()
        grads.append(_np(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-5)


BINARY = {"atan2": True, "hypot": True, "copysign": True, "logaddexp": True, "logaddexp2": True, "xlogy": False}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_on_wgpu_matches_cpu(name):
    rng = np.random.default_rng(2)
    a = rng.uniform(-3, 3, (4, 1, 50)).astype(np.float32)
    b = rng.uniform(0.2, 3, (3, 1)).astype(np.float32)
    if BINARY[name]:
        b = b * rng.choice([-1, 1], (3, 1)).astype(np.float32)
    a[0, 0, :3] = 0.0
    outs, grads = [], []
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a, device=device, requires_grad=True)
        y = rg.tensor(b, device=device, requires_grad=True)
        r = getattr(rg, name)(x, y)
        assert r.device.type == device
        (r * r).sum().backward()
        outs.append(_np(r))
        grads.append((_np(x.grad), _np(y.grad)))
    np.testing.assert_allclose(outs[1], outs[0], rtol=2e-5, atol=2e-6)
    for g_dev, g_cpu in zip(grads[1], grads[0]):
        np.testing.assert_allclose(g_dev, g_cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_values_on_wgpu(name):
    sp = [0.0, -0.0, 1.0, -2.0, math.inf, -math.inf, math.nan, 1e30]
    a = [x for x in sp for _ in sp]
    b = [y for _ in sp for y in sp]
    want = _np(getattr(rg, name)(rg.tensor(a), rg.tensor(b)))
    got = _np(getattr(rg, name)(rg.tensor(a, device="wgpu"), rg.tensor(b, device="wgpu")))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("dtype", [rg.int32, rg.int64, rg.uint8])
def test_bitwise_on_wgpu_matches_cpu(dtype):
    rng = np.random.default_rng(3)
    lo = 0 if dtype is rg.uint8 else -(2**20)
    a = rng.integers(lo, 2**20 if dtype is not rg.uint8 else 256, (6, 40))
    if dtype is rg.int64:
        a = a * (2**33) + rng.integers(0, 2**31, a.shape)  # both words in play
    b = rng.integers(0, 2**8, (40,))
    s = rng.integers(-2, 70, (40,))
    ta = rg.tensor(a).to(dtype)
    tb, ts = rg.tensor(b).to(dtype), rg.tensor(s).to(dtype if dtype is not rg.uint8 else rg.uint8)
    da, db, ds = ta.to("wgpu"), tb.to("wgpu"), ts.to("wgpu")
    for op in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
        cpu = getattr(rg, op)(ta, ts if "shift" in op else tb)
        dev = getattr(rg, op)(da, ds if "shift" in op else db)
        assert dev.device.type == "wgpu" and dev.dtype is cpu.dtype
        np.testing.assert_array_equal(_np(dev), _np(cpu), err_msg=op)
    np.testing.assert_array_equal(_np(~da), _np(~ta))
    np.testing.assert_array_equal(_np(da & 5), _np(ta & 5))
    np.testing.assert_array_equal(_np(3 << db), _np(3 << tb))
    np.testing.assert_array_equal(_np(da.t() ^ 7), _np(ta.t() ^ 7))


def test_bool_bitwise_on_wgpu():
    a = np.random.default_rng(4).integers(0, 2, (5, 9)).astype(bool)
    b = np.random.default_rng(5).integers(0, 2, (9,)).astype(bool)
    da, db = rg.tensor(a, device="wgpu"), rg.tensor(b, device="wgpu")
    np.testing.assert_array_equal(_np(da & db), a & b)
    np.testing.assert_array_equal(_np(da | db), a | b)
    np.testing.assert_array_equal(_np(da ^ db), a ^ b)
    np.testing.assert_array_equal(_np(~da), ~a)
    with pytest.raises(NotImplementedError, match="\"lshift_cpu\" not implemented for 'Bool'"):
        da << db
    with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
        rg.ones(2, device="wgpu") & 1


def test_unfold_views_and_composites_on_wgpu():
    a = np.random.default_rng(6).normal(size=(2, 3, 6, 5)).astype(np.float32)
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a, device=device, requires_grad=True)
        u = x.unfold(2, 3, 2)
        assert u.device.type == device
        (u * u).sum().backward()
        if device == "cpu":
            cpu_u, cpu_g = _np(u), _np(x.grad)
        else:
            np.testing.assert_allclose(_np(u), cpu_u)
            np.testing.assert_allclose(_np(x.grad), cpu_g, rtol=1e-5, atol=1e-5)
    res = {}
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a, device=device, requires_grad=True)
        cols = F.unfold(x, (2, 3), padding=1, stride=(2, 1))
        img = F.fold(cols, (6, 5), (2, 3), padding=1, stride=(2, 1))
        w = rg.tensor(a[0, :, :2, :4].reshape(3, 8), device=device, requires_grad=True)
        e = rg.einsum("ck,nkl->ncl", w, cols[:, :8, :])
        (img.sum() + (e * e).sum()).backward()
        res[device] = (_np(cols), _np(img), _np(e), _np(x.grad), _np(w.grad))
    for got, want in zip(res["wgpu"], res["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_lerp_diff_cummax_on_wgpu():
    a = np.random.default_rng(7).normal(size=(4, 6)).astype(np.float32)
    e = np.random.default_rng(8).normal(size=(4, 6)).astype(np.float32)
    out = {}
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a, device=device)
        y = rg.tensor(e, device=device)
        vals = [rg.lerp(x, y, 0.3), rg.lerp(x, y, rg.tensor(np.full(6, 0.8, np.float32), device=device)),
                rg.diff(x, n=2, dim=1), rg.cummax(x, 1).values, rg.cummax(x, 1).indices]
        assert all(v.device.type == device for v in vals)
        out[device] = [_np(v) for v in vals]
    for got, want in zip(out["wgpu"], out["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
