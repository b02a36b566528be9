"""Indexing: ``Tensor.__getitem__`` / ``__setitem__`` with PyTorch's rules, and the index ops
(gather, scatter, index_select, index_add, masked_fill, nonzero, take ...).

Basic indices (ints, slices, None, Ellipsis) become native views (select/slice/unsqueeze).
Advanced indices (integer / bool tensors, lists, arrays) are turned into one linear index over
the indexed dims and served by a single native ``index_select``, so autograd comes from that op
(its backward is an ``index_add``, which accumulates duplicate indices).

On the wgpu device integer index tensors stay on the device: the linear index is folded there
(``_C._fold_index``) and out-of-range indices raise at the next sync point, as CUDA's device-side
asserts do. A boolean mask has a data-dependent result size, so it is read back to the host to
find its nonzero positions: a sync, as in PyTorch on CUDA."""

import builtins
import warnings

import numpy as np

from rustgrad import _out
from rustgrad import _rustgrad as _C
from rustgrad._creation import _check_scalar
from rustgrad._rustgrad import Tensor
from rustgrad._shape import _wrap_dim

__all__ = [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "index_copy", "index_fill",
    "masked_fill", "masked_select", "masked_scatter", "nonzero", "argwhere", "take", "take_along_dim",
]

_INT_DTYPES = ("int64", "int32", "uint8")


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def _grad_on():
    return _C.is_grad_enabled()


def _on_device(t):
    """Whether ``t`` lives on an accelerator (its index checks then happen in the kernels)."""
    return isinstance(t, Tensor) and t.device.type != "cpu"


def _to_device_of(index, like):
    """``index`` on ``like``'s device (lists and host indices of a device tensor are uploaded)."""
    if _on_device(like) and isinstance(index, Tensor) and not _on_device(index):
        return index.to(like.device)
    return index


def _as_index_item(it):
    """Normalise one index item: lists/arrays/0-d tensors become tensors or ints."""
    if isinstance(it, (builtins.bool, np.bool_)):
        return _C.from_numpy(np.array(it))  # a 0-d bool mask (Tensor(np.array(True)) would be float)
    if isinstance(it, (int, np.integer)):
        return int(it)
    if it is None or it is Ellipsis or isinstance(it, slice):
        return it
    if isinstance(it, str):
        return it  # refused where it is reached, after the items before it (PyTorch's order)
    if isinstance(it, Tensor):
        if it.ndim == 0 and _dtype_name(it) in _INT_DTYPES:
            return int(it.item())
        return it
    if isinstance(it, range):
        # a range is a sequence of ints: an int64 index (x[range(n), y] picks one per row)
        return _C.from_numpy(np.arange(it.start, it.stop, it.step, dtype=np.int64))
    if isinstance(it, (list, tuple, np.ndarray)):
        arr = np.asarray(it)
        if arr.dtype == object:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return _C.from_numpy(np.ascontiguousarray(arr))
    return _BadIndex(it)  # refused where it is reached, after the items before it (PyTorch's order)


class _BadIndex:
    def __init__(self, it):
        self.what = type(it).__name__

    def fail(self):
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                         f"indices (got {self.what})")


def _sequence_as_tuple(idx):
    """PyTorch's (and old NumPy's) ``treatSequenceAsTuple``: a list shorter than 32 that holds a
    sequence, slice, Ellipsis, None or tensor is a tuple of indices (``x[[[0, 1], [1, 0]]]`` is
    ``x[[0, 1], [1, 0]]``); a list of plain numbers is one advanced index (``x[[0, 1]]``)."""
    if not isinstance(idx, list) or len(idx) >= 32:
        return False
    as_tuple = builtins.any(isinstance(i, (list, tuple, range, slice, Tensor, np.ndarray, str)) or i is None
                            or i is Ellipsis for i in idx)
    if as_tuple:
        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in "
            "pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as tensor "
            "index, x[torch.tensor(seq)], which will result either in an error or a different result",
            UserWarning,
            stacklevel=4,
        )
    return as_tuple


def _normalise(idx):
    if _sequence_as_tuple(idx):
        idx = tuple(idx)
    elif not isinstance(idx, tuple):
        idx = (idx,)
    return [_as_index_item(i) for i in idx]


