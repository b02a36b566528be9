"""Reductions and along-dim ops with PyTorch's signatures: ``max/min/amax/argmax``, ``prod``,
``var/std``, ``norm``, ``logsumexp``, ``all/any``, ``cumsum/cumprod``, ``softmax/log_softmax``,
``sort/argsort/topk/kthvalue/median``, ``isnan/isinf/isfinite/nan_to_num``, ``isclose/allclose/equal``.

Heavy kernels are native (``_C._amax``, ``_C._max_dim``, ``_C._sort``, ``_C._softmax`` ...);
compositions of differentiable primitives get their gradients from those primitives.
"""

import builtins
import collections
import math
import types

from rustgrad import _out
from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor
from rustgrad._shape import _int_arg, _int_list, _wrap_dim, _wrap_dims
from rustgrad.amp.autocast_mode import cast_inputs as _autocast

__all__ = []


def _export(fn, name=None):
    name = name or fn.__name__
    globals()[name] = fn
    __all__.append(name)
    return fn


def _rt(name, fields):
    t = collections.namedtuple(name, fields)
    t.__module__ = "torch.return_types"
    t.__qualname__ = name
    return t


#: ``torch.return_types``: the named tuples returned by max(dim), sort, topk ...
return_types = types.SimpleNamespace(
    max=_rt("max", ["values", "indices"]),
    min=_rt("min", ["values", "indices"]),
    sort=_rt("sort", ["values", "indices"]),
    topk=_rt("topk", ["values", "indices"]),
    kthvalue=_rt("kthvalue", ["values", "indices"]),
    median=_rt("median", ["values", "indices"]),
    mode=_rt("mode", ["values", "indices"]),
    aminmax=_rt("aminmax", ["min", "max"]),
)
__all__.append("return_types")

_INT_MIN = {"torch.int64": -(2**63), "torch.int32": -(2**31), "torch.uint8": 0, "torch.int16": -(2**15),
            "torch.int8": -(2**7)}
_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308, "float16": 65504.0,
              "bfloat16": 3.3895313892515355e38}
_DTYPE_NAME = {"bool": "Bool", "uint8": "Byte", "int32": "Int", "int64": "Long", "float32": "Float", "float64": "Double",
               "float16": "Half", "bfloat16": "BFloat16", "int8": "Char", "int16": "Short"}


def _t(x):
    return x if isinstance(x, Tensor) else _C.tensor(x)


def _dname(t):
    return _DTYPE_NAME.get(str(t.dtype).replace("torch.", ""), str(t.dtype))


