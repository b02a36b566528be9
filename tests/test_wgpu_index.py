"""The index family on the wgpu device: index_select, gather, scatter/scatter_add, index_add,
advanced indexing and ``__setitem__``, embedding, cat/stack and cumsum/cumprod.

Each test runs the same op on the CPU and on wgpu from the same inputs and compares values and
gradients (the CPU kernels are checked against PyTorch and NumPy elsewhere). Shapes stay small for
lavapipe but cross the 256-wide workgroup; inputs include transposed and sliced views, dims 0,
middle and last, negative and duplicate indices and empty index tensors. Out-of-range indices on
the device raise at the next sync point (``.cpu()``, ``.item()``, ``synchronize()``), after which
the device works normally.
"""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn as nn
import rustgrad.nn.functional as F

REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
HAS_WGPU = rg.wgpu.is_available()

if not HAS_WGPU and not REQUIRE:
    pytest.skip("no wgpu adapter (rustgrad.wgpu.is_available() is False)", allow_module_level=True)


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not HAS_WGPU:
        pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")


RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.uniform(-2.0, 2.0, shape).astype(np.float32)


def ints(high, *shape, low=0):
    return RNG.integers(low, high, shape).astype(np.int64)


def on(a, device, requires_grad=False, dtype=None):
    t = rg.tensor(np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype), device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def parity(fn, *arrays, grad=(), rtol=1e-4, atol=1e-5):
    """Run ``fn`` on CPU tensors and on wgpu tensors made from ``arrays``; compare the results and,
    for the positions in ``grad``, the gradients of a random weighting of the result."""
    outs, grads = [], []
    for device in ("cpu", "wgpu"):
        ts = [on(a, device, requires_grad=i in grad) for i, a in enumerate(arrays)]
        out = fn(*ts)
        assert out.device.type == device
        outs.append(out)
        if grad:
            w = on(np.random.default_rng(1).uniform(0.5, 1.5, tuple(out.shape)).astype(np.float32), device)
            (out * w).sum().backward()
            for i in grad:
                assert ts[i].grad is not None and ts[i].grad.device.type == device
            grads.append([ts[i].grad.cpu().numpy() for i in grad])
    c, g = outs[0].detach().numpy(), outs[1].detach().cpu().numpy()
    assert c.dtype == g.dtype and c.shape == g.shape
    np.testing.assert_allclose(g, c, rtol=rtol, atol=atol)
    for gc, gg in zip(*grads) if grads else ():
        np.testing.assert_allclose(gg, gc, rtol=rtol, atol=atol)
    return outs[1]


# ---------------------------------------------------------------- index_select / index_add


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("view", ["contiguous", "transposed", "sliced"])
def test_index_select(dim, view):
    base = rand(6, 300, 5)
    x = {"contiguous": base, "transposed": base, "sliced": base[:, 10:290:3]}[view]
    size = x.shape[dim] if view != "transposed" else x.transpose(2, 1, 0).shape[dim]
    idx = np.concatenate([ints(size, 257), [0, size - 1, 0]])  # duplicates, both ends

    def fn(t, i):
        if view == "transposed":
            t = t.permute(2, 1, 0)
        return t.index_select(dim, i)

    parity(fn, x, idx, grad=(0,))
    parity(fn, x, idx.astype(np.int32), grad=(0,))


def test_index_select_empty_index_and_0d():
    parity(lambda t, i: t.index_select(1, i), rand(3, 4), np.zeros(0, np.int64), grad=(0,))
    parity(lambda t, i: t.index_select(0, i), np.float32(3.5), np.array([0]), grad=(0,))
    parity(lambda t, i: t.index_select(0, i), rand(5), np.array(2))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_index_select_moves_any_dtype(dtype):
    data = (np.arange(600) % 7 - 3).astype(dtype).reshape(300, 2)
    idx = ints(300, 280)
    out = parity(lambda t, i: t.index_select(0, i), data, idx)
    assert out.dtype == rg.tensor(data).dtype


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_index_add_duplicates(dim):
    x = rand(4, 270, 3)
    n = x.shape[dim]
    idx = np.concatenate([ints(n, 40), [1, 1, 1]])
    shape = list(x.shape)
    shape[dim] = len(idx)
    src = rand(*shape)
    parity(lambda a, i, s: a.index_add(dim, i, s), x, idx, src, grad=(0, 2))
    parity(lambda a, i, s: a.index_add(dim, i, s, alpha=-0.5), x, idx, src, grad=(0, 2))
    # A transposed source and destination.
    parity(lambda a, i, s: a.t().index_add(0, i, s.t()), rand(5, 9), ints(9, 11), rand(5, 11), grad=(0, 2))


