"""Integer and bool tensors on the wgpu device: every cast between device dtypes, int32/int64/
uint8/bool arithmetic, comparisons, where, sums (int64, as PyTorch) and max/min, fills and
strided copies, each against the same op on the CPU (the reference). int64 is two 32-bit words on
the device; the values here cross the 32-bit boundary so a lost carry or sign would show."""

import os

import numpy as np
import pytest
import rustgrad as rg

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not HAS_WGPU:
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


DTYPES = {"float32": rg.float32, "int32": rg.int32, "int64": rg.int64, "uint8": rg.uint8, "bool": rg.bool}
WIDE = [2**40 + 3, -(2**40) + 7, 2**31, -(2**31) - 1, 2**32 - 1, 9223372036854775807, -9223372036854775808]


def values(dtype, n=300):
    """`n` values of `dtype` (crossing a 256-thread workgroup), with the interesting edges."""
    rng = np.random.default_rng(n)
    if dtype == "float32":
        v = rng.uniform(-300, 300, n).astype(np.float32)
        v[:8] = [0.0, -0.0, 1.5, -2.5, 255.9, -1e10, 1e12, np.nan]
    elif dtype == "int64":
        v = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
        v[: len(WIDE)] = WIDE
        v[len(WIDE) : len(WIDE) + 3] = [0, 1, -1]
    elif dtype == "int32":
        v = rng.integers(-(2**31), 2**31 - 1, n, dtype=np.int64).astype(np.int32)
        v[:4] = [0, 1, -1, -(2**31)]
    elif dtype == "uint8":
        v = rng.integers(0, 256, n).astype(np.uint8)
    else:
        v = rng.integers(0, 2, n).astype(bool)
    return rg.tensor(v)


def same(gpu_result, cpu_result):
    assert gpu_result.device.type == "wgpu"
    assert gpu_result.dtype == cpu_result.dtype
    assert gpu_result.shape == cpu_result.shape
    np.testing.assert_array_equal(gpu_result.cpu().numpy(), cpu_result.numpy())


@pytest.mark.parametrize("src", list(DTYPES))
@pytest.mark.parametrize("dst", list(DTYPES))
def test_every_cast_matches_the_cpu(src, dst):
    x = values(src)
    if src == "float32" and dst in ("int32", "int64", "uint8"):
        # NaN and floats the target cannot hold have no agreed integer: PyTorch's CPU cast gives
        # the x86 result (INT_MIN for NaN/out of int32 range, then the low bits: -2.5 -> uint8
        # 254), which the CPU here follows; the wgpu cast saturates. Compare the values both
        # define.
        x = x[x.isfinite() & (x.abs() < 2**31)]
        if dst == "uint8":
            x = x[(x > -1) & (x < 256)]
    same(x.to("wgpu").to(DTYPES[dst]), x.to(DTYPES[dst]))


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_strided_copies_and_round_trip(dtype):
    x = values(dtype, 360).reshape(12, 30)
    g = x.to("wgpu")
    same(g, x)
    same(g.t().contiguous(), x.t().contiguous())
    same(g[::2, 5:17].t().contiguous(), x[::2, 5:17].t().contiguous())
    y = rg.zeros(30, 12, dtype=DTYPES[dtype], device="wgpu")
    y.copy_(g.t())
    same(y, x.t().contiguous())


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "maximum", "minimum"])
def test_integer_arithmetic_wraps_like_the_cpu(dtype, op):
    a, b = values(dtype, 300), values(dtype, 301)[:300].flip(0)
    f = getattr(rg, op)
    same(f(a.to("wgpu"), b.to("wgpu")), f(a, b))
    # Broadcasting against a row and against a CPU scalar.
    a2 = a.reshape(30, 10)
    same(f(a2.to("wgpu"), b[:10].to("wgpu")), f(a2, b[:10]))
    same(f(a2.to("wgpu"), rg.tensor(3, dtype=DTYPES[dtype])), f(a2, rg.tensor(3, dtype=DTYPES[dtype])))


