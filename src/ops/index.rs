//! Index-driven ops: index_select / index_add along one dim, gather / scatter along one dim, and
//! raw writes at storage offsets (used by `__setitem__` with advanced indices), and the linear
//! index of advanced indexing. Each differentiable op records its backward with the dual op
//! (gather <-> scatter_add, index_select <-> index_add), so backward runs where its inputs live.
//!
//! Kernels: `kernels::<op>` runs the device kernel when the operands live on wgpu (indices are
//! checked there, the error deferred to the next sync point); otherwise the op reads and checks
//! the indices on the host and calls `cpu::index`.

use super::materialize;
use crate::autograd::{record, SavedTensor};
use crate::cpu::index as cpu;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels;
use crate::shape::{fmt_shape, wrap_dim, Shape};
use crate::tensor::Tensor;

/// Zeros of `shape` on `device` (backward rules build their accumulators where the gradient is).
fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    match kernels::zeros_on(shape, dtype, device)? {
        Some(z) => Ok(z),
        None => Tensor::zeros(shape, dtype),
    }
}

/// The int64/int32 check every index op makes before reading indices.
fn check_index_dtype(idx: &Tensor, op: &str) -> Result<()> {
    if idx.dtype() != DType::I64 && idx.dtype() != DType::I32 {
        return Err(Error::runtime(format!(
            "{}(): Expected dtype int64 for index",
            op
        )));
    }
    Ok(())
}

/// Index values as i64 (contiguous copy of a CPU index), each checked against `0..size`.
/// Negative indices are errors, never wrapped, as in PyTorch: `index_select`/`index_add` raise
/// `IndexError` ("index out of range in self"), `gather`/`scatter` raise `RuntimeError` naming
/// the index. (On the device the kernels check instead and report at the next sync point.)
fn index_values(idx: &Tensor, size: usize, dim: usize, op: &str) -> Result<Vec<usize>> {
    check_index_dtype(idx, op)?;
    let v = materialize(idx, DType::I64)?.to_vec::<i64>()?;
    let n = size as i64;
    v.into_iter()
        .map(|i| {
            if (0..n).contains(&i) {
                Ok(i as usize)
            } else if op == "index_select" || i < 0 && op == "index_add" {
                Err(Error::index("index out of range in self"))
            } else {
                Err(Error::runtime(format!(
                    "index {} is out of bounds for dimension {} with size {}",
                    i, dim, size
                )))
            }
        })
        .collect()
}

/// (outer, size, inner) of a contiguous shape split at `d`.
fn split_at(shape: &[usize], d: usize) -> (usize, usize, usize) {
    let outer = shape[..d].iter().product();
    let inner = shape[d + 1..].iter().product();
    (outer, shape[d], inner)
}

/// Contiguous copy of `t` in `dtype` (no copy when already so).
fn dense(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype && t.is_contiguous() && t.layout().offset == 0 {
        Ok(t.clone())
    } else {
        materialize(t, dtype)
    }
}

/// `index_select(x, dim, index)`: rows of `x` along `dim` picked by a 1-D (or 0-d) index.
pub fn index_select(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    if index.ndim() > 1 {
        return Err(Error::index(
            "index_select(): Index is supposed to be a vector",
        ));
    }
    let nd = x.ndim().max(1);
    let d = wrap_dim(dim, nd)?;
    let xs: Shape = if x.ndim() == 0 {
        Shape::from_slice(&[1])
    } else {
        x.shape()
    };
    check_index_dtype(index, "index_select")?;
    let mut oshape = xs.clone();
    oshape[d] = index.numel();
    let out = match kernels::index_select(x, d, index, &oshape)? {
        Some(out) => out,
        None => {
            let idx = index_values(index, xs[d], d, "index_select")?;
            let xc = dense(x, x.dtype())?;
            let out = Tensor::empty(&oshape, x.dtype())?;
            cpu::index_select_rows(&xc, &idx, split_at(&xs, d), &out);
            out
        }
    };
    let out = if x.ndim() == 0 {
        out.with_layout(crate::layout::Layout::contiguous(&[]))
    } else {
        out
    };
    let in_shape = x.shape();
    let sidx = SavedTensor::new(index);
    record("IndexSelectBackward0", &[x], &[&out], true, move |g, _| {
        let z = zeros_on(&in_shape, g[0].dtype(), g[0].device())?;
        let gi = if in_shape.is_empty() {
            super::reshape(&g[0], &[1])?
        } else {
            g[0].clone()
        };
        let zi = if in_shape.is_empty() {
            super::reshape(&z, &[1])?
        } else {
            z
        };
        let r = index_add(&zi, d as i64, &sidx.get()?, &gi, 1.0)?;
        Ok(vec![Some(super::reshape(
            &r,
            &in_shape.iter().map(|&s| s as i64).collect::<Vec<_>>(),
        )?)])
    });
    Ok(out)
}

