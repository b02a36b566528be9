"""DataLoader: batches samples from a dataset, optionally loading them in parallel.

Parallelism design: worker *threads*, not processes. Our tensor kernels, NumPy and Pillow release
the GIL during their heavy work (decoding, resizing, normalising, stacking), so threads overlap the
transform-heavy part of a pipeline without the cost of pickling every batch between processes,
without fork-safety problems with the native thread pool, and with exceptions propagating directly.
Batches are prefetched (``prefetch_factor * num_workers`` in flight) and yielded in sampler order.

Where per-sample work is mostly pure Python (tiny images, Python-level transforms) the GIL limits
threads; pass ``multiprocessing_context="spawn"`` or ``"forkserver"`` (or a context object) to use
worker *processes* instead. We do not use plain ``fork``: forking a process whose native thread
pool is running can leave the child waiting on threads that do not exist. With processes the
dataset/collate_fn must be picklable; batches travel as NumPy arrays and become tensors here.

``timeout`` bounds the wait for each batch (``RuntimeError('DataLoader timed out after N
seconds')``, as in PyTorch). Ending an iteration early (``break``, ``del``, garbage collection, an
exception) returns at once: nothing waits for in-flight ``__getitem__`` calls. Worker threads are
daemons; queued batches are cancelled, and a worker in the middle of a batch nobody will read stops
at its next sample (a thread cannot be interrupted inside ``__getitem__``: it finishes that one call,
then exits). Worker processes are terminated.
"""

import collections
import concurrent.futures
import itertools
import multiprocessing
import queue
import threading

from rustgrad import _random
from rustgrad import _rustgrad as _C
from rustgrad.utils.data.collate import default_collate, default_convert
from rustgrad.utils.data.dataset import IterableDataset
from rustgrad.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]

_worker_local = threading.local()


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: id, num_workers, seed, dataset."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """Info about the current DataLoader worker, or ``None`` in the main thread."""
    return getattr(_worker_local, "info", None)


class _WorkerPool:
    """``num_workers`` threads started up front (each runs ``worker_init_fn`` once with its id and
    has its WorkerInfo), pulling fetch tasks from one queue; results come back as futures."""

    def __init__(self, n, seed, dataset, worker_init_fn):
        self._tasks = queue.SimpleQueue()
        self._threads = []
        self._closed = False
        for wid in range(n):
            t = threading.Thread(
                target=self._run,
                args=(WorkerInfo(wid, n, seed + wid, dataset), worker_init_fn),
                name=f"DataLoaderWorker-{wid}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def _run(self, info, init_fn):
        _worker_local.info = info
        init_error = None
        if init_fn is not None:
            try:
                init_fn(info.id)
            except BaseException as e:  # noqa: BLE001 - handed to the main thread
                init_error = e
        while True:
            task = self._tasks.get()
            if task is None:
                return
            self._do(task, init_error)
            del task  # an idle worker must not keep the loader (task = bound _fetch) alive

    @staticmethod
    def _do(task, init_error):
        fut, fn, args = task
        if not fut.set_running_or_notify_cancel():
            return
        if init_error is not None:
            fut.set_exception(init_error)
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # noqa: BLE001 - re-raised by future.result()
            fut.set_exception(e)

    def submit(self, fn, *args):
        fut = concurrent.futures.Future()
        self._tasks.put((fut, fn, args))
        return fut

    def shutdown(self, wait=False):
        """Ask the threads to exit once they are idle. Never waits by default: a thread busy in a
        slow ``__getitem__`` finishes it on its own (it is a daemon) and then exits."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._tasks.put(None)
        if wait:
            for t in self._threads:
                t.join()

    def __del__(self):
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - interpreter teardown
            pass


class _Abandoned(Exception):
    """Raised in a worker that stops a batch whose iterator has ended (nobody reads it)."""


