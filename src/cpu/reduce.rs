//! CPU kernels of the reduce family: sums, products, extremes (with indices), variance and
//! all/any over dims. Each takes the op's checked arguments from `ops/reduce.rs` (through the
//! seam in `kernels`) and returns fresh contiguous CPU tensors; the general path moves the
//! reduced dims last ([`rows_for`]) and reduces each contiguous run, and the common layouts have
//! fast paths that read the input in place.

use super::rows::{map_rows2, reduce_rows};
use super::threads::{parallel_for, SendPtr};
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::ops::{reduced_shape, rows_for, sum_dtype};
use crate::tensor::Tensor;
use crate::with_dtype;

/// Pick the f32 or f64 SIMD sum/axpy pair for a float dtype.
macro_rules! with_float_pair {
    ($dtype:expr, $T:ident, $sum:ident, $axpy:ident, $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                use crate::cpu::simd::{axpy_f32 as $axpy, sum_f32 as $sum};
                $body
            }
            _ => {
                type $T = f64;
                use crate::cpu::simd::{axpy_f64 as $axpy, sum_f64 as $sum};
                $body
            }
        }
    };
}

/// Sum of a contiguous run. Floats use several partial sums (pairwise-ish accuracy, vectorises).
fn sum_run<T: Element>(row: &[T]) -> T {
    match T::DTYPE {
        DType::F32 | DType::F64 => {
            let mut acc = [0.0f64; 8];
            let chunks = row.chunks_exact(8);
            let rem = chunks.remainder();
            for c in chunks {
                for k in 0..8 {
                    acc[k] += c[k].to_f64();
                }
            }
            let mut s: f64 = acc.iter().sum();
            for v in rem {
                s += v.to_f64();
            }
            T::from_f64(s)
        }
        _ => {
            let mut s: i64 = 0;
            for v in row {
                s = s.wrapping_add(v.to_i64());
            }
            T::from_i64(s)
        }
    }
}

/// `sum(x, dims, keepdim)` (dims wrapped and sorted); integers and bool sum to int64.
pub fn sum(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    let dtype = sum_dtype(x.dtype());
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    if let Some(out) = sum_block_fast(x, dims, &shape)? {
        return Ok(out);
    }
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    match dtype {
        // SAFETY (both arms): each row slice is valid for `row.len()` elements.
        DType::F32 => reduce_rows::<f32, f32>(&src, rows, r, &shape, dtype, |row| unsafe {
            super::simd::sum_f32(row.as_ptr(), row.len())
        }),
        DType::F64 => reduce_rows::<f64, f64>(&src, rows, r, &shape, dtype, |row| unsafe {
            super::simd::sum_f64(row.as_ptr(), row.len())
        }),
        _ => with_dtype!(
            dtype,
            T,
            reduce_rows::<T, T>(&src, rows, r, &shape, dtype, sum_run::<T>)
        ),
    }
}

