"""Process groups on MPI: the default group that ``init_process_group`` creates, sub-groups from
``new_group``, rank/size queries, and the deadline-bounded wait every operation goes through.

MPI is the engine: ``mpi4py`` is imported lazily (on ``init_process_group``), so importing
``rustgrad.distributed`` never needs it. Each group owns two MPI communicators duplicated from
the world: one for collectives and the user's send/recv, one for the point-to-point messages that
``gather``/``scatter`` are built from, so their tags never collide with the user's.
"""

import atexit
import datetime
import os
import queue
import sys
import threading
import time

from rustgrad.distributed.errors import DistBackendError

_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."
# torch's default collective timeout.
default_pg_timeout = datetime.timedelta(minutes=30)
# Backend names a PyTorch script may pass; all of them run on MPI here (CPU: buffers go to MPI
# directly; other devices stage through host memory).
_BACKENDS = ("mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl")

_MPI = None


def _mpi():
    """The ``mpi4py.MPI`` module, imported on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:  # pragma: no cover - depends on the machine
            raise RuntimeError(
                "rustgrad.distributed's mpi backend needs mpi4py and an MPI library "
                "(apt install openmpi-bin libopenmpi-dev; pip install mpi4py)"
            ) from e
        _MPI = MPI
    return _MPI


class ProcessGroup:
    """A set of ranks that communicate (``torch.distributed.ProcessGroup``). ``ranks`` are the
    members' global ranks, in group-rank order."""

    def __init__(self, comm, ranks, timeout, name):
        self._comm = comm
        self._p2p = comm.Dup()  # internal point-to-point traffic of gather/scatter
        self._ranks = list(ranks)
        self._rank_of = {g: i for i, g in enumerate(self._ranks)}
        self._timeout = timeout
        self._name = name

    def rank(self):
        """This process's rank within the group."""
        return self._comm.Get_rank()

    def size(self):
        """Number of ranks in the group."""
        return self._comm.Get_size()

    def name(self):
        return self._name

    @property
    def group_name(self):
        return self._name

    def _group_rank(self, global_rank, what="rank"):
        """Translate a global rank to this group's numbering (ValueError if not a member)."""
        r = self._rank_of.get(global_rank)
        if r is None:
            raise ValueError(f"Global rank {global_rank} is not part of group {self._name}")
        return r

    def _free(self):
        for c in (self._p2p, self._comm):
            try:
                c.Free()
            except Exception:  # a communicator of a broken job may refuse; nothing to recover
                pass

    def __repr__(self):
        return f"ProcessGroup(name={self._name!r}, ranks={self._ranks})"


class _NonMember:
    """What ``new_group`` returns on ranks that are not in the group (``GroupMember.NON_GROUP_MEMBER``)."""

    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialized; ``NON_GROUP_MEMBER`` marks a
    group this rank is not part of."""

    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801 - torch spells it in lower case
    """``dist.group.WORLD``: the default group."""

    WORLD = None


_state = {"pg": None, "backend": None, "groups": 0, "broken": False}


def is_available():
    """Whether the distributed package can run here (``mpi4py`` importable)."""
    try:
        _mpi()
    except RuntimeError:
        return False
    return True


def is_mpi_available():
    """Whether the MPI backend is available (the only backend; same as ``is_available``)."""
    return is_available()


def is_gloo_available():
    """``gloo`` is served by MPI here: available whenever MPI is."""
    return is_available()


def is_nccl_available():
    return False


def is_initialized():
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _state["pg"] is not None


def is_torchelastic_launched():
    return False


def _timeout_seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the job's default process group (``torch.distributed.init_process_group``).

    Rank and world size come from MPI (start the processes with ``mpirun`` or
    ``python -m rustgrad.distributed.run``); ``world_size``/``rank``, if given, must agree with it.
    ``backend`` may be ``"mpi"`` or a PyTorch script's ``"gloo"``/``"nccl"``: all run on MPI.
    ``init_method`` and ``store`` are accepted and unused (MPI does the rendezvous). ``timeout``
    (default 30 minutes) bounds every collective: a peer that never arrives raises
    ``DistBackendError`` instead of hanging. Sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
    ``LOCAL_WORLD_SIZE`` in ``os.environ``."""
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    name = backend.lower() if isinstance(backend, str) else backend
    if name is not None and name not in _BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}'; rustgrad.distributed runs on MPI "
                         f"(accepted names: {', '.join(_BACKENDS)})")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    if world_size not in (-1, None) and int(world_size) != size:
        raise ValueError(f"init_process_group: world_size={world_size}, but MPI started {size} processes")
    if rank not in (-1, None) and int(rank) != me:
        raise ValueError(f"init_process_group: rank={rank}, but MPI gave this process rank {me}")
    node = world.Split_type(MPI.COMM_TYPE_SHARED, key=me)
    local_rank, local_size = node.Get_rank(), node.Get_size()
    node.Free()
    os.environ.update(RANK=str(me), WORLD_SIZE=str(size), LOCAL_RANK=str(local_rank),
                      LOCAL_WORLD_SIZE=str(local_size))
    pg = ProcessGroup(world.Dup(), range(size), _timeout_seconds(timeout), group_name or "0")
    _state.update(pg=pg, backend="mpi", broken=False)
    GroupMember.WORLD = group.WORLD = pg


