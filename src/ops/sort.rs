//! Ops that work along one dim and keep it: sort, cumulative sums/products, and the
//! gather/scatter-add pair that carries gradients of index-returning ops (sort, topk, max(dim)).
//!
//! On the CPU every kernel here moves the working dim last (a view), makes that contiguous, runs
//! a per-row kernel of `cpu::sort` in parallel, and moves the dim back. On the device gather,
//! scatter-add and the scans have kernels (`kernels::gather`/`scatter`/`scan`); sort and mode do
//! not yet.

use super::reduce::rows_for;
use super::{materialize, mul};
use crate::autograd::{record, SavedTensor};
use crate::cpu::sort as cpu;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{wrap_dim, Shape};
use crate::tensor::Tensor;
use std::cmp::Ordering;

/// `x` with `dim` moved last and made contiguous (in `dtype`): `(rows tensor, rows, n)`.
pub(crate) fn rows_along(x: &Tensor, dim: usize, dtype: DType) -> Result<(Tensor, usize, usize)> {
    rows_for(x, &[dim], dtype)
}

/// Shape of `x` with `dim` moved last and its size replaced by `k`.
fn row_shape(shape: &[usize], dim: usize, k: usize) -> Shape {
    let mut s: Shape = shape
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != dim)
        .map(|(_, &v)| v)
        .collect();
    s.push(k);
    s
}

/// Undo [`rows_along`]: a contiguous `[rest..., k]` tensor back to the original dim order,
/// contiguous.
pub(crate) fn unrows(t: &Tensor, dim: usize) -> Result<Tensor> {
    let nd = t.ndim();
    if dim + 1 == nd {
        return Ok(t.clone());
    }
    // Output axis `dim` comes from the last source axis; the others keep their order.
    let perm: Vec<usize> = (0..nd)
        .map(|i| match i.cmp(&dim) {
            Ordering::Less => i,
            Ordering::Equal => nd - 1,
            Ordering::Greater => i - 1,
        })
        .collect();
    let v = t.with_layout(t.layout().permute(&perm));
    materialize(&v, t.dtype())
}

/// Checks that `idx` matches `like` in every dim but `dim`.
fn check_index_shape(like: &[usize], idx: &[usize], dim: usize, op: &str) -> Result<()> {
    let ok = like.len() == idx.len()
        && like
            .iter()
            .zip(idx)
            .enumerate()
            .all(|(i, (a, b))| i == dim || a == b);
    if ok {
        Ok(())
    } else {
        Err(Error::runtime(format!(
            "{}: index shape {:?} does not match input shape {:?} outside dim {}",
            op, idx, like, dim
        )))
    }
}

/// `out[..., j, ...] = x[..., idx[..., j, ...], ...]` along `dim` (`torch.gather` for an index
/// that matches `x` outside `dim`). Differentiable in `x`; its backward is [`scatter_add_dim`].
pub fn gather_dim(x: &Tensor, idx: &Tensor, dim: usize) -> Result<Tensor> {
    if dim >= x.ndim() {
        return Err(Error::index(format!(
            "gather: dim {} out of range for a {}-d input",
            dim,
            x.ndim()
        )));
    }
    check_index_shape(&x.shape(), &idx.shape(), dim, "gather")?;
    let out = match kernels::gather(x, dim, idx)? {
        Some(out) => out,
        None => {
            let n = x.size(dim);
            let (xr, rows, _) = rows_along(x, dim, x.dtype())?;
            let (ir, _, k) = rows_along(idx, dim, DType::I64)?;
            let out = Tensor::empty(&row_shape(&x.shape(), dim, k), x.dtype())?;
            if !cpu::gather_rows(&xr, &ir, rows, n, k, &out) {
                return Err(Error::runtime(format!(
                    "index out of bounds for dimension {} with size {}",
                    dim, n
                )));
            }
            unrows(&out, dim)?
        }
    };
    let (idx_saved, in_shape) = (idx.detach(), x.shape());
    record("GatherBackward0", &[x], &[&out], true, move |g, _| {
        Ok(vec![Some(scatter_add_dim(
            &g[0],
            &idx_saved,
            dim,
            in_shape[dim],
        )?)])
    });
    Ok(out)
}

