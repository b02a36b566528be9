//! Pooling on the device: max (`pool_max.wgsl`, int64 indices) and average (`pool_avg.wgsl`)
//! over fixed or adaptive windows, and their input gradients in gather form
//! (`pool_max_backward.wgsl`, `pool_avg_backward.wgsl`): each input element sums what its
//! outputs send it, in a fixed order, so nothing needs float atomics.

use super::window::{window_params, words};
use super::{float_type, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::{AvgCfg, PoolGeom};
use crate::shape::{contiguous_strides, fmt_shape};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{check_view, GpuView};

/// Flag bits of geometry word 12 (`shaders/pool_window.wgsl`).
const ADAPTIVE: u32 = 1;
const COUNT_INCLUDE_PAD: u32 = 2;
const DIVISOR: u32 = 4;

/// The element offset of `v`, which must be dense row-major planes of `plane` elements.
fn dense(op: &str, what: &str, v: &GpuView, dtype: DType, numel: usize) -> Result<usize> {
    check_view(op, v)?;
    let row_major = contiguous_strides(&v.shape);
    let dense = (0..v.shape.len()).all(|d| v.shape[d] <= 1 || v.strides[d] == row_major[d]);
    if v.dtype != dtype || v.numel() != numel || !dense {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {what} must be a contiguous {dtype:?} tensor of {numel} elements (got \
             {:?} of shape {}, strides {:?})",
            v.dtype,
            fmt_shape(&v.shape),
            v.strides.as_slice()
        )));
    }
    Ok(v.offset)
}

/// The geometry block (`shaders/pool_window.wgsl`).
fn geometry(
    op: &str,
    g: &PoolGeom,
    c: Option<&AvgCfg>,
    input: usize,
    indices: usize,
) -> Result<Vec<u32>> {
    let mut flags = if g.adaptive { ADAPTIVE } else { 0 };
    let mut divisor = 0f32;
    if let Some(c) = c {
        if c.count_include_pad {
            flags |= COUNT_INCLUDE_PAD;
        }
        if let Some(d) = c.divisor {
            flags |= DIVISOR;
            divisor = d as f32;
        }
    }
    let mut w = words(
        op,
        &[
            g.h, g.w, g.oh, g.ow, g.k[0], g.k[1], g.s[0], g.s[1], g.p[0], g.p[1], g.d[0], g.d[1],
        ],
    )?;
    w.extend([flags, divisor.to_bits()]);
    w.extend(words(op, &[input, indices])?);
    Ok(w)
}

fn out_binding(buf: &GpuBuffer, elems: usize, elem_bytes: u64) -> Binding<'_> {
    Binding {
        buffer: buf,
        bytes: elems as u64 * elem_bytes,
    }
}

fn in_binding(v: &GpuView) -> Binding<'_> {
    Binding {
        buffer: &v.buffer,
        bytes: v.buffer.len(),
    }
}

/// Max pooling of `x` (dense planes of h x w): fresh `[planes, oh, ow]` values (f32) and
/// indices (int64, flat within each plane).
pub fn max_pool2d(x: &GpuView, g: &PoolGeom) -> Result<(GpuBuffer, GpuBuffer)> {
    let op = "max_pool2d";
    float_type(op, x)?;
    let xo = dense(op, "input", x, DType::F32, g.planes * g.h * g.w)?;
    let n = g.planes * g.oh * g.ow;
    let (vals, idx) = (alloc(n as u64 * 4)?, alloc(n as u64 * 8)?);
    if n == 0 {
        return Ok((vals, idx));
    }
    let e = engine()?;
    let k = e.kernel("pool_max.wgsl", &[("WG", WG_STR)])?;
    let p = window_params(op, n, &geometry(op, g, None, xo, 0)?)?;
    let bind = [
        in_binding(x),
        out_binding(&vals, n, 4),
        out_binding(&idx, n, 8),
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok((vals, idx))
}

/// The input gradient (fresh `[planes, h, w]`) of a max pooling from `gy` and the forward's
/// int64 `idx` (both `[planes, oh, ow]`).
pub fn max_pool2d_backward(gy: &GpuView, idx: &GpuView, g: &PoolGeom) -> Result<GpuBuffer> {
    let op = "max_pool2d_backward";
    float_type(op, gy)?;
    let outs = g.planes * g.oh * g.ow;
    let go = dense(op, "grad_output", gy, DType::F32, outs)?;
    let io = dense(op, "indices", idx, DType::I64, outs)?;
    let n = g.planes * g.h * g.w;
    let dx = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(dx);
    }
    let e = engine()?;
    let k = e.kernel("pool_max_backward.wgsl", &[("WG", WG_STR)])?;
    let p = window_params(op, n, &geometry(op, g, None, go, io)?)?;
    let bind = [in_binding(gy), in_binding(idx), out_binding(&dx, n, 4)];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(dx)
}

/// Average pooling of `x` (dense planes of h x w): a fresh `[planes, oh, ow]` buffer.
pub fn avg_pool2d(x: &GpuView, g: &PoolGeom, c: &AvgCfg) -> Result<GpuBuffer> {
    let op = "avg_pool2d";
    float_type(op, x)?;
    let xo = dense(op, "input", x, DType::F32, g.planes * g.h * g.w)?;
    let n = g.planes * g.oh * g.ow;
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel("pool_avg.wgsl", &[("WG", WG_STR)])?;
    let p = window_params(op, n, &geometry(op, g, Some(c), xo, 0)?)?;
    let bind = [in_binding(x), out_binding(&out, n, 4)];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// The input gradient (fresh `[planes, h, w]`) of an average pooling from `gy`.
pub fn avg_pool2d_backward(gy: &GpuView, g: &PoolGeom, c: &AvgCfg) -> Result<GpuBuffer> {
    let op = "avg_pool2d_backward";
    float_type(op, gy)?;
    let go = dense(op, "grad_output", gy, DType::F32, g.planes * g.oh * g.ow)?;
    let n = g.planes * g.h * g.w;
    let dx = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(dx);
    }
    let e = engine()?;
    let k = e.kernel("pool_avg_backward.wgsl", &[("WG", WG_STR)])?;
    let p = window_params(op, n, &geometry(op, g, Some(c), go, 0)?)?;
    let bind = [in_binding(gy), out_binding(&dx, n, 4)];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(dx)
}
