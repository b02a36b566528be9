"""rustgrad.optim.lr_scheduler: lr sequences against hand-computed values (and PyTorch when present)."""

import math

import numpy as np
import pytest
import rustgrad
from conftest import requires_torch, torch
from rustgrad.optim import SGD, Adam
from rustgrad.optim import lr_scheduler as L


def make_opt(lr=1.0, cls=SGD, **kw):
    p = rustgrad.tensor([1.0], requires_grad=True)
    return cls([p], lr=lr, **kw)


def lrs(opt, sched, n):
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_steplr():
    opt = make_opt()
    s = L.StepLR(opt, step_size=2, gamma=0.1)
    np.testing.assert_allclose(lrs(opt, s, 6), [1, 1, 0.1, 0.1, 0.01, 0.01])
    assert s.get_last_lr() == [opt.param_groups[0]["lr"]]
    assert opt.param_groups[0]["initial_lr"] == 1.0
    assert s.last_epoch == 6


def test_multisteplr_exponential():
    opt = make_opt()
    s = L.MultiStepLR(opt, milestones=[2, 5], gamma=0.5)
    np.testing.assert_allclose(lrs(opt, s, 7), [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    opt = make_opt(0.5)
    s = L.ExponentialLR(opt, gamma=0.9)
    np.testing.assert_allclose(lrs(opt, s, 4), [0.5 * 0.9**i for i in range(4)])


def test_cosine_annealing():
    opt = make_opt(0.1)
    s = L.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    got = lrs(opt, s, 11)
    # Within the first period the recursive form equals the closed form.
    exp = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(6)]
    np.testing.assert_allclose(got[:6], exp, rtol=1e-12)
    # Then it climbs back up (PyTorch's recursive form is periodic with period 2*T_max).
    np.testing.assert_allclose(got[6:11], exp[::-1][1:], rtol=1e-10)


def test_lambda_and_multiplicative():
    opt = make_opt(2.0)
    s = L.LambdaLR(opt, lambda e: 1.0 / (e + 1))
    np.testing.assert_allclose(lrs(opt, s, 4), [2.0, 1.0, 2 / 3, 0.5])
    opt = make_opt(1.0)
    s = L.MultiplicativeLR(opt, lambda e: 0.5)
    np.testing.assert_allclose(lrs(opt, s, 4), [1, 0.5, 0.25, 0.125])
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        L.LambdaLR(make_opt(), [lambda e: 1, lambda e: 1])


def test_linear_constant():
    opt = make_opt(1.0)
    s = L.LinearLR(opt, start_factor=0.5, end_factor=1.0, total_iters=4)
    np.testing.assert_allclose(lrs(opt, s, 6), [0.5, 0.625, 0.75, 0.875, 1.0, 1.0], rtol=1e-12)
    opt = make_opt(1.0)
    s = L.ConstantLR(opt, factor=0.5, total_iters=2)
    np.testing.assert_allclose(lrs(opt, s, 4), [0.5, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError):
        L.ConstantLR(make_opt(), factor=2.0)


def test_onecycle_cos_and_momentum():
    opt = make_opt(cls=SGD, momentum=0.9)
    s = L.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    got, mom = [], []
    for _ in range(10):
        got.append(opt.param_groups[0]["lr"])
        mom.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(got) < 10:
            s.step()
    assert got[0] == pytest.approx(1.0 / 25)
    assert max(got) == pytest.approx(1.0) and got.index(max(got)) == 2
    assert got[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert mom[0] == pytest.approx(0.95) and mom[2] == pytest.approx(0.85) and mom[-1] == pytest.approx(0.95)
    # Warm-up phase: cosine from initial_lr to max_lr over steps 0..2.
    assert got[1] == pytest.approx(1.0 + (0.04 - 1.0) / 2 * (math.cos(math.pi * 0.5) + 1))
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        s.step()
        s.step()


def test_onecycle_linear_three_phase_adam_betas():
    opt = make_opt(cls=Adam)
    s = L.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="linear", three_phase=True)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95)
    s.step()
    s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    assert opt.param_groups[0]["betas"] == (pytest.approx(0.85), 0.999)


def test_reduce_on_plateau():
    opt = make_opt(1.0)
    s = L.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    out = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]:
        s.step(m)
        out.append(opt.param_groups[0]["lr"])
    # 2 bad epochs -> reduce; 1 cooldown epoch; then 2 bad -> reduce; floor at min_lr.
    assert out == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert s.get_last_lr() == [0.25]
    opt = make_opt(1.0)
    s = L.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs", min_lr=0.2)
    for m in [1.0, 1.05, 1.2]:
        s.step(m)
    # 1.05 is not better than 1.0 + 0.1 (abs) -> reduce at once (patience 0), floored at min_lr.
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(make_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown"):
        L.ReduceLROnPlateau(make_opt(), mode="foo")


def test_scheduler_state_dict_round_trip():
    opt = make_opt()
    s = L.StepLR(opt, step_size=2, gamma=0.1)
    lrs(opt, s, 3)
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3
    opt2 = make_opt()
    s2 = L.StepLR(opt2, step_size=5, gamma=0.5)
    s2.load_state_dict(sd)
    assert s2.step_size == 2 and s2.last_epoch == 3 and s2.get_last_lr() == s.get_last_lr()


def test_sequential_and_warm_restarts():
    opt = make_opt(1.0)
    s = L.SequentialLR(opt, [L.ConstantLR(opt, factor=0.5, total_iters=2), L.ExponentialLR(opt, gamma=0.5)],
                       milestones=[2])
    np.testing.assert_allclose(lrs(opt, s, 5), [0.5, 0.5, 1.0, 0.5, 0.25])
    opt = make_opt(1.0)
    s = L.CosineAnnealingWarmRestarts(opt, T_0=2)
    np.testing.assert_allclose(lrs(opt, s, 5), [1.0, 0.5, 1.0, 0.5, 1.0], atol=1e-12)


def test_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        L.StepLR(object(), 1)
    opt = make_opt()
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(opt, 1, last_epoch=3)


@requires_torch
@pytest.mark.parametrize("name,kw", [("StepLR", {"step_size": 3, "gamma": 0.5}),
                                     ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.1}),
                                     ("LinearLR", {"start_factor": 0.25, "total_iters": 3}),
                                     ("OneCycleLR", {"max_lr": 2.0, "total_steps": 12}),
                                     ("OneCycleLR", {"max_lr": 2.0, "total_steps": 12, "three_phase": True,
                                                     "anneal_strategy": "linear"})])
def test_parity_with_torch(name, kw):
    opt = make_opt(1.0, momentum=0.9)
    s = getattr(L, name)(opt, **kw)
    tp = torch.tensor([1.0], requires_grad=True)
    topt = torch.optim.SGD([tp], lr=1.0, momentum=0.9)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(11):
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-12)
        opt.step()
        topt.step()
        s.step()
        ts.step()