/// Zeros with `g` added at `idx` along `dim` (the new dim has size `n`). Differentiable in `g`;
/// its backward is [`gather_dim`]. Out-of-range indices are an error.
pub fn scatter_add_dim(g: &Tensor, idx: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    if dim >= g.ndim() {
        return Err(Error::index(format!(
            "scatter_add: dim {} out of range for a {}-d input",
            dim,
            g.ndim()
        )));
    }
    check_index_shape(&g.shape(), &idx.shape(), dim, "scatter_add")?;
    let mut out_shape = g.shape();
    out_shape[dim] = n;
    let out = match kernels::zeros_on(&out_shape, g.dtype(), kernels::device_of(&[g, idx])?)? {
        Some(z) => {
            if idx.shape() != g.shape() {
                return Err(Error::runtime(format!(
                    "scatter_add: index shape {:?} does not match the source shape {:?}",
                    idx.shape(),
                    g.shape()
                )));
            }
            kernels::scatter(&z, dim, idx, g, false, super::Reduce::Add)?
                .ok_or_else(|| Error::runtime("scatter_add: no kernel ran for a device operand"))?
        }
        None => {
            let (gr, rows, k) = rows_along(g, dim, g.dtype())?;
            let (ir, _, _) = rows_along(idx, dim, DType::I64)?;
            let out = Tensor::zeros(&row_shape(&g.shape(), dim, n), g.dtype())?;
            if !cpu::scatter_add_rows(&gr, &ir, rows, k, n, &out) {
                return Err(Error::runtime(format!(
                    "index out of bounds for dimension {} with size {}",
                    dim, n
                )));
            }
            unrows(&out, dim)?
        }
    };
    let idx_saved = idx.detach();
    record("ScatterAddBackward0", &[g], &[&out], true, move |gg, _| {
        Ok(vec![Some(gather_dim(&gg[0], &idx_saved, dim)?)])
    });
    Ok(out)
}

/// `torch.sort(x, dim, descending, stable)` -> (values, int64 indices). Always stable; NaNs sort
/// as the largest values. Gradient flows to the values through the indices.
pub fn sort(x: &Tensor, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
    crate::kernels::require_cpu("sort", &[x])?;
    if x.ndim() == 0 {
        wrap_dim(dim, 0)?;
        let vals = super::clone(x)?;
        return Ok((vals, Tensor::zeros(&[], DType::I64)?));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let (xr, rows, n) = rows_along(x, d, x.dtype())?;
    let rs = row_shape(&x.shape(), d, n);
    let vals = Tensor::empty(&rs, x.dtype())?;
    let idx = Tensor::empty(&rs, DType::I64)?;
    cpu::sort_rows(&xr, rows, n, descending, &vals, &idx);
    let vals = unrows(&vals, d)?;
    let idx = unrows(&idx, d)?;
    let (saved, in_shape) = (idx.clone(), x.shape());
    record("SortBackward0", &[x], &[&vals], true, move |g, _| {
        Ok(vec![Some(scatter_add_dim(&g[0], &saved, d, in_shape[d])?)])
    });
    Ok((vals, idx))
}

/// `torch.mode(x, dim, keepdim)` -> (values, indices): the most frequent value of each run (the
/// smallest one on a tie of counts) and the last index where it occurs, as PyTorch's CPU kernel.
pub fn mode(x: &Tensor, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
    crate::kernels::require_cpu("mode", &[x])?;
    let d = wrap_dim(dim, x.ndim())?;
    let dims: Vec<usize> = if x.ndim() == 0 { vec![] } else { vec![d] };
    if x.ndim() > 0 && x.size(d) == 0 {
        return Err(Error::index(format!(
            "mode(): Expected reduction dim {} to have non-zero size.",
            d
        )));
    }
    let (xr, rows, n) = rows_for(x, &dims, x.dtype())?;
    let shape = super::reduced_shape(&x.shape(), &dims, keepdim);
    let vals = Tensor::empty(&shape, x.dtype())?;
    let idx = Tensor::empty(&shape, DType::I64)?;
    cpu::mode_rows(&xr, rows, n, &vals, &idx);
    if x.ndim() > 0 {
        let (saved, in_shape) = (idx.clone(), x.shape());
        record("ModeBackward0", &[x], &[&vals], true, move |g, _| {
            let (gk, ik) = if keepdim {
                (g[0].clone(), saved.clone())
            } else {
                (
                    super::unsqueeze(&g[0], d as i64)?,
                    super::unsqueeze(&saved, d as i64)?,
                )
            };
            Ok(vec![Some(scatter_add_dim(&gk, &ik, d, in_shape[d])?)])
        });
    } else {
        record("ModeBackward0", &[x], &[&vals], false, |g, _| {
            Ok(vec![Some(g[0].clone())])
        });
    }
    Ok((vals, idx))
}

/// Dtype of cumsum/cumprod results: integers and bool accumulate in int64, as in PyTorch.
fn scan_dtype(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::I64
    }
}

