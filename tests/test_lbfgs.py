"""optim.LBFGS: the same trajectory as torch (float64), both line-search modes, state_dict, errors."""

import numpy as np
import pytest
import rustgrad as rg
from conftest import requires_torch, torch


def rosenbrock(lib, xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _run_rosenbrock(lib, steps, **kw):
    xy = lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)
    opt = lib.optim.LBFGS([xy], **kw)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(lib, xy)
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        opt.step(closure)
        path.append(xy.detach().numpy().copy())
    return np.array(path), opt


def _least_squares_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.05 * rng.normal(size=20)
    return X, y[:, None]


def _run_least_squares(lib, steps, **kw):
    X, Y = _least_squares_data()
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 1).double()
    with lib.no_grad():
        model.weight.copy_(lib.tensor([[0.1, 0.2, -0.3]], dtype=lib.float64))
        model.bias.copy_(lib.tensor([0.05], dtype=lib.float64))
    opt = lib.optim.LBFGS(model.parameters(), **kw)
    Xt, Yt = lib.tensor(X), lib.tensor(Y)
    losses = []

    def closure():
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(Xt), Yt)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    w = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    return np.array(losses), w


SETTINGS = [
    dict(lr=1, max_iter=20),
    dict(lr=1, max_iter=20, line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(lr=1, max_iter=7, history_size=2, line_search_fn="strong_wolfe", tolerance_change=1e-12),
]


@pytest.mark.parametrize("kw", SETTINGS)
def test_rosenbrock_converges_with_line_search_or_descends(kw):
    path, _ = _run_rosenbrock(rg, 10, **kw)
    assert np.all(np.isfinite(path))
    start = rosenbrock(np, np.array([-1.5, 2.0]))
    end = rosenbrock(np, path[-1])
    assert end < start
    if kw.get("line_search_fn") and kw["max_iter"] == 20:
        np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-5)


def test_least_squares_reaches_normal_equations():
    X, Y = _least_squares_data()
    A = np.hstack([X, np.ones((20, 1))])
    exact = np.linalg.lstsq(A, Y[:, 0], rcond=None)[0]
    _, w = _run_least_squares(rg, 3, line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)
    np.testing.assert_allclose(w, exact, rtol=1e-6, atol=1e-8)


@requires_torch
@pytest.mark.parametrize("kw", SETTINGS)
def test_rosenbrock_trajectory_matches_torch(kw):
    # Fixed-step L-BFGS on Rosenbrock amplifies last-bit rounding differences (dot-product
    # summation order) ~10x per 5 iterations, so compare the first 40 iterations only.
    ours, opt_o = _run_rosenbrock(rg, 2, **kw)
    theirs, opt_t = _run_rosenbrock(torch, 2, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    so = opt_o.state_dict()["state"][0]
    st = opt_t.state_dict()["state"][0]
    assert so["func_evals"] == st["func_evals"] and so["n_iter"] == st["n_iter"]
    assert len(so["old_dirs"]) == len(st["old_dirs"])


@requires_torch
@pytest.mark.parametrize("kw", SETTINGS)
def test_least_squares_trajectory_matches_torch(kw):
    lo, wo = _run_least_squares(rg, 4, **kw)
    lt, wt = _run_least_squares(torch, 4, **kw)
    np.testing.assert_allclose(lo, lt, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(wo, wt, rtol=1e-8, atol=1e-12)


def test_state_dict_round_trip_continues_identically():
    _, opt = _run_rosenbrock(rg, 2, lr=1, max_iter=4)
    xy = opt.param_groups[0]["params"][0]
    sd = opt.state_dict()
    assert sd["param_groups"][0]["max_eval"] == 5 and sd["param_groups"][0]["params"] == [0]
    assert {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss", "n_iter"} <= set(
        sd["state"][0]
    )
    twin = rg.tensor(xy.detach().numpy(), requires_grad=True)
    opt2 = rg.optim.LBFGS([twin], lr=1, max_iter=4)
    opt2.load_state_dict(sd)

    def closure_for(p, o):
        def closure():
            o.zero_grad()
            loss = rosenbrock(rg, p)
            loss.backward()
            return loss

        return closure

    opt.step(closure_for(xy, opt))
    opt2.step(closure_for(twin, opt2))
    np.testing.assert_allclose(twin.detach().numpy(), xy.detach().numpy(), rtol=1e-12)


def test_errors():
    p = rg.zeros(2, requires_grad=True)
    q = rg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        rg.optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options \(parameter groups\)"):
        rg.optim.LBFGS([{"params": [p]}, {"params": [q]}])
    opt = rg.optim.LBFGS([p], line_search_fn="bogus")

    def closure():
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
