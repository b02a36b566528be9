"""Math functions added for PyTorch parity: the native binary transcendental ops (atan2, hypot,
copysign, logaddexp, logaddexp2, xlogy) and bitwise ops with their ``Tensor`` methods, operators
and in-place forms, plus composites over existing primitives (cummax/cummin, diff,
searchsorted/bucketize, histc, lerp, einsum, ``Tensor.unfold``).

Composites stay differentiable where PyTorch's are: they are written in differentiable ops
(gather, narrow, where, permute/reshape/bmm), and only index computations go through NumPy.
"""

import builtins
import math

import numpy as np

from rustgrad import _out as _outmod
from rustgrad import _rustgrad as _C
from rustgrad._reduce import _rt, return_types
from rustgrad._rustgrad import Tensor

__all__ = []

_DTYPE_NAME = {"bool": "Bool", "uint8": "Byte", "int32": "Int", "int64": "Long", "float32": "Float",
               "float64": "Double"}


def _export(fn, name=None):
    name = name or fn.__name__
    globals()[name] = fn
    __all__.append(name)
    return fn


def _dname(dtype):
    """PyTorch's scalar-type name of a dtype (``Float``, ``Long`` ...)."""
    return _DTYPE_NAME[str(dtype).replace("torch.", "")]


def _inplace(self, r):
    """Write ``r`` into ``self`` with PyTorch's in-place rule: the result dtype must be castable."""
    if r.is_floating_point() and not self.is_floating_point():
        raise RuntimeError(f"result type {_dname(r.dtype)} can't be cast to the desired output type "
                           f"{_dname(self.dtype)}")
    if r.dtype is not _C.bool and self.dtype is _C.bool:
        raise RuntimeError(f"result type {_dname(r.dtype)} can't be cast to the desired output type Bool")
    return self.copy_(r)


def _need_tensor(fn, x, position, what):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{what}' (position {position}) must be Tensor, not {type(x).__name__}")


# ---------------------------------------------------------------- native binary math

def _tensor_only_binary(name, doc):
    """``torch.<name>(input, other)`` where both operands must be tensors (atan2, hypot, ...)."""

    def fn(input, other, *, out=None):
        _need_tensor(name, input, 1, "input")
        _need_tensor(name, other, 2, "other")
        return _outmod.finish(name, out, _C._binary(name, input, other))

    def method(self, other):
        _need_tensor(name, other, 1, "other")
        return _C._binary(name, self, other)

    fn.__name__ = method.__name__ = name
    fn.__doc__ = method.__doc__ = doc
    return fn, method


_BINARY_DOCS = {
    "atan2": "``torch.atan2(input, other)``: the angle of the point (other, input), in radians. Integer inputs "
             "compute in the default float dtype.",
    "hypot": "``torch.hypot(input, other)``: sqrt(input^2 + other^2) without overflow (float dtypes only).",
    "logaddexp": "``torch.logaddexp(input, other)``: log(exp(input) + exp(other)) computed stably.",
    "logaddexp2": "``torch.logaddexp2(input, other)``: log2(2^input + 2^other) computed stably.",
}

#: ``Tensor.<name>`` methods of the tensor-only binary ops (installed by ``rustgrad._tensor_methods``).
BINARY_METHODS = {}
for _name, _doc in _BINARY_DOCS.items():
    _f, BINARY_METHODS[_name] = _tensor_only_binary(_name, _doc)
    _export(_f)
arctan2 = _export(globals()["atan2"], "arctan2")


@_export
def copysign(input, other, *, out=None):
    """``torch.copysign(input, other)``: |input| with the sign of ``other`` (a tensor or a number)."""
    _need_tensor("copysign", input, 1, "input")
    return _outmod.finish("copysign", out, _C._binary("copysign", input, other))


