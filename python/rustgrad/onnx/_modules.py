"""ONNX subgraphs for ``rustgrad.nn`` layers. Each rule is
``rule(tracer, module, args, kwargs, out) -> name(s)`` and emits what the layer computes (in eval
mode) from the layer's parameters; ``out`` is rustgrad's real result."""

import math

import numpy as np

from rustgrad.onnx import _ops
from rustgrad.onnx.errors import UnsupportedOperatorError


def _tuple(v, n):
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


def _arg(args, kwargs, i, name, default=None):
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _dtype(x):
    return x.detach().numpy().dtype


# -- linear / conv ---------------------------------------------------------------------------------
def _linear(tr, m, args, kwargs, out):
    g = tr.graph
    return g.linear(g.value(args[0]), m.weight, m.bias)


def _identity(tr, m, args, kwargs, out):
    return tr.graph.op("Identity", [tr.graph.value(args[0])])


def _conv(tr, m, args, kwargs, out):
    g = tr.graph
    x = args[0]
    nd = len(m.kernel_size)
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise UnsupportedOperatorError(f"{type(m).__name__}(padding_mode={m.padding_mode!r})", g.opset)
    unbatched = x.dim() == nd + 1
    v = g.value(x)
    if unbatched:
        v = g.unsqueeze(v, [0])
    attrs = dict(
        kernel_shape=list(m.kernel_size),
        strides=_tuple(m.stride, nd),
        dilations=_tuple(m.dilation, nd),
        group=int(m.groups),
    )
    if isinstance(m.padding, str):
        if m.padding == "valid":
            attrs["pads"] = [0] * (2 * nd)
        else:  # "same": PyTorch puts the odd pixel at the end, as SAME_UPPER does
            attrs["auto_pad"] = "SAME_UPPER"
    else:
        attrs["pads"] = _tuple(m.padding, nd) * 2
    inputs = [v, g.value(m.weight)] + ([g.value(m.bias)] if m.bias is not None else [])
    if getattr(m, "transposed", False):
        attrs["output_padding"] = _tuple(m.output_padding, nd)
        y = g.op("ConvTranspose", inputs, **attrs)
    else:
        y = g.op("Conv", inputs, **attrs)
    return g.squeeze(y, [0]) if unbatched else y


# -- pooling ---------------------------------------------------------------------------------------
def _pool_common(m, nd):
    k = _tuple(m.kernel_size, nd)
    s = _tuple(m.stride if m.stride is not None else m.kernel_size, nd)
    p = _tuple(m.padding, nd)
    return k, s, p


def _batched(g, x, nd):
    v = g.value(x)
    unbatched = x.dim() == nd + 1
    return (g.unsqueeze(v, [0]) if unbatched else v), unbatched


def _maxpool(nd):
    def rule(tr, m, args, kwargs, out):
        g = tr.graph
        if m.return_indices:
            raise UnsupportedOperatorError(f"MaxPool{nd}d(return_indices=True)", g.opset)
        k, s, p = _pool_common(m, nd)
        v, unbatched = _batched(g, args[0], nd)
        y = g.op(
            "MaxPool", [v], kernel_shape=k, strides=s, pads=p * 2,
            dilations=_tuple(m.dilation, nd), ceil_mode=int(bool(m.ceil_mode)),
        )  # fmt: skip
        return g.squeeze(y, [0]) if unbatched else y

    return rule


def _avgpool(nd):
    def rule(tr, m, args, kwargs, out):
        g = tr.graph
        if getattr(m, "divisor_override", None):
            raise UnsupportedOperatorError(f"AvgPool{nd}d(divisor_override=...)", g.opset)
        k, s, p = _pool_common(m, nd)
        v, unbatched = _batched(g, args[0], nd)
        y = g.op(
            "AveragePool", [v], kernel_shape=k, strides=s, pads=p * 2,
            ceil_mode=int(bool(m.ceil_mode)), count_include_pad=int(bool(m.count_include_pad)),
        )  # fmt: skip
        return g.squeeze(y, [0]) if unbatched else y

    return rule


def _adaptive_windows(n, o):
    # PyTorch's adaptive windows: [floor(i n / o), ceil((i + 1) n / o))
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


