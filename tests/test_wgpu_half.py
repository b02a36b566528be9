"""float16 and bfloat16 tensors on the wgpu device: storage packed two per 32-bit word, compute
in float32 (widen on the device, the f32 kernel, one rounding back), autocast and GradScaler on
wgpu. The reference is the CPU's half storage (bit for bit where the op is exact, NumPy float16
for casts), sizes tiny for lavapipe."""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F
from conftest import requires_torch, torch

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()
HALVES = {"float16": rg.float16, "bfloat16": rg.bfloat16}


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not HAS_WGPU:
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


def bits(t):
    """The 16-bit patterns of a half tensor (read on the CPU)."""
    t = t.cpu().contiguous()
    if t.dtype == rg.float16:
        return t.numpy().view(np.uint16)
    # NumPy has no bfloat16: widening is exact (a 16-bit shift), so the top half of the f32 bits.
    return (t.float().numpy().view(np.uint32) >> 16).astype(np.uint16)


def special_f32(n=37):
    """f32 values covering rounding ties, overflow, subnormals of both halves, inf and NaN."""
    rng = np.random.default_rng(n)
    edge = [0.0, -0.0, 1.0, -2.5, 65504.0, 65520.0, 1e6, -1e6, 6e-8, 3e-8, 1e-5, -1e-7,
            np.inf, -np.inf, np.nan, 1.0009765625, 1.00048828125, 3e38, 1e-40, 2.0 ** -133]
    v = rng.standard_normal(max(n, len(edge))).astype(np.float32) * 10
    v[: len(edge)] = edge
    return v[:n].copy()


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_round_trip_is_bit_exact(name, n):
    dt = HALVES[name]
    x = rg.from_numpy(np.resize(special_f32(), n)).to(dt)
    d = x.to("wgpu")
    assert d.device.type == "wgpu" and d.dtype == dt
    np.testing.assert_array_equal(bits(d.cpu()), bits(x))
    # Odd offsets, strided and transposed views come back as the CPU's.
    if n >= 7:
        np.testing.assert_array_equal(bits(d[1:]), bits(x[1:]))
        np.testing.assert_array_equal(bits(d[1::3]), bits(x[1::3]))
        np.testing.assert_array_equal(bits(d.flip(0)), bits(x.flip(0)))
    if n == 300:
        m, mc = d.reshape(20, 15), x.reshape(20, 15)
        np.testing.assert_array_equal(bits(m.t()), bits(mc.t()))
        np.testing.assert_array_equal(bits(m[3:, 1::2].contiguous()), bits(mc[3:, 1::2]))


@pytest.mark.parametrize("name", HALVES)
def test_casts_from_f32_match_the_cpu(name):
    """f32 -> half rounds on the device exactly as the CPU (nearest even, overflow to inf,
    subnormals kept); float16 also against NumPy."""
    dt = HALVES[name]
    v = special_f32(300)
    got = rg.from_numpy(v).to("wgpu").to(dt)
    np.testing.assert_array_equal(bits(got), bits(rg.from_numpy(v).to(dt)))
    if name == "float16":
        with np.errstate(over="ignore"):
            want = v.astype(np.float16).view(np.uint16)
        finite = ~np.isnan(v)
        np.testing.assert_array_equal(bits(got)[finite], want[finite])
        assert np.isnan(got.cpu().float().numpy()[~finite]).all()
    # Widening back is exact.
    np.testing.assert_array_equal(got.float().cpu().numpy(), got.cpu().float().numpy())


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("other", ["float32", "int32", "int64", "uint8", "bool", "float16", "bfloat16"])
def test_casts_to_and_from_every_device_dtype(name, other):
    dt, od = HALVES[name], getattr(rg, other)
    # In range for every target: out-of-range float -> int is where the device's float32 cast
    # already differs from the host's (it saturates); halves reach integers through that cast.
    v = np.array([0.0, 1.0, 3.0, 2.5, 255.0, 0.4, 1e-3, 7.0, 0.99], dtype=np.float32)
    if other in ("int32", "int64"):
        v = np.concatenate([v, [-3.0, -0.6, 2000.0]]).astype(np.float32)
    h = rg.from_numpy(v).to(dt)
    got, want = h.to("wgpu").to(od), h.to(od)
    if od.is_floating_point and od != rg.float32:
        np.testing.assert_array_equal(bits(got), bits(want))
    else:
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())
    if od != dt:
        src = rg.from_numpy(v).to(od)
        np.testing.assert_array_equal(bits(src.to("wgpu").to(dt)), bits(src.to(dt)))


