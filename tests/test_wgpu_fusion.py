"""Elementwise fusion on the wgpu backend (src/wgpu/fusion.rs): chains of elementwise ops become
one kernel, results match NumPy, the CPU backend and the unfused engine (RUSTGRAD_WGPU_FUSION=0,
run in a subprocess), and hazards (in-place writes, strided reads of pending results, reductions
in the middle of a chain) keep program order."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rustgrad as rg

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()


@pytest.fixture
def wgpu():
    if not HAS_WGPU:
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")
    rg.wgpu.synchronize()
    return "wgpu"


def fusion_on():
    return os.environ.get("RUSTGRAD_WGPU_FUSION", "1").strip() != "0"


def delta(before):
    after = rg.wgpu.stats()
    return {k: after[k] - before[k] for k in ("dispatches", "fused_kernels", "fused_stages", "stores_elided")}


def ten_op_chain(x, b):
    """Ten elementwise ops: scalar, broadcast binary, unary, comparison, where, cast."""
    a = x * 0.5  # 1 scalar mul
    a = a + b  # 2 broadcast add
    a = a.tanh()  # 3 unary
    a = a - 0.25  # 4 scalar sub
    m = a > 0.0  # 5 comparison
    a = rg.where(m, a, a * 3.0)  # 6 scalar mul, 7 where
    f = m.float()  # 8 cast bool -> float32
    a = a + f  # 9 binary
    return a.abs()  # 10 unary


def ten_op_reference(x, b):
    a = np.tanh(x * np.float32(0.5) + b) - np.float32(0.25)
    m = a > 0
    a = np.where(m, a, a * np.float32(3.0)) + m.astype(np.float32)
    return np.abs(a)


def inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32)


def test_ten_op_chain_is_one_dispatch(wgpu):
    xn, bn = inputs()
    x, b = rg.tensor(xn, device=wgpu), rg.tensor(bn, device=wgpu)
    ten_op_chain(x, b)  # compile once
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    out = ten_op_chain(x, b)
    rg.wgpu.synchronize()
    d = delta(before)
    if fusion_on():
        assert d["dispatches"] == 1, d
        assert d["fused_kernels"] == 1 and d["fused_stages"] == 10, d
        # Only the result is stored: every intermediate was a dropped temporary.
        assert d["stores_elided"] == 9, d
    else:
        assert d["dispatches"] >= 10 and d["fused_kernels"] == 0, d
    np.testing.assert_allclose(out.numpy(), ten_op_reference(xn, bn), rtol=1e-6, atol=1e-6)


def test_fusion_off_by_env_matches(wgpu):
    """The same chain in a subprocess with fusion on and off: same values; off = one dispatch per op."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(rg.__file__)))
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {pkg!r})
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import rustgrad as rg
        from test_wgpu_fusion import inputs, ten_op_chain
        xn, bn = inputs()
        x, b = rg.tensor(xn, device="wgpu"), rg.tensor(bn, device="wgpu")
        rg.wgpu.synchronize()
        s0 = rg.wgpu.stats()
        out = ten_op_chain(x, b)
        rg.wgpu.synchronize()
        s1 = rg.wgpu.stats()
        print(json.dumps({{"dispatches": s1["dispatches"] - s0["dispatches"],
                          "fused": s1["fused_kernels"] - s0["fused_kernels"],
                          "values": out.numpy().ravel().tolist()}}))
        """
    )
    runs = {}
    for flag in ("0", "1"):
        env = dict(os.environ, RUSTGRAD_WGPU_FUSION=flag)
        r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        runs[flag] = json.loads(r.stdout.strip().splitlines()[-1])
    assert runs["0"]["dispatches"] == 10 and runs["0"]["fused"] == 0, runs["0"]
    assert runs["1"]["dispatches"] == 1 and runs["1"]["fused"] == 1, runs["1"]
    np.testing.assert_allclose(runs["1"]["values"], runs["0"]["values"], rtol=1e-6, atol=1e-7)
    xn, bn = inputs()
    np.testing.assert_allclose(runs["1"]["values"], ten_op_reference(xn, bn).ravel(), rtol=1e-6, atol=1e-6)


def test_intermediates_kept_alive_are_stored(wgpu):
    xn, bn = inputs()
    x, b = rg.tensor(xn, device=wgpu), rg.tensor(bn, device=wgpu)
    a1 = x * 0.5
    a2 = a1 + b
    a3 = a2.exp()
    a4 = a3 / a2
    a5 = -a4
    before = rg.wgpu.stats()
    got = [a.numpy() for a in (a1, a2, a3, a4, a5)]
    d = delta(before)
    if fusion_on():
        assert d["dispatches"] == 1 and d["stores_elided"] == 0, d
    e1 = xn * np.float32(0.5)
    e2 = e1 + bn
    e3 = np.exp(e2)
    e4 = e3 / e2
    for g, e in zip(got, (e1, e2, e3, e4, -e4)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_in_place_after_pending_read(wgpu):
    """`y = x + 1; x.mul_(2)`: y must see x's old values (loads before stores)."""
    xn = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = rg.tensor(xn, device=wgpu)
    y = x + 1
    z = y * y
    x.mul_(2)
    x.add_(z)
    np.testing.assert_array_equal(y.numpy(), xn + 1)
    np.testing.assert_array_equal(z.numpy(), (xn + 1) ** 2)
    np.testing.assert_array_equal(x.numpy(), xn * 2 + (xn + 1) ** 2)