def _adaptive_avgpool(nd):
    def rule(tr, m, args, kwargs, out):
        g = tr.graph
        x = args[0]
        v, unbatched = _batched(g, x, nd)
        in_sp = [int(s) for s in x.shape[-nd:]]
        out_sp = [int(s) for s in out.shape[-nd:]]
        if all(o == 1 for o in out_sp):
            y = g.op("GlobalAveragePool", [v])
        elif all(n % o == 0 for n, o in zip(in_sp, out_sp)):
            k = [n // o for n, o in zip(in_sp, out_sp)]
            y = g.op("AveragePool", [v], kernel_shape=k, strides=k)
        else:
            # Uneven windows: one ReduceMean per window along each spatial dim, concatenated.
            y = v
            for d in range(nd):
                axis = 2 + d
                parts = []
                for a, b in _adaptive_windows(in_sp[d], out_sp[d]):
                    sl = g.op("Slice", [y, g.ints([a]), g.ints([b]), g.ints([axis])])
                    parts.append(g.reduce("ReduceMean", sl, [axis], True))
                y = g.op("Concat", parts, axis=axis)
        return g.squeeze(y, [0]) if unbatched else y

    return rule


def _adaptive_maxpool(nd):
    def rule(tr, m, args, kwargs, out):
        g = tr.graph
        if getattr(m, "return_indices", False):
            raise UnsupportedOperatorError(f"AdaptiveMaxPool{nd}d(return_indices=True)", g.opset)
        x = args[0]
        v, unbatched = _batched(g, x, nd)
        in_sp = [int(s) for s in x.shape[-nd:]]
        out_sp = [int(s) for s in out.shape[-nd:]]
        y = v
        for d in range(nd):
            axis = 2 + d
            parts = []
            for a, b in _adaptive_windows(in_sp[d], out_sp[d]):
                sl = g.op("Slice", [y, g.ints([a]), g.ints([b]), g.ints([axis])])
                parts.append(g.reduce("ReduceMax", sl, [axis], True))
            y = g.op("Concat", parts, axis=axis) if len(parts) > 1 else parts[0]
        return g.squeeze(y, [0]) if unbatched else y

    return rule


# -- normalization ---------------------------------------------------------------------------------
def _batchnorm(tr, m, args, kwargs, out):
    g = tr.graph
    x = args[0]
    if m.training and m.running_mean is not None:
        raise UnsupportedOperatorError(type(m).__name__ + " in training mode", g.opset, "export in eval mode")
    if m.running_mean is None:
        raise UnsupportedOperatorError(type(m).__name__ + "(track_running_stats=False)", g.opset)
    c = int(m.num_features)
    dt = _dtype(x)
    scale = g.value(m.weight) if m.weight is not None else g.const(np.ones(c, dt), "bn_scale")
    bias = g.value(m.bias) if m.bias is not None else g.const(np.zeros(c, dt), "bn_bias")
    return g.op(
        "BatchNormalization",
        [g.value(x), scale, bias, g.value(m.running_mean), g.value(m.running_var)],
        epsilon=float(m.eps),
    )


def _layernorm(tr, m, args, kwargs, out):
    g = tr.graph
    x = args[0]
    n = len(m.normalized_shape)
    dt = _dtype(x)
    shape = [int(s) for s in m.normalized_shape]
    scale = g.value(m.weight) if m.weight is not None else g.const(np.ones(shape, dt), "ln_scale")
    bias = g.value(m.bias) if getattr(m, "bias", None) is not None else None
    return g.layer_norm(g.value(x), scale, bias, n, float(m.eps), dt)


def _groupnorm(tr, m, args, kwargs, out):
    # Built from primitives: opset 18's GroupNormalization takes per-group scales (changed in 21).
    g = tr.graph
    x = args[0]
    dt = _dtype(x)
    G, C = int(m.num_groups), int(m.num_channels)
    v = g.value(x)
    grouped = g.reshape(v, [0, G, -1])
    mean = g.reduce("ReduceMean", grouped, [2], True)
    centered = g.op("Sub", [grouped, mean])
    var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), [2], True)
    denom = g.op("Sqrt", [g.op("Add", [var, g.const(np.array(m.eps, dt))])])
    normed = g.op("Div", [centered, denom])
    y = g.op("Reshape", [normed, g.op("Shape", [v])])
    if m.affine:
        extra = x.dim() - 2
        w = g.reshape(g.value(m.weight), [C] + [1] * extra)
        b = g.reshape(g.value(m.bias), [C] + [1] * extra)
        y = g.op("Add", [g.op("Mul", [y, w]), b])
    return y


# -- activations / simple layers ---------------------------------------------------------------------
def _act(op_type, **attr_of):
    def rule(tr, m, args, kwargs, out):
        attrs = {k: float(getattr(m, a)) for k, a in attr_of.items()}
        return tr.graph.op(op_type, [tr.graph.value(args[0])], **attrs)

    return rule


