//! Max/min with indices over trailing dims (`argreduce.wgsl`) and their gradient's placement
//! (`place.wgsl`). Long rows are split into segments whose (value, index) partials later passes
//! fold, so a reduction over everything still spreads over many workgroups; the split and every
//! combining order are fixed, so equal inputs give equal results.

use super::{float_type, whole, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{broadcast_strides, check_view, params, GpuView};

/// Elements one workgroup folds per pass (16 per invocation).
pub(super) const SEGMENT: usize = 16 * WG as usize;

/// Rows (leading dims) and row length (trailing `ndims` dims) of `a`.
pub(super) fn split_trailing(op: &str, a: &GpuView, ndims: usize) -> Result<(usize, usize)> {
    let nd = a.shape.len();
    if ndims > nd {
        return Err(Error::runtime(format!(
            "wgpu: {op}: cannot reduce {ndims} trailing dims of a {nd}-d view"
        )));
    }
    let rows = a.shape[..nd - ndims].iter().product();
    let row_len = a.shape[nd - ndims..].iter().product();
    Ok((rows, row_len))
}

fn u32_of(op: &str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        Error::runtime(format!(
            "wgpu: {op}: {n} exceeds the 2^32 elements a dispatch indexes"
        ))
    })
}

/// Max (`want_max`) or min over the trailing `ndims` dims of `a` (f32, any strides, non-empty
/// rows): contiguous values (f32) and int64 indices into each row (row-major over the trailing
/// dims), one per row of the leading dims.
pub fn extreme_trailing(
    a: &GpuView,
    ndims: usize,
    want_max: bool,
) -> Result<(GpuBuffer, GpuBuffer)> {
    let op = if want_max { "max" } else { "min" };
    check_view(op, a)?;
    let ty = float_type(op, a)?;
    let (rows, row_len) = split_trailing(op, a, ndims)?;
    if rows == 0 {
        return Ok((alloc(0)?, alloc(0)?));
    }
    if row_len == 0 {
        return Err(Error::index(format!(
            "{op}(): Expected reduction dim {} to have non-zero size.",
            a.shape.len() - ndims
        )));
    }
    let e = engine()?;
    let k = e.kernel("argreduce.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let mut flags = u32::from(want_max);
    // The first pass reads `a` through its view; later ones the contiguous partials.
    let (mut vals, mut idx): (Option<GpuBuffer>, Option<GpuBuffer>) = (None, None);
    let mut len = row_len;
    loop {
        let segs = len.div_ceil(SEGMENT);
        let last = segs == 1;
        let out_n = rows * segs;
        let dst = alloc(out_n as u64 * 4)?;
        let dst_idx = alloc(out_n as u64 * if last { 8 } else { 4 })?;
        let scalars = [
            u32_of(op, len)?,
            SEGMENT as u32,
            u32_of(op, segs)?,
            u32_of(op, rows)?,
            flags | if last { 4 } else { 0 },
        ];
        let p = match &vals {
            None => params(op, &a.shape, &[(a.strides.clone(), a.offset)], &scalars)?,
            Some(_) => params(
                op,
                &[rows * len],
                &[(crate::shape::contiguous_strides(&[rows * len]), 0)],
                &scalars,
            )?,
        };
        let (src, src_idx) = match (&vals, &idx) {
            (Some(v), Some(i)) => (v.clone(), i.clone()),
            // The index input is unread in the first pass; `a`'s buffer stands in for it.
            _ => (a.buffer.clone(), a.buffer.clone()),
        };
        let bind = [
            Binding {
                buffer: &src,
                bytes: src.len(),
            },
            Binding {
                buffer: &src_idx,
                bytes: src_idx.len(),
            },
            whole_of(&dst),
            whole_of(&dst_idx),
        ];
        e.dispatch(op, &k, &p, &bind, out_n as u64)?;
        if last {
            return Ok((dst, dst_idx));
        }
        vals = Some(dst);
        idx = Some(dst_idx);
        len = segs;
        flags |= 2;
    }
}

fn whole_of(b: &GpuBuffer) -> Binding<'_> {
    Binding {
        buffer: b,
        bytes: b.len(),
    }
}

/// Zeros of `out_shape` with `g` placed where the position along `dim` equals `idx` (both views
/// of the reduced, keepdim shape; int64 `idx`): a fresh contiguous f32 buffer.
pub fn place_at_index(
    g: &GpuView,
    idx: &GpuView,
    out_shape: &[usize],
    dim: usize,
) -> Result<GpuBuffer> {
    let op = "max_backward";
    check_view(op, g)?;
    check_view(op, idx)?;
    let ty = float_type(op, g)?;
    if idx.dtype != DType::I64 {
        return Err(Error::runtime(format!(
            "wgpu: {op}: indices must be int64, got {:?}",
            idx.dtype
        )));
    }
    let n: usize = out_shape.iter().product();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let inner: usize = out_shape[dim + 1..].iter().product();
    let sg = broadcast_strides(op, g, out_shape)?;
    let si = broadcast_strides(op, idx, out_shape)?;
    let e = engine()?;
    let k = e.kernel("place.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        op,
        out_shape,
        &[(sg, g.offset), (si, idx.offset)],
        &[u32_of(op, inner)?, u32_of(op, out_shape[dim])?],
    )?;
    let bind = [whole(g), whole(idx), whole_of(&out)];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}
