"""float16, bfloat16, int8 and int16 on the CPU: dtype objects and limits, promotion (a table
against torch.result_type), conversions (round-to-nearest-even, torch's float->int wrap rules),
printing, NumPy interop, serialization both ways with torch, arithmetic computed in float32 and
rounded once, integer wraparound, and autograd through half tensors."""

import itertools

import numpy as np
import pytest
import rustgrad as rg
from conftest import gradcheck, requires_torch, torch

NEW = {"float16": rg.float16, "bfloat16": rg.bfloat16, "int8": rg.int8, "int16": rg.int16}
ALL = {**NEW, "bool": rg.bool, "uint8": rg.uint8, "int32": rg.int32, "int64": rg.int64,
       "float32": rg.float32, "float64": rg.float64}
HALF = ["float16", "bfloat16"]


def tdt(name):
    return getattr(torch, name)


def bf16_round(x):
    """float32 values rounded to bfloat16 (nearest, ties to even), as float32: the reference."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = (b + 0x7FFF + ((b >> 16) & 1)) >> 16 << 16
    return r.astype(np.uint32).view(np.float32)


# ------------------------------------------------------------------------------ dtype objects
def test_dtype_objects():
    assert rg.half is rg.float16 and rg.short is rg.int16
    assert repr(rg.float16) == "torch.float16" and repr(rg.bfloat16) == "torch.bfloat16"
    assert repr(rg.int8) == "torch.int8" and repr(rg.int16) == "torch.int16"
    assert [rg.float16.itemsize, rg.bfloat16.itemsize, rg.int8.itemsize, rg.int16.itemsize] == [2, 2, 1, 2]
    assert rg.float16.is_floating_point and rg.bfloat16.is_floating_point
    assert not rg.int8.is_floating_point and rg.int8.is_signed and rg.int16.is_signed
    assert rg.bfloat16.is_signed


@requires_torch
@pytest.mark.parametrize("name", sorted(NEW))
def test_dtype_attributes_match_torch(name):
    d, t = NEW[name], tdt(name)
    assert (repr(d), d.itemsize, d.is_floating_point, d.is_signed) == (repr(t), t.itemsize, t.is_floating_point,
                                                                       t.is_signed)


@requires_torch
@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_matches_torch(name):
    a, b = rg.finfo(ALL[name]), torch.finfo(tdt(name))
    for f in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(a, f) == getattr(b, f), f
    assert repr(a) == repr(b)


@requires_torch
@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    a, b = rg.iinfo(ALL[name]), torch.iinfo(tdt(name))
    assert (a.bits, a.min, a.max, repr(a)) == (b.bits, b.min, b.max, repr(b))


def test_finfo_iinfo_reject_wrong_kind():
    with pytest.raises(TypeError, match="torch.finfo"):
        rg.finfo(rg.int8)
    with pytest.raises(TypeError, match="torch.iinfo"):
        rg.iinfo(rg.bfloat16)


# ------------------------------------------------------------------------------ promotion
@requires_torch
def test_promotion_table_matches_torch():
    """Every pair of dtypes (tensor with dims op tensor with dims, and against a 0-d tensor) and
    every dtype against Python scalars, against torch.result_type."""
    bad = []
    for a, b in itertools.product(sorted(ALL), repeat=2):
        x, y = rg.zeros(2, dtype=ALL[a]), rg.zeros(2, dtype=ALL[b])
        tx, ty = torch.zeros(2, dtype=tdt(a)), torch.zeros(2, dtype=tdt(b))
        if repr(rg.result_type(x, y)) != repr(torch.result_type(tx, ty)):
            bad.append((a, b, "dims"))
        if repr(rg.promote_types(ALL[a], ALL[b])) != repr(torch.promote_types(tdt(a), tdt(b))):
            bad.append((a, b, "promote_types"))
        z, tz = rg.zeros((), dtype=ALL[b]), torch.zeros((), dtype=tdt(b))
        if repr(rg.result_type(x, z)) != repr(torch.result_type(tx, tz)):
            bad.append((a, b, "zero-dim"))
        if repr((x + z).dtype) != repr((tx + tz).dtype):
            bad.append((a, b, "add"))
    for a in sorted(ALL):
        for s in (2, 2.5, True):
            x, tx = rg.zeros(2, dtype=ALL[a]), torch.zeros(2, dtype=tdt(a))
            if repr(rg.result_type(x, s)) != repr(torch.result_type(tx, s)):
                bad.append((a, s, "scalar"))
    assert not bad


def test_promotion_examples():
    f16, bf16 = rg.ones(2, dtype=rg.float16), rg.ones(2, dtype=rg.bfloat16)
    assert (f16 + bf16).dtype == rg.float32
    assert (f16 + rg.ones(2, dtype=rg.int64)).dtype == rg.float16
    assert (rg.ones(2, dtype=rg.int8) + rg.ones(2, dtype=rg.uint8)).dtype == rg.int16
    assert (bf16 * 2.5).dtype == rg.bfloat16 and (rg.ones(2, dtype=rg.int8) + 300).dtype == rg.int8
    assert (f16 + rg.tensor(1.0, dtype=rg.float64)).dtype == rg.float16


# ------------------------------------------------------------------------------ conversions
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float16_conversion_rounds_like_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(500).astype(np.float32) * 10, np.float32([65504, 65520, 70000, -1e6,
                        1e-8, 6e-8, 2049, 2051, np.inf, -np.inf])])
    h = rg.from_numpy(x).half()
    assert h.dtype == rg.float16
    np.testing.assert_array_equal(h.numpy(), x.astype(np.float16))
    # float64 -> float16 goes through float32 as PyTorch's does.
    np.testing.assert_array_equal(rg.from_numpy(x.astype(np.float64)).half().numpy(), x.astype(np.float16))
    assert np.isnan(rg.tensor([float("nan")]).half().float().numpy()).all()


def test_bfloat16_conversion_rounds_to_nearest_even():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(500).astype(np.float32) * 1e3,
                        np.float32([1.00390625, 1.01171875, 3e38, -3.4e38, 1e-40, np.inf])])
    b = rg.from_numpy(x).bfloat16()
    assert b.dtype == rg.bfloat16
    np.testing.assert_array_equal(b.float().numpy(), bf16_round(x))
    # 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even wins (1); 1 + 3*2^-8 rounds up to 1 + 2^-6.
    assert rg.tensor([1.00390625, 1.01171875]).bfloat16().tolist() == [1.0, 1.015625]


@requires_torch
@pytest.mark.parametrize("src", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("dst", ["int8", "int16", "uint8", "int32", "int64", "bool"])
def test_float_to_int_matches_torch(src, dst):
    """Truncation, NaN/inf/out of range and the wrap of narrow integers, as torch on the CPU."""
    vals = [300.0, -300.0, 1e10, float("nan"), 127.7, -128.9, 200.5, float("inf"), -0.9, 40000.0]
    got = rg.tensor(vals, dtype=ALL[src]).to(ALL[dst]).tolist()
    assert got == torch.tensor(vals, dtype=tdt(src)).to(tdt(dst)).tolist()


@requires_torch
@pytest.mark.parametrize("src", sorted(ALL))
@pytest.mark.parametrize("dst", sorted(ALL))
def test_every_conversion_matches_torch(src, dst):
    vals = [0, 1, -1, 2, 100, -128, 127, 255, 3, 7]
    x, tx = rg.tensor(vals).to(ALL[src]), torch.tensor(vals).to(tdt(src))
    y, ty = x.to(ALL[dst]), tx.to(tdt(dst))
    assert repr(y.dtype) == repr(ty.dtype)
    assert y.tolist() == ty.tolist()


def test_int_narrowing_wraps():
    assert rg.tensor([300, -300, 70000]).to(rg.int8).tolist() == [44, -44, 112]
    assert rg.tensor([70000, -32769]).to(rg.int16).tolist() == [4464, 32767]


def test_methods_and_type_names():
    x = rg.tensor([1.5, -2.0])
    assert x.half().dtype == rg.float16 and x.bfloat16().dtype == rg.bfloat16
    assert x.char().dtype == rg.int8 and x.short().dtype == rg.int16
    assert x.half().type() == "torch.HalfTensor" and x.bfloat16().type() == "torch.BFloat16Tensor"
    assert x.char().type() == "torch.CharTensor" and x.short().type() == "torch.ShortTensor"
    assert x.type("torch.HalfTensor").dtype == rg.float16
    assert rg.zeros(3, dtype="float16").dtype == rg.float16
    assert rg.ones(2, 2, dtype=rg.bfloat16).sum().item() == 4.0
    assert isinstance(rg.tensor([3], dtype=rg.int8).item(), int) and isinstance(x.half()[0].item(), float)


# ------------------------------------------------------------------------------ printing
@requires_torch
@pytest.mark.parametrize("data,name", [
    ([1.0, 2.0], "float16"), ([1.5, 2.25], "bfloat16"), ([0.1, -3.0, 1000.0], "float16"),
    ([1e-3, 1.0, 300.0], "bfloat16"), ([1, -2, 3], "int8"), ([1000, -2], "int16"), ([[1.0, 2.5], [3.0, 4.0]], "float16"),
    ([], "float16"), ([65504.0, 1e-4], "float16"), ([2.0**100, 1.0], "bfloat16"),
])
def test_printing_matches_torch(data, name):
    assert repr(rg.tensor(data, dtype=ALL[name])) == repr(torch.tensor(data, dtype=tdt(name)))


def test_printing_requires_grad():
    x = rg.tensor([1.0, 2.0], dtype=rg.float16, requires_grad=True)
    assert repr(x) == "tensor([1., 2.], dtype=torch.float16, requires_grad=True)"


# ------------------------------------------------------------------------------ NumPy interop
def test_numpy_float16_both_ways():
    a = np.array([1.5, -2.25, 65504], dtype=np.float16)
    t = rg.from_numpy(a)
    assert t.dtype == rg.float16 and t.tolist() == [1.5, -2.25, 65504.0]
    a[0] = 7.0  # zero-copy
    assert t[0].item() == 7.0
    back = t.numpy()
    assert back.dtype == np.float16
    back[1] = 3.0
    assert t[1].item() == 3.0
    assert rg.tensor(np.float16(2.5)).dtype == rg.float16
    assert rg.tensor(a).dtype == rg.float16
    for npd, d in ((np.int8, rg.int8), (np.int16, rg.int16)):
        arr = np.array([-5, 100], dtype=npd)
        assert rg.from_numpy(arr).dtype == d and rg.from_numpy(arr).numpy().dtype == npd


def test_bfloat16_numpy_raises_torch_error():
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        rg.ones(2, dtype=rg.bfloat16).numpy()


# ------------------------------------------------------------------------------ serialization
@requires_torch
@pytest.mark.parametrize("name", sorted(NEW))
def test_torch_save_loads_in_rustgrad(tmp_path, name):
    vals = [[1.5, -2.0, 100.0], [0.25, 3.0, -7.0]]
    t = torch.tensor(vals).to(tdt(name))
    p = tmp_path / "t.pt"
    torch.save({"x": t, "view": t[:, 1]}, p)
    d = rg.load(p)
    assert repr(d["x"].dtype) == repr(t.dtype) and d["x"].tolist() == t.tolist()
    assert d["view"].tolist() == t[:, 1].tolist()


@requires_torch
@pytest.mark.parametrize("name", sorted(NEW))
def test_rustgrad_save_loads_in_torch(tmp_path, name):
    vals = [[1.5, -2.0, 100.0], [0.25, 3.0, -7.0]]
    x = rg.tensor(vals).to(NEW[name])
    p = tmp_path / "r.pt"
    rg.save({"x": x, "view": x[:, 1]}, p)
    d = torch.load(p)
    assert repr(d["x"].dtype) == repr(x.dtype) and d["x"].tolist() == x.tolist()
    assert d["view"].tolist() == x[:, 1].tolist()


@pytest.mark.parametrize("name", sorted(NEW))
def test_round_trips(tmp_path, name):
    x = rg.tensor([[1.5, -2.0], [3.0, 1e-3]]).to(NEW[name])
    rg.save(x, tmp_path / "a.pt")
    y = rg.load(tmp_path / "a.pt")
    assert y.dtype == x.dtype and y.tolist() == x.tolist()
    rg.save_safetensors({"x": x}, tmp_path / "a.safetensors")
    z = rg.load_safetensors(tmp_path / "a.safetensors")["x"]
    assert z.dtype == x.dtype and z.tolist() == x.tolist()


# ------------------------------------------------------------------------------ arithmetic
def _pair(name, n=64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).astype(np.float32) * 4
    b = rng.standard_normal(n).astype(np.float32) + 3
    return rg.from_numpy(a).to(NEW[name]), rg.from_numpy(b).to(NEW[name])


def _round(name, v):
    v = np.asarray(v, dtype=np.float32)
    return v.astype(np.float16).astype(np.float32) if name == "float16" else bf16_round(v)


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum"])
def test_binary_computes_in_f32_and_rounds_once(name, op):
    a, b = _pair(name)
    out = getattr(rg, op)(a, b)
    assert out.dtype == NEW[name]
    fa, fb = a.float().numpy(), b.float().numpy()
    expect = _round(name, getattr(np, {"div": "divide", "sub": "subtract", "mul": "multiply"}.get(op, op))(fa, fb))
    np.testing.assert_array_equal(out.float().numpy(), expect)


@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("op", ["exp", "sqrt", "tanh", "sigmoid", "neg", "abs", "log"])
def test_unary_on_half(name, op):
    a, b = _pair(name)
    x = b.abs() if op in ("sqrt", "log") else a
    out = getattr(x, op)()
    assert out.dtype == NEW[name]
    ref = getattr(x.float(), op)().numpy()
    # Computed in f32 (up to the f32 kernel's own ulp), then rounded to the half dtype.
    np.testing.assert_allclose(out.float().numpy(), _round(name, ref), rtol=1e-2 if name == "bfloat16" else 1e-3)


@requires_torch
@pytest.mark.parametrize("name", HALF)
def test_elementwise_matches_torch(name):
    a, b = _pair(name, 200)
    ta, tb = torch.from_numpy(a.float().numpy()).to(tdt(name)), torch.from_numpy(b.float().numpy()).to(tdt(name))
    for f in (lambda x, y: x + y, lambda x, y: x * y - y, lambda x, y: x / y, lambda x, y: x * 3.0 + 1,
              lambda x, y: (x > y).to(x.dtype), lambda x, y: x.clamp(-1, 1)):
        got, want = f(a, b), f(ta, tb)
        assert repr(got.dtype) == repr(want.dtype)
        assert got.float().tolist() == want.float().tolist()


@requires_torch
@pytest.mark.parametrize("name", HALF)
def test_reductions_matmul_conv_match_torch(name):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((8, 16)).astype(np.float32)
    B = rng.standard_normal((16, 5)).astype(np.float32)
    X = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    d, td = NEW[name], tdt(name)
    a, b, x, w = (rg.from_numpy(v).to(d) for v in (A, B, X, W))
    ta, tb, tx, tw = (torch.from_numpy(v).to(td) for v in (A, B, X, W))
    tol = {"rtol": 2e-2, "atol": 2e-2} if name == "bfloat16" else {"rtol": 2e-3, "atol": 2e-3}
    pairs = [(a.sum(), ta.sum()), (a.sum(1), ta.sum(1)), (a.mean(0), ta.mean(0)), (a.max(1).values, ta.max(1).values),
             (a @ b, ta @ tb), (rg.nn.functional.conv2d(x, w), torch.nn.functional.conv2d(tx, tw)),
             (rg.softmax(a, 1), torch.softmax(ta, 1)), (rg.nn.functional.max_pool2d(x, 2),
                                                         torch.nn.functional.max_pool2d(tx, 2))]
    for got, want in pairs:
        assert repr(got.dtype) == repr(want.dtype)
        np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), **tol)


@requires_torch
def test_int8_int16_arithmetic_wraps_like_torch():
    vals = [127, -128, 100, -3, 0, 55]
    for name in ("int8", "int16"):
        a, ta = rg.tensor(vals, dtype=NEW[name]), torch.tensor(vals, dtype=tdt(name))
        b, tb = a.flip(0), ta.flip(0)
        for f in (lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y, lambda x, y: x * 300,
                  lambda x, y: x // (y.abs() + 1), lambda x, y: x % 7, lambda x, y: -x, lambda x, y: x.abs(),
                  lambda x, y: x.sum(), lambda x, y: x.cumsum(0), lambda x, y: x.max()):
            got, want = f(a, b), f(ta, tb)
            assert repr(got.dtype) == repr(want.dtype) and got.tolist() == want.tolist()
    assert (rg.tensor([127], dtype=rg.int8) + 1).tolist() == [-128]


def test_integer_ops_on_new_ints_vs_numpy():
    a = np.array([120, -7, 33, -128], dtype=np.int8)
    b = np.array([10, 3, -5, 1], dtype=np.int8)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal((rg.from_numpy(a) * rg.from_numpy(b)).numpy(), a * b)
        np.testing.assert_array_equal((rg.from_numpy(a) + rg.from_numpy(b)).numpy(), a + b)
    assert (rg.from_numpy(a) / rg.from_numpy(b)).dtype == rg.float32


def test_indexing_and_movement_keep_half():
    x = rg.arange(12, dtype=rg.float32).reshape(3, 4).bfloat16()
    assert x.t().contiguous().dtype == rg.bfloat16
    assert x[1:, ::2].tolist() == [[4.0, 6.0], [8.0, 10.0]]
    assert rg.cat([x, x]).shape == (6, 4) and rg.cat([x, x]).dtype == rg.bfloat16
    assert x.gather(1, rg.tensor([[0], [1], [3]])).tolist() == [[0.0], [5.0], [11.0]]
    assert rg.where(x > 5, x, rg.zeros_like(x)).dtype == rg.bfloat16
    y = rg.zeros(3, dtype=rg.float16)
    y[1] = 2.5
    y.add_(1)
    assert y.tolist() == [1.0, 3.5, 1.0]
    assert rg.full((2,), 1.1, dtype=rg.float16).tolist() == [float(np.float16(1.1))] * 2
    assert rg.arange(4, dtype=rg.int8).tolist() == [0, 1, 2, 3]
    assert x.sort(1, descending=True).values[0].tolist() == [3.0, 2.0, 1.0, 0.0]


# ------------------------------------------------------------------------------ autograd
@pytest.mark.parametrize("name", HALF)
def test_grads_in_the_half_dtype(name):
    d = NEW[name]
    w = rg.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=d, requires_grad=True)
    x = rg.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=d)
    loss = ((x @ w).relu() * 2).sum()
    loss.backward()
    assert loss.dtype == d and w.grad.dtype == d
    # x.T @ (2 * relu mask): only (x @ w)[0, 0] = 4.5 is positive.
    np.testing.assert_allclose(w.grad.float().numpy(), [[2.0, 0.0], [4.0, 0.0]])


def test_to_half_is_differentiable():
    x = rg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x.half() * x.half()).sum()
    y.backward()
    assert x.grad.dtype == rg.float32 and x.grad.tolist() == [2.0, -4.0, 6.0]
    z = rg.tensor([1.5], dtype=rg.bfloat16, requires_grad=True)
    (z.float() * 4).sum().backward()
    assert z.grad.dtype == rg.bfloat16 and z.grad.tolist() == [4.0]


@requires_torch
@pytest.mark.parametrize("name", HALF)
def test_half_grads_match_torch(name):
    rng = np.random.default_rng(5)
    X, W, B = (rng.standard_normal(s).astype(np.float32) for s in ((4, 6), (3, 6), (3,)))
    d, td = NEW[name], tdt(name)
    x, w, b = (rg.from_numpy(v).to(d).requires_grad_() for v in (X, W, B))
    tx, tw, tb = (torch.from_numpy(v).to(td).requires_grad_() for v in (X, W, B))
    rg.nn.functional.linear(x, w, b).tanh().sum().backward()
    torch.nn.functional.linear(tx, tw, tb).tanh().sum().backward()
    tol = 3e-2 if name == "bfloat16" else 3e-3
    for g, tg in ((x.grad, tx.grad), (w.grad, tw.grad), (b.grad, tb.grad)):
        assert repr(g.dtype) == repr(tg.dtype)
        np.testing.assert_allclose(g.float().numpy(), tg.float().numpy(), rtol=tol, atol=tol)


@requires_torch
@pytest.mark.parametrize("name", HALF)
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_optimizer_steps_on_half_params_match_torch(name, opt):
    """The fused update runs in f32 on widened copies; parameter and state stay in the half dtype."""
    vals, grads = [0.5, -1.25, 3.0, 0.1], [0.25, -0.5, 1.0, 2.0]
    kw = {"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.01}
    p, tp = rg.tensor(vals, dtype=NEW[name], requires_grad=True), torch.tensor(vals, dtype=tdt(name), requires_grad=True)
    o, to = getattr(rg.optim, opt)([p], **kw), getattr(torch.optim, opt)([tp], **kw)
    for _ in range(3):
        p.grad, tp.grad = rg.tensor(grads, dtype=NEW[name]), torch.tensor(grads, dtype=tdt(name))
        o.step()
        to.step()
    assert p.dtype == NEW[name]
    tol = 1e-2 if name == "bfloat16" else 1e-3
    np.testing.assert_allclose(p.detach().float().numpy(), tp.detach().float().numpy(), rtol=tol, atol=tol)


def test_f32_compute_path_gradcheck():
    """The backward rules the half dtypes run (in f32) are the float ones: float64 gradcheck of the
    same compositions."""
    gradcheck(lambda x, w: (x @ w).tanh().sum(), (3, 4), (4, 2))
    gradcheck(lambda x: rg.softmax(x, 1).mul(x).sum(), (2, 5))


# ------------------------------------------------------------------------------ devices
def test_small_ints_on_wgpu_raise_clearly():
    """int8/int16 have no device storage yet (float16/bfloat16 do: tests/test_wgpu_half.py)."""
    if not rg.wgpu.is_available():
        pytest.skip("no wgpu adapter")
    for d in (rg.int8, rg.int16):
        with pytest.raises((RuntimeError, TypeError), match="wgpu"):
            rg.ones(2, dtype=d).to("wgpu")
