//! CPU side of the fill family: every element of a (possibly strided) tensor set to one value.

use super::loops::update_view;
use super::view::CpuViewMut;
use crate::error::Result;
use crate::ops::Scalar;
use crate::tensor::Tensor;
use crate::with_dtype;

/// Set every element of `t` to `value` converted to its dtype (no autograd, no version bump).
pub fn fill(t: &Tensor, value: Scalar) -> Result<()> {
    with_dtype!(t.dtype(), T, {
        let v: T = value.cast::<T>();
        update_view(&CpuViewMut::<T>::of(t)?, move |_, _| v);
    });
    Ok(())
}