def _dims(dim, ndim):
    """Normalise ``dim`` (None / int / sequence) to a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, builtins.int):
        dim = (dim,)
    n = builtins.max(ndim, 1)
    out = []
    for d in dim:
        d = builtins.int(d)
        if d < -n or d >= n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        out.append(d + n if d < 0 else d)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


#: Default of a ``dim`` that PyTorch's signature does not let be None (``max(dim=None)`` is a TypeError).
_UNSET = object()


def _dim_int(dim, name):
    """A single ``dim``: an int (PyTorch raises TypeError for None, floats and bools)."""
    return _int_arg(dim, name, "dim")


def _dim_ints(dim, name):
    """An int-or-tuple ``dim`` (amax, logsumexp ...): TypeError for floats, None and bools."""
    if dim is None:
        raise TypeError(f"{name}(): argument 'dim' must be tuple of ints, not NoneType")
    return _int_list(dim, name, "dim")


def _reduced_shape(shape, dims, keepdim):
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keepdim or i not in dims)


def _cast(x, dtype):
    return x if dtype is None or x.dtype == dtype else x.to(dtype)


# ---------------------------------------------------------------- max / min / amax / argmax


def _max_min(input, dim, keepdim, other, want_max):
    name = "max" if want_max else "min"
    if isinstance(dim, Tensor) and other is None:
        other = dim
        dim = _UNSET
    if other is not None:
        return _C._binary("maximum" if want_max else "minimum", input, other)
    if dim is _UNSET:
        if keepdim is not _UNSET:
            raise TypeError(f"{name}() received an invalid combination of arguments - got (keepdim=bool, )")
        return _C._amax(input, None, False, want_max, name)
    keepdim = False if keepdim is _UNSET else keepdim
    v, i = _C._max_dim(input, _dim_int(dim, name), builtins.bool(keepdim), want_max)
    return getattr(return_types, name)(v, i)


@_export
@_out.supports_out("max", _out.CAST)
def max(input, dim=_UNSET, keepdim=_UNSET, *, other=None):
    """``torch.max``: the maximum (NaN propagates); with ``dim``, ``(values, indices)``; with a
    tensor second argument, ``torch.maximum``."""
    return _max_min(input, dim, keepdim, other, True)


@_export
@_out.supports_out("min", _out.CAST)
def min(input, dim=_UNSET, keepdim=_UNSET, *, other=None):
    """``torch.min``: the minimum (NaN propagates); with ``dim``, ``(values, indices)``."""
    return _max_min(input, dim, keepdim, other, False)


def _amaxmin(input, dim, keepdim, want_max):
    name = "amax" if want_max else "amin"
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        dims = None
    else:
        dims = _int_list(dim, name, "dim")
    return _C._amax(input, dims, builtins.bool(keepdim), want_max, name)


@_export
@_out.supports_out("amax", _out.SAME_REDUCE)
def amax(input, dim=(), keepdim=False):
    """``torch.amax``: maximum over ``dim`` (all dims when empty); ties share the gradient."""
    return _amaxmin(input, dim, keepdim, True)


@_export
@_out.supports_out("amin", _out.SAME_REDUCE)
def amin(input, dim=(), keepdim=False):
    """``torch.amin``: minimum over ``dim`` (all dims when empty); ties share the gradient."""
    return _amaxmin(input, dim, keepdim, False)


@_export
@_out.supports_out("aminmax", _out.SAME_EXPECTED)
def aminmax(input, *, dim=None, keepdim=False):
    """``torch.aminmax``: ``(min, max)`` over ``dim`` (all elements when None)."""
    d = () if dim is None else dim
    return return_types.aminmax(amin(input, d, keepdim), amax(input, d, keepdim))


def _arg(input, dim, keepdim, want_max):
    name = "argmax" if want_max else "argmin"
    if dim is not None:
        dim = _dim_int(dim, name)
    if input.dtype == _C.bool:
        raise NotImplementedError(f"{name}(): does not support bool input")
    if dim is None:
        if input.numel() == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        _, i = _C._max_dim(input.reshape(-1), 0, False, want_max)
        if keepdim:
            i = i.reshape((1,) * input.dim())
        return i
    return _C._max_dim(input, _dim_int(dim, name), builtins.bool(keepdim), want_max)[1]


@_export
@_out.supports_out("argmax", _out.SAME_EXPECTED)
def argmax(input, dim=None, keepdim=False):
    """``torch.argmax``: int64 index of the (first) maximum; ``dim=None`` flattens."""
    return _arg(input, dim, keepdim, True)


@_export
@_out.supports_out("argmin", _out.SAME_EXPECTED)
def argmin(input, dim=None, keepdim=False):
    """``torch.argmin``: int64 index of the (first) minimum; ``dim=None`` flattens."""
    return _arg(input, dim, keepdim, False)


# ---------------------------------------------------------------- prod / var / std / norm


@_export
@_out.supports_out("prod", _out.ANY)
def prod(input, dim=_UNSET, keepdim=False, *, dtype=None):
    """``torch.prod``; integer and bool inputs give int64. Exact gradient with zeros."""
    (input,) = _autocast("prod", input)
    if dim is _UNSET:
        dim = None
    else:
        dim = _dim_int(dim, "prod")
    return _cast(_C._prod(_cast(input, dtype), dim, builtins.bool(keepdim)), dtype)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _check_float(input, name):
    if not input.is_floating_point():
        raise RuntimeError(f"{name}(): input dtype should be either floating point or complex dtypes. Got {_dname(input)} instead.")


def _var(input, dim, unbiased, keepdim, correction, name):
    if isinstance(dim, builtins.bool):  # legacy var(input, unbiased)
        unbiased, dim = dim, None
    if not input.is_floating_point():
        what = name if name.endswith("_mean") else "std and var"
        raise NotImplementedError(f"{what} only support floating point and complex dtypes")
    c = _correction(unbiased, correction)
    dims = None if dim is None else ([dim] if isinstance(dim, builtins.int) else [builtins.int(d) for d in dim])
    return _C._var_mean(input, dims, builtins.float(c), builtins.bool(keepdim))


@_export
@_out.supports_out("var", _out.CAST)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``torch.var`` with ``correction`` (default 1, Bessel) or the legacy ``unbiased`` flag."""
    return _var(input, dim, unbiased, keepdim, correction, "var")[0]


