"""``torch.nn.functional`` equivalents built on the rustgrad tensor API.

Native kernels (linear, conv, pooling) come from ``rustgrad._nn_native``; everything else is composed
from differentiable tensor ops so autograd (including double backward) works without extra code.
"""

import math
import warnings

import rustgrad
from rustgrad import _rustgrad as _C
from rustgrad._nn_native import (  # noqa: F401  (native kernels, re-exported with torch's signatures)
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    linear,
    max_pool1d,
    max_pool2d,
)
from rustgrad.amp.autocast_mode import cast_inputs as _autocast


# ----------------------------------------------------------------------------- helpers
def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _inplace_result(input, out, inplace):
    if inplace:
        return input.copy_(out) if not isinstance(out, float) else input
    return out


def _check_same_size(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


# ----------------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """max(x, 0)."""
    if inplace:
        return input.relu_()
    return input.relu()


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if inplace:
        return input.clamp_(min_val, max_val)
    return input.clamp(min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return input.clamp_(min_val, max_val)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return _C._unary_("leaky_relu", input, float(negative_slope))
    return _C._unary("leaky_relu", input, float(negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def elu(input, alpha=1.0, inplace=False):
    if inplace:
        return _C._unary_("elu", input, float(alpha))
    return _C._unary("elu", input, float(alpha))


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    out = _C._unary("elu", input, _SELU_ALPHA) * _SELU_SCALE
    return _inplace_result(input, out, inplace)


def celu(input, alpha=1.0, inplace=False):
    out = _C._unary("elu", input / alpha, 1.0) * alpha
    return _inplace_result(input, out, inplace)


def gelu(input, approximate="none"):
    if approximate == "none":
        return _C._unary("gelu", input)
    if approximate == "tanh":
        return _C._unary("gelu_tanh", input)
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")


def silu(input, inplace=False):
    return _inplace_result(input, _C._unary("silu", input), inplace)


def mish(input, inplace=False):
    return _inplace_result(input, input * softplus(input).tanh(), inplace)


def softplus(input, beta=1.0, threshold=20.0):
    return _C._unary("softplus", input, float(beta), float(threshold))


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def hardsigmoid(input, inplace=False):
    return _inplace_result(input, (input / 6.0 + 0.5).clamp(0.0, 1.0), inplace)


def hardswish(input, inplace=False):
    return _inplace_result(input, input * (input / 6.0 + 0.5).clamp(0.0, 1.0), inplace)


def logsigmoid(input):
    return -softplus(-input)


def softsign(input):
    return input / (input.abs() + 1)


def tanhshrink(input):
    return input - input.tanh()


def softshrink(input, lambd=0.5):
    return rustgrad.where(input > lambd, input - lambd, rustgrad.where(input < -lambd, input + lambd, input * 0))


def hardshrink(input, lambd=0.5):
    return rustgrad.where((input > lambd) | (input < -lambd), input, input * 0)


def threshold(input, threshold, value, inplace=False):
    out = rustgrad.where(input > threshold, input, rustgrad.full_like(input, value))
    return _inplace_result(input, out, inplace)


def prelu(input, weight):
    if input.dim() >= 2 and weight.numel() > 1:
        shape = [1] * input.dim()
        shape[1] = weight.numel()
        weight = weight.reshape(shape)
    return rustgrad.where(input >= 0, input, input * weight)


def glu(input, dim=-1):
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.dim()} is size {n}")
    a = input.narrow(dim, 0, n // 2)
    b = input.narrow(dim, n // 2, n // 2)
    return a * b.sigmoid()


def _softmax_dim(name, ndim):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return rustgrad.softmax(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return rustgrad.log_softmax(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return rustgrad.softmax(-input, dim)


# ----------------------------------------------------------------------------- dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(shape, p, like, scale=True):
    """PyTorch's dropout noise: ``empty(shape).bernoulli_(1 - p)``, then ``.div_(1 - p)`` when
    ``scale`` (so the stream and the scale's rounding are PyTorch's)."""
    if like.device.type == "wgpu":  # drawn on the device from a device-side fill (no upload)
        noise = rustgrad.bernoulli(rustgrad.full(shape, 1.0 - p, dtype=like.dtype, device=like.device))
    else:
        noise = rustgrad.empty(shape, dtype=like.dtype).bernoulli_(1.0 - p)
    return noise / (1.0 - p) if scale else noise


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability ``p`` and scales the rest by 1/(1-p) (training only)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _keep_mask(tuple(input.shape), p, input)
    return _inplace_result(input, out, inplace)


def _feature_dropout(input, p, training, inplace):
    """PyTorch's ``feature_dropout``: one keep/drop draw per (dim 0, dim 1) pair.

    The mask has shape ``input.shape[:2] + (1,) * (dim - 2)``, so on a 2-D input every element
    gets its own draw (what torch 2.x does for ``Dropout2d`` on 2-D input).
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _inplace_result(input, input * 0.0, inplace)
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    out = input * _keep_mask(shape, p, input)
    return _inplace_result(input, out, inplace)


def _unbatched_feature_dropout(input, p, training, inplace, batched_dim):
    """Feature dropout where inputs of fewer than ``batched_dim`` dims get a batch dim of 1."""
    if input.dim() == batched_dim or not training or p == 0.0:
        return _feature_dropout(input, p, training, inplace)
    return _inplace_result(input, _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0), inplace)


def _feature_dim_warning(name, got, spatial, ok):
    warnings.warn(
        f"{name}: Received a {got}-D input to {name}, which is deprecated and will result in an error in a "
        "future release. To retain the behavior and silence this warning, please use dropout instead. "
        f"Note that {name} exists to provide channel-wise dropout on inputs with {spatial} spatial dimensions, "
        f"a channel dimension, and an optional batch dimension (i.e. {ok} inputs).",
        stacklevel=3,
    )


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) or (C, L) input (``torch.nn.functional.dropout1d``)."""
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
            "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
        )
    return _unbatched_feature_dropout(input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels (``torch.nn.functional.dropout2d``), with PyTorch's legacy cases.

    As in PyTorch 2.x: input that is not 3-D or 4-D warns, and is dropped per (dim 0, dim 1)
    pair (so 2-D input is dropped element-wise); 3-D input is read as (N, C, L) with a warning.
    """
    _check_p(p)
    if input.dim() not in (3, 4):
        _feature_dim_warning("dropout2d", input.dim(), 2, "3D or 4D")
    if input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input (``torch.nn.functional.dropout3d``).

    Other ranks warn as in PyTorch and are treated as unbatched (a batch dim of 1 is added).
    """
    _check_p(p)
    if input.dim() not in (4, 5):
        _feature_dim_warning("dropout3d", input.dim(), 3, "4D or 5D")
    return _unbatched_feature_dropout(input, p, training, inplace, 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _inplace_result(input, input * 0.0, inplace)
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    keep = _keep_mask(tuple(input.shape), p, input, scale=False)
    a = 1.0 / math.sqrt((alpha_p**2 * p + 1) * (1 - p))
    b = -a * alpha_p * p
    out = (input * keep + alpha_p * (1 - keep)) * a + b
    return _inplace_result(input, out, inplace)


# ----------------------------------------------------------------------------- linear / bilinear
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = x1 W[o] x2 + b[o]."""
    # (..., 1, I1, 1) * (O, I1, I2) * (..., 1, 1, I2) summed over I1, I2
    t = (input1.unsqueeze(-2).unsqueeze(-1) * weight).sum(-2)  # (..., O, I2)
    out = (t * input2.unsqueeze(-2)).sum(-1)
    return out + bias if bias is not None else out


# ----------------------------------------------------------------------------- normalization
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over all dims except dim 1; updates running stats in place when training.

    Like PyTorch, the input is normalised with the biased batch variance while ``running_var`` is
    updated with the unbiased one (``n / (n - 1)`` correction, n = values per channel)."""
    if input.dim() < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    dims = [0] + list(range(2, input.dim()))
    shape = [1, c] + [1] * (input.dim() - 2)
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        mean = input.mean(dims)
        var = input.var(dims, unbiased=False)
        if running_mean is not None or running_var is not None:
            with rustgrad.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(var.detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        mean, var = running_mean, running_var
    out = (input - mean.reshape(shape)) * (var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def instance_norm(
    input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5
):
    n, c = input.shape[0], input.shape[1]
    shape = [1, c] + [1] * (input.dim() - 2)
    dims = list(range(2, input.dim()))
    if use_input_stats:
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, unbiased=False, keepdim=True)
        if running_mean is not None:
            m = input.numel() // (n * c)
            with rustgrad.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(n, c).mean(0) * momentum)
                running_var.mul_(1 - momentum).add_(var.detach().reshape(n, c).mean(0) * (momentum * m / max(m - 1, 1)))
    else:
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the trailing ``normalized_shape`` dims (in float32 under wgpu autocast)."""
    input, weight, bias = _autocast("layer_norm", input, weight, bias)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.dim() - k:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size{input.shape}"
        )
    dims = list(range(-k, 0))
    mean = input.mean(dims, keepdim=True)
    var = input.var(dims, unbiased=False, keepdim=True)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    dims = list(range(-len(normalized_shape), 0))
    if eps is None:
        eps = 1.1920928955078125e-07 if input.dtype == rustgrad.float32 else 2.220446049250313e-16
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes over groups of channels (in float32 under wgpu autocast)."""
    input, weight, bias = _autocast("group_norm", input, weight, bias)
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{input.shape} and num_groups={num_groups}"
        )
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    out = ((x - mean) * (var + eps).rsqrt()).reshape(input.shape)
    shape = [1, c] + [1] * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    sq = (input * input).unsqueeze(1)
    c = input.shape[1]
    padded = pad(sq.reshape(input.shape[0], 1, c, -1), (0, 0, size // 2, (size - 1) // 2))
    acc = sum(padded.narrow(2, i, c) for i in range(size)).reshape(input.shape)
    return input / (acc * (alpha / size) + k).pow(beta)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along ``dim``."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


# ----------------------------------------------------------------------------- embedding / one-hot
def _take_rows(weight, idx):
    rows = weight.index_select(0, idx.reshape(-1))
    return rows.reshape(*idx.shape, weight.shape[-1])


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Looks up rows of ``weight``; the ``padding_idx`` row receives no gradient."""
    if input.dtype not in (rustgrad.int64, rustgrad.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got {input.type()} instead (while checking arguments for embedding)"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if input.numel() and input.device.type == "cpu":
        # (on a device the index_select kernel checks, raising at the next sync point)
        lo, hi = int(input.min()), int(input.max())
        if lo < 0 or hi >= num:
            raise IndexError("index out of range in self")
    if max_norm is not None:
        # renormalise (in place, like torch) the referenced rows whose norm exceeds max_norm
        with rustgrad.no_grad():
            ids = input.reshape(-1).unique()
            rows = weight.index_select(0, ids)
            norms = rows.norm(norm_type, -1, keepdim=True)
            scale = rustgrad.where(norms > max_norm, max_norm / (norms + 1e-7), rustgrad.ones_like(norms))
            weight[ids] = rows * scale
    out = _take_rows(weight, input)
    if padding_idx is not None:
        # same forward values, but no gradient flows to the padding row
        out = rustgrad.where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return out


def one_hot(tensor, num_classes=-1):
    """Integer tensor (..., ) -> int64 (..., num_classes) with a single 1 per row."""
    if tensor.dtype != rustgrad.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max()) + 1
    if tensor.numel():
        if int(tensor.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == rustgrad.arange(num_classes)).long()


# ----------------------------------------------------------------------------- padding / resizing
def _pad_dim_reflect(x, dim, left, right):
    n = x.shape[dim]
    if left >= n or right >= n:
        raise RuntimeError(
            f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
            f"padding ({left}, {right}) at dimension {dim} of input {list(x.shape)}"
        )
    parts = [x.narrow(dim, i, 1) for i in range(left, 0, -1)] + [x] + [x.narrow(dim, n - 2 - i, 1) for i in range(right)]
    return rustgrad.cat(parts, dim)


def _pad_dim_replicate(x, dim, left, right):
    n = x.shape[dim]
    parts = [x.narrow(dim, 0, 1)] * left + [x] + [x.narrow(dim, n - 1, 1)] * right
    return rustgrad.cat(parts, dim)


def _pad_dim_circular(x, dim, left, right):
    n = x.shape[dim]
    parts = []
    if left:
        parts.append(x.narrow(dim, n - left, left))
    parts.append(x)
    if right:
        parts.append(x.narrow(dim, 0, right))
    return rustgrad.cat(parts, dim)


def pad(input, pad, mode="constant", value=None):
    """Pads trailing dims: ``pad=(left_last, right_last, left_prev, right_prev, ...)``."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension")
    nd = input.dim()
    if mode == "constant":
        value = 0.0 if value is None else value
        out = input
        for i in range(len(pad) // 2):
            dim = nd - 1 - i
            left, right = pad[2 * i], pad[2 * i + 1]
            if left < 0:
                out = out.narrow(dim, -left, out.shape[dim] + left)
                left = 0
            if right < 0:
                out = out.narrow(dim, 0, out.shape[dim] + right)
                right = 0
            parts = []
            if left:
                s = list(out.shape)
                s[dim] = left
                parts.append(rustgrad.full(s, value, dtype=out.dtype, device=out.device))
            parts.append(out)
            if right:
                s = list(out.shape)
                s[dim] = right
                parts.append(rustgrad.full(s, value, dtype=out.dtype, device=out.device))
            if len(parts) > 1:
                out = rustgrad.cat(parts, dim)
        return out
    fns = {"reflect": _pad_dim_reflect, "replicate": _pad_dim_replicate, "circular": _pad_dim_circular}
    if mode not in fns:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    out = input
    for i in range(len(pad) // 2):
        out = fns[mode](out, nd - 1 - i, pad[2 * i], pad[2 * i + 1])
    return out


def _interp_index(in_size, out_size, scale, align_corners, mode):
    import numpy as np

    if mode == "nearest":
        s = (in_size / out_size) if scale is None else 1.0 / scale
        return np.minimum(np.floor(np.arange(out_size) * s).astype(np.int64), in_size - 1)
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = np.arange(out_size) * s
    else:
        s = (in_size / out_size) if scale is None else 1.0 / scale
        src = np.maximum((np.arange(out_size) + 0.5) * s - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    return i0, i1, lam


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False):
    """Nearest / (bi)linear resizing of the spatial dims."""
    nsp = input.dim() - 2
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [size] * nsp if isinstance(size, int) else list(size)
        scales = [None] * nsp
    else:
        sf = [scale_factor] * nsp if not isinstance(scale_factor, (list, tuple)) else list(scale_factor)
        sizes = [int(math.floor(input.shape[2 + i] * sf[i])) for i in range(nsp)]
        scales = [None if recompute_scale_factor else sf[i] for i in range(nsp)]
    if mode in ("nearest",) and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear")
    out = input
    for i in range(nsp):
        dim = 2 + i
        if mode == "nearest":
            idx = _interp_index(input.shape[dim], sizes[i], scales[i], False, mode)
            out = out.index_select(dim, rustgrad.tensor(idx))
        elif mode in ("linear", "bilinear", "trilinear"):
            i0, i1, lam = _interp_index(input.shape[dim], sizes[i], scales[i], bool(align_corners), mode)
            a = out.index_select(dim, rustgrad.tensor(i0))
            b = out.index_select(dim, rustgrad.tensor(i1))
            shape = [1] * out.dim()
            shape[dim] = sizes[i]
            lam_t = rustgrad.tensor(lam, dtype=out.dtype).reshape(shape)
            out = a + (b - a) * lam_t
        else:
            raise NotImplementedError(f"interpolate mode {mode} is not supported")
    return out


upsample = interpolate


# ----------------------------------------------------------------------------- distances / attention
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``F.cosine_similarity``: PyTorch's form, each input divided by its norm clamped at ``eps``
    before the dot product (so zero vectors give 0 and finite gradients)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def _matmul(a, b):
    return rustgrad.matmul(a, b)


def scaled_dot_product_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """softmax(Q K^T * scale + mask) V, with PyTorch's mask conventions (bool True = attend)."""
    L, S = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = _matmul(query, key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
        causal = rustgrad.arange(S).unsqueeze(0) <= rustgrad.arange(L).unsqueeze(1)
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == rustgrad.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    attn = rustgrad.softmax(scores, -1)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, True)
    return _matmul(attn, value)


# ----------------------------------------------------------------------------- losses
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    input, target = _autocast("mse_loss", input, target)
    _check_same_size(input, target, "mse_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    input, target = _autocast("l1_loss", input, target)
    _check_same_size(input, target, "l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    input, target = _autocast("smooth_l1_loss", input, target)
    _check_same_size(input, target, "smooth_l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        loss = d
    else:
        loss = rustgrad.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    input, target = _autocast("huber_loss", input, target)
    _check_same_size(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = rustgrad.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_last(x):
    """(N, C, d1, ...) -> (N, d1, ..., C); (C,) and (N, C) are unchanged."""
    return x.movedim(1, -1) if x.dim() > 2 else x


def _check_nll_args(logp, target, weight):
    """nll_loss's argument checks (PyTorch's errors); returns the number of classes."""
    if logp.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {logp.dim()})")
    if target.dtype not in (rustgrad.int64, rustgrad.int32, rustgrad.uint8):
        raise RuntimeError(f"expected scalar type Long but found {str(target.dtype).split('.')[-1].capitalize()}")
    if logp.dim() == 1:
        if target.dim() != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        n_classes = logp.shape[0]
    else:
        n_classes = logp.shape[1]
        if logp.shape[0] != (target.shape[0] if target.dim() else -1):
            raise ValueError(
                f"Expected input batch_size ({logp.shape[0]}) to match target batch_size "
                f"({target.shape[0] if target.dim() else 0})."
            )
        if logp.dim() == 2 and target.dim() != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if logp.dim() > 2 and tuple(target.shape) != tuple(logp.shape[:1]) + tuple(logp.shape[2:]):
            raise RuntimeError(
                f"Expected target size {list(logp.shape[:1]) + list(logp.shape[2:])}, got {list(target.shape)}"
            )
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes but got weight tensor "
            f"of shape: {list(weight.shape)}"
        )
    return n_classes


def _nll_core(logp, target, weight, ignore_index, reduction):
    """Shared by nll_loss and cross_entropy: ``logp`` has the class dim at 1 (or 0 when unbatched)."""
    n_classes = _check_nll_args(logp, target, weight)
    if target.dtype != rustgrad.int64:
        target = target.long()
    lo = hi = None
    if weight is None and ignore_index < 0 and target.numel() and target.device.type == "cpu":
        lo, hi = (int(v) for v in target.aminmax())
    if lo is not None and lo >= 0 and hi < n_classes:
        # The common case (no class weights, a negative ignore_index): targets inside [0, C)
        # cannot be ignored, so the loss is a gather and a mean, without the validity masks and
        # weight tensors of the general path below (a third of the ops of a small classifier's
        # training step). Anything else (ignored or bad targets) takes the general path.
        picked = _class_last(logp).gather(-1, target.unsqueeze(-1)).squeeze(-1)
        if reduction == "none":
            return -picked
        if reduction == "sum":
            return -picked.sum()
        if reduction == "mean":
            return -picked.mean()
        raise ValueError(f"{reduction} is not a valid value for reduction")
    valid = target != ignore_index
    if target.numel():
        tv = rustgrad.where(valid, target, rustgrad.zeros_like(target))
        # On a device the gather below checks the targets instead (no sync; a bad one raises at
        # the next sync point, like CUDA's device-side assert).
        if tv.device.type == "cpu" and (int(tv.min()) < 0 or int(tv.max()) >= n_classes):
            raise IndexError(f"Target {int(tv.max()) if int(tv.max()) >= n_classes else int(tv.min())} is out of bounds.")
    else:
        tv = target
    lp = _class_last(logp)  # (..., C)
    # O(N) gathers rather than an (N, C) one-hot: C can be a 50k vocabulary
    picked = lp.gather(-1, tv.unsqueeze(-1)).squeeze(-1)
    if weight is not None:
        w = weight.to(lp.dtype).index_select(0, tv.reshape(-1)).reshape(tv.shape)
    else:
        w = rustgrad.ones(tuple(tv.shape), dtype=lp.dtype, device=lp.device)
    w = rustgrad.where(valid, w, rustgrad.zeros_like(w))
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / w.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class-index targets; mean divides by the summed target weights."""
    input, weight = _autocast("nll_loss", input, weight)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _nll_core(input, target, weight, ignore_index, reduction)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    """log_softmax + nll_loss, or soft-label cross entropy when ``target`` is floating point."""
    input, target, weight = _autocast("cross_entropy_loss", input, target, weight)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    if class_dim == 1 and not target.is_floating_point():
        # Class-index targets: log_softmax + nll_loss as one fused kernel (and one for the
        # backward), on the CPU and the device; None where it does not apply (dtypes,
        # RUSTGRAD_WGPU_FUSION=0 on the device).
        _check_nll_args(input, target, weight)
        fused = _C._cross_entropy_fused(input, target, weight, int(ignore_index), reduction,
                                        float(label_smoothing))
        if fused is not None:
            return fused
    logp = rustgrad.log_softmax(input, class_dim)
    n_classes = input.shape[class_dim]
    wshape = [1] * input.dim()
    wshape[class_dim] = n_classes
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            if input.dim() >= 2 and target.dim() >= 1 and target.shape[0] != input.shape[0]:
                raise ValueError(
                    f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target.shape[0]})."
                )
            raise RuntimeError(
                f"Expected floating point target to have the same shape as input: {list(input.shape)}, "
                f"got {list(target.shape)}"
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        loss = -prod.sum(class_dim)
        if reduction == "mean":
            denom = input.numel() // n_classes if input.dim() > 1 else 1
            return loss.sum() / denom
        return _reduce(loss, reduction)
    nll = _nll_core(logp, target, weight, ignore_index, reduction)
    if label_smoothing <= 0:
        return nll
    valid = target != ignore_index
    wlp = logp * weight.reshape(wshape) if weight is not None else logp
    smooth = -wlp.sum(class_dim)
    smooth = rustgrad.where(valid, smooth, rustgrad.zeros_like(smooth))
    if reduction == "mean":
        if weight is not None:
            tv = rustgrad.where(valid, target.long(), rustgrad.zeros_like(target.long()))
            onehot = tv.unsqueeze(-1) == rustgrad.arange(n_classes, device=tv.device)
            wsum = rustgrad.where(onehot & valid.unsqueeze(-1), weight, rustgrad.zeros((), dtype=weight.dtype)).sum()
            smooth = smooth.sum() / wsum
        else:
            smooth = smooth.sum() / valid.sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1-t) log(1-x)) with each log clamped to >= -100 like PyTorch."""
    input, target, weight = _autocast("binary_cross_entropy", input, target, weight)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is deprecated. "
            "Please ensure they have the same size."
        )
    if input.numel():
        lo, hi = float(input.detach().min()), float(input.detach().max())
        if lo < 0 or hi > 1:
            raise RuntimeError("all elements of input should be between 0 and 1")
    log_x = input.log().clamp_min(-100.0)
    log_1mx = (1 - input).log().clamp_min(-100.0)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None
):
    """Numerically stable sigmoid + BCE: (1 - t) x + (1 + (pw - 1) t) softplus(-x)."""
    input, target, weight, pos_weight = _autocast("binary_cross_entropy_with_logits", input, target, weight, pos_weight)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    log_sig_neg = softplus(-input)  # = -log(sigmoid(x)), stable
    if pos_weight is not None:
        lw = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + lw * log_sig_neg
    else:
        loss = (1 - target) * input + log_sig_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL: target * (log target - input); 'batchmean' divides the sum by the batch size."""
    input, target = _autocast("kl_div", input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = rustgrad.where(target > 0, target, rustgrad.ones_like(target))
        loss = rustgrad.where(target > 0, target * (safe.log() - input), target * 0 - 0 * input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        st = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + rustgrad.where(target > 1, st, rustgrad.zeros_like(st))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    v = var.clamp_min(eps) if not isinstance(var, float) else rustgrad.full_like(input, max(var, eps))
    if v.dim() == input.dim() - 1:
        v = v.unsqueeze(-1)
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-12) if input1.dim() > 0 else None
    zero = rustgrad.zeros_like(cos)
    loss = rustgrad.where(target == 1, 1 - cos, rustgrad.where(target == -1, (cos - margin).clamp_min(0.0), zero))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = (-target * (input1 - input2) + margin).clamp_min(0.0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    zero = rustgrad.zeros_like(input)
    loss = rustgrad.where(target == 1, input, zero) + rustgrad.where(target == -1, (margin - input).clamp_min(0.0), zero)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    dp = pairwise_distance(anchor, positive, p, eps)
    dn = pairwise_distance(anchor, negative, p, eps)
    if swap:
        ds = pairwise_distance(positive, negative, p, eps)
        dn = rustgrad.minimum(dn, ds)
    return _reduce((dp - dn + margin).clamp_min(0.0), reduction)



def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Multi-class hinge loss (``torch.nn.functional.multi_margin_loss``).

    For each sample, ``sum_{i != y} max(0, margin - x[y] + x[i]) ** p * weight[y] / C``;
    ``input`` is (N, C) or (C,), ``target`` holds class indices, ``p`` is 1 or 2.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.dim() > 2 or (input.dim() == 2 and input.shape[1] == 0) or (input.dim() < 2 and input.numel() == 0):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {list(input.shape)}"
        )
    if target.dtype != rustgrad.int64:
        raise RuntimeError(f"expected scalar type Long but found {str(target.dtype).split('.')[-1].capitalize()}")
    x = input if input.dim() == 2 else input.reshape(1, -1)
    n, c = x.shape
    if target.numel() != n or (input.dim() == 2 and target.dim() != 1):
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples "
            f"(batch size). Expected target size [{n}], but got {list(target.shape)}. Input has shape {list(input.shape)}."
        )
    if weight is not None and (weight.dim() > 1 or weight.numel() != c):
        raise RuntimeError(f"inconsistent weight size, expected {c} but got {list(weight.shape)}")
    y = target.reshape(-1)
    if n and (int(y.min()) < 0 or int(y.max()) >= c):
        raise RuntimeError("target out of range")
    x_y = x.gather(1, y.unsqueeze(1))
    hinge = (x - x_y + margin).clamp_min(0.0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.to(x.dtype).index_select(0, y).unsqueeze(1)
    # the target's own column never counts (its hinge would always be `margin`)
    others = 1.0 - one_hot(y, c).to(x.dtype)
    loss = (hinge * others).sum(1) / c
    if input.dim() < 2:
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- pixel shuffle
def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): channel blocks become r x r spatial blocks."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    *lead, c, h, w = input.shape
    if c % (r * r) != 0:
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    # (..., C, r1, r2, H, W) -> (..., C, H, r1, W, r2)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of ``pixel_shuffle``."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    *lead, c, h, w = input.shape
    if h % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)="
            f"{h} is not divisible by {r}"
        )
    if w % r != 0:
        raise RuntimeError(
            "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)="
            f"{w} is not divisible by {r}"
        )
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    # (..., C, H, r1, W, r2) -> (..., C, r1, r2, H, W)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


from rustgrad.nn._fold import fold, unfold  # noqa: E402,F401
