//! Bitwise ops on integer and bool tensors: `&`, `|`, `^`, `<<`, `>>` (and `~` as xor with all
//! ones). Operands promote like arithmetic; a float or (for shifts) bool result dtype raises
//! PyTorch's NotImplementedError naming its CPU kernel. Never differentiable.

use super::{operand, result_type2, scalar_tensor, BitOp, Scalar};
use crate::dtype::{result_type, DType};
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

/// PyTorch's refusal for a dtype the op has no kernel for.
fn check_dtype(op: BitOp, dtype: DType) -> Result<()> {
    let shift = matches!(op, BitOp::Shl | BitOp::Shr);
    if dtype.is_float() || shift && dtype == DType::Bool {
        return Err(Error::not_implemented(format!(
            "\"{}\" not implemented for '{}'",
            op.kernel_name(),
            super::torch_dtype_name(dtype)
        )));
    }
    Ok(())
}

fn bitwise_typed(op: BitOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    check_dtype(op, dtype)?;
    if let Some(out) = crate::kernels::bitwise(op, a, b, dtype)? {
        return Ok(out);
    }
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    crate::cpu::elementwise::bitwise(op, a, b, &shape, dtype)
}

/// `a op b` for two tensors (promoted, broadcast).
pub fn bitwise(op: BitOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    bitwise_typed(op, a, b, result_type2(a, b))
}

/// `a op s` (or `s op a` when `reverse`) for a Python scalar `s`.
pub fn bitwise_scalar(op: BitOp, a: &Tensor, s: Scalar, reverse: bool) -> Result<Tensor> {
    let dtype = result_type(&[operand(a), s.operand()]);
    check_dtype(op, dtype)?;
    let st = scalar_tensor(s, dtype)?;
    if reverse {
        bitwise_typed(op, &st, a, dtype)
    } else {
        bitwise_typed(op, a, &st, dtype)
    }
}

/// `torch.bitwise_not`: `~x` on integers (xor with all ones), logical not on bool.
pub fn bitwise_not(x: &Tensor) -> Result<Tensor> {
    let dt = x.dtype();
    if dt.is_float() {
        return Err(Error::not_implemented(format!(
            "\"bitwise_not_cpu\" not implemented for '{}'",
            super::torch_dtype_name(dt)
        )));
    }
    let ones = if dt == DType::Bool {
        Scalar::Bool(true)
    } else {
        Scalar::Int(-1)
    };
    bitwise_typed(BitOp::Xor, x, &scalar_tensor(ones, dt)?, dt)
}
