//! `out=`: an op's result written into a tensor the caller gives, as PyTorch's out= overloads
//! do. The checks come first and in PyTorch's order (autograd, dtype cast, device, shape), so a
//! refused call leaves `out` untouched. When `out` is a contiguous CPU tensor of the result's
//! shape and dtype that overlaps no input (or is exactly one input of an elementwise op), the
//! kernel writes into its storage and nothing else is allocated; otherwise the result is computed
//! and copied in (converted to `out`'s dtype where PyTorch allows the cast).
//!
//! A wrong shape is not an error: PyTorch resizes `out` (warning when it held elements). The
//! functions here return that shape, and the Python layer resizes (and warns) and calls again.

use super::{can_cast, check_inplace, copy_into, lower_name, type_name, BinaryOp, Scalar, UnaryOp};
use crate::autograd::is_grad_enabled;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{broadcast_shapes, Shape};
use crate::tensor::Tensor;
use std::sync::Arc;

/// PyTorch's refusal to differentiate through an out= call (`name` is the function, e.g. `add`).
pub fn check_out_grad(name: &str, inputs: &[&Tensor], out: &Tensor) -> Result<()> {
    if is_grad_enabled() && (out.requires_grad() || inputs.iter().any(|t| t.requires_grad())) {
        return Err(Error::runtime(format!(
            "{name}(): functions with out=... arguments don't support automatic differentiation, but one of the arguments requires grad."
        )));
    }
    Ok(())
}

/// PyTorch's cast rule for out=: a result may go into a wider or same-category dtype, never from
/// float to integer or from a number to bool.
pub fn check_out_cast(result: DType, out: &Tensor) -> Result<()> {
    if !can_cast(result, out.dtype()) {
        return Err(Error::runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            type_name(result),
            type_name(out.dtype())
        )));
    }
    Ok(())
}

/// Whether `a` and `b` share storage.
fn shares_memory(a: &Tensor, b: &Tensor) -> bool {
    Arc::ptr_eq(&a.storage(), &b.storage())
}

/// Whether a kernel may write its `dtype` result of `shape` straight into `out`. Elementwise
/// kernels read element i before writing it, so `out` may be exactly an input (`exact_alias_ok`);
/// any other overlap would read elements already overwritten.
fn direct(
    out: &Tensor,
    shape: &[usize],
    dtype: DType,
    inputs: &[&Tensor],
    exact_alias_ok: bool,
) -> bool {
    out.device().is_cpu()
        && inputs.iter().all(|t| t.device().is_cpu())
        && out.dtype() == dtype
        && dtype != DType::Bool
        // Half results are computed in f32 and rounded into a new tensor (kernels::widen).
        && !dtype.is_half()
        && out.is_contiguous()
        && out.shape().as_slice() == shape
        && inputs
            .iter()
            .all(|t| !shares_memory(t, out) || exact_alias_ok && t.layout() == out.layout())
}

/// The checks every out= write shares after its dtype rule: one device for all, then the shape
/// (`Some(shape)` asks the caller to resize), then writability.
fn prepare(inputs: &[&Tensor], out: &Tensor, shape: &[usize]) -> Result<Option<Shape>> {
    let mut all: Vec<&Tensor> = inputs.to_vec();
    all.push(out);
    crate::kernels::device_of(&all)?;
    if out.shape().as_slice() != shape {
        return Ok(Some(shape.into()));
    }
    check_inplace(out)?;
    Ok(None)
}

/// `torch.<name>(a, b, out=out)` for a binary arithmetic op. `Ok(Some(shape))`: `out` must first
/// be resized to `shape`; nothing was written.
pub fn binary_out(
    name: &str,
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
) -> Result<Option<Shape>> {
    check_out_grad(name, &[a, b], out)?;
    let dtype = super::binary::compute_dtype(op, super::result_type2(a, b))?;
    check_out_cast(dtype, out)?;
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    if let Some(s) = prepare(&[a, b], out, &shape)? {
        return Ok(Some(s));
    }
    if direct(out, &shape, dtype, &[a, b], true) {
        super::binary::binary_kernel_into(op, a, b, dtype, Some(out))?;
        out.bump_version();
    } else {
        copy_into(out, &super::binary::binary_kernel(op, a, b, dtype)?)?;
    }
    Ok(None)
}

/// [`binary_out`] with a Python number on one side (`s op a` when `reverse`).
pub fn binary_scalar_out(
    name: &str,
    op: BinaryOp,
    a: &Tensor,
    s: Scalar,
    reverse: bool,
    out: &Tensor,
) -> Result<Option<Shape>> {
    check_out_grad(name, &[a], out)?;
    let (lhs, rhs, _) = super::binary::scalar_operands(op, a, s, reverse)?;
    binary_out(name, op, &lhs, &rhs, out)
}

/// `torch.<name>(x, out=out)` for a unary elementwise op.
pub fn unary_out(name: &str, op: UnaryOp, x: &Tensor, out: &Tensor) -> Result<Option<Shape>> {
    check_out_grad(name, &[x], out)?;
    let dtype = super::unary::unary_result_dtype(op, x.dtype());
    check_out_cast(dtype, out)?;
    let shape = x.shape();
    if let Some(s) = prepare(&[x], out, &shape)? {
        return Ok(Some(s));
    }
    if direct(out, &shape, dtype, &[x], true) {
        super::unary::unary_kernel_into(op, x, Some(out))?;
        out.bump_version();
    } else {
        copy_into(out, &super::unary::unary_kernel(op, x)?)?;
    }
    Ok(None)
}

/// `torch.mm(a, b, out=out)` (and `matmul` of two matrices). `out` must have the operands' dtype
/// exactly, as PyTorch's GEMM requires.
pub fn mm_out(name: &str, a: &Tensor, b: &Tensor, out: &Tensor) -> Result<Option<Shape>> {
    check_out_grad(name, &[a, b], out)?;
    let (sa, sb) = (a.shape(), b.shape());
    if a.ndim() != 2 || b.ndim() != 2 || a.dtype() != b.dtype() || sa[1] != sb[0] {
        // Not a valid product of two matrices: the op itself raises PyTorch's error.
        super::matmul(a, b)?;
        return Err(Error::runtime(format!("{name}(): expected two matrices")));
    }
    if out.dtype() != a.dtype() {
        return Err(Error::runtime(format!(
            "Expected out tensor to have dtype {}, but got {} instead",
            lower_name(a.dtype()),
            lower_name(out.dtype())
        )));
    }
    let shape = [sa[0], sb[1]];
    if let Some(s) = prepare(&[a, b], out, &shape)? {
        return Ok(Some(s));
    }
    if direct(out, &shape, a.dtype(), &[a, b], false) {
        crate::cpu::matmul::bmm_into(a, b, &shape, Some(out))?;
        out.bump_version();
    } else {
        copy_into(out, &super::matmul(a, b)?)?;
    }
    Ok(None)
}
