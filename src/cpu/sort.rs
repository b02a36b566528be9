//! CPU kernels of the along-one-dim family (`ops/sort.rs`): sort, mode, inclusive scans, the
//! cumprod gradient, and gather / scatter-add along a dim. Each takes contiguous `[rows, n]`
//! operands (the op has moved its dim last) and fills fresh contiguous outputs.

use super::rows::{map_rows2, map_rows_2in};
use crate::dtype::Element;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::with_dtype;
use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, Ordering as MemOrder};

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

/// Stable sort of each row of `xr` (`[rows, n]`) into `vals` and int64 `idx` (both `[rows, n]`).
pub fn sort_rows(
    xr: &Tensor,
    rows: usize,
    n: usize,
    descending: bool,
    vals: &Tensor,
    idx: &Tensor,
) {
    with_dtype!(xr.dtype(), T, {
        map_rows2::<T, T, i64>(xr, rows, n, n, vals, Some(idx), |row, v, ix| {
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
}

/// The most frequent value of each (non-empty) row (the smallest one on a tie of counts) and the
/// last index where it occurs, as PyTorch's CPU kernel: one value and one int64 index per row.
pub fn mode_rows(xr: &Tensor, rows: usize, n: usize, vals: &Tensor, idx: &Tensor) {
    with_dtype!(xr.dtype(), T, {
        map_rows2::<T, T, i64>(xr, rows, n, 1, vals, Some(idx), |row, v, ix| {
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
}

/// Inclusive sum (or product) scan of each row of `xr` into `out` (same dtype), from the end of
/// the row when `reverse`. Integers wrap, floats accumulate step by step in their own type.
pub fn scan_rows(xr: &Tensor, rows: usize, n: usize, prod: bool, reverse: bool, out: &Tensor) {
    with_dtype!(xr.dtype(), T, {
        map_rows2::<T, T, u8>(xr, rows, n, n, out, None, |row, o, _| {
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
}

/// The gradient of cumprod per row, given `x`, `g * y` and `g` as `[rows, n]` rows of one float
/// dtype: rows without zeros use the O(n) form `revcumsum(g*y)/x`, rows with a zero the O(n^2)
/// definition `sum_{j>=i} g_j * prod_{k<=j, k!=i} x_k`. Returns the two partial results (each
/// row is filled by one of them, the other row is zeros) as contiguous `[rows, n]` tensors.
pub fn cumprod_grad_rows(
    xr: &Tensor,
    gyr: &Tensor,
    gr: &Tensor,
    rows: usize,
    n: usize,
    shape: &[usize],
) -> Result<(Tensor, Tensor)> {
    let dtype = xr.dtype();
    let out = Tensor::empty(shape, dtype)?;
    with_dtype!(dtype, T, {
        map_rows_2in::<T, T, T>(xr, gyr, rows, n, n, n, &out, |xs, gys, o| {
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
    let fix = Tensor::empty(shape, dtype)?;
    with_dtype!(dtype, T, {
        map_rows_2in::<T, T, T>(xr, gr, rows, n, n, n, &fix, |xs, gs, o| {
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
    Ok((out, fix))
}

/// `out[r, j] = x[r, idx[r, j]]` over `[rows, n]` x and `[rows, k]` int64 idx/out. Returns
/// `false` when some index was outside `0..n` (its output element is left unwritten).
pub fn gather_rows(
    xr: &Tensor,
    ir: &Tensor,
    rows: usize,
    n: usize,
    k: usize,
    out: &Tensor,
) -> bool {
    let bad = AtomicBool::new(false);
    with_dtype!(xr.dtype(), T, {
        map_rows_2in::<T, i64, T>(xr, ir, rows, n, k, k, out, |a, ix, o| {
            for (o, &j) in o.iter_mut().zip(ix) {
                match a.get(j as usize) {
                    Some(&v) if j >= 0 => *o = v,
                    _ => bad.store(true, MemOrder::Relaxed),
                }
            }
        })
    });
    !bad.into_inner()
}

/// `out[r, idx[r, j]] += g[r, j]` over `[rows, k]` g/idx and a zeroed `[rows, n]` out. Returns
/// `false` when some index was outside `0..n` (its value is dropped).
pub fn scatter_add_rows(
    gr: &Tensor,
    ir: &Tensor,
    rows: usize,
    k: usize,
    n: usize,
    out: &Tensor,
) -> bool {
    let bad = AtomicBool::new(false);
    with_dtype!(gr.dtype(), T, {
        map_rows_2in::<T, i64, T>(gr, ir, rows, k, k, n, out, |gv, ix, o| {
            for (&v, &j) in gv.iter().zip(ix) {
                match o.get_mut(j as usize) {
                    Some(slot) if j >= 0 => {
                        *slot = T::from_f64(slot.to_f64() + v.to_f64());
                    }
                    _ => bad.store(true, MemOrder::Relaxed),
                }
            }
        })
    });
    !bad.into_inner()
}