@_export
@_out.supports_out("std", _out.CAST)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``torch.std``: square root of :func:`var`."""
    return _C._reduction_root(_var(input, dim, unbiased, keepdim, correction, "std")[0], 2.0, "std")


@_export
@_out.supports_out("var_mean", _out.CAST)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``torch.var_mean``: ``(var, mean)`` in one call."""
    return _var(input, dim, unbiased, keepdim, correction, "var_mean")


@_export
@_out.supports_out("std_mean", _out.CAST)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``torch.std_mean``: ``(std, mean)`` in one call."""
    v, m = _var(input, dim, unbiased, keepdim, correction, "std_mean")
    return _C._reduction_root(v, 2.0, "std"), m


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.vector_norm``: the ``ord``-norm of ``x`` flattened over ``dim``."""
    x = _cast(x, dtype)
    if not x.is_floating_point():
        raise NotImplementedError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_dname(x)}")
    dl = None if dim is None else ([dim] if isinstance(dim, builtins.int) else list(dim))
    a = x.abs()
    if ord == math.inf:
        return amax(a, () if dl is None else dl, keepdim)
    if ord == -math.inf:
        return amin(a, () if dl is None else dl, keepdim)
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dl, keepdim=keepdim)
    if ord == 1:
        return a.sum(dl, keepdim=keepdim)
    # The root has PyTorch's zero subgradient at a zero norm (no NaN gradients at x = 0).
    if ord == 2:
        return _C._reduction_root((x * x).sum(dl, keepdim=keepdim), 2.0, "norm")
    return _C._reduction_root((a**ord).sum(dl, keepdim=keepdim), builtins.float(ord), "norm")


@_export
@_out.supports_out("norm", _out.SAME_EXPECTED)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """``torch.norm``: ``'fro'``/2 (default), 1, inf, -inf, 0 or any real ``p``, over ``dim``."""
    if not _cast(input, dtype).is_floating_point():
        raise NotImplementedError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_dname(input)}")
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm(): unsupported norm type {p!r}")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


@_export
@_out.supports_out("logsumexp", _out.CAST)
def logsumexp(input, dim, keepdim=False):
    """``torch.logsumexp``: ``log(sum(exp(x)))`` over ``dim``, stable (shifted by the max)."""
    if not input.is_floating_point():
        input = input.to(_C.float32)
    dim = _dim_ints(dim, "logsumexp")
    _wrap_dims(dim, input.dim(), range_first=True)  # range, then repeated dims (also for 0-d inputs)
    if not dim:
        # dim=() reduces every dim. PyTorch then adds the (kept-dim) max back into a result of
        # shape [] in place, which only broadcasts for keepdim, 0-d or empty inputs.
        if input.dim() and input.numel() and not keepdim:
            ones = ", ".join(["1"] * input.dim())
            raise RuntimeError(f"output with shape [] doesn't match the broadcast shape [{ones}]")
        dim = list(range(input.dim()))
        if not dim:
            return input.clone()
    dims = _dims(dim, input.dim())
    dl = list(dims)
    if not dl:
        return input.clone()
    if input.numel() == 0:
        return input.exp().sum(dl, keepdim=keepdim).log()
    m = amax(input, dl, True).detach()
    m = _C._where(m.abs() == math.inf, 0.0, m)
    r = (input - m).exp().sum(dl, keepdim=True).log() + m
    return r if keepdim else r.reshape(_reduced_shape(input.shape, dims, False))


# ---------------------------------------------------------------- all / any / count_nonzero


def _nonzero_mask(input):
    return input if input.dtype == _C.bool else input != 0


