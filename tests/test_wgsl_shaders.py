"""The WGSL files of shaders/ run on their own through wgpu-py, against NumPy.

This exercises the shaders without the Rust engine (no pool, batching or pipeline cache), so a
shader bug fails here and in the Rust engine tests, while an engine bug fails only there. The
template rules and the parameters-buffer layout are the ones documented in shaders/README.md.

Skips when wgpu-py or an adapter is missing, unless RUSTGRAD_REQUIRE_WGPU=1 (CI), which turns
those skips into failures.
"""

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

SHADERS = Path(__file__).resolve().parent.parent / "shaders"
REQUIRE = os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1"
WG = 256
MAX_DIMS = 8
SCALAR0 = 10
VIEW0 = 18
VIEW_WORDS = 2 + MAX_DIMS


def _unavailable(reason):
    if REQUIRE:
        pytest.fail(f"RUSTGRAD_REQUIRE_WGPU=1 but {reason}")
    pytest.skip(reason)


# --- the template format (shaders/README.md) --------------------------------------------------


def render(name, values, _seen=None):
    """Expand `//!include <file>` lines (each file once), then replace `{{NAME}}` placeholders."""
    seen = set() if _seen is None else _seen
    if name in seen:
        return ""
    seen.add(name)
    out = []
    for line in (SHADERS / name).read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("//!include "):
            out.append(render(stripped[len("//!include ") :].strip(), values, seen))
        else:
            out.append(line + "\n")
    text = "".join(out)
    if _seen is not None:
        return text

    def value(m):
        if m.group(1) not in values:
            raise KeyError(f"{name}: no value for placeholder {{{{{m.group(1)}}}}}")
        return values[m.group(1)]

    return re.sub(r"\{\{([A-Z0-9_]+)\}\}", value, text)


