//! The wgpu side of the reduce family beyond sum/amax/amin (which are in `gpu/mod.rs`): prod and
//! its gradient factor, max/min with indices and their gradient, var_mean and all/any. Every
//! reduction reads its input through a view with the reduced dims moved last (no copy) and
//! returns fresh contiguous device tensors; float32 only, bool/int32 inputs for all/any.

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::reduced_shape;
use crate::shape::contiguous_strides;
use crate::tensor::Tensor;
use crate::wgpu::{kernels as k, GpuView, ReduceOp};

/// Kept dims first, then `dims` (in order): the dim order the trailing-dim kernels read.
fn reduced_last(nd: usize, dims: &[usize]) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    perm.extend_from_slice(dims);
    perm
}

/// `t`'s view with its dims in `perm` order.
pub(super) fn permuted(t: &Tensor, perm: &[usize]) -> Result<GpuView> {
    let v = view_of(t)?;
    let shape: Vec<usize> = perm.iter().map(|&d| v.shape[d]).collect();
    let strides: Vec<isize> = perm.iter().map(|&d| v.strides[d]).collect();
    Ok(GpuView::new(v.buffer, v.dtype, &shape, &strides, v.offset))
}

/// Strides that write a contiguous tensor of `shape` in `perm` dim order.
pub(super) fn permuted_out_strides(shape: &[usize], perm: &[usize]) -> Vec<isize> {
    let c = contiguous_strides(shape);
    perm.iter().map(|&d| c[d]).collect()
}

pub fn prod(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    require_f32("prod", x.dtype())?;
    let v = permuted(x, &reduced_last(x.ndim(), dims))?;
    let buf = k::reduce_trailing(ReduceOp::Prod, &v, dims.len())?;
    Ok(wrap(
        buf,
        DType::F32,
        &reduced_shape(&x.shape(), dims, keepdim),
    ))
}

pub fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    require_f32("prod_backward", x.dtype())?;
    let perm = reduced_last(x.ndim(), dims);
    let v = permuted(x, &perm)?;
    let shape = x.shape();
    let buf = k::prod_others_trailing(&v, dims.len(), &permuted_out_strides(&shape, &perm))?;
    Ok(wrap(buf, DType::F32, &shape))
}

pub fn max_min_dim(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
    want_max: bool,
) -> Result<(Tensor, Tensor)> {
    require_f32(if want_max { "max" } else { "min" }, x.dtype())?;
    let v = permuted(x, &reduced_last(x.ndim(), dims))?;
    let (vals, idx) = k::extreme_trailing(&v, dims.len(), want_max)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    Ok((
        wrap(vals, DType::F32, &shape),
        wrap(idx, DType::I64, &shape),
    ))
}

pub fn place_at_index(g: &Tensor, idx: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    require_f32("max_backward", g.dtype())?;
    let mut shape = g.shape();
    shape[dim] = n;
    let buf = k::place_at_index(&view_of(g)?, &view_of(idx)?, &shape, dim)?;
    Ok(wrap(buf, DType::F32, &shape))
}

pub fn var_mean(
    x: &Tensor,
    dims: &[usize],
    correction: f64,
    keepdim: bool,
) -> Result<(Tensor, Tensor)> {
    require_f32("var_mean", x.dtype())?;
    let v = permuted(x, &reduced_last(x.ndim(), dims))?;
    let r: usize = dims.iter().map(|&d| x.size(d)).product();
    let divisor = (r as f64 - correction).max(0.0) as f32;
    let (var, mean) = k::var_mean_trailing(&v, dims.len(), divisor)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    Ok((
        wrap(var, DType::F32, &shape),
        wrap(mean, DType::F32, &shape),
    ))
}

pub fn all_any(x: &Tensor, dims: &[usize], keepdim: bool, want_all: bool) -> Result<Tensor> {
    let v = permuted(x, &reduced_last(x.ndim(), dims))?;
    let buf = k::all_any_trailing(&v, dims.len(), want_all)?;
    Ok(wrap(
        buf,
        DType::Bool,
        &reduced_shape(&x.shape(), dims, keepdim),
    ))
}
