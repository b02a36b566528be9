"""ONNX rules for the tensor operations a forward pass calls directly (methods, ``rustgrad.*`` and
``rustgrad.nn.functional.*``). Each rule is ``rule(graph, out, *args, **kwargs) -> name(s)``:
``out`` is rustgrad's real result (already computed), the arguments are the call's own."""

import math

import numpy as np

from rustgrad.onnx.errors import UnsupportedOperatorError

_INT64_MAX = 2**63 - 1


def _dim(d, ndim):
    return d + ndim if d < 0 else d


def _shape_of(t):
    return [int(s) for s in t.shape]


def _target_shape(g, x, out):
    """A Reshape target for ``out`` that keeps a dynamic batch: dim 0 copies the input's dim 0
    (``0``) when the sizes agree and is inferred (``-1``) otherwise; the rest are constants."""
    shape = _shape_of(out)
    if not shape:
        return shape
    xs = _shape_of(x)
    if xs and shape[0] == xs[0]:
        return [0] + shape[1:]
    return [-1] + shape[1:]


# -- element-wise ------------------------------------------------------------------------------
def _binary(op_type, reverse=False):
    def rule(g, out, a, b, alpha=1):
        # Compute in the result's dtype (rustgrad promoted: int tensor * 0.5 is float): tensors of
        # another dtype are cast, Python numbers become constants of that dtype.
        dt = out.detach().numpy().dtype
        x, y = _operand(g, a, dt), _operand(g, b, dt)
        if alpha != 1:  # add/sub's scale of the second operand
            y = g.op("Mul", [y, g.const(np.array(alpha, dt))])
        if reverse:
            x, y = y, x
        return g.op(op_type, [x, y])

    return rule


def _operand(g, v, dt):
    from rustgrad.onnx._graph import onnx_dtype

    if hasattr(v, "shape"):
        name = g.value(v)
        if v.detach().numpy().dtype != dt:
            name = g.op("Cast", [name], to=onnx_dtype(dt))
        return name
    return g.const(np.array(v, dtype=dt))


def _unary(op_type):
    def rule(g, out, x, *args, **kwargs):
        return g.op(op_type, [g.value(x)])

    return rule


def _pow(g, out, x, e):
    return g.op("Pow", [g.value(x), g.value(e, like=x)])


def _rpow(g, out, x, base):
    return g.op("Pow", [g.value(base, like=x), g.value(x)])


def _rsqrt(g, out, x):
    return g.op("Reciprocal", [g.op("Sqrt", [g.value(x)])])


def _square(g, out, x):
    v = g.value(x)
    return g.op("Mul", [v, v])


def _clamp(g, out, x, min=None, max=None):
    lo = g.value(min, like=x) if min is not None else ""
    hi = g.value(max, like=x) if max is not None else ""
    return g.op("Clip", [g.value(x), lo, hi])


def _masked_fill(g, out, x, mask, value):
    return g.op("Where", [g.value(mask), g.value(value, like=x), g.value(x)])


def _where(g, out, cond, x=None, y=None):
    if x is None:
        raise UnsupportedOperatorError("aten::where (one-argument form)", g.opset)
    like = x if hasattr(x, "shape") else y
    return g.op("Where", [g.value(cond), g.value(x, like=like), g.value(y, like=like)])


def _compare(op_type):
    def rule(g, out, a, b):
        like = a if hasattr(a, "shape") else b
        return g.op(op_type, [g.value(a, like=like), g.value(b, like=like)])

    return rule


def _to(g, out, x, *args, **kwargs):
    # .to(dtype) / .to(device) / .cpu() / .type(dtype): a Cast where the dtype changes.
    if out is x:
        return g.value(x)
    if out.detach().numpy().dtype != x.detach().numpy().dtype:
        return _cast(g, out, x)
    return g.op("Identity", [g.value(x)])


