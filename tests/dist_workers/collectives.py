"""Every collective on this rank against a NumPy reference computed from all ranks' inputs.
Run under mpirun with 2 or 4 ranks; prints "[rank] ALL OK <checks>" at the end."""

import datetime
import warnings

import numpy as np
import rustgrad as rg
import rustgrad.distributed as dist

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]
SHAPES = [(), (5,), (3, 4), (2, 0, 3), (1000,)]
checks = 0


def data(r, dtype, shape, salt=0):
    """Rank r's input: small values so that products of up to 4 ranks stay exact."""
    rs = np.random.default_rng(1000 * r + 17 * salt + len(shape))
    a = rs.integers(0, 4, size=shape)
    if dtype == "bool":
        return a > 1
    if dtype.startswith("float"):
        return (a + rs.random(shape) * 0.5).astype(dtype)
    return a.astype(dtype)


def tensor(a):
    return rg.from_numpy(np.array(a, order="C", copy=True))


def same(t, ref, what):
    global checks
    got = t.numpy() if isinstance(t, rg.Tensor) else t
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs {ref.shape}"
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype} vs {ref.dtype}"
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(got, ref, err_msg=what)
    checks += 1


def expect(exc, fn, match, what):
    global checks
    try:
        fn()
    except exc as e:
        assert match in str(e), f"{what}: message {e!r} lacks {match!r}"
        checks += 1
        return
    raise AssertionError(f"{what}: {exc.__name__} not raised")


REDUCE = {
    "SUM": lambda xs: np.sum(xs, axis=0),
    "PRODUCT": lambda xs: np.prod(xs, axis=0),
    "MIN": lambda xs: np.min(xs, axis=0),
    "MAX": lambda xs: np.max(xs, axis=0),
    "AVG": lambda xs: np.mean(xs, axis=0),
    "BAND": lambda xs: np.bitwise_and.reduce(xs, axis=0),
    "BOR": lambda xs: np.bitwise_or.reduce(xs, axis=0),
    "BXOR": lambda xs: np.bitwise_xor.reduce(xs, axis=0),
}


def ref_reduce(op, xs, dtype):
    xs = np.stack(xs)
    if dtype == "bool":
        if op in ("SUM", "MAX", "BOR"):
            return np.any(xs, axis=0)
        if op in ("PRODUCT", "MIN", "BAND"):
            return np.all(xs, axis=0)
        return np.logical_xor.reduce(xs, axis=0)
    return REDUCE[op](xs).astype(dtype)


def ops_for(dtype):
    if dtype.startswith("float"):
        return ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]
    return ["SUM", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]


