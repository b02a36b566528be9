"""rustgrad.optim: each optimizer against a NumPy transcription of PyTorch's update rule."""

import numpy as np
import pytest
import rustgrad
from conftest import requires_torch, torch
from rustgrad import optim

RNG = np.random.default_rng(0)
P0 = RNG.standard_normal((3, 4))
GRADS = [RNG.standard_normal((3, 4)) for _ in range(4)]


def run_rg(cls, dtype=np.float64, **kw):
    p = rustgrad.tensor(P0.astype(dtype), requires_grad=True)
    opt = cls([p], **kw)
    for g in GRADS:
        p.grad = rustgrad.tensor(g.astype(dtype))
        opt.step()
    return p.detach().numpy(), opt


def ref_sgd(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    p, buf = P0.copy(), None
    for g in GRADS:
        g = -g if maximize else g.copy()
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def ref_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False, decoupled=False):
    p = P0.copy()
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(GRADS, 1):
        g = -g if maximize else g.copy()
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = m + (1 - betas[0]) * (g - m)
        v = betas[1] * v + (1 - betas[1]) * g * g
        bc1, bc2 = 1 - betas[0] ** t, 1 - betas[1] ** t
        if amsgrad:
            vmax = np.maximum(vmax, v)
            denom = np.sqrt(vmax) / np.sqrt(bc2) + eps
        else:
            denom = np.sqrt(v) / np.sqrt(bc2) + eps
        p = p - lr / bc1 * m / denom
    return p


def ref_adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False):
    p = P0.copy()
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(GRADS, 1):
        g = (-g if maximize else g) + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    p = P0.copy()
    sq, acc = np.zeros_like(p), np.zeros_like(p)
    for g in GRADS:
        g = (-g if maximize else g) + weight_decay * p
        sq = sq * rho + (1 - rho) * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc = acc * rho + (1 - rho) * delta * delta
        p = p - lr * delta
    return p


def ref_rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    p = P0.copy()
    sq, buf, ga = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in GRADS:
        g = (-g if maximize else g) + weight_decay * p
        sq = sq * alpha + (1 - alpha) * g * g
        if centered:
            ga = ga + (1 - alpha) * (g - ga)
            avg = np.sqrt(sq - ga * ga) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = buf * momentum + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


SGD_CASES = [
    {},
    {"lr": 0.1},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "momentum": 0.9, "maximize": True},
]


@pytest.mark.parametrize("kw", SGD_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd(kw, dtype):
    got, _ = run_rg(optim.SGD, dtype, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref_sgd(**kw), rtol=tol, atol=tol)


ADAM_CASES = [
    {},
    {"lr": 0.1, "betas": (0.8, 0.9)},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "amsgrad": True},
    {"lr": 0.1, "maximize": True, "eps": 1e-3},
]


@pytest.mark.parametrize("kw", ADAM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam(kw, dtype):
    got, opt = run_rg(optim.Adam, dtype, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref_adam(**kw), rtol=tol, atol=tol)
    state = next(iter(opt.state.values()))
    assert state["step"].dtype == rustgrad.float32 and state["step"].item() == len(GRADS)
    assert ("max_exp_avg_sq" in state) == kw.get("amsgrad", False)


@pytest.mark.parametrize("kw", [{}, {"lr": 0.1, "weight_decay": 0.5}, {"lr": 0.1, "amsgrad": True}])
def test_adamw(kw):
    got, opt = run_rg(optim.AdamW, **kw)
    assert opt.defaults["weight_decay"] == kw.get("weight_decay", 1e-2)
    ref = ref_adam(decoupled=True, **{"weight_decay": 1e-2, **kw})
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1},
                                {"initial_accumulator_value": 0.5, "maximize": True}])
def test_adagrad(kw):
    got, _ = run_rg(optim.Adagrad, **kw)
    np.testing.assert_allclose(got, ref_adagrad(**kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}, {"maximize": True}])
def test_adadelta(kw):
    got, _ = run_rg(optim.Adadelta, **kw)
    np.testing.assert_allclose(got, ref_adadelta(**kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"centered": True}, {"centered": True, "momentum": 0.5,
                                                                          "weight_decay": 0.1, "maximize": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop(kw, dtype):
    got, _ = run_rg(optim.RMSprop, dtype, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, ref_rmsprop(**kw), rtol=tol, atol=tol)


def test_large_param_parallel_path():
    n = 200_003
    g = RNG.standard_normal(n)
    p = rustgrad.tensor(np.ones(n), requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    for _ in range(2):
        p.grad = rustgrad.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.5 * g - 0.5 * 1.9 * g, rtol=1e-12, atol=1e-14)


def test_param_groups_different_lr():
    a = rustgrad.tensor([1.0, 2.0], requires_grad=True)
    b = rustgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0
    a.grad = rustgrad.tensor([1.0, 1.0])
    b.grad = rustgrad.tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 1.9])
    np.testing.assert_allclose(b.detach().numpy(), [0.5, 1.5])


