"""The wgpu device seen from Python: transfers, the wired op families (forward against NumPy,
gradients against the CPU), device errors, printing, Module.to and the engine's batching.

Every op test runs on "cpu" and, when an adapter exists, on "wgpu". With RUSTGRAD_REQUIRE_WGPU=1
(CI, after installing lavapipe) the wgpu cases fail instead of skipping when no adapter exists.
Shapes stay small (lavapipe runs shaders on the CPU) but cross workgroup boundaries (256).
"""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()
DEVICES = ["cpu", "wgpu"] if (HAS_WGPU or REQUIRE) else ["cpu"]
SIZES = [1, 7, 65, 300]


def _need_wgpu():
    if not HAS_WGPU:
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


@pytest.fixture(params=DEVICES)
def device(request):
    if request.param == "wgpu":
        _need_wgpu()
    return request.param


@pytest.fixture
def wgpu():
    _need_wgpu()
    return "wgpu"


def t(a, device, requires_grad=False):
    """A float32 tensor on ``device`` from a NumPy array."""
    x = rg.tensor(np.asarray(a, dtype=np.float32), device=device)
    if requires_grad:
        x.requires_grad_(True)
    return x


def check(actual, expected, device, rtol=1e-5, atol=1e-5):
    assert actual.device.type == device
    np.testing.assert_allclose(actual.detach().cpu().numpy(), expected, rtol=rtol, atol=atol, equal_nan=True)


def rand(*shape, low=-2.0, high=2.0):
    return np.random.uniform(low, high, shape).astype(np.float32)


# ---------------------------------------------------------------- the adapter and the API


def test_adapter_and_module_api():
    assert rg.cuda.is_available() is False
    if not (HAS_WGPU or REQUIRE):
        assert rg.wgpu.device_count() == 0
        assert rg.accelerator.current_accelerator() is None
        return
    _need_wgpu()
    assert rg.wgpu.device_count() == 1
    assert rg.accelerator.is_available()
    assert rg.accelerator.current_accelerator() == rg.device("wgpu")
    assert rg.accelerator.device_count() == 1
    info = rg.wgpu.adapter_info()
    assert {"name", "backend", "driver", "driver_info"} <= set(info)
    assert info["backend"] in ("vulkan", "metal", "dx12", "gl")
    name = rg.wgpu.get_device_name()
    assert name == info["name"]
    if REQUIRE:
        assert "llvmpipe" in name.lower(), name
    rg.wgpu.synchronize()
    rg.accelerator.synchronize()
    rg.wgpu.empty_cache()
    assert isinstance(rg.wgpu.memory_allocated(), int)
    assert rg.wgpu.memory_reserved() >= rg.wgpu.memory_allocated()
    rg.wgpu.manual_seed(3)
    a = rg.randn(4, device="wgpu")
    rg.wgpu.manual_seed(3)
    assert a.tolist() == rg.randn(4, device="wgpu").tolist()
    s = rg.wgpu.stats()
    assert {"dispatches", "submits", "pipelines_compiled", "buffers_created"} <= set(s)


def test_device_objects(wgpu):
    d = rg.device("wgpu")
    assert d.type == "wgpu" and str(d) == "wgpu"
    assert rg.device("wgpu:0").index == 0
    x = rg.ones(3, device="wgpu")
    assert str(x.device) == "wgpu:0"
    assert x.device == rg.device("wgpu:0")
    assert x.is_wgpu and not x.is_cpu and not x.is_cuda
    assert x.get_device() == 0
    assert rg.ones(2).get_device() == -1
    with pytest.raises(RuntimeError):
        rg.device("wgpu:1")


