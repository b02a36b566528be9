//! Dtype conversion, contiguous copies and raw copies between layouts.

use crate::autograd::record;
use crate::cpu::loops;
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::layout::Layout;
use crate::tensor::Tensor;
use crate::with_dtype;

/// Copy `src` (any layout, any dtype) into a fresh contiguous tensor of `dtype`. No autograd.
pub(crate) fn materialize(src: &Tensor, dtype: DType) -> Result<Tensor> {
    if let Some(out) = crate::kernels::materialize(src, dtype)? {
        return Ok(out);
    }
    let d = src.data();
    let out = Tensor::empty(&d.layout.shape, dtype)?;
    let op = out.storage().cpu_ptr();
    let ip = d.storage.cpu_ptr();
    with_dtype!(d.storage.dtype(), S, {
        with_dtype!(dtype, D, {
            // SAFETY: layouts are valid over their storages; out is fresh and contiguous.
            unsafe { loops::map1(ip as *const S, &d.layout, op as *mut D, cast::<S, D>) }
        })
    });
    Ok(out)
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

/// Element conversion with PyTorch's rules (float->int truncates; to bool is `!= 0`).
#[inline(always)]
pub(crate) fn cast<S: Element, D: Element>(v: S) -> D {
    if D::DTYPE == DType::Bool {
        return D::from_f64(if v.to_f64() != 0.0 || v.to_f64().is_nan() {
            1.0
        } else {
            0.0
        });
    }
    if S::DTYPE.is_float() {
        D::from_f64(v.to_f64())
    } else {
        D::from_i64(v.to_i64())
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
    let dd = dst.data();
    let sl = src.layout().expand(&dd.layout.shape)?;
    let sd = src.data();
    // If src and dst overlap, go through a temporary.
    let src_tmp;
    let (sp, sl) = if std::sync::Arc::ptr_eq(&sd.storage, &dd.storage) {
        src_tmp = materialize(&src.with_layout(sl.clone()), src.dtype())?;
        (
            src_tmp.storage().cpu_ptr(),
            Layout::contiguous(&dd.layout.shape),
        )
    } else {
        (sd.storage.cpu_ptr(), sl)
    };
    let dp = dd.storage.cpu_ptr();
    with_dtype!(sd.storage.dtype(), S, {
        with_dtype!(dd.storage.dtype(), D, {
            if dd.layout.is_contiguous() {
                // SAFETY: dst is contiguous from its offset; src offsets come from a valid layout.
                unsafe {
                    loops::map1(
                        sp as *const S,
                        &sl,
                        (dp as *mut D).add(dd.layout.offset),
                        cast::<S, D>,
                    )
                }
            } else {
                let order = crate::cpu::loops::offsets(&sl);
                let sp = crate::cpu::threads::SendPtr(sp as *mut S);
                // SAFETY: offsets are from valid layouts over their storages.
                unsafe {
                    loops::update(dp as *mut D, &dd.layout, move |i, _| {
                        cast::<S, D>(*{ sp }.0.add(order[i]))
                    })
                }
            }
        })
    });
    dd.storage.bump_version();
    Ok(())
}
