"""``out=``: results written into a tensor the caller gives, with PyTorch's rules.

Every function that takes ``out=`` goes through here, so the rules are stated once:

- autograd: an out= call never records; with grad mode on and any argument (``out`` included)
  requiring grad it raises PyTorch's RuntimeError instead;
- dtype: each function names its rule (``CAST``: the result is converted into ``out``'s dtype
  where PyTorch's ``can_cast`` allows it; ``ANY``: any dtype; otherwise ``out`` must have the
  result's dtype exactly, refused with that function's own PyTorch message);
- shape: ``out`` is resized to the result's shape, with PyTorch's UserWarning when it held
  elements;
- the write is in place (views of ``out`` see it) and the function returns ``out`` itself.

Elementwise unary and binary arithmetic and ``mm``/``matmul`` of matrices run natively
(``_C._unary_out``, ``_C._binary_out``, ``_C._mm_out``): the kernel writes into ``out``'s storage
with no temporary. Everything else computes its result and copies it in.
"""

import functools
import inspect
import warnings

from rustgrad import _rustgrad as _C
from rustgrad.autograd.grad_mode import no_grad

_TYPE_NAME = {"bool": "Bool", "uint8": "Byte", "int32": "Int", "int64": "Long", "float32": "Float", "float64": "Double"}
_LOWER_NAME = {"bool": "bool", "uint8": "unsigned char", "int32": "int", "int64": "long int", "float32": "float",
               "float64": "double"}


def type_name(dtype):
    """PyTorch's scalar-type name of ``dtype`` (``Float``, ``Long`` ...) used in its messages."""
    return _TYPE_NAME[repr(dtype).split(".")[-1]]


def lower_name(dtype):
    """PyTorch's C type name of ``dtype`` (``float``, ``long int`` ...) used in its messages."""
    return _LOWER_NAME[repr(dtype).split(".")[-1]]


def can_cast(src, dst):
    """PyTorch's ``can_cast``: no float to integer or bool, no number to bool."""
    if src.is_floating_point and not dst.is_floating_point:
        return False
    return not (src is not _C.bool and dst is _C.bool)


# The dtype rules: each maps (result dtype, out dtype) to PyTorch's error message, or None when
# the write is allowed.
def ANY(r, o):
    """Any out dtype (comparisons, ``sum``, creation functions ...)."""
    return None


def CAST(r, o):
    """TensorIterator ops: the result converts into ``out``'s dtype where ``can_cast`` allows."""
    if can_cast(r, o):
        return None
    return f"result type {type_name(r)} can't be cast to the desired output type {type_name(o)}"


def CAT(r, o):
    """``cat``/``stack`` and their variants."""
    if can_cast(r, o):
        return None
    return f"torch.cat(): input types can't be cast to the desired output type {type_name(o)}"


def _exact(message):
    """A rule that wants ``out`` to have the result's dtype exactly, refused with ``message``."""
    def rule(r, o):
        return None if r is o else message(r, o)

    rule.__doc__ = "``out`` must have the result's dtype exactly."
    return rule


SAME_EXPECTED = _exact(lambda r, o: f"Expected out tensor to have dtype {lower_name(r)}, but got {lower_name(o)} "
                                    "instead")
SAME_REDUCE = _exact(lambda r, o: f"Expected the dtype for input and out to match, but got {type_name(r)} for "
                                  f"input's dtype and {type_name(o)} for out's dtype.")
SAME_FOUND = _exact(lambda r, o: f"Found dtype {type_name(o)} but expected {type_name(r)}")
SAME_WHERE = _exact(lambda r, o: f"Expected out type to be {type_name(r)} but got {type_name(o)}")
SAME_INDEX_SELECT = _exact(lambda r, o: "index_select(): self and result must have the same scalar type")
SAME_NAN_TO_NUM = _exact(lambda r, o: f"nan_to_num: dtype of out: {type_name(o)} should be same as input: "
                                      f"{type_name(r)}")
SAME_MASKED_SELECT = _exact(lambda r, o: "masked_select(): self and result must have the same scalar type")
SAME_NONZERO = _exact(lambda r, o: f"nonzero: Expected out tensor to have scalar type Long but got scalar type"
                                   f"{type_name(o)}")
SAME_TAKE = _exact(lambda r, o: f"take(): self and out expected to have the same dtype, but got self.dtype = "
                                f"{type_name(r)} and out.dtype = {type_name(o)}")
LONG_ONLY_MULTINOMIAL = _exact(lambda r, o: f"multinomial expects Long tensor out, got: {type_name(o)}")
BOOL_ONLY_POSINF = _exact(lambda r, o: "isposinf does not support non-boolean outputs.")
BOOL_ONLY_NEGINF = _exact(lambda r, o: "isneginf does not support non-boolean outputs.")


def INDEX_INT(r, o):
    """``searchsorted``/``bucketize``: int32 or int64 indices, as asked with ``out_int32``."""
    if r is o:
        return None
    return ("torch.searchsorted(): output tensor's dtype is wrong, it can only be Int(int32) or Long(int64) "
            "depending on whether out_int32 flag is True, but we got output tensor's dtype "
            f"{type_name(o)} and out_int32 flag is {r is _C.int32}")


SAME_DOT = _exact(lambda r, o: f"result dtype {type_name(o)} does not match input dtype {type_name(r)}")


