"""``rustgrad.distributed``: multi-process communication in ``torch.distributed``'s shape, on MPI.

Start the ranks with ``mpirun -n N python script.py`` or ``python -m rustgrad.distributed.run
--nproc-per-node N script.py``; the script calls ``init_process_group()`` and then uses the
collectives below. CPU tensors are handed to MPI without copies; tensors on other devices are
staged through host memory. See docs/distributed.md.
"""

from rustgrad.distributed.collectives import (
    P2POp,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    batch_isend_irecv,
    broadcast,
    gather,
    irecv,
    isend,
    monitored_barrier,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from rustgrad.distributed.errors import DistBackendError, DistError, DistNetworkError, DistStoreError
from rustgrad.distributed.object_collectives import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    scatter_object_list,
)
from rustgrad.distributed.process_group import (
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    new_group,
)
from rustgrad.distributed.reduce_op import ReduceOp
from rustgrad.distributed.work import Work


class Backend:
    """Backend names (``dist.Backend.MPI`` etc.); every one runs on MPI here."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    UNDEFINED = "undefined"


__all__ = [
    "Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError", "GroupMember", "P2POp",
    "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce",
    "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list", "default_pg_timeout",
    "destroy_process_group", "gather", "gather_object", "get_backend", "get_global_rank", "get_group_rank",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group", "irecv", "is_available",
    "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available", "is_torchelastic_launched",
    "isend", "monitored_barrier", "new_group", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor",
    "scatter", "scatter_object_list", "send",
]
