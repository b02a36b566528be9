"""``DistributedDataParallel``: data-parallel training across processes (``torch.nn.parallel``).

Each rank runs the whole model on its share of the batch; DDP keeps the replicas identical by
averaging gradients across ranks during backward.

How: at construction rank 0's parameters and buffers are broadcast to all ranks. The trainable
parameters are grouped, in reverse registration order (roughly the order backward produces their
gradients), into buckets of about ``bucket_cap_mb`` MB (the first one small, so communication
starts early). A post-accumulate-grad hook on every parameter copies its gradient into its
bucket's flat buffer; when a bucket is complete its all-reduce starts (nonblocking MPI) while
backward goes on computing the earlier layers' gradients. Buckets are always started in the same
order on every rank, on a communicator of DDP's own, so the ranks' MPI calls match. The hook of
the last gradient waits for the outstanding all-reduces, divides by the world size and writes the
averages back into ``.grad``.
"""

import contextlib
import time

import numpy as np

import rustgrad
from rustgrad import distributed as dist
from rustgrad.distributed import process_group as _pg
from rustgrad.nn.modules.module import Module

_FIRST_BUCKET_BYTES = 1 << 20


def _flat_view(t):
    """A writable 1-d NumPy view of a contiguous CPU tensor's elements, else None."""
    if t.device.type == "cpu" and t.is_contiguous():
        return t.detach().numpy().reshape(-1)
    return None