@pytest.mark.parametrize("name", HALVES)
def test_creation_fill_and_strided_copy(name):
    dt = HALVES[name]
    z = rg.zeros(5, dtype=dt, device="wgpu")
    assert z.device.type == "wgpu" and z.dtype == dt and z.cpu().tolist() == [0.0] * 5
    assert rg.ones(3, 3, dtype=dt, device="wgpu").cpu().tolist() == [[1.0] * 3] * 3
    f = rg.full((7,), 0.1, dtype=dt, device="wgpu")
    np.testing.assert_array_equal(bits(f), bits(rg.full((7,), 0.1, dtype=dt)))
    r = rg.rand(9, dtype=dt, device="wgpu")
    assert r.dtype == dt and ((r >= 0) & (r <= 1)).all().item()
    # fill_ and copy_ into strided views at odd offsets leave their neighbours alone.
    base = rg.arange(24, dtype=rg.float32).to(dt)
    d = base.to("wgpu")
    d.reshape(4, 6)[1:, 1::2].fill_(-7.0)
    base.reshape(4, 6)[1:, 1::2].fill_(-7.0)
    np.testing.assert_array_equal(bits(d), bits(base))
    src = rg.from_numpy(special_f32(9)).reshape(3, 3)
    d.reshape(4, 6)[1:, :3].copy_(src.to("wgpu").t())
    base.reshape(4, 6)[1:, :3].copy_(src.t())
    np.testing.assert_array_equal(bits(d), bits(base))
    # Overlapping copy within one buffer.
    d[1:].copy_(d[:-1].clone())
    base[1:].copy_(base[:-1].clone())
    np.testing.assert_array_equal(bits(d), bits(base))


def pair(name, *shape, seed=0):
    x = rg.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).to(HALVES[name])
    return x, x.to("wgpu")


def same(dev, cpu):
    """A device result equals the CPU's half result bit for bit, dtype included."""
    assert dev.device.type == "wgpu" and dev.dtype == cpu.dtype
    np.testing.assert_array_equal(bits(dev), bits(cpu))


@pytest.mark.parametrize("name", HALVES)
def test_elementwise_match_the_cpu(name):
    x, xd = pair(name, 3, 5)
    y, yd = pair(name, 5, seed=1)
    for f in (lambda a, b: a + b, lambda a, b: a * b - 1.5, lambda a, b: a / b, lambda a, b: a.exp(),
              lambda a, b: a.tanh(), lambda a, b: F.relu(a) * b, lambda a, b: rg.where(a > b, a, b),
              lambda a, b: a.clamp(-0.5, 0.5), lambda a, b: a.sigmoid(), lambda a, b: a[1:, ::2].abs()):
        same(f(xd, yd), f(x, y))
    assert ((xd > yd).cpu().tolist()) == (x > y).tolist()
    # Mixed with float32 promotes to float32, as on the CPU.
    z = rg.ones(5)
    r = xd + z.to("wgpu")
    assert r.dtype == rg.float32
    np.testing.assert_array_equal(r.cpu().numpy(), (x + z).numpy())


@pytest.mark.parametrize("name", HALVES)
def test_reductions_softmax_matmul_conv_match_the_cpu(name):
    x, xd = pair(name, 4, 6)
    for f in (lambda a: a.sum(), lambda a: a.sum(1), lambda a: a.mean(0), lambda a: a.amax(1),
              lambda a: a.max(1).values, lambda a: rg.softmax(a, 1), lambda a: rg.log_softmax(a, 0),
              lambda a: a.var(1), lambda a: a.cumsum(1), lambda a: a.prod(1)):
        got, want = f(xd), f(x)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got.float().cpu().numpy(), want.float().numpy(), rtol=1e-2, atol=1e-2)
    assert xd.argmax(1).cpu().tolist() == x.argmax(1).tolist()
    w, wd = pair(name, 6, 3, seed=2)
    got, want = xd @ wd, x @ w
    assert got.dtype == want.dtype and got.device.type == "wgpu"
    # f32 accumulation on both sides; the summation order may differ, so within one half ulp-ish.
    np.testing.assert_allclose(got.float().cpu().numpy(), want.float().numpy(), rtol=1e-2, atol=1e-2)
    bx, bxd = pair(name, 2, 3, 5, seed=6)
    by, byd = pair(name, 2, 5, 3, seed=7)
    np.testing.assert_allclose((bxd @ byd.transpose(1, 2).transpose(1, 2)).float().cpu().numpy(),
                               (bx @ by).float().numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose((bxd[:, 1:] @ byd[:, :, ::2]).float().cpu().numpy(),
                               (bx[:, 1:] @ by[:, :, ::2]).float().numpy(), rtol=1e-2, atol=1e-2)
    img, imgd = pair(name, 1, 2, 5, 5, seed=3)
    k, kd = pair(name, 3, 2, 3, 3, seed=4)
    b, bd = pair(name, 3, seed=5)
    got, want = F.conv2d(imgd, kd, bd, padding=1), F.conv2d(img, k, b, padding=1)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.float().cpu().numpy(), want.float().numpy(), rtol=1e-2, atol=1e-2)
    got = F.max_pool2d(imgd, 2)
    same(got, F.max_pool2d(img, 2))


