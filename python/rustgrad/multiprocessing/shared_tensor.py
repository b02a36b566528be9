"""``Tensor.share_memory_()`` / ``Tensor.is_shared()``: tensors whose memory other processes map."""

import numpy as np

from rustgrad.multiprocessing import shared_memory


def storage_start(t):
    """Address of the first byte of ``t``'s storage (not of the view)."""
    return t.data_ptr() - t.storage_offset() * t.element_size()


def is_shared(t):
    """Whether ``t``'s storage lives in shared memory (``Tensor.is_shared``)."""
    return t.device.type == "cpu" and shared_memory.lookup(storage_start(t)) is not None


def share_memory_(t):
    """Move ``t``'s storage into shared memory, in place: ``t`` and every view of the same storage
    then read and write the shared block, and a tensor sent to another process through a
    ``rustgrad.multiprocessing`` queue maps it instead of being copied. A no-op when already
    shared, and for non-CPU tensors (as PyTorch's is for CUDA). Returns ``t``."""
    if t.device.type != "cpu" or is_shared(t):
        return t
    n = t._storage_numel()
    itemsize = t.element_size()
    _, raw = shared_memory.create(n * itemsize)
    dt = np.dtype(str(t.dtype).rsplit(".", 1)[-1])
    t._move_storage_to_numpy(raw[: n * itemsize].view(dt))
    return t