def ops_table():
    """`<family> <name>: <expression>` lines of shaders/ops.txt."""
    table = {}
    for line in (SHADERS / "ops.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head, expr = line.split(":", 1)
        family, name = head.split()
        table[(family, name)] = expr.strip()
    return table


OPS = ops_table()


def names(family):
    return sorted(n for f, n in OPS if f == family)


def test_template_rules():
    text = render("unary.wgsl", {"DTYPE": "f32", "WG": "64", "OP": "x"})
    assert "{{" not in text
    assert text.count("fn view_offset") == 1  # strided.wgsl included once
    with pytest.raises(KeyError):
        render("unary.wgsl", {"DTYPE": "f32"})


# --- a tiny runner --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu():
    try:
        import wgpu
    except Exception as e:  # pragma: no cover - depends on the machine
        _unavailable(f"wgpu-py is not installed ({e})")
    try:
        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except Exception as e:  # pragma: no cover
        adapter = None
        why = str(e)
    else:
        why = "no adapter"
    if adapter is None:
        _unavailable(f"wgpu-py found no adapter ({why})")
    return Runner(wgpu, adapter.request_device_sync())


class Runner:
    def __init__(self, wgpu, device):
        self.wgpu = wgpu
        self.device = device
        self.cache = {}

    def pipeline(self, shader, values):
        key = (shader, tuple(sorted(values.items())))
        if key not in self.cache:
            module = self.device.create_shader_module(code=render(shader, values))
            self.cache[key] = self.device.create_compute_pipeline(
                layout="auto", compute={"module": module, "entry_point": "main"}
            )
        return self.cache[key]

    def buffer(self, array):
        usage = self.wgpu.BufferUsage
        data = np.ascontiguousarray(array)
        if data.nbytes == 0:
            data = np.zeros(1, dtype=np.uint32)
        return self.device.create_buffer_with_data(
            data=data, usage=usage.STORAGE | usage.COPY_SRC | usage.COPY_DST
        )

    def run(self, shader, values, params, arrays, grid):
        """Dispatch `shader` with params at binding 0 and `arrays` at 1, 2, ...; return the buffers."""
        pipe = self.pipeline(shader, values)
        bufs = [self.buffer(np.asarray(params, dtype=np.uint32))] + [self.buffer(a) for a in arrays]
        entries = [
            {"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}} for i, b in enumerate(bufs)
        ]
        group = self.device.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
        enc = self.device.create_command_encoder()
        cp = enc.begin_compute_pass()
        cp.set_pipeline(pipe)
        cp.set_bind_group(0, group)
        cp.dispatch_workgroups(*grid)
        cp.end()
        self.device.queue.submit([enc.finish()])
        return bufs[1:]

    def read(self, buf, dtype, n):
        return np.frombuffer(self.device.queue.read_buffer(buf), dtype=dtype)[:n].copy()


def params(shape, views, scalars=()):
    """The parameters buffer: header, scalars, then (strides, offset) per view (no dim merging)."""
    assert len(shape) <= MAX_DIMS
    w = np.zeros(VIEW0 + VIEW_WORDS * len(views), dtype=np.uint32)
    w[0] = int(np.prod(shape, dtype=np.int64))
    w[1] = len(shape)
    w[2 : 2 + MAX_DIMS] = 1
    w[2 : 2 + len(shape)] = shape
    w[SCALAR0 : SCALAR0 + len(scalars)] = np.asarray(scalars, dtype=np.int64).astype(np.uint32)
    row_major = contiguous_strides(shape)
    for k, (strides, offset) in enumerate(views):
        base = VIEW0 + VIEW_WORDS * k
        w[base] = offset
        w[base + 1] = int(list(strides) == row_major)
        w[base + 2 : base + 2 + len(strides)] = np.asarray(strides, dtype=np.int64).astype(np.uint32)
    return w


def contiguous_strides(shape):
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= max(d, 1)
    return out[::-1]


def gather(base, shape, strides, offset):
    """What a strided view of the flat array `base` reads, as an array of `shape`."""
    idx = np.full(shape, offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, strides)):
        view = [1] * len(shape)
        view[d] = n
        idx = idx + (np.arange(n) * s).reshape(view)
    return base[idx]


def grid(n):
    return ((n + WG - 1) // WG, 1, 1)


RNG = np.random.default_rng(0)

# --- fill and copy --------------------------------------------------------------------------


def test_fill_strided_view(gpu):
    out = np.zeros(1000, dtype=np.float32)
    # Column 3 of a [40, 25] matrix.
    p = params([40], [([25], 3)], [np.float32(-1.5).view(np.uint32)])
    (buf,) = gpu.run("fill.wgsl", {"DTYPE": "u32", "VALUE": "scalar(0u)", "WG": str(WG)}, p, [out], grid(40))
    want = out.reshape(40, 25).copy()
    want[:, 3] = -1.5
    np.testing.assert_array_equal(gpu.read(buf, np.float32, 1000), want.ravel())


def test_fill_over_a_spread_grid(gpu):
    # 12 workgroups laid out as 2 x 3 x 2: the linear id must still cover 0..n.
    n = 12 * WG - 5
    p = params([n], [([1], 0)], [7])
    (buf,) = gpu.run("fill.wgsl", {"DTYPE": "u32", "VALUE": "scalar(0u)", "WG": str(WG)}, p, [np.zeros(n, np.uint32)], (2, 3, 2))
    np.testing.assert_array_equal(gpu.read(buf, np.uint32, n), np.full(n, 7, np.uint32))


@pytest.mark.parametrize(
    "shape,strides,offset",
    [([20, 30], [1, 20], 0), ([5, 6, 7], [1, 35, 5], 10), ([300], [-2], 599), ([4, 1, 9], [0, 77, 3], 5)],
)
def test_strided_copy(gpu, shape, strides, offset):
    src = np.arange(600, dtype=np.float32)
    n = int(np.prod(shape))
    p = params(shape, [(strides, offset), (contiguous_strides(shape), 0)])
    _, dst = gpu.run("copy.wgsl", {"DTYPE": "u32", "WG": str(WG)}, p, [src, np.zeros(n, np.float32)], grid(n))
    np.testing.assert_array_equal(gpu.read(dst, np.float32, n), gather(src, shape, strides, offset).ravel())


# --- elementwise ----------------------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY_REF = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "square": np.square,
    "reciprocal": np.reciprocal,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "trunc": np.trunc,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "tan": np.tan,
    "erf": np.vectorize(math.erf),
    "silu": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    "acos": np.arccos,
    "asin": np.arcsin,
    "atan": np.arctan,
    "acosh": np.arccosh,
    "asinh": np.arcsinh,
    "atanh": np.arctanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "exp2": np.exp2,
    "frac": lambda x: x - np.trunc(x),
}
POSITIVE = {"log", "log2", "log10", "sqrt", "rsqrt", "reciprocal"}
# Input ranges for ops with a restricted domain (default: (-6, 6), POSITIVE: (0.01, 20)).
DOMAIN = {"acos": (-0.99, 0.99), "asin": (-0.99, 0.99), "atanh": (-0.99, 0.99), "acosh": (1.0, 20.0)}

BINARY_REF = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "copysign": np.copysign,
    "logaddexp": np.logaddexp,
    "logaddexp2": np.logaddexp2,
    "xlogy": lambda a, b: np.where(a == 0, 0.0, a * np.log(b)),
}
# Integer-only bodies (run on i32 words), with PyTorch's shift rules.
BITWISE_REF = {
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
    "bitwise_left_shift": lambda a, b: np.where((b < 0) | (b >= 32), 0, np.left_shift(a, np.clip(b, 0, 31))),
    "bitwise_right_shift": lambda a, b: np.right_shift(a, np.where((b < 0) | (b >= 31), 31, b)),
}

