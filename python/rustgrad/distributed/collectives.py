"""Tensor collectives and point-to-point messages, in place as in ``torch.distributed``.

Every operation is an MPI nonblocking call wrapped in a :class:`Work`; with ``async_op=False`` it
is waited on at once. Waiting polls the MPI requests against the group's timeout, so a rank that
died or never arrives turns into ``DistBackendError`` rather than a hang.

Before a collective, the ranks compare a small fingerprint (operation, dtype, shape, root, reduce
op) in one extra ``allgather``: a mismatch raises ``RuntimeError`` naming both ranks' calls
instead of letting MPI mix buffers of different sizes. Set ``RUSTGRAD_DIST_CHECK=0`` to skip it.
"""

import os
import warnings

import numpy as np

import rustgrad
from rustgrad.distributed import process_group as _pg
from rustgrad.distributed.reduce_op import ReduceOp, as_red_op
from rustgrad.distributed.tensor_buffers import (
    TensorBuffer,
    check_tensor,
    check_tensor_list,
    copy_into,
    dtype_name,
    host_array,
    mpi_op,
)
from rustgrad.distributed.work import Work

_KINDS = ["all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor",
          "gather", "scatter", "barrier", "reduce_scatter"]
_DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool", "float16", "bfloat16", "int16", "int8"]
_FP_DIMS = 6
_FP_LEN = 4 + _FP_DIMS + 1


def _checks_on():
    return os.environ.get("RUSTGRAD_DIST_CHECK", "1") != "0"


def _fingerprint(kind, t, op=None, root=-1):
    fp = np.zeros(_FP_LEN, dtype=np.int64)
    fp[0] = _KINDS.index(kind)
    fp[1] = -1 if t is None else _DTYPES.index(dtype_name(t.dtype)) if dtype_name(t.dtype) in _DTYPES else 99
    fp[2] = -1 if op is None else op.value
    fp[3] = root
    shape = () if t is None else tuple(t.shape)
    fp[4] = len(shape)
    for i, d in enumerate(shape[:_FP_DIMS]):
        fp[5 + i] = d
    fp[-1] = hash(shape[_FP_DIMS:]) & 0xFFFFFFFF
    return fp


def _describe(fp):
    kind = _KINDS[fp[0]] if 0 <= fp[0] < len(_KINDS) else f"op#{fp[0]}"
    parts = [kind]
    if fp[1] >= 0:
        ndim = int(fp[4])
        dims = [int(d) for d in fp[5:5 + min(ndim, _FP_DIMS)]] + (["..."] if ndim > _FP_DIMS else [])
        dt = _DTYPES[fp[1]] if fp[1] < len(_DTYPES) else "other"
        parts.append(f"shape [{', '.join(map(str, dims))}], dtype rustgrad.{dt}")
    if fp[2] >= 0:
        parts.append(f"op {ReduceOp.RedOpType(int(fp[2])).name}")
    if fp[3] >= 0:
        parts.append(f"root {int(fp[3])}")
    return ", ".join(parts)


def _check_same(pg, kind, t, op=None, root=-1):
    """Raise RuntimeError when the ranks are not all running the same collective on the same
    shape and dtype."""
    if not _checks_on() or pg.size() == 1:
        return
    fp = _fingerprint(kind, t, op, root)
    every = np.empty((pg.size(), _FP_LEN), dtype=np.int64)
    req = pg._comm.Iallgather(fp, every)
    _pg.wait_all([req], pg, f"{kind} (checking the ranks agree)")
    bad = np.nonzero((every != every[0]).any(axis=1))[0]
    if len(bad):
        r = int(bad[0])
        raise RuntimeError(
            f"Detected mismatch between collectives on ranks. Rank {pg._ranks[0]} is running collective: "
            f"{_describe(every[0])}, but Rank {pg._ranks[r]} is running collective: {_describe(every[r])}"
        )


def _member(pg, what):
    if pg is None:
        warnings.warn(f"Running {what} on a rank which does not belong to the given group.", stacklevel=3)
        return False
    return True


