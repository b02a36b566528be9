"""Random number generation. One seedable generator (NumPy's PCG64) drives every random op, so
``manual_seed`` makes runs reproducible. Streams differ from PyTorch's (different algorithm)."""

import builtins
import math

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._out import ANY as _ANY_DTYPE
from rustgrad._out import LONG_ONLY_MULTINOMIAL as _LONG_ONLY
from rustgrad._out import supports_out as _supports_out


class Generator:
    """A random generator (``torch.Generator``). A CPU generator draws with NumPy's PCG64; a
    ``device="wgpu"`` one is a Philox4x32-10 key (the seed) and a draw counter, and its samples
    are computed on the device (no host draw, no upload)."""

    def __init__(self, device="cpu"):
        self.device = _C.device(device)
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        self._offset = 0

    def manual_seed(self, seed):
        self._seed = builtins.int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        self._offset = 0
        return self

    def _next_draw(self):
        """(seed, offset) of the next device draw; every draw uses a fresh offset."""
        key = (self._seed % 2**64, self._offset)
        self._offset += 1
        return key

    def seed(self):
        s = builtins.int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        import json

        st = json.dumps(self._rng.bit_generator.state).encode()
        return _C.tensor(list(st), dtype=_C.uint8)

    def set_state(self, state):
        import json

        self._rng.bit_generator.state = json.loads(bytes(state.tolist()).decode())


default_generator = Generator()
default_wgpu_generator = Generator("wgpu")


def _device_gen(generator, device):
    """The generator of a draw on a wgpu ``device`` (the device default unless one is given)."""
    if generator is not None and generator.device.type == "wgpu":
        return generator
    return default_wgpu_generator


def _is_wgpu(device):
    return device is not None and _C.device(device).type == "wgpu"


def _gen(generator):
    return (generator or default_generator)._rng


def manual_seed(seed):
    """Seed the default generators of every device; returns the CPU one, like
    ``torch.manual_seed``."""
    default_wgpu_generator.manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _sizes(size, fn="rand"):
    """Sizes as PyTorch reads them (TypeError for floats ...), RuntimeError for negative ones."""
    from rustgrad._creation import _sizes as parse

    sizes = tuple(parse(size, fn))
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {builtins.min(sizes)}: {list(sizes)}")
    return sizes


def _draw(fn, *args, **kwargs):
    """Run a NumPy sampler; an impossible size is PyTorch's RuntimeError, not MemoryError."""
    try:
        return fn(*args, **kwargs)
    except (MemoryError, ValueError, OverflowError) as e:
        raise RuntimeError(f"cannot allocate the random tensor: {e}") from None


_KERNEL_DTYPE = {"int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool"}


def _np_dtype(dtype, kernel="check_uniform_bounds", shape=(1,)):
    if dtype is not None and not dtype.is_floating_point and math.prod(shape):  # (empty: no kernel runs)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_KERNEL_DTYPE[str(dtype).split('.')[-1]]}'")
    return "float64" if dtype is _C.float64 else "float32"


def _sample(fn, shape, out_dtype, np_dtype):
    """Draw ``shape`` samples; an empty shape NumPy cannot describe (0 x 2**62) needs none."""
    if not math.prod(shape):
        return _C._empty(list(shape), out_dtype or _C.float32)
    return _draw(fn, shape, dtype=np_dtype)


def _out(arr, dtype, requires_grad, device=None):
    if isinstance(arr, _C.Tensor):
        if device is not None and _C.device(device).type != "cpu":
            arr = arr._to_device(device)
        return arr.requires_grad_(True) if requires_grad else arr
    arr = np.asarray(arr)  # (np.ascontiguousarray would turn a 0-d sample into shape (1,))
    t = _C.from_numpy(arr if arr.flags.c_contiguous else arr.copy())
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device is not None and _C.device(device).type != "cpu":
        # Sampled on the host generator, then uploaded (device-side RNG comes later).
        t = t._to_device(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _device_draw(shape, normal, generator, device, requires_grad):
    seed, offset = _device_gen(generator, device)._next_draw()
    t = _C._wgpu_random(list(shape), normal, seed, offset)
    return t.requires_grad_(True) if requires_grad else t


@_supports_out("rand", _ANY_DTYPE, creation=True)
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    shape = _sizes(size, "rand")
    if _is_wgpu(device) and dtype in (None, _C.float32):
        return _device_draw(shape, False, generator, device, requires_grad)
    # (rand checks the dtype even for an empty shape; randn only when it samples)
    return _out(_sample(_gen(generator).random, shape, dtype, _np_dtype(dtype)), dtype, requires_grad, device)


@_supports_out("randn", _ANY_DTYPE, creation=True)
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    shape = _sizes(size, "randn")
    if _is_wgpu(device) and dtype in (None, _C.float32):
        return _device_draw(shape, True, generator, device, requires_grad)
    return _out(_sample(_gen(generator).standard_normal, shape, dtype, _np_dtype(dtype, "normal_kernel_cpu", shape)),
                dtype, requires_grad, device)


@_supports_out("randint", _ANY_DTYPE, creation=True)
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high) (``randint(high, size)`` also works)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    shape = _sizes((size,), "randint")
    for v in (low, high):
        if not -(2**63) <= v < 2**63:
            raise ValueError("Overflow when unpacking long long")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    a = _draw(_gen(generator).integers, low, high, size=shape, dtype=np.int64)
    return _out(a, dtype or _C.int64, requires_grad, device)