/// Inclusive scan along `d` (forward, or from the end when `reverse`), no autograd.
fn scan_kernel(x: &Tensor, d: usize, prod: bool, reverse: bool) -> Result<Tensor> {
    let dtype = scan_dtype(x.dtype());
    if x.ndim() == 0 {
        return materialize(x, dtype);
    }
    if let Some(out) = kernels::scan(x, d, prod, reverse)? {
        return Ok(out);
    }
    let (xr, rows, n) = rows_along(x, d, dtype)?;
    let out = Tensor::empty(&row_shape(&x.shape(), d, n), dtype)?;
    cpu::scan_rows(&xr, rows, n, prod, reverse, &out);
    unrows(&out, d)
}

/// Cumulative sum from the end of `dim` (the gradient of cumsum); differentiable.
fn cumsum_rev(g: &Tensor, d: usize) -> Result<Tensor> {
    let out = scan_kernel(g, d, false, true)?;
    record("CumsumBackward0", &[g], &[&out], false, move |gg, _| {
        Ok(vec![Some(cumsum_dim(&gg[0], d)?)])
    });
    Ok(out)
}

fn cumsum_dim(x: &Tensor, d: usize) -> Result<Tensor> {
    let out = scan_kernel(x, d, false, false)?;
    record("CumsumBackward0", &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(cumsum_rev(&g[0], d)?)])
    });
    Ok(out)
}

/// `torch.cumsum(x, dim)`; integer and bool inputs give int64.
pub fn cumsum(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    cumsum_dim(x, d)
}

/// `torch.cumprod(x, dim)`; integer and bool inputs give int64. The backward is exact for
/// inputs with zeros (it does not divide by the input).
pub fn cumprod(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    let out = scan_kernel(x, d, true, false)?;
    let (sx, sy) = (SavedTensor::new(x), SavedTensor::output(&out));
    record("CumprodBackward0", &[x], &[&out], true, move |g, _| {
        let (xs, ys) = (sx.get()?.detach(), sy.get()?);
        Ok(vec![Some(cumprod_grad(&xs, &ys, &g[0], d)?)])
    });
    Ok(out)
}

/// grad_i = sum_{j>=i} g_j * prod_{k<=j, k!=i} x_k, computed per row. Rows without zeros use
/// the O(n) form `revcumsum(g*y)/x`; rows with a zero use the O(n^2) definition.
fn cumprod_grad(x: &Tensor, y: &Tensor, g: &Tensor, d: usize) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Ok(g.clone());
    }
    if let Some(out) = kernels::cumprod_grad(x, y, g, d)? {
        return Ok(out);
    }
    let dtype = x.dtype();
    let (xr, rows, n) = rows_along(x, d, dtype)?;
    let gy = mul(g, y)?;
    // x and g*y side by side for the O(n) rows, (x, g) for rows with a zero.
    let (gyr, _, _) = rows_along(&gy, d, dtype)?;
    let (gr, _, _) = rows_along(g, d, dtype)?;
    let (out, fix) = cpu::cumprod_grad_rows(&xr, &gyr, &gr, rows, n, &row_shape(&x.shape(), d, n))?;
    unrows(&super::add(&out, &fix)?, d)
}
