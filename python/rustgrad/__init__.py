# ruff: noqa: I001  (the public names are listed in the order PyTorch programs meet them)
"""rustgrad: a PyTorch-style deep-learning library with a Rust core.

``import rustgrad as torch`` is meant to be enough for typical PyTorch training scripts.
"""

from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import (  # noqa: F401
    Tensor,
    bfloat16,
    bool,
    device,
    dtype,
    float16,
    float32,
    float64,
    from_numpy,
    get_num_threads,
    int8,
    int16,
    int32,
    int64,
    set_num_threads,
    uint8,
)
from rustgrad._size import Size

_C._set_size_class(Size)

float = float32
double = float64
long = int64
int = int32
half = float16
short = int16

from rustgrad._legacy_tensor import *  # noqa: E402,F401,F403  (FloatTensor, LongTensor, ...)
from rustgrad._creation import *  # noqa: E402,F401,F403
from rustgrad._functional import *  # noqa: E402,F401,F403
from rustgrad._reduce import *  # noqa: E402,F401,F403
from rustgrad._shape import *  # noqa: E402,F401,F403
from rustgrad._indexing import *  # noqa: E402,F401,F403
from rustgrad._linalg import *  # noqa: E402,F401,F403
from rustgrad._math_extra import *  # noqa: E402,F401,F403
from rustgrad.serialization import *  # noqa: E402,F401,F403
from rustgrad.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402,F401
from rustgrad import autograd, cuda, backends, wgpu, accelerator  # noqa: E402,F401
from rustgrad import nn, optim, utils, vision  # noqa: E402,F401
from rustgrad import onnx  # noqa: E402,F401  (rustgrad.onnx.export; needs the optional onnx package only when called)
from rustgrad._printing import set_printoptions  # noqa: E402,F401
from rustgrad._config import show_config  # noqa: E402,F401
from rustgrad._random import manual_seed, seed, initial_seed, Generator, default_generator  # noqa: E402,F401
from rustgrad._random import get_rng_state, set_rng_state  # noqa: E402,F401
from rustgrad import random  # noqa: E402,F401
from rustgrad._random import rand, randn, randint, randperm, rand_like, randn_like, randint_like, normal, bernoulli, multinomial  # noqa: E402,F401
from rustgrad import amp, cpu  # noqa: E402,F401
from rustgrad.amp import autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled  # noqa: E402,F401


def _dtype_from_name(name):
    return getattr(_C, name)


def get_default_dtype():
    return float32


def set_default_dtype(d):
    if d is not float32:
        raise NotImplementedError("rustgrad only supports float32 as the default dtype")


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t.is_floating_point()


def numel(t):
    return t.numel()


__version__ = "0.1.0"


def is_inference_mode_enabled():
    """True inside an ``inference_mode()`` block (rustgrad treats it as ``no_grad``)."""
    from rustgrad.autograd import grad_mode

    return grad_mode._INFERENCE_DEPTH > 0


# (bits, eps, max, smallest normal, resolution) of each float dtype, as ``torch.finfo`` reports
# them; bfloat16 has f32's exponent range with an 8-bit significand.
_FINFO = {
    "float16": (16, 2.0**-10, 65504.0, 2.0**-14, 0.001),
    "bfloat16": (16, 2.0**-7, (2 - 2.0**-7) * 2.0**127, 2.0**-126, 0.01),
    "float32": (32, 2.0**-23, (2 - 2.0**-23) * 2.0**127, 2.0**-126, 1e-06),
    "float64": (64, 2.0**-52, 1.7976931348623157e308, 2.0**-1022, 1e-15),
}
_IINFO = {"uint8": (8, 0), "int8": (8, -(2**7)), "int16": (16, -(2**15)), "int32": (32, -(2**31)), "int64": (64, -(2**63))}


class finfo:
    """Machine limits of a floating-point dtype (``torch.finfo``): bits, eps, max, min, tiny
    (= smallest_normal) and resolution."""

    def __init__(self, type=None):
        type = float32 if type is None else type
        if not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle '{type!r}'")
        self.dtype = repr(type).split(".")[-1]
        self.bits, self.eps, self.max, self.tiny, self.resolution = _FINFO[self.dtype]
        self.min = -self.max
        self.smallest_normal = self.tiny

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype (``torch.iinfo``): bits, min, max."""

    def __init__(self, type):
        if type.is_floating_point or type is bool:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{type!r}'")
        self.dtype = repr(type).split(".")[-1]
        self.bits, self.min = _IINFO[self.dtype]
        self.max = 2**self.bits - 1 if self.min == 0 else -self.min - 1

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"

# Tensor's Python-level methods, all from one place (rustgrad._tensor_methods).
from rustgrad import _tensor_methods  # noqa: E402

_tensor_methods.install()

# axis=/keepdims= aliases on the module functions (the Tensor methods get them in install above).
from rustgrad import _dim_aliases  # noqa: E402

_dim_aliases.install()

# Last, so it sees every native entry point: RUSTGRAD_WGPU_FALLBACK=1 runs ops without a wgpu
# kernel on the CPU (with a warning) instead of raising.
from rustgrad import _fallback  # noqa: E402

_fallback.install()
