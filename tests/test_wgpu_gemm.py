"""The wgpu GEMM kernels: every matmul tile variant (small / mid / big, and the legacy kernel) against
NumPy for odd shapes, K not a multiple of the tile, batched and broadcast batches, transposed,
strided and offset operands (the vec4 and scalar load paths) and zero sizes; the fused bias +
activation epilogue (``rustgrad.wgpu.fused_linear`` / ``fused_addmm``, ``F.linear``, ``addmm``)
forward and backward against the CPU; the implicit-GEMM convolution forward, input gradient and
weight gradient (with its split-K reduction) against the CPU for strides, padding, dilation, groups,
1x1 and non-square kernels; and the tuning cache. Sizes stay tiny (lavapipe).

Skips when no adapter exists, unless RUSTGRAD_REQUIRE_WGPU=1 (CI), which makes that a failure.
"""

import json
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

VARIANTS = ["small", "mid", "big", "legacy", None]


@pytest.fixture
def variant(request):
    prev = rg.wgpu.matmul_variant(request.param)
    yield request.param
    rg.wgpu.matmul_variant(prev)


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def gpu(a):
    return rg.tensor(a, device="wgpu")


def close(got, want, tol=1e-4):
    got = got.detach().cpu().numpy() if hasattr(got, "detach") else got
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0.0))))


SHAPES = [(1, 1, 1), (3, 5, 7), (63, 17, 65), (64, 64, 64), (65, 33, 63), (127, 9, 129),
          (129, 130, 127), (257, 3, 1), (1, 257, 129), (5, 1, 257)]


@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
def test_matmul_odd_shapes_each_variant(variant):
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        a, b = rand(rng, m, k), rand(rng, k, n)
        close(gpu(a) @ gpu(b), a @ b)


@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
def test_matmul_transposed_strided_batched(variant):
    rng = np.random.default_rng(1)
    a, b = rand(rng, 36, 20), rand(rng, 24, 36)
    ga, gb = gpu(a), gpu(b)
    # Transposed operands (read through strides, no copy): A^T @ B^T, A^T with k-contiguous B.
    close(ga.t() @ gb.t(), a.T @ b.T)
    close(gb @ ga, b @ a)
    close(ga[:, :16].t() @ ga[:, 4:12], a[:, :16].T @ a[:, 4:12])
    # Offsets that break vec4 alignment, and step slices.
    close(ga[1:, 1:] @ gpu(b[1:20, :]), a[1:, 1:] @ b[1:20, :])
    close(ga[::2, ::3] @ gb[:7, ::2], a[::2, ::3] @ b[:7, ::2])
    # Linear's case: x @ W^T with W row-major (B contiguous along k).
    w = rand(rng, 12, 20)
    close(ga @ gpu(w).t(), a @ w.T)
    # Batched, with a broadcast batch dim and a transposed batched operand.
    x, y = rand(rng, 3, 1, 9, 10), rand(rng, 4, 10, 6)
    close(gpu(x) @ gpu(y), x @ y)
    z = rand(rng, 4, 6, 10)
    close(gpu(x) @ gpu(z).transpose(1, 2), x @ z.transpose(0, 2, 1))
    close(rg.bmm(gpu(y).transpose(1, 2), gpu(z).transpose(1, 2)), y.transpose(0, 2, 1) @ z.transpose(0, 2, 1))


@pytest.mark.parametrize("variant", VARIANTS, indirect=True)
def test_matmul_zero_sizes(variant):
    for m, k, n in [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)]:
        out = gpu(np.ones((m, k), np.float32)) @ gpu(np.ones((k, n), np.float32))
        assert tuple(out.shape) == (m, n)
        np.testing.assert_array_equal(out.cpu().numpy(), np.zeros((m, n), np.float32))
    out = gpu(np.ones((2, 0, 3), np.float32)) @ gpu(np.ones((2, 3, 5), np.float32))
    assert tuple(out.shape) == (2, 0, 5)


def test_matmul_heuristic_picks_by_size():
    rg.wgpu.clear_matmul_tuning()  # a cached table from an earlier tuning run would decide instead
    assert rg.wgpu.matmul_tile(8, 8) == "small"
    assert rg.wgpu.matmul_tile(32, 20000) == "small", "a 32-row output fills no larger tile"
    assert rg.wgpu.matmul_tile(4096, 4096) in ("big", "mid", "small")
    prev = rg.wgpu.matmul_variant("legacy")
    try:
        assert rg.wgpu.matmul_tile(4096, 4096) == "legacy"
    finally:
        rg.wgpu.matmul_variant(prev)
    with pytest.raises(ValueError, match="unknown matmul variant"):
        rg.wgpu.matmul_variant("huge")


