# ruff: noqa: I001  (the public names are listed in the order PyTorch programs meet them)
"""rustgrad: a PyTorch-style deep-learning library with a Rust core.

``import rustgrad as torch`` is meant to be enough for typical PyTorch training scripts.
"""

from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import (  # noqa: F401
    Tensor,
    bool,
    device,
    dtype,
    float32,
    float64,
    from_numpy,
    get_num_threads,
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
half = None  # float16 is not supported; kept so `torch.half` attribute lookups fail clearly later

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
from rustgrad._printing import set_printoptions  # noqa: E402,F401
from rustgrad._config import show_config  # noqa: E402,F401
from rustgrad._random import manual_seed, seed, initial_seed, Generator, default_generator  # noqa: E402,F401
from rustgrad._random import rand, randn, randint, randperm, rand_like, randn_like, randint_like, normal, bernoulli, multinomial  # noqa: E402,F401


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


class finfo:
    """Machine limits of a floating-point dtype (``torch.finfo``)."""

    def __init__(self, type=None):
        import builtins as _builtins

        import numpy as _np

        type = float32 if type is None else type
        if not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle '{type!r}'")
        info = _np.finfo(_np.float32 if type is float32 else _np.float64)
        self.bits, self.eps, self.max, self.min = info.bits, _builtins.float(info.eps), _builtins.float(info.max), _builtins.float(info.min)
        self.tiny = self.smallest_normal = _builtins.float(info.tiny)
        self.resolution = _builtins.float(info.resolution)
        self.dtype = repr(type).split(".")[-1]

    def __repr__(self):
        return f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, dtype={self.dtype})"


class iinfo:
    """Limits of an integer dtype (``torch.iinfo``)."""

    def __init__(self, type):
        import builtins as _builtins

        import numpy as _np

        if type.is_floating_point or type is bool:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{type!r}'")
        info = _np.iinfo({uint8: _np.uint8, int32: _np.int32, int64: _np.int64}[type])
        self.bits, self.min, self.max = info.bits, _builtins.int(info.min), _builtins.int(info.max)
        self.dtype = repr(type).split(".")[-1]

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"

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
