"""Matrix products: ``matmul`` / ``@`` and its named special cases (mm, bmm, mv, dot, outer,
addmm ...). All of them run on the native batched GEMM (``_C._matmul``)."""

import sys
import types

from rustgrad import _C
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
    """``torch.matmul``: dot, matrix-vector, matrix and batched products with broadcasting (in
    the autocast dtype inside an autocast region)."""
    input, other = _autocast("matmul", input, other)
    r = _C._matmul(input, other)
    if out is not None:
        out.copy_(r)
        return out
    return r


def mm(input, mat2, *, out=None):
    """``torch.mm``: product of two 2-D matrices."""
    if input.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2, out=out)


def bmm(input, mat2, *, out=None):
    """``torch.bmm``: batched product of two 3-D tensors (no broadcasting)."""
    if input.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.dim() != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2, out=out)


def mv(input, vec, *, out=None):
    """``torch.mv``: matrix times vector."""
    if input.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.dim()}, {vec.dim()}")
    return matmul(input, vec, out=out)


def dot(input, other, *, out=None):
    """``torch.dot``: inner product of two 1-D tensors."""
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {_name(input)} and {_name(other)}")
    return matmul(input, other, out=out)


def _name(t):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
            "uint8": "Byte", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16", "int8": "Char",
            "int16": "Short"}.get(str(t.dtype).replace("rustgrad.", ""), str(t.dtype))


def vdot(input, other, *, out=None):
    """``torch.vdot`` (real tensors: same as ``dot``)."""
    return dot(input, other, out=out)


def inner(input, other, *, out=None):
    """``torch.inner``: sum product over the last dims."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    return matmul(input, other.movedim(-1, 0) if other.dim() > 1 else other, out=out) if other.dim() <= 2 \
        else (input.reshape(*input.shape[:-1], *([1] * (other.dim() - 1)), input.shape[-1])
              * other).sum(-1)


def outer(input, vec2, *, out=None):
    """``torch.outer``: outer product of two vectors."""
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {input.dim()}D and {vec2.dim()}D")
    r = input.unsqueeze(1) * vec2.unsqueeze(0)  # a product per element: promotes dtypes like PyTorch
    if out is not None:
        out.copy_(r)
        return out
    return r


ger = outer


def _affine(input, prod, beta, alpha, out=None):
    """``beta * input + alpha * prod``, written into ``out`` when given."""
    if alpha != 1:
        prod = prod * alpha
    # beta=0: input is ignored (NaN in it does not propagate), as in PyTorch.
    r = prod if beta == 0 else prod + (input if beta == 1 else input * beta)
    if out is not None:
        out.copy_(r)
        return out
    return r


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``torch.addmm``: ``beta * input + alpha * (mat1 @ mat2)``."""
    return _affine(input, mm(mat1, mat2), beta, alpha, out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``torch.addmv``: ``beta * input + alpha * (mat @ vec)``."""
    return _affine(input, mv(mat, vec), beta, alpha, out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``torch.baddbmm``: ``beta * input + alpha * (batch1 @ batch2)``."""
    return _affine(input, bmm(batch1, batch2), beta, alpha, out)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``torch.addbmm``: ``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    return _affine(input, bmm(batch1, batch2).sum(0), beta, alpha)


def chain_matmul(*matrices):
    """``torch.chain_matmul``: left-to-right product of matrices."""
    r = matrices[0]
    for m in matrices[1:]:
        r = mm(r, m)
    return r


Tensor.__matmul__ = lambda self, other: matmul(self, other) if isinstance(other, Tensor) else NotImplemented
Tensor.__rmatmul__ = lambda self, other: matmul(other, self) if isinstance(other, Tensor) else NotImplemented
Tensor.matmul = matmul
Tensor.mm = mm
Tensor.bmm = bmm
Tensor.mv = mv
Tensor.dot = dot
Tensor.vdot = vdot
Tensor.inner = inner
Tensor.outer = outer
Tensor.ger = ger
Tensor.addmm = addmm
Tensor.addmv = addmv
Tensor.baddbmm = baddbmm
Tensor.addbmm = addbmm

# torch.linalg.matmul: attach to the linalg namespace (created here when nobody made it yet).
_pkg = sys.modules["rustgrad"]
_la = getattr(_pkg, "linalg", None) or sys.modules.get("rustgrad.linalg")
if _la is None:
    _la = types.ModuleType("rustgrad.linalg", "Linear algebra functions (torch.linalg).")
    sys.modules["rustgrad.linalg"] = _la
    _pkg.linalg = _la
_la.matmul = matmul
_la.vector_norm = _reduce_mod.vector_norm