# ---------------------------------------------------------------- transfers


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool", "uint8"])
@pytest.mark.parametrize("n", SIZES)
def test_roundtrip(wgpu, dtype, n):
    a = (np.arange(n * 3) % 5 - 2).reshape(n, 3).astype(dtype)
    x = rg.tensor(a)
    g = x.to("wgpu")
    assert g.device.type == "wgpu" and g.dtype == x.dtype and g.shape == x.shape
    for back in (g.cpu(), g.to("cpu"), g.to(device="cpu", non_blocking=True), g.to(rg.device("cpu"))):
        assert back.device.type == "cpu"
        np.testing.assert_array_equal(back.numpy(), a)
    np.testing.assert_array_equal(g.numpy(), a)
    assert g.tolist() == a.tolist()
    # Non-contiguous sources and views of device tensors come back as their logical values.
    np.testing.assert_array_equal(rg.tensor(a).t().to("wgpu").cpu().numpy(), a.T)
    np.testing.assert_array_equal(g.t().cpu().numpy(), a.T)
    np.testing.assert_array_equal(g[1:].cpu().numpy(), a[1:])


def test_to_returns_self_and_item(wgpu):
    x = rg.tensor([2.5], device="wgpu")
    assert x.to("wgpu") is x
    c = rg.ones(2)
    assert c.cpu() is c and c.to("cpu") is c
    assert x.item() == 2.5
    assert float(x) == 2.5 and bool(x)
    assert x.to("cpu", rg.float64).dtype == rg.float64
    assert rg.zeros(2, dtype=rg.float64).to("wgpu", rg.float32).device.type == "wgpu"


def test_float64_is_refused(wgpu):
    msg = "Cannot convert a wgpu Tensor to float64 dtype as the wgpu backend doesn't support float64"
    with pytest.raises(TypeError, match=msg):
        rg.zeros(3, dtype=rg.float64).to("wgpu")
    with pytest.raises(TypeError, match="float64"):
        rg.zeros(3, dtype=rg.float64, device="wgpu")
    with pytest.raises(TypeError, match="float64"):
        rg.ones(3, device="wgpu").double()


def test_factories(device):
    for x in (
        rg.zeros(2, 3, device=device),
        rg.ones(2, 3, device=device),
        rg.full((2, 3), 1.5, device=device),
        rg.empty(2, 3, device=device),
        rg.rand(2, 3, device=device),
        rg.randn(2, 3, device=device),
        rg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device),
    ):
        assert x.device.type == device and x.shape == (2, 3)
    assert rg.arange(5, device=device).device.type == device
    np.testing.assert_array_equal(rg.arange(5, device=device).cpu().numpy(), np.arange(5))
    np.testing.assert_array_equal(rg.full((2,), 1.5, device=device).cpu().numpy(), [1.5, 1.5])
    x = rg.ones(2, 3, device=device)
    for like in (rg.zeros_like(x), rg.ones_like(x), rg.full_like(x, 2.0), rg.empty_like(x), rg.rand_like(x),
                 rg.randn_like(x)):
        assert like.device == x.device
    assert rg.zeros_like(x, device="cpu").device.type == "cpu"
    for new in (x.new_zeros(2), x.new_ones(2), x.new_empty(2), x.new_full((2,), 3.0), x.new_tensor([1.0])):
        assert new.device == x.device
    leaf = rg.zeros(3, device=device, requires_grad=True)
    assert leaf.is_leaf and leaf.requires_grad and leaf.device.type == device


# ---------------------------------------------------------------- elementwise