def _consumed(it):
    if it is None or it is Ellipsis:
        return 0
    if isinstance(it, Tensor) and _dtype_name(it) in ("bool", "uint8"):
        return builtins.max(it.ndim, 0)
    return 1


def _expand_ellipsis(items, ndim):
    used = sum(_consumed(i) for i in items)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if builtins.any(i is Ellipsis for i in items):
        # PyTorch expands the first Ellipsis and lets any later one stand for no dims.
        k = items.index(Ellipsis)
        items = items[:k] + [slice(None)] * (ndim - used) + [i for i in items[k + 1:] if i is not Ellipsis]
    return items


def _basic_and_advanced(x, items, deferred=None):
    """Apply basic indices as views; return the view and [(dim, index ndarray)] still to apply.
    With a ``deferred`` list, an index tensor of a bad dtype is recorded there instead of raising
    (setitem: PyTorch converts the value before it checks the index tensors)."""
    items = _expand_ellipsis(items, x.ndim)
    dim = 0
    adv = []
    for it in items:
        if it is None:
            x = x.unsqueeze(dim)
            dim += 1
        elif isinstance(it, str):
            raise TypeError("new(): invalid data type 'str'")
        elif isinstance(it, _BadIndex):
            it.fail()
        elif isinstance(it, int):
            if x.ndim == 0:
                raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                                 "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
            x = x.select(dim, it)
        elif isinstance(it, slice):
            step = 1 if it.step is None else int(it.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            x = _C._slice(x, dim, None if it.start is None else int(it.start),
                          None if it.stop is None else int(it.stop), step)
            dim += 1
        else:  # tensor index
            name = _dtype_name(it)
            if name in ("int64", "int32") and _on_device(x):
                adv.append((dim, it))  # stays a tensor: folded on the device
                dim += 1
                continue
            arr = it.numpy()  # (a device mask syncs here: its nonzero count sizes the result)
            if name in ("bool", "uint8"):
                k = arr.ndim
                if k == 0:
                    # x[True] adds a dim of size 1, x[False] one of size 0.
                    x = x.unsqueeze(dim)
                    adv.append((dim, np.arange(1)[: int(arr.item())]))
                    dim += 1
                    continue
                shp = tuple(x.shape[dim:dim + k])
                if shp != arr.shape:
                    for j in range(k):
                        if j >= len(shp) or arr.shape[j] != shp[j]:
                            raise IndexError(
                                f"The shape of the mask {list(arr.shape)} at index {j} does not match "
                                f"the shape of the indexed tensor {list(x.shape)} at index {dim + j}")
                for j, nz in enumerate(np.nonzero(arr)):
                    adv.append((dim + j, nz))
                dim += k
            elif name in ("int64", "int32"):
                adv.append((dim, arr.astype(np.int64)))
                dim += 1
            else:
                err = IndexError("tensors used as indices must be long, int, byte or bool tensors")
                if deferred is None:
                    raise err
                deferred.append(err)
                dim += 1
    return x, adv


def _broadcast_adv(adv, shape_only=False):
    """The advanced indices broadcast together (their broadcast shape with ``shape_only``)."""
    try:
        if shape_only:
            return tuple(np.broadcast_shapes(*[tuple(a.shape) for _, a in adv]))
        return np.broadcast_arrays(*[a for _, a in adv])
    except ValueError:
        shapes = ", ".join(f"[{', '.join(map(str, a.shape))}]" for _, a in adv)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}") from None


def _linear_index_on_device(x, adv):
    """``_linear_index`` for a device tensor: the fold and its bounds checks run in a kernel."""
    dims = [d for d, _ in adv]
    bshape = _broadcast_adv(adv, shape_only=True)
    rest = 1
    for d in range(x.ndim):
        if d not in dims:
            rest *= x.shape[d]
    if rest * int(np.prod(bshape)) == 0:
        return dims, bshape, _C._zeros(list(bshape), _C.int64).to(x.device)
    idx = [_to_device_of(a if isinstance(a, Tensor) else _C.from_numpy(np.ascontiguousarray(a)), x)
           for _, a in adv]
    return dims, bshape, _C._fold_index(idx, [x.shape[d] for d in dims], dims, list(bshape))


