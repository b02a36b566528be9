"""``torch.nn.init``: in-place parameter initialisers (all run under no_grad and return the tensor)."""

import math
import warnings

import numpy as np

import rustgrad

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]


def calculate_gain(nonlinearity, param=None):
    """Recommended gain for a nonlinearity (same table as PyTorch)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    dim = tensor.dim()
    if dim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    num_input_fmaps = tensor.shape[1]
    num_output_fmaps = tensor.shape[0]
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return num_input_fmaps * receptive, num_output_fmaps * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b) (PyTorch's CPU stream, so seeded weights equal PyTorch's)."""
    with rustgrad.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std**2) (PyTorch's CPU stream)."""
    with rustgrad.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) truncated to [a, b], by PyTorch's rejection sampling and draws.

    When [a, b] holds more than 30% of the mass: ``normal_`` the whole tensor and redraw the
    outliers from fresh whole-tensor ``normal_`` draws until none is left (bit-exact with
    PyTorch). Otherwise: uniform candidates on [a, b] accepted when ``log(u)`` is below the
    log-density relative to its peak; that branch's float32 log is NumPy's, so a candidate lying
    within a rounding of the acceptance boundary can be decided differently than in PyTorch."""

    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may be incorrect.",
            stacklevel=2,
        )
    npd = np.float64 if tensor.dtype == rustgrad.float64 else np.float32
    shape = tuple(tensor.shape)

    def fresh():
        return rustgrad.empty(*shape, dtype=tensor.dtype)

    with rustgrad.no_grad():
        p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
        if p > 0.3:
            lo, hi = npd(a), npd(b)  # (the bounds as the tensor's dtype holds them)
            result = tensor.normal_(mean, std, generator=generator).numpy().copy()
            while True:
                mask = (result < lo) | (result > hi)
                if not mask.any():
                    break
                result = np.where(mask, fresh().normal_(mean, std, generator=generator).numpy(), result)
        else:
            mode = max(a, min(mean, b))
            log_peak = -0.5 * ((mode - mean) / std) ** 2

            def log_pdf(c):  # each step rounded in the tensor's dtype, as PyTorch's in-place ops
                c = (c - npd(mean)) / npd(std)
                return (c * c) * npd(-0.5) - npd(log_peak)

            def log_u():
                with np.errstate(divide="ignore"):
                    return np.log(fresh().uniform_(generator=generator).numpy())

            result = tensor.uniform_(a, b, generator=generator).numpy().copy()
            pending = log_u() > log_pdf(result)
            while pending.any():
                cand = fresh().uniform_(a, b, generator=generator).numpy()
                result = np.where(pending, cand, result)
                pending = np.where(pending, log_u() > log_pdf(cand), pending)
        tensor.copy_(rustgrad.from_numpy(np.ascontiguousarray(result.astype(npd))).reshape(shape))
        return tensor


def constant_(tensor, val):
    with rustgrad.no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with rustgrad.no_grad():
        tensor.copy_(rustgrad.eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype))
    return tensor


def dirac_(tensor, groups=1):
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    arr = np.zeros(sizes)
    for g in range(groups):
        for d in range(min_dim):
            idx = (g * out_per_group + d, d) + tuple(s // 2 for s in sizes[2:])
            arr[idx] = 1
    with rustgrad.no_grad():
        tensor.copy_(rustgrad.tensor(arr, dtype=tensor.dtype))
    return tensor


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """(Semi-)orthogonal matrix from the QR of a normal sample, sign-corrected."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    # The normal sample is PyTorch's (normal_ on a (rows, cols) tensor of the same dtype); the
    # QR is NumPy's LAPACK one, so the result equals PyTorch's up to the QR's rounding.
    flat = rustgrad.empty(rows, cols, dtype=tensor.dtype).normal_(0, 1, generator=generator).numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with rustgrad.no_grad():
        tensor.copy_(rustgrad.tensor(q * gain, dtype=tensor.dtype).reshape(tensor.shape))
    return tensor


def sparse_(tensor, sparsity, std=0.01, generator=None):
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with rustgrad.no_grad():
        tensor.normal_(0, std, generator=generator)
        arr = tensor.numpy().copy()
        for c in range(cols):
            perm = rustgrad.randperm(rows).numpy()
            arr[perm[:num_zeros], c] = 0
        tensor.copy_(rustgrad.tensor(arr, dtype=tensor.dtype))
    return tensor


# deprecated non-underscore aliases kept for old scripts
uniform = uniform_
normal = normal_
constant = constant_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
orthogonal = orthogonal_
