//! The device ops whose half (float16/bfloat16) handling is more than a widen of the operands
//! (`kernels::widen` covers the rest): matmul, convolution with a bias, and raw-offset writes.

use super::super::widen;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::ops::ConvGeom;
use crate::tensor::Tensor;
use crate::wgpu::{kernels as k, GpuView};

/// Batched matmul. Two operands of one half dtype go to the half matmul kernel (widened as the
/// tiles load, f32 accumulation, one rounding of the f32 result); other mixes widen first.
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dt = a.dtype();
    if !dt.is_half() || b.dtype() != dt {
        return widen::on_f32_2(a, b, super::bmm);
    }
    let nd = a.ndim();
    let mut shape = a.shape();
    shape[nd - 1] = b.shape()[nd - 1];
    let acc = k::half::matmul_f32_out(&super::view_of(a)?, &super::view_of(b)?)?;
    let out = k::half::pack(&GpuView::contiguous(acc, DType::F32, &shape), dt)?;
    Ok(super::wrap(out, dt, &shape))
}

/// Convolution forward with every half operand (bias included) widened, rounded once.
pub fn conv2d_forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &ConvGeom,
) -> Result<Tensor> {
    let b32 = bias.map(widen::widen).transpose()?;
    widen::on_f32_2(x, w, |x, w| super::conv::forward(x, w, b32.as_ref(), g))
}

/// `put_offsets_` into a half tensor: the offsets address its whole storage, so the whole
/// storage is widened, written in f32 and stored back (values are rounded once, on the host side
/// of the op or here).
pub fn put_offsets_(t: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<()> {
    if !t.dtype().is_half() {
        return super::index::put_offsets_(t, offsets, values);
    }
    let storage = t.storage();
    let whole = Tensor::from_parts(storage.clone(), Layout::contiguous(&[storage.len()]));
    let wide = widen::widen(&whole)?;
    // Round the values to the half dtype first so they land exactly as the CPU stores them.
    let vals = if values.device().is_cpu() {
        crate::ops::materialize(values, t.dtype())?
    } else {
        super::materialize(values, t.dtype())?
    };
    super::index::put_offsets_(&wide, offsets, &widen::widen(&vals)?)?;
    super::copy_into(&whole, &wide)
}
