"""Fused cross entropy on wgpu (ops/cross_entropy.rs, shaders/cross_entropy*.wgsl): class-index
targets [N] or [N, d1, ...] with C at dim 1 go through one forward kernel and one backward
kernel. Values and gradients must match the CPU path (log_softmax + nll_loss composed) and torch
(where installed) for every reduction, class weights, ignore_index and label smoothing; the
create_graph path (the backward written in tensor ops) must match the CPU's double backward."""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F
from rustgrad import nn

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
FUSION = os.environ.get("RUSTGRAD_WGPU_FUSION", "1").strip() != "0"


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not rg.wgpu.is_available():
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


SHAPES = [(6, 5), (3, 4, 5), (2, 3, 2, 3), (1, 1)]
CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=2),
    dict(ignore_index=2, reduction="none"),
    dict(label_smoothing=0.2),
    dict(label_smoothing=0.3, reduction="none", ignore_index=1),
    dict(weight=True),
    dict(weight=True, ignore_index=0, reduction="sum"),
    dict(weight=True, label_smoothing=0.1, ignore_index=1),
    dict(weight=True, label_smoothing=0.25, reduction="none"),
]


def _data(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3).astype(np.float32)
    tshape = (shape[0],) + shape[2:]
    t = rng.integers(0, shape[1], size=tshape).astype(np.int64)
    w = rng.uniform(0.2, 2.0, size=shape[1]).astype(np.float32)
    return x, t, w


def _loss_and_grad(x, t, w, device, kw, gout_seed=1):
    xt = rg.tensor(x, device=device, requires_grad=True)
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = rg.tensor(w, device=device)
    loss = F.cross_entropy(xt, rg.tensor(t, device=device), **kw)
    g = np.random.default_rng(gout_seed).normal(size=tuple(loss.shape)).astype(np.float32)
    loss.backward(rg.tensor(g, device=device))
    return loss.detach().cpu().numpy(), xt.grad.cpu().numpy()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kw", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "mean")
