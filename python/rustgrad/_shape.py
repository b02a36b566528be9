"""Joining, splitting and shape ops (cat, stack, split, flip, roll, repeat, tril, diagonal, unique ...).

``cat`` and the index primitives are native; the rest are compositions of native views and ops,
so each gets its backward from the ops it is made of (split/chunk/unbind return views)."""

import builtins
import math

import numpy as np

from rustgrad import _out
from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor

__all__ = [
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "split", "chunk",
    "tensor_split", "unbind", "flip", "fliplr", "flipud", "roll", "tile", "repeat_interleave", "tril", "triu",
    "diag", "diagonal", "diag_embed", "trace", "meshgrid", "cartesian_prod", "unique", "bincount",
    "narrow_copy", "atleast_1d", "atleast_2d", "atleast_3d", "movedim", "moveaxis", "unflatten",
]


def _i64(a, like=None):
    """An int64 index tensor from NumPy data, on the device of ``like`` when given (index ops
    need their indices beside the data)."""
    t = _C.from_numpy(np.ascontiguousarray(np.asarray(a, dtype=np.int64)))
    return t if like is None or like.device.type == "cpu" else t.to(like.device)


def _int_arg(v, fn, name):
    """An int argument as PyTorch's parser takes it: ints, NumPy ints and integer 0-d tensors;
    floats, bools, None ... raise TypeError."""
    if isinstance(v, Tensor) and v.ndim == 0 and not v.is_floating_point() and v.dtype is not _C.bool:
        v = v.item()
    if isinstance(v, (builtins.bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(v).__name__}")
    if not -(2**63) <= v < 2**63:
        raise ValueError("Overflow when unpacking long long")
    return int(v)


def _int_list(v, fn, name):
    """A tuple-of-ints argument (an int alone is accepted as a 1-tuple)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (builtins.bool, np.bool_)):
        return [int(v)]
    if not isinstance(v, (tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")
    out = []
    for i, e in enumerate(v):
        # (PyTorch's parser takes a bool as an int anywhere but first: zeros(2, True) is [2, 1])
        if isinstance(e, (builtins.bool, np.bool_)) and i == 0 or not isinstance(e, (int, np.integer)):
            raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(e).__name__} at pos {i}")
        if not -(2**63) <= e < 2**63:
            raise TypeError(f"{fn}(): argument '{name}' failed to unpack the object at pos {i + 1} with error "
                            "\"Overflow when unpacking long long\"")
        out.append(int(e))
    return out


def _wrap_dim(d, ndim):
    """Wrap a dim into [0, ndim) (a 0-d tensor accepts 0 and -1), IndexError when out of range."""
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d + n if d < 0 else d


def _wrap_dims(dims, ndim, range_first=False):
    """Wrap a list of dims, RuntimeError on a repeated dim (PyTorch's dim_list_to_bitset, which
    goes dim by dim; reductions range-check every dim first: ``range_first``)."""
    if range_first:
        dims = [_wrap_dim(d, ndim) for d in dims]
    out = []
    for d in dims:
        w = _wrap_dim(d, ndim)
        if w in out:
            raise RuntimeError(f"dim {w} appears multiple times in the list of dims")
        out.append(w)
    return out


@_out.supports_out("cat", _out.CAT, error=TypeError)
def cat(tensors, dim=0):
    """``torch.cat(tensors, dim=0)`` with dtype promotion; 1-D empty tensors are skipped."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    return _C._cat(tensors, _int_arg(dim, "cat", "dim"))


concat = cat
concatenate = cat


@_out.supports_out("stack", _out.CAT, error=TypeError)
def stack(tensors, dim=0):
    """``torch.stack(tensors, dim=0)``: all tensors must have the same shape."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    dim = _int_arg(dim, "stack", "dim")
    nd = tensors[0].ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    s0 = tuple(tensors[0].shape)
    for i, t in enumerate(tensors):
        if tuple(t.shape) != s0:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and "
                f"{list(t.shape)} at entry {i}")
    nd = len(s0) + 1
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    d = dim % nd
    return _C._cat([t.unsqueeze(d) for t in tensors], d)


def atleast_1d(*tensors):
    """``torch.atleast_1d``."""
    r = [t.reshape(1) if t.ndim == 0 else t for t in (tensors[0] if len(tensors) == 1 and
                                                          isinstance(tensors[0], (list, tuple)) else tensors)]
    return r[0] if len(r) == 1 else tuple(r)


def atleast_2d(*tensors):
    """``torch.atleast_2d``."""
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = [t.reshape(1, -1) if t.ndim < 2 else t for t in ts]
    return r[0] if len(r) == 1 else tuple(r)


def atleast_3d(*tensors):
    """``torch.atleast_3d``."""
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = []
    for t in ts:
        if t.ndim == 0:
            t = t.reshape(1, 1, 1)
        elif t.ndim == 1:
            t = t.reshape(1, -1, 1)
        elif t.ndim == 2:
            t = t.unsqueeze(-1)
        r.append(t)
    return r[0] if len(r) == 1 else tuple(r)


def _nonempty(tensors, name):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


@_out.supports_out("hstack", _out.CAT, error=TypeError)
def hstack(tensors):
    """``torch.hstack``: cat along dim 1 (dim 0 for 1-D)."""
    ts = [atleast_1d(t) for t in _nonempty(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


@_out.supports_out("vstack", _out.CAT, error=TypeError)
def vstack(tensors):
    """``torch.vstack``: cat along dim 0 after atleast_2d."""
    return cat([atleast_2d(t) for t in _nonempty(tensors, "vstack")], 0)


@_out.supports_out("dstack", _out.CAT, error=TypeError)
def dstack(tensors):
    """``torch.dstack``: cat along dim 2 after atleast_3d."""
    return cat([atleast_3d(t) for t in _nonempty(tensors, "dstack")], 2)


@_out.supports_out("column_stack", _out.CAT, error=TypeError)
def column_stack(tensors):
    """``torch.column_stack``."""
    tensors = _nonempty(tensors, "column_stack")
    return hstack([t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors])


def split(tensor, split_size_or_sections, dim=0):
    """``torch.split``: views of ``split_size`` (last may be smaller) or of the listed sizes."""
    _int_arg(dim, "split", "dim")
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = _int_list(split_size_or_sections, "split_with_sizes", "split_sizes")
        d = _wrap_dim(_int_arg(dim, "split_with_sizes", "dim"), tensor.ndim)
        n = tensor.shape[d]
        if builtins.any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={sizes}")
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension "
                f"{d}), but got split_sizes={sizes}")
    else:
        s = _int_arg(split_size_or_sections, "split", "split_size")
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
        d = _wrap_dim(_int_arg(dim, "split", "dim"), tensor.ndim)
        n = tensor.shape[d]
        if s == 0 and n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        # An empty dim still gives one (empty) piece, as in PyTorch.
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
    out, at = [], 0
    for s in sizes:
        out.append(tensor.narrow(d, at, s))
        at += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """``torch.chunk``: at most ``chunks`` views of size ceil(n / chunks)."""
    dim = _int_arg(dim, "chunk", "dim")
    chunks = _int_arg(chunks, "chunk", "chunks")
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    d = _wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        if chunks > 2**32:  # (PyTorch's vector of split sizes cannot be allocated)
            raise RuntimeError("std::bad_alloc")
        return tuple(input.narrow(d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


def tensor_split(input, indices_or_sections, dim=0):
    """``torch.tensor_split``: n near-equal sections or splits at the given indices."""
    dim = _int_arg(dim, "tensor_split", "dim")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds = [i * q + builtins.min(i, r) for i in range(k + 1)]
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i) if i >= 0 else int(i) + n, 0), n)
                        for i in indices_or_sections] + [n]
    return tuple(input.narrow(d, a, builtins.max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:]))


def unbind(input, dim=0):
    """``torch.unbind``: views removing ``dim``."""
    dim = _int_arg(dim, "unbind", "dim")
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap_dim(dim, input.ndim)
    return tuple(input.select(d, i) for i in range(input.shape[d]))


def flip(input, dims):
    """``torch.flip(input, dims)`` (a copy, as in PyTorch)."""
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"flip(): argument 'dims' (position 2) must be tuple of ints, not {type(dims).__name__}")
    dims = _wrap_dims(_int_list(dims, "flip", "dims"), input.ndim)
    if input.ndim == 0:
        return input.clone()
    x = input
    for d in dims:
        n = x.shape[d]
        x = _C._index_select(x, d, _i64(np.arange(n - 1, -1, -1), x))
    return x if dims else input.clone()


def _flip_method(self, *dims):
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    elif not dims:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    return flip(self, tuple(dims))


def fliplr(input):
    """``torch.fliplr``."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    """``torch.flipud``."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    """``torch.roll(input, shifts, dims=None)``."""
    shifts = _int_list(shifts, "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return roll(input.reshape(-1), shifts, 0).reshape(*input.shape)
    dims = _int_list(dims, "roll", "dims")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if input.numel() == 0:
        return input.clone()  # PyTorch returns an empty input before range-checking the dims
    if input.ndim == 0 and dims:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = [_wrap_dim(d, input.ndim) for d in dims]
    x = input
    for s, d in zip(shifts, dims):
        n = x.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            x = cat([x.narrow(d, n - s, s), x.narrow(d, 0, n - s)], d)
    return x


def _repeat(self, *sizes):
    """``Tensor.repeat(*sizes)``: tile the tensor (expand + reshape, so backward sums tiles)."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    if len(sizes) == 1 and isinstance(sizes[0], (list, tuple)):
        sizes = tuple(sizes[0])  # (may be empty: tile(0-d, ()))
    sizes = _int_list(list(sizes), "repeat", "repeats")
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    padded = [1] * (len(sizes) - self.ndim) + list(self.shape)
    if 0 in padded and builtins.all(r * n >= 0 for r, n in zip(sizes, padded)):
        # an empty input repeats to an empty result (PyTorch takes even a negative factor for a 0 dim)
        return self.reshape(*[r * n for r, n in zip(sizes, padded)]).clone()  # (0 elements either way)
    final = [(r * n + 2**63) % 2**64 - 2**63 for r, n in zip(sizes, padded)]  # int64 arithmetic, as in PyTorch
    if builtins.any(f < 0 for f in final):
        raise RuntimeError(f"Trying to create tensor with negative dimension {builtins.min(final)}: {final}")
    numel = 1
    for f in final:  # PyTorch's storage-size arithmetic: unsigned 64-bit, checked factor by factor
        numel *= f
        if numel >= 2**64:
            raise RuntimeError(f"Storage size calculation overflowed with sizes={final}")
    true_sizes = [r * n for r, n in zip(sizes, padded)]
    if numel * self.element_size() >= 2**64 or final != true_sizes:
        # (a size that wrapped around int64 fails in PyTorch too, just later and less clearly)
        raise RuntimeError(f"Storage size calculation overflowed with sizes={true_sizes}")
    x = self.reshape(*([1] * (len(sizes) - self.ndim) + list(self.shape)))
    inter, final = [], []
    for r, n in zip(sizes, x.shape):
        inter += [r, n]
        final.append(r * n)
    y = x.reshape(*[v for n in x.shape for v in (1, n)]).expand(*inter)
    # PyTorch's repeat always returns fresh memory: a reshape alone could hand back a stride-0
    # view (when a size-1 dim is repeated) or `self` itself (all repeats 1).
    return y.reshape(*final).clone()


def tile(input, dims):
    """``torch.tile(input, dims)``."""
    dims = _int_list(dims, "tile", "dims")
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    return _repeat(input, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """``torch.repeat_interleave(input, repeats, dim=None)``."""
    if repeats is None:  # torch.repeat_interleave(repeats)
        r = input.numpy()
        return _i64(np.repeat(np.arange(len(r)), r))
    x = input
    if dim is None:
        x, dim = x.reshape(-1), 0
    n = x.shape[dim]
    r = repeats.numpy() if isinstance(repeats, Tensor) else int(repeats)
    if np.any(np.asarray(r) < 0):
        raise RuntimeError("repeats can not be negative")
    return _C._index_select(x, dim, _i64(np.repeat(np.arange(n), r), x))


def _tri_mask(input, diagonal, lower):
    if input.ndim < 2:
        raise RuntimeError(f"{'tril' if lower else 'triu'}: input tensor must have at least 2 dimensions")
    r, c = input.shape[-2], input.shape[-1]
    i = np.arange(r)[:, None]
    j = np.arange(c)[None, :]
    m = (j - i <= diagonal) if lower else (j - i >= diagonal)
    return _C.from_numpy(np.ascontiguousarray(m))


@_out.supports_out("tril", _out.SAME_EXPECTED)
def tril(input, diagonal=0):
    """``torch.tril(input, diagonal=0)``."""
    return _C._where(_tri_mask(input, diagonal, True), input, _C._full([], 0, input.dtype))


@_out.supports_out("triu", _out.SAME_EXPECTED)
def triu(input, diagonal=0):
    """``torch.triu(input, diagonal=0)``."""
    return _C._where(_tri_mask(input, diagonal, False), input, _C._full([], 0, input.dtype))


def diagonal(input, offset=0, dim1=0, dim2=1):
    """``torch.diagonal``: a view of the diagonal (moved to the last dim)."""
    nd = input.ndim
    d1, d2 = _wrap_dim(_int_arg(dim1, "diagonal", "dim1"), nd), _wrap_dim(_int_arg(dim2, "diagonal", "dim2"), nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n1, n2 = input.shape[d1], input.shape[d2]
    if offset >= 0:
        length = builtins.max(builtins.min(n1, n2 - offset), 0)
        start = (0, offset)
    else:
        length = builtins.max(builtins.min(n1 + offset, n2), 0)
        start = (-offset, 0)
    st = input.stride()
    rest = [d for d in range(nd) if d not in (d1, d2)]
    off = input.storage_offset() + (start[0] * st[d1] + start[1] * st[d2] if length else 0)
    shape = [input.shape[d] for d in rest] + [length]
    strides = [st[d] for d in rest] + [st[d1] + st[d2]]
    if not (input.requires_grad and _C.is_grad_enabled()):
        return _C._as_strided(input, shape, strides, off)
    # Differentiable path: the same elements through index_select (backward = index_add).
    x = input.permute(*(rest + [d1, d2]))
    flat = x.reshape(*[input.shape[d] for d in rest], n1 * n2)
    idx = (np.arange(length) + start[0]) * n2 + np.arange(length) + start[1]
    return _C._index_select(flat, flat.ndim - 1, _i64(idx, flat))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """``torch.diag_embed`` for the default dims (last two)."""
    n = input.shape[-1] + abs(offset)
    out_shape = list(input.shape[:-1]) + [n * n]
    i = np.arange(input.shape[-1])
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    idx = _i64(np.broadcast_to(r * n + c, tuple(input.shape)).copy(), input)
    z = _C._zeros(out_shape, input.dtype)
    res = _C._scatter(z, input.ndim - 1, idx, input.contiguous(), "none")
    res = res.reshape(*(list(input.shape[:-1]) + [n, n]))
    if (dim1, dim2) not in ((-2, -1), (res.ndim - 2, res.ndim - 1)):
        raise NotImplementedError("diag_embed: only dim1=-2, dim2=-1 are supported")
    return res


@_out.supports_out("diag", _out.SAME_EXPECTED)
def diag(input, diagonal=0):
    """``torch.diag``: 1-D -> square matrix, 2-D -> its diagonal (a copy)."""
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal).clone() if not input.requires_grad else \
            globals()["diagonal"](input, diagonal)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")


def trace(input):
    """``torch.trace`` of a 2-D tensor."""
    if input.dtype is _C.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


def meshgrid(*tensors, indexing=None):
    """``torch.meshgrid(*tensors, indexing='ij')``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        v = [1] * len(ts)
        v[i] = -1
        out.append(t.reshape(*v).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    """``torch.cartesian_prod``."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """``torch.unique``: sorted unique values (optionally inverse indices and counts)."""
    a = input.numpy()
    if dim is None:
        u, inv, cnt = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        u, inv, cnt = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
        inv = inv.reshape(-1)
    res = [_C.from_numpy(np.ascontiguousarray(u))]
    if return_inverse:
        res.append(_i64(inv))
    if return_counts:
        res.append(_i64(cnt))
    return res[0] if len(res) == 1 else tuple(res)


def bincount(input, weights=None, minlength=0):
    """``torch.bincount``."""
    if input.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    a = input.numpy()
    if a.dtype.kind not in "iu":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _i64(np.bincount(a, minlength=minlength))
    w = weights.numpy()
    r = np.bincount(a, weights=w, minlength=minlength)
    return _C.from_numpy(r.astype(w.dtype if w.dtype == np.float32 else np.float64))


# searchsorted / bucketize live in _math_extra.py.


def movedim(input, source, destination):
    """``torch.movedim``: a view with the ``source`` dims moved to ``destination``."""
    src = _int_list(source, "movedim", "source")
    dst = _int_list(destination, "movedim", "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
                           f"same number of dims as destination ({dst} dims)")
    nd = input.ndim
    ws, wd = [_wrap_dim(d, nd) for d in src], [_wrap_dim(d, nd) for d in dst]
    for name, orig, w in (("source", src, ws), ("destination", dst, wd)):
        if len(set(w)) != len(w):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({orig})")
    if nd == 0:
        return input.view(())
    order = [i for i in range(nd) if i not in ws]
    for d, s in sorted(zip(wd, ws)):
        order.insert(d, s)
    return input.permute(*order)


moveaxis = movedim


def unflatten(input, dim, sizes):
    """``torch.unflatten``: split ``dim`` into ``sizes`` (one -1 is inferred), a view when possible."""
    if isinstance(sizes, (tuple, list)) and not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    d = _wrap_dim(_int_arg(dim, "unflatten", "dim"), input.ndim)
    sizes = _int_list(sizes if isinstance(sizes, (tuple, list)) else list(sizes), "unflatten", "sizes")
    if input.ndim == 0 or sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:")
    n = input.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0 and n == 0:
            fill = 0
        elif known == 0 or n % known:
            raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {d} ({n}) in "
                               "the input tensor")
        else:
            fill = n // known
        sizes = [fill if s == -1 else s for s in sizes]
    elif known != n:
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {d} ({n}) in the "
                           "input tensor")
    shape = list(input.shape)
    return input.reshape(*shape[:d], *sizes, *shape[d + 1:])


@_out.supports_out("narrow_copy", _out.SAME_EXPECTED)
def narrow_copy(input, dim, start, length):
    """``torch.narrow_copy``."""
    return input.narrow(dim, start, length).clone()
