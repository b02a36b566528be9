"""Random number generation with PyTorch's CPU streams.

A CPU :class:`Generator` is the Mersenne Twister (mt19937) PyTorch's CPU generator uses, seeded
the same way (``init_genrand`` with the seed's low 32 bits), and every sampler turns its 32-bit
outputs into values with PyTorch's own transformations, so ``manual_seed(s)`` followed by the
same calls gives the same numbers as PyTorch's CPU generator, bit for bit:

* ``rand``/``uniform_``: float32 takes 24 bits of one draw, float64 53 bits of two draws joined
  high-then-low (``random64``); ``from + u * (to - from)`` is one fused multiply-add, as in
  PyTorch's compiled kernel.
* ``randn``/``normal_``: at least 16 elements fill the whole tensor with uniforms, turn each
  block of 16 into normals by Box-Muller over the pairs ``(j, j + 8)``, and, when the size is
  not a multiple of 16, redraw and recompute the last 16. float32 uses the Cephes log/sincos of
  PyTorch's AVX2 kernel, float64 libm. Fewer than 16 elements use the scalar Box-Muller that
  caches its second value in the generator for the next small draw.
* ``randint``/``random_``: ``draw % range + low`` with a 32-bit draw, or a 64-bit one when the
  range reaches 2**28 (the public wheels' threshold, for every dtype); ``randperm`` PyTorch's swap shuffle (inside-out shuffle with 64-bit draws
  for n of 2**32 / 20 and more); ``bernoulli`` a uniform compared with ``p`` (float64 uniform
  for a number ``p`` or a float64 tensor, float32 otherwise); ``exponential_``
  ``-log1p(-u) / lambd``; ``multinomial`` the exponential race (without replacement or one
  sample) or a binary search of the float CDF with float64 uniforms (with replacement).

The mt19937 output itself comes from NumPy's ``MT19937`` bit generator, whose state is set to
the ``init_genrand`` state; the float transformations that decide the last bit run in Rust
(``src/cpu/random.rs``). New tensors are filled in row-major order; in-place fills of a
non-contiguous view write in memory order (and ``normal_`` takes the scalar path there), as
PyTorch's TensorIterator does.

The device ("wgpu") generator is separate: a Philox4x32-10 key and a draw counter, sampled on
the device (no host draw), so its streams are not PyTorch's.
"""

import builtins
import functools
import math
import os
import struct

import numpy as np

from rustgrad import _rustgrad as _C
from rustgrad._out import ANY as _ANY_DTYPE
from rustgrad._out import LONG_ONLY_MULTINOMIAL as _LONG_ONLY
from rustgrad._out import supports_out as _supports_out

# torch.Generator()'s seed when none is given (c10's default_rng_seed_val).
_DEFAULT_SEED = 67280421310721
_MT_N = 624
# Byte layout of PyTorch's CPU generator state (CPUGeneratorImplState): the legacy
# THGeneratorState (seed, left, seeded, next, 624 state words as uint64, three doubles of the
# old normal cache, a validity int, padding) followed by the float normal cache and its flag.
_STATE_LEGACY = struct.Struct("<QiiQ624Qdddi4x")
_STATE = struct.Struct("<QiiQ624Qdddi4xf?3x")


@functools.lru_cache(maxsize=16)
def _genrand_key(seed):
    """The 624-word mt19937 state of ``init_genrand(seed mod 2**32)`` (std::mt19937's seeding).
    (Cached: samplers seed a fresh generator every epoch; the state setter copies the array.)"""
    key = np.empty(_MT_N, dtype=np.uint32)
    s = seed & 0xFFFFFFFF
    key[0] = s
    for i in range(1, _MT_N):
        s = (1812433253 * (s ^ (s >> 30)) + i) & 0xFFFFFFFF
        key[i] = s
    return key


def _nondeterministic_seed():
    # PyTorch's getNonDeterministicRandom: 53 random bits (they fit in a double).
    return int.from_bytes(os.urandom(8), "little") & 0x1FFFFFFFFFFFFF