def test_index_add_int_and_empty():
    parity(lambda a, i, s: a.index_add(0, i, s), ints(9, 6, 3), np.array([5, 0, 5]), ints(9, 3, 3))
    parity(lambda a, i, s: a.index_add(0, i, s), rand(4, 2), np.zeros(0, np.int64), rand(0, 2), grad=(0,))


# ---------------------------------------------------------------- gather / scatter


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    x = rand(5, 300, 5)
    ishape = [3, 290, 4]
    ishape[dim] = 7
    idx = ints(x.shape[dim], *ishape)
    parity(lambda t, i: t.gather(dim, i), x, idx, grad=(0,))
    # Non-contiguous input and index: the same gather seen through transposes.
    td = {0: 2, 1: 1, -1: 0}[dim]
    parity(lambda t, i: t.transpose(0, 2).gather(td, i.transpose(0, 2)), x, idx, grad=(0,))
    along = list(x.shape)
    along[dim] = 9
    parity(lambda t, i: rg.take_along_dim(t, i, dim), x, ints(x.shape[dim], *along), grad=(0,))


def test_gather_int64_labels_and_empty():
    labels = ints(1000, 40) - 500
    parity(lambda t, i: t.gather(0, i), labels, ints(40, 300))
    parity(lambda t, i: t.gather(1, i), rand(3, 4), np.zeros((3, 0), np.int64), grad=(0,))
    parity(lambda t, i: rg.take(t, i), rand(6, 7), np.array([[-1, 0], [41, -42]]), grad=(0,))
    # index_select-based movement ops with a host-built index.
    parity(lambda t: t.flip(0, 1), rand(3, 300), grad=(0,))
    parity(lambda t: t.repeat_interleave(2, 1), rand(3, 130), grad=(0,))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_add_duplicates(dim):
    x = rand(4, 260, 3)
    ishape = [4, 260, 3]
    ishape[dim] = 9
    idx = ints(x.shape[dim], *ishape)
    idx.reshape(-1)[:5] = 0  # duplicates within a column
    src = rand(*ishape)
    parity(lambda a, i, s: a.scatter_add(dim, i, s), x, idx, src, grad=(0, 2))
    parity(lambda a, i, s: a.scatter(dim, i, s, reduce="add"), x, idx, src)
    parity(lambda a, i, s: a.scatter(dim, i, s, reduce="multiply"), x, idx, src)


def test_scatter_src_and_value():
    x = rand(6, 300)
    idx = np.stack([RNG.permutation(300)[:200] for _ in range(4)])  # no duplicates: PyTorch's rule
    src = rand(5, 210)
    parity(lambda a, i, s: a.scatter(1, i, s), x, idx, src, grad=(0, 2))
    parity(lambda a, i: a.scatter(1, i, 2.5), x, idx, grad=(0,))
    parity(lambda a, i: a.scatter(0, i, value=-1.0), x[:, :5], idx[:, :5] % 6, grad=(0,))
    # int64 data and bool data scatter as words.
    parity(lambda a, i, s: a.scatter(0, i, s), ints(50, 6, 4), np.array([[5, 0, 1, 2]]), ints(50, 1, 4))
    parity(lambda a, i, s: a.scatter_add(0, i, s), ints(50, 6, 4), np.array([[5, 5, 1, 2]]), ints(50, 1, 4))
    parity(lambda a, i, s: a.scatter(1, i, s), np.zeros((2, 3), bool), np.array([[2], [0]]), np.ones((2, 1), bool))


def test_index_fill_copy_and_masked_scatter():
    x = rand(5, 270)
    idx = np.array([0, -1, 3])
    parity(lambda a, i: a.index_fill(1, i, 7.0), x, idx, grad=(0,))
    parity(lambda a, i, s: a.index_copy(0, i, s), x, np.array([4, 0]), rand(2, 270), grad=(0, 2))
    mask = RNG.random((5, 270)) > 0.5
    parity(lambda a, m, s: a.masked_scatter(m, s), x, mask, rand(5, 270), grad=(0, 2))