def _gelu(tr, m, args, kwargs, out):
    return _ops._gelu(tr.graph, out, args[0], getattr(m, "approximate", "none"))


def _silu(tr, m, args, kwargs, out):
    return _ops._silu(tr.graph, out, args[0])


def _softmax_like(op_type):
    def rule(tr, m, args, kwargs, out):
        x = args[0]
        dim = m.dim
        if dim is None:  # PyTorch's legacy implicit dim
            dim = 0 if x.dim() in (0, 1, 3) else 1
        return tr.graph.op(op_type, [tr.graph.value(x)], axis=_ops._dim(int(dim), x.dim()))

    return rule


def _clip(lo, hi):
    def rule(tr, m, args, kwargs, out):
        g, x = tr.graph, args[0]
        a = lo if not isinstance(lo, str) else getattr(m, lo)
        b = hi if not isinstance(hi, str) else getattr(m, hi)
        return g.op("Clip", [g.value(x), g.value(float(a), like=x), g.value(float(b), like=x)])

    return rule


def _softplus_on(g, v, dt, beta=1.0, threshold=20.0):
    # PyTorch: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
    bx = v if beta == 1 else g.op("Mul", [v, g.const(np.array(beta, dt))])
    sp = g.op("Softplus", [bx])
    if beta != 1:
        sp = g.op("Div", [sp, g.const(np.array(beta, dt))])
    return g.op("Where", [g.op("Greater", [bx, g.const(np.array(threshold, dt))]), v, sp])


def _softplus(tr, m, args, kwargs, out):
    g, x = tr.graph, args[0]
    return _softplus_on(g, g.value(x), _dtype(x), float(m.beta), float(m.threshold))


def _mish(tr, m, args, kwargs, out):
    g, x = tr.graph, args[0]
    v = g.value(x)
    return g.op("Mul", [v, g.op("Tanh", [_softplus_on(g, v, _dtype(x))])])


def _hardsigmoid_on(g, v):
    return g.op("HardSigmoid", [v], alpha=1.0 / 6.0, beta=0.5)


def _hardsigmoid(tr, m, args, kwargs, out):
    return _hardsigmoid_on(tr.graph, tr.graph.value(args[0]))


def _hardswish(tr, m, args, kwargs, out):
    g = tr.graph
    v = g.value(args[0])
    return g.op("Mul", [v, _hardsigmoid_on(g, v)])


def _prelu(tr, m, args, kwargs, out):
    g, x = tr.graph, args[0]
    slope = g.value(m.weight)
    if int(m.weight.numel()) > 1 and x.dim() > 2:  # one slope per channel (dim 1)
        slope = g.reshape(slope, [-1] + [1] * (x.dim() - 2))
    return g.op("PRelu", [g.value(x), slope])


def _logsigmoid(tr, m, args, kwargs, out):
    g = tr.graph
    # log(sigmoid(x)) = -softplus(-x), stable for large |x|
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [g.value(args[0])])])])


def _tanhshrink(tr, m, args, kwargs, out):
    g = tr.graph
    v = g.value(args[0])
    return g.op("Sub", [v, g.op("Tanh", [v])])


def _glu(tr, m, args, kwargs, out):
    g, x = tr.graph, args[0]
    d = _ops._dim(int(m.dim), x.dim())
    half = int(x.shape[d]) // 2
    a, b = g.split(g.value(x), [half, half], d)
    return g.op("Mul", [a, g.op("Sigmoid", [b])])


def _unflatten(tr, m, args, kwargs, out):
    return _ops._reshape(tr.graph, out, args[0])


def _flatten(tr, m, args, kwargs, out):
    return _ops._flatten(tr.graph, out, args[0], m.start_dim, m.end_dim)


def _dropout(tr, m, args, kwargs, out):
    g = tr.graph
    if m.training and getattr(m, "p", 0) > 0:
        raise UnsupportedOperatorError(type(m).__name__ + " in training mode", g.opset, "export in eval mode")
    return g.op("Identity", [g.value(args[0])])


def _embedding(tr, m, args, kwargs, out):
    g = tr.graph
    if m.max_norm is not None:
        raise UnsupportedOperatorError("Embedding(max_norm=...)", g.opset)
    return g.op("Gather", [g.value(m.weight), g.value(args[0])], axis=0)


