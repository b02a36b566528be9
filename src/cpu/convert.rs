//! CPU side of the copy/cast family: dtype conversion into fresh tensors and strided copies into
//! existing ones. `ops::convert` decides when a copy is needed and handles devices and autograd.

use super::loops::{map1_into_view, map1_view};
use super::view::{CpuView, CpuViewMut};
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::layout::Layout;
use crate::tensor::Tensor;
use crate::with_dtype;

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
    if S::DTYPE.is_float() && !D::DTYPE.is_float() {
        D::from_i64(float_to_int(v.to_f64(), D::DTYPE))
    } else if S::DTYPE.is_float() {
        D::from_f64(v.to_f64())
    } else {
        D::from_i64(v.to_i64())
    }
}

/// A float converted to an integer dtype the way PyTorch's CPU cast does on x86: truncate toward
/// zero into int32 (int64 for int64), where NaN, inf and out-of-range values become the minimum;
/// narrower integers then keep the low bits (300.0 -> int8 44, 1e10 -> int8 0).
#[inline(always)]
fn float_to_int(v: f64, to: DType) -> i64 {
    if to == DType::I64 {
        return if v.is_finite() && v > -9.223_372_036_854_776e18 && v < 9.223_372_036_854_776e18 {
            v as i64
        } else {
            i64::MIN
        };
    }
    if v.is_finite() && v > -2_147_483_649.0 && v < 2_147_483_648.0 {
        v as i64
    } else {
        i32::MIN as i64
    }
}

/// `src` (any layout, any dtype) copied into a fresh contiguous tensor of `dtype`.
pub fn cast_copy(src: &Tensor, dtype: DType) -> Result<Tensor> {
    with_dtype!(src.dtype(), S, {
        with_dtype!(dtype, D, {
            let x = CpuView::<S>::of(src)?;
            let (out, o) = CpuViewMut::<D>::fresh(&x.layout().shape)?;
            map1_view(&x, &o, cast::<S, D>)?;
            Ok(out)
        })
    })
}

/// Write `src`, broadcast to `dst`'s shape and converted to its dtype, into `dst`'s memory.
/// Both live on the CPU; the caller bumps the version.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    let dd = dst.data();
    let sl = src.layout().expand(&dd.layout.shape)?;
    let sd = src.data();
    // When src and dst share storage the writes could clobber elements still to be read, so the
    // source goes through a temporary.
    let tmp;
    let (storage, sl) = if std::sync::Arc::ptr_eq(&sd.storage, &dd.storage) {
        tmp = cast_copy(&src.with_layout(sl), src.dtype())?;
        (tmp.storage(), Layout::contiguous(&dd.layout.shape))
    } else {
        (sd.storage.clone(), sl)
    };
    with_dtype!(storage.dtype(), S, {
        with_dtype!(dd.storage.dtype(), D, {
            map1_into_view(
                &CpuView::<S>::new(storage, sl)?,
                &CpuViewMut::<D>::new(dd.storage, dd.layout)?,
                cast::<S, D>,
            )?
        })
    });
    Ok(())
}
