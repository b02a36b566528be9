"""Random numbers drawn on the wgpu device (Philox4x32-10, see shaders/random.wgsl): the draws
are reproducible under manual_seed, fresh between calls, statistically what they claim, and they
never come from the host (no upload). Dropout on a device tensor draws its mask there too."""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not rg.wgpu.is_available():
        if REQUIRE:
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


def test_rand_and_randn_statistics():
    rg.manual_seed(1)
    u = rg.rand(200_000, device="wgpu")
    z = rg.randn(400, 500, device="wgpu")
    assert u.device.type == "wgpu" and u.dtype == rg.float32 and z.shape == (400, 500)
    a, b = u.cpu().numpy(), z.cpu().numpy()
    assert 0.0 <= a.min() and a.max() < 1.0
    # Moments within ~6 standard errors; a histogram with no empty or doubled bin.
    assert abs(a.mean() - 0.5) < 6 * np.sqrt(1 / 12 / a.size)
    assert abs(a.var() - 1 / 12) < 2e-3
    counts = np.histogram(a, bins=20, range=(0, 1))[0]
    assert counts.min() > 0.9 * a.size / 20 and counts.max() < 1.1 * a.size / 20
    assert abs(b.mean()) < 6 / np.sqrt(b.size) and abs(b.std() - 1) < 0.01
    assert abs((np.abs(b) < 1).mean() - 0.6827) < 0.01


def test_draws_are_reproducible_and_fresh():
    rg.manual_seed(7)
    a = rg.rand(1000, device="wgpu").cpu().numpy()
    b = rg.rand(1000, device="wgpu").cpu().numpy()
    rg.wgpu.manual_seed(7)
    c = rg.rand(1000, device="wgpu").cpu().numpy()
    np.testing.assert_array_equal(a, c)
    assert (a != b).mean() > 0.99
    g = rg.Generator("wgpu").manual_seed(7)
    np.testing.assert_array_equal(rg.rand(1000, device="wgpu", generator=g).cpu().numpy(), a)


def test_draws_happen_on_the_device():
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()["bytes_uploaded"]
    x = rg.randn(64, 1024, device="wgpu")
    y = F.dropout(x, 0.5)
    rg.wgpu.synchronize()
    # Only parameter words go up, never 256 KiB of samples.
    assert rg.wgpu.stats()["bytes_uploaded"] - before < 4096
    assert y.device.type == "wgpu"


def test_dropout_mask_and_scale():
    x = rg.ones(2000, 50, device="wgpu")
    y = F.dropout(x, 0.3).cpu().numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)
    z = F.dropout2d(rg.ones(16, 12, 5, 5, device="wgpu"), 0.5).cpu().numpy().reshape(16 * 12, 25)
    assert (z.std(1) == 0).all() and 0.3 < (z[:, 0] == 0).mean() < 0.7


def test_dropout_gradient_uses_the_same_mask():
    x = rg.randn(300, device="wgpu", requires_grad=True)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), (y.detach().cpu().numpy() != 0) / 0.6, rtol=1e-6)


def test_bernoulli_forms():
    p = rg.tensor(np.linspace(0, 1, 11, dtype=np.float32)).to("wgpu").expand(3000, 11)
    m = rg.bernoulli(p).cpu().numpy()
    np.testing.assert_allclose(m.mean(0), np.linspace(0, 1, 11), atol=0.04)
    assert m[:, 0].max() == 0 and m[:, -1].min() == 1
    t = rg.empty(20000, device="wgpu").bernoulli_(0.25)
    assert t.device.type == "wgpu" and abs(t.cpu().numpy().mean() - 0.25) < 0.015