# -- recurrent layers (ONNX RNN / LSTM / GRU ops) ---------------------------------------------------------
# PyTorch's gate order -> ONNX's: LSTM (i, f, g, o) -> (i, o, f, c); GRU (r, z, n) -> (z, r, h).
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _reorder(w, mode, hidden):
    parts = [w[i * hidden : (i + 1) * hidden] for i in range(len(_GATE_ORDER[mode]))]
    return np.concatenate([parts[i] for i in _GATE_ORDER[mode]], axis=0)


def _rnn(tr, m, args, kwargs, out):
    g = tr.graph
    mode = m.mode
    if getattr(m, "proj_size", 0):
        raise UnsupportedOperatorError("LSTM(proj_size>0)", g.opset)
    x = args[0]
    hx = _arg(args, kwargs, 1, "hx")
    H, L = int(m.hidden_size), int(m.num_layers)
    D = 2 if m.bidirectional else 1
    dt = _dtype(x)
    v = g.value(x)
    unbatched = x.dim() == 2
    if unbatched:
        v = g.unsqueeze(v, [1])
    elif m.batch_first:
        v = g.transpose(v, [1, 0, 2])  # ONNX wants (seq, batch, features)
    h0 = c0 = None
    if hx is not None:
        h, c = (hx if mode == "LSTM" else (hx, None))
        h0 = g.value(h)
        c0 = g.value(c) if c is not None else None
        if unbatched:
            h0 = g.unsqueeze(h0, [1])
            c0 = g.unsqueeze(c0, [1]) if c0 is not None else None
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    hs, cs = [], []
    for layer in range(L):
        Ws, Rs, Bs = [], [], []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih = getattr(m, "weight_ih" + sfx).detach().numpy()
            w_hh = getattr(m, "weight_hh" + sfx).detach().numpy()
            Ws.append(_reorder(w_ih, mode, H))
            Rs.append(_reorder(w_hh, mode, H))
            if m.bias:
                b_ih = getattr(m, "bias_ih" + sfx).detach().numpy()
                b_hh = getattr(m, "bias_hh" + sfx).detach().numpy()
                Bs.append(np.concatenate([_reorder(b_ih, mode, H), _reorder(b_hh, mode, H)]))
            else:
                Bs.append(np.zeros(2 * len(_GATE_ORDER[mode]) * H, dt))
        inputs = [
            v,
            g.const(np.stack(Ws).astype(dt), f"{op_type}_W_l{layer}"),
            g.const(np.stack(Rs).astype(dt), f"{op_type}_R_l{layer}"),
            g.const(np.stack(Bs).astype(dt), f"{op_type}_B_l{layer}"),
            "",  # sequence_lens: all full length
        ]
        if h0 is not None:
            inputs.append(g.op("Slice", [h0, g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])]))
        elif c0 is not None or mode == "LSTM":
            inputs.append("")
        if mode == "LSTM" and c0 is not None:
            inputs.append(g.op("Slice", [c0, g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])]))
        while inputs and inputs[-1] == "":
            inputs.pop()
        attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
        if op_type == "RNN":
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
        if op_type == "GRU":
            attrs["linear_before_reset"] = 1  # PyTorch applies the reset gate after the matmul
        n_out = 3 if op_type == "LSTM" else 2
        res = g.op(op_type, inputs, n_out=n_out, **attrs)
        y, y_h = res[0], res[1]
        hs.append(y_h)
        if op_type == "LSTM":
            cs.append(res[2])
        # Y: (seq, D, batch, H) -> (seq, batch, D*H)
        v = g.reshape(g.transpose(y, [0, 2, 1, 3]), [0, 0, -1])
    h_n = hs[0] if L == 1 else g.op("Concat", hs, axis=0)
    c_n = (cs[0] if L == 1 else g.op("Concat", cs, axis=0)) if cs else None
    if unbatched:
        v = g.squeeze(v, [1])
        h_n = g.squeeze(h_n, [1])
        c_n = g.squeeze(c_n, [1]) if c_n is not None else None
    elif m.batch_first:
        v = g.transpose(v, [1, 0, 2])
    return [v, [h_n, c_n]] if mode == "LSTM" else [v, h_n]


def _rnn_cell(tr, m, args, kwargs, out):
    # One time step of the layer op: a cell is an RNN over a sequence of length 1.
    g = tr.graph
    raise UnsupportedOperatorError(type(m).__name__, g.opset, "export the RNN/LSTM/GRU layer instead")


