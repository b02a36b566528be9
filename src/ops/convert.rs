//! Dtype conversion, contiguous copies and raw copies between layouts.

use crate::autograd::record;
pub(crate) use crate::cpu::convert::cast;
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

/// Copy `src` (any layout, any dtype) into a fresh contiguous tensor of `dtype`. No autograd.
pub(crate) fn materialize(src: &Tensor, dtype: DType) -> Result<Tensor> {
    if let Some(out) = crate::kernels::materialize(src, dtype)? {
        return Ok(out);
    }
    crate::cpu::convert::cast_copy(src, dtype)
}

/// `t` itself when contiguous, else a contiguous copy (no autograd).
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
pub(crate) fn contiguous_raw(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        materialize(t, t.dtype())
    }
}

/// `tensor.to(dtype)`: returns `t` itself when nothing changes, like PyTorch.
pub fn to_dtype(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    let out = materialize(t, dtype)?;
    let src_dtype = t.dtype();
    if dtype.is_float() {
        record("ToCopyBackward0", &[t], &[&out], false, move |g, _| {
            Ok(vec![Some(to_dtype(&g[0], src_dtype)?)])
        });
    }
    Ok(out)
}

/// `contiguous()`: itself when already contiguous, else a copy.
pub fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        return Ok(t.clone());
    }
    clone(t)
}

/// `clone()`: always a fresh contiguous copy, differentiable.
pub fn clone(t: &Tensor) -> Result<Tensor> {
    let out = materialize(t, t.dtype())?;
    record("CloneBackward0", &[t], &[&out], false, |g, _| {
        Ok(vec![Some(g[0].clone())])
    });
    Ok(out)
}

/// A gradient that is safe to keep as `.grad`: contiguous and not shared with anyone.
pub fn owned_contiguous(g: Tensor) -> Result<Tensor> {
    let d = g.data();
    let unique =
        std::sync::Arc::strong_count(&g.0) == 1 && std::sync::Arc::strong_count(&d.storage) <= 2;
    if unique
        && d.layout.is_contiguous()
        && d.layout.offset == 0
        && d.layout.numel() == d.storage.len()
    {
        Ok(g.detach())
    } else {
        materialize(&g, g.dtype())
    }
}

/// Copy `src` into `dst`'s memory (broadcasting src, converting dtype). No autograd, bumps version.
pub(crate) fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    if dst.device() != src.device() {
        // `copy_` is the one op that crosses devices, as in PyTorch: move src over first,
        // converting the dtype on the host side of the move (the device converts few dtypes).
        let moved = if src.device().is_cpu() {
            let s = if src.dtype() == dst.dtype() {
                src.detach()
            } else {
                materialize(src, dst.dtype())?
            };
            crate::kernels::transfer::to_device(&s, dst.device())?
        } else {
            crate::kernels::transfer::to_device(&src.detach(), dst.device())?
        };
        return copy_into(dst, &moved);
    }
    if crate::kernels::copy_into(dst, src)? {
        dst.bump_version();
        return Ok(());
    }
    crate::cpu::convert::copy_into(dst, src)?;
    dst.bump_version();
    Ok(())
}