def _all_any(input, dim, keepdim, want_all):
    if dim is not None and not isinstance(dim, (tuple, list)):
        dim = [_dim_int(dim, "all" if want_all else "any")]
    elif dim is not None:  # range errors (IndexError) come before repeated-dim errors
        dim = [_wrap_dim(d, input.dim()) for d in _int_list(dim, "all" if want_all else "any", "dim")]
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        r = input.clone() if input.dtype == _C.bool else input != 0  # dim=() reduces nothing: elementwise
    else:
        r = _C._all_any(input, dim, builtins.bool(keepdim), want_all)
    return r.to(_C.uint8) if input.dtype == _C.uint8 else r  # uint8 in, uint8 out (PyTorch)


@_export
@_out.supports_out("all", _out.ANY)
def all(input, dim=None, keepdim=False):
    """``torch.all``: True where every element over ``dim`` is nonzero (bool result; uint8 for uint8)."""
    return _all_any(input, dim, keepdim, True)


@_export
@_out.supports_out("any", _out.ANY)
def any(input, dim=None, keepdim=False):
    """``torch.any``: True where some element over ``dim`` is nonzero (bool result; uint8 for uint8)."""
    return _all_any(input, dim, keepdim, False)


@_export
def count_nonzero(input, dim=None):
    """``torch.count_nonzero``: int64 count of nonzero elements over ``dim``."""
    if isinstance(dim, (tuple, list)):
        dim = _wrap_dims(_int_list(dim, "count_nonzero", "dim"), input.dim(), range_first=True)
    return _nonzero_mask(input).sum(dim)


# ---------------------------------------------------------------- cumulative / softmax


@_export
@_out.supports_out("cumsum", _out.ANY)
def cumsum(input, dim, *, dtype=None):
    """``torch.cumsum`` along ``dim``; integer and bool inputs give int64 (or ``dtype``)."""
    dim = _wrap_dim(_dim_int(dim, "cumsum"), input.dim())
    if dtype is _C.bool and input.dim() and input.numel():  # (no kernel runs for empty or 0-d inputs)
        raise NotImplementedError("\"cumsum_out_cpu\" not implemented for 'Bool'")
    return _cast(_C._cumulative(_cast(input, dtype), dim, False), dtype)


@_export
@_out.supports_out("cumprod", _out.ANY)
def cumprod(input, dim, *, dtype=None):
    """``torch.cumprod`` along ``dim``; exact gradient with zeros."""
    dim = _wrap_dim(_dim_int(dim, "cumprod"), input.dim())
    if dtype is _C.bool and input.dim() and input.numel():
        raise NotImplementedError("\"cumprod_out_cpu\" not implemented for 'Bool'")
    return _cast(_C._cumulative(_cast(input, dtype), dim, True), dtype)


def _softmax(input, dim, dtype, log):
    name = "log_softmax" if log else "softmax"
    if dim is _UNSET:
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')
    dim = _dim_int(dim, name)
    # Under autocast (wgpu, as CUDA) softmax runs in float32 unless a dtype is given.
    x = _cast(input, dtype) if dtype is not None else _autocast(name, input)[0]
    if x.numel() == 0 and not x.is_floating_point():
        # nothing to compute: PyTorch returns the empty input (after checking the dim)
        _dims((dim,), x.dim())
        return x.clone()
    return _C._softmax(x, dim, log)


@_export
def softmax(input, dim=_UNSET, dtype=None, _stacklevel=3):
    """``torch.softmax``: fused, numerically stable; ``dtype`` casts the input first. (The
    implicit-dim legacy form lives in ``nn.functional.softmax``.)"""
    return _softmax(input, dim, dtype, False)


@_export
def log_softmax(input, dim=_UNSET, dtype=None, _stacklevel=3):
    """``torch.log_softmax``: fused ``x - logsumexp(x)``; ``dtype`` casts the input first."""
    return _softmax(input, dim, dtype, True)


# ---------------------------------------------------------------- sort and friends


@_export
@_out.supports_out("sort", _out.SAME_EXPECTED)
def sort(input, dim=-1, descending=False, stable=False):
    """``torch.sort``: ``(values, indices)``; always stable; NaN sorts as the largest value."""
    if isinstance(dim, builtins.bool) and not isinstance(descending, builtins.bool):
        dim = -1
    return return_types.sort(*_C._sort(input, _dim_int(dim, "sort"), builtins.bool(descending)))


@_export
def argsort(input, dim=-1, descending=False, stable=False):
    """``torch.argsort``: the indices of :func:`sort`."""
    return _C._sort(input, _dim_int(dim, "argsort"), builtins.bool(descending))[1]