def test_gather_dim_and_its_scatter_add_backward():
    x = rand(7, 300)
    idx = ints(7, 7, 300)
    parity(lambda t, i: rg._C._gather_dim(t, i, 0), x, idx, grad=(0,))


# ---------------------------------------------------------------- advanced indexing / setitem


@pytest.mark.parametrize(
    "key",
    [
        lambda i, j: (i,),
        lambda i, j: (slice(None), i),
        lambda i, j: (i, i.flip(0)),
        lambda i, j: (i, slice(1, 4), j),  # non-adjacent: the broadcast dims go first
        lambda i, j: (i, i, j),
        lambda i, j: (Ellipsis, j),
        lambda i, j: (i[:, None], i[None, :4]),  # broadcast index shapes
        lambda i, j: (i, None, slice(None, None, 2)),
    ],
)
def test_advanced_getitem(key):
    x = rand(6, 6, 270)
    i = np.array([0, -1, 3, 3, -6, 2])  # negative and duplicate
    j = ints(270, 6, low=-270)
    parity(lambda t, a, b: t[key(a, b)], x, i, j, grad=(0,))
    # The same on a non-contiguous view.
    parity(lambda t, a, b: t.transpose(0, 2).transpose(0, 2)[key(a, b)], x, i, j, grad=(0,))
    parity(lambda t, a, b: t.transpose(0, 1)[key(a, b)], x, i, j.astype(np.int32), grad=(0,))


def test_getitem_lists_masks_and_labels():
    x = rand(300, 3)
    parity(lambda t: t[[5, 0, -1, 5]], x, grad=(0,))
    mask = RNG.random(300) > 0.3
    parity(lambda t, m: t[m], x, mask, grad=(0,))
    parity(lambda t, m: t[m], x.T.copy(), (RNG.random((3, 300)) > 0.5), grad=(0,))
    parity(lambda t, m: t.t()[:, m], x, mask, grad=(0,))  # a mask over a strided view
    # target[idx] of int64 labels, and an empty index.
    parity(lambda t, i: t[i], ints(10, 400), ints(400, 300))
    parity(lambda t, i: t[i], x, np.zeros(0, np.int64), grad=(0,))
    parity(lambda t, m: rg.masked_select(t, m), x, mask[:, None].repeat(3, 1), grad=(0,))
    out = rg.nonzero(on(mask, "wgpu"))
    assert out.device.type == "wgpu"
    np.testing.assert_array_equal(out.cpu().numpy(), np.argwhere(mask))


def _setitem(key_fn, value_fn):
    def fn(t, *rest):
        t = t * 1.0  # a non-leaf copy, so setitem can be differentiated
        t[key_fn(*rest)] = value_fn(t, *rest)
        return t

    return fn


def test_setitem_with_tensor_indices():
    x = rand(7, 280)
    i = np.array([0, 6, -2])
    j = ints(280, 3)
    parity(_setitem(lambda a, b: (a, b), lambda t, a, b: 3.0), x, i, j, grad=(0,))
    parity(_setitem(lambda a, b: (a,), lambda t, a, b: t[a] * 2.0), x, i, j, grad=(0,))
    v = rand(3)
    parity(lambda t, a, b, vv: _setitem(lambda *_: (a, b), lambda *_: vv)(t), x, i, j, v, grad=(0, 3))
    # Duplicate targets: the last write wins, as on the CPU.
    dup = np.array([4, 1, 4, 4, 1])
    parity(_setitem(lambda a: (a,), lambda t, a: rg.arange(5.0, device=t.device)[:, None] * 1.0 + 0 * t[a]),
           x, dup, grad=(0,))