COMPARE_REF = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}

REDUCE_REF = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}


def test_every_op_in_ops_txt_has_a_numpy_reference():
    assert set(names("unary")) == set(UNARY_REF)
    assert set(names("binary")) == set(BINARY_REF) | set(BITWISE_REF)
    assert set(names("compare")) == set(COMPARE_REF)
    assert set(names("reduce")) == set(REDUCE_REF) == set(names("reduce_init"))


@pytest.mark.parametrize("op", names("unary"))
def test_unary(gpu, op):
    lo, hi = DOMAIN.get(op, (0.01, 20.0) if op in POSITIVE else (-6.0, 6.0))
    x = RNG.uniform(lo, hi, size=(40, 25)).astype(np.float32)
    values = {"DTYPE": "f32", "WG": str(WG), "OP": OPS[("unary", op)]}
    # Read transposed: a [25, 40] view with strides (1, 25).
    p = params([25, 40], [([1, 25], 0)])
    _, out = gpu.run("unary.wgsl", values, p, [x, np.zeros(1000, np.float32)], grid(1000))
    want = UNARY_REF[op](x.T.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(gpu.read(out, np.float32, 1000), want.ravel(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", sorted(BINARY_REF))
def test_binary_broadcast(gpu, op):
    lo, hi = (0.1, 3.0) if op == "pow" else (-4.0, 4.0)
    a = RNG.uniform(lo, hi, size=(5, 1, 70)).astype(np.float32)
    b = RNG.uniform(0.5, 2.0, size=(3, 1)).astype(np.float32)
    out_shape = [5, 3, 70]
    values = {"DTYPE": "f32", "OUT": "f32", "WG": str(WG), "OP": OPS[("binary", op)]}
    p = params(out_shape, [([70, 0, 1], 0), ([0, 1, 0], 0)])
    n = 5 * 3 * 70
    _, _, out = gpu.run("binary.wgsl", values, p, [a, b, np.zeros(n, np.float32)], grid(n))
    want = BINARY_REF[op](a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(gpu.read(out, np.float32, n), want.ravel(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", sorted(BITWISE_REF))
def test_bitwise_i32(gpu, op):
    a = RNG.integers(-1000, 1000, size=300).astype(np.int32)
    b = RNG.integers(-3, 40, size=300).astype(np.int32)
    values = {"DTYPE": "i32", "OUT": "i32", "WG": str(WG), "OP": OPS[("binary", op)]}
    p = params([300], [([1], 0), ([1], 0)])
    _, _, out = gpu.run("binary.wgsl", values, p, [a, b, np.zeros(300, np.int32)], grid(300))
    np.testing.assert_array_equal(gpu.read(out, np.int32, 300), BITWISE_REF[op](a, b).astype(np.int32))


def test_binary_nan_and_negative_pow(gpu):
    a = np.array([1.0, np.nan, -2.0, -2.0, 0.0, 4.0], np.float32)
    b = np.array([np.nan, 1.0, 3.0, 0.5, -1.0, 0.0], np.float32)
    p = params([6], [([1], 0), ([1], 0)])

    def run(op):
        values = {"DTYPE": "f32", "OUT": "f32", "WG": str(WG), "OP": OPS[("binary", op)]}
        _, _, out = gpu.run("binary.wgsl", values, p, [a, b, np.zeros(6, np.float32)], grid(6))
        return gpu.read(out, np.float32, 6)

    with np.errstate(all="ignore"):
        for op in ("maximum", "minimum", "pow"):
            np.testing.assert_array_equal(run(op), BINARY_REF[op](a, b))


@pytest.mark.parametrize("op", names("compare"))
def test_compare(gpu, op):
    a = np.round(RNG.uniform(-3, 3, size=(200, 3))).astype(np.float32)
    b = np.array([0.0, 1.0, -1.0], np.float32)
    values = {"DTYPE": "f32", "OUT": "u32", "WG": str(WG), "OP": OPS[("compare", op)]}
    p = params([200, 3], [([3, 1], 0), ([0, 1], 0)])
    _, _, out = gpu.run("binary.wgsl", values, p, [a, b, np.zeros(600, np.uint32)], grid(600))
    np.testing.assert_array_equal(
        gpu.read(out, np.uint32, 600), COMPARE_REF[op](a, b).astype(np.uint32).ravel()
    )


def test_where(gpu):
    cond = (RNG.uniform(size=(3, 200)) > 0.5).astype(np.uint32)
    x = RNG.uniform(-1, 1, size=(2, 3, 200)).astype(np.float32)
    y = np.array([10.0], np.float32)
    shape = [2, 3, 200]
    p = params(shape, [([0, 200, 1], 0), ([600, 200, 1], 0), ([0, 0, 0], 0)])
    *_, out = gpu.run(
        "where.wgsl", {"DTYPE": "f32", "WG": str(WG)}, p, [cond, x, y, np.zeros(1200, np.float32)], grid(1200)
    )
    np.testing.assert_array_equal(gpu.read(out, np.float32, 1200), np.where(cond != 0, x, y).ravel())


# --- reductions and matmul ------------------------------------------------------------------


@pytest.mark.parametrize("op", names("reduce"))
def test_reduce_rows(gpu, op):
    x = RNG.uniform(-1, 1, size=(1000, 7)).astype(np.float32)
    values = {"DTYPE": "f32", "WG": str(WG), "OP": OPS[("reduce", op)], "INIT": OPS[("reduce_init", op)]}
    # Rows of the transposed [7, 1000] view; then the whole tensor in rows of 4096 (a partial row).
    p = params([7, 1000], [([1, 7], 0)], [1000, 7])
    _, out = gpu.run("reduce.wgsl", values, p, [x, np.zeros(7, np.float32)], (7, 1, 1))
    want = REDUCE_REF[op](x.T.astype(np.float64), axis=1)
    np.testing.assert_allclose(gpu.read(out, np.float32, 7), want, rtol=1e-5, atol=1e-4)

    big = RNG.uniform(-1, 1, size=10_000).astype(np.float32)
    rows = 3
    p = params([10_000], [([1], 0)], [4096, rows])
    _, out = gpu.run("reduce.wgsl", values, p, [big, np.zeros(rows, np.float32)], (rows, 1, 1))
    want = [REDUCE_REF[op](big[i * 4096 : (i + 1) * 4096].astype(np.float64)) for i in range(rows)]
    np.testing.assert_allclose(gpu.read(out, np.float32, rows), want, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("want_max", [True, False])
def test_argreduce_first_index_and_nan(gpu, want_max):
    # Rows of the transposed [5, 700] view of a [700, 5] array, in one segment per row (flags:
    # bit 0 max, bit 2 int64 output words). Ties everywhere: the first index must win; NaN wins.
    x = RNG.integers(-3, 4, size=(700, 5)).astype(np.float32)
    x[100, 2] = np.nan
    x[650, 2] = np.nan
    flags = int(want_max) | 4
    p = params([5, 700], [([1, 5], 0)], [700, 4096, 1, 5, flags])
    dummy = np.zeros(1, np.uint32)
    out = gpu.run("argreduce.wgsl", {"DTYPE": "f32", "WG": str(WG)}, p,
                  [x, dummy, np.zeros(5, np.float32), np.zeros(10, np.uint32)], (5, 1, 1))
    rows = x.T
    want = [100 if np.isnan(r).any() else int(np.argmax(r) if want_max else np.argmin(r)) for r in rows]
    idx = gpu.read(out[3], np.uint32, 10).reshape(5, 2)
    assert idx[:, 1].tolist() == [0] * 5  # int64 high words
    assert idx[:, 0].tolist() == want
    vals = gpu.read(out[2], np.float32, 5)
    np.testing.assert_array_equal(vals, [rows[i, j] for i, j in enumerate(want)])


def test_softmax_rows(gpu):
    # Rows of 300 (crossing the 256-invocation workgroup); one row of -inf gives NaN, as PyTorch.
    x = RNG.uniform(-5, 5, size=(3, 300)).astype(np.float32)
    x[2, :] = -np.inf
    for log in (0, 1):
        p = params([3, 300], [([300, 1], 0), ([300, 1], 0)], [300, 3, log])
        out = gpu.run("softmax.wgsl", {"DTYPE": "f32", "WG": str(WG)}, p, [x, np.zeros(900, np.float32)],
                      (3, 1, 1))
        got = gpu.read(out[1], np.float32, 900).reshape(3, 300)
        z = x[:2].astype(np.float64) - x[:2].max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1, keepdims=True))
        want = z - lse if log else np.exp(z - lse)
        np.testing.assert_allclose(got[:2], want, rtol=1e-5, atol=1e-6)
        assert np.isnan(got[2]).all()


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (65, 33, 70), (130, 17, 129)])
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul(gpu, m, k, n, transposed):
    a = RNG.uniform(-1, 1, size=(m, k)).astype(np.float32)
    b = RNG.uniform(-1, 1, size=(k, n)).astype(np.float32)
    if transposed:  # store A as [k, m] and B as [n, k], read through strides
        a_store, a_rs, a_cs = np.ascontiguousarray(a.T), 1, m
        b_store, b_rs, b_cs = np.ascontiguousarray(b.T), 1, k
    else:
        a_store, a_rs, a_cs = a, k, 1
        b_store, b_rs, b_cs = b, n, 1
    p = params([], [([], 0), ([], 0)], [m, n, k, a_rs, a_cs, b_rs, b_cs])
    wgs = ((m + 63) // 64) * ((n + 63) // 64)
    *_, out = gpu.run(
        "matmul.wgsl",
        {"DTYPE": "f32", "WG": str(WG)},
        p,
        [a_store, b_store, np.zeros(m * n, np.float32)],
        (wgs, 1, 1),
    )
    want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(gpu.read(out, np.float32, m * n), want.ravel(), rtol=1e-4, atol=1e-4)


def test_matmul_batched_broadcast(gpu):
    m, k, n = 20, 9, 17
    a = RNG.uniform(-1, 1, size=(2, 1, m, k)).astype(np.float32)
    b = RNG.uniform(-1, 1, size=(3, k, n)).astype(np.float32)
    # Batch shape [2, 3]: A steps over dim 0 only, B over dim 1 only.
    p = params([2, 3], [([m * k, 0], 0), ([0, k * n], 0)], [m, n, k, k, 1, n, 1])
    wgs = 6 * ((m + 63) // 64) * ((n + 63) // 64)
    *_, out = gpu.run(
        "matmul.wgsl",
        {"DTYPE": "f32", "WG": str(WG)},
        p,
        [a, b, np.zeros(6 * m * n, np.float32)],
        (wgs, 1, 1),
    )
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(gpu.read(out, np.float32, 6 * m * n), want.ravel(), rtol=1e-4, atol=1e-4)


# --- random.wgsl: Philox4x32-10 against a NumPy reference and the published answers ---------

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def _philox_ref(c, k):
    """Philox4x32-10 of counter words ``c`` under key words ``k`` (uint64 arrays, vectorised)."""
    c = [np.asarray(w, np.uint64) for w in c]
    k0, k1 = np.uint64(k[0]), np.uint64(k[1])
    mask = np.uint64(0xFFFFFFFF)
    for _ in range(10):
        p0 = np.uint64(M0) * c[0]
        p1 = np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & mask, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & mask]
        k0, k1 = (k0 + np.uint64(W0)) & mask, (k1 + np.uint64(W1)) & mask
    return [w.astype(np.uint32) for w in c]


def test_philox_reference_matches_the_published_known_answers():
    # Random123's kat_vectors for philox4x32_10: zero counter and key, and all-ones.
    assert [int(w) for w in _philox_ref([0, 0, 0, 0], [0, 0])] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    ones = 0xFFFFFFFF
    assert [int(w) for w in _philox_ref([ones] * 4, [ones, ones])] == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]


def test_random_shader_is_philox(gpu):
    n, seed, offset = 1000, 0x1234_5678_9ABC_DEF0, 0x0000_0007_0000_0003
    scal = [seed & 0xFFFFFFFF, seed >> 32, offset & 0xFFFFFFFF, offset >> 32]
    p = params([n], [], scal)
    words = []
    for lane in "xyzw":
        values = {"SAMPLE": f"bitcast<f32>(u.{lane})", "HAS_P": "false", "WG": str(WG)}
        _, out = gpu.run("random.wgsl", values, p, [np.zeros(1, np.float32), np.zeros(n, np.float32)], grid(n))
        words.append(gpu.read(out, np.uint32, n))
    i = np.arange(n, dtype=np.uint64)
    want = _philox_ref([i, np.full(n, scal[2]), np.full(n, scal[3]), np.zeros(n)], scal[:2])
    for got, w in zip(words, want):
        np.testing.assert_array_equal(got, w)

# --- the index family -----------------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", ["i64", "i32"])
def test_gather_and_its_error_words(gpu, index_dtype):
    # index_select of rows of a [300, 3] float32 matrix (bits moved as u32), with one bad index.
    x = RNG.uniform(-1, 1, size=(300, 3)).astype(np.float32)
    idx = RNG.integers(-300, 300, size=270)
    idx[5] = 300  # out of range: zero written, reported
    ty = {"i64": "vec2<u32>", "i32": "i32"}[index_dtype]
    raw = idx.astype(np.int64) if index_dtype == "i64" else idx.astype(np.int32)
    values = {"DTYPE": "u32", "WG": str(WG), "IDX_T": ty, "IDX_LOAD": OPS[("index_load", index_dtype)]}
    shape = [270, 3]
    # Scalars: stride 3 along the gathered dim, size 300, wrap negatives, code 5, dim 0.
    p = params(shape, [([0, 1], 0), ([1, 0], 0)], [3, 300, 1, 5, 0])
    _, _, out, err = gpu.run(
        "gather.wgsl", values, p, [x.view(np.uint32), raw, np.zeros(810, np.uint32), np.zeros(8, np.uint32)],
        grid(810))
    want = x[np.where(idx < 0, idx + 300, idx).clip(0, 299)]
    want[5] = 0.0
    np.testing.assert_array_equal(gpu.read(out, np.uint32, 810).view(np.float32), want.ravel())
    np.testing.assert_array_equal(gpu.read(err, np.uint32, 8), [5, 300, 0, 0, 300, 0, 0, 0])


@pytest.mark.parametrize("op", ["sum", "prod"])
@pytest.mark.parametrize("reverse", [0, 1])
def test_scan_rows(gpu, op, reverse):
    x = RNG.uniform(0.9, 1.1, size=(5, 700)).astype(np.float32)
    values = {"DTYPE": "f32", "WG": str(WG), "OP": OPS[("scan", op)], "INIT": OPS[("scan_init", op)]}
    # Rows of the transposed [700, 5] view, scanned along dim 0 of x: rows are x's columns.
    p = params([5, 700], [([1, 5], 0), ([700, 1], 0)], [700, 5, reverse])
    _, out = gpu.run("scan.wgsl", values, p, [x.T.copy(), np.zeros(3500, np.float32)], (5, 1, 1))
    ref = np.cumsum if op == "sum" else np.cumprod
    want = ref(x[:, ::-1].astype(np.float64), axis=1)[:, ::-1] if reverse else ref(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(gpu.read(out, np.float32, 3500).reshape(5, 700), want, rtol=1e-4)

# --- window kernels (geometry block, shaders/README.md) ---------------------------------------

GEOM0 = 48


def window_params(numel, geometry):
    w = np.zeros(GEOM0 + len(geometry), dtype=np.uint32)
    w[0], w[1], w[2 : 2 + MAX_DIMS] = numel, 1, 1
    w[2] = numel
    w[GEOM0:] = np.asarray(geometry, dtype=np.int64).astype(np.uint32)
    return w


def np_im2col(x, kh, kw, s, p, d, groups):
    """[n, groups, cg*kh*kw, oh*ow] columns of a zero-padded image (NumPy reference)."""
    n, c, h, w = x.shape
    oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = np.zeros((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for ki in range(kh):
        for kj in range(kw):
            y0, x0 = ki * d[0], kj * d[1]
            cols[:, :, ki, kj] = xp[:, :, y0 : y0 + s[0] * (oh - 1) + 1 : s[0], x0 : x0 + s[1] * (ow - 1) + 1 : s[1]]
    return cols.reshape(n, groups, -1, oh * ow), oh, ow


@pytest.mark.parametrize("s,p,d,groups", [((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 2), 2)])
def test_conv_unfold_and_fold(gpu, s, p, d, groups):
    n, c, h, w, kh, kw = 2, 4, 9, 10, 3, 2
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    want, oh, ow = np_im2col(x, kh, kw, s, p, d, groups)
    k, ll = want.shape[2], want.shape[3]
    geometry = [c, h, w, kh, kw, oh, ow, s[0], s[1], p[0], p[1], d[0], d[1], c // groups, 5,
                groups * k * ll, k * ll, ll, 1]
    total = want.size
    src = np.concatenate([np.zeros(5, np.float32), x.ravel()])  # the image starts at element 5
    vals = {"DTYPE": "f32", "WG": str(WG)}
    _, cols = gpu.run("conv_unfold.wgsl", vals, window_params(total, geometry), [src, np.zeros(total, np.float32)],
                      grid(total))
    got = gpu.read(cols, np.float32, total)
    np.testing.assert_array_equal(got, want.ravel())
    # col2im of arbitrary columns: each image element sums the entries im2col took from it.
    colv = RNG.standard_normal(want.shape).astype(np.float32)
    ref = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]))
    c6 = colv.reshape(n, c, kh, kw, oh, ow)
    for ki in range(kh):
        for kj in range(kw):
            y0, x0 = ki * d[0], kj * d[1]
            ref[:, :, y0 : y0 + s[0] * (oh - 1) + 1 : s[0], x0 : x0 + s[1] * (ow - 1) + 1 : s[1]] += c6[:, :, ki, kj]
    ref = ref[:, :, p[0] : p[0] + h, p[1] : p[1] + w]
    geometry[14] = 0
    m = n * c * h * w
    _, img = gpu.run("conv_fold.wgsl", vals, window_params(m, geometry), [colv.ravel(), np.zeros(m, np.float32)],
                     grid(m))
    np.testing.assert_allclose(gpu.read(img, np.float32, m), ref.ravel(), rtol=1e-5, atol=1e-5)


def test_pool_max_values_and_int64_indices(gpu):
    planes, h, w, k, s = 3, 7, 8, 3, 2
    x = RNG.standard_normal((planes, h, w)).astype(np.float32)
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    geometry = [h, w, oh, ow, k, k, s, s, 0, 0, 1, 1, 0, 0, 0, 0]
    n = planes * oh * ow
    _, vals, idx = gpu.run("pool_max.wgsl", {"WG": str(WG)}, window_params(n, geometry),
                           [x.ravel(), np.zeros(n, np.float32), np.zeros(2 * n, np.uint32)], grid(n))
    win = np.stack([x[:, i * s : i * s + k, j * s : j * s + k].reshape(planes, -1)
                    for i in range(oh) for j in range(ow)], axis=1)
    a = win.argmax(-1)
    oy, ox = np.divmod(np.arange(oh * ow), ow)
    want_idx = (oy * s + a // k) * w + ox * s + a % k
    np.testing.assert_array_equal(gpu.read(vals, np.float32, n), win.max(-1).ravel())
    words = gpu.read(idx, np.uint32, 2 * n).reshape(n, 2)
    np.testing.assert_array_equal(words[:, 1], 0)  # int64: low word, then a zero high word
    np.testing.assert_array_equal(words[:, 0], want_idx.ravel())