def _identity(g, out, x, *args, **kwargs):
    return g.op("Identity", [g.value(x)])


def _cast(g, out, x, *args, **kwargs):
    from rustgrad.onnx._graph import onnx_dtype

    return g.op("Cast", [g.value(x)], to=onnx_dtype(out.detach().numpy().dtype))


# -- activations ----------------------------------------------------------------------------------
def _relu(g, out, x, inplace=False):
    return g.op("Relu", [g.value(x)])


def gelu_on(g, v, dt, approximate="none"):
    """GELU of the ONNX value ``v`` (dtype ``dt``), exact (erf) or tanh-approximated."""
    if approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.op("Mul", [g.op("Mul", [v, v]), v])
        inner = g.op("Add", [v, g.op("Mul", [x3, g.const(np.array(0.044715, dt))])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const(np.array(math.sqrt(2 / math.pi), dt))])])
    else:
        # 0.5 x (1 + erf(x / sqrt 2))
        t = g.op("Erf", [g.op("Div", [v, g.const(np.array(math.sqrt(2.0), dt))])])
    one = g.op("Add", [t, g.const(np.array(1.0, dt))])
    return g.op("Mul", [g.op("Mul", [v, one]), g.const(np.array(0.5, dt))])


def _gelu(g, out, x, approximate="none"):
    return gelu_on(g, g.value(x), x.detach().numpy().dtype, approximate)


def _silu(g, out, x, inplace=False):
    v = g.value(x)
    return g.op("Mul", [v, g.op("Sigmoid", [v])])


def _leaky_relu(g, out, x, negative_slope=0.01, inplace=False):
    return g.op("LeakyRelu", [g.value(x)], alpha=float(negative_slope))


def _elu(g, out, x, alpha=1.0, inplace=False):
    return g.op("Elu", [g.value(x)], alpha=float(alpha))


def _softmax_rule(op_type):
    def rule(g, out, x, dim=None, *args, **kwargs):
        if dim is None:
            raise UnsupportedOperatorError(f"aten::{op_type.lower()} without dim", g.opset)
        return g.op(op_type, [g.value(x)], axis=_dim(int(dim), x.dim()))

    return rule


def _dropout(g, out, x, p=0.5, training=True, inplace=False):
    if training and p > 0:
        raise UnsupportedOperatorError("aten::dropout (training=True)", g.opset, "export in eval mode")
    return g.op("Identity", [g.value(x)])


def _linear(g, out, x, weight, bias=None):
    return g.linear(g.value(x), weight, bias)


# -- shapes -------------------------------------------------------------------------------------
def _reshape(g, out, x, *shape, **kw):
    return g.op("Reshape", [g.value(x), g.ints(_target_shape(g, x, out))])


def _view_as(g, out, x, other):
    return _reshape(g, out, x)


def _flatten(g, out, x, start_dim=0, end_dim=-1):
    nd = x.dim()
    s, e = _dim(start_dim, nd), _dim(end_dim, nd)
    if nd >= 2 and s == 1 and e == nd - 1:
        return g.op("Flatten", [g.value(x)], axis=1)
    return _reshape(g, out, x)


