//! View ops (no copy: a new layout over the same storage) and their backward rules.

use super::{contiguous, copy_into, sum_to};
use crate::autograd::record;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::{fmt_shape, wrap_dim, Shape};
use crate::tensor::Tensor;
use std::sync::Arc;

/// A layout transform that turns a tensor into one of its views.
pub type ViewFn = Arc<dyn Fn(&Layout) -> Result<Layout> + Send + Sync>;

/// Make a view of `x` through `f` and record a backward that scatters the gradient back into a
/// zero tensor of `x`'s shape (used by narrow, select, slicing, diagonal views).
pub fn view_with(x: &Tensor, name: &'static str, f: ViewFn) -> Result<Tensor> {
    let out = x.with_layout(f(&x.layout())?);
    let in_shape = x.shape();
    let dtype = x.dtype();
    record(name, &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(embed_view(&g[0], &in_shape, dtype, f.clone())?)])
    });
    Ok(out)
}

/// Zeros of `shape` with `g` written into the view `f` of it. Differentiable (its backward takes
/// the same view of the incoming gradient), so double backward through slicing works.
pub fn embed_view(
    g: &Tensor,
    shape: &[usize],
    dtype: crate::dtype::DType,
    f: ViewFn,
) -> Result<Tensor> {
    let z = match crate::kernels::zeros_on(shape, dtype, g.device())? {
        Some(z) => z,
        None => Tensor::zeros(shape, dtype)?,
    };
    let region = z.with_layout(f(&z.layout())?);
    copy_into(&region, g)?;
    let f2 = f.clone();
    record("SliceBackwardBackward", &[g], &[&z], false, move |gg, _| {
        let c = contiguous(&gg[0])?;
        Ok(vec![Some(c.with_layout(f2(&c.layout())?))])
    });
    Ok(z)
}

/// Resolve a shape with at most one -1.
pub fn infer_shape(shape: &[i64], numel: usize) -> Result<Shape> {
    let mut out = Shape::new();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::runtime("only one dimension can be inferred"));
            }
            infer = Some(i);
            out.push(1);
        } else if d < 0 {
            return Err(Error::runtime(format!("invalid shape dimension {}", d)));
        } else {
            out.push(d as usize);
            known = known
                .checked_mul(d as usize)
                .ok_or_else(|| Error::runtime("shape is too large"))?;
        }
    }
    let fmt = || {
        format!(
            "[{}]",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(Error::runtime(format!(
                "shape '{}' is invalid for input of size {}",
                fmt(),
                numel
            )));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(Error::runtime(format!(
            "shape '{}' is invalid for input of size {}",
            fmt(),
            numel
        )));
    }
    Ok(out)
}

fn record_reshape(x: &Tensor, out: &Tensor, name: &'static str) {
    let in_shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    record(name, &[x], &[out], false, move |g, _| {
        Ok(vec![Some(reshape(&g[0], &in_shape)?)])
    });
}

/// `view`: errors if the layout cannot be viewed, like PyTorch.
pub fn view(x: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let l = x.layout();
    let new_shape = infer_shape(shape, l.numel())?;
    let strides = l.view_strides(&new_shape).ok_or_else(|| {
        Error::runtime("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    })?;
    let out = x.with_layout(Layout {
        shape: new_shape,
        strides,
        offset: l.offset,
    });
    record_reshape(x, &out, "ViewBackward0");
    Ok(out)
}

/// `reshape`: a view when possible, a copy otherwise.
pub fn reshape(x: &Tensor, shape: &[i64]) -> Result<Tensor> {
    let l = x.layout();
    let new_shape = infer_shape(shape, l.numel())?;
    if let Some(strides) = l.view_strides(&new_shape) {
        let out = x.with_layout(Layout {
            shape: new_shape,
            strides,
            offset: l.offset,
        });
        record_reshape(x, &out, "ViewBackward0");
        return Ok(out);
    }
    let c = contiguous(x)?;
    let out = c.with_layout(Layout::contiguous(&new_shape).with_offset(c.layout().offset));
    record_reshape(&c, &out, "UnsafeViewBackward0");
    Ok(out)
}

impl Layout {
    fn with_offset(mut self, off: usize) -> Layout {
        self.offset = off;
        self
    }
}

pub fn permute(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let nd = x.ndim();
    if dims.len() != nd {
        return Err(Error::runtime(format!(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
            nd,
            dims.len()
        )));
    }
    let d = crate::shape::wrap_dims(dims, nd)?;
    let out = x.with_layout(x.layout().permute(&d));
    let mut inv = vec![0i64; nd];
    for (i, &p) in d.iter().enumerate() {
        inv[p] = i as i64;
    }
    record("PermuteBackward0", &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(permute(&g[0], &inv)?)])
    });
    Ok(out)
}