/// Fast sum of a contiguous f32/f64 tensor over one consecutive block of dims, viewed as
/// `[outer, r, inner]`: contiguous runs use the SIMD sum, and a reduction over a non-last block
/// accumulates whole rows of `inner` elements (no transposed copy). `None` when not applicable.
fn sum_block_fast(x: &Tensor, dims: &[usize], out_shape: &[usize]) -> Result<Option<Tensor>> {
    let dtype = x.dtype();
    if !matches!(dtype, DType::F32 | DType::F64) || dims.is_empty() || !x.is_contiguous() {
        return Ok(None);
    }
    if dims.windows(2).any(|w| w[1] != w[0] + 1) {
        return Ok(None);
    }
    let shape = x.shape();
    let (d0, d1) = (dims[0], dims[dims.len() - 1]);
    let outer: usize = shape[..d0].iter().product();
    let r: usize = shape[d0..=d1].iter().product();
    let inner: usize = shape[d1 + 1..].iter().product();
    let out = Tensor::zeros(out_shape, dtype)?;
    if outer * inner == 0 || r == 0 {
        return Ok(Some(out));
    }
    let d = x.data();
    // Enough independent tasks to keep every thread busy; long runs are split into segments
    // whose partial results are combined at the end.
    let want = 4 * crate::cpu::threads::num_threads();
    let total = outer * r * inner;
    with_float_pair!(dtype, T, sum_fn, axpy_fn, {
        let ip = SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) });
        let op = SendPtr(out.storage().cpu_ptr() as *mut T);
        if inner == 1 {
            let nseg = if total < crate::cpu::threads::GRAIN || outer >= want {
                1
            } else {
                want.div_ceil(outer).min(r.div_ceil(4096))
            };
            let seg = r.div_ceil(nseg);
            let mut partial = vec![0.0 as T; outer * nseg];
            let pp = SendPtr(partial.as_mut_ptr());
            let grain = (crate::cpu::threads::GRAIN / seg).max(1);
            parallel_for(outer * nseg, grain, |a, b| {
                let (ip, pp) = (ip, pp);
                for t in a..b {
                    let (o, sg) = (t / nseg, t % nseg);
                    let s0 = sg * seg;
                    let len = seg.min(r - s0.min(r));
                    // SAFETY: segment of row o of the contiguous [outer, r] input; task t owns
                    // partial[t].
                    unsafe {
                        let src = ip.0.add(o * r + s0);
                        *pp.0.add(t) = if len < 16 {
                            // Short runs: a plain loop beats the dispatch of the SIMD kernel.
                            (0..len).map(|k| *src.add(k)).sum()
                        } else {
                            sum_fn(src, len)
                        };
                    }
                }
            });
            for o in 0..outer {
                let v: T = partial[o * nseg..(o + 1) * nseg].iter().sum();
                // SAFETY: out has `outer` elements.
                unsafe { *op.0.add(o) = v };
            }
        } else {
            // Column chunks of each output row, then segments of the reduced extent.
            let per = inner.div_ceil((want / outer.max(1)).max(1));
            let chunk = per.next_multiple_of(16).clamp(64.min(inner), 2048);
            let nchunk = inner.div_ceil(chunk);
            let nseg = if total < crate::cpu::threads::GRAIN || outer * nchunk >= want {
                1
            } else {
                want.div_ceil(outer * nchunk).min(r.div_ceil(64))
            };
            let seg = r.div_ceil(nseg);
            let mut partial = if nseg > 1 {
                vec![0.0 as T; nseg * outer * inner]
            } else {
                Vec::new()
            };
            let pp = SendPtr(if nseg > 1 { partial.as_mut_ptr() } else { op.0 });
            let grain = (crate::cpu::threads::GRAIN / (seg * chunk.min(inner))).max(1);
            parallel_for(nseg * outer * nchunk, grain, |a, b| {
                let (ip, pp) = (ip, pp);
                for t in a..b {
                    let sg = t / (outer * nchunk);
                    let (o, c) = ((t / nchunk) % outer, t % nchunk);
                    let c0 = c * chunk;
                    let len = chunk.min(inner - c0);
                    let j0 = sg * seg;
                    let j1 = (j0 + seg).min(r);
                    // SAFETY: task t owns dst[sg, o, c0..c0+len]; input rows are in bounds.
                    unsafe {
                        let dst = pp.0.add((sg * outer + o) * inner + c0);
                        if len < 16 {
                            let acc = std::slice::from_raw_parts_mut(dst, len);
                            for j in j0..j1 {
                                let src = ip.0.add((o * r + j) * inner + c0);
                                for (k, a) in acc.iter_mut().enumerate() {
                                    *a += *src.add(k);
                                }
                            }
                        } else {
                            for j in j0..j1 {
                                axpy_fn(1.0, ip.0.add((o * r + j) * inner + c0), dst, len);
                            }
                        }
                    }
                }
            });
            if nseg > 1 {
                let n = outer * inner;
                for sg in 0..nseg {
                    // SAFETY: partial has nseg * n elements; out has n.
                    unsafe { axpy_fn(1.0, partial.as_ptr().add(sg * n), op.0, n) };
                }
            }
        }
    });
    Ok(Some(out))
}

/// Product of a run, in the accumulating dtype.
fn prod_run<T: Element>(row: &[T]) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(row.iter().fold(1.0f64, |a, v| a * v.to_f64()))
    } else {
        T::from_i64(row.iter().fold(1i64, |a, v| a.wrapping_mul(v.to_i64())))
    }
}

/// `prod(x, dims, keepdim)` in the accumulating dtype (int64 for integers and bool).
pub fn prod(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    let dtype = sum_dtype(x.dtype());
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    with_dtype!(
        dtype,
        T,
        reduce_rows::<T, T>(&src, rows, r, &shape, dtype, prod_run::<T>)
    )
}