def test_setitem_without_grad_and_masks():
    x = rand(5, 260)
    mask = RNG.random((5, 260)) > 0.5
    results = []
    for device in ("cpu", "wgpu"):
        t = on(x, device)
        m = on(mask, device)
        t[m] = -1.0  # one mask over the whole tensor: a masked fill
        t[on(np.array([4, 0, 4]), device), on(np.array([2, 7, 9]), device)] = on(np.array([1.0, 2.0, 3.0], np.float32), device)
        t[:, on(np.array([259, -259]), device)] = 5.0
        t[m[:, 0]] = on(np.full(260, 0.25, np.float32), device)  # a mask on dim 0 only
        labels = on(np.arange(300) % 10, device)
        labels[on(np.array([3, 299]), device)] = 42
        results.append((t.cpu().numpy(), labels.cpu().numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- embedding


def test_embedding_forward_backward_duplicates():
    w = rand(300, 4)
    ids = np.concatenate([ints(300, 2, 150), np.full((2, 3), 7)], axis=1)
    parity(lambda ww, i: F.embedding(i, ww), w, ids, grad=(0,))
    parity(lambda ww, i: nn.functional.embedding(i.reshape(-1), ww), w, ids, grad=(0,))
    parity(lambda ww, i: F.embedding(i.t(), ww), w, ids.astype(np.int32), grad=(0,))


def test_embedding_training_step_matches_cpu():
    rg.manual_seed(0)
    cpu = nn.Embedding(50, 8)
    dev = nn.Embedding(50, 8)
    dev.load_state_dict(cpu.state_dict())
    dev.to("wgpu")
    ids = ints(50, 6, 40)
    for model, device in ((cpu, "cpu"), (dev, "wgpu")):
        opt = rg.optim.SGD(model.parameters(), lr=0.5)
        out = model(on(ids, device))
        loss = (out * out).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(dev.weight.grad.cpu().numpy(), cpu.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dev.weight.detach().cpu().numpy(), cpu.weight.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_embedding_backward_is_deterministic():
    w = on(rand(20, 300), "wgpu", requires_grad=True)
    ids = on(np.tile(np.arange(3), 200), "wgpu")  # every row summed from 200 duplicates
    weights = on(rand(600, 300), "wgpu")
    grads = []
    for _ in range(2):
        w.grad = None
        (F.embedding(ids, w) * weights).sum().backward()
        grads.append(w.grad.cpu().numpy())
    # Bit-identical sums on the same inputs (no float atomics), equal to the CPU's within rounding.
    np.testing.assert_array_equal(grads[0], grads[1])
    wc = on(w.detach().cpu().numpy(), "cpu", requires_grad=True)
    (F.embedding(ids.cpu(), wc) * weights.cpu()).sum().backward()
    np.testing.assert_allclose(grads[0], wc.grad.numpy(), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- cat / stack


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack(dim):
    a, b = rand(4, 130, 3), rand(4, 130, 3)
    parity(lambda x, y: rg.cat([x, y.transpose(0, 2).transpose(0, 2), x], dim), a, b, grad=(0, 1))
    parity(lambda x, y: rg.cat([x.transpose(0, 2), y.transpose(0, 2)[:, ::2]], 1), a, b, grad=(0, 1))
    parity(lambda x, y: rg.stack([x, y.transpose(1, 2).transpose(1, 2)], dim), a, b, grad=(0, 1))
    parity(lambda x, y: rg.cat([x[:, 1:100], y[:, :30]], 1), a, b, grad=(0, 1))


def test_cat_other_dtypes_and_empty_parts():
    parity(lambda x, y: rg.cat([x, y]), ints(9, 300), ints(9, 5))
    parity(lambda x, y: rg.cat([x, y], 1), np.ones((2, 3), bool), np.zeros((2, 1), bool))
    parity(lambda x, y: rg.cat([x, y, x[:0]]), rand(3), np.zeros(0, np.float32), grad=(0,))
    with pytest.raises(RuntimeError, match="same device"):
        rg.cat([on(rand(2), "wgpu"), on(rand(2), "cpu")])


# ---------------------------------------------------------------- cumsum / cumprod


@pytest.mark.parametrize("shape,dim", [((700,), 0), ((3, 300, 2), 1), ((5, 260), -1), ((260, 5), 0)])
def test_cumsum_cumprod(shape, dim):
    x = rand(*shape)
    parity(lambda t: rg.cumsum(t, dim), x, grad=(0,), rtol=1e-4, atol=1e-4)
    small = RNG.uniform(0.8, 1.2, shape).astype(np.float32)
    parity(lambda t: rg.cumprod(t, dim), small, grad=(0,), rtol=1e-4, atol=1e-4)


def test_cumsum_cumprod_strided_and_zeros():
    x = rand(40, 30)
    parity(lambda t: t.t().cumsum(1), x, grad=(0,), atol=1e-4)
    parity(lambda t: t[::3, 1:].cumsum(0), x, grad=(0,), atol=1e-4)
    z = rand(6, 9)
    z[:, 3] = 0.0
    z[2, 5] = 0.0
    parity(lambda t: t.cumprod(1), z, grad=(0,), atol=1e-4)
    parity(lambda t: t.t().cumprod(0), z, grad=(0,), atol=1e-4)


# ---------------------------------------------------------------- deferred index errors


def test_out_of_range_raises_at_the_next_sync_point():
    x = on(rand(4, 5), "wgpu")
    bad = x.gather(1, on(np.array([[0, 7]] * 4), "wgpu"))  # records; cannot raise yet
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 1 with size 5"):
        bad.cpu()
    # The flag is reset: the device works again.
    np.testing.assert_allclose(x.gather(1, on(np.array([[4]] * 4), "wgpu")).cpu().numpy(), x.cpu().numpy()[:, 4:])
    y = x.index_select(0, on(np.array([1, 4]), "wgpu"))
    with pytest.raises(IndexError, match="index out of range in self"):
        y.sum().item()
    assert x.sum().item() == pytest.approx(float(x.cpu().numpy().sum()), rel=1e-5)
    x[on(np.array([0, -9]), "wgpu")]
    with pytest.raises(IndexError, match="index -9 is out of bounds for dimension 0 with size 4"):
        rg.wgpu.synchronize()
    rg.wgpu.synchronize()
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 4"):
        x.scatter_add(0, on(np.array([[-1, 0, 0, 0, 0]]), "wgpu"), on(rand(1, 5), "wgpu")).tolist()
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(on(np.array([0, 4]), "wgpu"), x).cpu()
    assert x.index_select(0, on(np.array([3]), "wgpu")).shape == (1, 5)


def test_index_ops_do_not_sync():
    x = on(rand(50, 8), "wgpu", requires_grad=True)
    i = on(ints(50, 30), "wgpu")
    rg.wgpu.synchronize()
    before = rg.wgpu.stats()
    y = x[i].cumsum(0).gather(1, on(ints(8, 30, 2), "wgpu"))
    yy = rg.cat([y, y], 1)
    z = yy.scatter_add(0, on(ints(30, 30, 4), "wgpu"), yy)
    z.sum().backward()
    after = rg.wgpu.stats()
    assert after["bytes_downloaded"] == before["bytes_downloaded"]
    assert after["submits"] - before["submits"] <= (after["dispatches"] - before["dispatches"]) // 48
    assert x.grad.device.type == "wgpu"


# ---------------------------------------------------------------- losses that gather


def _int_ops_on_device():
    try:
        t = rg.tensor([1, 2], device="wgpu")
        rg.where(t != 1, t, rg.zeros_like(t)).cpu()
        return True
    except NotImplementedError:
        return False


_INT_OPS = HAS_WGPU and _int_ops_on_device()
needs_int_ops = pytest.mark.xfail(
    not _INT_OPS, raises=NotImplementedError, strict=True,
    reason="int64 compare/where on the device (target != ignore_index) is not in this build yet")


@needs_int_ops
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_and_cross_entropy(reduction, weighted):
    n, c = 300, 7
    logits = rand(n, c)
    target = ints(c, n)
    target[::5] = -100
    weight = RNG.uniform(0.5, 2.0, c).astype(np.float32)

    def ce(x, t, w):
        return F.cross_entropy(x, t, weight=w if weighted else None, reduction=reduction)

    def nll(x, t, w):
        return F.nll_loss(F.log_softmax(x, 1), t, weight=w if weighted else None, reduction=reduction,
                          ignore_index=3)

    parity(ce, logits, target, weight, grad=(0,))
    target[::5] = 3
    parity(nll, logits, target, weight, grad=(0,))
    # (N, C, d) inputs put the class dim in the middle.
    parity(lambda x, t: F.cross_entropy(x, t, reduction=reduction), rand(4, c, 70), ints(c, 4, 70), grad=(0,))
