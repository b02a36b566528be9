"""Random number generation. One seedable generator (NumPy's PCG64) drives every random op, so
``manual_seed`` makes runs reproducible. Streams differ from PyTorch's (different algorithm)."""

import builtins

import numpy as np

from rustgrad import _rustgrad as _C


class Generator:
    """A random generator (``torch.Generator``)."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        self._seed = builtins.int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

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


def _gen(generator):
    return (generator or default_generator)._rng


def manual_seed(seed):
    """Seed the default generator; returns it, like ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(builtins.int(s) for s in size[0])
    return tuple(builtins.int(s) for s in size)


def _np_dtype(dtype):
    return "float64" if dtype is _C.float64 else "float32"


def _out(arr, dtype, requires_grad):
    t = _C.from_numpy(np.ascontiguousarray(arr))
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform samples on [0, 1)."""
    return _out(_gen(generator).random(_sizes(size), dtype=_np_dtype(dtype)), dtype, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal samples."""
    return _out(_gen(generator).standard_normal(_sizes(size), dtype=_np_dtype(dtype)), dtype, requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high) (``randint(high, size)`` also works)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    a = _gen(generator).integers(low, high, size=tuple(size), dtype=np.int64)
    return _out(a, dtype or _C.int64, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    return _out(_gen(generator).permutation(builtins.int(n)).astype(np.int64), dtype or _C.int64, requires_grad)


def rand_like(input, dtype=None, **kw):
    return rand(*input.shape, dtype=dtype or input.dtype)


def randn_like(input, dtype=None, **kw):
    return randn(*input.shape, dtype=dtype or input.dtype)


def randint_like(input, low=0, high=None, dtype=None, **kw):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, out=None, requires_grad=False):
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers."""
    m = mean.detach().numpy() if isinstance(mean, _C.Tensor) else mean
    s = std.detach().numpy() if isinstance(std, _C.Tensor) else std
    shape = tuple(size) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    a = _gen(generator).standard_normal(shape) * s + m
    like = mean if isinstance(mean, _C.Tensor) else std if isinstance(std, _C.Tensor) else None
    return _out(a, dtype or (like.dtype if like is not None else _C.float32), requires_grad)


def bernoulli(input, p=None, *, generator=None):
    """Samples 1 with probability ``input`` (elementwise)."""
    probs = input.detach().numpy() if p is None else np.full(tuple(input.shape), p)
    a = _gen(generator).random(probs.shape) < probs
    return _out(a, input.dtype, False)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices from (unnormalised) probability rows."""
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