@pytest.mark.parametrize("name", HALVES)
def test_autograd_through_half_on_wgpu(name):
    x, xd = pair(name, 3, 4)
    w, wd = pair(name, 4, 2, seed=1)
    grads = []
    for a, b in ((x, w), (xd, wd)):
        a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
        (a @ b).tanh().sum().backward()
        assert a.grad.dtype == HALVES[name]
        grads.append((a.grad, b.grad))
    for gc, gd in zip(*grads):
        assert gd.device.type == "wgpu"
        np.testing.assert_allclose(gd.float().cpu().numpy(), gc.float().numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", HALVES)
def test_indexing_on_half(name):
    x, xd = pair(name, 5, 4)
    idx = rg.tensor([3, 0, 3])
    same(xd[idx.to("wgpu")], x[idx])
    same(xd.gather(1, rg.tensor([[1], [0], [3], [2], [1]]).to("wgpu")), x.gather(1, rg.tensor([[1], [0], [3], [2], [1]])))
    xd[idx.to("wgpu")] = 2.25
    x[idx] = 2.25
    same(xd, x)
    same(rg.cat([xd, xd[:1]]), rg.cat([x, x[:1]]))


# ------------------------------------------------------------------------------ autocast


def test_autocast_rules_on_wgpu():
    a = rg.randn(4, 3).to("wgpu")
    lin = rg.nn.Linear(3, 2).to("wgpu")
    assert rg.amp.is_autocast_available("wgpu") and rg.get_autocast_dtype("wgpu") == rg.float16
    with rg.autocast("wgpu"):
        assert rg.is_autocast_enabled("wgpu") and not rg.is_autocast_enabled("cpu")
        mm = a @ a.T
        out = lin(a)
        assert mm.dtype == rg.float16 and mm.device.type == "wgpu" and out.dtype == rg.float16
        assert rg.softmax(mm, 1).dtype == rg.float32
        assert F.log_softmax(mm, 1).dtype == rg.float32
        assert F.layer_norm(mm, (4,)).dtype == rg.float32
        assert F.mse_loss(out, rg.zeros(4, 2, device="wgpu")).dtype == rg.float32
        assert F.cross_entropy(out, rg.tensor([0, 1, 1, 0]).to("wgpu")).dtype == rg.float32
        # Off the lists ops promote as usual: a 0-d float32 keeps float16, a full one promotes.
        assert (mm + a.sum()).dtype == rg.float16
        assert (mm + rg.ones(4, 4, device="wgpu")).dtype == rg.float32
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(out.sigmoid(), rg.zeros(4, 2, device="wgpu"))
        # CPU tensors inside a wgpu region are untouched.
        c = rg.randn(2, 2)
        assert (c @ c).dtype == rg.float32
    with rg.autocast("wgpu", dtype=rg.bfloat16):
        assert (a @ a.T).dtype == rg.bfloat16
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        ctx = rg.autocast("wgpu", dtype=rg.float32)
    with ctx:
        assert (a @ a.T).dtype == rg.float32


@requires_torch
def test_autocast_cpu_rules_match_torch():
    """The CPU lists against torch.autocast("cpu"); the wgpu ones mirror CUDA's, which torch's CPU
    build cannot run, so the same cases are checked by name on wgpu in test_autocast_rules_on_wgpu."""
    A = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    for dt, tdt in ((rg.bfloat16, torch.bfloat16), (rg.float16, torch.float16)):
        for f in (lambda m, x: x @ x.T, lambda m, x: m.nn.functional.linear(x, x), lambda m, x: (x @ x.T).sum(),
                  lambda m, x: m.nn.functional.mse_loss(x @ x.T, x @ x.T), lambda m, x: m.softmax(x @ x.T, 1)):
            with rg.autocast("cpu", dtype=dt):
                got = f(rg, rg.from_numpy(A))
            with torch.autocast("cpu", dtype=tdt):
                want = f(torch, torch.from_numpy(A))
            assert repr(got.dtype) == repr(want.dtype)


def test_autocast_wgpu_matches_cpu_values():
    A = rg.randn(5, 3)
    W = rg.randn(2, 3)
    with rg.autocast("cpu", dtype=rg.float16):
        want = F.linear(A, W)
    with rg.autocast("wgpu"):
        got = F.linear(A.to("wgpu"), W.to("wgpu"))
    same(got, want)


# ------------------------------------------------------------------------------ GradScaler


def _mlp(device):
    rg.manual_seed(0)
    return rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.ReLU(), rg.nn.Linear(8, 1)).to(device)