UNARY = {
    "neg": (lambda x: -x, np.negative, (-2, 2)),
    "abs": (rg.abs, np.abs, (-2, 2)),
    "exp": (rg.exp, np.exp, (-2, 2)),
    "log": (rg.log, np.log, (0.1, 3)),
    "sqrt": (rg.sqrt, np.sqrt, (0.1, 3)),
    "rsqrt": (rg.rsqrt, lambda a: 1 / np.sqrt(a), (0.1, 3)),
    "relu": (rg.relu, lambda a: np.maximum(a, 0), (-2, 2)),
    "sigmoid": (rg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-4, 4)),
    "tanh": (rg.tanh, np.tanh, (-3, 3)),
    "sin": (rg.sin, np.sin, (-3, 3)),
    "cos": (rg.cos, np.cos, (-3, 3)),
    "square": (rg.square, np.square, (-2, 2)),
    "sign": (rg.sign, np.sign, (-2, 2)),
    "reciprocal": (rg.reciprocal, np.reciprocal, (0.5, 3)),
    "floor": (rg.floor, np.floor, (-3, 3)),
    "ceil": (rg.ceil, np.ceil, (-3, 3)),
    "mul_scalar": (lambda x: x * 2.5, lambda a: a * 2.5, (-2, 2)),
    "add_scalar": (lambda x: x + 1.5, lambda a: a + 1.5, (-2, 2)),
    "rsub_scalar": (lambda x: 1 - x, lambda a: 1 - a, (-2, 2)),
    "rdiv_scalar": (lambda x: 2 / x, lambda a: 2 / a, (0.5, 2)),
    "pow_scalar": (lambda x: x**3, lambda a: a**3, (-2, 2)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("n", SIZES)
def test_unary(device, name, n):
    f, ref, (lo, hi) = UNARY[name]
    a = rand(n, low=lo, high=hi)
    check(f(t(a, device)), ref(a), device, rtol=2e-5)


@pytest.mark.parametrize("name", ["exp", "relu", "tanh", "mul_scalar"])
def test_unary_strided(device, name):
    f, ref, (lo, hi) = UNARY[name]
    a = rand(17, 33, low=lo, high=hi)
    x = t(a, device)
    check(f(x.t()), ref(a.T), device, rtol=2e-5)
    check(f(x[:, 1::3]), ref(a[:, 1::3]), device, rtol=2e-5)
    check(f(t(a[:1], device).expand(5, 33)), ref(np.broadcast_to(a[:1], (5, 33))), device, rtol=2e-5)


BINARY = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / y, np.divide),
    "maximum": (rg.maximum, np.maximum),
    "minimum": (rg.minimum, np.minimum),
    "pow": (lambda x, y: x.abs() ** y, lambda a, b: np.abs(a) ** b),
}
SHAPES = [((1,), (1,)), ((7,), (7,)), ((65, 1), (1, 300)), ((300,), ()), ((3, 1, 7), (5, 1))]


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_binary(device, name, shapes):
    f, ref = BINARY[name]
    a, b = rand(*shapes[0]), rand(*shapes[1], low=0.5, high=2.0)
    check(f(t(a, device), t(b, device)), ref(a, b), device, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_strided_and_scalar(device, name):
    f, ref = BINARY[name]
    a, b = rand(33, 17), rand(17, 33, low=0.5, high=2.0)
    x, y = t(a, device), t(b, device)
    check(f(x.t(), y), ref(a.T, b), device)
    check(f(x[::2], y.t()[::2]), ref(a[::2], b.T[::2]), device)
    # A 0-d CPU tensor combines with device tensors, as CPU scalars do with CUDA tensors.
    check(f(x, rg.tensor(1.5)), ref(a, np.float32(1.5)), device)


CMP = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
       "ge": np.greater_equal}


@pytest.mark.parametrize("name", sorted(CMP))
@pytest.mark.parametrize("shapes", SHAPES[1:4], ids=str)
def test_compare(device, name, shapes):
    a = np.round(rand(*shapes[0]))
    b = np.round(rand(*shapes[1]))
    r = getattr(rg, name)(t(a, device), t(b, device))
    assert r.dtype == rg.bool
    check(r, CMP[name](a, b), device)
    check(getattr(rg, name)(t(a, device), 0.0), CMP[name](a, 0.0), device)


@pytest.mark.parametrize("n", SIZES)
def test_where(device, n):
    c, a, b = rand(n) > 0, rand(n), rand(1)
    r = rg.where(t(c, device) > 0, t(a, device), t(b, device))
    check(r, np.where(c, a, b), device)
    check(rg.where(t(a, device) > 0, t(a, device), 0.0), np.where(a > 0, a, 0), device)


def test_logical(device):
    a, b = rand(65) > 0, rand(65) > 0
    x, y = t(a, device) > 0, t(b, device) > 0
    check(rg.logical_and(x, y), a & b, device)
    check(rg.logical_or(x, y), a | b, device)
    check(rg.logical_xor(x, y), a ^ b, device)
    check(x & y, a & b, device)