def test_fused_matches_cpu(shape, kw):
    x, t, w = _data(shape)
    cl, cg = _loss_and_grad(x, t, w, "cpu", kw)
    dl, dg = _loss_and_grad(x, t, w, "wgpu", kw)
    assert dl.shape == cl.shape
    np.testing.assert_allclose(dl, cl, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dg, cg, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", CASES[:7] + CASES[9:], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "mean")
def test_fused_matches_torch(kw):
    torch = pytest.importorskip("torch")
    x, t, w = _data((4, 5, 3), seed=2)
    dl, dg = _loss_and_grad(x, t, w, "wgpu", kw)
    tkw = dict(kw)
    if tkw.pop("weight", False):
        tkw["weight"] = torch.tensor(w)
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(t), **tkw)
    g = np.random.default_rng(1).normal(size=tuple(loss.shape)).astype(np.float32)
    loss.backward(torch.tensor(g))
    np.testing.assert_allclose(dl, loss.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dg, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_module_and_all_ignored():
    x, t, _ = _data((4, 3))
    crit = nn.CrossEntropyLoss(ignore_index=7)
    out = crit(rg.tensor(x, device="wgpu"), rg.tensor(t, device="wgpu"))
    ref = crit(rg.tensor(x), rg.tensor(t))
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    # Every target ignored: the mean is 0/0 = NaN, as in PyTorch; sum is 0.
    tt = rg.full((4,), 7, dtype=rg.int64, device="wgpu")
    assert np.isnan(F.cross_entropy(rg.tensor(x, device="wgpu"), tt, ignore_index=7).item())
    assert F.cross_entropy(rg.tensor(x, device="wgpu"), tt, ignore_index=7, reduction="sum").item() == 0.0


def test_extreme_logits():
    """Large logits stay finite (max-subtracted); a row of -inf gives NaN like the CPU."""
    x = np.array([[1000.0, -1000.0, 0.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    t = np.array([0, 1], np.int64)
    for red in ("none",):
        d = F.cross_entropy(rg.tensor(x, device="wgpu"), rg.tensor(t, device="wgpu"), reduction=red).cpu().numpy()
        c = F.cross_entropy(rg.tensor(x), rg.tensor(t), reduction=red).numpy()
        np.testing.assert_allclose(d, c, rtol=1e-6)


def test_bad_target_raises():
    x, _, _ = _data((3, 4))
    t = rg.tensor(np.array([0, 9, 1], np.int64), device="wgpu")
    with pytest.raises((RuntimeError, IndexError), match="out of bounds"):
        F.cross_entropy(rg.tensor(x, device="wgpu"), t).item()
    # The engine is usable afterwards.
    assert np.isfinite(F.cross_entropy(rg.tensor(x, device="wgpu"), rg.zeros(3, dtype=rg.int64, device="wgpu")).item())


def test_shape_errors_match_cpu():
    x, t, w = _data((3, 4))
    for bad_t, bad_w in [(np.zeros(2, np.int64), None), (t, np.ones(3, np.float32))]:
        errs = []
        for dev in ("cpu", "wgpu"):
            with pytest.raises((RuntimeError, ValueError)) as e:
                F.cross_entropy(rg.tensor(x, device=dev), rg.tensor(bad_t, device=dev),
                                weight=None if bad_w is None else rg.tensor(bad_w, device=dev))
            errs.append((e.type, str(e.value)))
        assert errs[0] == errs[1]


@pytest.mark.parametrize("kw", [dict(), dict(weight=True, label_smoothing=0.2, ignore_index=1), dict(reduction="none")],
                         ids=["mean", "weighted-smoothed", "none"])
def test_double_backward_matches_cpu(kw):
    """create_graph: the gradient itself is differentiable (the tensor-op form of the backward)."""
    x, t, w = _data((3, 4, 2), seed=5)
    res = {}
    for dev in ("cpu", "wgpu"):
        xt = rg.tensor(x, device=dev, requires_grad=True)
        k = dict(kw)
        if k.pop("weight", False):
            k["weight"] = rg.tensor(w, device=dev)
        loss = F.cross_entropy(xt, rg.tensor(t, device=dev), **k)
        if loss.dim():
            loss = (loss * rg.arange(loss.numel(), dtype=rg.float32, device=dev).reshape(loss.shape)).sum()
        (gx,) = rg.autograd.grad(loss, xt, create_graph=True)
        v = rg.tensor(np.linspace(-1, 1, x.size).astype(np.float32).reshape(x.shape), device=dev)
        (ggx,) = rg.autograd.grad((gx * v).sum(), xt)
        res[dev] = (gx.detach().cpu().numpy(), ggx.cpu().numpy())
    np.testing.assert_allclose(res["wgpu"][0], res["cpu"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res["wgpu"][1], res["cpu"][1], rtol=1e-4, atol=1e-5)


def test_cpu_path_gradcheck_float64():
    """The CPU reference the fused kernels are checked against, by float64 gradcheck."""
    x, t, w = _data((3, 4, 2), seed=6)
    xt = rg.tensor(x.astype(np.float64), requires_grad=True)
    wt = rg.tensor(w.astype(np.float64))
    tt = rg.tensor(t)
    assert rg.autograd.gradcheck(
        lambda a: F.cross_entropy(a, tt, weight=wt, ignore_index=1, label_smoothing=0.2), (xt,))


@pytest.mark.skipif(not FUSION, reason="RUSTGRAD_WGPU_FUSION=0 composes the loss")
def test_dispatches():
    """Forward is one kernel; the backward one kernel (plus the loss gradient's seed fill)."""
    x, t, w = _data((16, 10))
    xt = rg.tensor(x, device="wgpu", requires_grad=True)
    tt = rg.tensor(t, device="wgpu")
    wt = rg.tensor(w, device="wgpu")
    for kw in (dict(), dict(weight=wt, label_smoothing=0.1, ignore_index=3)):
        rg.wgpu.synchronize()
        s0 = rg.wgpu.stats()["dispatches"]
        loss = F.cross_entropy(xt, tt, **kw)
        rg.wgpu.synchronize()
        s1 = rg.wgpu.stats()["dispatches"]
        loss.backward()
        rg.wgpu.synchronize()
        s2 = rg.wgpu.stats()["dispatches"]
        assert s1 - s0 == 1, s1 - s0
        assert s2 - s1 <= 2, s2 - s1
        xt.grad = None


# ---------------------------------------------------------------- long batches (two-pass reduction)
# A mean/sum over more rows than one workgroup's chunk (1024 rows) is folded as one partial per
# workgroup plus a second one-workgroup pass in a fixed order.

CHUNK = 1024
LONG_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(ignore_index=1),
    dict(weight=True, ignore_index=2, reduction="sum"),
    dict(weight=True, label_smoothing=0.2, ignore_index=0),
    dict(label_smoothing=0.1, reduction="sum"),
]


def _numpy_ce(x, t, w, ignore_index=-100, label_smoothing=0.0, reduction="mean", weight=False):
    """The loss in float64 NumPy: x [N, C, *], t [N, *]."""
    x = np.moveaxis(x.astype(np.float64), 1, -1).reshape(-1, x.shape[1])
    t = t.reshape(-1)
    c = x.shape[1]
    w = w.astype(np.float64) if weight else np.ones(c)
    m = x.max(axis=1, keepdims=True)
    logp = x - (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))
    valid = t != ignore_index
    tt = np.where(valid, t, 0)
    nll = -w[tt] * logp[np.arange(len(t)), tt]
    smooth = -(logp * w).sum(axis=1)
    per_row = np.where(valid, (1 - label_smoothing) * nll + label_smoothing / c * smooth, 0.0)
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / np.where(valid, w[tt], 0.0).sum()


def _long_data(shape, seed, ignore_index=None):
    x, t, w = _data(shape, seed)
    if ignore_index is not None:
        # About one row in ten ignored (ignore_index may also be a real class, which stays used).
        t = np.where(np.random.default_rng(seed + 1).random(t.shape) < 0.1, ignore_index, t)
    return x, t, w


@pytest.mark.parametrize("shape", [(5000, 3), (12, 3, 700)], ids=str)
@pytest.mark.parametrize("kw", LONG_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "mean")
def test_long_batch_matches_cpu_and_numpy(shape, kw):
    x, t, w = _long_data(shape, 3, kw.get("ignore_index"))
    cl, cg = _loss_and_grad(x, t, w, "cpu", kw)
    dl, dg = _loss_and_grad(x, t, w, "wgpu", kw)
    assert dl.shape == cl.shape == ()
    np.testing.assert_allclose(dl, cl, rtol=1e-5)
    np.testing.assert_allclose(dl, _numpy_ce(x, t, w, **kw), rtol=1e-5)
    # p - onehot cancels: absolute f32 rounding of the largest gradient entries.
    np.testing.assert_allclose(dg, cg, rtol=1e-5, atol=1e-6 * np.abs(cg).max())


def test_long_batch_matches_torch():
    torch = pytest.importorskip("torch")
    x, t, w = _long_data((5000, 3), 4, 1)
    kw = dict(weight=True, ignore_index=1, label_smoothing=0.15)
    dl, dg = _loss_and_grad(x, t, w, "wgpu", kw)
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w), ignore_index=1,
                                             label_smoothing=0.15)
    loss.backward(torch.tensor(np.random.default_rng(1).normal(size=()).astype(np.float32)))
    np.testing.assert_allclose(dl, loss.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(dg, xt.grad.numpy(), rtol=1e-5, atol=1e-6 * np.abs(dg).max())


@pytest.mark.parametrize("rows", [CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 256 * CHUNK + 5])
def test_chunk_boundaries(rows):
    """One chunk exactly, one row over it, and more partials (257) than the second pass's
    workgroup has invocations (256): the loss still matches NumPy (forward only; long rows)."""
    x, t, w = _long_data((rows, 2), rows, 0)
    xd, td = rg.tensor(x, device="wgpu"), rg.tensor(t, device="wgpu")
    for red in ("mean", "sum"):
        got = F.cross_entropy(xd, td, ignore_index=0, reduction=red).item()
        np.testing.assert_allclose(got, _numpy_ce(x, t, w, ignore_index=0, reduction=red), rtol=2e-5)


def test_long_batch_is_deterministic():
    """The partials are folded in a fixed order: every run gives the same bits."""
    x, t, w = _long_data((20000, 5), 7, 3)
    xd, td, wd = (rg.tensor(a, device="wgpu") for a in (x, t, w))
    for red in ("mean", "sum"):
        vals = {F.cross_entropy(xd, td, weight=wd, ignore_index=3, reduction=red).cpu().numpy().tobytes()
                for _ in range(4)}
        assert len(vals) == 1


@pytest.mark.skipif(not FUSION, reason="RUSTGRAD_WGPU_FUSION=0 composes the loss")
@pytest.mark.parametrize("rows,want", [(CHUNK, 1), (CHUNK + 1, 2), (5000, 2)])
def test_long_batch_dispatches(rows, want):
    """Up to one chunk the forward is one kernel; beyond it one more (the fold of the partials);
    the backward stays one kernel (plus the seed fill)."""
    x, t, _ = _long_data((rows, 3), 9)
    xt = rg.tensor(x, device="wgpu", requires_grad=True)
    tt = rg.tensor(t, device="wgpu")
    rg.wgpu.synchronize()
    s0 = rg.wgpu.stats()["dispatches"]
    loss = F.cross_entropy(xt, tt)
    rg.wgpu.synchronize()
    s1 = rg.wgpu.stats()["dispatches"]
    loss.backward()
    rg.wgpu.synchronize()
    s2 = rg.wgpu.stats()["dispatches"]
    assert s1 - s0 == want, s1 - s0
    assert s2 - s1 <= 2, s2 - s1
