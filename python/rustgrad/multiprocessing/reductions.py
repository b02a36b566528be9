"""Pickling tensors between processes by shared-memory handle, not by value.

``ForkingPickler`` (what ``multiprocessing`` queues, pipes and spawn arguments use) is taught to
send a CPU tensor as the name of its shared-memory block plus its layout: the sender first moves
the storage into shared memory (``share_memory_``, as PyTorch does), the receiver maps the block,
so both processes work on the same memory. Tensors of one storage sent to a process share one
storage there too.
"""

import weakref
from multiprocessing.reduction import ForkingPickler

import numpy as np

import rustgrad
from rustgrad.multiprocessing import shared_memory
from rustgrad.multiprocessing.shared_tensor import share_memory_, storage_start
from rustgrad.nn.parameter import Parameter

# block name -> base tensor over the whole mapped storage, in this process
_attached = weakref.WeakValueDictionary()


def _rebuild(name, nbytes, dtype, storage_len, shape, stride, offset, requires_grad, as_parameter):
    base = _attached.get(name)
    if base is None:
        raw = shared_memory.attach(name, nbytes)
        dt = np.dtype(dtype)
        base = rustgrad.from_numpy(raw[: storage_len * dt.itemsize].view(dt))
        _attached[name] = base
    t = base.as_strided(shape, stride, offset)
    if as_parameter:
        return Parameter(t, requires_grad)
    if requires_grad:
        t.requires_grad_(True)
    return t


def reduce_tensor(t):
    """Reduce a tensor for ``ForkingPickler``: its shared-memory handle and layout."""
    if t.requires_grad and t.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd does not support "
            "crossing process boundaries.  If you just want to transfer the data, call detach() on the tensor "
            "before serializing (e.g., putting it on the queue)."
        )
    if t.device.type != "cpu":
        return t.__reduce_ex__(2)  # device tensors travel by value
    share_memory_(t)
    name, nbytes = shared_memory.lookup(storage_start(t))
    return (_rebuild, (name, nbytes, str(t.dtype).rsplit(".", 1)[-1], t._storage_numel(), tuple(t.shape),
                       tuple(t.stride()), t.storage_offset(), t.requires_grad, isinstance(t, Parameter)))


def init_reductions():
    """Register the tensor reducer with ``ForkingPickler`` (done on import)."""
    for cls in (rustgrad.Tensor, Parameter):
        ForkingPickler.register(cls, reduce_tensor)