/// For each element, the product of the other elements of its run over `dims` (prefix times
/// suffix products, so zeros need no division). Same shape as `x`, contiguous.
pub fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let dtype = x.dtype();
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let nd = x.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|i| !dims.contains(i)).collect();
    perm.extend_from_slice(dims);
    let pshape: Vec<usize> = perm.iter().map(|&p| x.size(p)).collect();
    let out = Tensor::empty(&pshape, dtype)?;
    with_dtype!(dtype, T, {
        map_rows2::<T, T, u8>(&src, rows, r, r, &out, None, |row, o, _| {
            let mut p = 1.0f64;
            for i in 0..row.len() {
                o[i] = T::from_f64(p);
                p *= row[i].to_f64();
            }
            let mut q = 1.0f64;
            for i in (0..row.len()).rev() {
                o[i] = T::from_f64(o[i].to_f64() * q);
                q *= row[i].to_f64();
            }
        })
    });
    // Undo the permutation: axis perm[i] of the result is axis i of `out`.
    let mut inv = vec![0usize; nd];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    crate::ops::materialize(&out.with_layout(out.layout().permute(&inv)), dtype)
}

/// Extreme value and its first index in a non-empty run; NaN wins (propagates), as in PyTorch.
#[inline]
#[allow(clippy::eq_op)]
fn extreme<T: Element>(row: &[T], want_max: bool) -> (T, usize) {
    let mut best = row[0];
    let mut bi = 0;
    if best != best {
        return (best, 0);
    }
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v != v {
            return (v, i);
        }
        if (want_max && v > best) || (!want_max && v < best) {
            best = v;
            bi = i;
        }
    }
    (best, bi)
}

/// `[outer, r, inner]` split of a contiguous tensor reduced over one consecutive block of dims
/// that is not last (so `inner > 1`); `None` otherwise.
fn column_split(x: &Tensor, dims: &[usize]) -> Option<(usize, usize, usize)> {
    if dims.is_empty() || !x.is_contiguous() || dims.windows(2).any(|w| w[1] != w[0] + 1) {
        return None;
    }
    let shape = x.shape();
    let (d0, d1) = (dims[0], dims[dims.len() - 1]);
    let inner: usize = shape[d1 + 1..].iter().product();
    if inner <= 1 {
        return None;
    }
    let outer: usize = shape[..d0].iter().product();
    let r: usize = shape[d0..=d1].iter().product();
    Some((outer, r, inner))
}