@_export
@_out.supports_out("msort", _out.SAME_EXPECTED)
def msort(input):
    """``torch.msort``: sort along dim 0."""
    return sort(input, 0).values


def _size_along(input, dim):
    d = _dims((dim,), input.dim())
    return (d[0] if d else 0), (input.shape[d[0]] if d else 1)


@_export
@_out.supports_out("topk", _out.SAME_EXPECTED)
def topk(input, k, dim=-1, largest=True, sorted=True):
    """``torch.topk``: the ``k`` largest (or smallest) values along ``dim`` and their indices."""
    k = _int_arg(k, "topk", "k")
    d, n = _size_along(input, _dim_int(dim, "topk"))
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    if input.dtype == _C.bool:
        raise NotImplementedError("topk does not support bool dtypes on CPU")
    v, i = _C._sort(input, dim, builtins.bool(largest))
    if input.dim() == 0:
        return return_types.topk(v, i)
    return return_types.topk(v.narrow(d, 0, k), i.narrow(d, 0, k).contiguous())


@_export
@_out.supports_out("kthvalue", _out.SAME_EXPECTED)
def kthvalue(input, k, dim=-1, keepdim=False):
    """``torch.kthvalue``: the k-th smallest value (1-based) along ``dim`` and its index."""
    k = _int_arg(k, "kthvalue", "k")
    d, n = _size_along(input, _dim_int(dim, "kthvalue"))
    if input.dim() and n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if k < 1 or k > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if input.dtype == _C.bool:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    if k < 1 or k > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    v, i = _C._sort(input, dim, False)
    if input.dim() == 0:
        return return_types.kthvalue(v, i)
    if keepdim:
        return return_types.kthvalue(v.narrow(d, k - 1, 1), i.narrow(d, k - 1, 1).contiguous())
    return return_types.kthvalue(v.select(d, k - 1), i.select(d, k - 1).contiguous())


