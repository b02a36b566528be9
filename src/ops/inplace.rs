//! In-place ops. Values are written into the tensor's own storage (so views see them) and the
//! version counter is bumped. When autograd must record the op, the out-of-place result with its
//! graph is computed first and the tensor takes over its history, as PyTorch rebases history.

use super::{binary, copy_into, fill_raw, BinaryOp, Scalar};
use crate::autograd::{is_grad_enabled, record, set_grad_fn};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Refuse in-place writes that would corrupt autograd or write one memory location through
/// several elements (an expanded, stride-0 tensor), with PyTorch's messages.
pub fn check_inplace(t: &Tensor) -> Result<()> {
    let l = t.layout();
    if l.shape
        .iter()
        .zip(l.strides.iter())
        .any(|(&d, &s)| d > 1 && s == 0)
    {
        return Err(Error::runtime(
            "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.",
        ));
    }
    if is_grad_enabled() && t.is_leaf() && t.requires_grad() {
        return Err(Error::runtime(
            "a leaf Variable that requires grad is being used in an in-place operation.",
        ));
    }
    if is_grad_enabled() {
        if let Some(b) = t.view_base() {
            if b.is_leaf() && b.requires_grad() {
                return Err(Error::runtime(
                    "a view of a leaf Variable that requires grad is being used in an in-place operation.",
                ));
            }
        }
    }
    Ok(())
}

/// The operand an in-place op computes from. When the op is recorded, its backward may need the
/// value from *before* the write, so it reads a (differentiable) copy instead of `t` itself;
/// otherwise the write would trip the version check of the very node it creates.
pub fn inplace_source(t: &Tensor, others: &[&Tensor]) -> Result<Tensor> {
    let mut all = vec![t];
    all.extend_from_slice(others);
    if crate::autograd::needs_grad(&all) {
        super::clone(t)
    } else {
        Ok(t.clone())
    }
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
        match t.view_base() {
            Some(base) if is_grad_enabled() => rebase_view(t, &base, result)?,
            _ => set_grad_fn(t, node, nr),
        }
    }
    Ok(())
}

/// After an in-place write of `result` through view `t` of `base`: the base's gradient now comes
/// from its old history everywhere except the written region, which comes from `result`
/// (PyTorch's CopySlices); the view itself becomes a fresh view of the updated base.
fn rebase_view(t: &Tensor, base: &Tensor, result: &Tensor) -> Result<()> {
    let bl = base.layout();
    if !bl.is_contiguous() {
        return Err(Error::runtime(
            "in-place operation on a view of a non-contiguous tensor that requires grad is not supported",
        ));
    }
    let tl = t.layout();
    let rel_offset = tl.offset as isize - bl.offset as isize;
    // The view's region inside any contiguous tensor shaped like the base.
    let region = move |l: &Layout| -> Result<Layout> {
        Ok(Layout {
            shape: tl.shape.clone(),
            strides: tl.strides.clone(),
            offset: (l.offset as isize + rel_offset) as usize,
        })
    };
    let region = std::sync::Arc::new(region);
    let r2 = region.clone();
    record(
        "CopySlices",
        &[base, result],
        &[base],
        false,
        move |g, needs| {
            let gb = super::materialize(&g[0], g[0].dtype())?;
            let reg = gb.with_layout(r2(&gb.layout())?);
            let g_res = if needs[1] {
                Some(super::materialize(&reg, reg.dtype())?)
            } else {
                None
            };
            fill_raw(&reg, Scalar::Int(0))?;
            Ok(vec![needs[0].then_some(gb), g_res])
        },
    );
    let fresh = super::view_with(base, "AsStridedBackward0", region)?;
    if let Some((node, nr)) = fresh.grad_fn() {
        set_grad_fn(t, node, nr);
    }
    Ok(())
}

/// `t.op_(other)` for a binary arithmetic op; the result keeps `t`'s dtype and shape.
pub fn binary_(op: BinaryOp, t: &Tensor, other: &Tensor) -> Result<()> {
    check_inplace(t)?;
    let r = binary(op, &inplace_source(t, &[other])?, other)?;
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
    check_inplace(t)?;
    let r = super::binary_scalar(op, &inplace_source(t, &[])?, s, false)?;
    if r.dtype() != t.dtype() && !can_cast(r.dtype(), t.dtype()) {
        return Err(Error::runtime(format!(
            "result type {} can't be cast to the desired output type {}",
            type_name(r.dtype()),
            type_name(t.dtype())
        )));
    }
    commit_inplace(t, &r)
}

pub(crate) fn type_name(d: crate::dtype::DType) -> &'static str {
    super::reduce::torch_dtype_name(d)
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
    value.check_fits(t.dtype())?;
    if t.requires_grad() && is_grad_enabled() {
        let r = super::mul_scalar(t, 0.0)?;
        let r = super::add_scalar(&r, value.to_f64())?;
        return commit_inplace(t, &r);
    }
    fill_raw(t, value)?;
    t.bump_version();
    Ok(())
}

/// `copy_(src)`: broadcasting and dtype conversion; gradient flows to src.
pub fn copy_(t: &Tensor, src: &Tensor) -> Result<()> {
    check_inplace(t)?;
    if is_grad_enabled() && src.requires_grad() {
        let shape = t.shape();
        let e = super::expand(&super::to_dtype(src, t.dtype())?, &shape)?;
        let r = super::materialize(&e, t.dtype())?;
        // PyTorch's node for copy_; the expand and dtype cast before it carry the gradient
        // back to src's shape and dtype.
        record("CopyBackwards", &[&e], &[&r], false, |g, _| {
            Ok(vec![Some(g[0].clone())])
        });
        return commit_inplace(t, &r);
    }
    copy_into(t, src)?;
    if t.grad_fn().is_some() && is_grad_enabled() {
        // Overwritten entirely by a constant: its history no longer matters.
        t.detach_();
    }
    Ok(())
}
