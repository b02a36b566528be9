"""``out=``: written in place into the given tensor, resized as PyTorch resizes (with its warning),
PyTorch's dtype rules and errors, never recorded by autograd, never silently ignored."""

import warnings

import numpy as np
import pytest
import rustgrad as rg

A = np.array([[1.5, -2.0, 3.0], [0.25, 4.0, -1.0]], dtype=np.float32)
B = np.array([[2.0, 0.5, -1.0], [1.0, 3.0, 2.0]], dtype=np.float32)


def _empty(shape, dtype=rg.float32):
    return rg.empty(*shape, dtype=dtype)


# ---- elementwise binary: the native path writes into out's own storage


@pytest.mark.parametrize("name,ref", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                                      ("div", np.divide), ("maximum", np.maximum), ("minimum", np.minimum),
                                      ("true_divide", np.divide), ("floor_divide", np.floor_divide),
                                      ("remainder", np.mod), ("pow", np.power)])
def test_binary_out_writes_in_place(name, ref):
    x = np.abs(A) if name == "pow" else A  # (no NaN from negative bases)
    a, b = rg.tensor(x), rg.tensor(B)
    out = _empty((2, 3))
    ptr = out.data_ptr()
    r = getattr(rg, name)(a, b, out=out)
    assert r is out and out.data_ptr() == ptr
    np.testing.assert_allclose(out.numpy(), ref(x, B), rtol=1e-6)


def test_binary_out_scalar_and_broadcast():
    a = rg.tensor(A)
    out = _empty((2, 3))
    rg.add(a, 1.0, out=out)
    np.testing.assert_allclose(out.numpy(), A + 1)
    rg.mul(a, rg.tensor([1.0, 2.0, 3.0]), out=out)
    np.testing.assert_allclose(out.numpy(), A * np.array([1.0, 2.0, 3.0]))
    rg.pow(2.0, a, out=out)
    np.testing.assert_allclose(out.numpy(), 2.0 ** A, rtol=1e-6)


def test_add_alpha_out():
    a, b = rg.tensor(A), rg.tensor(B)
    out = _empty((2, 3))
    assert rg.add(a, b, alpha=2, out=out) is out
    np.testing.assert_allclose(out.numpy(), A + 2 * B)
    rg.sub(a, b, alpha=0.5, out=out)
    np.testing.assert_allclose(out.numpy(), A - 0.5 * B)


def test_out_views_see_the_write():
    base = rg.zeros(4, 3)
    view = base[1:3]  # a contiguous view into base
    rg.add(rg.tensor(A), rg.tensor(B), out=view)
    np.testing.assert_allclose(base.numpy()[1:3], A + B)
    np.testing.assert_array_equal(base.numpy()[[0, 3]], 0)


def test_out_non_contiguous():
    base = rg.zeros(3, 2)
    out = base.t()  # (2, 3), non-contiguous
    rg.mul(rg.tensor(A), rg.tensor(B), out=out)
    np.testing.assert_allclose(base.numpy().T, A * B)


def test_out_aliasing_an_input():
    a = rg.tensor(A)
    rg.add(a, rg.tensor(B), out=a)
    np.testing.assert_allclose(a.numpy(), A + B)
    b = rg.tensor(B)
    rg.exp(b, out=b)
    np.testing.assert_allclose(b.numpy(), np.exp(B), rtol=1e-6)
    # out overlapping an input at another offset gets the right answer (no torn reads)
    x = rg.arange(6.0)
    rg.add(x[:5], 1.0, out=x[1:])
    np.testing.assert_allclose(x.numpy(), [0, 1, 2, 3, 4, 5])


def test_out_dtype_cast_allowed():
    out = _empty((2, 3), rg.float64)
    rg.add(rg.tensor(A), rg.tensor(B), out=out)
    assert out.dtype is rg.float64
    np.testing.assert_allclose(out.numpy(), (A + B).astype(np.float64))
    i = rg.tensor([[1, 2, 3], [4, 5, 6]])
    fout = _empty((2, 3))
    rg.add(i, i, out=fout)
    np.testing.assert_allclose(fout.numpy(), 2 * i.numpy())