@_export
@_out.supports_out("median", _out.SAME_EXPECTED)
def median(input, dim=_UNSET, keepdim=_UNSET):
    """``torch.median``: the lower median (NaN propagates). Without ``dim`` a 0-d value; with it
    ``(values, indices)``."""
    if dim is _UNSET:
        if keepdim is not _UNSET:
            raise TypeError('median() missing 1 required positional arguments: "dim"')
        dim = None
    else:
        dim = _dim_int(dim, "median")
        d = _dims((dim,), input.dim())  # IndexError before the dtype check, as in PyTorch
        if d and input.shape[d[0]] == 0:
            raise IndexError(f"median(): Expected reduction dim {d[0]} to have non-zero size.")
    keepdim = False if keepdim is _UNSET else keepdim
    if input.dtype == _C.bool and dim is None and input.numel() == 0:
        return _C._full([], True, _C.bool)  # (PyTorch's answer for an empty bool tensor)
    if input.dtype == _C.bool:
        raise NotImplementedError(f"\"median_{'cpu' if dim is None else 'out'}\" not implemented for 'Bool'")
    if dim is None:
        flat = input.reshape(-1)
        n = flat.numel()
        if n == 0:  # PyTorch: NaN, or the integer dtype's lowest value
            return _C._full([], math.nan if input.is_floating_point() else _INT_MIN[str(input.dtype)], input.dtype)
        v, _ = _C._sort(flat, 0, False)
        pos = (n - 1) // 2
        if input.is_floating_point():
            nan_count = builtins.int((flat != flat).sum().item())
            if nan_count:
                pos = n - nan_count
        return v.select(0, pos)
    d, n = _size_along(input, dim)
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    if input.dim() == 0:
        return return_types.median(input.clone(), _C._zeros([], _C.int64))
    v, i = _C._sort(input, d, False)
    pos = _C._full(list(_reduced_shape(input.shape, (d,), True)), (n - 1) // 2, _C.int64)
    if input.is_floating_point():
        nan_count = (input != input).sum(d, keepdim=True)
        pos = _C._where(nan_count > 0, n - nan_count, pos)
    vals = _C._gather_dim(v, pos, d)
    idx = _C._gather_dim(i, pos, d)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return return_types.median(vals, idx)


@_export
@_out.supports_out("mode", _out.SAME_EXPECTED)
def mode(input, dim=-1, keepdim=False):
    """``torch.mode``: the most frequent value along ``dim`` (smallest on ties) and its last index."""
    return return_types.mode(*_C._mode(input, dim, builtins.bool(keepdim)))


@_export
@_out.supports_out("nansum", _out.ANY)
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """``torch.nansum``: sum treating NaN as zero."""
    x = _cast(input, dtype)
    if x.is_floating_point():
        x = _C._where(x != x, 0.0, x)
    return _cast(x.sum(dim, keepdim=keepdim), dtype)


@_export
@_out.supports_out("nanmean", _out.CAST)
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """``torch.nanmean``: mean over the non-NaN elements."""
    x = _cast(input, dtype)
    if not x.is_floating_point():
        raise NotImplementedError(f"nanmean(): expected input to have floating point or complex dtype but got {_dname(x)}")
    ok = x == x
    return _C._where(ok, x, 0.0).sum(dim, keepdim=keepdim) / ok.sum(dim, keepdim=keepdim)


# ---------------------------------------------------------------- NaN / inf tests, closeness


@_export
def isnan(input):
    """``torch.isnan``: elementwise NaN test (False for integer tensors)."""
    return input != input


@_export
def isinf(input):
    """``torch.isinf``: elementwise +-inf test (False for integer tensors)."""
    if not input.is_floating_point():
        return input != input
    return input.abs() == math.inf


@_export
@_out.supports_out("isposinf", _out.BOOL_ONLY_POSINF)
def isposinf(input):
    """``torch.isposinf``."""
    return input == math.inf if input.is_floating_point() else input != input


@_export
@_out.supports_out("isneginf", _out.BOOL_ONLY_NEGINF)
def isneginf(input):
    """``torch.isneginf``."""
    return input == -math.inf if input.is_floating_point() else input != input


@_export
def isfinite(input):
    """``torch.isfinite``: not NaN and not infinite (True for integer tensors)."""
    if not input.is_floating_point():
        return input == input
    return (input == input).logical_and(input.abs() != math.inf)


@_export
def isreal(input):
    """``torch.isreal``: always True (no complex dtypes)."""
    return input == input if not input.is_floating_point() else (input == input).logical_or(input != input)


@_export
@_out.supports_out("nan_to_num", _out.SAME_NAN_TO_NUM)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """``torch.nan_to_num``: replace NaN, +inf and -inf (defaults: 0 and the dtype's extremes);
    integer and bool tensors come back as a copy. Gradients pass where the input was finite."""
    if not input.is_floating_point():
        r = input.clone()
    else:
        big = _FLOAT_MAX[str(input.dtype).replace("torch.", "")]
        posinf = big if posinf is None else posinf
        neginf = -big if neginf is None else neginf
        r = _C._where(input != input, builtins.float(nan), input)
        r = _C._where(r == math.inf, builtins.float(posinf), r)
        r = _C._where(r == -math.inf, builtins.float(neginf), r)
    return r


@_export
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``torch.isclose``: ``a == b``, or ``|a - b|`` finite and ``<= atol + rtol * |b|`` (so an
    infinity is close only to itself); NaNs are close to each other only with ``equal_nan``.
    Integer and bool inputs compare in the default float dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"isclose(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(other, Tensor):
        raise TypeError(f"isclose(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    a, b = input.detach(), other.detach()
    if a.dtype != b.dtype:
        raise RuntimeError(f"{_DTYPE_NAME[str(a.dtype)[6:]]} did not match {_DTYPE_NAME[str(b.dtype)[6:]]}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    close = a == b
    if equal_nan and a.is_floating_point():
        close = close.logical_or((a != a).logical_and(b != b))
    if rtol == 0 and atol == 0:
        return close
    if not a.is_floating_point():
        a, b = a.to(_C.float32), b.to(_C.float32)
    allowed = (b * rtol).abs() + atol
    actual = (a - b).abs()
    return close.logical_or(isfinite(actual).logical_and(actual <= allowed))


@_export
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``torch.allclose``: Python bool, True when every element is :func:`isclose`."""
    return builtins.bool(all(isclose(input, other, rtol, atol, equal_nan)).item())


@_export
def equal(input, other):
    """``torch.equal``: True when both tensors have the same shape and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return builtins.bool(all(input == other).item())


