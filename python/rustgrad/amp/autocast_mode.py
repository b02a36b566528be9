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

# Device types autocast accepts, with the lower-precision dtypes each supports and its default.
_SUPPORTED = {"cpu": ((_C.bfloat16, _C.float16), _C.bfloat16)}
_KNOWN_DEVICES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
                  "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone", "wgpu")


class _State(threading.local):
    def __init__(self):
        # device type -> (enabled, dtype); absent means off with the default dtype.
        self.modes = {}


_STATE = _State()


def is_autocast_available(device_type):
    """Whether autocast can be enabled for ``device_type`` (only ``"cpu"`` in rustgrad)."""
    return device_type in _SUPPORTED


def is_autocast_enabled(device_type="cuda"):
    """``torch.is_autocast_enabled(device_type)``: inside an enabled autocast region?"""
    return _STATE.modes.get(device_type, (False, None))[0]


def get_autocast_dtype(device_type):
    """``torch.get_autocast_dtype(device_type)``: the dtype autocast uses there (bfloat16 on CPU)."""
    mode = _STATE.modes.get(device_type)
    if mode is not None and mode[1] is not None:
        return mode[1]
    return _SUPPORTED.get(device_type, ((), _C.float16))[1]


def cast_inputs(op, *args):
    """``args`` as op ``op`` sees them under the current autocast state: unchanged outside an
    autocast region or for an op on neither list; float tensors cast otherwise (see the module
    docstring). Non-tensors pass through."""
    if not _STATE.modes:
        return args
    if op in LOWER_PRECISION_OPS:
        return tuple(_cast(a, lambda d: get_autocast_dtype(d)) for a in args)
    if op in FP32_OPS:
        return tuple(_cast(a, lambda d: _C.float32) for a in args)
    return args


def _cast(a, target):
    if not isinstance(a, rustgrad.Tensor) or not a.is_floating_point() or a.dtype is _C.float64:
        return a
    dev = a.device.type
    if not is_autocast_enabled(dev):
        return a
    want = target(dev)
    return a if a.dtype is want else a.to(want)


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context
    manager (or decorator) in which ops on the lower-precision list run in ``dtype`` (bfloat16 by
    default on the CPU). ``cache_enabled`` is accepted for PyTorch compatibility; rustgrad casts
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
                              "rustgrad (float16/bfloat16 run on the CPU only). Disabling autocast.", stacklevel=2)
            self._enabled = False
        elif self._enabled and self.fast_dtype not in _SUPPORTED[kind][0]:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.", stacklevel=2)
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
