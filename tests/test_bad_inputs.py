"""Regression tests for bad-input defects found by review and by the fuzzer (test_fuzz.py).

PyTorch 2.x's behaviour is the spec; each expectation below was checked against it and is
hard-coded, so this file needs no PyTorch. Defects whose fix belongs in Rust (src/) or in
python/rustgrad/_tensor_methods/ are strict xfails: when a fix lands the test XPASSes and fails, which
is the cue to drop the marker (and the matching entry of fuzz_ops.KNOWN)."""

import math

import numpy as np
import pytest
import rustgrad as rg


def rust(why):
    return pytest.mark.xfail(strict=True, reason=f"needs Rust fix: {why}")


def tensor_py(why):
    return pytest.mark.xfail(strict=True, reason=f"needs a fix in python/rustgrad/_tensor_methods/: {why}")


def no_panic(fn, exc):
    """``fn`` raises ``exc`` cleanly (not a caught Rust panic reported as an internal error)."""
    with pytest.raises(exc) as info:
        fn()
    assert "internal error" not in str(info.value), str(info.value)


# ------------------------------------------------------------------ fixed in Python


@pytest.mark.parametrize("fn", ["chunk", "split", "tensor_split"])
@pytest.mark.parametrize("dim", [2, -3, 5])
def test_split_family_dim_out_of_range(fn, dim):
    with pytest.raises(IndexError, match="Dimension out of range"):
        getattr(rg.zeros(2, 3), fn)(2, dim=dim)


def test_split_and_chunk_edge_cases():
    assert [t.shape for t in rg.zeros(0, 3).split(2)] == [(0, 3)]  # one empty piece, as in PyTorch
    assert [t.shape for t in rg.zeros(0, 3).chunk(3)] == [(0, 3)] * 3
    with pytest.raises(RuntimeError, match="at least a 1-dimensional"):
        rg.tensor(1.0).chunk(2)
    with pytest.raises(RuntimeError, match="non-negative"):
        rg.zeros(3).split(-1)
    with pytest.raises(RuntimeError, match="non-negative entries"):
        rg.zeros(3).split([1, -1, 3])
    with pytest.raises(TypeError):
        rg.zeros(3).chunk(2, dim=1.0)


@pytest.mark.parametrize("call", [
    lambda x: x.flip(0, 0), lambda x: rg.flip(x, (0, -2)), lambda x: rg.logsumexp(x, (0, 0)),
    lambda x: x.permute(0, 0),
])
def test_duplicate_dims(call):
    with pytest.raises(RuntimeError):
        call(rg.zeros(2, 3))


def test_movedim_checks():
    x = rg.zeros(2, 3, 4)
    with pytest.raises(RuntimeError, match="repeated dim in `source`"):
        x.movedim((0, 0), (1, 2))
    with pytest.raises(RuntimeError, match="repeated dim in `destination`"):
        x.movedim((0, 1), (1, 1))
    with pytest.raises(RuntimeError, match="same number of dims"):
        x.movedim((0,), (1, 2))
    with pytest.raises(IndexError):
        x.movedim(3, 0)
    assert rg.tensor(1.0).movedim(0, -1).shape == ()
    assert x.movedim((0, 1), (2, 0)).shape == (3, 4, 2)


@pytest.mark.parametrize("n", [-1, 2**63, -(2**63)])
def test_randperm_bad_sizes(n):
    with pytest.raises((RuntimeError, ValueError)):
        rg.randperm(n)
    with pytest.raises(TypeError):
        rg.randperm(1.5)


def test_repeat_checks():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        rg.zeros(2).repeat(-1, 2)
    with pytest.raises(TypeError):
        rg.zeros(2).repeat(2.0)
    with pytest.raises(TypeError):
        rg.zeros(2).repeat()
    with pytest.raises(RuntimeError):
        rg.zeros(2).repeat(2**62, 2**62)
    assert rg.tile(rg.tensor(1.0), ()).shape == ()