ACTS = [None, "relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]


def _composite(x, w, b, act):
    y = F.linear(x, w, b)
    if act is None:
        return y
    if act == "gelu_tanh":
        return F.gelu(y, approximate="tanh")
    return getattr(F, act)(y) if act != "tanh" else y.tanh()


def _leaves(arrays, device):
    return [None if a is None else rg.tensor(a, device=device, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("variant", ["small", "big", None], indirect=True)
def test_fused_linear_forward_backward(act, variant):
    rng = np.random.default_rng(2)
    x, w, b = rand(rng, 2, 5, 33), rand(rng, 19, 33), rand(rng, 19)
    up = rand(rng, 2, 5, 19)
    cx, cw, cb = _leaves([x, w, b], "cpu")
    want = _composite(cx, cw, cb, act)
    (want * rg.tensor(up)).sum().backward()
    gx, gw, gb = _leaves([x, w, b], "wgpu")
    got = rg.wgpu.fused_linear(gx, gw, gb, act)
    assert got.device.type == "wgpu" and tuple(got.shape) == (2, 5, 19)
    (got * gpu(up)).sum().backward()
    close(got, want.detach().numpy())
    for g, c in [(gx, cx), (gw, cw), (gb, cb)]:
        close(g.grad, c.grad.numpy())
    # The CPU form of the same call is the composition.
    close(rg.wgpu.fused_linear(cx, cw, cb, act), want.detach().numpy(), tol=1e-6)


def test_fused_linear_records_one_node_and_one_dispatch():
    rng = np.random.default_rng(3)
    x = rg.tensor(rand(rng, 4, 8), device="wgpu")
    w = rg.tensor(rand(rng, 6, 8), device="wgpu", requires_grad=True)
    b = rg.tensor(rand(rng, 6), device="wgpu", requires_grad=True)
    rg.wgpu.synchronize()
    rg.wgpu.reset_stats()
    y = rg.wgpu.fused_linear(x, w, b, "relu")
    assert rg.wgpu.stats()["dispatches"] == 1
    assert y.grad_fn.name() == "AddmmBackward0"
    # F.linear on the device adds its bias in the epilogue too.
    rg.wgpu.reset_stats()
    F.linear(x, w, b)
    assert rg.wgpu.stats()["dispatches"] == 1


def test_fused_linear_bias_free_and_vector_input():
    rng = np.random.default_rng(4)
    x, w = rand(rng, 7), rand(rng, 3, 7)
    close(rg.wgpu.fused_linear(gpu(x), gpu(w), None, "relu"), np.maximum(w @ x, 0))
    with pytest.raises(ValueError, match="unknown fused activation"):
        rg.wgpu.fused_linear(gpu(x), gpu(w), None, "softplus")


@pytest.mark.parametrize("bias_shape", [(6,), (1, 6), (5, 1), (5, 6), ()])
def test_addmm_broadcast_bias_forward_backward(bias_shape):
    rng = np.random.default_rng(5)
    inp, m1, m2 = rand(rng, *bias_shape), rand(rng, 5, 9), rand(rng, 9, 6)
    up = rand(rng, 5, 6)
    c = _leaves([inp, m1, m2], "cpu")
    want = rg.addmm(*c)
    (want * rg.tensor(up)).sum().backward()
    g = _leaves([inp, m1, m2], "wgpu")
    got = rg.addmm(*g)
    (got * gpu(up)).sum().backward()
    close(got, want.detach().numpy())
    for gt, ct in zip(g, c):
        assert tuple(gt.grad.shape) == tuple(ct.grad.shape)
        close(gt.grad, ct.grad.numpy())
    act = rg.wgpu.fused_addmm(g[0], g[1], g[2], "tanh")
    close(act, np.tanh(want.detach().numpy()))
    # beta/alpha other than 1 take the composite path and still agree.
    close(rg.addmm(g[0], g[1], g[2], beta=0.5, alpha=2.0),
          rg.addmm(c[0], c[1], c[2], beta=0.5, alpha=2.0).detach().numpy())


def test_fused_linear_double_backward_relu_and_silu():
    rng = np.random.default_rng(6)
    for act in ["sigmoid", "silu"]:
        res = []
        for dev in ["cpu", "wgpu"]:
            x = rg.tensor(rand(rng, 3, 4) if dev == "cpu" else res[0][0], device=dev, requires_grad=True)
            w = rg.tensor(rand(rng, 2, 4) if dev == "cpu" else res[0][1], device=dev)
            y = rg.wgpu.fused_linear(x, w, None, act)
            (gx,) = rg.autograd.grad(y.sum(), [x], create_graph=True)
            (ggx,) = rg.autograd.grad((gx * gx).sum(), [x])
            res.append((x.detach().cpu().numpy(), w.cpu().numpy(), gx.detach().cpu().numpy(),
                        ggx.cpu().numpy()))
        close(res[1][2], res[0][2])
        close(res[1][3], res[0][3])


CONVS = [
    # (n, c, h, w, o, kh, kw, stride, padding, dilation, groups)
    (2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1),
    (1, 4, 9, 8, 6, 3, 2, (2, 1), (1, 0), (1, 2), 2),
    (3, 2, 5, 5, 4, 1, 1, 1, 0, 1, 1),          # pointwise
    (2, 4, 6, 7, 4, 1, 1, 2, 0, 1, 4),          # strided 1x1, depthwise
    (2, 6, 8, 8, 9, 5, 3, (1, 2), (2, 1), 1, 3),  # non-square, groups 3
    (1, 1, 4, 4, 1, 4, 4, 1, 0, 1, 1),          # kernel = image
    (9, 2, 12, 12, 3, 3, 3, 1, 1, 1, 1),        # K = n*L large enough to split the weight grad
]


def _conv(dev, arrays, cfg, bias):
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = cfg
    x, wt, b, up = arrays
    lx = rg.tensor(x, device=dev, requires_grad=True)
    lw = rg.tensor(wt, device=dev, requires_grad=True)
    lb = rg.tensor(b, device=dev, requires_grad=True) if bias else None
    y = F.conv2d(lx, lw, lb, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (y * rg.tensor(up, device=dev)).sum().backward()
    grads = [lx.grad, lw.grad] + ([lb.grad] if bias else [])
    return y, grads


@pytest.mark.parametrize("cfg", CONVS)
@pytest.mark.parametrize("variant", ["small", None], indirect=True)
def test_conv2d_implicit_gemm_matches_cpu(cfg, variant):
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(7)
    x, wt, b = rand(rng, n, c, h, w), rand(rng, o, c // groups, kh, kw), rand(rng, o)
    probe = F.conv2d(rg.tensor(x), rg.tensor(wt), None, stride=stride, padding=padding, dilation=dilation,
                     groups=groups)
    up = rand(rng, *probe.shape)
    for bias in (True, False):
        cy, cg = _conv("cpu", (x, wt, b, up), cfg, bias)
        gy, gg = _conv("wgpu", (x, wt, b, up), cfg, bias)
        close(gy, cy.detach().numpy())
        for g, want in zip(gg, cg):
            close(g, want.numpy())


def test_conv2d_is_one_dispatch_per_kernel():
    rng = np.random.default_rng(8)
    x = rg.tensor(rand(rng, 2, 3, 8, 8), device="wgpu", requires_grad=True)
    w = rg.tensor(rand(rng, 4, 3, 3, 3), device="wgpu", requires_grad=True)
    b = rg.tensor(rand(rng, 4), device="wgpu")
    rg.wgpu.synchronize()
    rg.wgpu.reset_stats()
    F.conv2d(x, w, b, padding=1)
    # Implicit GEMM with the bias in the epilogue: no im2col pass, no separate bias add.
    assert rg.wgpu.stats()["dispatches"] == 1


def test_conv_transpose2d_matches_cpu():
    rng = np.random.default_rng(9)
    x, wt, b = rand(rng, 2, 4, 5, 4), rand(rng, 4, 3, 3, 2), rand(rng, 3)
    res = []
    for dev in ["cpu", "wgpu"]:
        lx = rg.tensor(x, device=dev, requires_grad=True)
        lw = rg.tensor(wt, device=dev, requires_grad=True)
        y = F.conv_transpose2d(lx, lw, rg.tensor(b, device=dev), stride=2, padding=1, output_padding=1)
        y.square().sum().backward()
        res.append([y.detach().cpu().numpy(), lx.grad.cpu().numpy(), lw.grad.cpu().numpy()])
    for g, c in zip(res[1], res[0]):
        close(g, c)


def test_tuning_writes_cache_and_ignores_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        r = rg.wgpu.tune_matmul(quick=True)
        assert set(r["classes"]) == {"s", "m", "l"}
        for row in r["classes"].values():
            assert row["winner"] in ("small", "mid", "big")
            assert set(row["seconds"]) == {"small", "mid", "big"}
        path = r["path"]
        assert path and path.startswith(str(tmp_path))
        table = json.loads(open(path).read())
        assert table == {c: row["winner"] for c, row in r["classes"].items()}
        # Products still match NumPy under the tuned table.
        rng = np.random.default_rng(10)
        a, b = rand(rng, 70, 30), rand(rng, 30, 90)
        close(gpu(a) @ gpu(b), a @ b)
    finally:
        rg.wgpu.clear_matmul_tuning()


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "silu"])
def test_fused_conv2d_forward_backward(act):
    rng = np.random.default_rng(11)
    x, wt, b = rand(rng, 2, 4, 6, 5), rand(rng, 6, 2, 3, 3), rand(rng, 6)
    up = rand(rng, 2, 6, 3, 5)
    res = []
    for dev in ["cpu", "wgpu"]:
        leaves = _leaves([x, wt, b], dev)
        rg.wgpu.synchronize()
        rg.wgpu.reset_stats()
        y = rg.wgpu.fused_conv2d(*leaves, stride=(2, 1), padding=1, groups=2, activation=act)
        if dev == "wgpu" and act != "silu":
            assert rg.wgpu.stats()["dispatches"] == 1, "bias and activation fused into the conv"
        ref = F.conv2d(*leaves, stride=(2, 1), padding=1, groups=2)
        ref = ref.tanh() if act == "tanh" else getattr(F, act)(ref)
        close(y, ref.detach().cpu().numpy())
        (y * rg.tensor(up, device=dev)).sum().backward()
        res.append([y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in leaves])
    for g, c in zip(res[1], res[0]):
        close(g, c)
