"""rustgrad.autocast / amp.autocast / cpu.amp.autocast on the CPU, and amp.GradScaler: op lists,
dtype results against torch, nesting and disabling, errors, and a mixed-precision training loop."""

import warnings

import numpy as np
import pytest
import rustgrad as rg
from conftest import requires_torch, torch

F = rg.nn.functional


def test_aliases():
    assert rg.autocast is rg.amp.autocast
    assert issubclass(rg.cpu.amp.autocast, rg.amp.autocast)
    assert issubclass(rg.cpu.amp.GradScaler, rg.amp.GradScaler)


def test_lower_precision_ops_run_in_bfloat16_inside_only():
    a, b = rg.randn(4, 3), rg.randn(3, 2)
    w, x = rg.randn(2, 3), rg.randn(1, 3, 5, 5)
    k = rg.randn(2, 3, 3, 3)
    with rg.autocast(device_type="cpu", dtype=rg.bfloat16):
        assert rg.is_autocast_enabled("cpu") and rg.get_autocast_dtype("cpu") == rg.bfloat16
        assert (a @ b).dtype == rg.bfloat16 and rg.mm(a, b).dtype == rg.bfloat16
        assert F.linear(a, w).dtype == rg.bfloat16 and rg.nn.Linear(3, 2)(a).dtype == rg.bfloat16
        assert F.conv2d(x, k).dtype == rg.bfloat16 and rg.nn.Conv1d(3, 2, 3)(rg.randn(3, 7)).dtype == rg.bfloat16
        assert rg.bmm(a[None], b[None]).dtype == rg.bfloat16
        # Not on a list: normal promotion (bf16 result + f32 tensor is f32); f64 is left alone.
        assert ((a @ b) + rg.randn(4, 2)).dtype == rg.float32
        assert (a.double() @ b.double()).dtype == rg.float64
        assert (a + a).dtype == rg.float32
        # float32 ops cast lower-precision inputs up.
        assert F.mse_loss(a.bfloat16(), a.bfloat16()).dtype == rg.float32
        assert F.cross_entropy((a @ b), rg.tensor([0, 1, 1, 0])).dtype == rg.float32
        assert rg.prod(a.bfloat16()).dtype == rg.float32
    assert not rg.is_autocast_enabled("cpu")
    assert (a @ b).dtype == rg.float32 and F.mse_loss(a.bfloat16(), a.bfloat16()).dtype == rg.bfloat16


def test_float16_nesting_and_disable():
    a = rg.randn(2, 2)
    with rg.amp.autocast("cpu", dtype=rg.float16):
        assert (a @ a).dtype == rg.float16
        with rg.autocast("cpu", enabled=False):
            assert not rg.is_autocast_enabled("cpu") and (a @ a).dtype == rg.float32
        assert (a @ a).dtype == rg.float16
    assert (a @ a).dtype == rg.float32


def test_decorator_and_default_dtype():
    @rg.autocast("cpu")
    def f(x):
        return x @ x

    assert f(rg.randn(2, 2)).dtype == rg.bfloat16
    assert rg.get_autocast_dtype("cpu") == rg.bfloat16


def test_cpu_amp_alias_warns():
    with pytest.warns(FutureWarning, match="torch.amp.autocast"):
        ctx = rg.cpu.amp.autocast()
    with ctx:
        assert (rg.randn(2, 2) @ rg.randn(2, 2)).dtype == rg.bfloat16


def test_errors_and_unsupported():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        rg.autocast(1)
    with pytest.raises(RuntimeError, match="device type at start of device string: foo"):
        rg.autocast("foo")
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        ctx = rg.autocast("cpu", dtype=rg.float32)
    with ctx:
        assert not rg.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="Disabling autocast"):
        ctx = rg.autocast("cuda")
    with ctx:
        assert (rg.randn(2, 2) @ rg.randn(2, 2)).dtype == rg.float32


def test_autocast_backward_gives_param_dtype_grads():
    lin = rg.nn.Linear(3, 2)
    with rg.autocast("cpu"):
        out = lin(rg.randn(4, 3))
        loss = F.mse_loss(out, rg.zeros(4, 2))
    assert out.dtype == rg.bfloat16 and loss.dtype == rg.float32
    loss.backward()
    assert lin.weight.grad.dtype == rg.float32 and lin.bias.grad.dtype == rg.float32


@requires_torch
def test_autocast_dtypes_match_torch():
    A = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    a, ta = rg.from_numpy(A), torch.from_numpy(A)
    cases = [
        lambda m, x: x @ x.T, lambda m, x: m.nn.functional.linear(x, x), lambda m, x: x @ x.T + x.sum(),
        lambda m, x: m.nn.functional.mse_loss(x.bfloat16(), x.bfloat16()), lambda m, x: x.double() @ x.double().T,
        lambda m, x: x.bfloat16().sum(), lambda m, x: m.nn.functional.l1_loss(x @ x.T, x @ x.T),
    ]
    for f in cases:
        with rg.autocast("cpu"):
            got = f(rg, a)
        with torch.autocast("cpu"):
            want = f(torch, ta)
        assert repr(got.dtype) == repr(want.dtype)
        np.testing.assert_allclose(got.float().detach().numpy(), want.float().detach().numpy(), rtol=2e-2, atol=2e-2)


