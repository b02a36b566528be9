//! Ops that work along one dim and keep it: sort, cumulative sums/products, and the
//! gather/scatter-add pair that carries gradients of index-returning ops (sort, topk, max(dim)).
//!
//! Every kernel here moves the working dim last (a view), makes that contiguous, runs a per-row
//! function in parallel, and moves the dim back.

use super::reduce::rows_for;
use super::{materialize, mul};
use crate::autograd::{record, SavedTensor};
use crate::cpu::threads::{parallel_for, SendPtr, GRAIN};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::shape::{wrap_dim, Shape};
use crate::tensor::Tensor;
use crate::with_dtype;
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

/// Run `f(in_row, out_row_a, out_row_b)` over `rows` rows in parallel. Input rows have `n`
/// elements, output rows `k`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_rows2<T: Element, A: Element, B: Element>(
    src: &Tensor,
    rows: usize,
    n: usize,
    k: usize,
    out_a: &Tensor,
    out_b: Option<&Tensor>,
    f: impl Fn(&[T], &mut [A], &mut [B]) + Sync + Send,
) {
    if rows == 0 {
        return;
    }
    let d = src.data();
    let ip = SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) });
    let pa = SendPtr(out_a.storage().cpu_ptr() as *mut A);
    let pb = SendPtr(out_b.map_or(std::ptr::null_mut(), |t| t.storage().cpu_ptr() as *mut B));
    let grain = (GRAIN / (n + k).max(1)).max(1);
    parallel_for(rows, grain, |s, e| {
        let (ip, pa, pb) = (ip, pa, pb);
        let mut dummy: Vec<B> = Vec::new();
        for i in s..e {
            // SAFETY: row i of contiguous [rows, n] / [rows, k] buffers; an empty input row is
            // never dereferenced (a dangling but aligned pointer is fine for length 0).
            unsafe {
                let row: &[T] = if n == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(ip.0.add(i * n), n)
                };
                let a: &mut [A] = if k == 0 {
                    &mut []
                } else {
                    std::slice::from_raw_parts_mut(pa.0.add(i * k), k)
                };
                let b: &mut [B] = if pb.0.is_null() || k == 0 {
                    &mut dummy[..]
                } else {
                    std::slice::from_raw_parts_mut(pb.0.add(i * k), k)
                };
                f(row, a, b);
            }
        }
    });
}