def test_int64_products_keep_every_bit():
    a = rg.tensor([2**31 + 12345, -(2**33) - 1, 3037000499, -3037000499, 2**62, 7])
    b = rg.tensor([2**31 - 1, 2**29 + 3, 3037000499, 3037000500, 4, -(2**60)])
    same(a.to("wgpu") * b.to("wgpu"), a * b)


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons(dtype, op):
    a = values(dtype, 300)
    b = a.flip(0).clone()
    b[::3] = a[::3]  # equal elements too
    f = getattr(rg, op)
    same(f(a.to("wgpu"), b.to("wgpu")), f(a, b))


def test_mixed_dtype_comparison_promotes():
    labels = rg.tensor([3, 1, 2**33, 0])
    pred = rg.tensor([3, 2, 0, 0], dtype=rg.int32)
    same(labels.to("wgpu") == pred.to("wgpu"), labels == pred)
    same(labels.to("wgpu") < 2.5, labels < 2.5)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_where_any_dtype(dtype):
    a, b = values(dtype, 300), values(dtype, 301)[:300]
    cond = values("bool", 300)
    same(rg.where(cond.to("wgpu"), a.to("wgpu"), b.to("wgpu")), rg.where(cond, a, b))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_sums_are_int64_and_exact(dtype):
    x = values(dtype, 600).reshape(20, 30)
    g = x.to("wgpu")
    same(g.sum(), x.sum())
    same(g.sum(0), x.sum(0))
    same(g.sum(1, keepdim=True), x.sum(1, keepdim=True))
    same(g.t().sum(0), x.t().sum(0))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_amax_amin(dtype):
    x = values(dtype, 600).reshape(20, 30)
    g = x.to("wgpu")
    for f in (rg.amax, rg.amin):
        same(f(g, 1), f(x, 1))
        same(f(g, (0, 1)), f(x, (0, 1)))


def test_accuracy_idiom_stays_on_the_device():
    out = rg.tensor(np.random.default_rng(0).normal(size=(300, 10)).astype(np.float32))
    target = rg.tensor(np.random.default_rng(1).integers(0, 10, 300))
    pred_cpu = out.amax(1, keepdim=True) == out
    g = out.to("wgpu")
    pred = g.amax(1, keepdim=True) == g
    same(pred, pred_cpu)
    hits = (pred.long() * rg.arange(10).to("wgpu")).sum(1)
    same(hits.eq(target.to("wgpu")).sum(), (pred_cpu.long() * rg.arange(10)).sum(1).eq(target).sum())
    assert hits.eq(target.to("wgpu")).sum().item() == (pred_cpu.long() * rg.arange(10)).sum(1).eq(target).sum().item()


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_integer_unary_ops(dtype):
    x = values(dtype, 300)
    g = x.to("wgpu")
    for name in ("abs", "square", "floor", "ceil", "round", "trunc", "sign", "relu", "neg"):
        f = getattr(rg, name, None)
        if f is None:
            continue
        try:
            want = f(x)
        except (RuntimeError, TypeError) as e:
            with pytest.raises(type(e)):
                f(g)
            continue
        same(f(g), want)
    same(rg.clamp(g, -5, 100) if dtype != "bool" else g, rg.clamp(x, -5, 100) if dtype != "bool" else x)
    # Float-valued ops compute in float32, as on the CPU.
    e = rg.exp(g.float().clamp(-5, 5))
    assert e.device.type == "wgpu" and e.dtype == rg.float32
    np.testing.assert_allclose(e.cpu().numpy(), rg.exp(x.float().clamp(-5, 5)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_fill_and_factories(dtype):
    dt = DTYPES[dtype]
    v = {"float32": -2.5, "int32": -7, "int64": -(2**40) - 9, "uint8": 200, "bool": True}[dtype]
    same(rg.full((5, 70), v, dtype=dt, device="wgpu"), rg.full((5, 70), v, dtype=dt))
    same(rg.zeros(3, 90, dtype=dt, device="wgpu"), rg.zeros(3, 90, dtype=dt))
    g = rg.zeros(6, 50, dtype=dt, device="wgpu")
    c = rg.zeros(6, 50, dtype=dt)
    g[:, ::3].fill_(v)
    c[:, ::3].fill_(v)
    same(g, c)


def test_int64_item_and_printing():
    x = rg.tensor([2**40 + 1, -3])
    g = x.to("wgpu")
    assert g[0].item() == 2**40 + 1
    assert g.tolist() == x.tolist()
    assert repr(g) == repr(x)[:-1] + ", device='wgpu:0')"
