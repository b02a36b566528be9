//! Pooling on the wgpu device: float32 tensors become views for `wgpu::kernels::*_pool2d*`; the
//! results (values, int64 indices, input gradients) come back as fresh contiguous device tensors.

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{AvgCfg, PoolGeom};
use crate::tensor::Tensor;
use crate::wgpu::kernels as k;

/// `[n, c, oh, ow]` for an input of `shape` `[n, c, h, w]`.
fn out_shape(shape: &[usize], g: &PoolGeom) -> [usize; 4] {
    [shape[0], shape[1], g.oh, g.ow]
}

pub fn max_pool2d(x: &Tensor, g: &PoolGeom) -> Result<(Tensor, Tensor)> {
    let name = if g.adaptive {
        "adaptive_max_pool2d"
    } else {
        "max_pool2d"
    };
    require_f32(name, x.dtype())?;
    let (vals, idx) = k::max_pool2d(&view_of(x)?, g)?;
    let shape = out_shape(&x.shape(), g);
    Ok((
        wrap(vals, DType::F32, &shape),
        wrap(idx, DType::I64, &shape),
    ))
}

pub fn max_pool2d_backward(
    gy: &Tensor,
    idx: &Tensor,
    g: &PoolGeom,
    ishape: &[usize],
) -> Result<Tensor> {
    require_f32("max_pool2d_backward", gy.dtype())?;
    let dx = k::max_pool2d_backward(&view_of(gy)?, &view_of(idx)?, g)?;
    Ok(wrap(dx, DType::F32, ishape))
}

pub fn avg_pool2d(x: &Tensor, g: &PoolGeom, c: &AvgCfg) -> Result<Tensor> {
    let name = if g.adaptive {
        "adaptive_avg_pool2d"
    } else {
        "avg_pool2d"
    };
    require_f32(name, x.dtype())?;
    let out = k::avg_pool2d(&view_of(x)?, g, c)?;
    Ok(wrap(out, DType::F32, &out_shape(&x.shape(), g)))
}

pub fn avg_pool2d_backward(
    gy: &Tensor,
    g: &PoolGeom,
    c: &AvgCfg,
    ishape: &[usize],
) -> Result<Tensor> {
    require_f32("avg_pool2d_backward", gy.dtype())?;
    let dx = k::avg_pool2d_backward(&view_of(gy)?, g, c)?;
    Ok(wrap(dx, DType::F32, ishape))
}