/// Max/min over the middle axis of a contiguous `[outer, r, inner]` tensor, streaming whole rows
/// of `inner` elements (no transposed copy). Writes `vals` (and the first winning index into
/// `idx` when given); NaN wins, as in PyTorch. `r` must be > 0.
fn column_extreme<T: Element>(
    x: &Tensor,
    (outer, r, inner): (usize, usize, usize),
    want_max: bool,
    vals: &Tensor,
    idx: Option<&Tensor>,
) {
    const CHUNK: usize = 1024;
    let nchunk = inner.div_ceil(CHUNK);
    let d = x.data();
    let ip = SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) });
    let vp = SendPtr(vals.storage().cpu_ptr() as *mut T);
    let xp = SendPtr(idx.map_or(std::ptr::null_mut(), |t| t.storage().cpu_ptr() as *mut i64));
    let grain = (crate::cpu::threads::GRAIN / (r * CHUNK.min(inner))).max(1);
    parallel_for(outer * nchunk, grain, |a, b| {
        let (ip, vp, xp) = (ip, vp, xp);
        for t in a..b {
            let (o, c) = (t / nchunk, t % nchunk);
            let c0 = c * CHUNK;
            let len = CHUNK.min(inner - c0);
            // SAFETY: task t owns out[o, c0..c0+len]; input rows [o, j, c0..c0+len] are in bounds.
            unsafe {
                let best = std::slice::from_raw_parts_mut(vp.0.add(o * inner + c0), len);
                let base = ip.0.add(o * r * inner + c0);
                best.copy_from_slice(std::slice::from_raw_parts(base, len));
                let mut bi = if xp.0.is_null() {
                    None
                } else {
                    let s = std::slice::from_raw_parts_mut(xp.0.add(o * inner + c0), len);
                    s.fill(0);
                    Some(s)
                };
                for j in 1..r {
                    let row = std::slice::from_raw_parts(base.add(j * inner), len);
                    for k in 0..len {
                        let (v, cur) = (row[k], best[k]);
                        #[allow(clippy::eq_op)]
                        let take = cur == cur
                            && (v != v || (want_max && v > cur) || (!want_max && v < cur));
                        if take {
                            best[k] = v;
                            if let Some(bi) = bi.as_deref_mut() {
                                bi[k] = j as i64;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Row-wise extreme values over `dims` (the general path: reduced dims moved last).
fn amax_rows(x: &Tensor, d: &[usize], shape: &[usize], want_max: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    let (src, rows, r) = rows_for(x, d, dtype)?;
    if r == 0 {
        return Tensor::empty(shape, dtype);
    }
    use crate::cpu::simd;
    // f32/f64 rows go through the vector max/min (NaN-propagating like the scalar scan, which
    // the other dtypes keep): an order of magnitude faster on the [batch, classes] rows that
    // softmax-style code reduces.
    match dtype {
        // SAFETY (both): each row slice is valid for its r elements.
        DType::F32 => reduce_rows::<f32, f32>(&src, rows, r, shape, dtype, |row| unsafe {
            let f = if want_max {
                simd::max_f32
            } else {
                simd::min_f32
            };
            f(row.as_ptr(), row.len())
        }),
        DType::F64 => reduce_rows::<f64, f64>(&src, rows, r, shape, dtype, |row| unsafe {
            let f = if want_max {
                simd::max_f64
            } else {
                simd::min_f64
            };
            f(row.as_ptr(), row.len())
        }),
        _ => with_dtype!(
            dtype,
            T,
            reduce_rows::<T, T>(&src, rows, r, shape, dtype, |row| extreme(row, want_max).0)
        ),
    }
}

/// `amax`/`amin` over `dims` (non-empty runs; the op checked that).
pub fn amax(x: &Tensor, dims: &[usize], keepdim: bool, want_max: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    if let Some(sp) = column_split(x, dims).filter(|s| s.1 > 0 && s.0 * s.2 > 0) {
        let out = Tensor::empty(&shape, dtype)?;
        with_dtype!(dtype, T, column_extreme::<T>(x, sp, want_max, &out, None));
        return Ok(out);
    }
    amax_rows(x, dims, &shape, want_max)
}

/// `max(x, dim)`/`min(x, dim)` over `dims` (one dim, or none for a 0-d input): values and int64
/// indices of the first extreme (NaN wins). The run along the dim is non-empty.
pub fn max_min_dim(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
    want_max: bool,
) -> Result<(Tensor, Tensor)> {
    let dtype = x.dtype();
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    let vals = Tensor::empty(&shape, dtype)?;
    let idx = Tensor::empty(&shape, DType::I64)?;
    if let Some(sp) = column_split(x, dims).filter(|s| s.0 * s.2 > 0) {
        with_dtype!(
            dtype,
            T,
            column_extreme::<T>(x, sp, want_max, &vals, Some(&idx))
        );
    } else {
        let (src, rows, r) = rows_for(x, dims, dtype)?;
        with_dtype!(dtype, T, {
            map_rows2::<T, T, i64>(&src, rows, r, 1, &vals, Some(&idx), |row, v, ix| {
                let (b, i) = extreme(row, want_max);
                v[0] = b;
                ix[0] = i as i64;
            })
        });
    }
    Ok((vals, idx))
}

/// `var_mean` of a float tensor over `dims`: one fused pass per run (the mean, then the sum of
/// squared deviations, both accumulated in f64), divided by `max(N - correction, 0)`.
pub fn var_mean(
    x: &Tensor,
    dims: &[usize],
    correction: f64,
    keepdim: bool,
) -> Result<(Tensor, Tensor)> {
    let dtype = x.dtype();
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    let var = Tensor::empty(&shape, dtype)?;
    let mean = Tensor::empty(&shape, dtype)?;
    let denom = (r as f64 - correction).max(0.0);
    macro_rules! run {
        ($T:ty) => {
            map_rows2::<$T, $T, $T>(&src, rows, r, 1, &var, Some(&mean), |row, v, m| {
                let mu = row.iter().map(|&e| e as f64).sum::<f64>() / row.len() as f64;
                let ss: f64 = row.iter().map(|&e| (e as f64 - mu) * (e as f64 - mu)).sum();
                v[0] = (ss / denom) as $T;
                m[0] = mu as $T;
            })
        };
    }
    match dtype {
        DType::F32 => run!(f32),
        _ => run!(f64),
    }
    Ok((var, mean))
}

/// `all`/`any` over `dims`: a bool tensor, true where every (some) element of the run is nonzero
/// (NaN counts as nonzero). Empty runs give true for `all` and false for `any`.
pub fn all_any(x: &Tensor, dims: &[usize], keepdim: bool, want_all: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    with_dtype!(
        dtype,
        T,
        reduce_rows::<T, bool>(&src, rows, r, &shape, DType::Bool, |row| {
            let zero = T::zero();
            if want_all {
                row.iter().all(|&v| v != zero)
            } else {
                row.iter().any(|&v| v != zero)
            }
        })
    )
}
