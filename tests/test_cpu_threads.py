"""The CPU worker team: results do not depend on the thread count, set_num_threads/
get_num_threads behave like torch's, and a forked child (whose parent's workers do not exist
there) still runs parallel kernels to completion."""

import multiprocessing as mp
import sys

import numpy as np
import pytest
import rustgrad as rg


@pytest.fixture
def restore_threads():
    n = rg.get_num_threads()
    yield
    rg.set_num_threads(n)


def _work(seed=0):
    """A few kernels big enough to run in parallel: GEMM, elementwise, reduction, conv, RNG."""
    rng = np.random.default_rng(seed)
    a = rg.from_numpy(rng.standard_normal((300, 257)).astype(np.float32))
    b = rg.from_numpy(rng.standard_normal((257, 190)).astype(np.float32))
    x = rg.from_numpy(rng.standard_normal((4, 3, 20, 20)).astype(np.float32))
    w = rg.from_numpy(rng.standard_normal((8, 3, 3, 3)).astype(np.float32))
    big = rg.from_numpy(rng.standard_normal(1 << 18).astype(np.float32))
    rg.manual_seed(seed)
    noise = rg.randn(1 << 17)
    return [
        rg.matmul(a, b).numpy(),
        (big * 2.0 + 1.0).numpy(),
        np.array(big.sum().item()),
        rg.nn.functional.conv2d(x, w, padding=1).numpy(),
        noise.numpy(),
    ]


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_results_do_not_depend_on_thread_count(threads, restore_threads):
    rg.set_num_threads(1)
    ref = _work()
    rg.set_num_threads(threads)
    assert rg.get_num_threads() == threads
    got = _work()
    for r, g in zip(ref, got):
        # GEMM splits C, not K, and reductions are blocked the same way: bit-equal except
        # where a parallel sum adds partial sums in another order.
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[4], ref[4])


def test_set_num_threads_rejects_nonpositive():
    with pytest.raises(RuntimeError, match="positive"):
        rg.set_num_threads(0)


def _child(conn):
    try:
        conn.send([r.tolist() for r in _work(1)])
    except BaseException as e:  # noqa: BLE001 - report anything to the parent
        conn.send(repr(e))
    conn.close()


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only")
def test_parallel_kernels_finish_in_a_forked_child(restore_threads):
    rg.set_num_threads(2)
    _work()  # the parent's workers exist and have run jobs before the fork
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child, args=(child,))
    p.start()
    assert parent.poll(120), "forked child did not finish its kernels"
    got = parent.recv()
    p.join(30)
    assert not isinstance(got, str), got
    ref = _work(1)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(np.asarray(g, dtype=r.dtype), r, rtol=1e-5, atol=1e-4)
