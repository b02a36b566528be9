//! The wgpu side of the fused optimizer updates: the hyper-parameters become the kernel's scalar
//! words (f32 bits, computed on the host exactly as the CPU kernel's constants are), and one
//! dispatch updates the parameter and its state in place.

use super::{require_f32, view_of};
use crate::error::{Error, Result};
use crate::ops::optim::Update;
use crate::tensor::Tensor;
use crate::wgpu::kernels::{self as k, OptimKernel};

fn f(x: f64) -> u32 {
    (x as f32).to_bits()
}

fn bits(flags: &[bool]) -> u32 {
    flags
        .iter()
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | (u32::from(b) << i))
}

/// The kernel and scalar words of `upd` for a parameter with state buffers `bufs`; `None` when a
/// required state buffer is missing (the CPU rules do nothing then).
fn kernel_words(bufs: &[Option<Tensor>], upd: Update) -> Option<(OptimKernel, [u32; 8])> {
    let has = |i: usize| bufs.get(i).is_some_and(|b| b.is_some());
    let (kernel, scalars) = match upd {
        Update::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            first_step,
        } => (
            OptimKernel::Sgd,
            [
                f(lr),
                f(momentum),
                f(1.0 - dampening),
                f(weight_decay),
                0,
                0,
                0,
                bits(&[nesterov, maximize, first_step, has(0)]),
            ],
        ),
        Update::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled_wd,
            bias_correction1,
            bias_correction2,
        } => {
            let wd_term = if decoupled_wd {
                1.0 - lr * weight_decay
            } else {
                weight_decay
            };
            (
                OptimKernel::Adam,
                [
                    f(wd_term),
                    f(1.0 - beta1),
                    f(beta2),
                    f(1.0 - beta2),
                    f(lr / bias_correction1),
                    f(bias_correction2.sqrt()),
                    f(eps),
                    bits(&[amsgrad && has(2), maximize, decoupled_wd]),
                ],
            )
        }
        Update::Adagrad {
            clr,
            weight_decay,
            eps,
            maximize,
        } => (
            OptimKernel::Adagrad,
            [
                f(clr),
                f(weight_decay),
                f(eps),
                0,
                0,
                0,
                0,
                bits(&[false, maximize]),
            ],
        ),
        Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => (
            OptimKernel::Adadelta,
            [
                f(lr),
                f(rho),
                f(1.0 - rho),
                f(eps),
                f(weight_decay),
                0,
                0,
                bits(&[false, maximize]),
            ],
        ),
        Update::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => (
            OptimKernel::Rmsprop,
            [
                f(lr),
                f(alpha),
                f(1.0 - alpha),
                f(eps),
                f(weight_decay),
                f(momentum),
                0,
                bits(&[centered && has(2), maximize, false, has(1)]),
            ],
        ),
    };
    // The kernels need their required state: the CPU rules return early without it.
    let required = match kernel {
        OptimKernel::Sgd => 0,
        OptimKernel::Adagrad | OptimKernel::Rmsprop => 1,
        OptimKernel::Adadelta | OptimKernel::Adam => 2,
    };
    if (0..required).any(|i| !has(i)) {
        return None;
    }
    Some((kernel, scalars))
}

fn state_views(bufs: &[Option<Tensor>]) -> Result<Vec<Option<crate::wgpu::GpuView>>> {
    bufs.iter()
        .map(|b| b.as_ref().map(view_of).transpose())
        .collect()
}

/// One update of one parameter (one dispatch).
pub fn fused_update(
    param: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
    upd: Update,
) -> Result<()> {
    require_f32(upd.name(), param.dtype())?;
    let Some((kernel, scalars)) = kernel_words(bufs, upd) else {
        return Ok(());
    };
    k::fused_step(
        kernel,
        &view_of(param)?,
        &view_of(grad)?,
        &state_views(bufs)?,
        &scalars,
    )
}

/// Whether [`fused_update_group`] runs `upd` as group dispatches.
pub fn has_group_kernel(upd: &Update) -> bool {
    matches!(upd, Update::Sgd { .. } | Update::Adam { .. })
}

/// One update of every f32 parameter of `items` (parameter, gradient, state buffers, update; all
/// updates of one algorithm), in as few dispatches as the adapter's binding limits allow.
pub fn fused_update_group(items: &[crate::kernels::OptimItem]) -> Result<()> {
    let mut kernel = None;
    let mut group = Vec::with_capacity(items.len());
    for (param, grad, bufs, upd) in items {
        require_f32(upd.name(), param.dtype())?;
        let Some((kern, scalars)) = kernel_words(bufs, *upd) else {
            continue;
        };
        if kernel.is_some_and(|k0| k0 != kern) {
            return Err(Error::runtime(
                "optimizer group update: every parameter must use the same algorithm",
            ));
        }
        kernel = Some(kern);
        group.push(k::GroupItem {
            p: view_of(param)?,
            g: view_of(grad)?,
            state: state_views(bufs)?,
            scalars,
        });
    }
    match kernel {
        Some(kern) => k::fused_group_step(kern, &group),
        None => Ok(()),
    }
}