/// Out-of-place `index_add(x, dim, index, src, alpha)`: `out[.., index[j], ..] += alpha * src[.., j, ..]`.
pub fn index_add(x: &Tensor, dim: i64, index: &Tensor, src: &Tensor, alpha: f64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim().max(1))?;
    if x.ndim() == 0 || index.ndim() > 1 {
        return Err(Error::index(
            "index_add_(): Index is supposed to be a vector",
        ));
    }
    let xs = x.shape();
    // On the CPU the index values are checked before the shapes (PyTorch's order); the device
    // checks them in its kernel.
    let host_idx = if kernels::device_of(&[x, index, src])?.is_cpu() {
        Some(index_values(index, xs[d], d, "index_add")?)
    } else {
        check_index_dtype(index, "index_add")?;
        None
    };
    let mut want = xs.clone();
    want[d] = index.numel();
    if src.shape() != want {
        return Err(Error::runtime(format!(
            "index_add_(): Source/destination tensor must have same slice shapes. Destination slice shape: {} at dimension {} and source slice shape: {} at dimension {}.",
            fmt_shape(&xs), d, fmt_shape(&src.shape()), d
        )));
    }
    let out = match host_idx {
        None => kernels::index_add(x, d, index, src, alpha)?
            .ok_or_else(|| Error::runtime("index_add: no kernel ran for a device operand"))?,
        Some(idx) => {
            let out = materialize(x, x.dtype())?;
            let s = dense(src, x.dtype())?;
            cpu::index_add_rows(&out, &s, &idx, split_at(&xs, d), alpha);
            out
        }
    };
    let sidx = SavedTensor::new(index);
    record(
        "IndexAddBackward0",
        &[x, src],
        &[&out],
        true,
        move |g, n| {
            let gs = if n[1] {
                let r = index_select(&g[0], d as i64, &sidx.get()?)?;
                Some(if alpha == 1.0 {
                    r
                } else {
                    super::mul_scalar(&r, alpha)?
                })
            } else {
                None
            };
            Ok(vec![n[0].then(|| g[0].clone()), gs])
        },
    );
    Ok(out)
}

/// Check shapes for gather/scatter: same ndim, index no larger than `x` off `dim` (and than src).
fn check_gs(op: &str, x: &Tensor, d: usize, index: &Tensor, src: Option<&Tensor>) -> Result<()> {
    let (xn, inn) = (x.ndim().max(1), index.ndim().max(1));
    if xn != inn {
        return Err(Error::runtime(format!(
            "Index tensor must have the same number of dimensions as {} tensor",
            if op == "gather" { "input" } else { "self" }
        )));
    }
    let xs = x.shape();
    let is = index.shape();
    for k in 0..is.len() {
        if k != d && is[k] > xs[k] {
            return Err(Error::runtime(format!(
                "Size does not match at dimension {} expected index {} to be smaller than self {} apart from dimension {}",
                k, fmt_shape(&is), fmt_shape(&xs), d
            )));
        }
        if let Some(s) = src {
            if s.ndim() == is.len() && is[k] > s.shape()[k] {
                return Err(Error::runtime(format!(
                    "Size does not match at dimension {} expected index {} to be smaller than src {}",
                    k, fmt_shape(&is), fmt_shape(&s.shape())
                )));
            }
        }
    }
    Ok(())
}