def _linear_index(x, adv):
    """Broadcast the advanced indices, bounds-check them and fold them into one linear index."""
    dims = [d for d, _ in adv]
    arrs = _broadcast_adv(adv)
    bshape = arrs[0].shape if arrs else ()
    lin = np.zeros(bshape, dtype=np.int64)
    rest = 1
    for d in range(x.ndim):
        if d not in dims:
            rest *= x.shape[d]
    if rest * int(np.prod(bshape)) == 0:
        return dims, bshape, lin  # an empty result reads nothing: PyTorch checks no bounds then
    for d, a in zip(dims, arrs):
        n = x.shape[d]
        bad = (a < -n) | (a >= n)
        if bad.any():
            v = int(a[bad].flat[0])
            raise IndexError(f"index {v} is out of bounds for dimension {d} with size {n}")
        lin = lin * n + np.where(a < 0, a + n, a)
    return dims, bshape, lin


def _apply_advanced(x, adv):
    if _on_device(x):
        dims, bshape, lin = _linear_index_on_device(x, adv)
    else:
        dims, bshape, lin = _linear_index(x, adv)
        lin = _C.from_numpy(np.ascontiguousarray(lin.reshape(-1)))
    nd = x.ndim
    rest = [d for d in range(nd) if d not in dims]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    if dims != list(range(len(dims))):
        x = x.permute(*(dims + rest))
    rest_shape = [x.shape[len(dims) + i] for i in range(len(rest))]
    lead = 1
    for d in range(len(dims)):
        lead *= x.shape[d]
    flat = x.reshape(lead, *rest_shape)  # (not -1: ambiguous when a rest dim is 0)
    out = _C._index_select(flat, 0, lin.reshape(-1))
    out = out.reshape(*bshape, *rest_shape)
    if adjacent and dims[0] > 0:
        # PyTorch keeps the broadcast dims where the (adjacent) indexed dims were.
        nb, p = len(bshape), dims[0]
        order = list(range(nb, nb + p)) + list(range(nb)) + list(range(nb + p, out.ndim))
        out = out.permute(*order)
    return out


def _getitem(self, idx):
    """``x[idx]`` with PyTorch semantics (basic indices give views)."""
    # Fast paths: a single int or slice.
    if isinstance(idx, int) and not isinstance(idx, builtins.bool):
        if self.ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        return self.select(0, idx)
    if isinstance(idx, slice):
        step = 1 if idx.step is None else int(idx.step)
        if step <= 0:  # (checked before the 0-d "too many indices", as in PyTorch)
            raise ValueError("step must be greater than zero")
        if self.ndim > 0:
            return _C._slice(self, 0, idx.start, idx.stop, step)
    x, adv = _basic_and_advanced(self, _normalise(idx))
    if adv:
        x = _apply_advanced(x, adv)
    elif x is self:
        x = _C._as_strided(self, list(self.shape), list(self.stride()), self.storage_offset()) \
            if not self.requires_grad else self.view(*self.shape)
    return x


_DNAME = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool",
          "float16": "Half", "bfloat16": "BFloat16", "int8": "Char", "int16": "Short"}


def _setitem_value(value, x, items):
    """The value tensor for an advanced-index write: a Tensor must already have x's dtype
    (PyTorch's index_put_), except a one-element value under a single mask (PyTorch turns that into
    a masked_fill, which casts)."""
    v = _value_tensor(value, x)
    adv = [i for i in items if isinstance(i, Tensor)]
    # (a 0-d bool index is a long index of 0 or 1 entries in PyTorch, not a mask)
    single_mask = len(adv) == 1 and _dtype_name(adv[0]) in ("bool", "uint8") and adv[0].ndim > 0
    if single_mask and _dtype_name(adv[0]) == "uint8" and (not isinstance(value, Tensor) or value.numel() == 1):
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype unsigned char")
    if isinstance(value, Tensor) and value.dtype != x.dtype and not (single_mask and value.numel() == 1):
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_DNAME[_dtype_name(x)]} for the destination and {_DNAME[_dtype_name(value)]} for the "
                           "source.")
    return _strip_leading_ones(v)