def _permute(g, out, x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return g.transpose(g.value(x), [_dim(int(d), x.dim()) for d in dims])


def _transpose(g, out, x, d0, d1):
    nd = x.dim()
    perm = list(range(nd))
    a, b = _dim(d0, nd), _dim(d1, nd)
    perm[a], perm[b] = perm[b], perm[a]
    return g.transpose(g.value(x), perm)


def _t(g, out, x):
    if x.dim() < 2:
        return g.op("Identity", [g.value(x)])
    return g.transpose(g.value(x), [1, 0])


def _unsqueeze(g, out, x, dim):
    return g.unsqueeze(g.value(x), [_dim(int(dim), x.dim() + 1)])


def _squeeze(g, out, x, dim=None):
    shape = _shape_of(x)
    if dim is None:
        axes = [i for i, s in enumerate(shape) if s == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        axes = [_dim(int(d), len(shape)) for d in dims if shape[_dim(int(d), len(shape))] == 1]
    if not axes:
        return g.op("Identity", [g.value(x)])
    return g.squeeze(g.value(x), axes)


def _expand(g, out, x, *sizes):
    return g.op("Expand", [g.value(x), g.ints(_shape_of(out))])


def _cat(g, out, tensors, dim=0, **kw):
    dim = kw.get("axis", dim)
    nd = out.dim()
    return g.op("Concat", [g.value(t) for t in tensors], axis=_dim(int(dim), nd))


def _stack(g, out, tensors, dim=0):
    nd = out.dim()
    d = _dim(int(dim), nd)
    return g.op("Concat", [g.unsqueeze(g.value(t), [d]) for t in tensors], axis=d)


def _split_rule(g, out, x, *args, **kw):
    dim = kw.get("dim", args[1] if len(args) > 1 else 0)
    d = _dim(int(dim), x.dim())
    sizes = [int(o.shape[d]) for o in out]
    names = g.split(g.value(x), sizes, d)
    return [names] if len(sizes) == 1 else list(names)


def _getitem(g, out, x, index):
    if not isinstance(index, tuple):
        index = (index,)
    if any(hasattr(i, "shape") or isinstance(i, (list, bool)) for i in index):
        raise UnsupportedOperatorError("aten::index (tensor or list indexing)", g.opset)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (x.dim() - n_real) + index[k + 1 :]
    v = g.value(x)
    axis = 0
    shape = _shape_of(x)
    src = 0  # which input dim ``axis`` corresponds to
    for i in index:
        if i is None:
            v = g.unsqueeze(v, [axis])
            axis += 1
        elif isinstance(i, int):
            n = shape[src]
            v = g.op("Gather", [v, g.const(np.array(i + n if i < 0 else i, np.int64), "index")], axis=axis)
            src += 1
        elif isinstance(i, slice):
            start, stop, step = i.start, i.stop, i.step
            if step is not None and step <= 0:
                raise UnsupportedOperatorError("aten::slice with a non-positive step", g.opset)
            if not (start in (None, 0) and stop is None and step in (None, 1)):
                v = g.op(
                    "Slice",
                    [
                        v,
                        g.ints([start or 0], "starts"),
                        g.ints([_INT64_MAX if stop is None else stop], "ends"),
                        g.ints([axis], "axes"),
                        g.ints([step or 1], "steps"),
                    ],
                )
            axis += 1
            src += 1
        else:
            raise UnsupportedOperatorError(f"aten::index ({type(i).__name__} index)", g.opset)
    return v


# -- reductions and products ------------------------------------------------------------------------
def _reduce_rule(op_type):
    def rule(g, out, x, dim=None, keepdim=False, *args, **kw):
        dim = kw.get("axis", dim)
        keepdim = kw.get("keepdims", keepdim)
        if isinstance(dim, int):
            dim = [dim]
        axes = None if dim is None or len(dim) == 0 else [_dim(int(d), x.dim()) for d in dim]
        if axes is None:
            axes = list(range(x.dim()))
        return g.reduce(op_type, g.value(x), axes, keepdim)

    return rule


def _matmul(g, out, a, b):
    return g.op("MatMul", [g.value(a), g.value(b)])


def _arg_reduce(op_type):
    def rule(g, out, x, dim=None, keepdim=False):
        v = g.value(x)
        if dim is None:  # over the flattened tensor
            return g.squeeze(g.op(op_type, [g.reshape(v, [-1])], axis=0, keepdims=1), [0])
        return g.op(op_type, [v], axis=_dim(int(dim), x.dim()), keepdims=int(bool(keepdim)))

    return rule


def _max_min(reduce_op, arg_op):
    def rule(g, out, x, dim=None, keepdim=False):
        if hasattr(dim, "shape"):  # max(a, b): element-wise
            return g.op("Max" if reduce_op == "ReduceMax" else "Min", [g.value(x), g.value(dim)])
        v = g.value(x)
        if dim is None:
            return g.reduce(reduce_op, v, list(range(x.dim())), False)
        d = _dim(int(dim), x.dim())
        return [g.reduce(reduce_op, v, [d], keepdim), g.op(arg_op, [v], axis=d, keepdims=int(bool(keepdim)))]

    return rule


def _elementwise2(op_type):
    def rule(g, out, a, b):
        return g.op(op_type, [g.value(a), g.value(b, like=a)])

    return rule


def _var_std(std):
    def rule(g, out, x, dim=None, unbiased=None, keepdim=False, *, correction=None):
        if isinstance(unbiased, (int, tuple, list)) and not isinstance(unbiased, bool):
            dim, unbiased = unbiased, None  # var(dim) positional in the old signature order
        corr = correction if correction is not None else (0 if unbiased is False else 1)
        axes = list(range(x.dim())) if dim is None else [_dim(int(d), x.dim()) for d in ([dim] if isinstance(dim, int) else dim)]
        n = 1
        for a in axes:
            n *= int(x.shape[a])
        dt = x.detach().numpy().dtype
        v = g.value(x)
        c = g.op("Sub", [v, g.reduce("ReduceMean", v, axes, True)])
        ss = g.reduce("ReduceSum", g.op("Mul", [c, c]), axes, keepdim)
        r = g.op("Div", [ss, g.const(np.array(max(n - corr, 0), dt))])
        return g.op("Sqrt", [r]) if std else r

    return rule


def _narrow(g, out, x, dim, start, length):
    d = _dim(int(dim), x.dim())
    s0 = int(start) + (int(x.shape[d]) if int(start) < 0 else 0)
    return g.op("Slice", [g.value(x), g.ints([s0], "starts"), g.ints([s0 + int(length)], "ends"), g.ints([d], "axes")])


def _select(g, out, x, dim, index):
    d = _dim(int(dim), x.dim())
    i = int(index) + (int(x.shape[d]) if int(index) < 0 else 0)
    return g.op("Gather", [g.value(x), g.const(np.array(i, np.int64), "index")], axis=d)


def _index_select(g, out, x, dim, index):
    return g.op("Gather", [g.value(x), g.value(index)], axis=_dim(int(dim), x.dim()))


def _gather(g, out, x, dim, index, sparse_grad=False):
    return g.op("GatherElements", [g.value(x), g.value(index)], axis=_dim(int(dim), x.dim()))


def _repeat(g, out, x, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = [int(s) for s in sizes]
    v = g.value(x)
    extra = len(sizes) - x.dim()
    if extra > 0:
        v = g.reshape(v, [1] * extra + _shape_of(x))
    elif extra < 0:  # tile: fewer reps than dims pads the reps with ones in front
        sizes = [1] * (-extra) + sizes
    return g.op("Tile", [v, g.ints(sizes, "repeats")])


def _unbind(g, out, x, dim=0):
    d = _dim(int(dim), x.dim())
    n = int(x.shape[d])
    parts = g.split(g.value(x), [1] * n, d) if n > 1 else [g.value(x)]
    return [g.squeeze(p, [d]) for p in parts]


def _pad(g, out, x, pad, mode="constant", value=None):
    pad = [int(p) for p in pad]
    nd = x.dim()
    begins, ends = [0] * nd, [0] * nd
    for i in range(len(pad) // 2):  # pairs run from the last dim backwards
        begins[nd - 1 - i], ends[nd - 1 - i] = pad[2 * i], pad[2 * i + 1]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if onnx_mode is None or (onnx_mode == "wrap" and g.opset < 19):
        raise UnsupportedOperatorError(f"aten::pad (mode={mode!r})", g.opset)
    inputs = [g.value(x), g.ints(begins + ends, "pads")]
    if mode == "constant":
        inputs.append(g.value(float(value or 0.0), like=x))
    return g.op("Pad", inputs, mode=onnx_mode)


def _interpolate(g, out, x, size=None, scale_factor=None, mode="nearest", align_corners=None, *args, **kwargs):
    out_sizes = [int(s) for s in out.shape[2:]]
    in_sizes = [int(s) for s in x.shape[2:]]
    scales = [o / i for o, i in zip(out_sizes, in_sizes)]
    if scale_factor is not None and not kwargs.get("recompute_scale_factor"):
        sf = scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * len(in_sizes)
        scales = [float(s) for s in sf]
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif mode in ("linear", "bilinear", "trilinear"):
        ctm = "align_corners" if align_corners else "pytorch_half_pixel"
        attrs = dict(mode="linear", coordinate_transformation_mode=ctm)
    else:
        raise UnsupportedOperatorError(f"aten::upsample (mode={mode!r})", g.opset)
    sizes = g.ints(_shape_of(out), "sizes")
    if mode == "nearest" and scale_factor is not None:
        # PyTorch's nearest uses the given scale (src = floor(dst / scale)), not in/out sizes.
        dt = np.float32
        return g.op("Resize", [g.value(x), "", g.const(np.array([1.0, 1.0] + scales, dt), "scales")], **attrs)
    return g.op("Resize", [g.value(x), "", "", sizes], **attrs)


TENSOR_METHODS = {
    "__add__": _binary("Add"),
    "__radd__": _binary("Add", reverse=True),
    "add": _binary("Add"),
    "__sub__": _binary("Sub"),
    "__rsub__": _binary("Sub", reverse=True),
    "sub": _binary("Sub"),
    "__mul__": _binary("Mul"),
    "__rmul__": _binary("Mul", reverse=True),
    "mul": _binary("Mul"),
    "__truediv__": _binary("Div"),
    "__rtruediv__": _binary("Div", reverse=True),
    "div": _binary("Div"),
    "__matmul__": _matmul,
    "__rmatmul__": lambda g, out, a, b: _matmul(g, out, b, a),
    "matmul": _matmul,
    "mm": _matmul,
    "bmm": _matmul,
    "__neg__": _unary("Neg"),
    "neg": _unary("Neg"),
    "__pow__": _pow,
    "pow": _pow,
    "__rpow__": _rpow,
    "__getitem__": _getitem,
    "abs": _unary("Abs"),
    "exp": _unary("Exp"),
    "log": _unary("Log"),
    "sqrt": _unary("Sqrt"),
    "rsqrt": _rsqrt,
    "square": _square,
    "reciprocal": _unary("Reciprocal"),
    "sin": _unary("Sin"),
    "cos": _unary("Cos"),
    "erf": _unary("Erf"),
    "floor": _unary("Floor"),
    "ceil": _unary("Ceil"),
    "relu": _relu,
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "softmax": _softmax_rule("Softmax"),
    "log_softmax": _softmax_rule("LogSoftmax"),
    "clamp": _clamp,
    "clip": _clamp,
    "masked_fill": _masked_fill,
    "view": _reshape,
    "reshape": _reshape,
    "view_as": _view_as,
    "reshape_as": _view_as,
    "flatten": _flatten,
    "permute": _permute,
    "transpose": _transpose,
    "swapaxes": _transpose,
    "swapdims": _transpose,
    "t": _t,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "expand": _expand,
    "expand_as": _expand,
    "__lt__": _compare("Less"),
    "__gt__": _compare("Greater"),
    "__le__": _compare("LessOrEqual"),
    "__ge__": _compare("GreaterOrEqual"),
    "__eq__": _compare("Equal"),
    "lt": _compare("Less"),
    "gt": _compare("Greater"),
    "le": _compare("LessOrEqual"),
    "ge": _compare("GreaterOrEqual"),
    "eq": _compare("Equal"),
    "__invert__": _unary("Not"),
    "logical_not": _unary("Not"),
    "to": _to,
    "cpu": _to,
    "type": _to,
    "contiguous": _identity,
    "clone": _identity,
    "detach": _identity,
    "float": _cast,
    "double": _cast,
    "long": _cast,
    "int": _cast,
    "bool": _cast,
    "type_as": _cast,
    "chunk": _split_rule,
    "split": _split_rule,
    "mean": _reduce_rule("ReduceMean"),
    "sum": _reduce_rule("ReduceSum"),
    "amax": _reduce_rule("ReduceMax"),
    "amin": _reduce_rule("ReduceMin"),
    "argmax": _arg_reduce("ArgMax"),
    "argmin": _arg_reduce("ArgMin"),
    "max": _max_min("ReduceMax", "ArgMax"),
    "min": _max_min("ReduceMin", "ArgMin"),
    "maximum": _elementwise2("Max"),
    "minimum": _elementwise2("Min"),
    "var": _var_std(False),
    "std": _var_std(True),
    "narrow": _narrow,
    "select": _select,
    "index_select": _index_select,
    "gather": _gather,
    "repeat": _repeat,
    "tile": _repeat,
    "unbind": _unbind,
    "sign": _unary("Sign"),
    "round": _unary("Round"),
    "where": _where,
}


def _chunk_fn(g, out, x, chunks, dim=0):
    return _split_rule(g, out, x, chunks, dim)


FUNCTIONS = {
    "add": TENSOR_METHODS["add"],
    "sub": TENSOR_METHODS["sub"],
    "mul": TENSOR_METHODS["mul"],
    "div": TENSOR_METHODS["div"],
    "matmul": _matmul,
    "mm": _matmul,
    "bmm": _matmul,
    "cat": _cat,
    "concat": _cat,
    "concatenate": _cat,
    "stack": _stack,
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _permute,
    "transpose": _transpose,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "chunk": _chunk_fn,
    "split": _split_rule,
    "relu": _relu,
    "sigmoid": TENSOR_METHODS["sigmoid"],
    "tanh": TENSOR_METHODS["tanh"],
    "exp": TENSOR_METHODS["exp"],
    "log": TENSOR_METHODS["log"],
    "sqrt": TENSOR_METHODS["sqrt"],
    "abs": TENSOR_METHODS["abs"],
    "softmax": TENSOR_METHODS["softmax"],
    "log_softmax": TENSOR_METHODS["log_softmax"],
    "mean": TENSOR_METHODS["mean"],
    "sum": TENSOR_METHODS["sum"],
    "amax": TENSOR_METHODS["amax"],
    "amin": TENSOR_METHODS["amin"],
    "clamp": _clamp,
    "clip": _clamp,
    "where": _where,
    "argmax": _arg_reduce("ArgMax"),
    "argmin": _arg_reduce("ArgMin"),
    "max": _max_min("ReduceMax", "ArgMax"),
    "min": _max_min("ReduceMin", "ArgMin"),
    "maximum": _elementwise2("Max"),
    "minimum": _elementwise2("Min"),
    "var": _var_std(False),
    "std": _var_std(True),
    "narrow": _narrow,
    "select": _select,
    "index_select": _index_select,
    "gather": _gather,
    "tile": _repeat,
    "unbind": _unbind,
}

FUNCTIONAL = {
    "relu": _relu,
    "gelu": _gelu,
    "silu": _silu,
    "sigmoid": TENSOR_METHODS["sigmoid"],
    "tanh": TENSOR_METHODS["tanh"],
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softmax": TENSOR_METHODS["softmax"],
    "log_softmax": TENSOR_METHODS["log_softmax"],
    "dropout": _dropout,
    "linear": _linear,
    "pad": _pad,
    "interpolate": _interpolate,
}