/// Same as [`map_rows2`] with a second input of rows of length `m`.
#[allow(clippy::too_many_arguments)]
fn map_rows_2in<T: Element, U: Element, A: Element>(
    x: &Tensor,
    y: &Tensor,
    rows: usize,
    n: usize,
    m: usize,
    k: usize,
    out: &Tensor,
    f: impl Fn(&[T], &[U], &mut [A]) + Sync + Send,
) {
    if rows == 0 || k == 0 {
        return;
    }
    let dx = x.data();
    let dy = y.data();
    let px = SendPtr(unsafe { (dx.storage.cpu_ptr() as *mut T).add(dx.layout.offset) });
    let py = SendPtr(unsafe { (dy.storage.cpu_ptr() as *mut U).add(dy.layout.offset) });
    let po = SendPtr(out.storage().cpu_ptr() as *mut A);
    let grain = (GRAIN / (n + m + k).max(1)).max(1);
    parallel_for(rows, grain, |s, e| {
        let (px, py, po) = (px, py, po);
        for i in s..e {
            // SAFETY: row i of contiguous [rows, n], [rows, m] and [rows, k] buffers.
            unsafe {
                let a: &[T] = if n == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(px.0.add(i * n), n)
                };
                let b: &[U] = if m == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(py.0.add(i * m), m)
                };
                let o = std::slice::from_raw_parts_mut(po.0.add(i * k), k);
                f(a, b, o);
            }
        }
    });
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
    crate::kernels::require_cpu("gather", &[x, idx])?;
    if dim >= x.ndim() {
        return Err(Error::index(format!(
            "gather: dim {} out of range for a {}-d input",
            dim,
            x.ndim()
        )));
    }
    check_index_shape(&x.shape(), &idx.shape(), dim, "gather")?;
    let n = x.size(dim);
    let (xr, rows, _) = rows_along(x, dim, x.dtype())?;
    let (ir, _, k) = rows_along(idx, dim, DType::I64)?;
    let out = Tensor::empty(&row_shape(&x.shape(), dim, k), x.dtype())?;
    let bad = std::sync::atomic::AtomicBool::new(false);
    with_dtype!(x.dtype(), T, {
        map_rows_2in::<T, i64, T>(&xr, &ir, rows, n, k, k, &out, |a, ix, o| {
            for (o, &j) in o.iter_mut().zip(ix) {
                match a.get(j as usize) {
                    Some(&v) if j >= 0 => *o = v,
                    _ => bad.store(true, std::sync::atomic::Ordering::Relaxed),
                }
            }
        })
    });
    if bad.into_inner() {
        return Err(Error::runtime(format!(
            "index out of bounds for dimension {} with size {}",
            dim, n
        )));
    }
    let out = unrows(&out, dim)?;
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
    crate::kernels::require_cpu("scatter_add", &[g, idx])?;
    if dim >= g.ndim() {
        return Err(Error::index(format!(
            "scatter_add: dim {} out of range for a {}-d input",
            dim,
            g.ndim()
        )));
    }
    check_index_shape(&g.shape(), &idx.shape(), dim, "scatter_add")?;
    let (gr, rows, k) = rows_along(g, dim, g.dtype())?;
    let (ir, _, _) = rows_along(idx, dim, DType::I64)?;
    let out = Tensor::zeros(&row_shape(&g.shape(), dim, n), g.dtype())?;
    let bad = std::sync::atomic::AtomicBool::new(false);
    with_dtype!(g.dtype(), T, {
        map_rows_2in::<T, i64, T>(&gr, &ir, rows, k, k, n, &out, |gv, ix, o| {
            for (&v, &j) in gv.iter().zip(ix) {
                match o.get_mut(j as usize) {
                    Some(slot) if j >= 0 => {
                        *slot = T::from_f64(slot.to_f64() + v.to_f64());
                    }
                    _ => bad.store(true, std::sync::atomic::Ordering::Relaxed),
                }
            }
        })
    });
    if bad.into_inner() {
        return Err(Error::runtime(format!(
            "index out of bounds for dimension {} with size {}",
            dim, n
        )));
    }
    let out = unrows(&out, dim)?;
    let idx_saved = idx.detach();
    record("ScatterAddBackward0", &[g], &[&out], true, move |gg, _| {
        Ok(vec![Some(gather_dim(&gg[0], &idx_saved, dim)?)])
    });
    Ok(out)
}