@_export
def xlogy(input, other, *, out=None):
    """``torch.xlogy(input, other)``: input * log(other), 0 where input == 0 (unless other is NaN)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return _outmod.finish("xlogy", out, _C._binary("xlogy", input, other))


# ---------------------------------------------------------------- bitwise ops

def _bitwise_fn(op, name):
    def fn(input, other, *, out=None):
        return _outmod.finish(name, out, _C._bitwise(op, input, other))

    fn.__name__ = name
    fn.__doc__ = f"``torch.{name}(input, other)`` on integer and bool tensors (either side may be a number)."
    return fn


#: The native bitwise ops: (``_C._bitwise`` op, PyTorch name, operator dunder stem).
BITWISE_OPS = (("and", "bitwise_and", "and"), ("or", "bitwise_or", "or"), ("xor", "bitwise_xor", "xor"),
               ("left_shift", "bitwise_left_shift", "lshift"), ("right_shift", "bitwise_right_shift", "rshift"))
for _op, _name, _ in BITWISE_OPS:
    _export(_bitwise_fn(_op, _name))


@_export
def bitwise_not(input, *, out=None):
    """``torch.bitwise_not``: ``~x`` on integers, logical not on bool."""
    return _outmod.finish("bitwise_not", out, _C._bitwise_not(input))


# ---------------------------------------------------------------- lerp

def _cname(dt):
    """The C++ type name PyTorch's lerp messages use (``float``, ``double``)."""
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "uint8": "unsigned char",
            "bool": "bool"}[str(dt).replace("torch.", "")]


@_export
def lerp(input, end, weight, *, out=None):
    """``torch.lerp(input, end, weight)``: input + weight * (end - input), with a scalar or tensor weight.

    Uses PyTorch's two-sided form (``end - (end - input) * (1 - weight)`` for weight >= 0.5) so the
    end points are reproduced exactly.
    """
    if not input.is_floating_point():
        raise NotImplementedError(f"\"lerp_kernel_{'tensor' if isinstance(weight, Tensor) else 'scalar'}\" "
                                  f"not implemented for '{_dname(input.dtype)}'")
    if end.dtype is not input.dtype:
        raise RuntimeError(f"expected dtype {_cname(input.dtype)} for `end` but got dtype {_cname(end.dtype)}")
    diff = end - input
    if isinstance(weight, Tensor):
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {_cname(input.dtype)} for `weight` but got dtype {_cname(weight.dtype)}")
        low = weight.abs() < 0.5
        r = _C._where(low, input + weight * diff, end - diff * (1 - weight))
    elif builtins.abs(weight) < 0.5:
        r = input + diff * weight
    else:
        r = end - diff * (1 - weight)
    return _outmod.finish("lerp", out, r)


# ---------------------------------------------------------------- cummax / cummin

return_types.cummax = _rt("cummax", ["values", "indices"])
return_types.cummin = _rt("cummin", ["values", "indices"])


def _cum_ext(input, dim, largest):
    name = "cummax" if largest else "cummin"
    nd = input.ndim
    if nd == 0:
        if dim not in (0, -1):
            raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got {dim})")
        idx = _C.tensor(0)._to_device(input.device)
        return getattr(return_types, name)(input.clone(), idx)
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    d = dim % nd
    a = np.moveaxis(input.detach().cpu().numpy(), d, -1)
    idx = np.zeros(a.shape, np.int64)
    if a.shape[-1]:
        better = np.greater_equal if largest else np.less_equal
        run = a[..., 0].copy()
        cur = np.zeros(a.shape[:-1], np.int64)
        floating = a.dtype.kind == "f"
        for i in builtins.range(1, a.shape[-1]):
            v = a[..., i]
            with np.errstate(invalid="ignore"):
                # PyTorch's rule: a NaN always takes over, and once the running value is NaN it stays.
                take = (np.isnan(v) | (~np.isnan(run) & better(v, run))) if floating else better(v, run)
            run = np.where(take, v, run)
            cur = np.where(take, i, cur)
            idx[..., i] = cur
    indices = _C.from_numpy(np.ascontiguousarray(np.moveaxis(idx, -1, d)))._to_device(input.device)
    return getattr(return_types, name)(input.gather(d, indices), indices)


