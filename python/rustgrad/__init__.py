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

from rustgrad import _tensor  # noqa: E402,F401  (adds Python-level Tensor methods)
from rustgrad._creation import *  # noqa: E402,F401,F403
from rustgrad._functional import *  # noqa: E402,F401,F403
from rustgrad._reduce import *  # noqa: E402,F401,F403
from rustgrad._shape import *  # noqa: E402,F401,F403
from rustgrad._indexing import *  # noqa: E402,F401,F403
from rustgrad._linalg import *  # noqa: E402,F401,F403
from rustgrad.serialization import *  # noqa: E402,F401,F403
from rustgrad.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402,F401
from rustgrad import autograd, cuda, backends  # noqa: E402,F401
from rustgrad import nn, optim, utils, vision  # noqa: E402,F401
from rustgrad._printing import set_printoptions  # noqa: E402,F401
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