# -- attention -----------------------------------------------------------------------------------------
def _attention(g, m, q_in, k_in, v_in, attn_mask, key_padding_mask, need_weights, average, is_causal, shapes):
    """Multi-head attention on (L, N, E) values; -> (output name, weights name or None)."""
    L, S, E, H = shapes
    hd = E // H
    dt = _dtype(m.out_proj.weight)
    if m.bias_k is not None or m.add_zero_attn:
        raise UnsupportedOperatorError("MultiheadAttention(add_bias_kv/add_zero_attn)", g.opset)
    if m._qkv_same_embed_dim:
        w = m.in_proj_weight.detach().numpy()
        wq, wk, wv = w[:E], w[E : 2 * E], w[2 * E :]
    else:
        wq, wk, wv = (t.detach().numpy() for t in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight))
    b = m.in_proj_bias.detach().numpy() if m.in_proj_bias is not None else None

    def proj(x, wi, bi, name):
        y = g.op("MatMul", [x, g.const(np.ascontiguousarray(wi.T), f"{name}_proj_weight_t")])
        if bi is not None:
            y = g.op("Add", [y, g.const(bi, f"{name}_proj_bias")])
        return y

    q = proj(q_in, wq, None if b is None else b[:E], "q")
    k = proj(k_in, wk, None if b is None else b[E : 2 * E], "k")
    v = proj(v_in, wv, None if b is None else b[2 * E :], "v")
    # (L, N, E) -> (N, H, L, hd)
    q = g.transpose(g.reshape(q, [0, 0, H, hd]), [1, 2, 0, 3])
    k = g.transpose(g.reshape(k, [0, 0, H, hd]), [1, 2, 3, 0])  # (N, H, hd, S)
    v = g.transpose(g.reshape(v, [0, 0, H, hd]), [1, 2, 0, 3])
    scores = g.op("Mul", [g.op("MatMul", [q, k]), g.const(np.array(1.0 / math.sqrt(hd), dt))])
    neg_inf = g.const(np.array(-np.inf, dt))
    if is_causal and attn_mask is None:
        attn_mask_arr = np.triu(np.ones((L, S), bool), 1)
        scores = g.op("Where", [g.const(attn_mask_arr, "causal_mask"), neg_inf, scores])
    if attn_mask is not None:
        mask = g.value(attn_mask)
        if attn_mask.dim() == 3:  # (N*H, L, S)
            mask = g.reshape(mask, [-1, H, L, S])
        if str(attn_mask.dtype).endswith("bool"):
            scores = g.op("Where", [mask, neg_inf, scores])
        else:
            scores = g.op("Add", [scores, mask])
    if key_padding_mask is not None:
        kpm = g.reshape(g.value(key_padding_mask), [-1, 1, 1, S])  # (N, 1, 1, S)
        if str(key_padding_mask.dtype).endswith("bool"):
            scores = g.op("Where", [kpm, neg_inf, scores])
        else:
            scores = g.op("Add", [scores, kpm])
    attn = g.op("Softmax", [scores], axis=-1)
    o = g.op("MatMul", [attn, v])  # (N, H, L, hd)
    o = g.reshape(g.transpose(o, [2, 0, 1, 3]), [0, 0, -1])  # (L, N, E)
    o = g.linear(o, m.out_proj.weight, m.out_proj.bias)
    weights = None
    if need_weights:
        weights = g.reduce("ReduceMean", attn, [1], False) if average else attn
    return o, weights


def _mha(tr, m, args, kwargs, out):
    g = tr.graph
    names = ["query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights", "is_causal"]
    defaults = [None, None, None, None, True, None, True, False]
    a = {n: _arg(args, kwargs, i, n, d) for i, (n, d) in enumerate(zip(names, defaults))}
    if m.training and m.dropout > 0:
        raise UnsupportedOperatorError("MultiheadAttention in training mode", g.opset, "export in eval mode")
    query, key, value = a["query"], a["key"], a["value"]
    batched = query.dim() == 3
    vals = [g.value(t) for t in (query, key, value)]
    if not batched:
        vals = [g.unsqueeze(v, [1]) for v in vals]
    elif m.batch_first:
        vals = [g.transpose(v, [1, 0, 2]) for v in vals]
    seq_dim = 1 if (batched and m.batch_first) else 0
    L, S = int(query.shape[seq_dim]), int(key.shape[seq_dim])
    kpm = a["key_padding_mask"]
    o, w = _attention(
        g, m, *vals, a["attn_mask"], kpm, a["need_weights"], a["average_attn_weights"], a["is_causal"],
        (L, S, int(m.embed_dim), int(m.num_heads)),
    )  # fmt: skip
    if not batched:
        o = g.squeeze(o, [1])
        if w is not None:
            w = g.squeeze(w, [0])
    elif m.batch_first:
        o = g.transpose(o, [1, 0, 2])
    return [o, w]


