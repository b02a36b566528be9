"""``rustgrad.multiprocessing``: Python's ``multiprocessing`` plus tensors that are shared, not
copied (``torch.multiprocessing``).

Everything of ``multiprocessing`` is re-exported (``Process``, ``Queue``, ``Pool``, start
methods...). Importing this module teaches their pickler to send CPU tensors by shared-memory
handle: a tensor put on a ``Queue`` or passed to a ``Process`` moves into shared memory
(``share_memory_``) and the receiver maps the same memory, so Hogwild-style training, with
several processes updating one model's parameters, works.
"""

import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from rustgrad.multiprocessing.reductions import init_reductions
from rustgrad.multiprocessing.spawn import (
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    SpawnContext,
    spawn,
    start_processes,
)

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException", "SpawnContext",
           "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn",
           "start_processes"] + list(multiprocessing.__all__)

# Blocks are named POSIX shared memory, looked up by name: PyTorch's "file_system" strategy.
_sharing_strategy = "file_system"


def get_sharing_strategy():
    """The way tensors are shared between processes (always ``"file_system"``: named blocks)."""
    return _sharing_strategy


def get_all_sharing_strategies():
    return {"file_system"}


def set_sharing_strategy(new_strategy):
    """Only ``"file_system"`` exists here."""
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"unsupported sharing strategy {new_strategy!r}; available: file_system")


init_reductions()