def test_step_skips_params_without_grad_and_bumps_version():
    a = rustgrad.tensor([1.0], requires_grad=True)
    b = rustgrad.tensor([1.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = rustgrad.tensor([1.0])
    v = a._version if hasattr(a, "_version") else None
    opt.step()
    assert b.item() == 1.0 and a.item() != 1.0
    assert b not in opt.state
    if v is not None:
        assert a._version > v
    assert a.grad_fn is None and a.requires_grad


def test_zero_grad():
    a = rustgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    a.grad = rustgrad.tensor([3.0, 4.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_closure_reevaluates_with_grad():
    x = rustgrad.tensor([3.0], requires_grad=True)
    opt = optim.SGD([x], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        calls.append(rustgrad.is_grad_enabled())
        return loss

    with rustgrad.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert loss.item() == 9.0
    np.testing.assert_allclose(x.detach().numpy(), [1.5])


@pytest.mark.parametrize("cls,kw", [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"amsgrad": True}),
                                    (optim.AdamW, {}), (optim.Adagrad, {}), (optim.Adadelta, {}),
                                    (optim.RMSprop, {"centered": True, "momentum": 0.9})])
def test_state_dict_round_trip(cls, kw):
    def make():
        p = rustgrad.tensor(P0.copy(), requires_grad=True)
        return p, cls([p], **kw)

    p1, o1 = make()
    for g in GRADS[:2]:
        p1.grad = rustgrad.tensor(g)
        o1.step()
    sd = o1.state_dict()
    assert list(sd["state"].keys()) == [0] and sd["param_groups"][0]["params"] == [0]
    p2, o2 = make()
    with rustgrad.no_grad():
        p2.copy_(p1)
    o2.load_state_dict(sd)
    for g in GRADS[2:]:
        for p, o in ((p1, o1), (p2, o2)):
            p.grad = rustgrad.tensor(g)
            o.step()
    np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    # The loaded state is a copy, not o1's buffers.
    for k, v in o1.state[p1].items():
        if isinstance(v, rustgrad.Tensor):
            assert not v.is_set_to(o2.state[p2][k]) if hasattr(v, "is_set_to") else v is not o2.state[p2][k]


def test_load_state_dict_errors():
    a = rustgrad.tensor([1.0], requires_grad=True)
    b = rustgrad.tensor([1.0], requires_grad=True)
    o1 = optim.SGD([a, b], lr=0.1)
    o2 = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        o1.load_state_dict(o2.state_dict())
    o3 = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        o3.load_state_dict(o1.state_dict())


def test_load_state_dict_casts_state():
    p = rustgrad.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    o = optim.SGD([p], lr=0.1, momentum=0.9)
    sd = {"state": {0: {"momentum_buffer": rustgrad.tensor(np.ones(3))}},
          "param_groups": [dict(o.state_dict()["param_groups"][0])]}
    o.load_state_dict(sd)
    assert o.state[p]["momentum_buffer"].dtype == rustgrad.float32


def test_errors():
    a = rustgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        optim.Adam([a], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        optim.Adam([a], eps=-1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError):
        optim.SGD(a, lr=0.1)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    y = a * 2
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([y], lr=0.1)


@requires_torch
@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
                                     ("Adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}),
                                     ("AdamW", {"lr": 0.1}), ("Adagrad", {"lr_decay": 0.1}),
                                     ("Adadelta", {"weight_decay": 0.1}),
                                     ("RMSprop", {"centered": True, "momentum": 0.5})])
def test_parity_with_torch(name, kw):
    got, _ = run_rg(getattr(optim, name), **kw)
    p = torch.tensor(P0.copy(), requires_grad=True)
    opt = getattr(torch.optim, name)([p], **kw)
    for g in GRADS:
        p.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(got, p.detach().numpy(), rtol=1e-10, atol=1e-12)



def test_non_contiguous_and_other_dtype_grad():
    q = rustgrad.tensor(np.ones((3, 2)), requires_grad=True)
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    q.grad = rustgrad.tensor(g).t()
    optim.SGD([q], lr=0.5).step()
    np.testing.assert_allclose(q.detach().numpy(), 1 - 0.5 * g.T.astype(np.float64))
    assert q.dtype == rustgrad.float64