def _layer_norm_of(g, mod, v):
    bias = g.value(mod.bias) if mod.bias is not None else None
    return g.layer_norm(v, g.value(mod.weight), bias, 1, float(mod.eps), _dtype(mod.weight))


def _feed_forward(g, m, v, layer_name):
    """linear2(activation(linear1(v))) of a Transformer layer (dropout is the identity in eval)."""
    from rustgrad.nn import functional as F

    def unwrap(fn):  # during the export F.relu is the tracer's wrapper around the real one
        return getattr(fn, "__wrapped_for_onnx__", fn)

    act = m.activation
    h = g.linear(v, m.linear1.weight, m.linear1.bias)
    if unwrap(act) is unwrap(F.relu) or type(act).__name__ == "ReLU":
        h = g.op("Relu", [h])
    elif unwrap(act) is unwrap(F.gelu) or type(act).__name__ == "GELU":
        h = _ops.gelu_on(g, h, _dtype(m.linear1.weight), getattr(act, "approximate", "none"))
    else:
        raise UnsupportedOperatorError(f"{layer_name}(activation={act!r})", g.opset)
    return g.linear(h, m.linear2.weight, m.linear2.bias)


def _to_lne(g, t, batch_first):
    """A (N, L, E) / (L, N, E) / unbatched (L, E) input as an ONNX value in (L, N, E)."""
    v = g.value(t)
    if t.dim() == 2:
        return g.unsqueeze(v, [1])
    return g.transpose(v, [1, 0, 2]) if batch_first else v


def _from_lne(g, v, like, batch_first):
    if like.dim() == 2:
        return g.squeeze(v, [1])
    return g.transpose(v, [1, 0, 2]) if batch_first else v


def _seq_len(t, batch_first):
    return int(t.shape[1 if (t.dim() == 3 and batch_first) else 0])


def _encoder_layer(tr, m, args, kwargs, out):
    """TransformerEncoderLayer as its forward composes it (attention, feed-forward, norms)."""
    g = tr.graph
    src = args[0]
    src_mask = _arg(args, kwargs, 1, "src_mask")
    kpm = _arg(args, kwargs, 2, "src_key_padding_mask")
    is_causal = _arg(args, kwargs, 3, "is_causal", False)
    if m.training:
        raise UnsupportedOperatorError("TransformerEncoderLayer in training mode", g.opset, "export in eval mode")
    attn = m.self_attn
    first = bool(getattr(attn, "batch_first", False))
    L, E, H = _seq_len(src, first), int(attn.embed_dim), int(attn.num_heads)
    x = _to_lne(g, src, first)

    def sa(v):
        return _attention(g, attn, v, v, v, src_mask, kpm, False, True, is_causal and src_mask is None, (L, L, E, H))[0]

    if m.norm_first:
        x = g.op("Add", [x, sa(_layer_norm_of(g, m.norm1, x))])
        x = g.op("Add", [x, _feed_forward(g, m, _layer_norm_of(g, m.norm2, x), "TransformerEncoderLayer")])
    else:
        x = _layer_norm_of(g, m.norm1, g.op("Add", [x, sa(x)]))
        x = _layer_norm_of(g, m.norm2, g.op("Add", [x, _feed_forward(g, m, x, "TransformerEncoderLayer")]))
    return _from_lne(g, x, src, first)