class _Bucket:
    __slots__ = ("index", "params", "offsets", "flat", "pending", "req", "dtype")

    def __init__(self, index, params, dtype):
        self.index = index
        self.params = params  # indices into DDP's parameter list
        self.dtype = dtype
        self.offsets = []
        self.flat = None
        self.pending = 0
        self.req = None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of ``process_group``
    (``torch.nn.parallel.DistributedDataParallel``).

    After ``loss.backward()`` every rank holds the average of all ranks' gradients in ``.grad``.
    ``no_sync()`` skips the averaging (gradients accumulate locally) until the next backward run
    outside it. ``find_unused_parameters=True`` lets forward leave some parameters out of the
    graph (they are found by walking the output's graph). ``device_ids``/``output_device``/
    ``static_graph`` are accepted for compatibility. The wrapped model is ``.module``; the state
    dict's keys carry the ``module.`` prefix, as in PyTorch."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        self.module = module
        pg = _pg._resolve(process_group)
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of the given process group")
        seen, params = set(), []
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.process_group = process_group
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * (1 << 20))
        # State that is not a Module attribute (kept out of __setattr__'s registration).
        st = self.__dict__
        st["_pg_world"] = pg
        st["_comm"] = pg._comm.Dup()  # DDP's own: its bucket order never interleaves user collectives
        st["_params"] = params
        st["_key_of"] = {self._key(p): i for i, p in enumerate(params)}
        st["_sync_now"] = False  # the coming backward reduces gradients
        st["_started"] = False  # a gradient of that backward has arrived
        st["_comm_wait_s"] = 0.0
        self._verify_same_model()
        if init_sync:
            self._broadcast([t for t in module.parameters()] + [b for b in module.buffers()])
        self._build_buckets()
        st["_hooks"] = [p.register_post_accumulate_grad_hook(self._make_hook(i)) for i, p in enumerate(params)]

    # -- construction --------------------------------------------------------------------------

    @staticmethod
    def _key(t):
        return (t._storage_id(), t.storage_offset(), tuple(t.shape))

    def _verify_same_model(self):
        pg = self._pg_world
        if pg.size() == 1:
            return
        mine = [[list(p.shape), str(p.dtype)] for p in self._params]
        every = [None] * pg.size()
        dist.all_gather_object(every, mine, group=self.process_group)
        for r, theirs in enumerate(every):
            if len(theirs) != len(mine):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {pg.rank()} has {len(mine)} "
                                   f"params, while rank {r} has inconsistent {len(theirs)} params.")
            for i, (a, b) in enumerate(zip(mine, theirs)):
                if a != b:
                    raise RuntimeError(f"DDP expects same model across all ranks, but parameter {i} is "
                                       f"{tuple(a[0])} {a[1]} on rank {pg.rank()} and {tuple(b[0])} {b[1]} on rank {r}")

    def _broadcast(self, tensors):
        """Copy rank 0's values of ``tensors`` to every rank (one nonblocking broadcast each)."""
        from rustgrad.distributed.tensor_buffers import TensorBuffer

        pg = self._pg_world
        if pg.size() == 1 or not tensors:
            return
        bufs = [TensorBuffer(t) for t in tensors]
        reqs = [self._comm.Ibcast(b.arr, root=0) for b in bufs]
        _pg.wait_all(reqs, pg, "DistributedDataParallel broadcast of rank 0's state")
        for b in bufs:
            b.writeback()

    def _build_buckets(self):
        buckets, cur, cur_bytes, cap = [], [], 0, min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap)
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            nbytes = p.numel() * p.element_size()
            if cur and (cur_bytes + nbytes > cap or p.dtype != self._params[cur[0]].dtype):
                buckets.append(cur)
                cur, cur_bytes, cap = [], 0, self.bucket_bytes_cap
            cur.append(i)
            cur_bytes += nbytes
        if cur:
            buckets.append(cur)
        st = self.__dict__
        st["_buckets"] = []
        st["_bucket_of"] = [None] * len(self._params)
        for bi, idxs in enumerate(buckets):
            b = _Bucket(bi, idxs, self._params[idxs[0]].dtype)
            off = 0
            for i in idxs:
                b.offsets.append(off)
                self._bucket_of[i] = (bi, len(b.offsets) - 1)
                off += self._params[i].numel()
            b.flat = np.zeros(off, dtype=np.dtype(str(b.dtype).rsplit(".", 1)[-1]))
            st["_buckets"].append(b)

    # -- forward -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context backward accumulates gradients locally, without averaging; the
        first backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def forward(self, *inputs, **kwargs):
        if self._sync_now and self._started:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`rustgrad.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss."
            )
        multi = self._pg_world.size() > 1
        if multi and self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        sync = multi and self.require_backward_grad_sync and rustgrad.is_grad_enabled()
        self._prepare_for_backward(sync, out)
        return out

    def _prepare_for_backward(self, sync, out):
        st = self.__dict__
        st["_sync_now"] = sync
        st["_started"] = False
        if not sync:
            return
        st["_next_launch"] = 0
        st["_ready"] = [False] * len(self._params)
        st["_used"] = np.ones(len(self._params), dtype=np.int32)
        for b in self._buckets:
            b.pending = len(b.params)
            b.req = None
        if self.find_unused_parameters:
            reached = self._reachable(out)
            for i in range(len(self._params)):
                if i not in reached:
                    self._used[i] = 0
                    b, j = self._bucket_of[i]
                    bucket = self._buckets[b]
                    n = self._params[i].numel()
                    bucket.flat[bucket.offsets[j]:bucket.offsets[j] + n] = 0
                    self._mark_ready(i)

    def _reachable(self, out):
        """Indices of the parameters the autograd graph of ``out`` leads to."""
        roots, stack, found = [], [out], set()
        while stack:
            o = stack.pop()
            if isinstance(o, rustgrad.Tensor):
                if o.grad_fn is not None:
                    roots.append(o.grad_fn)
                elif o.requires_grad and self._key(o) in self._key_of:
                    found.add(self._key_of[self._key(o)])
            elif isinstance(o, (list, tuple)):
                stack.extend(o)
            elif isinstance(o, dict):
                stack.extend(o.values())
        seen = set()
        while roots:
            fn = roots.pop()
            # hash() is the graph node's identity; id() of the short-lived wrapper objects is not
            key = hash(fn)
            if key in seen:
                continue
            seen.add(key)
            var = getattr(fn, "variable", None)
            if var is not None:
                i = self._key_of.get(self._key(var))
                if i is not None:
                    found.add(i)
            for nxt, _ in getattr(fn, "next_functions", ()):
                if nxt is not None:
                    roots.append(nxt)
        return found

    # -- backward ------------------------------------------------------------------------------

    def _make_hook(self, i):
        def hook(_param):
            if self._sync_now:
                self._on_grad_ready(i)

        return hook

    def _on_grad_ready(self, i):
        self.__dict__["_started"] = True
        if self._ready[i]:
            return
        p = self._params[i]
        b, j = self._bucket_of[i]
        bucket = self._buckets[b]
        n = p.numel()
        dst = bucket.flat[bucket.offsets[j]:bucket.offsets[j] + n]
        g = p.grad
        src = _flat_view(g)
        if src is None:
            src = g.detach().to("cpu").contiguous().numpy().reshape(-1)
        if src.ctypes.data != dst.ctypes.data:  # a bucket-view gradient is already in place
            np.copyto(dst, src)
        self._mark_ready(i)

    def _mark_ready(self, i):
        MPI = _pg._mpi()
        self._ready[i] = True
        b, _ = self._bucket_of[i]
        self._buckets[b].pending -= 1
        # Start every complete bucket, in bucket order (the same order on every rank).
        while self._next_launch < len(self._buckets) and self._buckets[self._next_launch].pending == 0:
            bucket = self._buckets[self._next_launch]
            bucket.req = self._comm.Iallreduce(MPI.IN_PLACE, bucket.flat, MPI.SUM)
            self.__dict__["_next_launch"] += 1
        launched = [bk.req for bk in self._buckets[: self._next_launch] if bk.req is not None]
        if launched:
            MPI.Request.Testall(launched)  # let MPI move the in-flight reductions along
        if self._next_launch == len(self._buckets):
            self._finish_reduction()

    def _finish_reduction(self):
        MPI = _pg._mpi()
        pg = self._pg_world
        t0 = time.perf_counter()
        self.__dict__["_ready_at"] = t0  # when this rank's backward had produced every gradient
        reqs = [b.req for b in self._buckets]
        used = None
        if self.find_unused_parameters:
            used = self._used.copy()
            reqs.append(self._comm.Iallreduce(MPI.IN_PLACE, used, MPI.MAX))
        _pg.wait_all(reqs, pg, "DistributedDataParallel gradient all-reduce")
        self.__dict__["_comm_wait_s"] += time.perf_counter() - t0
        n = pg.size()
        for b in self._buckets:
            b.flat /= n
            for i, off in zip(b.params, b.offsets):
                if used is not None and not used[i]:
                    continue  # no rank used it: leave .grad as it is
                p = self._params[i]
                avg = b.flat[off:off + p.numel()]
                self._write_grad(p, avg)
        self.__dict__["_sync_now"] = False

    def _write_grad(self, p, avg):
        g = p.grad
        if self.gradient_as_bucket_view and p.device.type == "cpu":
            # From now on backward accumulates straight into the bucket (no copy in the hook).
            if g is None or g.data_ptr() != avg.ctypes.data:
                p.grad = rustgrad.from_numpy(avg).view(*p.shape)
            return
        dst = None if g is None else _flat_view(g)
        if dst is not None:
            np.copyto(dst, avg)
        else:
            new = rustgrad.from_numpy(avg.copy()).view(*p.shape)
            if g is None:
                p.grad = new.to(p.device)
            else:
                with rustgrad.no_grad():
                    g.copy_(new.to(g.device).view(*g.shape))

    # -- misc ----------------------------------------------------------------------------------

    def _get_ddp_logging_data(self):
        return {"comm_wait_s": self._comm_wait_s, "num_buckets": len(self._buckets),
                "world_size": self._pg_world.size()}

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled; save .module or its state_dict instead")


DDP = DistributedDataParallel
