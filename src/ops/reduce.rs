//! Reductions over dims. The kernel moves the reduced dims last (a view), makes that contiguous
//! if it is not already, and reduces each contiguous run of the reduced extent.

use super::{expand, materialize, reshape};
use crate::autograd::record;
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::shape::{numel, wrap_dims, Shape};
use crate::tensor::Tensor;
use crate::with_dtype;

/// Normalise a dim list: empty means all dims (PyTorch's `dim=None`).
pub fn reduce_dims(dims: Option<&[i64]>, ndim: usize) -> Result<Vec<usize>> {
    match dims {
        // PyTorch treats an empty dim list like `dim=None` (sum(x, dim=[]) sums everything).
        None => Ok((0..ndim).collect()),
        Some([]) => Ok((0..ndim).collect()),
        Some(d) => {
            let mut v = wrap_dims(d, ndim)?;
            if ndim == 0 {
                v.clear();
            }
            v.sort_unstable();
            Ok(v)
        }
    }
}

/// Output shape of a reduction.
pub fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Shape {
    let mut out = Shape::new();
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

/// A contiguous tensor whose rows (last `r` elements each) are the runs to reduce, its row count
/// and run length.
pub(crate) fn rows_for(x: &Tensor, dims: &[usize], dtype: DType) -> Result<(Tensor, usize, usize)> {
    let nd = x.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    perm.extend_from_slice(dims);
    let l = x.layout().permute(&perm);
    let r: usize = dims.iter().map(|&d| x.size(d)).product();
    let rows = l
        .numel()
        .checked_div(r)
        .unwrap_or_else(|| numel(&reduced_shape(&x.shape(), dims, false)));
    let v = x.with_layout(l);
    let c = if v.is_contiguous() && v.dtype() == dtype {
        v
    } else {
        materialize(&v, dtype)?
    };
    Ok((c, rows, r))
}

/// Run `f(row_slice) -> O` for each row, in parallel.
pub(crate) fn reduce_rows<T: Element, O: Element>(
    src: &Tensor,
    rows: usize,
    r: usize,
    out_shape: &[usize],
    out_dtype: DType,
    f: impl Fn(&[T]) -> O + Sync + Send,
) -> Result<Tensor> {
    let out = Tensor::empty(out_shape, out_dtype)?;
    let d = src.data();
    let ip = SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) });
    let op = SendPtr(out.storage().cpu_ptr() as *mut O);
    let grain = (crate::cpu::threads::GRAIN / r.max(1)).max(1);
    parallel_for(rows, grain, |a, b| {
        let (ip, op) = (ip, op);
        for i in a..b {
            // SAFETY: row i of a contiguous [rows, r] buffer; out has `rows` elements.
            unsafe {
                let row = std::slice::from_raw_parts(ip.0.add(i * r), r);
                *op.0.add(i) = f(row);
            }
        }
    });
    Ok(out)
}

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

/// Accumulating dtype of `sum`: integers and bool sum to int64, as in PyTorch.
fn sum_dtype(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::I64
    }
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

/// `sum(x, dim, keepdim)` without autograd.
pub(crate) fn sum_kernel(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if let Some(out) = crate::kernels::sum(x, dims, keepdim)? {
        return Ok(out);
    }
    let dtype = sum_dtype(x.dtype());
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    if let Some(out) = sum_block_fast(x, dims, &shape)? {
        return Ok(out);
    }
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    match dtype {
        // SAFETY (both arms): each row slice is valid for `row.len()` elements.
        DType::F32 => reduce_rows::<f32, f32>(&src, rows, r, &shape, dtype, |row| unsafe {
            crate::cpu::simd::sum_f32(row.as_ptr(), row.len())
        }),
        DType::F64 => reduce_rows::<f64, f64>(&src, rows, r, &shape, dtype, |row| unsafe {
            crate::cpu::simd::sum_f64(row.as_ptr(), row.len())
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

/// `torch.sum(x, dim=None, keepdim=False)`. The node is SumBackward0 without dims and
/// SumBackward1 with them, as in PyTorch.
pub fn sum(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    let out = sum_kernel(x, &d, keepdim)?;
    let in_shape = x.shape();
    let name = if dims.is_none() {
        "SumBackward0"
    } else {
        "SumBackward1"
    };
    record(name, &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(expand_back(&g[0], &in_shape, &d, keepdim)?)])
    });
    Ok(out)
}

/// Broadcast a reduced gradient back over the reduced dims.
pub fn expand_back(
    g: &Tensor,
    in_shape: &[usize],
    dims: &[usize],
    keepdim: bool,
) -> Result<Tensor> {
    let kept = reduced_shape(in_shape, dims, true);
    let g = if keepdim {
        g.clone()
    } else {
        reshape(g, &kept.iter().map(|&v| v as i64).collect::<Vec<_>>())?
    };
    expand(&g, in_shape)
}

/// `torch.mean`.
pub fn mean(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(crate::error::Error::not_implemented(format!(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
            match x.dtype() {
                DType::I64 => "Long",
                DType::I32 => "Int",
                DType::U8 => "Byte",
                DType::Bool => "Bool",
                _ => "Unknown",
            }
        )));
    }
    let d = reduce_dims(dims, x.ndim())?;
    let count: usize = d.iter().map(|&i| x.size(i)).product();
    let m = {
        let _g = crate::autograd::GradModeGuard::new(false);
        let s = sum(x, dims, keepdim)?;
        super::binary_scalar(
            super::BinaryOp::Div,
            &s,
            super::Scalar::Float(count as f64),
            false,
        )?
    };
    // One node with PyTorch's name (MeanBackward0 for all elements, MeanBackward1 over dims).
    let name = if dims.is_none() {
        "MeanBackward0"
    } else {
        "MeanBackward1"
    };
    let in_shape = x.shape();
    record(name, &[x], &[&m], false, move |g, _| {
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        Ok(vec![Some(super::mul_scalar(&ge, 1.0 / count as f64)?)])
    });
    Ok(m)
}

