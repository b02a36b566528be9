//! Fused GEMM epilogues on the wgpu device: `act(a @ b + bias)` for matmul/addmm/linear and
//! `act(conv2d(x, w) + bias)`, float32 only.

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{ConvGeom, UnaryOp};
use crate::tensor::Tensor;
use crate::wgpu::kernels as k;
use crate::wgpu::kernels::Act;

/// The epilogue activation for `op`, if the GEMM epilogue has it.
pub fn act_of(op: Option<UnaryOp>) -> Option<Act> {
    Some(match op {
        None => Act::None,
        Some(UnaryOp::Relu) => Act::Relu,
        Some(UnaryOp::Sigmoid) => Act::Sigmoid,
        Some(UnaryOp::Tanh) => Act::Tanh,
        Some(UnaryOp::Gelu) => Act::Gelu,
        Some(UnaryOp::GeluTanh) => Act::GeluTanh,
        Some(UnaryOp::Silu) => Act::Silu,
        Some(_) => return None,
    })
}

/// `act(a @ b + bias)` for 2-D `a: [m, k]`, `b: [k, n]`, `bias` broadcastable to `[m, n]` (the
/// caller has checked shapes). The second result is the pre-activation when the backward rule of
/// `act` needs it.
pub fn addmm_act(
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: Act,
) -> Result<(Tensor, Option<Tensor>)> {
    require_f32("addmm", a.dtype())?;
    require_f32("addmm", b.dtype())?;
    let (m, n) = (a.shape()[0], b.shape()[1]);
    let bv = match bias {
        Some(t) => {
            require_f32("addmm", t.dtype())?;
            Some(view_of(&crate::ops::expand(t, &[m, n])?)?)
        }
        None => None,
    };
    let (out, pre) = k::matmul_fused(
        &view_of(a)?,
        &view_of(b)?,
        bv.as_ref(),
        act,
        act.needs_pre(),
    )?;
    Ok((
        wrap(out, DType::F32, &[m, n]),
        pre.map(|p| wrap(p, DType::F32, &[m, n])),
    ))
}

/// `act(conv2d(x, w) + bias)` of contiguous operands.
pub fn conv_act(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    act: Act,
    g: &ConvGeom,
) -> Result<Tensor> {
    require_f32("conv2d", x.dtype())?;
    let b = bias.map(view_of).transpose()?;
    let out = k::conv2d_forward_act(&view_of(x)?, &view_of(w)?, b.as_ref(), act, g)?;
    Ok(wrap(out, DType::F32, &[g.n, g.o, g.oh, g.ow]))
}