def check_grad(name, out, *inputs):
    """Refuse an out= call that autograd would have to record, with PyTorch's message."""
    if not _C.is_grad_enabled():
        return
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for t in (*outs, *_tensors(inputs)):
        if t.requires_grad:
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")


def _tensors(items):
    for x in items:
        if isinstance(x, _C.Tensor):
            yield x
        elif isinstance(x, (tuple, list)):
            yield from _tensors(x)


def _check_out_type(name, out):
    if not isinstance(out, _C.Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")


def check_dtype(rule, result_dtype, out, error=RuntimeError):
    """Apply dtype ``rule`` to writing a ``result_dtype`` result into ``out``."""
    message = rule(result_dtype, out.dtype)
    if message is not None:
        raise error(message)


def resize(out, shape):
    """Give ``out`` the shape ``shape`` as PyTorch's out= resize does: warn when it held elements
    of another shape; keep its memory when the element count already matches and it is
    contiguous (a view of the same storage), else give it new memory."""
    shape = tuple(shape)
    if tuple(out.shape) == shape:
        return
    if out.numel():
        warnings.warn(
            f"An output with one or more elements was resized since it had shape {list(out.shape)}, which does "
            f"not match the required output shape {list(shape)}. This behavior is deprecated, and in a future "
            "PyTorch release outputs will not be resized unless they have zero elements. You can explicitly "
            "reuse an out tensor t by resizing it, inplace, to zero elements with t.resize_(0).",
            UserWarning, stacklevel=4)
    out.resize_(shape)


def write(out, result, rule=CAST):
    """Put ``result`` (computed without autograd) into ``out`` by ``rule``; returns ``out``."""
    check_dtype(rule, result.dtype, out)
    resize(out, result.shape)
    with no_grad():
        out.copy_(result)
    return out


def finish(name, out, result, rule=CAST):
    """``out=`` for a result already computed: ``result`` itself when ``out`` is None, else the
    autograd refusal (a result that requires grad came from an input that does), the dtype rule,
    the resize and the copy; returns ``out``."""
    if out is None:
        return result
    _check_out_type(name, out)
    if _C.is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    return write(out, result.detach(), rule)


def native(call, out):
    """Run a native out= entry point: it returns None once written, or the shape ``out`` needs
    (nothing written yet); then resize and run it again."""
    shape = call()
    if shape is not None:
        resize(out, shape)
        call()
    return out


def unary(name, input, out, p0=None, p1=None):
    """``torch.<name>(input, out=out)`` for a native unary op, written straight into ``out``."""
    _check_out_type(name, out)
    return native(lambda: _C._unary_out(name, input, out, p0, p1), out)


def binary(name, op, input, other, out):
    """``torch.<name>(input, other, out=out)`` for native arithmetic ``op``, written straight
    into ``out``."""
    _check_out_type(name, out)
    return native(lambda: _C._binary_out(name, op, input, other, out), out)


def mm(name, input, other, out):
    """``mm``/``matmul`` of two matrices written straight into ``out``."""
    _check_out_type(name, out)
    return native(lambda: _C._mm_out(name, input, other, out), out)


def supports_out(name, rule=CAST, creation=False, error=RuntimeError):
    """Decorator giving a function PyTorch's ``out=`` by computing then writing: the wrapped
    function is called without ``out`` (and, for ``creation`` functions, with ``out``'s dtype and
    device unless given), then its result goes through :func:`write`. ``out`` may be a tuple for
    functions returning several tensors (``sort``, ``max(dim)`` ...)."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, out=None, **kwargs):
            if out is None:
                return fn(*args, **kwargs)
            check_grad(name, out, *args, *kwargs.values())
            wants_grad = False
            if creation:
                if kwargs.get("dtype") is None:
                    kwargs["dtype"] = out.dtype
                elif kwargs["dtype"] is not out.dtype:
                    raise RuntimeError(f"dtype {type_name(kwargs['dtype'])} does not match dtype of out parameter "
                                       f"({type_name(out.dtype)})")
                if kwargs.get("device") is None:
                    kwargs["device"] = out.device
                # requires_grad=True marks out itself afterwards, as PyTorch's factories do.
                wants_grad = kwargs.pop("requires_grad", False)
            with no_grad():
                result = fn(*args, **kwargs)
            if isinstance(result, tuple):
                if not isinstance(out, (tuple, list)) or len(out) != len(result):
                    raise TypeError(f"{name}(): argument 'out' must be tuple of {len(result)} Tensors")
                for o, r in zip(out, result):
                    _check_out_type(name, o)
                    # (index outputs are int64 and must be given as int64)
                    check_dtype(rule if r.is_floating_point() else SAME_EXPECTED, r.dtype, o, error)
                for o, r in zip(out, result):
                    write(o, r, ANY)
                return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
            _check_out_type(name, out)
            check_dtype(rule, result.dtype, out, error)
            write(out, result, ANY)
            if creation and wants_grad:
                out.requires_grad_(True)
            return out

        wrapper.__signature__ = _with_out(inspect.signature(fn))
        return wrapper

    return deco


def _with_out(sig):
    """``sig`` with a keyword-only ``out=None`` (before any ``**kwargs``)."""
    params = list(sig.parameters.values())
    at = len(params) - (1 if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD else 0)
    params.insert(at, inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
    return sig.replace(parameters=params)
