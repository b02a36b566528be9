//! The wgpu side of the index family: index_select / gather (one gather kernel), index_add /
//! scatter (one column-walking scatter kernel), writes at storage offsets, and the linear index
//! of advanced indexing. Indices stay on the device and are checked by the kernels; a bad one
//! raises at the next sync point (`wgpu/errors.rs`), as CUDA's device-side asserts do.
//!
//! Data of any device dtype moves bit for bit (int64 as two words), so `labels[idx]` and
//! gathers of int64 targets work; scatter_add / index_add combine float32, int32, int64, bool
//! and uint8 elements in their own arithmetic.

use super::{operand, view_of, wrap, DEV};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::Reduce;
use crate::shape::{contiguous_strides, Shape, Strides};
use crate::tensor::Tensor;
use crate::wgpu::{self as w, kernels as k, GpuView, IndexOp};
use k::{Along, IndexCheck, ScatterOp};

/// `v` seen as 1-d of one element when it is 0-d (a 0-d x or index counts as shape `[1]`).
fn at_least_1d(v: GpuView) -> GpuView {
    if v.shape.is_empty() {
        GpuView::new(v.buffer, v.dtype, &[1], &[0], v.offset)
    } else {
        v
    }
}

/// `v` read over `shape` (same ndim, each dim of `shape` no larger than v's) with the strides
/// `strides`.
fn over(v: &GpuView, shape: &[usize], strides: Strides) -> GpuView {
    GpuView::new(v.buffer.clone(), v.dtype, shape, &strides, v.offset)
}

fn index_dtype(op: &str, index: &Tensor) -> Result<()> {
    match index.dtype() {
        DType::I64 | DType::I32 => Ok(()),
        _ => Err(Error::runtime(format!(
            "{op}(): Expected dtype int32/int64 for index"
        ))),
    }
}

/// A fresh contiguous device copy of `x` (any device dtype), as a view of `x`'s shape.
fn dense_copy(x: &Tensor) -> Result<GpuView> {
    let v = at_least_1d(view_of(x)?);
    let buf = k::contiguous(&v)?;
    Ok(GpuView::contiguous(buf, v.dtype, &v.shape))
}

fn shape_1d(t: &Tensor) -> Shape {
    if t.ndim() == 0 {
        Shape::from_slice(&[1])
    } else {
        t.shape()
    }
}

pub fn index_select(x: &Tensor, d: usize, index: &Tensor, out_shape: &[usize]) -> Result<Tensor> {
    index_dtype("index_select", index)?;
    let xv = at_least_1d(view_of(x)?);
    let iv = view_of(index)?;
    let mut xs = xv.strides.clone();
    let stride = xs[d];
    xs[d] = 0;
    let mut is: Strides = smallvec::smallvec![0; out_shape.len()];
    if index.ndim() == 1 {
        is[d] = iv.strides[0];
    }
    let check = IndexCheck {
        size: xv.shape[d],
        wrap: false,
        op: IndexOp::IndexSelect,
        dim: d,
    };
    let buf = k::gather(
        &over(&xv, out_shape, xs),
        &over(&iv, out_shape, is),
        stride,
        check,
    )?;
    Ok(wrap(buf, x.dtype(), out_shape))
}

pub fn gather(x: &Tensor, d: usize, index: &Tensor) -> Result<Tensor> {
    index_dtype("gather", index)?;
    let xv = at_least_1d(view_of(x)?);
    let iv = at_least_1d(view_of(index)?);
    let ish = iv.shape.clone();
    let mut xs = xv.strides.clone();
    let stride = xs[d];
    xs[d] = 0;
    let check = IndexCheck {
        size: xv.shape[d],
        wrap: false,
        op: IndexOp::Gather,
        dim: d,
    };
    let is = iv.strides.clone();
    let buf = k::gather(&over(&xv, &ish, xs), &over(&iv, &ish, is), stride, check)?;
    Ok(wrap(buf, x.dtype(), &index.shape()))
}

/// `(dst view over the columns, its stride along d)` for a dense destination of shape `xs`.
fn dense_columns(dst: &GpuView, xs: &[usize], cols: &[usize], d: usize) -> (GpuView, isize) {
    let st = contiguous_strides(xs);
    let along = st[d];
    (over(dst, cols, st), along)
}