def _strip_leading_ones(v):
    """PyTorch drops a value's leading size-1 dims before broadcasting it into the target."""
    k = 0
    while k < v.ndim and v.shape[k] == 1:
        k += 1
    return v.reshape(*v.shape[k:]) if k else v


def _offsets_of(t):
    """int64 tensor of the storage offset of every element of ``t``."""
    off = np.full((), t.storage_offset(), dtype=np.int64)
    for d, (n, s) in enumerate(zip(t.shape, t.stride())):
        shape = [1] * t.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return _C.from_numpy(np.ascontiguousarray(np.broadcast_to(off, tuple(t.shape))))


def _value_tensor(value, like):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return _C.from_numpy(np.asarray(value))
    if isinstance(value, str):
        raise TypeError(f"can't assign a str to a {like.type()}")
    return _C._full([], _check_scalar(value, like.dtype), like.dtype)


def _setitem(self, idx, value):
    """``x[idx] = value``: writes into x's storage; autograd rebases x's history when needed."""
    if isinstance(idx, slice) and idx.step is not None and int(idx.step) == 0:
        raise ValueError("slice step cannot be zero")
    if idx is False:  # PyTorch: a no-op (x[True], x[None], x[...] write the whole tensor)
        return
    if idx is True or idx is None:
        idx = Ellipsis
    if builtins.any(n > 1 and s == 0 for n, s in zip(self.shape, self.stride())):
        # PyTorch fills an expanded tensor (x[...] = scalar, index_put_); a tensor value written by
        # copy_ is refused there by copy_'s own overlap check. Only autograd's rule applies here.
        if _grad_on() and self.requires_grad and self.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    else:
        _C._check_inplace(self)
    if _grad_on() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
        v = _to_device_of(_value_tensor(value, self), self)
        lin = _to_device_of(_C._arange(0, self.numel(), 1, "int64").reshape(*self.shape), self)
        lin = _getitem(lin, idx)
        vv = v.to(self.dtype).expand(*lin.shape).reshape(-1)
        res = _C._scatter(self.reshape(-1), 0, lin.reshape(-1), vv, "none").reshape(*self.shape)
        _C._commit_inplace(self, res)
        return
    with _NoGrad():
        items = _normalise(idx)
        if _masked_fill_on_device(self, items, value):
            return
        deferred = []
        x, adv = _basic_and_advanced(self, items, deferred)
        if not adv and not deferred:
            x.copy_(_strip_leading_ones(_value_tensor(value, self)))
            return
        # PyTorch's order: basic indices (above), the Python value's conversion, index tensor
        # dtypes, index shapes, the value's dtype, then index bounds.
        _value_tensor(value, self)
        if deferred:
            raise deferred[0]
        _broadcast_adv(adv, shape_only=True)
        v = _setitem_value(value, self, items)
        if self.numel() == 0:
            return  # PyTorch's index_put_ kernel never runs (nor bounds-checks) on an empty tensor
        offs = _apply_advanced(_to_device_of(_offsets_of(x), self), adv)
        v = _to_device_of(v, self)
        vb = v.expand(*offs.shape) if tuple(v.shape) != tuple(offs.shape) else v
        _C._put_offsets_(self, offs, vb.to(self.dtype))


def _masked_fill_on_device(self, items, value):
    """``x[mask] = scalar`` with one bool mask over all of a float32 device tensor: a masked
    fill (``where``) on the device, with no readback of the mask. Returns whether it applied."""
    if not (_on_device(self) and len(items) == 1 and _dtype_name(self) == "float32"):
        return False
    mask = items[0]
    if not (isinstance(mask, Tensor) and _dtype_name(mask) == "bool" and mask.ndim > 0
            and tuple(mask.shape) == tuple(self.shape)):
        return False
    if isinstance(value, Tensor):
        if value.numel() != 1:
            return False
        value = value.reshape(())
    else:
        _value_tensor(value, self)  # (PyTorch's conversion errors first)
    v = value.to(self.dtype) if isinstance(value, Tensor) else _C._full([], _check_scalar(value, self.dtype), self.dtype)
    _C._commit_inplace(self, _C._where(_to_device_of(mask, self), v, self))
    return True