@_export
def cummax(input, dim):
    """``torch.cummax(input, dim)``: running maximum and the index where it was reached (the latest on
    ties; NaN propagates). The values are differentiable (the gradient goes to those indices)."""
    return _cum_ext(input, dim, True)


@_export
def cummin(input, dim):
    """``torch.cummin(input, dim)``: running minimum and its indices (see :func:`cummax`)."""
    return _cum_ext(input, dim, False)




# ---------------------------------------------------------------- diff

@_export
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """``torch.diff``: the n-th forward difference along ``dim`` (logical xor for bool), after
    concatenating ``prepend`` / ``append`` along that dim."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for what, t in (("prepend", prepend), ("append", append)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"diff(): argument '{what}' must be Tensor, not {type(t).__name__}")
        if t is not None and t.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    d = dim % input.ndim if -input.ndim <= dim < input.ndim else dim
    if not 0 <= d < input.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], "
                         f"but got {dim})")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = _C._cat(parts, d) if len(parts) > 1 else input
    for _ in builtins.range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = _C._logical("xor", hi, lo) if x.dtype is _C.bool else hi - lo
    return x




# ---------------------------------------------------------------- searchsorted / bucketize

def _np_of(x):
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


@_export
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """``torch.searchsorted``: insertion indices of ``input`` into the innermost dim of
    ``sorted_sequence`` (1-D, or matching ``input``'s leading dims); ``right``/``side`` pick the
    side on ties, ``sorter`` gives the order of an unsorted sequence."""
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                           "while right was True")
    sd = "right" if (right or side == "right") else "left"
    s = _np_of(sorted_sequence)
    scalar_input = not isinstance(input, Tensor)
    v = _np_of(input)
    if s.ndim > 1 and (v.ndim != s.ndim or s.shape[:-1] != v.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           "dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(s.shape)} and input value tensor {list(v.shape)}")
    if sorter is not None:
        srt = _np_of(sorter)
        if srt.shape != s.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got "
                               f"boundary tensor {list(s.shape)}and got sorter tensor {list(srt.shape)}")
        s = np.take_along_axis(s, srt.astype(np.int64), axis=-1)
    if s.ndim <= 1:
        r = np.searchsorted(s.reshape(-1), v, side=sd)
    else:
        flat_s = s.reshape(-1, s.shape[-1])
        flat_v = v.reshape(-1, v.shape[-1])
        r = np.stack([np.searchsorted(flat_s[i], flat_v[i], side=sd) for i in builtins.range(len(flat_s))])
        r = r.reshape(v.shape)
    r = _C.from_numpy(np.ascontiguousarray(np.asarray(r).astype(np.int32 if out_int32 else np.int64)))
    if scalar_input:
        r = r.reshape(())
    dev = sorted_sequence.device if isinstance(sorted_sequence, Tensor) else None
    if dev is not None and dev.type != "cpu":
        r = r._to_device(dev)
    return _outmod.finish("searchsorted", out, r, _outmod.INDEX_INT)


@_export
def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """``torch.bucketize``: the bucket of each element of ``input`` given 1-D ``boundaries``
    (``right=False``: boundaries[i-1] < x <= boundaries[i])."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


# (PyTorch has no Tensor.bucketize / Tensor.searchsorted methods.)


# ---------------------------------------------------------------- histc

@_export
def histc(input, bins=100, min=0, max=0, *, out=None):
    """``torch.histc``: counts in ``bins`` equal-width bins over [min, max] (the data's range when
    min == max); elements outside are ignored, max itself falls in the last bin."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_dname(input.dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    a = input.detach().cpu().numpy().reshape(-1)
    ftype = a.dtype.type
    lo, hi = ftype(min), ftype(max)
    if lo == hi and a.size:
        lo, hi = a.min(), a.max()
    if lo == hi:
        lo, hi = lo - ftype(1), hi + ftype(1)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        def fmt(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else f"{v:g}"
        raise RuntimeError(f"torch.histc: range of [{fmt(lo)}, {fmt(hi)}] is not finite")
    inside = a[(a >= lo) & (a <= hi)]
    pos = ((inside - lo) * ftype(bins) / (hi - lo)).astype(np.int64)
    pos = np.minimum(pos, bins - 1)
    counts = np.bincount(pos, minlength=bins).astype(a.dtype)
    r = _C.from_numpy(np.ascontiguousarray(counts))._to_device(input.device)
    return _outmod.finish("histc", out, r)


# ---------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sublist_equation(args):
    """The equation string of einsum's sublist form ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``."""
    def term(sub):
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, builtins.int) and 0 <= s < 52:
                out.append(_LETTERS[s])
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid range [0, 52), got {s}")
        return "".join(out)

    ops, terms = list(args[0::2]), [term(s) for s in args[1::2]]
    out = None
    if len(args) % 2 == 1:
        out = term(args[-1])
        ops = ops[:-1]
    eq = ",".join(terms) + ("->" + out if out is not None else "")
    return eq, ops


