"""``torch.autocast``: a region where the listed ops run in a lower-precision float dtype.

The state is per thread (as PyTorch's) and per device type. Ops consult it through
``cast_inputs``: an op on the lower-precision list (matmul, linear, convolutions, ...) casts its
float32 inputs to the autocast dtype; an op on the float32 list (losses, ``prod``) casts
lower-precision inputs up to float32. float64 tensors are never touched, and ops on neither list
just promote as usual, so ``bf16_matmul_result + f32_tensor`` is float32 as in PyTorch.
"""

import functools
import threading
import warnings

import rustgrad
from rustgrad import _C

__all__ = ["autocast", "is_autocast_available"]

# PyTorch's CPU autocast lists (the subset of ops rustgrad has). Ops name the list they are on.
LOWER_PRECISION_OPS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "linear", "prelu",
    "scaled_dot_product_attention",
})
FP32_OPS = frozenset({
    "prod", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
    "hinge_embedding_loss", "poisson_nll_loss", "margin_ranking_loss", "soft_margin_loss",
    "triplet_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
})

# The wgpu device follows PyTorch's CUDA lists (the subset of ops that consult autocast): the
# same lower-precision ops, and float32 for softmax/log_softmax, the norms and the losses.
# binary_cross_entropy is on neither: CUDA autocast refuses it (see ``_BANNED``).
WGPU_LOWER_PRECISION_OPS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "linear", "prelu",
    "scaled_dot_product_attention",
})
WGPU_FP32_OPS = frozenset({
    "prod", "softmax", "log_softmax", "layer_norm", "group_norm", "mse_loss", "l1_loss", "smooth_l1_loss",
    "huber_loss", "nll_loss", "cross_entropy_loss", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_embedding_loss", "hinge_embedding_loss", "poisson_nll_loss", "margin_ranking_loss",
    "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
})
_OP_LISTS = {"cpu": (LOWER_PRECISION_OPS, FP32_OPS), "wgpu": (WGPU_LOWER_PRECISION_OPS, WGPU_FP32_OPS)}

# Ops that refuse to run under autocast on a device (PyTorch's CUDA message).
_BANNED = {"wgpu": {"binary_cross_entropy": (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")}}

# Device types autocast accepts, with the lower-precision dtypes each supports and its default
# (bfloat16 on the CPU, float16 on wgpu as on CUDA).
_SUPPORTED = {"cpu": ((_C.bfloat16, _C.float16), _C.bfloat16), "wgpu": ((_C.float16, _C.bfloat16), _C.float16)}
_KNOWN_DEVICES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
                  "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone", "wgpu")


class _State(threading.local):
    def __init__(self):
        # device type -> (enabled, dtype); absent means off with the default dtype.
        self.modes = {}


_STATE = _State()


def is_autocast_available(device_type):
    """Whether autocast can be enabled for ``device_type`` (``"cpu"`` and ``"wgpu"`` in rustgrad)."""
    return device_type in _SUPPORTED


def is_autocast_enabled(device_type="cuda"):
    """``torch.is_autocast_enabled(device_type)``: inside an enabled autocast region?"""
    return _STATE.modes.get(device_type, (False, None))[0]


def get_autocast_dtype(device_type):
    """``torch.get_autocast_dtype(device_type)``: the dtype autocast uses there (bfloat16 on CPU,
    float16 on wgpu as on CUDA)."""
    mode = _STATE.modes.get(device_type)
    if mode is not None and mode[1] is not None:
        return mode[1]
    return _SUPPORTED.get(device_type, ((), _C.float16))[1]


def cast_inputs(op, *args):
    """``args`` as op ``op`` sees them under the current autocast state: unchanged outside an
    autocast region or for an op on neither of its device's lists; float tensors cast otherwise
    (see the module docstring). Non-tensors pass through."""
    if not _STATE.modes:
        return args
    return tuple(_cast(op, a) for a in args)


def _cast(op, a):
    if not isinstance(a, rustgrad.Tensor) or not a.is_floating_point() or a.dtype is _C.float64:
        return a
    dev = a.device.type
    if not is_autocast_enabled(dev):
        return a
    banned = _BANNED.get(dev, {}).get(op)
    if banned is not None:
        raise RuntimeError(banned)
    lower, fp32 = _OP_LISTS.get(dev, (frozenset(), frozenset()))
    if op in lower:
        want = get_autocast_dtype(dev)
    elif op in fp32:
        want = _C.float32
    else:
        return a
    return a if a.dtype is want else a.to(want)


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context
    manager (or decorator) in which ops on the lower-precision list run in ``dtype`` (bfloat16 by
    default on the CPU, float16 on wgpu). ``cache_enabled`` is accepted for PyTorch compatibility; rustgrad casts
    weights afresh each call."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        kind = device_type.split(":")[0]
        if kind not in _KNOWN_DEVICES:
            raise RuntimeError(
                f"Expected one of {', '.join(_KNOWN_DEVICES)} device type at start of device string: {device_type}")
        self.device = kind
        self.fast_dtype = get_autocast_dtype(kind) if dtype is None else dtype
        self._enabled = bool(enabled)
        if kind not in _SUPPORTED:
            if self._enabled:
                warnings.warn(f"User provided device_type of '{kind}', but autocast is not available for it in "
                              "rustgrad (it has autocast for cpu and wgpu). Disabling autocast.", stacklevel=2)
            self._enabled = False
        elif self._enabled and self.fast_dtype not in _SUPPORTED[kind][0]:
            if kind == "cpu":
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                              stacklevel=2)
            else:
                warnings.warn(f"In {kind} autocast, but the target dtype is not supported. Disabling autocast.\n"
                              f"{kind} Autocast only supports dtypes of torch.float16, torch.bfloat16 currently.",
                              stacklevel=2)
            self._enabled = False

    def __enter__(self):
        self._prev = _STATE.modes.get(self.device)
        _STATE.modes[self.device] = (self._enabled, self.fast_dtype)
        return self

    def __exit__(self, *exc):
        if self._prev is None:
            del _STATE.modes[self.device]
        else:
            _STATE.modes[self.device] = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)

        return wrapper