class _NoGrad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *a):
        _C._set_grad_enabled(self.prev)




# ---- index ops -----------------------------------------------------------------------------------

def _idx(index, msg="index_select(): Expected dtype int32 or int64 for index", ints=("int64", "int32"),
         exc=RuntimeError):
    if not isinstance(index, Tensor):
        index = _C.from_numpy(np.asarray(index, dtype=np.int64))
    if _dtype_name(index) not in ints:
        raise exc(msg)
    return index


_LONG = {"int32": "Int", "uint8": "Byte", "bool": "Bool", "float32": "Float", "float64": "Double", "int64": "Long",
         "float16": "Half", "bfloat16": "BFloat16", "int8": "Char", "int16": "Short"}


def _long_idx(index, op):
    """index_copy / take accept only int64 indices (RuntimeError, PyTorch's message)."""
    if isinstance(index, Tensor) and _dtype_name(index) != "int64":
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {_LONG[_dtype_name(index)]}")
    return _idx(index)


@_out.supports_out("gather", _out.SAME_EXPECTED)
def gather(input, dim, index, *, sparse_grad=False):
    """``torch.gather(input, dim, index)``."""
    _wrap_dim(dim, input.ndim)
    index = _index_dtype(index, "gather")
    return _C._gather(input, dim, index)


def _index_dtype(index, op):
    """gather/scatter index: int64 or int32; PyTorch only checks the dtype of a non-empty index."""
    if _dtype_name(index) in ("int64", "int32"):
        return index
    if index.numel() == 0:
        return index.to(_C.int64)
    raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")


def _scalar_src(self, value):
    if isinstance(value, Tensor):
        return value
    return _C._full([], _check_scalar(value, self.dtype), self.dtype)