def _parse_term(term, eq, offset, ndim, i, n_ell):
    """Labels of one operand term; ellipsis dims become ('...', k) labels aligned from the right."""
    labels, j = [], 0
    while j < len(term):
        if term.startswith("...", j):
            if any(isinstance(lab, tuple) for lab in labels):
                raise RuntimeError("einsum(): found '.' for operand " f"{i} for which an ellipsis was already found")
            labels.append("...")
            j += 3
            continue
        c = term[j]
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {offset + j} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
        labels.append(c)
        j += 1
    if "..." in labels:
        k = labels.index("...")
        n_dims = ndim - (len(labels) - 1)
        if n_dims < 0:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(labels) - 1}) is more than "
                               f"the number of dimensions ({ndim}) for operand {i}")
        labels[k:k + 1] = [("...", n_ell - n_dims + t) for t in builtins.range(n_dims)]
    elif len(labels) != ndim:
        raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(labels)}) does not match the "
                           f"number of dimensions ({ndim}) for operand {i} and no ellipsis was given")
    return labels


def _take_diagonals(x, labels, i):
    """Repeated labels within one operand select its diagonal (``ii->i``)."""
    while True:
        seen = {}
        for p, lab in enumerate(labels):
            if lab in seen:
                q0 = seen[lab]
                if x.shape[q0] != x.shape[p]:
                    raise RuntimeError(f"einsum(): subscript {lab} is repeated for operand {i} but the sizes don't "
                                       f"match, {x.shape[p]} != {x.shape[q0]}")
                x = x.diagonal(0, q0, p)
                labels = [lab2 for t, lab2 in enumerate(labels) if t not in (q0, p)] + [lab]
                break
            seen[lab] = p
        else:
            return x, labels


def _sum_labels(x, labels, drop):
    dims = [p for p, lab in enumerate(labels) if lab in drop]
    if dims:
        x = x.sum(dims)
        labels = [lab for lab in labels if lab not in drop]
    return x, labels


def _contract(x, xl, y, yl, keep):
    """Contract two labelled operands with one bmm, keeping the labels in ``keep``."""
    shared = [lab for lab in xl if lab in yl]
    batch = [lab for lab in shared if lab in keep]
    red = [lab for lab in shared if lab not in keep]
    xo = [lab for lab in xl if lab not in shared]
    yo = [lab for lab in yl if lab not in shared]
    size = {}
    for t, ls in ((x, xl), (y, yl)):
        for p, lab in enumerate(ls):
            size[lab] = builtins.max(size.get(lab, 1), t.shape[p])

    def arrange(t, ls, order):
        t = t.permute(*[ls.index(lab) for lab in order]) if order != ls else t
        want = [size[lab] if lab in batch or lab in red else t.shape[k] for k, lab in enumerate(order)]
        if list(t.shape) != want:
            t = t.expand(*want)
        return t

    prod = math.prod
    xb = arrange(x, xl, batch + xo + red).reshape(prod(size[lab] for lab in batch), prod(size[lab] for lab in xo),
                                                  prod(size[lab] for lab in red))
    yb = arrange(y, yl, batch + red + yo).reshape(prod(size[lab] for lab in batch), prod(size[lab] for lab in red),
                                                  prod(size[lab] for lab in yo))
    r = xb.bmm(yb)
    out_l = batch + xo + yo
    return r.reshape(*[size[lab] for lab in out_l]), out_l