def test_strided_reads_of_pending_results(wgpu):
    """A pending output read transposed, sliced or broadcast is a hazard: the chain ends first."""
    xn = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    x = rg.tensor(xn, device=wgpu)
    y = x * 2
    t = y.t() + 1  # transposed read of y (different shape too)
    s = y[1:] - y[:-1]  # offset views of y, same chain shape as each other
    c = y + y[0]  # y itself (identity) plus a broadcast row of y
    y2 = y.square()
    np.testing.assert_array_equal(t.numpy(), (xn * 2).T + 1)
    np.testing.assert_array_equal(s.numpy(), (xn * 2)[1:] - (xn * 2)[:-1])
    np.testing.assert_array_equal(c.numpy(), xn * 2 + (xn * 2)[0])
    np.testing.assert_array_equal(y2.numpy(), (xn * 2) ** 2)


def test_chain_interrupted_by_reduction_and_matmul(wgpu):
    rng = np.random.default_rng(1)
    xn = rng.standard_normal((4, 6)).astype(np.float32)
    wn = rng.standard_normal((6, 3)).astype(np.float32)
    x, w = rg.tensor(xn, device=wgpu), rg.tensor(wn, device=wgpu)
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    y = (x * 2 + 1).relu()
    s = y.sum(dim=1, keepdim=True)
    z = (y - s).sigmoid()
    m = z @ w
    out = (m * 0.5).tanh()
    got = out.numpy()
    d = delta(before)
    yn = np.maximum(xn * 2 + 1, 0)
    zn = 1 / (1 + np.exp(-(yn - yn.sum(1, keepdims=True))))
    np.testing.assert_allclose(got, np.tanh((zn @ wn) * 0.5), rtol=1e-5, atol=1e-5)
    if fusion_on():
        assert d["fused_kernels"] == 3, d  # before the sum, between sum and matmul, after


def test_autograd_through_fused_chain(wgpu):
    rng = np.random.default_rng(2)
    xn = rng.standard_normal((3, 5)).astype(np.float32)
    bn = rng.standard_normal(5).astype(np.float32)
    grads = {}
    for dev in ("cpu", wgpu):
        x = rg.tensor(xn, device=dev, requires_grad=True)
        b = rg.tensor(bn, device=dev, requires_grad=True)
        h = (x * 1.5 + b).tanh()
        h = rg.where(h > 0, h * h, h.exp() - 1) / 2.0
        loss = (h.sigmoid() * 3 - x).square().sum()
        loss.backward()
        grads[dev] = (loss.item(), x.grad.numpy(), b.grad.numpy())
    assert grads["wgpu"][0] == pytest.approx(grads["cpu"][0], rel=1e-5)
    np.testing.assert_allclose(grads["wgpu"][1], grads["cpu"][1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads["wgpu"][2], grads["cpu"][2], rtol=1e-4, atol=1e-5)


def test_int64_and_bool_chains(wgpu):
    big = np.array([3, -7, 2**40 + 5, -(2**35), 0, 11], dtype=np.int64)
    i = rg.tensor(big, device=wgpu)
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    r = (i * 3 + 7 - i).abs()
    m = (r > 100) | (i < 0)
    n = (~m) & (r != 7)
    r2 = rg.where(m, r, -r)
    got = (r.numpy(), m.numpy(), n.numpy(), r2.numpy())
    d = delta(before)
    er = np.abs(big * 3 + 7 - big)
    em = (er > 100) | (big < 0)
    np.testing.assert_array_equal(got[0], er)
    np.testing.assert_array_equal(got[1], em)
    np.testing.assert_array_equal(got[2], (~em) & (er != 7))
    np.testing.assert_array_equal(got[3], np.where(em, er, -er))
    if fusion_on():
        assert d["fused_stages"] >= 8 and d["dispatches"] < d["fused_stages"], d


def test_scalar_operands_are_not_uploaded(wgpu):
    x = rg.ones(256, device=wgpu)
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    for _ in range(10):
        x = x * 1.5 + 0.25
    rg.wgpu.synchronize()
    after = rg.wgpu.stats()
    if fusion_on():
        # Only the parameter words go up (no 0-d tensors), and 20 ops make one kernel.
        assert after["dispatches"] - before["dispatches"] == 1
    ref = np.ones(256, np.float32)
    for _ in range(10):
        ref = ref * np.float32(1.5) + np.float32(0.25)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-6)


def test_long_chains_split_and_stay_correct(wgpu):
    """More stages than one kernel holds: split into several kernels, same values."""
    x = rg.tensor(np.linspace(-1, 1, 50, dtype=np.float32), device=wgpu)
    keep = []
    ref = np.linspace(-1, 1, 50, dtype=np.float32)
    refs = []
    y = x
    for k in range(80):
        y = y * 0.99 + 0.01
        ref = ref * np.float32(0.99) + np.float32(0.01)
        if k % 9 == 0:
            keep.append(y)
            refs.append(ref.copy())
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5)
    for g, e in zip(keep, refs):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5)