def test_out_dtype_cast_refused():
    out = rg.zeros(2, 3, dtype=rg.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        rg.add(rg.tensor(A), rg.tensor(B), out=out)
    np.testing.assert_array_equal(out.numpy(), 0)  # untouched
    i = rg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        rg.add(i, 1, out=rg.empty(2, dtype=rg.bool))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        rg.exp(i, out=rg.empty(2, dtype=rg.int64))


def test_out_resize_warns_when_not_empty():
    out = rg.zeros(2)
    with pytest.warns(UserWarning, match=r"An output with one or more elements was resized since it had shape \[2\], "
                                         r"which does not match the required output shape \[2, 3\]"):
        rg.add(rg.tensor(A), 1.0, out=out)
    assert tuple(out.shape) == (2, 3)
    np.testing.assert_allclose(out.numpy(), A + 1)


def test_out_resize_silent_when_empty():
    out = rg.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rg.mul(rg.tensor(A), 2.0, out=out)
        rg.sin(rg.tensor(A), out=(o2 := rg.empty(0)))
    np.testing.assert_allclose(out.numpy(), A * 2)
    np.testing.assert_allclose(o2.numpy(), np.sin(A), rtol=1e-6)


def test_out_refuses_autograd():
    a = rg.tensor(A, dtype=rg.float32).requires_grad_()
    msg = r"add\(\): functions with out=... arguments don't support automatic differentiation, but one of the " \
          r"arguments requires grad."
    with pytest.raises(RuntimeError, match=msg):
        rg.add(a, 1.0, out=_empty((2, 3)))
    with pytest.raises(RuntimeError, match=r"exp\(\): functions with out="):
        rg.exp(a, out=_empty((2, 3)))
    with pytest.raises(RuntimeError, match=r"mm\(\): functions with out="):
        rg.mm(a, a.t(), out=_empty((2, 2)))
    with pytest.raises(RuntimeError, match=r"cat\(\): functions with out="):
        rg.cat([a, a], out=_empty((4, 3)))
    with pytest.raises(RuntimeError, match=r"add\(\): functions with out="):
        rg.add(rg.tensor(A), 1.0, out=rg.zeros(2, 3, requires_grad=True))
    # under no_grad nothing is recorded and the out tensor stays a leaf without grad
    with rg.no_grad():
        out = rg.add(a, 1.0, out=_empty((2, 3)))
    assert not out.requires_grad and out.grad_fn is None


# ---- unary family


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "relu", "abs", "neg", "floor",
                                  "reciprocal", "square"])
def test_unary_out_writes_in_place(name):
    x = np.abs(A) + 0.5
    out = _empty((2, 3))
    ptr = out.data_ptr()
    assert getattr(rg, name)(rg.tensor(x), out=out) is out and out.data_ptr() == ptr
    np.testing.assert_allclose(out.numpy(), getattr(rg, name)(rg.tensor(x)).numpy(), rtol=1e-6)


def test_unary_out_integer_input_float_out():
    out = rg.zeros(3)
    rg.exp(rg.tensor([0, 1, 2]), out=out)
    np.testing.assert_allclose(out.numpy(), np.exp([0, 1, 2]), rtol=1e-6)
    iout = rg.zeros(3, dtype=rg.int64)
    rg.neg(rg.tensor([0, 1, 2]), out=iout)
    np.testing.assert_array_equal(iout.numpy(), [0, -1, -2])


# ---- matmul / mm


def test_mm_out_writes_in_place():
    a, b = rg.tensor(A), rg.tensor(B.T.copy())
    out = _empty((2, 2))
    ptr = out.data_ptr()
    assert rg.mm(a, b, out=out) is out and out.data_ptr() == ptr
    np.testing.assert_allclose(out.numpy(), A @ B.T, rtol=1e-5)
    out2 = rg.empty(0)
    rg.matmul(a, b, out=out2)
    np.testing.assert_allclose(out2.numpy(), A @ B.T, rtol=1e-5)


def test_mm_out_dtype_and_shape_errors():
    a = rg.tensor(A)
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype float, but got double instead"):
        rg.mm(a, a.t(), out=rg.empty(2, 2, dtype=rg.float64))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)"):
        rg.mm(a, a, out=_empty((2, 2)))


def test_mm_out_aliasing_an_input():
    a = rg.tensor(np.eye(3, dtype=np.float32) * 2)
    rg.mm(a, a, out=a)
    np.testing.assert_allclose(a.numpy(), np.eye(3) * 4)


def test_batched_matmul_out():
    x = np.random.rand(2, 3, 4).astype(np.float32)
    y = np.random.rand(2, 4, 5).astype(np.float32)
    out = rg.empty(0)
    rg.matmul(rg.tensor(x), rg.tensor(y), out=out)
    np.testing.assert_allclose(out.numpy(), x @ y, rtol=1e-5)
    out = rg.empty(0)
    rg.bmm(rg.tensor(x), rg.tensor(y), out=out)
    np.testing.assert_allclose(out.numpy(), x @ y, rtol=1e-5)


# ---- functions that compute, then write