@_export
def einsum(*args):
    """``torch.einsum(equation, *operands)``: Einstein summation with PyTorch's rules (implicit output in
    sorted label order, ``...`` broadcasting, repeated labels as diagonals, the sublist form).
    Pairs of operands contract left to right through one ``bmm`` each."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        eq = args[0]
        ops = list(args[1:])
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = list(ops[0])
    else:
        eq, ops = _sublist_equation(args)
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(ops):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(ops):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    n_ell = 0
    for term, op in zip(terms, ops):
        if "..." in term:
            n_ell = builtins.max(n_ell, op.ndim - (len(term.replace("...", ""))))
    labelled, offset = [], 0
    for i, (term, op) in enumerate(zip(terms, ops)):
        labelled.append(_parse_term(term, eq, offset, op.ndim, i, n_ell))
        offset += len(term) + 1
    # Label sizes must agree or broadcast (size 1).
    sizes = {}
    for i, (labels, op) in enumerate(zip(labelled, ops)):
        for p, lab in enumerate(labels):
            s = op.shape[p]
            if lab in sizes and sizes[lab] != s and s != 1 and sizes[lab] != 1 and lab not in labels[:p]:
                name = "..." if isinstance(lab, tuple) else lab
                raise RuntimeError(f"einsum(): subscript {name} has size {s} for operand {i} which does not "
                                   f"broadcast with previously seen size {sizes[lab]}")
            if lab not in labels[:p]:
                sizes[lab] = builtins.max(sizes.get(lab, 1), s)
    ell = [("...", k) for k in builtins.range(n_ell)]
    if arrow:
        out, j = [], 0
        off = len(lhs) + 2
        while j < len(rhs):
            if rhs.startswith("...", j):
                out.extend(ell)
                j += 3
                continue
            c = rhs[j]
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index {off + j} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            if c in out:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if not any(c in labels for labels in labelled):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
            out.append(c)
            j += 1
    else:
        counts = {}
        for labels in labelled:
            for lab in labels:
                if not isinstance(lab, tuple):
                    counts[lab] = counts.get(lab, 0) + 1
        # PyTorch orders implicit output labels A-Z before a-z.
        out = ell + sorted((lab for lab, c in counts.items() if c == 1), key=lambda c: (c.islower(), c))

    # Per operand: diagonals, then sum away labels no one else needs.
    items = []
    for i, (op, labels) in enumerate(zip(ops, labelled)):
        x, labels = _take_diagonals(op, labels, i)
        items.append([x, labels])
    for i, (x, labels) in enumerate(items):
        others = set(out)
        for j, (_, lj) in enumerate(items):
            if j != i:
                others.update(lj)
        items[i] = list(_sum_labels(x, labels, {lab for lab in labels if lab not in others}))
    x, xl = items[0]
    for k in builtins.range(1, len(items)):
        y, yl = items[k]
        keep = set(out)
        for _, lj in items[k + 1:]:
            keep.update(lj)
        x, xl = _sum_labels(x, xl, {lab for lab in xl if lab not in keep and lab not in yl})
        y, yl = _sum_labels(y, yl, {lab for lab in yl if lab not in keep and lab not in xl})
        x, xl = _contract(x, xl, y, yl, keep)
    x, xl = _sum_labels(x, xl, {lab for lab in xl if lab not in out})
    # Output labels that were size 1 everywhere they appeared broadcast to the seen size.
    if xl != out:
        x = x.permute(*[xl.index(lab) for lab in out])
    want = [sizes[lab] for lab in out]
    if list(x.shape) != want:
        x = x.expand(*want)
    return x