pub fn scatter(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    scalar_src: bool,
    reduce: Reduce,
) -> Result<Tensor> {
    index_dtype("scatter", index)?;
    let dtype = x.dtype();
    let out = dense_copy(x)?;
    let xs = shape_1d(x);
    let iv = at_least_1d(view_of(index)?);
    let mut cols = iv.shape.clone();
    let len = cols[d];
    cols[d] = 1;
    let (dst, dst_stride) = dense_columns(&out, &xs, &cols, d);
    let sv = at_least_1d(view_of(&operand("scatter", src, dtype)?)?);
    let (sv, src_stride) = if scalar_src {
        let zeros: Strides = smallvec::smallvec![0; cols.len()];
        (over(&sv, &cols, zeros), 0)
    } else {
        (over(&sv, &cols, sv.strides.clone()), sv.strides[d])
    };
    let along = Along {
        len,
        dst_stride,
        src_stride,
        idx_stride: iv.strides[d],
    };
    let check = IndexCheck {
        size: xs[d],
        wrap: false,
        op: IndexOp::Scatter,
        dim: d,
    };
    let op = match reduce {
        Reduce::None => ScatterOp::Set,
        Reduce::Add => ScatterOp::Add,
        Reduce::Mul => ScatterOp::Mul,
    };
    let iv_cols = over(&iv, &cols, iv.strides.clone());
    k::scatter_into(&dst, &sv, &iv_cols, along, check, op)?;
    Ok(wrap(out.buffer, dtype, &x.shape()))
}

pub fn index_add(x: &Tensor, d: usize, index: &Tensor, src: &Tensor, alpha: f64) -> Result<Tensor> {
    index_dtype("index_add", index)?;
    let dtype = x.dtype();
    let src = operand("index_add", src, dtype)?;
    // alpha scales the source first, in the element type, as the CPU kernel does.
    let src = if alpha == 1.0 {
        src
    } else if dtype == DType::F32 {
        super::binary(
            crate::ops::BinaryOp::Mul,
            &src,
            &Tensor::scalar(alpha as f32)?,
            DType::F32,
        )?
    } else {
        return Err(Error::not_implemented(format!(
            "\"index_add\" with alpha != 1 is not implemented for '{}' on the wgpu device",
            crate::ops::torch_dtype_name(dtype)
        )));
    };
    let out = dense_copy(x)?;
    let xs = x.shape();
    let mut cols = xs.clone();
    cols[d] = 1;
    let (dst, dst_stride) = dense_columns(&out, &xs, &cols, d);
    let sv = view_of(&src)?;
    let src_stride = sv.strides[d];
    let sv = over(&sv, &cols, sv.strides.clone());
    let iv = view_of(index)?;
    let idx_stride = if index.ndim() == 1 { iv.strides[0] } else { 0 };
    let iv = over(&iv, &cols, smallvec::smallvec![0; cols.len()]);
    let along = Along {
        len: index.numel(),
        dst_stride,
        src_stride,
        idx_stride,
    };
    let check = IndexCheck {
        size: xs[d],
        wrap: false,
        op: IndexOp::IndexAdd,
        dim: d,
    };
    k::scatter_into(&dst, &sv, &iv, along, check, ScatterOp::Add)?;
    Ok(wrap(out.buffer, dtype, &xs))
}

pub fn put_offsets_(t: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<()> {
    if t.device().is_cpu() {
        return Err(super::super::mixed(DEV, t.device()));
    }
    index_dtype("index_put_", offsets)?;
    let mut vals = operand("index_put_", values, t.dtype())?;
    if vals.shape() != offsets.shape() {
        let s: Vec<i64> = offsets.shape().iter().map(|&n| n as i64).collect();
        vals = crate::ops::reshape(&vals, &s)?;
    }
    let storage = t.storage();
    let buf = storage
        .gpu_buffer()
        .ok_or_else(|| Error::runtime("index_put_: expected a device tensor"))?
        .clone();
    let dst = GpuView::contiguous(buf, t.dtype(), &[storage.len()]);
    let mut vv = view_of(&vals)?;
    if vv.buffer.same_buffer(&dst.buffer) {
        // Values read from the tensor being written: snapshot them first.
        vv = GpuView::contiguous(k::contiguous(&vv)?, vv.dtype, &vv.shape);
    }
    k::put(&dst, &vv, &view_of(offsets)?)
}

pub fn fold_index(
    indices: &[Tensor],
    sizes: &[usize],
    dims: &[usize],
    bshape: &[usize],
) -> Result<Tensor> {
    let span = sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .filter(|&p| p <= i32::MAX as usize);
    if span.is_none() {
        return Err(Error::not_implemented(
            "advanced indexing on the wgpu device over indexed dims of more than 2^31 elements",
        ));
    }
    let n: usize = bshape.iter().product();
    let lin = w::alloc(n as u64 * 8)?;
    for (k_, ((ix, &size), &dim)) in indices.iter().zip(sizes).zip(dims).enumerate() {
        index_dtype("index", ix)?;
        let v = view_of(ix)?;
        let l = Layout {
            shape: v.shape.clone(),
            strides: v.strides.clone(),
            offset: v.offset,
        }
        .expand(bshape)?;
        let bv = GpuView::new(v.buffer, v.dtype, &l.shape, &l.strides, l.offset);
        let check = IndexCheck {
            size,
            wrap: true,
            op: IndexOp::Index,
            dim,
        };
        k::fold_index(&bv, &lin, k_ == 0, check)?;
    }
    Ok(wrap(lin, DType::I64, bshape))
}
