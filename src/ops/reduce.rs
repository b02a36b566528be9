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
        None => Ok((0..ndim).collect()),
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
    let rows = if r == 0 {
        numel(&reduced_shape(&x.shape(), dims, false))
    } else {
        l.numel() / r
    };
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
    let dtype = sum_dtype(x.dtype());
    let (src, rows, r) = rows_for(x, dims, dtype)?;
    let shape = reduced_shape(&x.shape(), dims, keepdim);
    with_dtype!(
        dtype,
        T,
        reduce_rows::<T, T>(&src, rows, r, &shape, dtype, sum_run::<T>)
    )
}

/// `torch.sum(x, dim=None, keepdim=False)`.
pub fn sum(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    let out = sum_kernel(x, &d, keepdim)?;
    let in_shape = x.shape();
    record("SumBackward1", &[x], &[&out], false, move |g, _| {
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
        return Err(crate::error::Error::runtime(format!(
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
    let s = sum(x, dims, keepdim)?;
    super::binary_scalar(
        super::BinaryOp::Div,
        &s,
        super::Scalar::Float(count as f64),
        false,
    )
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