@pytest.mark.parametrize("call", [lambda: rg.zeros(1.5), lambda: rg.ones(2.5), lambda: rg.zeros(2, 3.0),
                                  lambda: rg.empty(1.5), lambda: rg.zeros(), lambda: rg.rand(1.5),
                                  lambda: rg.zeros(True), lambda: rg.full(2, 1.0), lambda: rg.eye(2.0)])
def test_sizes_must_be_ints(call):
    with pytest.raises(TypeError):
        call()


def test_sizes_accepted_forms():
    assert rg.zeros((2, 3)).shape == (2, 3) and rg.zeros([]).shape == () and rg.zeros(rg.tensor(2)).shape == (2,)
    assert rg.zeros(np.int64(2)).shape == (2,) and rg.zeros(2, True).shape == (2, 1)  # (PyTorch's parser)
    assert rg.rand([]).shape == () and rg.randn(()).shape == ()  # 0-d samples stay 0-d


def test_gather_scatter_accept_int32_and_empty_index():
    x = rg.arange(4.0)
    assert rg.gather(x, 0, rg.tensor([1, 2], dtype=rg.int32)).tolist() == [1.0, 2.0]
    assert x.scatter(0, rg.tensor([1], dtype=rg.int32), 5.0).tolist() == [0.0, 5.0, 2.0, 3.0]
    assert x.gather(0, rg.zeros(0)).shape == (0,)  # an empty index's dtype is not checked


@pytest.mark.parametrize("call", [
    lambda: rg.arange(4.0).gather(0, rg.tensor([-1])), lambda: rg.arange(4.0).gather(0, rg.tensor([4])),
    lambda: rg.zeros(4).scatter(0, rg.tensor([-1]), rg.ones(1)), lambda: rg.zeros(4).scatter(0, rg.tensor([4]), 1.0),
    lambda: rg.zeros(4).scatter_add(0, rg.tensor([-1]), rg.ones(1)),
], ids=["gather-neg", "gather-oob", "scatter-neg", "scatter-oob", "scatter_add-neg"])
def test_gather_scatter_index_bounds(call):
    """Out-of-range and negative indices are RuntimeError (never IndexError, never wrapped)."""
    with pytest.raises(RuntimeError, match="out of bounds for dimension") as info:
        call()
    assert not isinstance(info.value, IndexError)


def test_index_select_add_negative_index():
    with pytest.raises(IndexError, match="index out of range in self"):
        rg.zeros(3).index_select(0, rg.tensor([-1]))
    with pytest.raises(IndexError, match="index out of range in self"):
        rg.zeros(3).index_add(0, rg.tensor([-1]), rg.ones(1))
    assert rg.arange(9.0).take(rg.tensor([-2])).tolist() == [7.0]  # take does count from the end


def test_index_add_past_the_end():
    with pytest.raises(RuntimeError, match="out of bounds for dimension 0 with size 3") as info:
        rg.zeros(3, 5).index_add(0, rg.tensor([4]), rg.ones(1, 5))
    assert not isinstance(info.value, IndexError)


def test_uint8_pow_negative_scalar():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        rg.tensor([2], dtype=rg.uint8).pow(-1)


def test_int_pow_negative_tensor_exponent():
    # a negative *tensor* exponent is allowed (truncated result); only a negative Python int raises
    assert (rg.tensor([2, 1, -1, -1]) ** rg.tensor([-1, -1, -1, -2])).tolist() == [0, 1, -1, 1]
    assert (rg.tensor([2], dtype=rg.uint8) ** rg.tensor([-1])).tolist() == [0]


