//! In-place ops. Values are written into the tensor's own storage (so views see them) and the
//! version counter is bumped. When autograd must record the op, the out-of-place result with its
//! graph is computed first and the tensor takes over its history, as PyTorch rebases history.

use super::{binary, copy_into, fill_raw, BinaryOp, Scalar};
use crate::autograd::{is_grad_enabled, set_grad_fn};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Refuse in-place writes that would corrupt autograd, with PyTorch's messages.
pub fn check_inplace(t: &Tensor) -> Result<()> {
    if is_grad_enabled() && t.is_leaf() && t.requires_grad() {
        return Err(Error::runtime(
            "a leaf Variable that requires grad is being used in an in-place operation.",
        ));
    }
    Ok(())
}

/// Write `result` (same shape, computed out of place) into `t`, taking over its graph history.
pub fn commit_inplace(t: &Tensor, result: &Tensor) -> Result<()> {
    check_inplace(t)?;
    if result.shape() != t.shape() {
        return Err(Error::runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            crate::shape::fmt_shape(&t.shape()),
            crate::shape::fmt_shape(&result.shape())
        )));
    }
    copy_into(t, result)?;
    if let Some((node, nr)) = result.grad_fn() {
        set_grad_fn(t, node, nr);
    }
    Ok(())
}

/// `t.op_(other)` for a binary arithmetic op; the result keeps `t`'s dtype and shape.
pub fn binary_(op: BinaryOp, t: &Tensor, other: &Tensor) -> Result<()> {
    let r = binary(op, t, other)?;
    if r.dtype() != t.dtype() && !can_cast(r.dtype(), t.dtype()) {
        return Err(Error::runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            type_name(r.dtype()),
            type_name(t.dtype())
        )));
    }
    commit_inplace(t, &r)
}

pub fn binary_scalar_(op: BinaryOp, t: &Tensor, s: Scalar) -> Result<()> {
    let r = super::binary_scalar(op, t, s, false)?;
    if r.dtype() != t.dtype() && !can_cast(r.dtype(), t.dtype()) {
        return Err(Error::runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            type_name(r.dtype()),
            type_name(t.dtype())
        )));
    }
    commit_inplace(t, &r)
}

fn type_name(d: crate::dtype::DType) -> &'static str {
    use crate::dtype::DType::*;
    match d {
        Bool => "Bool",
        U8 => "Byte",
        I32 => "Int",
        I64 => "Long",
        F32 => "Float",
        F64 => "Double",
    }
}

/// PyTorch's `canCast`: no float -> integral and no integral/float -> bool.
pub fn can_cast(from: crate::dtype::DType, to: crate::dtype::DType) -> bool {
    use crate::dtype::Category::*;
    !(from.category() == Float && to.category() != Float
        || from.category() != Bool && to.category() == Bool)
}

/// `add_` used by gradient accumulation: no checks beyond shapes, never recorded.
pub fn add_(t: &Tensor, other: &Tensor) -> Result<Tensor> {
    let _g = crate::autograd::GradModeGuard::new(false);
    let r = binary(BinaryOp::Add, t, other)?;
    copy_into(t, &r)?;
    Ok(t.clone())
}

/// `fill_(value)`.
pub fn fill_(t: &Tensor, value: Scalar) -> Result<()> {
    check_inplace(t)?;
    if t.requires_grad() && is_grad_enabled() {
        let r = super::mul_scalar(t, 0.0)?;
        let r = super::add_scalar(&r, value.to_f64())?;
        return commit_inplace(t, &r);
    }
    fill_raw(t, value);
    t.bump_version();
    Ok(())
}

/// `copy_(src)`: broadcasting and dtype conversion; gradient flows to src.
pub fn copy_(t: &Tensor, src: &Tensor) -> Result<()> {
    check_inplace(t)?;
    if is_grad_enabled() && src.requires_grad() {
        let shape = t.shape();
        let e = super::expand(&super::to_dtype(src, t.dtype())?, &shape)?;
        let r = super::clone(&e)?;
        return commit_inplace(t, &r);
    }
    copy_into(t, src)?;
    if t.grad_fn().is_some() && is_grad_enabled() {
        // Overwritten entirely by a constant: its history no longer matters.
        t.detach_();
    }
    Ok(())
}