/// Sum `g` down to `shape` (undoing broadcasting): the one place broadcast gradients are reduced.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let gs = g.shape();
    if gs.as_slice() == shape {
        return Ok(g.clone());
    }
    let lead = gs.len() - shape.len();
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && gs[lead + i] != 1 {
            dims.push((lead + i) as i64);
        }
    }
    let s = if dims.is_empty() {
        g.clone()
    } else {
        sum(g, Some(&dims), true)?
    };
    reshape(&s, &shape.iter().map(|&v| v as i64).collect::<Vec<_>>())
}

/// PyTorch's short dtype names used in kernel error messages ("Float", "Long" ...).
pub fn torch_dtype_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

/// Product of a run, in the accumulating dtype.
fn prod_run<T: Element>(row: &[T]) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(row.iter().fold(1.0f64, |a, v| a * v.to_f64()))
    } else {
        T::from_i64(row.iter().fold(1i64, |a, v| a.wrapping_mul(v.to_i64())))
    }
}

/// `torch.prod(x, dim=None, keepdim=False)`; integer and bool inputs give int64. The backward is
/// exact with zeros in the input: each element gets the product of the others in its run.
pub fn prod(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    crate::kernels::require_cpu("prod", &[x])?;
    let d = reduce_dims(dims, x.ndim())?;
    let dtype = sum_dtype(x.dtype());
    let (src, rows, r) = rows_for(x, &d, dtype)?;
    let shape = reduced_shape(&x.shape(), &d, keepdim);
    let out = with_dtype!(
        dtype,
        T,
        reduce_rows::<T, T>(&src, rows, r, &shape, dtype, prod_run::<T>)
    )?;
    let (sx, in_shape) = (crate::autograd::SavedTensor::new(x), x.shape());
    let name = if dims.is_none() {
        "ProdBackward0"
    } else {
        "ProdBackward1"
    };
    record(name, &[x], &[&out], true, move |g, _| {
        let others = prod_others(&sx.get()?.detach(), &d)?;
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        Ok(vec![Some(super::mul(&ge, &others)?)])
    });
    Ok(out)
}