class Generator:
    """A random generator (``torch.Generator``).

    A CPU generator is PyTorch's CPU generator: mt19937 plus the cached second value of the
    scalar Box-Muller; ``get_state`` returns PyTorch's 5056-byte state layout as a uint8 tensor
    and ``set_state`` accepts it (or the 5048-byte legacy layout). A ``device="wgpu"`` generator
    is a Philox4x32-10 key (the seed) and a draw counter; its samples are computed on the
    device."""

    def __init__(self, device="cpu"):
        self.device = _C.device(device)
        self._offset = 0
        self._set_seed(_DEFAULT_SEED)

    # -- seeding ------------------------------------------------------------------------------
    def _set_seed(self, seed):
        self._seed = seed
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": _genrand_key(seed & 0xFFFFFFFF), "pos": _MT_N}}
        self._fresh = True  # no draw since seeding (PyTorch's next = 0 rather than 624)
        self._next_double_normal = None
        self._next_float_normal = None
        self._offset = 0

    def manual_seed(self, seed):
        """Seed the generator; ``seed`` is read as PyTorch reads it (an int in
        [-2**63, 2**64), a negative one taken modulo 2**64)."""
        if isinstance(seed, builtins.bool) or not isinstance(seed, (builtins.int, np.integer)):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        seed = builtins.int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError("Overflow when unpacking long long")
        self._set_seed(seed % 2**64)
        return self

    def seed(self):
        """Reseed from a non-deterministic source; returns the new seed."""
        s = _nondeterministic_seed()
        self._set_seed(s)
        return s

    def initial_seed(self):
        """The seed last set (as an unsigned 64-bit value, like PyTorch)."""
        return self._seed

    # -- state --------------------------------------------------------------------------------
    def get_state(self):
        """PyTorch's CPU generator state: a uint8 tensor of 5056 bytes (same layout)."""
        if self.device.type != "cpu":
            return _C.tensor(list(struct.pack("<QQ", self._seed, self._offset)), dtype=_C.uint8)
        st = self._bits.state["state"]
        pos = builtins.int(st["pos"])
        nxt, left = (0, 1) if self._fresh else (pos, _MT_N + 1 - pos)
        dn, fn = self._next_double_normal, self._next_float_normal
        raw = _STATE.pack(
            self._seed, left, 1, nxt, *st["key"].astype(np.uint64).tolist(),
            0.0, 0.0 if dn is None else dn, 0.0, dn is not None,
            0.0 if fn is None else fn, fn is not None,
        )
        return _C.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state from :meth:`get_state` (PyTorch's byte layout, or its legacy one)."""
        if not isinstance(new_state, _C.Tensor) or new_state.dtype != _C.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = bytes(new_state.detach().contiguous().numpy().tobytes())
        if self.device.type != "cpu":
            self._seed, self._offset = struct.unpack("<QQ", raw[:16])
            return self
        if len(raw) == _STATE.size:
            vals = _STATE.unpack(raw)
            fvalid, fval = vals[-1], vals[-2]
        elif len(raw) == _STATE_LEGACY.size:
            vals, fvalid, fval = _STATE_LEGACY.unpack(raw), False, 0.0
        else:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {_STATE.size} but found the input RNG state size to be {len(raw)}"
            )
        seed, left, seeded, nxt = vals[:4]
        key = np.array(vals[4 : 4 + _MT_N], dtype=np.uint64)
        normal_y, normal_valid = vals[4 + _MT_N + 1], vals[4 + _MT_N + 3]
        if not (seeded and 0 < left <= _MT_N and 0 <= nxt <= _MT_N):
            raise RuntimeError("Invalid mt19937 state")
        self._seed = seed
        self._bits = np.random.MT19937()
        # left == 1 means the next draw twists; otherwise `next` words of this block are used.
        pos = _MT_N if left == 1 else nxt
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key.astype(np.uint32), "pos": pos}}
        self._fresh = left == 1 and nxt == 0
        self._next_double_normal = normal_y if normal_valid else None
        self._next_float_normal = fval if fvalid else None
        return self

    # -- raw draws (PyTorch's random() and random64()) -----------------------------------------
    def _random32(self, n):
        """``n`` raw 32-bit outputs as uint64 (PyTorch's ``random()``)."""
        if n:
            self._fresh = False
        return self._bits.random_raw(n) if n else np.empty(0, dtype=np.uint64)

    def _random64(self, n):
        """``n`` 64-bit values, each two outputs joined high-then-low (``random64()``)."""
        r = self._random32(2 * n).reshape(n, 2)
        hi = r[:, 0] << np.uint64(32)
        hi |= r[:, 1]
        return hi

    def _uniform_f32(self, n):
        """float32 uniforms on [0, 1): 24 bits of one output."""
        r = self._random32(n)
        np.bitwise_and(r, np.uint64(0xFFFFFF), out=r)
        x = r.astype(np.float32)
        x *= np.float32(2.0**-24)  # (exact: a 24-bit integer times a power of two)
        return x

    def _uniform_f64(self, n):
        """float64 uniforms on [0, 1): 53 bits of a 64-bit draw."""
        r = self._random64(n)
        np.bitwise_and(r, np.uint64(2**53 - 1), out=r)
        x = r.astype(np.float64)
        x *= 2.0**-53
        return x

    def _normal_scalar(self, n):
        """``n`` standard normals from the scalar Box-Muller (float64), honouring the value the
        previous small draw cached and caching the unused one, as PyTorch's generator does."""
        out = np.empty(n, dtype=np.float64)
        i = 0
        if n and self._next_double_normal is not None:
            out[0], self._next_double_normal, i = self._next_double_normal, None, 1
        rest = n - i
        if rest:
            pairs = self._uniform_f64(2 * ((rest + 1) // 2))
            _C._rng_box_muller_pairs(pairs)
            out[i:] = pairs[:rest]
            if rest % 2:
                self._next_double_normal = builtins.float(pairs[-1])
        return out

    def _next_draw(self):
        """(seed, offset) of the next device draw; every draw uses a fresh offset."""
        key = (self._seed % 2**64, self._offset)
        self._offset += 1
        return key

    @property
    def _rng(self):
        """NumPy-style draws (``random``, ``uniform``, ``integers``, ``permutation``) that
        consume this generator the way the matching torch calls would."""
        return _TorchDraws(self)


class _TorchDraws:
    """The handful of NumPy-``Generator``-style scalar draws the data and vision helpers use,
    each made with the torch call torchvision makes for it (``torch.rand(1)``,
    ``torch.empty(1).uniform_``, ``torch.randint(lo, hi, (1,))``, ``torch.randperm``)."""

    def __init__(self, gen):
        self._g = gen

    def random(self):
        return builtins.float(self._g._uniform_f32(1)[0])

    def uniform(self, lo, hi):
        return builtins.float(_uniform_values(self._g, 1, _C.float32, lo, hi)[0])

    def integers(self, lo, hi):
        return builtins.int(_randint_values(self._g, 1, lo, hi, _C.int64)[0])

    def permutation(self, n):
        return _randperm_values(self._g, builtins.int(n))


default_generator = Generator()
default_generator._set_seed(_nondeterministic_seed())  # like PyTorch's default CPU generator
default_wgpu_generator = Generator("wgpu")


def _device_gen(generator, device):
    """The generator of a draw on a wgpu ``device`` (the device default unless one is given)."""
    if generator is not None and generator.device.type == "wgpu":
        return generator
    return default_wgpu_generator


def _is_wgpu(device):
    return device is not None and _C.device(device).type == "wgpu"


def _cpu_gen(generator):
    """The CPU generator a host draw uses."""
    if generator is None or generator.device.type != "cpu":
        return default_generator
    return generator


def _gen(generator):
    """NumPy-style draws on ``generator`` (see :class:`Generator`'s ``_rng``)."""
    return _cpu_gen(generator)._rng


def _seed_draw(generator=None):
    """``int(torch.empty((), dtype=torch.int64).random_(generator=generator))``: a 64-bit draw
    modulo 2**63 (how the sampler and DataLoader derive their seeds)."""
    return builtins.int(_cpu_gen(generator)._random64(1)[0] % np.uint64(2**63))


def manual_seed(seed):
    """Seed the default generators of every device; returns the CPU one, like
    ``torch.manual_seed`` (which reads ``seed`` with ``int()`` first)."""
    seed = builtins.int(seed)
    default_wgpu_generator.manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generators non-deterministically; returns the seed (``torch.seed``)."""
    s = default_generator.seed()
    default_wgpu_generator.manual_seed(s)
    return s


def initial_seed():
    """The default CPU generator's seed (``torch.initial_seed``)."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default CPU generator's state as a uint8 tensor (``torch.get_rng_state``)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default CPU generator's state (``torch.set_rng_state``)."""
    default_generator.set_state(new_state)


# ---------------------------------------------------------------------------- value makers
def _is_f64(dtype):
    return dtype is _C.float64


def _uniform_values(gen, n, dtype, a, b):
    """``n`` values of PyTorch's ``uniform_(a, b)`` for a float ``dtype`` (NumPy array)."""
    if _is_f64(dtype):
        x, lo, span = gen._uniform_f64(n), builtins.float(a), builtins.float(b) - builtins.float(a)
        hi = builtins.float(b)
    else:
        lo, hi = np.float32(a), np.float32(b)
        x, span = gen._uniform_f32(n), builtins.float(hi - lo)
        lo, hi = builtins.float(lo), builtins.float(hi)
    if (lo, span) != (0.0, 1.0):
        _C._rng_fused_affine(x, span, lo)
        # A sample the rounding carried up to `to` is mapped to `from` (PyTorch keeps [a, b)).
        x[x == x.dtype.type(hi)] = x.dtype.type(lo)
    return x


def _normal_values(gen, n, dtype, mean, std, contiguous=True):
    """``n`` values of PyTorch's ``normal_(mean, std)`` for a float ``dtype`` (NumPy array)."""
    if n >= 16 and contiguous:
        f64 = _is_f64(dtype)
        draw = gen._uniform_f64 if f64 else gen._uniform_f32
        fill = _C._rng_normal_fill_f64 if f64 else _C._rng_normal_fill_f32
        m, s = (builtins.float(mean), builtins.float(std)) if f64 else (np.float32(mean), np.float32(std))
        x = draw(n)
        fill(x, m, s)
        if n % 16:
            tail = draw(16)
            fill(tail, m, s)
            x[n - 16 :] = tail
        return x
    x = gen._normal_scalar(n)
    if (mean, std) != (0.0, 1.0):
        _C._rng_fused_affine(x, builtins.float(std), builtins.float(mean))
    return x if _is_f64(dtype) else x.astype(np.float32)


def _randint_values(gen, n, low, high, dtype):
    """``n`` integers of PyTorch's ``random_(low, high)``: ``draw % (high - low) + low``."""
    span = high - low
    # 64-bit draws from a range of 2**28 up (PyTorch caps the modulo skew there), any dtype.
    wide = span >= 2**28
    draws = gen._random64(n) if wide else gen._random32(n)
    vals = draws % np.uint64(span)
    # (low + value wraps like PyTorch's int64 arithmetic)
    return (vals + np.uint64(low % 2**64)).view(np.int64)


def _randperm_values(gen, n):
    """PyTorch's ``randperm(n)`` as an int64 NumPy array."""
    out = np.empty(n, dtype=np.int64)
    if n < (2**32 - 1) // 20:
        draws = gen._random32(builtins.max(n - 1, 0)).astype(np.uint32)
        _C._rng_randperm_swaps(draws, out)
    else:
        _C._rng_randperm_inside_out(gen._random64(n), out)
    return out


def _exponential_values(gen, n, lambd):
    x = gen._uniform_f64(n)
    _C._rng_exponential(x, builtins.float(lambd))
    return x


# --------------------------------------------------------------------------------- helpers
def _sizes(size, fn="rand"):
    """Sizes as PyTorch reads them (TypeError for floats ...), RuntimeError for negative ones."""
    from rustgrad._creation import _sizes as parse

    sizes = tuple(parse(size, fn))
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {builtins.min(sizes)}: {list(sizes)}")
    return sizes


def _numel(shape):
    n = math.prod(shape)
    if n >= 2**40:  # more than any host can hold; PyTorch's allocator refuses it too
        raise RuntimeError(f"cannot allocate the random tensor: {list(shape)} is too large")
    return n


_KERNEL_DTYPE = {"int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool", "int16": "Short", "int8": "Char"}


def _check_float(dtype, kernel="check_uniform_bounds", shape=(1,)):
    if dtype is not None and not dtype.is_floating_point and math.prod(shape):  # (empty: no kernel runs)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_KERNEL_DTYPE[str(dtype).split('.')[-1]]}'")


def _out(arr, dtype, requires_grad, device=None, shape=None):
    """A tensor from the NumPy values ``arr`` (reshaped to ``shape``), cast and moved."""
    if shape is not None and not math.prod(shape):  # (an empty shape NumPy cannot hold: 0 x 2**62)
        t = _C._empty(list(shape), dtype or _C.float32)
    else:
        arr = np.asarray(arr)
        if shape is not None:
            arr = arr.reshape(shape)
        t = _C.from_numpy(arr if arr.flags.c_contiguous else arr.copy())
        if dtype is not None and t.dtype != dtype:
            t = t.to(dtype)
    if device is not None and _C.device(device).type != "cpu":
        t = t._to_device(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _device_draw(shape, normal, generator, device, requires_grad):
    seed, offset = _device_gen(generator, device)._next_draw()
    t = _C._wgpu_random(list(shape), normal, seed, offset)
    return t.requires_grad_(True) if requires_grad else t


def _write(t, values):
    """Copy the flat NumPy ``values`` into tensor ``t`` in place, without recording grad.

    The values land in memory order, as PyTorch's TensorIterator fills a tensor: row-major for
    a contiguous tensor, and by decreasing stride for a transposed or sliced view."""
    from rustgrad.autograd.grad_mode import no_grad

    shape = tuple(t.shape)
    vals = np.asarray(values).reshape(-1)
    if len(shape) > 1 and not t.is_contiguous():
        strides = t.stride()
        order = sorted(range(len(shape)), key=lambda d: -strides[d])  # (stable: ties stay row-major)
        vals = vals.reshape([shape[d] for d in order]).transpose(np.argsort(order))
    with no_grad():
        t.copy_(_out(vals, t.dtype, False, shape=shape))
    return t


# ------------------------------------------------------------------------------- samplers
@_supports_out("rand", _ANY_DTYPE, creation=True)
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1) (``torch.rand``; PyTorch's CPU stream on the host)."""
    shape = _sizes(size, "rand")
    if _is_wgpu(device) and dtype in (None, _C.float32):
        return _device_draw(shape, False, generator, device, requires_grad)
    _check_float(dtype)  # (rand checks the dtype even for an empty shape; randn only when it samples)
    dtype = dtype or _C.float32
    vals = _uniform_values(_cpu_gen(generator), _numel(shape), dtype, 0.0, 1.0)
    return _out(vals, dtype, requires_grad, device, shape)


@_supports_out("randn", _ANY_DTYPE, creation=True)
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples (``torch.randn``; PyTorch's CPU stream on the host)."""
    shape = _sizes(size, "randn")
    if _is_wgpu(device) and dtype in (None, _C.float32):
        return _device_draw(shape, True, generator, device, requires_grad)
    _check_float(dtype, "normal_kernel_cpu", shape)
    dtype = dtype or _C.float32
    vals = _normal_values(_cpu_gen(generator), _numel(shape), dtype, 0.0, 1.0)
    return _out(vals, dtype, requires_grad, device, shape)


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
    low, high = builtins.int(low), builtins.int(high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dtype = dtype or _C.int64
    vals = _randint_values(_cpu_gen(generator), _numel(shape), low, high, dtype)
    return _out(vals, dtype, requires_grad, device, shape)


@_supports_out("randperm", _ANY_DTYPE, creation=True)
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0..n-1`` (``torch.randperm``; PyTorch's shuffle and draws)."""
    if isinstance(n, (builtins.bool, np.bool_)) or not isinstance(n, (builtins.int, np.integer)):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    n = builtins.int(n)
    if not -(2**63) <= n < 2**63:
        raise ValueError("Overflow when unpacking long long")
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    if n >= 2**40:  # PyTorch's allocator refuses it
        raise RuntimeError(f"Storage size calculation overflowed with sizes=[{n}]")
    return _out(_randperm_values(_cpu_gen(generator), n), dtype or _C.int64, requires_grad, device)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, **kw):
    """``rand`` with ``input``'s shape, dtype and device."""
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, **kw):
    """``randn`` with ``input``'s shape, dtype and device."""
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, **kw):
    """``randint`` with ``input``'s shape and dtype."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad)


@_supports_out("normal", _ANY_DTYPE, creation=True)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """Normal samples (``torch.normal``); ``mean``/``std`` may be tensors (broadcast) or numbers.

    Like PyTorch, a standard normal tensor of the output shape is drawn (``normal_(0, 1)``),
    then scaled by ``std`` and shifted by ``mean`` elementwise."""
    mt, st = isinstance(mean, _C.Tensor), isinstance(std, _C.Tensor)
    if st:
        if not (std.detach().numpy() >= 0).all():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    like = mean if mt else std if st else None
    dtype = dtype or (like.dtype if like is not None else _C.float32)
    gen = _cpu_gen(generator)
    if not mt and not st:
        shape = _sizes((size,), "normal") if size is not None else ()
        vals = _normal_values(gen, _numel(shape), dtype, mean, std)
        return _out(vals, dtype, requires_grad, None, shape)
    m = mean.detach().numpy() if mt else mean
    s = std.detach().numpy() if st else std
    shape = tuple(np.broadcast_shapes(np.shape(m), np.shape(s)))
    npd = np.float64 if _is_f64(dtype) else np.float32
    # PyTorch: a tensor std draws normal_(0, 1) then mul_(std).add_(mean); a number std draws
    # normal_(0, std) then add_(mean) (each step rounded in the output dtype).
    if st:
        z = _normal_values(gen, _numel(shape), dtype, 0.0, 1.0).reshape(shape)
        vals = z * np.asarray(s, dtype=npd) + np.asarray(m, dtype=npd)
    else:
        z = _normal_values(gen, _numel(shape), dtype, 0.0, std).reshape(shape)
        vals = z + np.asarray(m, dtype=npd)
    return _out(vals.astype(npd), dtype, requires_grad)


def _check_p(p):
    if isinstance(p, _C.Tensor):
        a = p.detach().numpy()
        if not ((a >= 0) & (a <= 1)).all():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")


def _bernoulli_values(gen, shape, p):
    """0/1 values of PyTorch's ``bernoulli_``: a float64 uniform against a number ``p`` or a
    float64 tensor, a float32 uniform against a float32 tensor (broadcast to ``shape``)."""
    n = _numel(shape)
    if not isinstance(p, _C.Tensor):
        return gen._uniform_f64(n) < builtins.float(p)
    probs = np.broadcast_to(p.detach().numpy(), shape).reshape(-1)
    if _is_f64(p.dtype):
        return gen._uniform_f64(n) < probs
    return gen._uniform_f32(n) < probs.astype(np.float32)


@_supports_out("bernoulli", _ANY_DTYPE)
def bernoulli(input, p=None, *, generator=None):
    """Samples 1 with probability ``input`` (elementwise), or with probability ``p``."""
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
    else:
        _check_p(input)
        p = input
    shape = tuple(input.shape)
    return _out(_bernoulli_values(_cpu_gen(generator), shape, p), input.dtype, False, shape=shape)


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
    return _write(self, _bernoulli_values(_cpu_gen(generator), tuple(self.shape), p))




@_supports_out("multinomial", _LONG_ONLY)
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices from (unnormalised) probability rows, as PyTorch's CPU kernel:
    without replacement (or for one sample) the largest ``p / q`` with ``q ~ Exp(1)`` drawn by
    ``exponential_``; with replacement a binary search of the row's float CDF per float64
    uniform."""
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
    npd = np.float64 if _is_f64(input.dtype) else np.float32
    p = input.detach().numpy().astype(npd)
    rows = p.reshape(-1, p.shape[-1])
    gen = _cpu_gen(generator)
    if not replacement or num_samples == 1:
        if not (np.isfinite(rows).all() and (rows >= 0).all()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(axis=1) == 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = _exponential_values(gen, rows.size, 1.0).astype(npd).reshape(rows.shape)
        ratio = rows / q
        # topk order: largest first (a stable sort of the negation keeps the first of ties first)
        idx = np.argsort(-ratio, axis=1, kind="stable")[:, :num_samples]
    else:
        idx = np.empty((rows.shape[0], num_samples), dtype=np.int64)
        for i, r in enumerate(rows):
            if (r < 0).any():
                raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
            if not np.isfinite(r).all():
                raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity or NaN)")
            cdf = np.cumsum(r, dtype=npd)  # (sequential sums in the input dtype, like the kernel)
            total = cdf[-1]
            if not total > 0:
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
            cdf = cdf / total
            cdf[-1] = 1
            idx[i] = np.searchsorted(cdf.astype(np.float64), gen._uniform_f64(num_samples), side="left")
    return _out(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)), _C.int64, False)


# ------------------------------------------------------------------------ in-place fills
def _fill_uniform_(t, a=0.0, b=1.0, generator=None):
    """``Tensor.uniform_(a, b)`` with PyTorch's CPU stream (drawn on the host for any device)."""
    _check_float(t.dtype, "check_uniform_bounds", tuple(t.shape))
    return _write(t, _uniform_values(_cpu_gen(generator), t.numel(), t.dtype, a, b))


def _fill_normal_(t, mean=0.0, std=1.0, generator=None):
    """``Tensor.normal_(mean, std)`` with PyTorch's CPU stream."""
    if not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    _check_float(t.dtype, "normal_kernel_cpu", tuple(t.shape))
    vals = _normal_values(_cpu_gen(generator), t.numel(), t.dtype, mean, std, t.is_contiguous())
    return _write(t, vals)


def _random_(t, from_=None, to=None, *, generator=None):
    """``Tensor.random_()``, ``random_(to)`` and ``random_(from, to)`` with PyTorch's draws."""
    gen, n, name = _cpu_gen(generator), t.numel(), str(t.dtype).split(".")[-1]
    if from_ is None and to is None:
        # Full range of the dtype: [0, 2**mantissa] for floats, [0, max] for integers.
        if name == "bool":
            vals = gen._random32(n) & np.uint64(1)
        elif name in ("int64", "float64"):
            mod = 2**63 if name == "int64" else 2**53 + 1
            vals = gen._random64(n) % np.uint64(mod)
        else:
            mod = {"float32": 2**24 + 1, "int32": 2**31, "uint8": 2**8}.get(name, 2**31)
            vals = gen._random32(n) % np.uint64(mod)
        return _write(t, vals.astype(np.int64))
    if to is None:  # random_(to)
        from_, to = 0, from_
    from_, to = builtins.int(from_), builtins.int(to)
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return _write(t, _randint_values(gen, n, from_, to, t.dtype))


def _exponential_(t, lambd=1.0, *, generator=None):
    """``Tensor.exponential_(lambd)`` with PyTorch's CPU stream."""
    return _write(t, _exponential_values(_cpu_gen(generator), t.numel(), lambd))


class _ForkedRng:
    """Context manager of :func:`fork_rng`: saves the CPU state on entry, restores on exit."""

    def __init__(self, enabled):
        self._enabled = enabled

    def __enter__(self):
        if self._enabled:
            self._state = get_rng_state()
            self._wgpu = (default_wgpu_generator._seed, default_wgpu_generator._offset)
        return self

    def __exit__(self, *exc):
        if self._enabled:
            set_rng_state(self._state)
            default_wgpu_generator._seed, default_wgpu_generator._offset = self._wgpu
        return False


def fork_rng(devices=None, enabled=True, *_args, **_kwargs):
    """``torch.random.fork_rng``: draws inside the block leave the default generators as they
    were on entry."""
    return _ForkedRng(enabled)