/// `gather(x, dim, index)`: `out[i][j][k] = x[i][index[i][j][k]][k]` (for dim=1).
pub fn gather(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim().max(1))?;
    check_gs("gather", x, d, index, None)?;
    check_index_dtype(index, "gather")?;
    let out = match kernels::gather(x, d, index)? {
        Some(out) => out,
        None => {
            let xs = if x.ndim() == 0 {
                Shape::from_slice(&[1])
            } else {
                x.shape()
            };
            let is = index.shape();
            let idx = index_values(index, xs[d], d, "gather")?;
            let out = Tensor::empty(&is, x.dtype())?;
            let ish: Vec<usize> = if is.is_empty() { vec![1] } else { is.to_vec() };
            cpu::gather(x, d, &idx, &ish, &out);
            out
        }
    };
    let in_shape = x.shape();
    let sidx = SavedTensor::new(index);
    record("GatherBackward0", &[x], &[&out], true, move |g, _| {
        let z = zeros_on(&in_shape, g[0].dtype(), g[0].device())?;
        Ok(vec![Some(scatter(
            &z,
            d as i64,
            &sidx.get()?,
            &g[0],
            Reduce::Add,
        )?)])
    });
    Ok(out)
}

/// How scatter combines a source value with the destination.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reduce {
    /// Overwrite (plain scatter).
    None,
    /// Accumulate (scatter_add / reduce='add').
    Add,
    /// Multiply (reduce='multiply').
    Mul,
}

/// Out-of-place scatter: `out = x.clone(); out[.., index[p], ..] (op)= src[p]`. `src` may be a
/// 0-d tensor (a scalar value broadcast to every index position).
pub fn scatter(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    reduce: Reduce,
) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim().max(1))?;
    let scalar_src = src.ndim() == 0 && index.ndim() > 0;
    check_gs(
        "scatter",
        x,
        d,
        index,
        if scalar_src { None } else { Some(src) },
    )?;
    if !scalar_src && src.ndim().max(1) != index.ndim().max(1) {
        return Err(Error::runtime(
            "Index tensor must have the same number of dimensions as src tensor",
        ));
    }
    check_index_dtype(index, "scatter")?;
    let out = match kernels::scatter(x, d, index, src, scalar_src, reduce)? {
        Some(out) => out,
        None => {
            let xs = if x.ndim() == 0 {
                Shape::from_slice(&[1])
            } else {
                x.shape()
            };
            let idx = index_values(index, xs[d], d, "scatter")?;
            let out = materialize(x, x.dtype())?;
            let s = materialize(src, x.dtype())?;
            let ish: Vec<usize> = if index.ndim() == 0 {
                vec![1]
            } else {
                index.shape().to_vec()
            };
            cpu::scatter(&out, &s, &xs, d, &idx, &ish, scalar_src, reduce);
            out
        }
    };
    let sidx = SavedTensor::new(index);
    let (sshape, sdtype) = (src.shape(), src.dtype());
    let sx = SavedTensor::new(x);
    let sout = SavedTensor::output(&out);
    let ssrc = SavedTensor::new(src);
    record("ScatterBackward0", &[x, src], &[&out], true, move |g, n| {
        let idx = sidx.get()?;
        let gx = if !n[0] {
            None
        } else {
            match reduce {
                Reduce::Add => Some(g[0].clone()),
                Reduce::None => {
                    let z = Tensor::zeros(&[], g[0].dtype())?;
                    Some(scatter(&g[0], d as i64, &idx, &z, Reduce::None)?)
                }
                Reduce::Mul => {
                    // d out/d x = product of the scattered factors = out / x where x != 0.
                    let x = sx.get()?;
                    let o = sout.get()?;
                    Some(super::mul(&g[0], &super::div(&o, &x)?)?)
                }
            }
        };
        let gs = if !n[1] {
            None
        } else {
            let r = gather(&g[0], d as i64, &idx)?;
            let r = match reduce {
                Reduce::Mul => {
                    let o = gather(&sout.get()?, d as i64, &idx)?;
                    super::div(&super::mul(&r, &o)?, &ssrc.get()?)?
                }
                _ => r,
            };
            Some(if scalar_src {
                super::reduce_grad(&r, &sshape, sdtype)?
            } else {
                pad_to(&r, &sshape)?
            })
        };
        Ok(vec![gx, gs])
    });
    Ok(out)
}