@_out.supports_out("scatter", _out.SAME_EXPECTED)
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """``torch.scatter(input, dim, index, src|value, reduce=None)``."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    _wrap_dim(dim, input.ndim)
    index = _index_dtype(index, "scatter")
    # (a Python value is converted, and range-checked, only when the kernel writes something)
    s = src if isinstance(src, Tensor) or index.numel() else _C._full([], 0, input.dtype)
    s = _scalar_src(input, s)
    if isinstance(src, Tensor) and src.dtype != input.dtype and src.ndim > 0:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return _C._scatter(input, dim, index, s, reduce or "none")


@_out.supports_out("scatter_add", _out.SAME_EXPECTED)
def scatter_add(input, dim, index, src):
    """``torch.scatter_add(input, dim, index, src)``: accumulates duplicates."""
    _wrap_dim(dim, input.ndim)
    index = _index_dtype(index, "scatter")
    if src.dtype != input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return _C._scatter(input, dim, index, src, "add")


@_out.supports_out("index_select", _out.SAME_INDEX_SELECT)
def index_select(input, dim, index):
    """``torch.index_select(input, dim, index)``."""
    _wrap_dim(dim, input.ndim)
    index = _idx(index)
    if input.ndim == 0 and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)")
    if not _on_device(input) and not _on_device(index):  # (the device kernel checks, deferred)
        if index.numel() and builtins.int(index.min().item()) < 0:
            raise IndexError("index out of range in self")  # index_select takes no negative indices
    return _C._index_select(input, dim, index)


@_out.supports_out("index_add", _out.SAME_EXPECTED)
def index_add(input, dim, index, source, *, alpha=1):
    """``torch.index_add(input, dim, index, source, alpha=1)``."""
    _wrap_dim(dim, input.ndim)
    index = _idx(index, "index_add_(): Expected dtype int32/int64 for index")
    if source.dtype != input.dtype:
        raise RuntimeError(f"index_add_(): self ({_DNAME[_dtype_name(input)]}) and source "
                           f"({_DNAME[_dtype_name(source)]}) must have the same scalar type")
    if not _on_device(input) and not _on_device(index):  # (the device kernel checks, deferred)
        if index.numel() and builtins.int(index.min().item()) < 0:
            raise IndexError("index out of range in self")  # (PyTorch takes no negative index_add indices)
    if source.numel() == 0 or input.numel() == 0:  # nothing is added, and PyTorch checks no index then
        return input.clone()
    if input.ndim == 0:  # a 0-d input: one index entry, 0 or -1
        vals = index.reshape(-1).tolist()
        if len(vals) != 1 or vals[0] not in (0, -1):
            raise IndexError(f"index {vals[0] if vals else 0} is out of bounds for dimension 0 with size 1")
        return input + source.reshape(()) * alpha if alpha != 1 else input + source.reshape(())
    return _C._index_add(input, dim, index, source, float(alpha))


def _along(input, dim, index, shape):
    """Index reshaped to broadcast along ``dim`` over ``shape`` (for index_copy / index_fill)."""
    d = _wrap_dim(dim, input.ndim)
    if not shape:  # a 0-d input: the index holds at most one position
        return index.reshape(()), 0
    view = [1] * len(shape)
    view[d] = -1
    return index.reshape(*view).expand(*shape).contiguous(), d


def index_copy(input, dim, index, source):
    """``torch.index_copy(input, dim, index, source)``."""
    _wrap_dim(dim, input.ndim)
    if source.ndim == 0 and isinstance(index, Tensor) and index.numel() != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element (got {index.numel()})")
    index = _long_idx(index, "index_copy_")
    if source.dtype != input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_DNAME[_dtype_name(input)]} and (source) {_DNAME[_dtype_name(source)]}")
    if input.ndim:
        _check_index_range(index, input.shape[_wrap_dim(dim, input.ndim)], _wrap_dim(dim, input.ndim),
                           wrap=False, prefix="index_copy_(): ")
    ix, d = _along(input, dim, index, list(source.shape))
    return _C._scatter(input, d, ix, source, "none")


def _check_index_range(index, n, d, wrap, prefix=""):
    """IndexError for an index outside [-n, n) (or [0, n) without ``wrap``); negatives wrapped."""
    if not index.numel():
        return index
    if _on_device(index):
        # The device cannot check without a sync: wrap (and check) in a kernel, or leave the
        # check to the scatter kernel. Either reports at the next sync point.
        return _C._fold_index([index], [n], [d], list(index.shape)) if wrap else index
    lo, hi = builtins.int(index.min().item()), builtins.int(index.max().item())
    low = -n if wrap else 0
    if lo < low or hi >= n:
        raise IndexError(f"{prefix}index {lo if lo < low else hi} is out of bounds for dimension {d} with size {n}")
    return _C._where(index < 0, index + n, index) if lo < 0 else index


def index_fill(input, dim, index, value):
    """``torch.index_fill(input, dim, index, value)``."""
    index = _idx(index, "index_fill_(): Expected dtype int64 for index.", ints=("int64",), exc=IndexError)
    shape = list(input.shape)
    d = _wrap_dim(dim, input.ndim)
    if not shape:  # a 0-d input: any index entry must be 0 or -1
        if not isinstance(value, Tensor):
            _check_scalar(value, input.dtype)
        vals = index.reshape(-1).tolist()
        bad = [v for v in vals if v not in (0, -1)]
        if bad:
            raise IndexError(f"index {bad[0]} is out of bounds for dimension 0 with size 1")
        return _C._full([], _check_scalar(value, input.dtype) if not isinstance(value, Tensor) else value.item(),
                        input.dtype) if vals else input.clone()
    index = _check_index_range(index, shape[d], d, wrap=True)
    shape[d] = index.numel()
    ix, d = _along(input, dim, index, shape)
    return _C._scatter(input, d, ix, _scalar_src(input, value).to(input.dtype), "none")


def _broadcast_shapes(*shapes):
    from rustgrad._functional import broadcast_shapes  # (RuntimeError, PyTorch's type)

    return broadcast_shapes(*shapes)


def _check_mask(mask):
    if _dtype_name(mask) != "bool":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {_dtype_name(mask)}")


def masked_fill(input, mask, value):
    """``torch.masked_fill(input, mask, value)``; value is a number or a 0-d tensor."""
    _check_mask(mask)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s).")
        v = value.to(input.dtype)
    else:
        v = _C._full([], _check_scalar(value, input.dtype), input.dtype)
    return _C._where(mask, v, input)


@_out.supports_out("masked_select", _out.SAME_MASKED_SELECT)
def masked_select(input, mask):
    """``torch.masked_select(input, mask)``: 1-D tensor of the selected elements."""
    _check_mask(mask)
    shape = tuple(_broadcast_shapes(input.shape, mask.shape))
    x = input.expand(*shape) if tuple(input.shape) != shape else input
    m = mask.expand(*shape) if tuple(mask.shape) != shape else mask
    return x.reshape(-1)[m.reshape(-1)]


def masked_scatter(input, mask, source):
    """``torch.masked_scatter(input, mask, source)``."""
    _check_mask(mask)
    shape = tuple(_broadcast_shapes(input.shape, mask.shape))
    m = np.broadcast_to(mask.numpy(), shape).reshape(-1)
    pos = np.nonzero(m)[0]  # (a device mask syncs here, as on CUDA)
    x = input.expand(*shape).reshape(-1)
    src = source.reshape(-1)[: len(pos)]
    at = _to_device_of(_C.from_numpy(pos.astype(np.int64)), x)
    return _C._scatter(x, 0, at, src, "none").reshape(*shape)


@_out.supports_out("nonzero", _out.SAME_NONZERO)
def nonzero(input, *, as_tuple=False):
    """``torch.nonzero(input, as_tuple=False)``. The result size depends on the data, so a device
    input is read back (a sync, as on CUDA) and the indices return to its device."""
    a = input.numpy()

    def out(arr):
        return _to_device_of(_C.from_numpy(np.ascontiguousarray(arr)), input)

    if as_tuple:
        if a.ndim == 0:
            return (out(np.zeros(int(a != 0), dtype=np.int64)),)
        return tuple(out(i.astype(np.int64)) for i in np.nonzero(a))
    if a.ndim == 0:
        return out(np.zeros((int(a != 0), 0), dtype=np.int64))
    return out(np.argwhere(a).astype(np.int64))


def argwhere(input):
    """``torch.argwhere(input)`` (same as ``nonzero``)."""
    return nonzero(input)


@_out.supports_out("take", _out.SAME_TAKE)
def take(input, index):
    """``torch.take(input, index)``: input treated as 1-D; negative indices count from the end."""
    index = _long_idx(index, "take")
    n = input.numel()
    flat = index.reshape(-1)
    if flat.numel() and n and _on_device(flat):
        # Wrapped and checked in a kernel (reported at the next sync point).
        flat = _C._fold_index([flat], [n], [0], [flat.numel()])
    elif flat.numel():
        if n == 0:
            raise IndexError("take(): tried to take from an empty tensor")
        lo, hi = builtins.int(flat.min().item()), builtins.int(flat.max().item())
        if lo < -n or hi >= n:
            raise IndexError(f"out of range: tried to access index {lo if lo < -n else hi} on a tensor of {n} elements.")
        if lo < 0:
            flat = _C._where(flat < 0, flat + n, flat)
    return _C._index_select(input.reshape(-1), 0, flat).reshape(*index.shape)


@_out.supports_out("take_along_dim", _out.SAME_EXPECTED)
def take_along_dim(input, indices, dim=None):
    """``torch.take_along_dim(input, indices, dim)``."""
    if dim is None:
        return take(input, indices.reshape(-1))
    if _dtype_name(indices) != "int64":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {_LONG[_dtype_name(indices)]}")
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _wrap_dim(dim, input.ndim)
    s_in, s_ix = list(input.shape), list(indices.shape)
    bi = list(_broadcast_shapes(tuple(s_in[:d] + [1] + s_in[d + 1:]), tuple(s_ix[:d] + [1] + s_ix[d + 1:])))
    x = input.expand(*(bi[:d] + [s_in[d]] + bi[d + 1:]))
    ix = indices.expand(*(bi[:d] + [s_ix[d]] + bi[d + 1:]))
    return gather(x, d, ix)