/// Total order used by sort: NaN is larger than everything (and equal to NaN), as in PyTorch.
#[inline]
fn nan_last_cmp<T: Element>(a: T, b: T) -> Ordering {
    #[allow(clippy::eq_op)]
    let (an, bn) = (a != a, b != b);
    match (an, bn) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
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
    with_dtype!(x.dtype(), T, {
        map_rows2::<T, T, i64>(&xr, rows, n, n, &vals, Some(&idx), |row, v, ix| {
            for (i, slot) in ix.iter_mut().enumerate() {
                *slot = i as i64;
            }
            if descending {
                ix.sort_by(|&a, &b| nan_last_cmp(row[b as usize], row[a as usize]));
            } else {
                ix.sort_by(|&a, &b| nan_last_cmp(row[a as usize], row[b as usize]));
            }
            for (v, &j) in v.iter_mut().zip(ix.iter()) {
                *v = row[j as usize];
            }
        })
    });
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
    with_dtype!(x.dtype(), T, {
        map_rows2::<T, T, i64>(&xr, rows, n, 1, &vals, Some(&idx), |row, v, ix| {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| nan_last_cmp(row[a], row[b]).then(a.cmp(&b)));
            let (mut best, mut best_i, mut best_n, mut run) = (row[order[0]], order[0], 0, 0);
            for k in 0..order.len() {
                run += 1;
                let last = k + 1 == order.len()
                    || nan_last_cmp(row[order[k]], row[order[k + 1]]) != Ordering::Equal;
                if last {
                    if run > best_n {
                        (best, best_i, best_n) = (row[order[k]], order[k], run);
                    }
                    run = 0;
                }
            }
            v[0] = best;
            ix[0] = best_i as i64;
        })
    });
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
    let (xr, rows, n) = rows_along(x, d, dtype)?;
    let out = Tensor::empty(&row_shape(&x.shape(), d, n), dtype)?;
    with_dtype!(dtype, T, {
        map_rows2::<T, T, u8>(&xr, rows, n, n, &out, None, |row, o, _| {
            let step = |acc: T, v: T| -> T {
                if T::DTYPE.is_float() {
                    if prod {
                        T::from_f64(acc.to_f64() * v.to_f64())
                    } else {
                        T::from_f64(acc.to_f64() + v.to_f64())
                    }
                } else if prod {
                    T::from_i64(acc.to_i64().wrapping_mul(v.to_i64()))
                } else {
                    T::from_i64(acc.to_i64().wrapping_add(v.to_i64()))
                }
            };
            let mut acc = if prod { T::one() } else { T::zero() };
            if reverse {
                for i in (0..row.len()).rev() {
                    acc = step(acc, row[i]);
                    o[i] = acc;
                }
            } else {
                for i in 0..row.len() {
                    acc = step(acc, row[i]);
                    o[i] = acc;
                }
            }
        })
    });
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
    crate::kernels::require_cpu("cumsum", &[x])?;
    let d = wrap_dim(dim, x.ndim())?;
    cumsum_dim(x, d)
}

/// `torch.cumprod(x, dim)`; integer and bool inputs give int64. The backward is exact for
/// inputs with zeros (it does not divide by the input).
pub fn cumprod(x: &Tensor, dim: i64) -> Result<Tensor> {
    crate::kernels::require_cpu("cumprod", &[x])?;
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
    let dtype = x.dtype();
    let (xr, rows, n) = rows_along(x, d, dtype)?;
    let gy = mul(g, y)?;
    // Pack x and g*y side by side so one 2-input row kernel sees both.
    let (gyr, _, _) = rows_along(&gy, d, dtype)?;
    let out = Tensor::empty(&row_shape(&x.shape(), d, n), dtype)?;
    let (gr, _, _) = rows_along(g, d, dtype)?;
    with_dtype!(dtype, T, {
        map_rows_2in::<T, T, T>(&xr, &gyr, rows, n, n, n, &out, |xs, gys, o| {
            if xs.iter().all(|v| v.to_f64() != 0.0) {
                let mut acc = 0.0f64;
                for i in (0..n).rev() {
                    acc += gys[i].to_f64();
                    o[i] = T::from_f64(acc / xs[i].to_f64());
                }
            } else {
                for v in o.iter_mut() {
                    *v = T::zero();
                }
            }
        })
    });
    // Second pass for rows with zeros: needs g itself, so run it over (x, g).
    let fix = Tensor::empty(&row_shape(&x.shape(), d, n), dtype)?;
    with_dtype!(dtype, T, {
        map_rows_2in::<T, T, T>(&xr, &gr, rows, n, n, n, &fix, |xs, gs, o| {
            if xs.iter().all(|v| v.to_f64() != 0.0) {
                for v in o.iter_mut() {
                    *v = T::zero();
                }
                return;
            }
            for (i, oi) in o.iter_mut().enumerate() {
                let mut total = 0.0f64;
                let mut p = 1.0f64;
                for j in 0..n {
                    if j != i {
                        p *= xs[j].to_f64();
                    }
                    if j >= i {
                        total += gs[j].to_f64() * p;
                    }
                }
                *oi = T::from_f64(total);
            }
        })
    });
    let both = super::add(&out, &fix)?;
    unrows(&both, d)
}
