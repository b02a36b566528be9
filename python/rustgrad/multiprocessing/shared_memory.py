"""Named POSIX shared-memory blocks that back shared tensors, and the registry that says which
memory is shared (``Tensor.is_shared``) and under which name another process can map it.

The process that creates a block registers it with Python's resource tracker (so it is removed
even if the process is killed) and unlinks its name when the last tensor using it is freed.
Processes that attach to a block map it without registering it, so their exit never removes
memory the owner still uses. Once mapped, memory stays valid until unmapped, whatever happens to
the name.
"""

import mmap
import os
import secrets
import threading
import weakref

import numpy as np

try:
    import _posixshmem
except ImportError:  # pragma: no cover - non-POSIX platforms
    _posixshmem = None

_lock = threading.Lock()
# start address -> (name, nbytes)
_blocks = {}


def _forget(addr, name, owner):
    with _lock:
        _blocks.pop(addr, None)
    if owner:
        try:
            _posixshmem.shm_unlink(name)
        except (FileNotFoundError, OSError):
            pass
        try:
            from multiprocessing import resource_tracker

            resource_tracker.unregister("/" + name.lstrip("/"), "shared_memory")
        except Exception:  # the tracker may already be gone at interpreter exit
            pass


def _map(fd, nbytes, size_it):
    try:
        if size_it:
            os.ftruncate(fd, max(nbytes, 1))
        return mmap.mmap(fd, max(nbytes, 1))
    finally:
        os.close(fd)


def _register(m, name, nbytes, owner):
    raw = np.frombuffer(m, dtype=np.uint8)
    addr = raw.ctypes.data
    with _lock:
        _blocks[addr] = (name, nbytes)
    weakref.finalize(raw, _forget, addr, name, owner)
    return raw


def create(nbytes):
    """A new shared block of ``nbytes`` bytes: ``(name, uint8 array over it)``."""
    if _posixshmem is None:  # pragma: no cover
        raise RuntimeError("shared memory tensors need POSIX shared memory (_posixshmem)")
    while True:
        name = "/rg_" + secrets.token_hex(8)
        try:
            fd = _posixshmem.shm_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
            break
        except FileExistsError:
            continue
    from multiprocessing import resource_tracker

    resource_tracker.register(name, "shared_memory")
    return name, _register(_map(fd, nbytes, True), name, nbytes, owner=True)


def attach(name, nbytes):
    """Map the existing block ``name`` (made by :func:`create` in some process)."""
    fd = _posixshmem.shm_open(name, os.O_RDWR, mode=0o600)
    return _register(_map(fd, nbytes, False), name, nbytes, owner=False)


def lookup(addr):
    """``(name, nbytes)`` of the shared block starting at address ``addr``, or None."""
    with _lock:
        return _blocks.get(addr)
