//! Fused optimizer updates: one pass over a parameter that updates the parameter and its state
//! buffers in place (PyTorch's single-tensor update rules, element by element). This file checks
//! the operands; the kernels (`cpu::optim`, and one WGSL kernel per algorithm on the wgpu
//! device) sit behind `crate::kernels::fused_update`. No autograd is recorded: these are raw
//! in-place writes, after which the version counters are bumped.

use crate::error::{Error, Result};
use crate::ops::convert::{contiguous, to_dtype};
use crate::tensor::Tensor;

/// Hyper-parameters of one update (scalars already folded by the Python side where PyTorch does
/// so in Python floats, e.g. Adam's bias corrections).
#[derive(Clone, Copy, Debug)]
pub enum Update {
    /// SGD with optional momentum / Nesterov. `first_step`: the momentum buffer is initialised
    /// with the gradient (PyTorch clones the grad on the first step).
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
        maximize: bool,
        first_step: bool,
    },
    /// Adam / AdamW. `bias_correction1/2` = 1 - beta^step.
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        maximize: bool,
        decoupled_wd: bool,
        bias_correction1: f64,
        bias_correction2: f64,
    },
    /// Adagrad; `clr` = lr / (1 + (step - 1) * lr_decay).
    Adagrad {
        clr: f64,
        weight_decay: f64,
        eps: f64,
        maximize: bool,
    },
    Adadelta {
        lr: f64,
        rho: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    },
    Rmsprop {
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
        maximize: bool,
    },
}

impl Update {
    /// The algorithm's name, as used in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Update::Sgd { .. } => "sgd",
            Update::Adam { .. } => "adam",
            Update::Adagrad { .. } => "adagrad",
            Update::Adadelta { .. } => "adadelta",
            Update::Rmsprop { .. } => "rmsprop",
        }
    }
}

/// Apply `upd` to `param` in place using `grad` and the state buffers `bufs` (which buffers are
/// present depends on the algorithm; see the Python optimizers). `param` and every buffer must be
/// contiguous and of the parameter's floating dtype; the gradient is cast / made contiguous when
/// needed.
pub fn fused_update(
    param: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
    upd: Update,
) -> Result<()> {
    let grad = checked_grad(param, grad, bufs, upd)?;
    if param.numel() > 0 {
        crate::kernels::fused_update(param, &grad, bufs, upd)?;
    }
    bump_versions(param, bufs);
    Ok(())
}

/// [`fused_update`] on every parameter of a group (each with its own gradient, state buffers and
/// update, e.g. its own step count), checked first and then updated together: on the wgpu
/// device one dispatch covers many parameters (`kernels::fused_update_group`).
pub fn fused_update_group(items: &[crate::kernels::OptimItem]) -> Result<()> {
    let mut ready = Vec::with_capacity(items.len());
    for (p, g, bufs, upd) in items {
        let g = checked_grad(p, g, bufs, *upd)?;
        if p.numel() > 0 {
            ready.push((p.clone(), g, bufs.clone(), *upd));
        }
    }
    crate::kernels::fused_update_group(&ready)?;
    for (p, _, bufs, _) in items {
        bump_versions(p, bufs);
    }
    Ok(())
}

fn bump_versions(param: &Tensor, bufs: &[Option<Tensor>]) {
    param.bump_version();
    for b in bufs.iter().flatten() {
        b.bump_version();
    }
}

/// Check one update's operands; the gradient in the parameter's dtype, contiguous.
fn checked_grad(
    param: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
    upd: Update,
) -> Result<Tensor> {
    crate::kernels::device_of(&[param, grad])?;
    let dtype = param.dtype();
    if !dtype.is_float() {
        return Err(Error::runtime(format!(
            "{}: expected a floating point parameter, got {:?}",
            upd.name(),
            dtype
        )));
    }
    if !param.is_contiguous() {
        return Err(Error::runtime(format!(
            "{}: the parameter must be contiguous",
            upd.name()
        )));
    }
    let n = param.numel();
    if grad.numel() != n || grad.shape() != param.shape() {
        return Err(Error::runtime(format!(
            "{}: gradient shape {:?} does not match parameter shape {:?}",
            upd.name(),
            grad.shape().as_slice(),
            param.shape().as_slice()
        )));
    }
    let grad = contiguous(&to_dtype(grad, dtype)?)?;
    for b in bufs.iter().flatten() {
        if b.dtype() != dtype || b.numel() != n || !b.is_contiguous() {
            return Err(Error::runtime(format!(
                "{}: state buffers must be contiguous {:?} tensors with {} elements",
                upd.name(),
                dtype,
                n
            )));
        }
        if b.shares_storage(param) || b.shares_storage(&grad) {
            return Err(Error::runtime(format!(
                "{}: state buffers must not share memory with the parameter or gradient",
                upd.name()
            )));
        }
    }
    Ok(grad)
}
