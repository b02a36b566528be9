//! Cumulative sums and products along rows (`scan.wgsl`) and the cumprod gradient
//! (`cumprod_grad.wgsl`), float32.

use super::{float_type, whole, workgroups, WG, WG_STR};
use crate::error::{Error, Result};
use crate::wgpu::engine::engine;
use crate::wgpu::template::op_body;
use crate::wgpu::view::{check_view, params, GpuView};

fn row_len(op: &str, v: &GpuView) -> Result<(usize, usize)> {
    let n = v.shape.last().copied().unwrap_or(1);
    let rows = v.numel().checked_div(n).unwrap_or(0);
    if n > u32::MAX as usize {
        return Err(Error::runtime(format!(
            "wgpu: {op}: rows of {n} elements exceed the kernels' 32-bit indexing"
        )));
    }
    Ok((n, rows))
}

/// Inclusive scan of the last dim of `src` into `dst` (a view of the same shape, any strides,
/// another buffer), summing or multiplying, from the end of each row when `reverse`.
pub fn scan(src: &GpuView, dst: &GpuView, prod: bool, reverse: bool) -> Result<()> {
    let name = if prod { "cumprod" } else { "cumsum" };
    check_view(name, src)?;
    check_view(name, dst)?;
    let ty = float_type(name, src)?;
    float_type(name, dst)?;
    if src.shape != dst.shape || src.buffer.same_buffer(&dst.buffer) {
        return Err(Error::runtime(format!(
            "wgpu: {name}: dst must have src's shape and a buffer of its own"
        )));
    }
    let (n, rows) = row_len(name, src)?;
    if rows == 0 || n == 0 {
        return Ok(());
    }
    let op = if prod { "prod" } else { "sum" };
    let e = engine()?;
    let k = e.kernel(
        "scan.wgsl",
        &[
            ("DTYPE", ty),
            ("WG", WG_STR),
            ("OP", op_body("scan", op)?),
            ("INIT", op_body("scan_init", op)?),
        ],
    )?;
    let p = params(
        name,
        &src.shape,
        &[
            (src.strides.clone(), src.offset),
            (dst.strides.clone(), dst.offset),
        ],
        &[n as u32, rows as u32, u32::from(reverse)],
    )?;
    e.dispatch(name, &k, &p, &[whole(src), whole(dst)], rows as u64)
}

/// The gradient of `y = cumprod(x)` along the last dim for the output gradient `g`, into `dst`
/// (all three views of one shape, float32; dst in a buffer of its own).
pub fn cumprod_grad(x: &GpuView, g: &GpuView, dst: &GpuView) -> Result<()> {
    let name = "cumprod_backward";
    for v in [x, g, dst] {
        check_view(name, v)?;
        float_type(name, v)?;
    }
    if x.shape != g.shape || x.shape != dst.shape {
        return Err(Error::runtime(format!(
            "wgpu: {name}: x, g and dst need one shape"
        )));
    }
    if dst.buffer.same_buffer(&x.buffer) || dst.buffer.same_buffer(&g.buffer) {
        return Err(Error::runtime(format!(
            "wgpu: {name}: dst needs a buffer of its own"
        )));
    }
    let (n, rows) = row_len(name, x)?;
    let total = rows * n;
    if total == 0 {
        return Ok(());
    }
    let e = engine()?;
    let k = e.kernel("cumprod_grad.wgsl", &[("WG", WG_STR)])?;
    let p = params(
        name,
        &x.shape,
        &[
            (x.strides.clone(), x.offset),
            (g.strides.clone(), g.offset),
            (dst.strides.clone(), dst.offset),
        ],
        &[n as u32],
    )?;
    e.dispatch(
        name,
        &k,
        &p,
        &[whole(x), whole(g), whole(dst)],
        workgroups(total, WG),
    )
}