def test_fmod():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        rg.fmod(rg.tensor([3, 4]), 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        rg.tensor([3, 4]).fmod(rg.tensor([0, 1]))
    assert rg.fmod(rg.zeros(0, dtype=rg.int64), 0).shape == (0,)  # nothing divided
    r = rg.fmod(rg.tensor([True, False]), -1)
    assert r.dtype == rg.int64 and r.tolist() == [0, 0]
    with pytest.raises(NotImplementedError):
        rg.fmod(rg.tensor([True]), rg.tensor([True]))
    assert rg.fmod(rg.tensor([7, -7]), rg.tensor([-3, 3])).tolist() == [1, -1]
    assert rg.fmod(rg.tensor([1e10]), 3.3).item() == pytest.approx(float(np.fmod(np.float32(1e10), np.float32(3.3))))
    with pytest.raises(TypeError):
        rg.fmod(7, rg.tensor([2]))
    x = rg.tensor([5.5, -5.5], dtype=rg.float64, requires_grad=True)
    rg.fmod(x, 2.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_bernoulli_p_range():
    for call in (lambda: rg.bernoulli(rg.zeros(3), p=1.5), lambda: rg.zeros(3).bernoulli_(-0.5),
                 lambda: rg.bernoulli(rg.full((3,), 1.5)), lambda: rg.bernoulli(rg.zeros(2), p=math.nan)):
        with pytest.raises(RuntimeError):
            call()
    assert rg.tensor(0.0).bernoulli_(1.0).item() == 1.0  # 0-d works


@pytest.mark.parametrize("dtype,value", [(rg.int64, math.nan), (rg.int64, math.inf), (rg.int64, 1e30),
                                         (rg.int32, 2**31), (rg.uint8, 300), (rg.uint8, -256), (rg.float32, 1e300)])
def test_setitem_unrepresentable_scalar(dtype, value):
    x = rg.zeros(3, dtype=dtype)
    with pytest.raises(RuntimeError, match="without overflow"):
        x[0] = value
    with pytest.raises(RuntimeError, match="without overflow"):
        x[:] = value
    with pytest.raises(RuntimeError, match="without overflow"):
        x.masked_fill(rg.tensor([True, False, True]), value)


def test_setitem_representable_scalars():
    x = rg.zeros(3, dtype=rg.uint8)
    x[0] = -1  # PyTorch wraps small negative ints into uint8
    x[1] = 255.5
    assert x.tolist() == [255, 255, 0]
    y = rg.zeros(2, dtype=rg.int64)
    y[0] = 3.7
    assert y.tolist() == [3, 0]
    with pytest.raises(ValueError):
        y[0] = 2**63


def test_cat_empty_and_stacks():
    with pytest.raises(ValueError, match="non-empty list"):
        rg.cat([])
    for fn in (rg.stack, rg.hstack, rg.vstack, rg.dstack):
        with pytest.raises(RuntimeError, match="non-empty TensorList"):
            fn([])


def test_nested_list_index_is_a_tuple():
    x = rg.arange(4).reshape(2, 2)
    assert x[[[0, 1], [1, 0]]].tolist() == [1, 2]  # PyTorch 2.x: x[[0, 1], [1, 0]]
    assert x[[0, 1]].tolist() == [[0, 1], [2, 3]]  # plain ints: one advanced index
    assert x[np.array([[0, 1], [1, 0]])].shape == (2, 2, 2)  # an array is always an index
    assert x[[0, slice(None)]].tolist() == [0, 1]
    y = rg.arange(4).reshape(2, 2)
    y[[[0, 1], [1, 0]]] = 7
    assert y.tolist() == [[0, 7], [7, 3]]
    z = rg.arange(4).reshape(2, 2)
    z[[[0, 1], [1, 0]]] = rg.tensor([7, 8])
    assert z.tolist() == [[0, 7], [8, 3]]


def test_bool_and_ellipsis_indices():
    x = rg.zeros(4, 3, 5)
    assert x[True].shape == (1, 4, 3, 5) and x[False].shape == (0, 4, 3, 5)
    assert x[True, rg.tensor(-4)].shape == (1, 3, 5)
    assert x[..., 0, ...].shape == (4, 3)  # PyTorch lets a second Ellipsis stand for no dims
    y = rg.zeros(3)
    y[True] = 1.0
    y[False] = 5.0
    assert y.tolist() == [1.0, 1.0, 1.0]


def test_index_put_dtype_rule():
    x = rg.zeros(3)
    with pytest.raises(RuntimeError, match="dtypes match"):
        x[[0]] = rg.tensor([1])
    x[rg.tensor([True, False, True])] = rg.tensor(2)  # a 0-d value under one mask is a masked_fill
    x[0] = rg.tensor(3)  # basic indexing copies with a cast
    assert x.tolist() == [3.0, 0.0, 2.0]


def test_addcmul_addcdiv_integer():
    one = rg.ones(3, dtype=rg.int64)
    assert one.clone().addcmul_(one, one).tolist() == [2, 2, 2]
    assert one.clone().addcmul_(one, one, value=2).tolist() == [3, 3, 3]
    r = one.addcmul(one, one, value=0.5)  # the value is cast to the integer compute dtype
    assert r.dtype == rg.int64 and r.tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        one.addcdiv(one, one)
    with pytest.raises(NotImplementedError):
        rg.ones(3, dtype=rg.bool).addcmul_(rg.ones(3, dtype=rg.bool), rg.ones(3, dtype=rg.bool))
    assert rg.addcmul(rg.zeros(3, dtype=rg.int32), rg.tensor(1.0), rg.tensor(1.0, dtype=rg.float64)).dtype == rg.float64


def test_all_any_logsumexp_empty_dim():
    x = rg.tensor([[1, 0], [1, 1]])
    assert x.all(dim=()).tolist() == [[True, False], [True, True]]
    assert x.any(dim=()).tolist() == [[True, False], [True, True]]
    assert rg.ones(2, dtype=rg.uint8).all().dtype == rg.uint8
    with pytest.raises(RuntimeError, match=r"broadcast shape \[1, 1\]"):
        rg.logsumexp(rg.ones(2, 3), dim=())
    assert rg.logsumexp(rg.ones(2, 3), dim=(), keepdim=True).shape == (1, 1)
    assert rg.logsumexp(rg.zeros(0, 2), dim=()).item() == -math.inf


def test_cumsum_and_reduction_dtypes():
    assert rg.cumsum(rg.tensor([1, 2]), 0, dtype=rg.int32).dtype == rg.int32
    assert rg.tensor([1, 2], dtype=rg.int32).cumsum(0).dtype == rg.int64
    assert rg.zeros(2, dtype=rg.int32).nansum(dtype=rg.int32).dtype == rg.int32
    with pytest.raises(NotImplementedError):
        rg.zeros(2).cumsum(0, dtype=rg.bool)


def test_reduction_argument_types():
    x = rg.zeros(2, 3)
    for call in (lambda: x.max(dim=None), lambda: x.max(keepdim=False), lambda: x.prod(dim=None),
                 lambda: x.median(dim=None), lambda: rg.softmax(x), lambda: x.cumsum(None), lambda: x.argmax(1.0),
                 lambda: x.logsumexp(None), lambda: x.topk(1.0)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(IndexError):
        rg.zeros(0, 3).argmax()
    with pytest.raises(IndexError):
        rg.zeros(0, 3).kthvalue(1, 0)
    assert x.argmax(dim=None).item() == 0
    with pytest.warns(UserWarning, match="Implicit dimension"):  # nn.functional keeps the legacy implicit dim
        assert rg.nn.functional.softmax(x).shape == (2, 3)


def test_inplace_on_expanded_tensor():
    msg = "more than one element of the written-to tensor refers to a single memory location"
    with pytest.raises(RuntimeError, match=msg):
        rg.zeros(1).expand(3).add_(1)
    with pytest.raises(RuntimeError, match=msg):
        rg.zeros(1, 3).expand(2, 3).mul_(2)
    x = rg.zeros(1).expand(3)
    x[0] = 1.0  # a scalar fill is allowed (PyTorch too)
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_augmented_assignment_is_in_place():
    x = rg.tensor([7, 8])
    v = x[:1]
    v //= 2
    assert x.tolist() == [3, 8]
    x %= 3
    x **= 2
    assert x.tolist() == [0, 4]


def test_div_trunc_integer():
    assert rg.div(rg.tensor([7, -7, 7, -7]), rg.tensor([2, 2, -2, -2]), rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        rg.tensor([7]).div(0, rounding_mode="trunc")
    with pytest.raises(RuntimeError, match="can't be cast"):
        rg.tensor([7]).div_(2.5, rounding_mode="trunc")


def test_elementwise_argument_types():
    for call in (lambda: rg.maximum(rg.zeros(2), 1.0), lambda: rg.logical_and(rg.zeros(2), True),
                 lambda: rg.zeros(2).minimum(0)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        rg.add(rg.zeros(2, dtype=rg.int64), 1, alpha=0.5)
    with pytest.raises(RuntimeError, match="Boolean alpha"):
        rg.zeros(2).sub(1.0, alpha=True)


def test_random_argument_checks():
    for call, exc in ((lambda: rg.rand(2, dtype=rg.int64), NotImplementedError), (lambda: rg.randn(-1), RuntimeError),
                      (lambda: rg.randint(5, 2, (2,)), RuntimeError), (lambda: rg.normal(rg.zeros(2), -1.0), RuntimeError),
                      (lambda: rg.multinomial(rg.tensor(1.0), 1), RuntimeError),
                      (lambda: rg.multinomial(rg.ones(3), 0), RuntimeError)):
        with pytest.raises(exc):
            call()


def test_index_fill_copy_bounds():
    assert rg.zeros(3).index_fill(0, rg.tensor([-1]), 1.0).tolist() == [0.0, 0.0, 1.0]  # wraps
    with pytest.raises(IndexError, match="index -4 is out of bounds"):
        rg.zeros(3).index_fill(0, rg.tensor([-4]), 1.0)
    with pytest.raises(IndexError, match="index_copy_\\(\\): index -1 is out of bounds"):  # no wrapping
        rg.zeros(3).index_copy(0, rg.tensor([-1]), rg.ones(1))
    with pytest.raises(IndexError, match="out of range: tried to access index 9"):
        rg.arange(9.0).take(rg.tensor([9]))


def test_setitem_check_order():
    x = rg.zeros(1, dtype=rg.uint8)
    with pytest.raises(RuntimeError, match="without overflow"):  # the value before the index dtype
        x[rg.tensor([0.0])] = -1.5
    with pytest.raises(IndexError, match="tensors used as indices"):
        x[rg.tensor([0.0])] = 1
    y = rg.zeros(2, 3, dtype=rg.int64)
    with pytest.raises(IndexError):  # a basic index before the value
        y[(slice(4, -1, 2), -4)] = -math.inf
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        rg.zeros(2)[rg.tensor([1, 0], dtype=rg.uint8)] = 0.0


def test_empty_results_check_nothing():
    assert rg.rand(0, 2**62).shape == (0, 2**62) and rg.randn(0, dtype=rg.int32).shape == (0,)
    assert rg.zeros(0, 1)[:, [[1], [1]]].shape == (0, 2, 1)  # nothing read, no bounds check (PyTorch)
    assert rg.roll(rg.zeros(0, 2), 3, 5).shape == (0, 2)


# ------------------------------------------------------------------ Rust-side (fuzz_ops.KNOWN)


@rust("masked_fill_/index_fill_ on an expanded tensor are allowed in PyTorch (deprecated, with a "
      "warning); commit_inplace's check_inplace refuses them (src/ops/inplace.rs)")
def test_masked_fill_on_expanded():
    x = rg.zeros(1).expand(3)
    x.masked_fill_(rg.tensor([True, False, True]), 1.0)
    assert x.tolist() == [1.0, 1.0, 1.0]


@rust("bool inputs that PyTorch has no kernel for must raise NotImplementedError "
      "(src/ops/unary.rs, src/ops/binary.rs dtype dispatch)")
@pytest.mark.parametrize("call", [
    lambda b: b.abs(), lambda b: b.relu(), lambda b: b.floor(), lambda b: b.neg(), lambda b: b % b, lambda b: b // b,
    lambda b: b ** b, lambda b: rg.sub(rg.tensor([1]), False),
], ids=["abs", "relu", "floor", "neg", "remainder", "floor_divide", "pow", "sub-bool-scalar"])
def test_bool_kernels(call):
    with pytest.raises(NotImplementedError):
        call(rg.tensor([True, False]))


@rust("sign(bool) is bool and square(bool) is int64 in PyTorch (src/ops/unary.rs)")
def test_bool_unary_dtypes():
    b = rg.tensor([True, False])
    assert b.sign().dtype == rg.bool and b.square().dtype == rg.int64


@rust("the integer zero-divisor check must not fire for an empty output (src/ops/binary.rs binary_kernel)")
def test_remainder_zero_divisor_on_empty():
    assert rg.zeros(0, dtype=rg.int64).remainder(0).shape == (0,)


@rust("Tensor.sum(dtype=) must give that dtype; sum/mean(keepdim=) without dim is a TypeError "
      "(src/py/tensor.rs sum/mean bindings)")
def test_sum_dtype_and_keepdim():
    assert rg.zeros(3, dtype=rg.int64).sum(dtype=rg.int32).dtype == rg.int32
    assert rg.zeros(3, dtype=rg.bool).sum(dtype=rg.bool).dtype == rg.bool
    with pytest.raises(TypeError):
        rg.zeros(3).sum(keepdim=True)


@rust("an empty reduced dim in amax/amin is IndexError; dim lists are range-checked before repeated "
      "dims are refused (src/ops/reduce.rs, src/shape.rs)")
def test_amax_empty_dim_and_dim_list_order():
    with pytest.raises(IndexError):
        rg.zeros(0, 3).amax(0)
    with pytest.raises(IndexError):
        rg.zeros(3).sum(dim=[0, 0, 5])


def test_squeeze_repeated_dims():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        rg.zeros(1, 2, 1).squeeze((0, 0))
    no_panic(lambda: rg.zeros(1).squeeze((0, 0)), RuntimeError)


def test_zero_size_shape_with_huge_dim():
    assert rg.ones(2**62, 2, 0).shape == (2**62, 2, 0)


@pytest.mark.parametrize("call", [lambda: rg.ones(2**40, 2**40), lambda: rg.full((2**40, 2**40), 1.0)])
def test_full_size_overflow(call):
    no_panic(call, RuntimeError)


def test_as_strided_negative_offset():
    with pytest.raises(RuntimeError):
        rg.zeros(4).as_strided((2,), (1,), -1)


@rust("a view with no elements needs no storage: as_strided((0, 5), (0, 2), 2) of a 1-element tensor is fine "
      "in PyTorch (src/py/tensor.rs _as_strided storage bound)")
def test_as_strided_empty_view_needs_no_storage():
    assert rg.tensor(0.0).as_strided((0, 5), (0, 2), 2).shape == (0, 5)


@rust("narrow on a 0-d tensor and a negative length are RuntimeError, checked before the dim "
      "(src/ops/movement.rs narrow)")
def test_narrow_errors():
    with pytest.raises(RuntimeError):
        rg.tensor(1.0).narrow(0, 0, 1)
    with pytest.raises(RuntimeError, match="length must be non-negative"):
        rg.zeros(3).narrow(5, 0, -1)


@rust("view/reshape/permute/expand with no sizes are TypeError; sizes beyond int64 are TypeError, "
      "not OverflowError (src/py/tensor.rs argument parsing)")
@pytest.mark.parametrize("call", [lambda x: x.permute(), lambda x: x.view(), lambda x: x.expand(),
                                  lambda x: x.view(2**64), lambda x: x.squeeze(None)])
def test_view_argument_types(call):
    with pytest.raises(TypeError):
        call(rg.zeros(2))


@rust("flatten(0-d, start_dim=1) is IndexError (src/py/tensor.rs / src/ops/movement.rs flatten)")
def test_flatten_0d_dims():
    with pytest.raises(IndexError):
        rg.tensor(1.0).flatten(start_dim=1)


def test_arange_bool_dtype():
    for call in (lambda: rg.arange(5, dtype=rg.bool), lambda: rg.linspace(0, 1, 3, dtype=rg.bool)):
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            call()


def test_fill_unrepresentable():
    with pytest.raises(RuntimeError, match="without overflow"):
        rg.zeros(3, dtype=rg.int64).fill_(math.nan)


def test_log_softmax_inf():
    assert math.isnan(rg.log_softmax(rg.tensor(math.inf), 0).item())


@rust("an empty product succeeds in PyTorch even for bool (src/ops/matmul.rs dtype check before the "
      "empty fast path)")
def test_empty_bool_matmul():
    assert (rg.zeros(0, 3, dtype=rg.bool) @ rg.zeros(3, 1, dtype=rg.bool)).shape == (0, 1)


@rust("add_/sub_ alpha rules: bool alpha with a non-bool result raises (src/py/tensor.rs _binary_)")
def test_inplace_bool_alpha():
    with pytest.raises(RuntimeError, match="Boolean alpha"):
        rg.zeros(2).add_(True, alpha=True)


@rust("gather with an empty index of another ndim succeeds in PyTorch (src/ops/index.rs gather)")
def test_gather_empty_index_ndim():
    assert rg.gather(rg.zeros(0, 0), 0, rg.zeros(0, dtype=rg.int64)).shape == (0,)


@rust("(-inf).pow_(0.5) is NaN like the out-of-place pow (PyTorch uses sqrt for 0.5); the in-place path uses "
      "powf and gives inf (src/ops/inplace.rs pow_)")
def test_inplace_pow_half_of_neg_inf():
    x = rg.tensor([-math.inf])
    x.pow_(0.5)
    assert math.isnan(x.item()) and math.isnan(rg.tensor([-math.inf]).pow(0.5).item())


@rust("integer arange computes start + i * int(step) in PyTorch: arange(-1, 0, 0.5, dtype=int32) is [-1, -1] "
      "(src/ops/creation.rs arange)")
def test_integer_arange_fractional_step():
    assert rg.arange(-1, 0, 0.5, dtype=rg.int32).tolist() == [-1, -1]


def test_expand_numel_overflow():
    with pytest.raises(RuntimeError):
        rg.zeros(2, 1).expand(2**62, 2, 1)


@rust("logical ops cast both operands to the promoted dtype before testing nonzero (PyTorch): uint8 and an "
      "int32 0-d INT_MIN promote to uint8, where INT_MIN is 0 (src/ops/binary.rs _logical)")
def test_logical_and_promotes_first():
    assert rg.logical_and(rg.tensor([5], dtype=rg.uint8), rg.tensor(-(2**31), dtype=rg.int32)).tolist() == [False]


@rust("integer linspace wraps like PyTorch: linspace(0, -1, 2, dtype=uint8) is [0, 255] (src/ops/creation.rs)")
def test_integer_linspace_wraps():
    assert rg.linspace(0, -1, 2, dtype=rg.uint8).tolist() == [0, 255]


@rust("float floor division of inf is NaN in PyTorch ((a - fmod(a, b)) / b) (src/cpu/num.rs floor_div)")
def test_floor_divide_inf():
    assert math.isnan(rg.div(rg.tensor(math.inf), 2, rounding_mode="floor").item())


# ------------------------------------------------------------------ python/rustgrad/_tensor_methods/


def test_bitwise_ops():
    with pytest.raises(NotImplementedError):
        rg.zeros(2) & 1
    assert (rg.tensor([1], dtype=rg.uint8) & -4).tolist() == [0]


@tensor_py("clamp_(None, None) must raise; clamp with a Tensor min and a number max is a TypeError (_clamp)")
def test_clamp_arguments():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        rg.zeros(2).clamp_(None, None)
    with pytest.raises(TypeError):
        rg.zeros(2).clamp(min=rg.zeros(1), max=2)


def test_lerp_dtype():
    # lerp's end (and a tensor weight) must have self's dtype (fixed in _math_extra.lerp)
    with pytest.raises(RuntimeError, match="expected dtype"):
        rg.zeros(2).lerp(rg.zeros(2, dtype=rg.int64), 0.5)