def _decoder_layer(tr, m, args, kwargs, out):
    """TransformerDecoderLayer: self-attention, attention over ``memory``, feed-forward, norms."""
    g = tr.graph
    names = ["tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask",
             "tgt_is_causal", "memory_is_causal"]  # fmt: skip
    a = {n: _arg(args, kwargs, i, n, False if n.endswith("causal") else None) for i, n in enumerate(names)}
    if m.training:
        raise UnsupportedOperatorError("TransformerDecoderLayer in training mode", g.opset, "export in eval mode")
    sa_mod, ca_mod = m.self_attn, m.multihead_attn
    first = bool(getattr(sa_mod, "batch_first", False))
    tgt, mem = a["tgt"], a["memory"]
    L, S, E, H = _seq_len(tgt, first), _seq_len(mem, first), int(sa_mod.embed_dim), int(sa_mod.num_heads)
    x, mv = _to_lne(g, tgt, first), _to_lne(g, mem, first)

    def sa(v):
        causal = bool(a["tgt_is_causal"]) and a["tgt_mask"] is None
        return _attention(g, sa_mod, v, v, v, a["tgt_mask"], a["tgt_key_padding_mask"], False, True, causal, (L, L, E, H))[0]

    def ca(v):
        causal = bool(a["memory_is_causal"]) and a["memory_mask"] is None
        return _attention(
            g, ca_mod, v, mv, mv, a["memory_mask"], a["memory_key_padding_mask"], False, True, causal,
            (L, S, E, int(ca_mod.num_heads)),
        )[0]  # fmt: skip

    def ff(v):
        return _feed_forward(g, m, v, "TransformerDecoderLayer")

    if m.norm_first:
        x = g.op("Add", [x, sa(_layer_norm_of(g, m.norm1, x))])
        x = g.op("Add", [x, ca(_layer_norm_of(g, m.norm2, x))])
        x = g.op("Add", [x, ff(_layer_norm_of(g, m.norm3, x))])
    else:
        x = _layer_norm_of(g, m.norm1, g.op("Add", [x, sa(x)]))
        x = _layer_norm_of(g, m.norm2, g.op("Add", [x, ca(x)]))
        x = _layer_norm_of(g, m.norm3, g.op("Add", [x, ff(x)]))
    return _from_lne(g, x, tgt, first)


def _build_table():
    from rustgrad import nn

    t = {
        nn.Linear: _linear,
        nn.Identity: _identity,
        nn.Conv1d: _conv,
        nn.Conv2d: _conv,
        nn.ConvTranspose2d: _conv,
        nn.MaxPool1d: _maxpool(1),
        nn.MaxPool2d: _maxpool(2),
        nn.AvgPool1d: _avgpool(1),
        nn.AvgPool2d: _avgpool(2),
        nn.AdaptiveAvgPool1d: _adaptive_avgpool(1),
        nn.AdaptiveAvgPool2d: _adaptive_avgpool(2),
        nn.AdaptiveMaxPool1d: _adaptive_maxpool(1),
        nn.AdaptiveMaxPool2d: _adaptive_maxpool(2),
        nn.BatchNorm1d: _batchnorm,
        nn.BatchNorm2d: _batchnorm,
        nn.LayerNorm: _layernorm,
        nn.GroupNorm: _groupnorm,
        nn.ReLU: _act("Relu"),
        nn.Sigmoid: _act("Sigmoid"),
        nn.Tanh: _act("Tanh"),
        nn.GELU: _gelu,
        nn.SiLU: _silu,
        nn.LeakyReLU: _act("LeakyRelu", alpha="negative_slope"),
        nn.ELU: _act("Elu", alpha="alpha"),
        nn.Softmax: _softmax_like("Softmax"),
        nn.LogSoftmax: _softmax_like("LogSoftmax"),
        nn.Flatten: _flatten,
        nn.Unflatten: _unflatten,
        nn.ReLU6: _clip(0.0, 6.0),
        nn.Hardtanh: _clip("min_val", "max_val"),
        nn.Softplus: _softplus,
        nn.Mish: _mish,
        nn.Hardsigmoid: _hardsigmoid,
        nn.Hardswish: _hardswish,
        nn.PReLU: _prelu,
        nn.LogSigmoid: _logsigmoid,
        nn.Tanhshrink: _tanhshrink,
        nn.Softsign: _act("Softsign"),
        nn.SELU: _act("Selu"),
        nn.CELU: _act("Celu", alpha="alpha"),
        nn.GLU: _glu,
        nn.Dropout: _dropout,
        nn.Embedding: _embedding,
        nn.RNN: _rnn,
        nn.LSTM: _rnn,
        nn.GRU: _rnn,
        nn.RNNCell: _rnn_cell,
        nn.LSTMCell: _rnn_cell,
        nn.GRUCell: _rnn_cell,
        nn.MultiheadAttention: _mha,
        nn.TransformerEncoderLayer: _encoder_layer,
    }
    if getattr(nn, "TransformerDecoderLayer", None) is not None:
        t[nn.TransformerDecoderLayer] = _decoder_layer
    for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "ConvTranspose1d", "Conv3d", "BatchNorm3d"):
        cls = getattr(nn, name, None)
        if cls is None:
            continue
        if name.startswith("Dropout") or name == "AlphaDropout":
            t[cls] = _dropout
        elif name == "ConvTranspose1d" or name == "Conv3d":
            t[cls] = _conv
        else:
            t[cls] = _batchnorm
    return t


