//! Index-driven ops: index_select / index_add along one dim, gather / scatter along one dim, and
//! raw writes at storage offsets (used by `__setitem__` with advanced indices). Each differentiable
//! op records its backward with the dual op (gather <-> scatter_add, index_select <-> index_add).

use super::{materialize, zeros};
use crate::autograd::{record, SavedTensor};
use crate::cpu::num::Num;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{fmt_shape, wrap_dim, Shape};
use crate::tensor::Tensor;
use crate::{with_dtype, with_num_dtype};

/// Index values as i64 (contiguous copy), each checked against `0..size`. Negative indices are
/// errors, never wrapped, as in PyTorch: `index_select`/`index_add` raise `IndexError` ("index out
/// of range in self"), `gather`/`scatter` raise `RuntimeError` naming the index.
fn index_values(idx: &Tensor, size: usize, dim: usize, op: &str) -> Result<Vec<usize>> {
    if idx.dtype() != DType::I64 && idx.dtype() != DType::I32 {
        return Err(Error::runtime(format!(
            "{}(): Expected dtype int64 for index",
            op
        )));
    }
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
    crate::kernels::require_cpu("index_select", &[x, index])?;
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
    let idx = index_values(index, xs[d], d, "index_select")?;
    let xc = dense(x, x.dtype())?;
    let (outer, size, inner) = split_at(&xs, d);
    let mut oshape = xs.clone();
    oshape[d] = idx.len();
    let out = Tensor::empty(&oshape, x.dtype())?;
    with_dtype!(x.dtype(), T, {
        let sp = xc.storage().cpu_ptr() as *const T;
        let op = out.storage().cpu_ptr() as *mut T;
        for o in 0..outer {
            for (j, &i) in idx.iter().enumerate() {
                // SAFETY: i < size, o < outer; blocks of `inner` lie inside both buffers.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        sp.add((o * size + i) * inner),
                        op.add((o * idx.len() + j) * inner),
                        inner,
                    );
                }
            }
        }
    });
    let out = if x.ndim() == 0 {
        out.with_layout(crate::layout::Layout::contiguous(&[]))
    } else {
        out
    };
    let in_shape = x.shape();
    let sidx = SavedTensor::new(index);
    record("IndexSelectBackward0", &[x], &[&out], true, move |g, _| {
        let z = zeros(&in_shape, g[0].dtype())?;
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
    crate::kernels::require_cpu("index_add", &[x, index, src])?;
    let d = wrap_dim(dim, x.ndim().max(1))?;
    if x.ndim() == 0 || index.ndim() > 1 {
        return Err(Error::index(
            "index_add_(): Index is supposed to be a vector",
        ));
    }
    let xs = x.shape();
    let idx = index_values(index, xs[d], d, "index_add")?;
    let mut want = xs.clone();
    want[d] = idx.len();
    if src.shape() != want {
        return Err(Error::runtime(format!(
            "index_add_(): Source/destination tensor must have same slice shapes. Destination slice shape: {} at dimension {} and source slice shape: {} at dimension {}.",
            fmt_shape(&xs), d, fmt_shape(&src.shape()), d
        )));
    }
    let out = materialize(x, x.dtype())?;
    let s = dense(src, x.dtype())?;
    let (outer, size, inner) = split_at(&xs, d);
    with_num_dtype!(
        x.dtype(),
        T,
        {
            let a: T = super::convert::cast::<f64, T>(alpha);
            let sp = s.storage().cpu_ptr() as *const T;
            let op = out.storage().cpu_ptr() as *mut T;
            for o in 0..outer {
                for (j, &i) in idx.iter().enumerate() {
                    for k in 0..inner {
                        // SAFETY: indices checked against the shapes above.
                        unsafe {
                            let dst = op.add((o * size + i) * inner + k);
                            let v = *sp.add((o * idx.len() + j) * inner + k);
                            *dst = T::add(*dst, if alpha == 1.0 { v } else { T::mul(v, a) });
                        }
                    }
                }
            }
        },
        {
            let sp = s.storage().cpu_ptr() as *const bool;
            let op = out.storage().cpu_ptr() as *mut bool;
            for o in 0..outer {
                for (j, &i) in idx.iter().enumerate() {
                    for k in 0..inner {
                        // SAFETY: as above.
                        unsafe {
                            let dst = op.add((o * size + i) * inner + k);
                            *dst = *dst || *sp.add((o * idx.len() + j) * inner + k);
                        }
                    }
                }
            }
        }
    );
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

/// Walk every element of a contiguous `idx_shape`, calling `f(flat, coords)`.
fn for_each_coord(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut c = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &c);
        for k in (0..shape.len()).rev() {
            c[k] += 1;
            if c[k] < shape[k] {
                break;
            }
            c[k] = 0;
        }
    }
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
    crate::kernels::require_cpu("gather", &[x, index])?;
    let d = wrap_dim(dim, x.ndim().max(1))?;
    check_gs("gather", x, d, index, None)?;
    let xs = if x.ndim() == 0 {
        Shape::from_slice(&[1])
    } else {
        x.shape()
    };
    let is = index.shape();
    let idx = index_values(index, xs[d], d, "gather")?;
    let xl = x.layout();
    let out = Tensor::empty(&is, x.dtype())?;
    let xstr: Vec<isize> = if x.ndim() == 0 {
        vec![0]
    } else {
        xl.strides.to_vec()
    };
    with_dtype!(x.dtype(), T, {
        let sp = x.storage().cpu_ptr() as *const T;
        let op = out.storage().cpu_ptr() as *mut T;
        let ish: Vec<usize> = if is.is_empty() { vec![1] } else { is.to_vec() };
        for_each_coord(&ish, |flat, c| {
            let mut off = xl.offset as isize;
            for k in 0..c.len() {
                let ck = if k == d { idx[flat] } else { c[k] };
                off += ck as isize * xstr[k];
            }
            // SAFETY: every coordinate is inside x's shape (checked above).
            unsafe { *op.add(flat) = *sp.offset(off) };
        });
    });
    let in_shape = x.shape();
    let sidx = SavedTensor::new(index);
    record("GatherBackward0", &[x], &[&out], true, move |g, _| {
        let z = zeros(&in_shape, g[0].dtype())?;
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
    crate::kernels::require_cpu("scatter", &[x, index, src])?;
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
    let xs = if x.ndim() == 0 {
        Shape::from_slice(&[1])
    } else {
        x.shape()
    };
    let idx = index_values(index, xs[d], d, "scatter")?;
    let out = materialize(x, x.dtype())?;
    let s = materialize(src, x.dtype())?;
    let sstr: Vec<usize> = {
        let ss = if s.ndim() == 0 {
            vec![1usize]
        } else {
            s.shape().to_vec()
        };
        let mut st = vec![0usize; ss.len()];
        let mut acc = 1;
        for k in (0..ss.len()).rev() {
            st[k] = acc;
            acc *= ss[k];
        }
        st
    };
    let ostr: Vec<usize> = {
        let mut st = vec![0usize; xs.len()];
        let mut acc = 1;
        for k in (0..xs.len()).rev() {
            st[k] = acc;
            acc *= xs[k];
        }
        st
    };
    let ish: Vec<usize> = if index.ndim() == 0 {
        vec![1]
    } else {
        index.shape().to_vec()
    };
    // Storage offsets in `out` and in `src` of the element that index coordinate `c` writes.
    let offsets_of = |flat: usize, c: &[usize]| -> (usize, usize) {
        let (mut o, mut so) = (0usize, 0usize);
        for k in 0..c.len() {
            o += (if k == d { idx[flat] } else { c[k] }) * ostr[k];
            if !scalar_src {
                so += c[k] * sstr[k];
            }
        }
        (o, so)
    };
    with_num_dtype!(
        x.dtype(),
        T,
        {
            let sp = s.storage().cpu_ptr() as *const T;
            let op = out.storage().cpu_ptr() as *mut T;
            for_each_coord(&ish, |flat, c| {
                let (o, so) = offsets_of(flat, c);
                // SAFETY: coordinates checked against x's and src's shapes.
                unsafe {
                    let v = *sp.add(so);
                    let dst = op.add(o);
                    *dst = match reduce {
                        Reduce::None => v,
                        Reduce::Add => T::add(*dst, v),
                        Reduce::Mul => T::mul(*dst, v),
                    };
                }
            });
        },
        {
            let sp = s.storage().cpu_ptr() as *const bool;
            let op = out.storage().cpu_ptr() as *mut bool;
            for_each_coord(&ish, |flat, c| {
                let (o, so) = offsets_of(flat, c);
                // SAFETY: as above.
                unsafe {
                    let v = *sp.add(so);
                    let dst = op.add(o);
                    *dst = match reduce {
                        Reduce::None => v,
                        Reduce::Add => *dst || v,
                        Reduce::Mul => *dst && v,
                    };
                }
            });
        }
    );
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
                    let z = zeros(&[], g[0].dtype())?;
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

/// Write `values` (already of `t`'s dtype, contiguous, one per offset) at raw storage offsets of
/// `t` (no autograd; the caller handles history). Bumps the version counter.
pub fn put_offsets_(t: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<()> {
    crate::kernels::require_cpu("index_put_", &[t, offsets, values])?;
    let offs = materialize(offsets, DType::I64)?.to_vec::<i64>()?;
    let v = materialize(values, t.dtype())?;
    if v.numel() != offs.len() {
        return Err(Error::runtime(format!(
            "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
            fmt_shape(&values.shape()),
            fmt_shape(&offsets.shape())
        )));
    }
    let cap = t.storage().len() as i64;
    with_dtype!(t.dtype(), T, {
        let sp = v.storage().cpu_ptr() as *const T;
        let op = t.storage().cpu_ptr() as *mut T;
        for (i, &o) in offs.iter().enumerate() {
            if o < 0 || o >= cap {
                return Err(Error::index("index out of range in self"));
            }
            // SAFETY: o checked against the storage length; i < v.numel().
            unsafe { *op.add(o as usize) = *sp.add(i) };
        }
    });
    t.bump_version();
    Ok(())
}
