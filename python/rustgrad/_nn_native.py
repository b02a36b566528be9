"""Native functional NN ops with ``torch.nn.functional`` signatures (re-exported by
``rustgrad.nn.functional``): linear, convolutions and pooling. 1-D forms are 2-D ops over a
unit-height view; unbatched inputs get a batch dim of 1."""

from rustgrad import _C
from rustgrad.amp.autocast_mode import cast_inputs as _autocast

__all__ = ["linear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
           "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d"]


def _pair(v, n=2):
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return list(v) * n
        return [int(e) for e in v]
    return [int(v)] * n


def linear(input, weight, bias=None):
    """``F.linear``: ``input @ weight.T + bias`` (in the autocast dtype inside an autocast region)."""
    input, weight, bias = _autocast("linear", input, weight, bias)
    return _C._linear(input, weight, bias)


def _batched(input, nd, name):
    if input.dim() == nd - 1:
        return input.unsqueeze(0), True
    if input.dim() != nd:
        raise RuntimeError(f"Expected {nd - 1}D (unbatched) or {nd}D (batched) input to {name}, "
                           f"but got input of size: {list(input.shape)}")
    return input, False


def _same_padding(weight, dilation, n):
    pads = []
    for i in range(n):
        total = dilation[i] * (weight.shape[2 + i] - 1)
        pads += [total // 2, total - total // 2]
    return pads


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``F.conv2d`` (NCHW or unbatched CHW); in the autocast dtype inside an autocast region."""
    return _conv2d_act(input, weight, bias, stride, padding, dilation, groups, "none")


def _conv2d_act(input, weight, bias, stride, padding, dilation, groups, act):
    """``act(F.conv2d(...))``; on the wgpu device relu/sigmoid/tanh run in the conv's epilogue."""
    input, weight, bias = _autocast("conv2d", input, weight, bias)
    x, unb = _batched(input, 4, "conv2d")
    stride, dilation = _pair(stride), _pair(dilation)
    if isinstance(padding, str):
        if padding == "valid":
            pads = [0, 0, 0, 0]
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = _same_padding(weight, dilation, 2)
        else:
            raise ValueError(f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}")
    else:
        p = _pair(padding)
        pads = [p[0], p[0], p[1], p[1]]
    y = _C._conv2d(x, weight, bias, stride, pads, dilation, groups, act)
    return y.squeeze(0) if unb else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``F.conv1d`` (NCL or unbatched CL)."""
    x, unb = _batched(input, 3, "conv1d")
    if weight.dim() != 3:
        raise RuntimeError(f"weight should have 3 dimensions for conv1d, got weight of size {list(weight.shape)}")
    if isinstance(padding, str):
        pad = padding
    else:
        pad = (0, _pair(padding, 1)[0])
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, _pair(stride, 1)[0]), pad,
               (1, _pair(dilation, 1)[0]), groups).squeeze(2)
    return y.squeeze(0) if unb else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``F.conv_transpose2d`` (NCHW or unbatched CHW); weight is ``[C_in, C_out/groups, kH, kW]``.
    In the autocast dtype inside an autocast region."""
    input, weight, bias = _autocast("conv_transpose2d", input, weight, bias)
    x, unb = _batched(input, 4, "conv_transpose2d")
    y = _C._conv_transpose2d(x, weight, bias, _pair(stride), _pair(padding), _pair(output_padding),
                             groups, _pair(dilation))
    return y.squeeze(0) if unb else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """``F.conv_transpose1d`` (NCL or unbatched CL)."""
    x, unb = _batched(input, 3, "conv_transpose1d")
    one = lambda v: (1, _pair(v, 1)[0])  # noqa: E731
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, one(stride), (0, _pair(padding, 1)[0]),
                         (0, _pair(output_padding, 1)[0]), groups, one(dilation)).squeeze(2)
    return y.squeeze(0) if unb else y


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """``F.max_pool2d``; ``stride`` defaults to ``kernel_size``."""
    x, unb = _batched(input, 4, "max_pool2d")
    k = _pair(kernel_size)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride)
    v, i = _C._max_pool2d(x, k, s, _pair(padding), _pair(dilation), ceil_mode)
    if unb:
        v, i = v.squeeze(0), i.squeeze(0)
    return (v, i) if return_indices else v


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """``F.max_pool1d``."""
    x, unb = _batched(input, 3, "max_pool1d")
    k = _pair(kernel_size, 1)[0]
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride, 1)[0]
    v, i = _C._max_pool2d(x.unsqueeze(2), [1, k], [1, s], [0, _pair(padding, 1)[0]],
                          [1, _pair(dilation, 1)[0]], ceil_mode)
    v, i = v.squeeze(2), i.squeeze(2)
    if unb:
        v, i = v.squeeze(0), i.squeeze(0)
    return (v, i) if return_indices else v


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """``F.avg_pool2d``."""
    x, unb = _batched(input, 4, "avg_pool2d")
    k = _pair(kernel_size)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride)
    y = _C._avg_pool2d(x, k, s, _pair(padding), ceil_mode, count_include_pad, divisor_override)
    return y.squeeze(0) if unb else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """``F.avg_pool1d``."""
    x, unb = _batched(input, 3, "avg_pool1d")
    k = _pair(kernel_size, 1)[0]
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride, 1)[0]
    y = _C._avg_pool2d(x.unsqueeze(2), [1, k], [1, s], [0, _pair(padding, 1)[0]], ceil_mode,
                       count_include_pad, None).squeeze(2)
    return y.squeeze(0) if unb else y


def adaptive_avg_pool2d(input, output_size):
    """``F.adaptive_avg_pool2d``; ``None`` in ``output_size`` keeps that input size."""
    x, unb = _batched(input, 4, "adaptive_avg_pool2d")
    o = list(output_size) if isinstance(output_size, (list, tuple)) else [output_size, output_size]
    o = [x.shape[2 + i] if v is None else int(v) for i, v in enumerate(o)]
    y = _C._adaptive_avg_pool2d(x, o)
    return y.squeeze(0) if unb else y


def adaptive_avg_pool1d(input, output_size):
    """``F.adaptive_avg_pool1d``."""
    x, unb = _batched(input, 3, "adaptive_avg_pool1d")
    o = _pair(output_size, 1)[0]
    y = _C._adaptive_avg_pool2d(x.unsqueeze(2), [1, o]).squeeze(2)
    return y.squeeze(0) if unb else y


def _adaptive_size(x, output_size, n):
    o = list(output_size) if isinstance(output_size, (list, tuple)) else [output_size] * n
    return [x.shape[x.dim() - n + i] if v is None else int(v) for i, v in enumerate(o)]


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """``F.adaptive_max_pool2d``; ``None`` in ``output_size`` keeps that input size. Indices are
    flat ``h * W + w`` positions within each plane (int64), as PyTorch returns them."""
    x, unb = _batched(input, 4, "adaptive_max_pool2d")
    v, i = _C._adaptive_max_pool2d(x, _adaptive_size(x, output_size, 2))
    if unb:
        v, i = v.squeeze(0), i.squeeze(0)
    return (v, i) if return_indices else v


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """``F.adaptive_max_pool1d``."""
    x, unb = _batched(input, 3, "adaptive_max_pool1d")
    v, i = _C._adaptive_max_pool2d(x.unsqueeze(2), [1, _pair(output_size, 1)[0]])
    v, i = v.squeeze(2), i.squeeze(2)
    if unb:
        v, i = v.squeeze(0), i.squeeze(0)
    return (v, i) if return_indices else v