/// For each element, the product of the other elements of its run over `dims` (prefix times
/// suffix products, so zeros need no division).
fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let dtype = x.dtype();
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let nd = x.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|i| !dims.contains(i)).collect();
    perm.extend_from_slice(dims);
    let pshape: Vec<usize> = perm.iter().map(|&p| x.size(p)).collect();
    let out = Tensor::empty(&pshape, dtype)?;
    with_dtype!(dtype, T, {
        super::sort::map_rows2::<T, T, u8>(&src, rows, r, r, &out, None, |row, o, _| {
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
    materialize(&out.with_layout(out.layout().permute(&inv)), dtype)
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
    with_dtype!(
        dtype,
        T,
        reduce_rows::<T, T>(&src, rows, r, shape, dtype, |row| extreme(row, want_max).0)
    )
}

/// `torch.amax`/`torch.amin` over `dims` (all dims when `None`). Ties share the gradient evenly.
/// `name` is the op named in errors and nodes ("amax", "amin", "max", "min").
pub fn amax_amin(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    want_max: bool,
    name: &str,
) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    if x.numel() == 0 && (dims.is_none() || d.iter().any(|&i| x.size(i) == 0)) {
        let msg = if dims.is_none() && (name == "max" || name == "min") {
            format!("{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.", name)
        } else {
            format!(
                "{}(): Expected reduction dim {} to have non-zero size.",
                name,
                d.iter().find(|&&i| x.size(i) == 0).copied().unwrap_or(0)
            )
        };
        return Err(crate::error::Error::runtime(msg));
    }
    let dtype = x.dtype();
    let shape = reduced_shape(&x.shape(), &d, keepdim);
    let split = column_split(x, &d).filter(|s| s.1 > 0 && s.0 * s.2 > 0);
    let out = if let Some(out) = crate::kernels::amax(x, &d, keepdim, want_max)? {
        out
    } else if let Some(sp) = split {
        let out = Tensor::empty(&shape, dtype)?;
        with_dtype!(dtype, T, column_extreme::<T>(x, sp, want_max, &out, None));
        out
    } else {
        amax_rows(x, &d, &shape, want_max)?
    };
    let node = match (name, want_max) {
        ("max", _) => "MaxBackward1",
        ("min", _) => "MinBackward1",
        (_, true) => "AmaxBackward0",
        _ => "AminBackward0",
    };
    let (sx, sy, in_shape) = (
        crate::autograd::SavedTensor::new(x),
        crate::autograd::SavedTensor::output(&out),
        x.shape(),
    );
    record(node, &[x], &[&out], true, move |g, _| {
        let (xs, ys) = (sx.get()?.detach(), sy.get()?);
        // Mask of the winning elements; the gradient is split evenly between ties.
        let ye = expand_back(&ys, &in_shape, &d, keepdim)?;
        let mask = super::to_dtype(&super::compare(super::CmpOp::Eq, &xs, &ye)?, xs.dtype())?;
        let dl: Vec<i64> = d.iter().map(|&v| v as i64).collect();
        let count = sum(&mask, Some(&dl), true)?;
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        let share = super::div(&mask, &count)?;
        Ok(vec![Some(super::mul(&ge, &share)?)])
    });
    Ok(out)
}

/// `torch.max(x, dim, keepdim)` / `torch.min(...)`: (values, int64 indices of the first extreme).
/// The gradient goes to the returned index only.
pub fn max_min_dim(
    x: &Tensor,
    dim: i64,
    keepdim: bool,
    want_max: bool,
) -> Result<(Tensor, Tensor)> {
    crate::kernels::require_cpu("max.dim", &[x])?;
    let name = if want_max { "max" } else { "min" };
    let d = crate::shape::wrap_dim(dim, x.ndim())?;
    let dims: Vec<usize> = if x.ndim() == 0 { vec![] } else { vec![d] };
    if x.ndim() > 0 && x.size(d) == 0 {
        return Err(crate::error::Error::index(format!(
            "{}(): Expected reduction dim {} to have non-zero size.",
            name, d
        )));
    }
    let dtype = x.dtype();
    let shape = reduced_shape(&x.shape(), &dims, keepdim);
    let vals = Tensor::empty(&shape, dtype)?;
    let idx = Tensor::empty(&shape, DType::I64)?;
    if let Some(sp) = column_split(x, &dims).filter(|s| s.0 * s.2 > 0) {
        with_dtype!(
            dtype,
            T,
            column_extreme::<T>(x, sp, want_max, &vals, Some(&idx))
        );
    } else {
        let (src, rows, r) = rows_for(x, &dims, dtype)?;
        with_dtype!(dtype, T, {
            super::sort::map_rows2::<T, T, i64>(
                &src,
                rows,
                r,
                1,
                &vals,
                Some(&idx),
                |row, v, ix| {
                    let (b, i) = extreme(row, want_max);
                    v[0] = b;
                    ix[0] = i as i64;
                },
            )
        });
    }
    if x.ndim() > 0 {
        let (saved, in_shape) = (idx.clone(), x.shape());
        let node = if want_max {
            "MaxBackward0"
        } else {
            "MinBackward0"
        };
        record(node, &[x], &[&vals], true, move |g, _| {
            let (gk, ik) = if keepdim {
                (g[0].clone(), saved.clone())
            } else {
                (
                    super::unsqueeze(&g[0], d as i64)?,
                    super::unsqueeze(&saved, d as i64)?,
                )
            };
            Ok(vec![Some(super::sort::scatter_add_dim(
                &gk,
                &ik,
                d,
                in_shape[d],
            )?)])
        });
    } else {
        record(
            if want_max {
                "MaxBackward0"
            } else {
                "MinBackward0"
            },
            &[x],
            &[&vals],
            false,
            |g, _| Ok(vec![Some(g[0].clone())]),
        );
    }
    Ok((vals, idx))
}

/// `torch.var(x, dims, correction, keepdim)` for float tensors, one fused pass per run (mean,
/// then the sum of squared deviations, both accumulated in f64). Returns `(var, mean)`.
/// The gradient of var is `g * 2 (x - mean) / (N - correction)`; mean's is the usual one.
pub fn var_mean(
    x: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keepdim: bool,
) -> Result<(Tensor, Tensor)> {
    crate::kernels::require_cpu("var_mean", &[x])?;
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(crate::error::Error::not_implemented(
            "std and var only support floating point and complex dtypes",
        ));
    }
    let d = reduce_dims(dims, x.ndim())?;
    let (src, rows, r) = rows_for(x, &d, dtype)?;
    let shape = reduced_shape(&x.shape(), &d, keepdim);
    let var = Tensor::empty(&shape, dtype)?;
    let mean = Tensor::empty(&shape, dtype)?;
    let denom = (r as f64 - correction).max(0.0);
    macro_rules! run {
        ($T:ty) => {
            super::sort::map_rows2::<$T, $T, $T>(
                &src,
                rows,
                r,
                1,
                &var,
                Some(&mean),
                |row, v, m| {
                    let mu = row.iter().map(|&e| e as f64).sum::<f64>() / row.len() as f64;
                    let ss: f64 = row.iter().map(|&e| (e as f64 - mu) * (e as f64 - mu)).sum();
                    v[0] = (ss / denom) as $T;
                    m[0] = mu as $T;
                },
            )
        };
    }
    match dtype {
        DType::F32 => run!(f32),
        _ => run!(f64),
    }
    let (sx, in_shape) = (crate::autograd::SavedTensor::new(x), x.shape());
    let dl: Vec<i64> = d.iter().map(|&i| i as i64).collect();
    record(
        "VarMeanBackward0",
        &[x],
        &[&var, &mean],
        true,
        move |g, _| {
            // Missing output gradients arrive as zeros, so both terms are always well-formed.
            let x = sx.get()?;
            let mu = super::mean(&x, Some(&dl), true)?;
            let dev = super::sub(&x, &mu)?;
            let gv = expand_back(&g[0], &in_shape, &d, keepdim)?;
            let tv = super::mul(&gv, &super::mul_scalar(&dev, 2.0 / denom)?)?;
            let gm = expand_back(&g[1], &in_shape, &d, keepdim)?;
            let tm = super::mul_scalar(&gm, 1.0 / r as f64)?;
            Ok(vec![Some(super::add(&tv, &tm)?)])
        },
    );
    Ok((var, mean))
}

/// `s ** (1/p)` of a non-negative reduction result `s` (the p-th power sum of a norm, or a
/// variance for a standard deviation), recorded as one node named `name`.
///
/// Its gradient `y / (p s)` is infinite where `s == 0`; PyTorch's norm and std backward rules
/// choose the subgradient 0 there (masking with `where`), so `x.norm()` at `x = 0` or `std()` of
/// a constant give zero gradients instead of `inf * 0 = NaN`. This op is that rule.
pub fn reduction_root(s: &Tensor, p: f64, name: &'static str) -> Result<Tensor> {
    if !s.dtype().is_float() {
        return Err(crate::error::Error::runtime(format!(
            "{name}: expected a floating point tensor"
        )));
    }
    let y = {
        let _g = crate::autograd::GradModeGuard::new(false);
        if p == 2.0 {
            super::sqrt(s)?
        } else {
            super::unary(super::UnaryOp::PowScalar(1.0 / p), s)?
        }
    };
    let (ss, sy) = (
        crate::autograd::SavedTensor::new(s),
        crate::autograd::SavedTensor::output(&y),
    );
    record(name, &[s], &[&y], true, move |g, _| {
        let (s, y) = (ss.get()?, sy.get()?);
        let zero = super::compare_scalar(super::CmpOp::Eq, &y, super::Scalar::Int(0))?;
        let d = super::div(&y, &super::mul_scalar(&s, p)?)?;
        let z = super::scalar_tensor(super::Scalar::Float(0.0), g[0].dtype())?;
        Ok(vec![Some(super::where_(
            &zero,
            &z,
            &super::mul(&g[0], &d)?,
        )?)])
    });
    Ok(y)
}