def test_generic_out_functions():
    a, b = rg.tensor(A), rg.tensor(B)
    checks = [
        (lambda o: rg.cat([a, b], out=o), np.concatenate([A, B])),
        (lambda o: rg.stack([a, b], out=o), np.stack([A, B])),
        (lambda o: rg.sum(a, 1, out=o), A.sum(1)),
        (lambda o: rg.mean(a, 0, out=o), A.mean(0)),
        (lambda o: rg.cumsum(a, 1, out=o), np.cumsum(A, 1)),
        (lambda o: rg.prod(a, 1, out=o), A.prod(1)),
        (lambda o: rg.amax(a, 1, out=o), A.max(1)),
        (lambda o: rg.clamp(a, -1, 1, out=o), np.clip(A, -1, 1)),
        (lambda o: rg.where(a > 0, a, b, out=o), np.where(A > 0, A, B)),
        (lambda o: rg.fmod(a, 2.0, out=o), np.fmod(A, 2.0)),
        (lambda o: rg.addcmul(a, a, b, value=2, out=o), A + 2 * A * B),
        (lambda o: rg.div(a, b, rounding_mode="trunc", out=o), np.trunc(A / B)),
        (lambda o: rg.div(a, b, rounding_mode="floor", out=o), np.floor(A / B)),
        (lambda o: rg.tril(a, out=o), np.tril(A)),
        (lambda o: rg.outer(a[0], b[0], out=o), np.outer(A[0], B[0])),
        (lambda o: rg.addmm(a[:, :2], a, b.t()[:, :2], out=o), A[:, :2] + A @ B.T[:, :2]),
        (lambda o: rg.round(a, out=o), np.round(A)),
        (lambda o: rg.nan_to_num(a, out=o), A),
        (lambda o: rg.index_select(a, 1, rg.tensor([2, 0]), out=o), A[:, [2, 0]]),
        (lambda o: rg.gather(a, 1, rg.tensor([[0], [2]]), out=o), A[[0, 1], [0, 2]].reshape(2, 1)),
        (lambda o: rg.zeros(2, 2, out=o), np.zeros((2, 2))),
        (lambda o: rg.arange(4, out=o), np.arange(4.0)),
        (lambda o: rg.linspace(0, 1, 5, out=o), np.linspace(0, 1, 5)),
        (lambda o: rg.var(a, 1, out=o), A.var(1, ddof=1)),
    ]
    for fn, ref in checks:
        out = rg.empty(0)
        assert fn(out) is out
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_comparison_and_logical_out_any_dtype():
    a, b = rg.tensor(A), rg.tensor(B)
    out = rg.empty(0, dtype=rg.float32)
    rg.gt(a, b, out=out)
    assert out.dtype is rg.float32
    np.testing.assert_array_equal(out.numpy(), (A > B).astype(np.float32))
    bout = rg.empty(0, dtype=rg.bool)
    rg.logical_and(a > 0, b > 0, out=bout)
    np.testing.assert_array_equal(bout.numpy(), (A > 0) & (B > 0))


def test_tuple_out():
    a = rg.tensor(A)
    vals, idx = rg.empty(0), rg.empty(0, dtype=rg.int64)
    r = rg.sort(a, 1, out=(vals, idx))
    assert r[0] is vals and r[1] is idx
    np.testing.assert_allclose(vals.numpy(), np.sort(A, 1))
    np.testing.assert_array_equal(idx.numpy(), np.argsort(A, 1))
    v, i = rg.empty(0), rg.empty(0, dtype=rg.int64)
    rg.max(a, 1, out=(v, i))
    np.testing.assert_allclose(v.numpy(), A.max(1))
    np.testing.assert_array_equal(i.numpy(), A.argmax(1))
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype long int, but got float instead"):
        rg.sort(a, out=(rg.empty(0), rg.empty(0)))


def test_creation_out_takes_out_dtype():
    out = rg.empty(0, dtype=rg.int64)
    rg.zeros(2, 3, out=out)
    assert out.dtype is rg.int64 and tuple(out.shape) == (2, 3)
    with pytest.raises(RuntimeError, match=r"dtype Float does not match dtype of out parameter \(Long\)"):
        rg.zeros(2, dtype=rg.float32, out=out)
    r = rg.empty(0, dtype=rg.float64)
    rg.rand(3, out=r)
    assert r.dtype is rg.float64 and tuple(r.shape) == (3,)
    assert ((r.numpy() >= 0) & (r.numpy() < 1)).all()


def test_exact_dtype_rules():
    a = rg.tensor(A)
    d = rg.empty(0, dtype=rg.float64)
    with pytest.raises(RuntimeError, match="index_select\\(\\): self and result must have the same scalar type"):
        rg.index_select(a, 0, rg.tensor([0]), out=d)
    with pytest.raises(RuntimeError, match="Expected out type to be Float but got Double"):
        rg.where(a > 0, a, a, out=d)
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        rg.clamp(a, 0, 1, out=d)
    with pytest.raises(TypeError, match="torch.cat\\(\\): input types can't be cast to the desired output type Long"):
        rg.cat([a, a], out=rg.empty(0, dtype=rg.int64))
    with pytest.raises(RuntimeError, match="Expected the dtype for input and out to match, but got Float for input's "
                                           "dtype and Double for out's dtype."):
        rg.amax(a, 0, out=d)


