"""The optimizer group kernel on wgpu (kernels/optim.rs `fused_group_step`): SGD and Adam/AdamW
update every float32 parameter of a group in one dispatch (or as few as the adapter's binding
limits allow). Several steps on parameters of several shapes (odd sizes, a parameter that is a
view into a larger tensor, a non-contiguous gradient, a parameter without a gradient) must match
the CPU optimizer on the same data to float32 rounding, and the per-tensor path
(RUSTGRAD_WGPU_FUSION=0) must give the same values with one dispatch per parameter."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustgrad as rg

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
FUSION = os.environ.get("RUSTGRAD_WGPU_FUSION", "1").strip() != "0"
# Parameters a group dispatch covers at most (MAX_GROUP_SLOTS in kernels/optim.rs).
MAX_GROUP_SLOTS = 16


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not rg.wgpu.is_available():
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


SHAPES = [(3,), (5, 7), (1,), (33, 17), (2, 3, 4), (257,)]


def _problem(seed=0, steps=3):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _params(init, device):
    """Leaf parameters; the second lives at an offset inside a larger buffer (a narrowed view)."""
    ps = []
    for i, a in enumerate(init):
        if i == 1:
            base = rg.tensor(np.concatenate([np.zeros(3, np.float32), a.ravel()]), device=device)
            p = base[3:].view(a.shape).detach().requires_grad_()
        else:
            p = rg.tensor(a, device=device, requires_grad=True)
        ps.append(p)
    return ps


def _set_grads(ps, gs, device, step):
    for i, (p, g) in enumerate(zip(ps, gs)):
        if i == 2 and step == 0:
            p.grad = None  # no gradient on the first step: skipped, no state made
        elif i == 3:
            # A non-contiguous gradient (a transposed view).
            p.grad = rg.tensor(np.ascontiguousarray(g.T), device=device).t()
        else:
            p.grad = rg.tensor(g, device=device)


def _run(make_opt, device, init, grads):
    ps = _params(init, device)
    opt = make_opt(ps)
    for step, gs in enumerate(grads):
        _set_grads(ps, gs, device, step)
        opt.step()
    state = [{k: v.cpu().numpy() for k, v in opt.state[p].items() if isinstance(v, rg.Tensor)} for p in ps]
    return [p.detach().cpu().numpy() for p in ps], state


CONFIGS = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("adam", dict(lr=0.02, betas=(0.8, 0.9), maximize=True)),
    ("adamw", dict(lr=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
]

OPTS = {"sgd": lambda: rg.optim.SGD, "adam": lambda: rg.optim.Adam, "adamw": lambda: rg.optim.AdamW}


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_group_step_matches_cpu(name, kw):
    init, grads = _problem()
    make = lambda ps: OPTS[name]()(ps, **kw)  # noqa: E731
    cpu_p, cpu_s = _run(make, "cpu", init, grads)
    dev_p, dev_s = _run(make, "wgpu", init, grads)
    for a, b in zip(dev_p, cpu_p):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    for sa, sb in zip(dev_s, cpu_s):
        assert sa.keys() == sb.keys()
        for k in sa:
            np.testing.assert_allclose(sa[k], sb[k], rtol=2e-5, atol=2e-6, err_msg=k)
    # The parameter without a gradient on the first step took two steps, not three.
    if name != "sgd":
        assert float(cpu_s[2]["step"]) == 2.0 and float(dev_s[2]["step"]) == 2.0


def _slots(nops):
    info = rg.wgpu.adapter_info()
    cap = min(info["max_storage_buffers_per_shader_stage"], info["max_bindings_per_bind_group"]) - 1
    return min(cap // nops, MAX_GROUP_SLOTS)


@pytest.mark.parametrize("n_params", [1, 4, 20])
@pytest.mark.parametrize("name,kw,nops", [
    ("sgd", dict(lr=0.1, momentum=0.9), 3),
    ("adam", dict(lr=0.01), 4),
    ("adamw", dict(lr=0.01, amsgrad=True), 5),
])
def test_group_step_dispatches(name, kw, nops, n_params):
    """One optimizer step is ceil(params / slots) dispatches with fusion on, one per parameter off."""
    rng = np.random.default_rng(1)
    ps = [rg.tensor(rng.normal(size=(i % 5 + 1, 3)).astype(np.float32), device="wgpu", requires_grad=True)
          for i in range(n_params)]
    for p in ps:
        p.grad = rg.tensor(rng.normal(size=tuple(p.shape)).astype(np.float32), device="wgpu")
    opt = OPTS[name]()(ps, **kw)
    opt.step()  # first step: state buffers are created (fills), not counted
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()["dispatches"]
    opt.step()
    rg.wgpu.synchronize()
    used = rg.wgpu.stats()["dispatches"] - before
    expected = -(-n_params // _slots(nops)) if FUSION else n_params
    assert used == expected, (used, expected)


def test_group_matches_per_tensor_path():
    """The same Adam and SGD steps in subprocesses with fusion on and off: equal values, and the
    per-tensor path takes one dispatch per parameter."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(rg.__file__)))
    here = os.path.dirname(os.path.abspath(__file__))
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {pkg!r})
        sys.path.insert(0, {here!r})
        import rustgrad as rg
        from test_wgpu_optim_group import _problem, _run
        init, grads = _problem(seed=3, steps=2)
        out = {{}}
        for name, make in [("sgd", lambda ps: rg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
                           ("adam", lambda ps: rg.optim.AdamW(ps, lr=0.01, amsgrad=True))]:
            rg.wgpu.synchronize()
            s0 = rg.wgpu.stats()["dispatches"]
            ps, _ = _run(make, "wgpu", init, grads)
            out[name] = [p.ravel().tolist() for p in ps]
            out[name + "_dispatches"] = rg.wgpu.stats()["dispatches"] - s0
        print(json.dumps(out))
        """
    )
    runs = {}
    for flag in ("0", "1"):
        env = dict(os.environ, RUSTGRAD_WGPU_FUSION=flag)
        r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        runs[flag] = json.loads(r.stdout.strip().splitlines()[-1])
    for name in ("sgd", "adam"):
        for a, b in zip(runs["1"][name], runs["0"][name]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert runs["1"][name + "_dispatches"] < runs["0"][name + "_dispatches"], runs