def destroy_process_group(group=None):
    """Leave ``group`` (default: the default group, which ends the distributed state; MPI itself
    stays up so ``init_process_group`` may be called again)."""
    pg = _state["pg"]
    assert pg is not None, "Process group cannot be None"
    if group is None or group is pg:
        pg._free()
        _state.update(pg=None, backend=None)
        GroupMember.WORLD = globals()["group"].WORLD = None
    elif isinstance(group, ProcessGroup):
        group._free()


def _default_pg():
    pg = _state["pg"]
    if pg is None:
        raise ValueError(_NOT_INIT)
    return pg


def _resolve(group):
    """The ProcessGroup an operation runs on, or None when this rank is not a member."""
    pg = _default_pg()
    if group is None or group is GroupMember.WORLD:
        return pg
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup made by new_group, got {type(group).__name__}")
    return group


def get_rank(group=None):
    """This process's rank in ``group`` (default: the world); -1 if not a member."""
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """Number of ranks in ``group`` (default: the world); -1 if not a member."""
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """The backend's name: always ``"mpi"``."""
    pg = _resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return _state["backend"]


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members."""
    pg = _resolve(group)
    return list(pg._ranks)


def get_group_rank(group, global_rank):
    """``global_rank``'s rank within ``group``."""
    return _resolve(group)._group_rank(global_rank)


def get_global_rank(group, group_rank):
    """The global rank of ``group``'s member ``group_rank``."""
    pg = _resolve(group)
    if not 0 <= group_rank < len(pg._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {pg._name}")
    return pg._ranks[group_rank]


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of the given global ``ranks`` (default: all). Every rank of the world must call
    it, in the same order, as in PyTorch; non-members get ``GroupMember.NON_GROUP_MEMBER``."""
    pg = _default_pg()
    world = pg.size()
    members = sorted(set(range(world) if ranks is None else (int(r) for r in ranks)))
    for r in members:
        if not 0 <= r < world:
            raise ValueError(f"Invalid rank {r} in new_group: ranks must be in [0, {world - 1}]")
    MPI = _mpi()
    me = pg.rank()
    color = 0 if me in members else MPI.UNDEFINED
    sub = pg._comm.Split(color, key=me)
    _state["groups"] += 1
    if sub == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    t = pg._timeout if timeout is None else _timeout_seconds(timeout)
    return ProcessGroup(sub, members, t, str(_state["groups"]))


def _exit_hard_if_broken():
    # After a timed-out operation MPI still holds requests a dead peer will never complete, and
    # MPI_Finalize (which mpi4py runs at exit) would wait on them forever: leave without it.
    if _state["broken"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


atexit.register(_exit_hard_if_broken)


class _Waiter:
    """A daemon thread that blocks in ``MPI_Waitall`` for the caller, so MPI progresses at full
    speed (MPI moves a large message only while some thread is inside an MPI call) while the
    caller waits on an event with a deadline. If the deadline passes, the caller raises and the
    thread stays blocked in MPI; the process then exits without MPI_Finalize (see above)."""

    def __init__(self):
        self._jobs = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def submit(self, requests, statuses):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rustgrad-mpi-wait", daemon=True)
                self._thread.start()
        done, box = threading.Event(), []
        self._jobs.put((requests, statuses, done, box))
        return done, box

    def _run(self):
        MPI = _mpi()
        while True:
            requests, statuses, done, box = self._jobs.get()
            try:
                if statuses is not None:
                    MPI.Request.Waitall(requests, statuses)
                else:
                    MPI.Request.Waitall(requests)
            except Exception as e:  # handed to the waiting caller
                box.append(e)
            done.set()


_waiter = _Waiter()


def wait_all(requests, pg, what, statuses=None, timeout=None):
    """Wait for MPI ``requests`` until done, or until the group's timeout (or ``timeout``
    seconds) passes: then ``DistBackendError``, instead of hanging on a rank that died or never
    called the operation. Short operations are caught by testing in a tight loop for a moment;
    longer ones are handed to a thread blocked in ``MPI_Waitall`` (full-speed progress) while
    this thread waits on an event with the deadline."""
    MPI = _mpi()
    test = MPI.Request.Testall
    start = time.perf_counter()
    while True:
        if (test(requests, statuses) if statuses is not None else test(requests)):
            return
        if time.perf_counter() - start > 5e-5:
            break
    limit = pg._timeout if timeout is None else timeout
    done, box = _waiter.submit(requests, statuses)
    if not done.wait(max(0.0, limit - (time.perf_counter() - start))):
        _state["broken"] = True
        raise DistBackendError(
            f"[Rank {pg.rank()}] {what} timed out after {limit * 1000:.0f} ms: a peer rank died, is "
            f"stuck, or did not enter the same operation (group {pg._name}, size {pg.size()})"
        )
    if box:
        _state["broken"] = True
        raise DistBackendError(f"[Rank {pg.rank()}] {what} failed in MPI: {box[0]}") from box[0]