def test_out_must_be_a_tensor():
    with pytest.raises(TypeError, match="argument 'out' must be Tensor"):
        rg.add(rg.tensor(A), 1.0, out=np.zeros((2, 3)))


# ---- parity with PyTorch where installed

_TORCH_CASES = [
    ("add", lambda m, a, b, o: m.add(a, b, out=o)),
    ("mul_scalar", lambda m, a, b, o: m.mul(a, 3, out=o)),
    ("exp", lambda m, a, b, o: m.exp(a, out=o)),
    ("mm", lambda m, a, b, o: m.mm(a, b.t(), out=o)),
    ("cat", lambda m, a, b, o: m.cat([a, b], 1, out=o)),
    ("sum", lambda m, a, b, o: m.sum(a, 0, out=o)),
    ("maximum", lambda m, a, b, o: m.maximum(a, b, out=o)),
    ("eq", lambda m, a, b, o: m.eq(a, b, out=o)),
]


@pytest.mark.parametrize("case", [c[0] for c in _TORCH_CASES])
@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("out_shape", [(0,), (2, 3), (5,)])
def test_out_matches_torch(case, out_dtype, out_shape):
    torch = pytest.importorskip("torch", exc_type=ImportError)
    fn = dict(_TORCH_CASES)[case]

    def run(m, a, b, o):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                r = fn(m, a, b, o)
            except (RuntimeError, TypeError) as e:
                return ("error", type(e).__name__, str(e).split("\n")[0]), len(w)
        return ("ok", np.asarray(r.numpy()), tuple(r.shape), str(r.dtype).split(".")[-1]), len(w)

    (tr, tw) = run(torch, torch.tensor(A), torch.tensor(B),
                   torch.zeros(out_shape, dtype=getattr(torch, out_dtype)))
    (rr, rw) = run(rg, rg.tensor(A), rg.tensor(B), rg.zeros(*out_shape, dtype=getattr(rg, out_dtype)))
    assert tr[0] == rr[0], (tr, rr)
    if tr[0] == "error":
        assert tr[1:] == rr[1:]
    else:
        np.testing.assert_allclose(rr[1], tr[1], rtol=1e-5)
        assert rr[2:] == tr[2:]
        assert (rw > 0) == (tw > 0)


def test_creation_out_requires_grad_marks_out():
    # PyTorch's factories accept requires_grad with out= and mark out itself.
    out = rg.empty(0)
    assert rg.zeros(2, out=out, requires_grad=True) is out
    assert out.requires_grad and out.is_leaf


def test_no_function_silently_ignores_out():
    # Every rustgrad function that takes out= either writes into it or raises.
    import inspect

    a = rg.tensor(A)
    calls = {
        "cumprod": lambda o: rg.cumprod(a, 1, out=o), "logsumexp": lambda o: rg.logsumexp(a, 1, out=o),
        "std": lambda o: rg.std(a, 1, out=o), "norm": lambda o: rg.norm(a, dim=1, out=o),
        "argmax": lambda o: rg.argmax(a, 1, out=o), "nansum": lambda o: rg.nansum(a, out=o),
        "triu": lambda o: rg.triu(a, out=o), "take": lambda o: rg.take(a, rg.tensor([0, 4]), out=o),
        "masked_select": lambda o: rg.masked_select(a, a > 0, out=o), "hstack": lambda o: rg.hstack([a, a], out=o),
        "logical_not": lambda o: rg.logical_not(a, out=o), "eye": lambda o: rg.eye(3, out=o),
        "full": lambda o: rg.full((2,), 3.0, out=o), "ones": lambda o: rg.ones(3, out=o),
    }
    for name, call in calls.items():
        assert "out" in inspect.signature(getattr(rg, name)).parameters, name
        out = rg.empty(0, dtype=rg.int64 if name == "argmax" else rg.bool if name == "logical_not" else rg.float32)
        assert call(out) is out and out.numel() > 0, name


@pytest.mark.skipif(not rg.wgpu.is_available(), reason="no wgpu adapter")
def test_out_on_wgpu():
    a, b = rg.tensor(A).to("wgpu"), rg.tensor(B).to("wgpu")
    out = rg.empty(0).to("wgpu")
    assert rg.add(a, b, out=out) is out and out.device.type == "wgpu"
    np.testing.assert_allclose(out.cpu().numpy(), A + B, rtol=1e-6)
    rg.exp(a, out=out)
    np.testing.assert_allclose(out.cpu().numpy(), np.exp(A), rtol=1e-5)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        rg.add(a, b, out=rg.empty(2, 3))
