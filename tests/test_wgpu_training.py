"""Whole training runs on the wgpu device against the CPU: the CNN and MLP examples' models
trained from the same initial weights on the same batches give the CPU's losses and weights, and
the engine counters show a steady-state training step compiling nothing, creating no buffers,
submitting only at the script's sync point and reading back only what it asked for."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F
from rustgrad import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from cnn import Net  # noqa: E402

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not rg.wgpu.is_available():
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


def _batches(n, batch, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(n, batch, 1, 28, 28)).astype(np.float32)
    # Labels that depend on the images, so the loss really falls.
    ys = (xs[:, :, 0, :14].mean((2, 3)) > 0).astype(np.int64) * 5 + (xs[:, :, 0, :, :14].mean((2, 3)) > 0)
    return xs, ys


def _train(model, device, xs, ys, make_opt, loss_fn):
    model = model.to(device)
    # eval(): the dropout layers off, so CPU and device see the same function (their random
    # streams differ); gradients flow the same.
    model.eval()
    opt = make_opt(model.parameters())
    losses = []
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss = loss_fn(model(rg.tensor(x).to(device)), rg.tensor(y).to(device))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _parity(make_model, make_opt, loss_fn, steps, batch, rtol):
    rg.manual_seed(0)
    ref = make_model()
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    xs, ys = _batches(steps, batch)
    cpu_losses, cpu_w = _train(ref, "cpu", xs, ys, make_opt, loss_fn)
    dev = make_model()
    dev.load_state_dict(state)
    gpu_losses, gpu_w = _train(dev, "wgpu", xs, ys, make_opt, loss_fn)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=rtol, atol=rtol)
    assert cpu_losses[-1] < cpu_losses[0]
    for k in cpu_w:
        np.testing.assert_allclose(gpu_w[k], cpu_w[k], rtol=rtol, atol=rtol, err_msg=k)


def test_cnn_example_trains_like_the_cpu():
    _parity(Net, lambda p: rg.optim.SGD(p, lr=0.05, momentum=0.5), F.nll_loss, steps=24, batch=16, rtol=2e-3)


def test_mlp_with_adam_trains_like_the_cpu():
    def mlp():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    _parity(mlp, lambda p: rg.optim.Adam(p, lr=1e-3), F.cross_entropy, steps=30, batch=32, rtol=1e-3)


def test_steady_state_step_is_quiet():
    rg.manual_seed(0)
    model = Net().to("wgpu")
    opt = rg.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    xs, ys = _batches(4, 8)
    batches = [(rg.tensor(x).to("wgpu"), rg.tensor(y).to("wgpu")) for x, y in zip(xs, ys)]

    def step(x, y):
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for x, y in batches[:2]:  # warm-up: pipelines compile, the pool fills, state appears
        step(x, y)
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    step(*batches[2])
    after = rg.wgpu.stats()
    delta = {k: after[k] - before[k] for k in before if not k.startswith("peak") and k not in ("bytes_allocated", "bytes_reserved")}
    assert delta["pipelines_compiled"] == 0, delta
    assert delta["buffers_created"] == 0, delta
    # The one .item(), plus the engine's periodic flush every MAX_DISPATCHES_PER_SUBMIT (48).
    assert delta["submits"] <= delta["dispatches"] // 48 + 1, delta
    assert delta["bytes_downloaded"] == 4, delta  # the loss, nothing else
    assert delta["dispatches"] > 20, delta  # (the step really ran on the device)