pub fn transpose(x: &Tensor, a: i64, b: i64) -> Result<Tensor> {
    let nd = x.ndim();
    let (a, b) = (wrap_dim(a, nd)?, wrap_dim(b, nd)?);
    if nd == 0 {
        return Ok(x.with_layout(x.layout()));
    }
    let out = x.with_layout(x.layout().transpose(a, b));
    record("TransposeBackward0", &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(transpose(&g[0], a as i64, b as i64)?)])
    });
    Ok(out)
}

/// `t()`: transpose of a tensor with <= 2 dims (recorded as `TBackward0`, as PyTorch does).
pub fn t(x: &Tensor) -> Result<Tensor> {
    let nd = x.ndim();
    if nd > 2 {
        return Err(Error::runtime(format!(
            "t() expects a tensor with <= 2 dimensions, but self is {}D",
            nd
        )));
    }
    let out = if nd == 2 {
        x.with_layout(x.layout().transpose(0, 1))
    } else {
        x.with_layout(x.layout())
    };
    record("TBackward0", &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(t(&g[0])?)])
    });
    Ok(out)
}

/// `expand` / `broadcast_to` (sizes of -1 keep the existing size).
pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let l = x.layout();
    if l.shape.as_slice() == shape {
        return Ok(x.clone());
    }
    let out = x.with_layout(l.expand(shape)?);
    let in_shape = x.shape();
    record("ExpandBackward0", &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(sum_to(&g[0], &in_shape)?)])
    });
    Ok(out)
}

pub fn unsqueeze(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim() + 1)?;
    let out = x.with_layout(x.layout().unsqueeze(d));
    record_reshape(x, &out, "UnsqueezeBackward0");
    Ok(out)
}

/// `squeeze(dims)`; `None` squeezes every size-1 dim.
pub fn squeeze(x: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    squeeze_as(x, dims, if dims.is_none() { 0 } else { 1 })
}

/// `squeeze` recorded under PyTorch's overload name: `SqueezeBackward0` for `squeeze()`, 1 for
/// `squeeze(dim)`, 2 for `squeeze(dims)` with a tuple.
pub fn squeeze_as(x: &Tensor, dims: Option<&[i64]>, overload: u8) -> Result<Tensor> {
    let nd = x.ndim();
    let mut l = x.layout();
    let mut ds: Vec<usize> = match dims {
        None => (0..nd).collect(),
        // Range first, then repeats (PyTorch's order); a repeated dim would otherwise squeeze
        // a second, wrong dim or index past the end.
        Some(d) => crate::shape::wrap_dims(d, nd)?,
    };
    // A 0-d tensor squeezes to itself, but still as a recorded view so gradients flow.
    if nd > 0 {
        ds.sort_unstable();
        for &d in ds.iter().rev() {
            l = l.squeeze_dim(d);
        }
    }
    let out = x.with_layout(l);
    let name = match overload {
        0 => "SqueezeBackward0",
        1 => "SqueezeBackward1",
        _ => "SqueezeBackward2",
    };
    record_reshape(x, &out, name);
    Ok(out)
}

fn check_dim_nonzero(x: &Tensor, op: &str) -> Result<()> {
    if x.ndim() == 0 {
        return Err(Error::index(format!(
            "{}() cannot be applied to a 0-dim tensor.",
            op
        )));
    }
    Ok(())
}

