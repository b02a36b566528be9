"""Collectives on Python objects (``broadcast_object_list``, ``all_gather_object``, ...).

PyTorch pickles the objects, so a rank can run code on every other rank by sending a crafted
pickle. Here objects travel in rustgrad's checkpoint format (``rustgrad.save``/``rustgrad.load``):
tensors, containers and plain values only; loading resolves no other global, so a message
never executes code. Anything else raises ``TypeError`` on the sending rank.
"""

import io

import numpy as np

import rustgrad
from rustgrad.distributed import process_group as _pg


def _dumps(obj):
    buf = io.BytesIO()
    try:
        rustgrad.save(obj, buf)
        data = buf.getvalue()
        rustgrad.load(io.BytesIO(data))  # refuse on the sender what every receiver would refuse
    except Exception as e:
        raise TypeError(
            f"object collectives send only tensors, containers (list/tuple/dict) and plain values "
            f"(numbers, strings, bytes, None); cannot send {type(obj).__name__}: {e}"
        ) from e
    return np.frombuffer(data, dtype=np.uint8)


def _loads(arr):
    return rustgrad.load(io.BytesIO(arr.tobytes()))


def _wait(reqs, pg, what):
    _pg.wait_all(reqs, pg, what)


def _bcast_bytes(pg, payload, root, what):
    """Broadcast a byte array from group rank ``root``; returns it on every rank."""
    n = np.array([0 if payload is None else payload.size], dtype=np.int64)
    _wait([pg._comm.Ibcast(n, root=root)], pg, what)
    data = payload if pg.rank() == root else np.empty(int(n[0]), dtype=np.uint8)
    _wait([pg._comm.Ibcast(data, root=root)], pg, what)
    return data


def _allgather_bytes(pg, payload, what):
    """Every rank's byte array, on every rank."""
    MPI = _pg._mpi()
    sizes = np.empty(pg.size(), dtype=np.int64)
    _wait([pg._comm.Iallgather(np.array([payload.size], dtype=np.int64), sizes)], pg, what)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    _wait([pg._comm.Iallgatherv(payload, [out, sizes, displs, MPI.BYTE])], pg, what)
    return [out[d:d + s] for d, s in zip(displs, sizes)]


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace ``object_list``'s items on every rank with rank ``src``'s (in place)."""
    from rustgrad.distributed.collectives import _root

    pg = _pg._resolve(group)
    if pg is None:
        return
    root = _root(pg, src, group_src, "broadcast_object_list")
    payload = _dumps(list(object_list)) if pg.rank() == root else None
    data = _bcast_bytes(pg, payload, root, "broadcast_object_list")
    if pg.rank() != root:
        got = _loads(data)
        if len(got) != len(object_list):
            raise RuntimeError(f"broadcast_object_list: the source sent {len(got)} objects, this rank's list "
                               f"holds {len(object_list)}")
        object_list[:] = got


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list`` (one slot per rank) with every rank's ``obj``."""
    pg = _pg._resolve(group)
    if pg is None:
        return
    parts = _allgather_bytes(pg, _dumps(obj), "all_gather_object")
    for i, p in enumerate(parts):
        object_list[i] = _loads(p)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Collect every rank's ``obj`` into ``object_gather_list`` on rank ``dst``."""
    from rustgrad.distributed.collectives import _root

    pg = _pg._resolve(group)
    if pg is None:
        return
    root = _root(pg, dst, group_dst, "gather_object")
    if pg.rank() == root and object_gather_list is None:
        raise ValueError("Argument ``object_gather_list`` must be specified on destination rank.")
    parts = _allgather_bytes(pg, _dumps(obj), "gather_object")
    if pg.rank() == root:
        for i, p in enumerate(parts):
            object_gather_list[i] = _loads(p)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """Rank ``r`` receives ``scatter_object_input_list[r]`` from rank ``src`` into
    ``scatter_object_output_list[0]``."""
    from rustgrad.distributed.collectives import _root

    pg = _pg._resolve(group)
    if pg is None:
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    root = _root(pg, src, group_src, "scatter_object_list")
    payload = _dumps(list(scatter_object_input_list)) if pg.rank() == root else None
    data = _bcast_bytes(pg, payload, root, "scatter_object_list")
    items = list(scatter_object_input_list) if pg.rank() == root else _loads(data)
    scatter_object_output_list[0] = items[pg.rank()]
