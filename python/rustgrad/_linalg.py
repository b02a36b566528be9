"""Matrix products: ``matmul`` / ``@`` and its named special cases (mm, bmm, mv, dot, outer,
addmm ...). All of them run on the native batched GEMM (``_C._matmul``)."""

import sys
import types

from rustgrad import _C, _out
from rustgrad import _reduce as _reduce_mod
from rustgrad._rustgrad import Tensor
from rustgrad.amp.autocast_mode import cast_inputs as _autocast

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "baddbmm", "addbmm", "chain_matmul"]


def _need(t, nd, name, arg):
    if t.dim() != nd:
        raise RuntimeError(f"{arg} must be a {nd}D tensor" if name != "dot" else
                           f"1D tensors expected, but got {t.dim()}D and {nd}D tensors")


def matmul(input, other, *, out=None):
    """``torch.matmul(input, other, *, out=None)``: dot, matrix-vector, matrix and batched
    products with broadcasting (in the autocast dtype inside an autocast region). With ``out=``, a
    product of two matrices is written straight into ``out`` (no temporary); the other cases compute
    and copy."""
    input, other = _autocast("matmul", input, other)
    if out is not None:
        if isinstance(input, Tensor) and isinstance(other, Tensor) and input.dim() == 2 and other.dim() == 2:
            return _out.mm("matmul", input, other, out)
        return _matmul_out(input, other, out=out)
    return _C._matmul(input, other)


@_out.supports_out("matmul", _out.SAME_EXPECTED)
def _matmul_out(input, other):
    return _C._matmul(input, other)


def mm(input, mat2, *, out=None):
    """``torch.mm(input, mat2, *, out=None)``: product of two 2-D matrices (``out=`` is written
    in place with no temporary)."""
    if input.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    input, mat2 = _autocast("mm", input, mat2)
    if out is not None:
        return _out.mm("mm", input, mat2, out)
    return _C._matmul(input, mat2)


@_out.supports_out("bmm", _out.SAME_EXPECTED)
def bmm(input, mat2):
    """``torch.bmm``: batched product of two 3-D tensors (no broadcasting)."""
    if input.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.dim() != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2)


@_out.supports_out("mv", _out.SAME_EXPECTED)
def mv(input, vec):
    """``torch.mv``: matrix times vector."""
    if input.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.dim()}, {vec.dim()}")
    return matmul(input, vec)


@_out.supports_out("dot", _out.SAME_DOT)
def dot(input, other):
    """``torch.dot``: inner product of two 1-D tensors."""
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {_name(input)} and {_name(other)}")
    return matmul(input, other)


def _name(t):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
            "uint8": "Byte", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16", "int8": "Char",
            "int16": "Short"}.get(str(t.dtype).replace("rustgrad.", ""), str(t.dtype))


@_out.supports_out("vdot", _out.SAME_EXPECTED)
def vdot(input, other):
    """``torch.vdot`` (real tensors: same as ``dot``)."""
    return dot(input, other)


@_out.supports_out("inner", _out.SAME_EXPECTED)
def inner(input, other):
    """``torch.inner``: sum product over the last dims."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    return matmul(input, other.movedim(-1, 0) if other.dim() > 1 else other) if other.dim() <= 2 \
        else (input.reshape(*input.shape[:-1], *([1] * (other.dim() - 1)), input.shape[-1])
              * other).sum(-1)


@_out.supports_out("outer", _out.SAME_EXPECTED)
def outer(input, vec2):
    """``torch.outer``: outer product of two vectors."""
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {input.dim()}D and {vec2.dim()}D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)  # a product per element: promotes dtypes like PyTorch


ger = outer


def _affine(input, prod, beta, alpha):
    """``beta * input + alpha * prod``."""
    if alpha != 1:
        prod = prod * alpha
    # beta=0: input is ignored (NaN in it does not propagate), as in PyTorch.
    return prod if beta == 0 else prod + (input if beta == 1 else input * beta)


@_out.supports_out("addmm", _out.SAME_EXPECTED)
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``torch.addmm``: ``beta * input + alpha * (mat1 @ mat2)``. On the wgpu device with beta =
    alpha = 1 the add runs in the GEMM's epilogue (one kernel)."""
    if (beta == 1 and alpha == 1 and isinstance(input, Tensor) and isinstance(mat1, Tensor)
            and isinstance(mat2, Tensor) and mat1.dim() == 2 and mat2.dim() == 2
            and mat1.device.type == "wgpu"):
        input, mat1, mat2 = _autocast("addmm", input, mat1, mat2)
        return _C._addmm_act(input, mat1, mat2, "none")
    return _affine(input, mm(mat1, mat2), beta, alpha)


@_out.supports_out("addmv", _out.SAME_EXPECTED)
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``torch.addmv``: ``beta * input + alpha * (mat @ vec)``."""
    return _affine(input, mv(mat, vec), beta, alpha)


@_out.supports_out("baddbmm", _out.SAME_EXPECTED)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``torch.baddbmm``: ``beta * input + alpha * (batch1 @ batch2)``."""
    return _affine(input, bmm(batch1, batch2), beta, alpha)


@_out.supports_out("addbmm", _out.SAME_EXPECTED)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``torch.addbmm``: ``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    return _affine(input, bmm(batch1, batch2).sum(0), beta, alpha)


@_out.supports_out("chain_matmul", _out.SAME_EXPECTED)
def chain_matmul(*matrices):
    """``torch.chain_matmul``: left-to-right product of matrices."""
    r = matrices[0]
    for m in matrices[1:]:
        r = mm(r, m)
    return r



# torch.linalg.matmul: attach to the linalg namespace (created here when nobody made it yet).
_pkg = sys.modules["rustgrad"]
_la = getattr(_pkg, "linalg", None) or sys.modules.get("rustgrad.linalg")
if _la is None:
    _la = types.ModuleType("rustgrad.linalg", "Linear algebra functions (torch.linalg).")
    sys.modules["rustgrad.linalg"] = _la
    _pkg.linalg = _la
_la.matmul = matmul
_la.vector_norm = _reduce_mod.vector_norm