# ------------------------------------------------------------------------------ GradScaler
def _model():
    rg.manual_seed(0)
    return rg.nn.Sequential(rg.nn.Linear(4, 8), rg.nn.ReLU(), rg.nn.Linear(8, 1))


def test_grad_scaler_scale_unscale_step_update():
    m = _model()
    opt = rg.optim.SGD(m.parameters(), lr=0.1)
    s = rg.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
    x, y = rg.randn(5, 4), rg.randn(5, 1)
    loss = F.mse_loss(m(x), y)
    scaled = s.scale(loss)
    assert scaled.item() == pytest.approx(loss.item() * 1024.0, rel=1e-6)
    scaled.backward()
    g_scaled = m[0].weight.grad.clone()
    s.unscale_(opt)
    np.testing.assert_allclose(m[0].weight.grad.numpy(), g_scaled.numpy() / 1024.0, rtol=1e-6)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        s.unscale_(opt)
    w0 = m[0].weight.detach().clone()
    s.step(opt)
    assert not np.allclose(m[0].weight.detach().numpy(), w0.numpy())
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    s.update()
    assert s.get_scale() == 1024.0
    # Two clean steps in a row grow the scale once growth_interval is reached.
    opt.zero_grad()
    s.scale(F.mse_loss(m(x), y)).backward()
    s.step(opt)
    s.update()
    assert s.get_scale() == 2048.0
    assert s.state_dict() == {"scale": 2048.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2,
                              "_growth_tracker": 0}


def test_grad_scaler_skips_step_on_inf_and_backs_off():
    m = _model()
    opt = rg.optim.SGD(m.parameters(), lr=0.1)
    s = rg.amp.GradScaler("cpu", init_scale=8.0)
    s.scale(F.mse_loss(m(rg.randn(3, 4)), rg.randn(3, 1))).backward()
    m[2].bias.grad.fill_(float("inf"))
    before = [p.detach().clone() for p in m.parameters()]
    assert s.step(opt) is None
    for p, b in zip(m.parameters(), before):
        assert p.detach().tolist() == b.tolist()
    s.update()
    assert s.get_scale() == 4.0
    s2 = rg.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        s2.update()


def test_grad_scaler_disabled_and_cuda():
    with pytest.warns(UserWarning, match="Disabling"):
        s = rg.amp.GradScaler()  # PyTorch's default device is cuda, absent here
    assert not s.is_enabled() and s.get_scale() == 1.0
    t = rg.tensor(2.0)
    assert s.scale(t) is t and s.state_dict() == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rg.amp.GradScaler("cpu", enabled=False).get_scale() == 1.0
    with pytest.raises(RuntimeError, match="state dict is empty"):
        rg.amp.GradScaler("cpu").load_state_dict({})


@requires_torch
def test_grad_scaler_matches_torch_sequence():
    """Scale trajectory over a run with injected overflows, against torch's GradScaler."""
    ours = rg.amp.GradScaler("cpu", init_scale=16.0, growth_interval=3)
    theirs = torch.amp.GradScaler("cpu", init_scale=16.0, growth_interval=3)
    p, tp = rg.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    o, to = rg.optim.SGD([p], lr=0.1), torch.optim.SGD([tp], lr=0.1)
    for step in range(10):
        bad = step in (2, 7)
        for scaler, opt, x in ((ours, o, p), (theirs, to, tp)):
            opt.zero_grad()
            scaler.scale((x * 3.0).sum()).backward()
            if bad:
                x.grad.fill_(float("nan"))
            scaler.step(opt)
            scaler.update()
        assert ours.get_scale() == theirs.get_scale()
        assert p.detach().tolist() == pytest.approx(tp.detach().tolist())


def test_mixed_precision_training_loop_learns():
    rg.manual_seed(0)
    x = rg.randn(64, 4)
    y = x @ rg.tensor([[1.0], [-2.0], [0.5], [3.0]])
    m = rg.nn.Linear(4, 1)
    opt = rg.optim.SGD(m.parameters(), lr=0.05)
    scaler = rg.amp.GradScaler("cpu")
    first = None
    for _ in range(60):
        opt.zero_grad()
        with rg.autocast("cpu", dtype=rg.bfloat16):
            loss = F.mse_loss(m(x), y)
        first = loss.item() if first is None else first
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert m.weight.dtype == rg.float32
    assert loss.item() < first * 0.05