def _root(pg, src, group_src, what):
    """Group rank of the root given as a global rank (``src``/``dst``) or a group rank."""
    if group_src is not None:
        if src is not None:
            raise ValueError(f"{what}: pass only one of the global and the group rank of the root")
        if not 0 <= group_src < pg.size():
            raise ValueError(f"{what}: invalid group root rank: {group_src}")
        return group_src
    if src is None:
        src = 0
    if src not in pg._rank_of:
        if pg is _pg._default_pg():
            raise RuntimeError(f"{what}: invalid root rank: {src}")
        raise ValueError(f"Global rank {src} is not part of group {pg._name}")
    return pg._rank_of[src]


def _run(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _divide_for_avg(op, pg, arr):
    if op is ReduceOp.AVG:
        arr /= pg.size()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group in place, every rank getting the result."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "all_reduce"):
        return None
    op = as_red_op(op)
    MPI = _pg._mpi()
    mop = mpi_op(MPI, op, tensor)
    _check_same(pg, "all_reduce", tensor, op)
    buf = TensorBuffer(tensor)
    req = pg._comm.Iallreduce(MPI.IN_PLACE, buf.arr, mop)

    def finish():
        _divide_for_avg(op, pg, buf.arr)
        buf.writeback()

    return _run(Work([req], pg, "all_reduce", finish, [tensor]), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` from rank ``src`` into ``tensor`` on every rank."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "broadcast"):
        return None
    root = _root(pg, src, group_src, "broadcast")
    _check_same(pg, "broadcast", tensor, root=root)
    buf = TensorBuffer(tensor)
    req = pg._comm.Ibcast(buf.arr, root=root)
    return _run(Work([req], pg, "broadcast", buf.writeback, [tensor]), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` across the group into ``tensor`` on rank ``dst`` (other ranks keep theirs)."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "reduce"):
        return None
    op = as_red_op(op)
    MPI = _pg._mpi()
    mop = mpi_op(MPI, op, tensor)
    root = _root(pg, dst, group_dst, "reduce")
    _check_same(pg, "reduce", tensor, op, root)
    buf = TensorBuffer(tensor)
    mine = pg.rank() == root
    if mine:
        req = pg._comm.Ireduce(MPI.IN_PLACE, buf.arr, mop, root=root)
    else:
        req = pg._comm.Ireduce(buf.arr, None, mop, root=root)

    def finish():
        if mine:
            _divide_for_avg(op, pg, buf.arr)
            buf.writeback()

    return _run(Work([req], pg, "reduce", finish, [tensor]), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's ``tensor`` into ``tensor_list`` (one tensor per rank) on every rank."""
    check_tensor_list(tensor_list)
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "all_gather"):
        return None
    n = pg.size()
    if len(tensor_list) != n:
        raise RuntimeError(f"all_gather: invalid output tensor list (expected length {n}, got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
            raise RuntimeError(f"all_gather: invalid tensor at index {i} (expected {tuple(tensor.shape)} "
                               f"{tensor.dtype}, got {tuple(t.shape)} {t.dtype})")
    _check_same(pg, "all_gather", tensor)
    src = TensorBuffer(tensor)
    flat = host_array((n,) + tuple(tensor.shape), tensor.dtype)
    req = pg._comm.Iallgather(src.arr, flat)

    def finish():
        for i, t in enumerate(tensor_list):
            copy_into(t, flat[i, ...])

    return _run(Work([req], pg, "all_gather", finish, list(tensor_list)), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor`` (concatenated along dim 0, or
    stacked as ``[world_size, *input.shape]``)."""
    check_tensor(output_tensor, "output_tensor")
    check_tensor(input_tensor, "input_tensor")
    pg = _pg._resolve(group)
    if not _member(pg, "all_gather_into_tensor"):
        return None
    n = pg.size()
    if output_tensor.numel() != n * input_tensor.numel():
        raise RuntimeError(f"all_gather_into_tensor: output tensor of {output_tensor.numel()} elements must hold "
                           f"world_size ({n}) times the input's {input_tensor.numel()} elements")
    if output_tensor.dtype != input_tensor.dtype:
        raise RuntimeError(f"all_gather_into_tensor: output dtype {output_tensor.dtype} differs from the "
                           f"input's {input_tensor.dtype}")
    _check_same(pg, "all_gather_into_tensor", input_tensor)
    src, out = TensorBuffer(input_tensor), TensorBuffer(output_tensor)
    req = pg._comm.Iallgather(src.arr, out.arr)
    return _run(Work([req], pg, "all_gather_into_tensor", out.writeback, [output_tensor]), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: A002
    """Reduce ``input`` across ranks and give rank ``r`` the ``r``-th of ``world_size`` equal
    chunks (along dim 0) in ``output``."""
    check_tensor(output, "output")
    check_tensor(input, "input")
    pg = _pg._resolve(group)
    if not _member(pg, "reduce_scatter_tensor"):
        return None
    n = pg.size()
    if input.numel() != n * output.numel():
        raise RuntimeError(f"reduce_scatter_tensor: input tensor of {input.numel()} elements must hold "
                           f"world_size ({n}) times the output's {output.numel()} elements")
    if output.dtype != input.dtype:
        raise RuntimeError(f"reduce_scatter_tensor: output dtype {output.dtype} differs from the input's {input.dtype}")
    op = as_red_op(op)
    MPI = _pg._mpi()
    mop = mpi_op(MPI, op, input)
    _check_same(pg, "reduce_scatter_tensor", input, op)
    src, out = TensorBuffer(input), TensorBuffer(output)
    req = pg._comm.Ireduce_scatter_block(src.arr, out.arr, mop)

    def finish():
        _divide_for_avg(op, pg, out.arr)
        out.writeback()

    return _run(Work([req], pg, "reduce_scatter_tensor", finish, [output]), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """List form of :func:`reduce_scatter_tensor`: ``input_list[r]`` goes to rank ``r``."""
    check_tensor(output, "output")
    check_tensor_list(input_list, "input_list")
    pg = _pg._resolve(group)
    if not _member(pg, "reduce_scatter"):
        return None
    if len(input_list) != pg.size():
        raise RuntimeError(f"reduce_scatter: invalid input tensor list (expected length {pg.size()}, "
                           f"got {len(input_list)})")
    for i, t in enumerate(input_list):
        if tuple(t.shape) != tuple(output.shape) or t.dtype != output.dtype:
            raise RuntimeError(f"reduce_scatter: invalid tensor at index {i} (expected {tuple(output.shape)} "
                               f"{output.dtype}, got {tuple(t.shape)} {t.dtype})")
    flat = rustgrad.stack([t.detach().to("cpu") for t in input_list])
    return reduce_scatter_tensor(output, flat, op, group, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst``. Built from
    point-to-point messages received straight into the ``gather_list`` tensors."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "gather"):
        return None
    root = _root(pg, dst, group_dst, "gather")
    mine = pg.rank() == root
    if mine:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        check_tensor_list(gather_list, "gather_list")
        if len(gather_list) != pg.size():
            raise RuntimeError(f"gather: invalid output tensor list (expected length {pg.size()}, "
                               f"got {len(gather_list)})")
        for i, t in enumerate(gather_list):
            if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
                raise RuntimeError(f"gather: invalid tensor at index {i} (expected {tuple(tensor.shape)} "
                                   f"{tensor.dtype}, got {tuple(t.shape)} {t.dtype})")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    _check_same(pg, "gather", tensor, root=root)
    if not mine:
        buf = TensorBuffer(tensor)
        return _run(Work([pg._p2p.Isend(buf.arr, dest=root, tag=1)], pg, "gather", lambda: buf), async_op)
    outs = [TensorBuffer(t) for t in gather_list]
    reqs = [pg._p2p.Irecv(b.arr, source=i, tag=1) for i, b in enumerate(outs) if i != root]
    copy_into(gather_list[root], tensor)

    def finish():
        for i, b in enumerate(outs):
            if i != root:
                b.writeback()

    return _run(Work(reqs, pg, "gather", finish, list(gather_list)), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Send ``scatter_list[r]`` from rank ``src`` into ``tensor`` on rank ``r``."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "scatter"):
        return None
    root = _root(pg, src, group_src, "scatter")
    mine = pg.rank() == root
    if mine:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        check_tensor_list(scatter_list, "scatter_list")
        if len(scatter_list) != pg.size():
            raise RuntimeError(f"scatter: invalid input tensor list (expected length {pg.size()}, "
                               f"got {len(scatter_list)})")
        for i, t in enumerate(scatter_list):
            if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
                raise RuntimeError(f"scatter: invalid tensor at index {i} (expected {tuple(tensor.shape)} "
                                   f"{tensor.dtype}, got {tuple(t.shape)} {t.dtype})")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _check_same(pg, "scatter", tensor, root=root)
    if not mine:
        buf = TensorBuffer(tensor)
        return _run(Work([pg._p2p.Irecv(buf.arr, source=root, tag=2)], pg, "scatter", buf.writeback, [tensor]),
                    async_op)
    ins = [TensorBuffer(t) for t in scatter_list]
    reqs = [pg._p2p.Isend(b.arr, dest=i, tag=2) for i, b in enumerate(ins) if i != root]
    copy_into(tensor, scatter_list[root])
    return _run(Work(reqs, pg, "scatter", lambda: ins, [tensor]), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has entered the barrier."""
    pg = _pg._resolve(group)
    if not _member(pg, "barrier"):
        return None
    return _run(Work([pg._comm.Ibarrier()], pg, "barrier"), async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier with its own ``timeout`` (``DistBackendError`` when a rank does not arrive)."""
    pg = _pg._resolve(group)
    if not _member(pg, "monitored_barrier"):
        return None
    w = Work([pg._comm.Ibarrier()], pg, "monitored_barrier")
    w.wait(timeout=timeout)


def _peer(pg, peer, group_peer, what, name):
    if group_peer is not None:
        r = group_peer
    else:
        if peer is None:
            raise ValueError(f"{what}: {name} rank must be given")
        r = pg._group_rank(peer)
    if not 0 <= r < pg.size():
        raise ValueError(f"Invalid {name} rank {r}")
    return r


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns a :class:`Work`."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "isend"):
        return None
    d = _peer(pg, dst, group_dst, "isend", "destination")
    if d == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as the rank of the "
                         "current process.")
    buf = TensorBuffer(tensor)
    return Work([pg._comm.Isend(buf.arr, dest=d, tag=tag)], pg, "send", lambda: buf)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None); returns a
    :class:`Work` whose ``source_rank()`` says who sent it."""
    check_tensor(tensor)
    pg = _pg._resolve(group)
    if not _member(pg, "irecv"):
        return None
    MPI = _pg._mpi()
    s = MPI.ANY_SOURCE if src is None and group_src is None else _peer(pg, src, group_src, "irecv", "source")
    if s == pg.rank():
        raise ValueError("Invalid source rank: source rank should not be the same as the rank of the current "
                         "process.")
    buf = TensorBuffer(tensor)
    return Work([pg._comm.Irecv(buf.arr, source=s, tag=tag)], pg, "recv", buf.writeback, [tensor], want_status=True)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it is on its way."""
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from ``src`` (any rank when None); returns the sender's rank."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    w.wait()
    return w.source_rank()


class P2POp:
    """One point-to-point operation for :func:`batch_isend_irecv` (``op`` is ``isend`` or ``irecv``)."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = op, tensor, peer, group, tag, group_peer


def batch_isend_irecv(p2p_op_list):
    """Start every operation of ``p2p_op_list``; returns their :class:`Work` objects."""
    if not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]