/// `narrow(dim, start, length)`.
pub fn narrow(x: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    check_dim_nonzero(x, "narrow")?;
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.size(d) as i64;
    let start = if start < 0 { start + size } else { start };
    if start < 0 || length < 0 || start + length > size {
        return Err(Error::runtime(format!(
            "start ({}) + length ({}) exceeds dimension size ({}).",
            start, length, size
        )));
    }
    let (s, n) = (start as usize, length as usize);
    view_with(
        x,
        "SliceBackward0", // PyTorch implements narrow as a slice
        Arc::new(move |l: &Layout| Ok(l.narrow(d, s, n))),
    )
}

/// `x[..., start:stop:step, ...]` on one dim, with Python's clamping of out-of-range bounds.
pub fn slice(
    x: &Tensor,
    dim: i64,
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> Result<Tensor> {
    check_dim_nonzero(x, "slice")?;
    if step <= 0 {
        return Err(Error::value("step must be greater than zero"));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.size(d) as i64;
    let clampi = |v: i64| -> i64 {
        let v = if v < 0 { v + size } else { v };
        v.clamp(0, size)
    };
    let s = clampi(start.unwrap_or(0));
    let e = clampi(stop.unwrap_or(size)).max(s);
    let len = ((e - s) + step - 1) / step;
    let (s, len, st) = (s as usize, len as usize, step as usize);
    view_with(
        x,
        "SliceBackward0",
        Arc::new(move |l: &Layout| Ok(l.slice_step(d, s, len, st))),
    )
}

/// `select(dim, index)`: `x[i]` along `dim`.
pub fn select(x: &Tensor, dim: i64, index: i64) -> Result<Tensor> {
    check_dim_nonzero(x, "select")?;
    let d = wrap_dim(dim, x.ndim())?;
    let size = x.size(d) as i64;
    if index < -size || index >= size {
        return Err(Error::index(format!(
            "index {} is out of bounds for dimension {} with size {}",
            index, d, size
        )));
    }
    let i = if index < 0 { index + size } else { index } as usize;
    view_with(
        x,
        "SelectBackward0",
        Arc::new(move |l: &Layout| Ok(l.select(d, i))),
    )
}

/// `flatten(start_dim, end_dim)`.
pub fn flatten(x: &Tensor, start: i64, end: i64) -> Result<Tensor> {
    let nd = x.ndim();
    if nd == 0 {
        return reshape(x, &[1]);
    }
    let (s, e) = (wrap_dim(start, nd)?, wrap_dim(end, nd)?);
    if s > e {
        return Err(Error::runtime(
            "flatten() has invalid args: start_dim cannot come after end_dim",
        ));
    }
    let shape = x.shape();
    let mut new: Vec<i64> = shape[..s].iter().map(|&d| d as i64).collect();
    new.push(shape[s..=e].iter().product::<usize>() as i64);
    new.extend(shape[e + 1..].iter().map(|&d| d as i64));
    reshape(x, &new)
}

/// `as_strided(size, stride, offset)` view on the same storage. Every size, stride and offset
/// comes from the user (or from a checkpoint file), so the span is computed with checked
/// arithmetic and must lie inside the storage.
pub fn as_strided(x: &Tensor, shape: &[usize], strides: &[isize], offset: usize) -> Result<Tensor> {
    if shape.len() != strides.len() {
        return Err(Error::runtime(format!(
            "mismatch in length of strides and shape: {} vs {}",
            strides.len(),
            shape.len()
        )));
    }
    if strides.iter().any(|&s| s < 0) {
        return Err(Error::runtime(format!(
            "as_strided: Negative strides are not supported at the moment, got strides: {:?}",
            strides
        )));
    }
    let l = Layout {
        shape: shape.iter().copied().collect(),
        strides: strides.iter().copied().collect(),
        offset,
    };
    let (_, hi) = l.storage_span()?;
    let len = x.storage().len();
    if hi > len {
        let item = x.dtype().size();
        return Err(Error::runtime(format!(
            "setStorage: sizes {}, strides {:?}, storage offset {}, and itemsize {} requiring a storage size of {} are out of bounds for storage of size {}",
            fmt_shape(shape),
            strides,
            offset,
            item,
            hi as u128 * item as u128,
            len as u128 * item as u128
        )));
    }
    Ok(x.detach().with_layout(l))
}
