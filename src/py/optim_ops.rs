//! Bindings for the optim family: fused in-place update primitives `_C._sgd_update`, ...; the
//! PyTorch-style optimizer classes live in `python/rustgrad/optim/`.

use super::tensor::{as_tensor, maybe_nogil};
use crate::ops::optim::{fused_update, fused_update_group, Update};
use crate::tensor::Tensor;
use pyo3::prelude::*;

fn opt(ob: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Tensor>> {
    match ob {
        Some(o) if !o.is_none() => Ok(Some(as_tensor(o)?)),
        _ => Ok(None),
    }
}

/// Run one fused update without the GIL for large parameters.
fn apply(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    bufs: Vec<Option<Tensor>>,
    upd: Update,
) -> PyResult<()> {
    let p = as_tensor(param)?;
    let g = as_tensor(grad)?;
    maybe_nogil(py, p.numel(), || fused_update(&p, &g, &bufs, upd))?;
    Ok(())
}

/// SGD step on one parameter (momentum buffer updated in place when given).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _sgd_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    momentum_buffer: Option<&Bound<'_, PyAny>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_sgd_update", || {
        let bufs = vec![opt(momentum_buffer)?];
        let upd = Update::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
            first_step,
        };
        apply(py, param, grad, bufs, upd)
    })
}

/// Adam/AdamW step on one parameter; `step` is the already incremented step count.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adam_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    exp_avg: &Bound<'_, PyAny>,
    exp_avg_sq: &Bound<'_, PyAny>,
    max_exp_avg_sq: Option<&Bound<'_, PyAny>>,
    step: f64,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_wd: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_adam_update", || {
        let bufs = vec![
            Some(as_tensor(exp_avg)?),
            Some(as_tensor(exp_avg_sq)?),
            opt(max_exp_avg_sq)?,
        ];
        let upd = Update::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled_wd,
            bias_correction1: 1.0 - beta1.powf(step),
            bias_correction2: 1.0 - beta2.powf(step),
        };
        apply(py, param, grad, bufs, upd)
    })
}

/// Adagrad step; `step` is the already incremented step count.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adagrad_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    sum: &Bound<'_, PyAny>,
    step: f64,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_adagrad_update", || {
        let bufs = vec![Some(as_tensor(sum)?)];
        let upd = Update::Adagrad {
            clr: lr / (1.0 + (step - 1.0) * lr_decay),
            weight_decay,
            eps,
            maximize,
        };
        apply(py, param, grad, bufs, upd)
    })
}

/// Adadelta step.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adadelta_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    square_avg: &Bound<'_, PyAny>,
    acc_delta: &Bound<'_, PyAny>,
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_adadelta_update", || {
        let bufs = vec![Some(as_tensor(square_avg)?), Some(as_tensor(acc_delta)?)];
        let upd = Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        };
        apply(py, param, grad, bufs, upd)
    })
}

/// RMSprop step (momentum buffer / grad_avg updated in place when given).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _rmsprop_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    square_avg: &Bound<'_, PyAny>,
    momentum_buffer: Option<&Bound<'_, PyAny>>,
    grad_avg: Option<&Bound<'_, PyAny>>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_rmsprop_update", || {
        let bufs = vec![
            Some(as_tensor(square_avg)?),
            opt(momentum_buffer)?,
            opt(grad_avg)?,
        ];
        let upd = Update::Rmsprop {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        };
        apply(py, param, grad, bufs, upd)
    })
}

/// The tensors of a Python sequence (`None` entries kept as `None`); `None` for the whole
/// argument means "none for any parameter".
fn opt_list(ob: Option<&Bound<'_, PyAny>>, n: usize) -> PyResult<Vec<Option<Tensor>>> {
    match ob {
        Some(o) if !o.is_none() => {
            let items: Vec<Bound<'_, PyAny>> = o.try_iter()?.collect::<PyResult<_>>()?;
            if items.len() != n {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "expected {n} state tensors, got {}",
                    items.len()
                )));
            }
            items.iter().map(|t| opt(Some(t))).collect()
        }
        _ => Ok(vec![None; n]),
    }
}

fn tensors(ob: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    ob.try_iter()?.map(|t| as_tensor(&t?)).collect()
}

/// Run a group update without the GIL when the group is large.
fn apply_group(py: Python<'_>, items: Vec<crate::kernels::OptimItem>) -> PyResult<()> {
    let numel = items.iter().map(|(p, ..)| p.numel()).sum();
    maybe_nogil(py, numel, || fused_update_group(&items))?;
    Ok(())
}

/// SGD step on every parameter of a group (`firsts[i]`: parameter i's momentum buffer was just
/// created); on the wgpu device one dispatch covers many parameters.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _sgd_update_group(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    momentum_buffers: Option<&Bound<'_, PyAny>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    firsts: Vec<bool>,
) -> PyResult<()> {
    crate::py::errors::guard("_sgd_update_group", || {
        let (ps, gs) = (tensors(params)?, tensors(grads)?);
        let n = ps.len();
        let bufs = opt_list(momentum_buffers, n)?;
        if gs.len() != n || firsts.len() != n {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "_sgd_update_group: params, grads and firsts differ in length",
            ));
        }
        let items = ps
            .into_iter()
            .zip(gs)
            .zip(bufs)
            .zip(firsts)
            .map(|(((p, g), b), first_step)| {
                let upd = Update::Sgd {
                    lr,
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                    maximize,
                    first_step,
                };
                (p, g, vec![b], upd)
            })
            .collect();
        apply_group(py, items)
    })
}

/// Adam/AdamW step on every parameter of a group; `steps[i]` is parameter i's already
/// incremented step count.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adam_update_group(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    exp_avgs: &Bound<'_, PyAny>,
    exp_avg_sqs: &Bound<'_, PyAny>,
    max_exp_avg_sqs: Option<&Bound<'_, PyAny>>,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_wd: bool,
) -> PyResult<()> {
    crate::py::errors::guard("_adam_update_group", || {
        let (ps, gs) = (tensors(params)?, tensors(grads)?);
        let (ms, vs) = (tensors(exp_avgs)?, tensors(exp_avg_sqs)?);
        let n = ps.len();
        let maxes = opt_list(max_exp_avg_sqs, n)?;
        if [gs.len(), ms.len(), vs.len(), steps.len()]
            .iter()
            .any(|&l| l != n)
        {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "_adam_update_group: params, grads, state and steps differ in length",
            ));
        }
        let mut items = Vec::with_capacity(n);
        for (i, (((p, g), m), v)) in ps.into_iter().zip(gs).zip(ms).zip(vs).enumerate() {
            let upd = Update::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
                maximize,
                decoupled_wd,
                bias_correction1: 1.0 - beta1.powf(steps[i]),
                bias_correction2: 1.0 - beta2.powf(steps[i]),
            };
            items.push((p, g, vec![Some(m), Some(v), maxes[i].clone()], upd));
        }
        apply_group(py, items)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sgd_update_group, m)?)?;
    m.add_function(wrap_pyfunction!(_adam_update_group, m)?)?;
    m.add_function(wrap_pyfunction!(_sgd_update, m)?)?;
    m.add_function(wrap_pyfunction!(_adam_update, m)?)?;
    m.add_function(wrap_pyfunction!(_adagrad_update, m)?)?;
    m.add_function(wrap_pyfunction!(_adadelta_update, m)?)?;
    m.add_function(wrap_pyfunction!(_rmsprop_update, m)?)?;
    Ok(())
}
