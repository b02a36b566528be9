"""``Work``: the handle of an asynchronous operation (``async_op=True``, ``isend``/``irecv``)."""

from rustgrad.distributed import process_group as _pg


class Work:
    """Pending MPI requests plus what to do once they finish (copy staged results back, divide
    for AVG). ``wait()`` blocks until done, bounded by the group's timeout, as in PyTorch."""

    def __init__(self, requests, pg, what, finish=None, outputs=None, want_status=False):
        self._reqs = list(requests)
        self._pg = pg
        self._what = what
        self._finish = finish
        self._outputs = outputs or []
        self._statuses = [_pg._mpi().Status() for _ in self._reqs] if want_status else None
        self._done = False
        self._error = None

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()

    def wait(self, timeout=None):
        """Block until the operation has finished; returns True. Raises ``DistBackendError`` if
        the group's timeout (or ``timeout``, a ``timedelta`` or seconds) passes first."""
        if self._error is not None:
            raise self._error
        if not self._done:
            t = None if timeout is None else _pg._timeout_seconds(timeout)
            try:
                _pg.wait_all(self._reqs, self._pg, self._what, self._statuses, timeout=t)
            except Exception as e:
                self._error = e
                raise
            self._complete()
        return True

    def is_completed(self):
        """Whether the operation has finished (tests without blocking; drives MPI progress)."""
        if not self._done and self._error is None:
            MPI = _pg._mpi()
            ok = (MPI.Request.Testall(self._reqs, self._statuses) if self._statuses is not None
                  else MPI.Request.Testall(self._reqs))
            if ok:
                self._complete()
        return self._done

    def is_success(self):
        return self._done and self._error is None

    def exception(self):
        return self._error

    def result(self):
        """The output tensors of the operation."""
        self.wait()
        return list(self._outputs)

    def source_rank(self):
        """For a receive: the global rank the message came from."""
        self.wait()
        if self._statuses is None:
            raise RuntimeError("source_rank() is only defined for receive operations")
        return self._pg._ranks[self._statuses[0].Get_source()]

    def synchronize(self):
        self.wait()

    def get_future(self):
        """A minimal future: ``wait()`` finishes the work and returns its output tensors."""
        return _Future(self)


class _Future:
    def __init__(self, work):
        self._work = work

    def wait(self):
        return self._work.result()

    def value(self):
        return self._work.result()

    def done(self):
        return self._work.is_completed()


def completed(pg, what, outputs=None):
    """A Work that is already done (an operation with nothing to send, e.g. a non-member)."""
    w = Work([], pg, what, outputs=outputs)
    w._done = True
    return w
