//! softmax / log_softmax over trailing rows and their backward (`softmax.wgsl`,
//! `softmax_backward.wgsl`): one workgroup per row. Inputs are read and results written through
//! views, so a softmax along any dim is a permuted view in and a permuted view out, no copies.

use super::argreduce::split_trailing;
use super::{float_type, whole, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{check_view, params, GpuView};

fn row_words(op: &str, rows: usize, len: usize) -> Result<[u32; 2]> {
    match (u32::try_from(len), u32::try_from(rows)) {
        (Ok(l), Ok(r)) => Ok([l, r]),
        _ => Err(Error::runtime(format!(
            "wgpu: {op}: {rows} rows of {len} elements exceed 2^32"
        ))),
    }
}

/// A fresh f32 buffer of `a.numel()` elements and its view through `out_strides` (over `a`'s
/// shape), checked to stay inside it.
fn output(op: &str, a: &GpuView, out_strides: &[isize]) -> Result<(GpuBuffer, GpuView)> {
    let out = alloc(a.numel() as u64 * 4)?;
    let v = GpuView::new(out.clone(), DType::F32, &a.shape, out_strides, 0);
    check_view(op, &v)?;
    Ok((out, v))
}

/// softmax (or log_softmax) of each row of `a`'s last dim (any strides), written through
/// `out_strides` into a fresh buffer of `a.numel()` f32 values.
pub fn softmax_rows(a: &GpuView, log: bool, out_strides: &[isize]) -> Result<GpuBuffer> {
    let op = if log { "log_softmax" } else { "softmax" };
    check_view(op, a)?;
    let ty = float_type(op, a)?;
    let (rows, len) = split_trailing(op, a, 1.min(a.shape.len()))?;
    let (out, ov) = output(op, a, out_strides)?;
    if a.numel() == 0 {
        return Ok(out);
    }
    let [l, r] = row_words(op, rows, len)?;
    let e = engine()?;
    let k = e.kernel("softmax.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        op,
        &a.shape,
        &[(a.strides.clone(), a.offset), (ov.strides.clone(), 0)],
        &[l, r, u32::from(log)],
    )?;
    let bind = [
        whole(a),
        Binding {
            buffer: &out,
            bytes: out.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, rows as u64)?;
    Ok(out)
}

/// The backward of [`softmax_rows`]: from the output gradient `g` and the forward result `y`
/// (views of one shape, rows along the last dim), the input gradient written through
/// `out_strides` into a fresh f32 buffer.
pub fn softmax_backward_rows(
    g: &GpuView,
    y: &GpuView,
    log: bool,
    out_strides: &[isize],
) -> Result<GpuBuffer> {
    let op = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    check_view(op, g)?;
    check_view(op, y)?;
    let ty = float_type(op, g)?;
    float_type(op, y)?;
    if g.shape != y.shape {
        return Err(Error::runtime(format!(
            "wgpu: {op}: gradient shape {:?} differs from the output's {:?}",
            g.shape.as_slice(),
            y.shape.as_slice()
        )));
    }
    let (rows, len) = split_trailing(op, g, 1.min(g.shape.len()))?;
    let (out, ov) = output(op, g, out_strides)?;
    if g.numel() == 0 {
        return Ok(out);
    }
    let [l, r] = row_words(op, rows, len)?;
    let e = engine()?;
    let k = e.kernel("softmax_backward.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        op,
        &g.shape,
        &[
            (g.strides.clone(), g.offset),
            (y.strides.clone(), y.offset),
            (ov.strides.clone(), 0),
        ],
        &[l, r, u32::from(log)],
    )?;
    let bind = [
        whole(g),
        whole(y),
        Binding {
            buffer: &out,
            bytes: out.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, rows as u64)?;
    Ok(out)
}