@_supports_out("randperm", _ANY_DTYPE, creation=True)
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    if isinstance(n, (builtins.bool, np.bool_)) or not isinstance(n, (builtins.int, np.integer)):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    n = builtins.int(n)
    if not -(2**63) <= n < 2**63:
        raise ValueError("Overflow when unpacking long long")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if n >= 2**40:  # PyTorch's allocator refuses it; NumPy would try
        raise RuntimeError(f"Storage size calculation overflowed with sizes=[{n}]")
    return _out(_draw(_gen(generator).permutation, n).astype(np.int64), dtype or _C.int64, requires_grad, device)


def rand_like(input, dtype=None, device=None, **kw):
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device)


def randn_like(input, dtype=None, device=None, **kw):
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device)


def randint_like(input, low=0, high=None, dtype=None, **kw):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype)


@_supports_out("normal", _ANY_DTYPE, creation=True)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers."""
    m = mean.detach().numpy() if isinstance(mean, _C.Tensor) else mean
    s = std.detach().numpy() if isinstance(std, _C.Tensor) else std
    if isinstance(std, _C.Tensor):
        if not (s >= 0).all():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    shape = tuple(size) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    a = _gen(generator).standard_normal(shape) * s + m
    like = mean if isinstance(mean, _C.Tensor) else std if isinstance(std, _C.Tensor) else None
    return _out(a, dtype or (like.dtype if like is not None else _C.float32), requires_grad)


@_supports_out("bernoulli", _ANY_DTYPE)
def bernoulli(input, p=None, *, generator=None):
    """Samples 1 with probability ``input`` (elementwise)."""
    if input.device.type == "wgpu":
        # Drawn on the device. Probabilities outside [0, 1] are not checked there (a check would
        # be a readback per call); below 0 they give 0, above 1 they give 1.
        if p is not None:
            _check_p(p)
            input = _C._full(list(input.shape), float(p), _C.float32)._to_device(input.device)
        seed, offset = _device_gen(generator, input.device)._next_draw()
        return _C._wgpu_bernoulli(input.detach(), seed, offset)
    if p is not None:
        _check_p(p)
        probs = np.full(tuple(input.shape), p)
    else:
        probs = input.detach().numpy()
        if not ((probs >= 0) & (probs <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    a = _gen(generator).random(probs.shape) < probs
    return _out(a, input.dtype, False)


def _check_p(p):
    if isinstance(p, _C.Tensor):
        a = p.detach().numpy()
        if not ((a >= 0) & (a <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")


def _bernoulli_(self, p=0.5, *, generator=None):
    """``Tensor.bernoulli_(p)``: fill with 1 at probability ``p`` (a number or a tensor)."""
    from rustgrad.autograd.grad_mode import no_grad

    _check_p(p)
    if self.device.type == "wgpu":
        probs = p if isinstance(p, _C.Tensor) else _C._full(list(self.shape), float(p), _C.float32)
        probs = probs.detach()._to_device(self.device).expand(*self.shape)
        with no_grad():
            self.copy_(bernoulli(probs, generator=generator))
        return self
    if isinstance(p, _C.Tensor):
        p = p.detach().numpy()
    with no_grad():
        self.copy_(_out(_gen(generator).random(tuple(self.shape)) < p, self.dtype, False))
    return self




@_supports_out("multinomial", _LONG_ONLY)
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices from (unnormalised) probability rows."""
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_KERNEL_DTYPE[str(input.dtype).split('.')[-1]]}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if input.shape[-1] == 0:
        raise RuntimeError("multinomial: cannot sample from an empty distribution (no categories)")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    p = input.detach().numpy().astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    rng = _gen(generator)
    out = []
    for r in rows:
        if r.sum() <= 0 or (r < 0).any() or not np.isfinite(r).all():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and num_samples > (r > 0).sum():
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        out.append(rng.choice(len(r), size=num_samples, replace=replacement, p=r / r.sum()))
    a = np.array(out, dtype=np.int64).reshape(p.shape[:-1] + (num_samples,))
    return _out(a, _C.int64, False)


def _fill_uniform_(t, a=0.0, b=1.0, generator=None):
    from rustgrad.autograd.grad_mode import no_grad

    with no_grad():
        t.copy_(_out(_gen(generator).uniform(a, b, tuple(t.shape)), t.dtype, False))
    return t


def _fill_normal_(t, mean=0.0, std=1.0, generator=None):
    from rustgrad.autograd.grad_mode import no_grad

    with no_grad():
        t.copy_(_out(_gen(generator).normal(mean, std, tuple(t.shape)), t.dtype, False))
    return t
