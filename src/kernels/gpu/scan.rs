//! The wgpu side of cumsum / cumprod and the cumprod gradient: the scanned dim is moved last in
//! a view (no copy) of the input and of a fresh contiguous output, so the result keeps the
//! input's dim order.

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::wgpu::{self as w, kernels as k, GpuView};

/// `v` with dim `d` moved last.
fn dim_last(v: &GpuView, d: usize) -> GpuView {
    let nd = v.shape.len();
    let order: Vec<usize> = (0..nd).filter(|&i| i != d).chain([d]).collect();
    GpuView::new(
        v.buffer.clone(),
        v.dtype,
        &order.iter().map(|&i| v.shape[i]).collect::<Vec<_>>(),
        &order.iter().map(|&i| v.strides[i]).collect::<Vec<_>>(),
        v.offset,
    )
}

pub fn scan(x: &Tensor, d: usize, prod: bool, reverse: bool) -> Result<Tensor> {
    require_f32(if prod { "cumprod" } else { "cumsum" }, x.dtype())?;
    let shape = x.shape();
    let out = w::alloc(x.numel() as u64 * 4)?;
    let ov = GpuView::contiguous(out.clone(), DType::F32, &shape);
    k::scan(&dim_last(&view_of(x)?, d), &dim_last(&ov, d), prod, reverse)?;
    Ok(wrap(out, DType::F32, &shape))
}

pub fn cumprod_grad(x: &Tensor, _y: &Tensor, g: &Tensor, d: usize) -> Result<Tensor> {
    require_f32("cumprod_backward", x.dtype())?;
    require_f32("cumprod_backward", g.dtype())?;
    let shape = x.shape();
    let out = w::alloc(x.numel() as u64 * 4)?;
    let ov = GpuView::contiguous(out.clone(), DType::F32, &shape);
    k::cumprod_grad(
        &dim_last(&view_of(x)?, d),
        &dim_last(&view_of(g)?, d),
        &dim_last(&ov, d),
    )?;
    Ok(wrap(out, DType::F32, &shape))
}