def test_grad_scaler_skips_on_inf_and_grows_on_wgpu():
    m = _mlp("wgpu")
    opt = rg.optim.SGD(m.parameters(), lr=0.1)
    s = rg.amp.GradScaler("wgpu", init_scale=8.0, growth_interval=2)
    x, y = rg.randn(3, 4).to("wgpu"), rg.randn(3, 1).to("wgpu")
    s.scale(F.mse_loss(m(x), y)).backward()
    m[2].bias.grad.fill_(float("inf"))
    before = [p.detach().cpu().tolist() for p in m.parameters()]
    assert s.step(opt) is None
    assert [p.detach().cpu().tolist() for p in m.parameters()] == before
    s.update()
    assert s.get_scale() == 4.0
    for _ in range(2):
        opt.zero_grad()
        s.scale(F.mse_loss(m(x), y)).backward()
        s.step(opt)
        s.update()
    assert s.get_scale() == 8.0
    assert [p.detach().cpu().tolist() for p in m.parameters()] != before
    assert rg.amp.GradScaler(device="wgpu").is_enabled()


def test_grad_scaler_one_sync_per_step():
    """unscale_ keeps found_inf on the device: the only read-back of a step is step()'s check."""
    m = _mlp("wgpu")
    opt = rg.optim.SGD(m.parameters(), lr=0.1)
    s = rg.amp.GradScaler("wgpu")
    x, y = rg.randn(3, 4).to("wgpu"), rg.randn(3, 1).to("wgpu")
    s.scale(F.mse_loss(m(x), y)).backward()
    rg.wgpu.synchronize()
    rg.wgpu.reset_stats()
    s.unscale_(opt)
    s.step(opt)
    s.update()
    # One 0-d bool (a 4-byte word) comes back: the inf check step() needs to decide.
    assert rg.wgpu.stats()["bytes_downloaded"] <= 4


@pytest.mark.parametrize("device", ["cpu", "wgpu"])
def test_mixed_precision_mlp_trains(device):
    """The standard loop (autocast + GradScaler) on both devices: the loss falls; a huge scale
    overflows float16, so that step is skipped and the scale halves."""
    rg.manual_seed(1)
    x = rg.randn(32, 4)
    y = (x @ rg.tensor([[1.0], [-2.0], [0.5], [3.0]])).tanh()
    x, y = x.to(device), y.to(device)
    m = _mlp(device)
    opt = rg.optim.SGD(m.parameters(), lr=0.1)
    scaler = rg.amp.GradScaler(device, init_scale=2.0**8)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        with rg.autocast(device, dtype=rg.float16):
            loss = F.mse_loss(m(x), y)
        assert loss.dtype == rg.float32
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert m[0].weight.dtype == rg.float32 and m[0].weight.grad.dtype == rg.float32
    assert losses[-1] < losses[0] * 0.7
    huge = rg.amp.GradScaler(device, init_scale=2.0**126)
    before = [p.detach().cpu().tolist() for p in m.parameters()]
    opt.zero_grad()
    with rg.autocast(device, dtype=rg.float16):
        loss = F.mse_loss(m(x), y)
    huge.scale(loss).backward()
    assert huge.step(opt) is None
    huge.update()
    assert huge.get_scale() == 2.0**125
    assert [p.detach().cpu().tolist() for p in m.parameters()] == before