def main():
    dist.init_process_group(backend="mpi", timeout=datetime.timedelta(seconds=60))
    r, n = dist.get_rank(), dist.get_world_size()
    import os

    assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == str(n) and "LOCAL_RANK" in os.environ
    assert dist.is_initialized() and dist.get_backend() == "mpi"

    for dtype in DTYPES:
        for shape in SHAPES:
            xs = [data(q, dtype, shape) for q in range(n)]
            for op in ops_for(dtype):
                t = tensor(xs[r])
                dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
                same(t, ref_reduce(op, xs, dtype), f"all_reduce {op} {dtype} {shape}")
            for src in range(n):
                t = tensor(xs[r])
                dist.broadcast(t, src=src)
                same(t, xs[src], f"broadcast {dtype} {shape} src={src}")
            dst = n - 1
            t = tensor(xs[r])
            dist.reduce(t, dst=dst, op=dist.ReduceOp.MAX)
            same(t, ref_reduce("MAX", xs, dtype) if r == dst else xs[r], f"reduce {dtype} {shape}")
            outs = [rg.from_numpy(np.zeros(shape, dtype)) for _ in range(n)]
            dist.all_gather(outs, tensor(xs[r]))
            for q in range(n):
                same(outs[q], xs[q], f"all_gather {dtype} {shape} from {q}")
            if len(shape) >= 1:
                out = rg.from_numpy(np.zeros((n * shape[0],) + shape[1:], dtype))
                dist.all_gather_into_tensor(out, tensor(xs[r]))
                same(out, np.concatenate(xs), f"all_gather_into_tensor {dtype} {shape}")
                big = [data(q, dtype, (n * 2,) + shape[1:], salt=3) for q in range(n)]
                if dtype != "bool":
                    out = rg.from_numpy(np.zeros((2,) + shape[1:], dtype))
                    dist.reduce_scatter_tensor(out, tensor(big[r]))
                    same(out, ref_reduce("SUM", big, dtype)[2 * r:2 * r + 2], f"reduce_scatter_tensor {dtype} {shape}")
            out = rg.from_numpy(np.zeros((n,) + shape, dtype))
            dist.all_gather_into_tensor(out, tensor(xs[r]))
            same(out, np.stack(xs), f"all_gather_into_tensor stacked {dtype} {shape}")
            root = 1 % n
            gl = [rg.from_numpy(np.zeros(shape, dtype)) for _ in range(n)] if r == root else None
            dist.gather(tensor(xs[r]), gl, dst=root)
            if r == root:
                for q in range(n):
                    same(gl[q], xs[q], f"gather {dtype} {shape} from {q}")
            t = rg.from_numpy(np.zeros(shape, dtype))
            dist.scatter(t, [tensor(x) for x in xs] if r == root else None, src=root)
            same(t, xs[r], f"scatter {dtype} {shape}")

    # zero-copy: the collective writes the tensor's own memory
    t = rg.ones(4)
    arr = t.numpy()
    dist.all_reduce(t)
    same(arr, np.full(4, float(n), np.float32), "all_reduce in place on the tensor's memory")
    # strided tensors are staged and written back
    base = rg.zeros(4, 6)
    view = base.t()[1:5]
    view.copy_(rg.full((4, 4), float(r + 1)))
    dist.all_reduce(view)
    ref = np.zeros((6, 4), np.float32)
    ref[1:5] = n * (n + 1) / 2
    same(base.t(), ref, "all_reduce of a strided view")
    # a tensor that requires grad can be reduced (its data)
    w = rg.ones(3, requires_grad=True)
    dist.all_reduce(w)
    same(w.detach(), np.full(3, float(n), np.float32), "all_reduce of a requires_grad leaf")

    # async + Work
    ts = [rg.full((100,), float(r)) for _ in range(3)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w, t in zip(works, ts):
        assert w.wait() is True and w.is_completed() and w.is_success()
        same(t, np.full(100, n * (n - 1) / 2, np.float32), "async all_reduce")
    assert works[0].result()[0] is ts[0]
    dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()

    # point to point: a ring, blocking and nonblocking
    nxt, prv = (r + 1) % n, (r - 1) % n
    recv_buf = rg.zeros(7, dtype=rg.int64)
    sw = dist.isend(rg.full((7,), r, dtype=rg.int64), nxt)
    rw = dist.irecv(recv_buf, prv)
    rw.wait()
    sw.wait()
    same(recv_buf, np.full(7, prv, np.int64), "isend/irecv ring")
    if r == 0:
        dist.send(rg.arange(5, dtype=rg.float64), 1, tag=3)
    elif r == 1:
        got = rg.zeros(5, dtype=rg.float64)
        src = dist.recv(got, tag=3)
        assert src == 0
        same(got, np.arange(5, dtype=np.float64), "send/recv any source")
    ops = [dist.P2POp(dist.isend, rg.full((2,), float(r)), nxt), dist.P2POp(dist.irecv, rg.zeros(2), prv)]
    reqs = dist.batch_isend_irecv(ops)
    for q in reqs:
        q.wait()
    same(ops[1].tensor, np.full(2, float(prv), np.float32), "batch_isend_irecv")

    # object collectives (safe serializer)
    objs = [None] * n
    dist.all_gather_object(objs, {"rank": r, "t": rg.full((2,), float(r)), "s": "x" * r, "v": (1, 2.5, None)})
    for q in range(n):
        assert objs[q]["rank"] == q and objs[q]["s"] == "x" * q and objs[q]["v"] == (1, 2.5, None)
        same(objs[q]["t"], np.full(2, float(q), np.float32), "all_gather_object tensor")
    lst = [r, "mine", [r]]
    dist.broadcast_object_list(lst, src=n - 1)
    assert lst == [n - 1, "mine", [n - 1]], lst
    out = [None]
    dist.scatter_object_list(out, [f"to{q}" for q in range(n)] if r == 0 else None, src=0)
    assert out == [f"to{r}"]
    gathered = [None] * n if r == 0 else None
    dist.gather_object(r * 10, gathered, dst=0)
    if r == 0:
        assert gathered == [q * 10 for q in range(n)]

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    expect(TypeError, lambda: dist.all_gather_object([None] * n, Evil()), "cannot send Evil", "unsafe object refused")

    # groups
    g = dist.new_group([0, n - 1])
    if r in (0, n - 1):
        assert dist.get_world_size(g) == 2 and dist.get_rank(g) == (0 if r == 0 else 1)
        assert dist.get_process_group_ranks(g) == [0, n - 1]
        t = rg.full((3,), float(r))
        dist.all_reduce(t, group=g)
        same(t, np.full(3, float(n - 1), np.float32), "all_reduce on a sub-group")
        t = rg.full((2,), float(r))
        dist.broadcast(t, src=n - 1, group=g)
        same(t, np.full(2, float(n - 1), np.float32), "broadcast on a sub-group (global src)")
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert dist.all_reduce(rg.ones(1), group=g) is None
    dist.barrier()

    # errors, as PyTorch reports them
    expect(RuntimeError, lambda: dist.all_reduce(rg.ones(2 + r)), "Detected mismatch between collectives on ranks",
           "shape mismatch across ranks")
    expect(RuntimeError, lambda: dist.broadcast(rg.ones(2, dtype=rg.float32 if r else rg.float64), 0),
           "Detected mismatch", "dtype mismatch across ranks")
    expect(TypeError, lambda: dist.all_reduce([1, 2]), "Expected parameter `tensor`", "non-tensor")
    expect(RuntimeError, lambda: dist.broadcast(rg.ones(2), n + 3), "invalid root rank", "bad root")
    expect(RuntimeError, lambda: dist.all_gather_into_tensor(rg.zeros(n * 2 + 1), rg.ones(2)),
           "world_size", "all_gather_into_tensor size")
    expect(RuntimeError, lambda: dist.all_gather([rg.zeros(2)] * (n + 1), rg.ones(2)), "expected length",
           "all_gather list length")
    expect(RuntimeError, lambda: dist.all_reduce(rg.ones(2, dtype=rg.int64), op=dist.ReduceOp.AVG),
           "can't be cast to the desired output type Long", "integer AVG")
    expect(ValueError, lambda: dist.send(rg.ones(1), r), "Invalid destination rank", "send to self")
    if r == 0:  # both mistakes are caught before any message is sent
        expect(ValueError, lambda: dist.gather(rg.ones(1), None, dst=0), "must be specified on destination rank",
               "gather without list")
    else:
        expect(ValueError, lambda: dist.gather(rg.ones(1), [rg.ones(1)] * n, dst=0),
               "must NOT be specified on non-destination ranks", "gather list off the destination")
    expect(ValueError, lambda: dist.init_process_group("mpi"), "twice", "double init")
    dist.barrier()
    print(f"[{r}] ALL OK {checks}", flush=True)
    dist.destroy_process_group()
    assert not dist.is_initialized()
    expect(ValueError, lambda: dist.all_reduce(rg.ones(1)), "Default process group has not been initialized",
           "after destroy")


def main_wgpu():
    """Tensors on the wgpu device: staged through host memory and written back."""
    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    t = rg.full((5,), float(r + 1)).to("wgpu")
    dist.all_reduce(t)
    assert t.device.type == "wgpu"
    same(t.cpu(), np.full(5, n * (n + 1) / 2, np.float32), "all_reduce on wgpu")
    t = rg.full((2, 3), float(r)).to("wgpu")
    dist.broadcast(t, src=n - 1)
    same(t.cpu(), np.full((2, 3), float(n - 1), np.float32), "broadcast on wgpu")
    outs = [rg.zeros(2).to("wgpu") for _ in range(n)]
    dist.all_gather(outs, rg.full((2,), float(r)).to("wgpu"))
    for q in range(n):
        same(outs[q].cpu(), np.full(2, float(q), np.float32), "all_gather into wgpu tensors")
    print(f"[{r}] ALL OK {checks}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    import sys

    main_wgpu() if sys.argv[1:] == ["wgpu"] else main()