_TABLE = None


def converter_for(module):
    """The rule for ``module``'s layer type: its own class or the nearest base class with a rule,
    as long as the subclass keeps that base's ``forward`` (one that overrides it is traced
    inside instead, since the rule would not describe what it computes)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    cls = type(module)
    for base in cls.__mro__:
        rule = _TABLE.get(base)
        if rule is not None:
            return rule if getattr(cls, "forward", None) is getattr(base, "forward", None) else None
    return None


# -- the same rules for the functional forms (F.conv2d(x, w, ...), ...) ---------------------------------
class _Shim:
    """What a module rule reads from a module, built from a functional call's arguments."""

    def __init__(self, graph, **attrs):
        self.graph = graph
        self.training = False
        self.__dict__.update(attrs)


def _conv_fn(g, out, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    nd = weight.dim() - 2
    m = _Shim(g, kernel_size=tuple(int(s) for s in weight.shape[2:]), stride=_tuple(stride, nd),
              padding=padding if isinstance(padding, str) else _tuple(padding, nd), dilation=_tuple(dilation, nd),
              groups=groups, weight=weight, bias=bias, padding_mode="zeros", transposed=False)  # fmt: skip
    return _conv(m, m, (input,), {}, out)


def _max_pool_fn(nd):
    def rule(g, out, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        m = _Shim(g, kernel_size=kernel_size, stride=stride or None, padding=padding, dilation=dilation,
                  ceil_mode=ceil_mode, return_indices=return_indices)  # fmt: skip
        return _maxpool(nd)(m, m, (input,), {}, out)

    return rule


def _avg_pool_fn(nd):
    def rule(g, out, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):  # fmt: skip
        m = _Shim(g, kernel_size=kernel_size, stride=stride or None, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)  # fmt: skip
        return _avgpool(nd)(m, m, (input,), {}, out)

    return rule


def _adaptive_avg_fn(nd):
    def rule(g, out, input, output_size):
        m = _Shim(g)
        return _adaptive_avgpool(nd)(m, m, (input,), {}, out)

    return rule


def _layer_norm_fn(g, out, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    shape = [normalized_shape] if isinstance(normalized_shape, int) else list(normalized_shape)
    m = _Shim(g, normalized_shape=shape, weight=weight, bias=bias, eps=eps)
    return _layernorm(m, m, (input,), {}, out)


def _embedding_fn(g, out, input, weight, padding_idx=None, max_norm=None, *args, **kwargs):
    m = _Shim(g, weight=weight, max_norm=max_norm)
    return _embedding(m, m, (input,), {}, out)


def _sdpa_fn(g, out, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if dropout_p:
        raise UnsupportedOperatorError("aten::scaled_dot_product_attention (dropout_p > 0)", g.opset)
    dt = _dtype(query)
    L, S, hd = int(query.shape[-2]), int(key.shape[-2]), int(query.shape[-1])
    s = 1.0 / math.sqrt(hd) if scale is None else float(scale)
    nd = key.dim()
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    scores = g.op("Mul", [g.op("MatMul", [g.value(query), g.transpose(g.value(key), perm)]), g.const(np.array(s, dt))])
    neg_inf = g.const(np.array(-np.inf, dt))
    if is_causal:
        scores = g.op("Where", [g.const(np.triu(np.ones((L, S), bool), 1), "causal_mask"), neg_inf, scores])
    if attn_mask is not None:
        mask = g.value(attn_mask)
        if str(attn_mask.dtype).endswith("bool"):  # True = attend (SDPA's convention)
            scores = g.op("Where", [mask, scores, neg_inf])
        else:
            scores = g.op("Add", [scores, mask])
    return g.op("MatMul", [g.op("Softmax", [scores], axis=-1), g.value(value)])


def functional_rules():
    """Rules for ``rustgrad.nn.functional`` names that mirror a layer."""
    return {
        "conv1d": _conv_fn,
        "conv2d": _conv_fn,
        "max_pool1d": _max_pool_fn(1),
        "max_pool2d": _max_pool_fn(2),
        "avg_pool1d": _avg_pool_fn(1),
        "avg_pool2d": _avg_pool_fn(2),
        "adaptive_avg_pool1d": _adaptive_avg_fn(1),
        "adaptive_avg_pool2d": _adaptive_avg_fn(2),
        "layer_norm": _layer_norm_fn,
        "embedding": _embedding_fn,
        "scaled_dot_product_attention": _sdpa_fn,
    }
