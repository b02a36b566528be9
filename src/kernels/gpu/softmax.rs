//! The wgpu side of softmax/log_softmax: row kernels over the dim moved last (a view), writing
//! straight into a contiguous result in the original dim order.

use super::reduce::{permuted, permuted_out_strides};
use super::{require_f32, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::wgpu::kernels as k;

/// The dim order with `dim` last.
fn dim_last(nd: usize, dim: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..nd).filter(|&d| d != dim).collect();
    perm.push(dim);
    perm
}

pub fn softmax(x: &Tensor, dim: usize, log: bool) -> Result<Tensor> {
    require_f32(if log { "log_softmax" } else { "softmax" }, x.dtype())?;
    let perm = dim_last(x.ndim(), dim);
    let shape = x.shape();
    let buf = k::softmax_rows(
        &permuted(x, &perm)?,
        log,
        &permuted_out_strides(&shape, &perm),
    )?;
    Ok(wrap(buf, DType::F32, &shape))
}

pub fn softmax_backward(g: &Tensor, y: &Tensor, dim: usize, log: bool) -> Result<Tensor> {
    let name = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    require_f32(name, g.dtype())?;
    require_f32(name, y.dtype())?;
    let perm = dim_last(y.ndim(), dim);
    let shape = y.shape();
    // The incoming gradient may be a broadcast view (e.g. of a sum's gradient): expand it first.
    let gl = g.layout().expand(&shape)?;
    let g = g.with_layout(gl);
    let buf = k::softmax_backward_rows(
        &permuted(&g, &perm)?,
        &permuted(y, &perm)?,
        log,
        &permuted_out_strides(&shape, &perm),
    )?;
    Ok(wrap(buf, DType::F32, &shape))
}
