"""rustgrad.multiprocessing: shared-memory tensors, queues that pass handles, spawn, Hogwild."""

import mp_workers
import numpy as np
import pytest
import rustgrad as rg
import rustgrad.multiprocessing as mp
import rustgrad.nn as nn
import rustgrad.nn.functional as F


def test_share_memory_moves_the_storage_in_place():
    base = rg.arange(12, dtype=rg.float32)
    view = base.view(3, 4)[1:, 1:3]
    before = base.numpy().copy()
    assert not base.is_shared()
    assert base.share_memory_() is base
    assert base.is_shared() and view.is_shared()
    np.testing.assert_array_equal(base.numpy(), before)
    # the view made before the move reads and writes the same (now shared) memory
    view.fill_(-1.0)
    ref = before.reshape(3, 4)
    ref[1:, 1:3] = -1
    np.testing.assert_array_equal(base.numpy(), ref.reshape(-1))
    ptr = base.data_ptr()
    base.share_memory_()  # already shared: nothing moves
    assert base.data_ptr() == ptr


@pytest.mark.parametrize("dtype", [rg.float64, rg.int64, rg.int32, rg.uint8, rg.bool])
def test_share_memory_keeps_values_of_every_dtype(dtype):
    t = (rg.arange(7) % 3).to(dtype)
    ref = t.numpy().copy()
    t.share_memory_()
    assert t.is_shared() and t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), ref)


def test_module_share_memory_and_grad_still_works():
    m = nn.Linear(3, 2)
    m.share_memory()
    assert all(p.is_shared() for p in m.parameters())
    F.mse_loss(m(rg.ones(4, 3)), rg.zeros(4, 2)).backward()
    assert m.weight.grad is not None and m.weight.grad.shape == (2, 3)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_queue_sends_a_handle_not_a_copy(method):
    ctx = mp.get_context(method)
    q_in, q_out = ctx.Queue(), ctx.Queue()
    t = rg.zeros(4)
    p = ctx.Process(target=mp_workers.fill_from_queue, args=(q_in, q_out))
    p.start()
    q_in.put(t)
    shared_in_child, tail = q_out.get(timeout=60)
    assert shared_in_child and t.is_shared()
    np.testing.assert_array_equal(t.numpy(), np.full(4, 10.0, np.float32))  # the child's write is here
    tail.fill_(3.0)  # the view the child sent back is the same memory too
    np.testing.assert_array_equal(t.numpy(), [10.0, 3.0, 3.0, 3.0])
    q_in.put(None)
    p.join(60)
    assert p.exitcode == 0


def test_non_leaf_requiring_grad_is_refused():
    x = rg.ones(2, requires_grad=True) * 2
    from multiprocessing.reduction import ForkingPickler

    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        ForkingPickler.dumps(x)


def test_spawn_reports_the_failing_process():
    with pytest.raises(mp.ProcessRaisedException, match="boom in child") as e:
        mp.spawn(mp_workers.fail, args=("boom in child",), nprocs=2)
    assert e.value.error_index == 1
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()


def test_hogwild_two_processes_train_one_shared_model():
    rg.manual_seed(0)
    rs = np.random.default_rng(0)
    x = rs.standard_normal((256, 4)).astype(np.float32)
    w = np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    y = x @ w + 0.01 * rs.standard_normal((256, 1)).astype(np.float32)
    x, y = rg.from_numpy(x), rg.from_numpy(y)
    model = nn.Linear(4, 1)
    model.share_memory()
    start = F.mse_loss(model(x), y).item()
    mp.spawn(mp_workers.hogwild_worker, args=(model, x, y, 150, 0.05), nprocs=2)
    end = F.mse_loss(model(x), y).item()
    # both workers' updates landed in this process's parameters
    assert start > 1.0 and end < 1e-3, (start, end)
    np.testing.assert_allclose(model.weight.detach().numpy(), w.T, atol=0.02)