def test_strided_copies(device):
    a = rand(33, 17)
    x = t(a, device)
    for v, ref in ((x.t(), a.T), (x[:, 1::2], a[:, 1::2]), (x[5:9].t(), a[5:9].T),
                   (x[:1].expand(4, 17), np.broadcast_to(a[:1], (4, 17))), (x.t()[3:], a.T[3:])):
        c = v.contiguous()
        assert c.is_contiguous() and c.device.type == device
        check(c, ref, device)
        check(v.clone(), ref, device)
        check(v.reshape(-1), ref.reshape(-1), device)
    y = rg.zeros(17, 33, device=device)
    y.copy_(x.t())
    check(y, a.T, device)
    y.fill_(2.0)
    check(y, np.full((17, 33), 2.0), device)
    y.zero_()
    check(y, np.zeros((17, 33)), device)
    # copy_ across devices moves the data (as PyTorch's does).
    y.copy_(rg.tensor(a.T))
    check(y, a.T, device)
    y.copy_(rg.tensor(3))  # an int64 host scalar, converted on the host before the upload
    check(y, np.full((17, 33), 3.0), device)
    z = rg.zeros(33, 17)
    z.copy_(x)
    np.testing.assert_array_equal(z.numpy(), a)


def test_inplace_and_setitem(device):
    x = rg.arange(6.0, device=device).reshape(2, 3)
    x += 1
    x.mul_(2)
    x.relu_()
    x[:, 1] = 0
    x[0] = rg.tensor([7.0, 8.0, 9.0], device=device)
    x[1, 2] = 5.5
    check(x, [[7, 8, 9], [8, 0, 5.5]], device)
    import copy

    c = copy.deepcopy(x)
    assert c.device == x.device
    check(c, [[7, 8, 9], [8, 0, 5.5]], device)


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("n", SIZES + [5000])
def test_reduce_all(device, n):
    a = rand(n)
    x = t(a, device)
    check(x.sum(), a.sum(), device, rtol=1e-4, atol=1e-4)
    check(x.mean(), a.mean(), device, rtol=1e-4, atol=1e-5)
    check(x.amax(), a.max(), device)
    check(x.amin(), a.min(), device)
    check(x.max(), a.max(), device)