/// Zero-pad `g` up to `shape` (each dim of `g` no larger), used when src is bigger than index.
fn pad_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape().as_slice() == shape {
        return Ok(g.clone());
    }
    let gs = g.shape();
    let f: super::ViewFn = std::sync::Arc::new(move |l: &crate::layout::Layout| {
        let mut l = l.clone();
        for (k, &n) in gs.iter().enumerate() {
            l = l.narrow(k, 0, n);
        }
        Ok(l)
    });
    super::embed_view(g, shape, g.dtype(), f)
}

/// Write `values` (already of `t`'s dtype, one per offset) at raw storage offsets of `t` (no
/// autograd; the caller handles history); a later duplicate offset wins. Bumps the version
/// counter.
pub fn put_offsets_(t: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<()> {
    if values.numel() != offsets.numel() {
        return Err(Error::runtime(format!(
            "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
            fmt_shape(&values.shape()),
            fmt_shape(&offsets.shape())
        )));
    }
    if !kernels::put_offsets_(t, offsets, values)? {
        let offs = materialize(offsets, DType::I64)?.to_vec::<i64>()?;
        let v = materialize(values, t.dtype())?;
        cpu::put_offsets(t, &offs, &v)?;
    }
    t.bump_version();
    Ok(())
}

/// Advanced indexing's linear index (`x[i0, i1, ...]` over the indexed dims of sizes `sizes`):
/// each index broadcast to `bshape`, negatives counted from the end, folded row-major into one
/// int64 index of shape `bshape`. An index outside `-size..size` is PyTorch's IndexError
/// ("index 5 is out of bounds for dimension 1 with size 3", `dims` naming the dims); on the
/// device the kernel reports it at the next sync point instead.
pub fn fold_index(
    indices: &[Tensor],
    sizes: &[usize],
    dims: &[usize],
    bshape: &[usize],
) -> Result<Tensor> {
    if indices.is_empty() || indices.len() != sizes.len() || sizes.len() != dims.len() {
        return Err(Error::runtime(
            "fold_index: expected one size and one dim per index tensor",
        ));
    }
    for ix in indices {
        if ix.dtype() != DType::I64 && ix.dtype() != DType::I32 {
            return Err(Error::index(
                "tensors used as indices must be long, int, byte or bool tensors",
            ));
        }
        crate::shape::broadcast_shapes(&ix.shape(), bshape)?;
    }
    if let Some(out) = kernels::fold_index(indices, sizes, dims, bshape)? {
        return Ok(out);
    }
    let n: usize = bshape.iter().product();
    let mut lin = vec![0i64; n];
    for ((ix, &size), &dim) in indices.iter().zip(sizes).zip(dims) {
        let b = super::expand(ix, bshape)?;
        let vals = materialize(&b, DType::I64)?.to_vec::<i64>()?;
        let m = size as i64;
        for (l, v) in lin.iter_mut().zip(vals) {
            if v < -m || v >= m {
                return Err(Error::index(format!(
                    "index {v} is out of bounds for dimension {dim} with size {size}"
                )));
            }
            *l = *l * m + if v < 0 { v + m } else { v };
        }
    }
    Tensor::from_vec(lin, bshape)
}
