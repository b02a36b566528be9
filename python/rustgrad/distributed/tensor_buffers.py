"""Handing tensors to MPI.

A contiguous CPU tensor goes to MPI as a NumPy view of its own memory (``Tensor.numpy()`` shares
it), so collectives read and write the tensor with no copy. A non-contiguous tensor, or one on
another device (wgpu), is staged: copied into a contiguous host buffer, and the result copied back
into the tensor when the operation completes.
"""

import numpy as np

import rustgrad
from rustgrad.distributed.reduce_op import RedOpType


class TensorBuffer:
    """A tensor's elements as a contiguous NumPy array for MPI; ``writeback()`` returns a staged
    result to the tensor."""

    __slots__ = ("tensor", "arr", "_host")

    def __init__(self, t):
        self.tensor = t
        d = t.detach()
        if t.numel() == 0:  # nothing to move (and no memory whose layout matters)
            self._host = None
            self.arr = host_array(t.shape, t.dtype)
        elif t.device.type == "cpu" and t.is_contiguous():
            self._host = None
            self.arr = d.numpy()
        else:
            # .contiguous() of a strided CPU tensor, or .to("cpu") of a device one, is a copy.
            self._host = d.to("cpu").contiguous()
            self.arr = self._host.numpy()

    @property
    def staged(self):
        return self._host is not None

    def writeback(self):
        """Copy a staged result into the tensor (a no-op for zero-copy buffers)."""
        if self._host is not None:
            copy_into(self.tensor, self._host)


def copy_into(dst, src):
    """``dst.copy_(src)`` across devices, without autograd, skipping empty tensors."""
    if dst.numel() == 0:
        return
    if not isinstance(src, rustgrad.Tensor):
        src = rustgrad.from_numpy(src)
    with rustgrad.no_grad():
        dst.detach().copy_(src.detach().to(dst.device))


def check_tensor(t, param="tensor"):
    """TypeError as PyTorch's for a non-tensor argument."""
    if not isinstance(t, rustgrad.Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type rustgrad.Tensor\n"
                        f"             but got {type(t)} instead.")


def check_tensor_list(ts, param="tensor_list"):
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, rustgrad.Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type List[rustgrad.Tensor]\n"
                        f"             but got {type(ts)} instead.")


# PyTorch's scalar-type names, used in its casting messages.
_TYPE_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "uint8": "Byte",
               "bool": "Bool", "int16": "Short", "int8": "Char", "float16": "Half", "bfloat16": "BFloat16"}


def dtype_name(dt):
    return str(dt).rsplit(".", 1)[-1]


def mpi_op(MPI, op, t):
    """The MPI reduction for ``op`` on ``t``'s dtype (AVG reduces with SUM, then divides)."""
    name = dtype_name(t.dtype)
    floating = name.startswith(("float", "bfloat"))
    if op is RedOpType.AVG and not floating:
        raise RuntimeError(f"result type Float can't be cast to the desired output type {_TYPE_NAMES.get(name, name)}")
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and floating:
        raise RuntimeError(f"{op.name} is not supported for floating point tensors ({t.dtype})")
    if name == "bool":
        # MPI's C_BOOL type takes only logical reductions: sum/max are "or", product/min "and".
        return {RedOpType.SUM: MPI.LOR, RedOpType.MAX: MPI.LOR, RedOpType.BOR: MPI.LOR,
                RedOpType.PRODUCT: MPI.LAND, RedOpType.MIN: MPI.LAND, RedOpType.BAND: MPI.LAND,
                RedOpType.BXOR: MPI.LXOR}[op]
    return {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD,
            RedOpType.MIN: MPI.MIN, RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND,
            RedOpType.BOR: MPI.BOR, RedOpType.BXOR: MPI.BXOR}[op]


def host_array(shape, dtype):
    """A fresh host array shaped ``shape`` of the NumPy dtype matching a rustgrad ``dtype``."""
    return np.empty(tuple(shape), dtype=np.dtype(dtype_name(dtype)))