class _InfiniteConstantSampler:
    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Combines a dataset and a sampler; iterates over batches (``torch.utils.data.DataLoader``)."""

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if (prefetch_factor is None and num_workers > 0) else prefetch_factor
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.persistent_workers = persistent_workers
        if isinstance(multiprocessing_context, str):
            if multiprocessing_context == "fork":
                raise ValueError(
                    "multiprocessing_context='fork' is not supported (unsafe with the native thread "
                    "pool); use 'spawn' or 'forkserver'"
                )
            multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
        self.multiprocessing_context = multiprocessing_context
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        else:
            if shuffle and sampler is not None:
                raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self._executor = None

    def __del__(self):
        # persistent_workers: the idle threads go with the loader (as PyTorch's workers do)
        ex = self.__dict__.get("_executor")
        if ex is not None:
            ex.shutdown()

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    # -- fetching -------------------------------------------------------------------------------
    def _fetch(self, indices, stop=None):
        if self._auto_collation:
            samples = []
            for i in indices:
                if stop is not None and stop.is_set():  # the iterator is gone: nobody reads this
                    raise _Abandoned()
                samples.append(self.dataset[i])
            return self.collate_fn(samples)
        return self.collate_fn(self.dataset[indices])

    def _base_seed(self):
        return _random._seed_draw(self.generator)

    def __iter__(self):
        # Like PyTorch, every epoch draws a base seed from the loader's generator (also without
        # workers), so shuffles are identical whatever num_workers is.
        seed = self._base_seed()
        if self.num_workers == 0:
            return self._iter_single()
        if self._iterable:
            return self._iter_iterable_workers(seed)
        if self.multiprocessing_context is not None:
            return self._iter_processes(seed)
        return self._iter_threads(seed)

    def _iter_single(self):
        if self._iterable:
            it = iter(self.dataset)
            if not self._auto_collation:
                for x in it:
                    yield self.collate_fn(x)
                return
            while True:
                batch = list(itertools.islice(it, self.batch_size))
                if not batch or (self.drop_last and len(batch) < self.batch_size):
                    return
                yield self.collate_fn(batch)
        else:
            for indices in self._index_sampler:
                yield self._fetch(indices)

    def _make_executor(self, seed):
        return _WorkerPool(self.num_workers, seed, self.dataset, self.worker_init_fn)

    def _wait(self):
        return self.timeout if self.timeout > 0 else None

    def _timed_out(self):
        return RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def _result(self, fut):
        try:
            return fut.result(timeout=self._wait())
        except concurrent.futures.TimeoutError:
            raise self._timed_out() from None

    def _iter_processes(self, seed):
        ctx = self.multiprocessing_context
        counter = ctx.Value("i", 0)
        pool = ctx.Pool(
            self.num_workers,
            initializer=_process_worker_init,
            initargs=(counter, self.num_workers, seed, self.dataset, self.collate_fn, self.worker_init_fn),
        )
        try:
            # At most num_workers * prefetch_factor batches in flight, taken in sampler order;
            # worker exceptions are re-raised here by .get().
            batches = iter(self._index_sampler)
            pending = collections.deque()

            def submit(indices):
                pending.append(pool.apply_async(_process_fetch, ((self._auto_collation, indices),)))

            for indices in itertools.islice(batches, self.num_workers * self.prefetch_factor):
                submit(indices)
            while pending:
                res = pending.popleft()
                for indices in itertools.islice(batches, 1):
                    submit(indices)
                try:
                    out = res.get(self._wait())
                except multiprocessing.TimeoutError:
                    raise self._timed_out() from None
                yield _from_numpy_tree(out)
        finally:
            pool.terminate()  # kills workers stuck in __getitem__; returns promptly
            pool.join()

    def _iter_threads(self, seed):
        if self.persistent_workers and self._executor is not None:
            ex = self._executor
        else:
            ex = self._make_executor(seed)
            if self.persistent_workers:
                self._executor = ex
        stop = threading.Event()  # set when this iterator ends, however it ends
        pending = collections.deque()
        depth = self.num_workers * self.prefetch_factor
        batches = iter(self._index_sampler)
        try:
            for indices in itertools.islice(batches, depth):
                pending.append(ex.submit(self._fetch, indices, stop))
            while pending:
                fut = pending.popleft()
                for indices in itertools.islice(batches, 1):
                    pending.append(ex.submit(self._fetch, indices, stop))
                yield self._result(fut)
        finally:
            # Never wait for in-flight batches: cancel the queued ones, tell the running ones to
            # stop at their next sample, and let idle threads exit.
            stop.set()
            for f in pending:
                f.cancel()
            if not self.persistent_workers:
                ex.shutdown(wait=False)

    def _iter_iterable_workers(self, seed):
        # Like PyTorch: every worker iterates its own view of the dataset (datasets shard themselves
        # with get_worker_info()); batches are taken from the workers round-robin.
        n = self.num_workers
        queues = [queue.Queue(maxsize=self.prefetch_factor) for _ in range(n)]
        stop = threading.Event()
        done = object()

        def put(q, item):  # gives up once the consumer has left
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def work(wid):
            _worker_local.info = WorkerInfo(wid, n, seed + wid, self.dataset)
            q = queues[wid]
            try:
                if self.worker_init_fn is not None:
                    self.worker_init_fn(wid)
                it = iter(self.dataset)
                while not stop.is_set():
                    if self._auto_collation:
                        batch = list(itertools.islice(it, self.batch_size))
                        if not batch or (self.drop_last and len(batch) < self.batch_size):
                            break
                        if not put(q, ("ok", self.collate_fn(batch))):
                            return
                    else:
                        try:
                            x = next(it)
                        except StopIteration:
                            break
                        if not put(q, ("ok", self.collate_fn(x))):
                            return
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
                put(q, ("err", e))
            put(q, ("done", done))

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        active = list(range(n))
        try:
            while active:
                for wid in list(active):
                    try:
                        kind, val = queues[wid].get(timeout=self._wait())
                    except queue.Empty:
                        raise self._timed_out() from None
                    if kind == "done":
                        active.remove(wid)
                    elif kind == "err":
                        raise val
                    else:
                        yield val
        finally:
            stop.set()  # producers notice within 50 ms (or after their current sample); never joined
            for q in queues:
                while True:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        break


# -- process workers ---------------------------------------------------------------------------
_proc_state = {}


def _process_worker_init(counter, num_workers, seed, dataset, collate_fn, worker_init_fn):
    with counter.get_lock():
        wid = counter.value
        counter.value += 1
    _worker_local.info = WorkerInfo(wid, num_workers, seed + wid, dataset)
    # As PyTorch's workers do: one compute thread each, so N workers do not start N CPU teams
    # whose idle threads spin beside the training process.
    _C.set_num_threads(1)
    _random.manual_seed(seed + wid)
    _proc_state.update(dataset=dataset, collate_fn=collate_fn)
    if worker_init_fn is not None:
        worker_init_fn(wid)


def _process_fetch(task):
    auto, indices = task
    ds, collate = _proc_state["dataset"], _proc_state["collate_fn"]
    batch = collate([ds[i] for i in indices]) if auto else collate(ds[indices])
    return _to_numpy_tree(batch)


class _TensorArray:
    """Marks an array that was a tensor before crossing the process boundary."""

    def __init__(self, array):
        self.array = array


def _map_tree(obj, fn):
    if isinstance(obj, dict):
        return type(obj)((k, _map_tree(v, fn)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map_tree(v, fn) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tree(v, fn) for v in obj)
    return fn(obj)


def _to_numpy_tree(obj):
    import rustgrad

    return _map_tree(obj, lambda x: _TensorArray(x.detach().numpy()) if isinstance(x, rustgrad.Tensor) else x)


def _from_numpy_tree(obj):
    import rustgrad

    return _map_tree(obj, lambda x: rustgrad.from_numpy(x.array) if isinstance(x, _TensorArray) else x)
