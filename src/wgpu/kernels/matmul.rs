//! Batched, strided matmul (`matmul.wgsl`): 64x64 output blocks per workgroup through 16-deep
//! shared-memory tiles, 4x4 outputs per invocation.

use super::{float_type, whole, WG_STR};
use crate::error::{Error, Result};
use crate::shape::{fmt_shape, Shape};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{broadcast_strides, check_view, params, GpuView};

const TILE: usize = 64;

/// `a @ b` for `a: [batch_a..., M, K]`, `b: [batch_b..., K, N]` (both at least 2-D; batch dims
/// broadcast). Returns a fresh contiguous `[batch..., M, N]` buffer. Transposed or expanded
/// operands are read through their strides, never copied.
pub fn matmul(a: &GpuView, b: &GpuView) -> Result<GpuBuffer> {
    let op = "matmul";
    check_view(op, a)?;
    check_view(op, b)?;
    let ty = float_type(op, a)?;
    if a.dtype != b.dtype || a.shape.len() < 2 || b.shape.len() < 2 {
        return Err(Error::runtime(format!(
            "wgpu: matmul needs two >=2-D operands of one dtype (got {} {:?} and {} {:?})",
            fmt_shape(&a.shape),
            a.dtype,
            fmt_shape(&b.shape),
            b.dtype
        )));
    }
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
    let (k2, n) = (b.shape[rb - 2], b.shape[rb - 1]);
    if k != k2 {
        return Err(Error::runtime(format!(
            "mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"
        )));
    }
    let batch = crate::shape::broadcast_shapes(&a.shape[..ra - 2], &b.shape[..rb - 2])?;
    let batch_view = |v: &GpuView| GpuView {
        shape: v.shape[..v.shape.len() - 2].into(),
        strides: v.strides[..v.strides.len() - 2].into(),
        ..v.clone()
    };
    let sa = broadcast_strides(op, &batch_view(a), &batch)?;
    let sb = broadcast_strides(op, &batch_view(b), &batch)?;
    let batches: usize = batch.iter().product();
    let out = alloc((batches * m * n) as u64 * 4)?;
    if batches * m * n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let kern = e.kernel("matmul.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let st = |v: &GpuView, back: usize| v.strides[v.strides.len() - back] as i32 as u32;
    let scalars = [
        m as u32,
        n as u32,
        k as u32,
        st(a, 2),
        st(a, 1),
        st(b, 2),
        st(b, 1),
    ];
    let shape: Shape = batch;
    let p = params(op, &shape, &[(sa, a.offset), (sb, b.offset)], &scalars)?;
    let bytes = (batches * m * n) as u64 * 4;
    let bind = [
        whole(a),
        whole(b),
        Binding {
            buffer: &out,
            bytes,
        },
    ];
    let wgs = (batches * m.div_ceil(TILE) * n.div_ceil(TILE)) as u64;
    e.dispatch(op, &kern, &p, &bind, wgs)?;
    Ok(out)
}
