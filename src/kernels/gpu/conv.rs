//! Convolutions on the wgpu device: float32 tensors become views for `wgpu::kernels::conv2d_*`
//! and the results come back as fresh contiguous device tensors.

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::ConvGeom;
use crate::tensor::Tensor;
use crate::wgpu::kernels as k;

pub fn forward(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
    require_f32("conv2d", x.dtype())?;
    let b = bias.map(view_of).transpose()?;
    let out = k::conv2d_forward(&view_of(x)?, &view_of(w)?, b.as_ref(), g)?;
    Ok(wrap(out, DType::F32, &[g.n, g.o, g.oh, g.ow]))
}

pub fn backward_input(dy: &Tensor, w: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    require_f32("convolution_backward", dy.dtype())?;
    let out = k::conv2d_backward_input(&view_of(dy)?, &view_of(w)?, g)?;
    Ok(wrap(out, DType::F32, &[g.n, g.c, g.h, g.w]))
}

pub fn backward_weight(dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    require_f32("convolution_backward", dy.dtype())?;
    let out = k::conv2d_backward_weight(&view_of(dy)?, &view_of(x)?, g)?;
    Ok(wrap(out, DType::F32, &[g.o, g.cg(), g.kh, g.kw]))
}