@pytest.mark.parametrize("shape", [(1, 1), (7, 65), (65, 7), (3, 300)], ids=str)
@pytest.mark.parametrize("dim", [-1, 0, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_reduce_dims(device, shape, dim, keepdim):
    a = rand(*shape)
    x = t(a, device)
    for v, ref in ((x, a), (x.t(), a.T)):
        check(v.sum(dim, keepdim=keepdim), ref.sum(dim, keepdims=keepdim), device, rtol=1e-4, atol=1e-5)
        check(v.mean(dim, keepdim=keepdim), ref.mean(dim, keepdims=keepdim), device, rtol=1e-4, atol=1e-5)
        check(v.amax(dim, keepdim=keepdim), ref.max(dim, keepdims=keepdim), device)
        check(v.amin(dim, keepdim=keepdim), ref.min(dim, keepdims=keepdim), device)


# ---------------------------------------------------------------- matmul


@pytest.mark.parametrize("shapes", [((33, 17), (17, 65)), ((1, 1), (1, 1)), ((2, 33, 17), (2, 17, 65)),
                                    ((3, 7, 5), (5, 9)), ((4, 1, 7, 5), (3, 5, 2)), ((17,), (17, 65)),
                                    ((33, 17), (17,)), ((17,), (17,))], ids=str)
def test_matmul(device, shapes):
    a, b = rand(*shapes[0]), rand(*shapes[1])
    check(t(a, device) @ t(b, device), a @ b, device, rtol=1e-4, atol=1e-4)


def test_mm_bmm_linear_transposed(device):
    a, b = rand(17, 33), rand(65, 17)
    x, y = t(a, device), t(b, device)
    check(rg.mm(x.t(), y.t()), a.T @ b.T, device, rtol=1e-4, atol=1e-4)
    p, q = rand(2, 17, 33), rand(2, 17, 9)
    check(rg.bmm(t(p, device).transpose(1, 2), t(q, device)), p.transpose(0, 2, 1) @ q, device, rtol=1e-4,
          atol=1e-4)
    w, bias = rand(9, 33), rand(9)
    check(F.linear(t(a, device), t(w, device), t(bias, device)), a @ w.T + bias, device, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- autograd: wgpu against the CPU


def _grads(fn, arrays, device):
    xs = [t(a, device, requires_grad=True) for a in arrays]
    y = fn(*xs)
    y.backward()
    for x in xs:
        assert x.grad is not None and x.grad.device.type == device
    return y.detach().cpu().numpy(), [x.grad.cpu().numpy() for x in xs]


GRAD_CASES = {
    "mlp": (lambda x, w, b: (x @ w + b).relu().sum(), [(33, 17), (17, 65), (65,)]),
    "linear_mean": (lambda x, w, b: F.linear(x, w, b).tanh().mean(), [(7, 17), (5, 17), (5,)]),
    "elementwise": (lambda x, y: ((x * y).sigmoid() + (x - y).exp() / (y * y + 1)).sum(), [(65,), (65,)]),
    "broadcast": (lambda x, y: (x * y - y.sqrt()).mean(), [(7, 65), (1, 65)]),
    "reduce_dims": (lambda x: (x.sum(0) * x.mean(-1, keepdim=True)).sum(), [(7, 33)]),
    "amax": (lambda x: x.amax(-1).sum() + x.amin(0).mean(), [(7, 33)]),
    "strided": (lambda x, w: (x.t() @ w[::2]).square().sum(), [(34, 7), (68, 5)]),
    "bmm": (lambda a, b: rg.bmm(a, b).abs().sum(), [(2, 9, 5), (2, 5, 65)]),
    "where_clamp": (lambda x: rg.where(x > 0, x * 3.0, x.clamp(-0.5, 0.5)).sum(), [(300,)]),
    "softmax": (lambda x: (F.softmax(x, -1) * rg.arange(33.0, device=x.device)).sum(), [(7, 33)]),
    "log_softmax": (lambda x: F.log_softmax(x, 0)[1].sum(), [(7, 33)]),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_cpu(wgpu, name):
    fn, shapes = GRAD_CASES[name]
    arrays = [rand(*s, low=0.1 if name == "broadcast" else -2.0) for s in shapes]
    yc, gc = _grads(fn, arrays, "cpu")
    yg, gg = _grads(fn, arrays, "wgpu")
    np.testing.assert_allclose(yg, yc, rtol=1e-4, atol=1e-4)
    for a, b in zip(gg, gc):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_grad_accumulates_on_device(wgpu):
    w = rg.ones(5, device="wgpu", requires_grad=True)
    for _ in range(3):
        (w * 2.0).sum().backward()
    assert w.grad.device.type == "wgpu"
    np.testing.assert_allclose(w.grad.cpu().numpy(), np.full(5, 6.0))


def test_transfer_is_differentiable(wgpu):
    x = rg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x.to("wgpu") * rg.tensor([1.0, 2.0, 3.0], device="wgpu")).relu().sum()
    y.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 3.0])


# ---------------------------------------------------------------- errors


def test_mixed_devices_raise(wgpu):
    g, c = rg.ones(3, device="wgpu"), rg.ones(3)
    msg = "Expected all tensors to be on the same device, but found at least two devices, wgpu:0 and cpu!"
    for f in (lambda: g + c, lambda: c * g, lambda: rg.where(g > 0, g, c), lambda: g.reshape(3, 1) @ c.reshape(1, 3),
              lambda: rg.maximum(c, g), lambda: rg.eq(g, c)):
        with pytest.raises(RuntimeError, match=msg):
            f()


def test_unwired_ops_raise_not_implemented(wgpu):
    x = rg.ones(2, 3, device="wgpu")
    cases = {
        "cumsum": lambda: rg.cumsum(x, 0),
        "sort": lambda: rg.sort(x, 1),
        "cat": lambda: rg.cat([x, x]),
        "convolution": lambda: F.conv2d(rg.ones(1, 1, 3, 3, device="wgpu"), rg.ones(1, 1, 2, 2, device="wgpu")),
        "erf": lambda: rg.erf(x),
        "remainder": lambda: x % 2.0,
    }
    for op, f in cases.items():
        with pytest.raises(NotImplementedError, match=f"aten::{op}.*wgpu device"):
            f()
    with pytest.raises(NotImplementedError, match="wgpu"):  # (its Python checks fail first)
        rg.index_select(x, 0, rg.tensor([0], device="wgpu"))
    with pytest.raises(NotImplementedError, match="Int.*wgpu"):
        rg.ones(3, dtype=rg.int32, device="wgpu") + 1
    with pytest.raises(NotImplementedError):
        x.long()


# ---------------------------------------------------------------- printing


def test_printing(wgpu):
    x = rg.tensor([[1.5, -2.0], [3.25, 4.0]])
    g = x.to("wgpu")
    assert repr(g) == repr(x)[:-1] + ", device='wgpu:0')"
    assert str(g) == repr(g)
    cpu = repr(rg.tensor([1, 2], dtype=rg.int32))
    assert repr(rg.tensor([1, 2], dtype=rg.int32, device="wgpu")) == cpu.replace("], ", "], device='wgpu:0', ", 1)
    r = repr(g.requires_grad_(True).sum())
    assert r.endswith("device='wgpu:0', grad_fn=<SumBackward0>)")


# ---------------------------------------------------------------- modules


def test_module_to(device):
    rg.manual_seed(0)
    m = rg.nn.Sequential(rg.nn.Linear(17, 33), rg.nn.ReLU(), rg.nn.Linear(33, 5))
    a = rand(7, 17)
    ref = m(rg.tensor(a)).detach().numpy()
    assert m.to(device) is m
    assert all(p.device.type == device for p in m.parameters())
    out = m(t(a, device))
    check(out, ref, device, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert all(p.grad.device.type == device for p in m.parameters())
    m.cpu()
    assert all(p.device.type == "cpu" for p in m.parameters())
    np.testing.assert_allclose(m(rg.tensor(a)).detach().numpy(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt", ["sgd", "sgd_nesterov", "adam", "adamw_amsgrad"])
def test_training_steps_match_cpu(wgpu, opt):
    make = {
        "sgd": lambda ps: rg.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2, dampening=0.1),
        "sgd_nesterov": lambda ps: rg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
        "adam": lambda ps: rg.optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
        "adamw_amsgrad": lambda ps: rg.optim.AdamW(ps, lr=1e-2, amsgrad=True),
    }[opt]
    a, target = rand(7, 17), rand(7, 5)
    results = []
    for device in ("cpu", "wgpu"):
        rg.manual_seed(0)
        m = rg.nn.Sequential(rg.nn.Linear(17, 33), rg.nn.Tanh(), rg.nn.Linear(33, 5)).to(device)
        o = make(list(m.parameters()))
        x, y = t(a, device), t(target, device)
        for _ in range(3):
            o.zero_grad()
            loss = ((m(x) - y) ** 2).mean()
            loss.backward()
            o.step()
        assert all(p.device.type == device for p in m.parameters())
        results.append([p.detach().cpu().numpy() for p in m.parameters()])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- the engine's batching


def test_steady_state_compiles_and_allocates_nothing(wgpu):
    x = rg.randn(33, 17, device="wgpu")
    w = rg.randn(17, 65, device="wgpu", requires_grad=True)
    b = rg.randn(65, device="wgpu", requires_grad=True)

    def step():
        w.grad = None
        b.grad = None
        y = (x @ w + b).relu().sum()
        y.backward()
        return y

    for _ in range(2):
        step().item()
    rg.wgpu.synchronize()
    rg.wgpu.reset_stats()
    y = step()
    s = rg.wgpu.stats()
    assert s["dispatches"] > 0
    assert s["pipelines_compiled"] == 0, s
    assert s["buffers_created"] == 0, s
    assert s["submits"] == 0, s  # nothing read yet: all of it sits in one open batch
    y.item()
    assert rg.wgpu.stats()["submits"] >= 1
