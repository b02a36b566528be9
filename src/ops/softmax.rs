//! Fused, numerically stable softmax and log_softmax along one dim, each with its own backward.
//! The row kernels (CPU and wgpu) sit behind `crate::kernels::softmax`.

use super::{exp, mul, sub, sum};
use crate::autograd::{is_grad_enabled, record, SavedTensor};
use crate::error::{Error, Result};
use crate::shape::wrap_dim;
use crate::tensor::Tensor;

fn softmax_kernel(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    let name = if log { "log_softmax" } else { "softmax" };
    let dtype = x.dtype();
    if !dtype.is_float() {
        let kernel = if d + 1 == x.ndim() { "_lastdim" } else { "" };
        return Err(Error::not_implemented(format!(
            "\"{}{}_kernel_impl\" not implemented for '{}'",
            name,
            kernel,
            crate::ops::reduce::torch_dtype_name(dtype)
        )));
    }
    if x.ndim() == 0 {
        // As a one-element row, so inf and NaN give NaN (inf - inf) as in PyTorch.
        let row = super::reshape(x, &[1])?;
        return super::reshape(&softmax_kernel(&row, 0, log)?, &[]);
    }
    crate::kernels::softmax(x, d, log)
}

/// `torch.softmax(x, dim)`: exp(x - max) / sum, fused. Backward: y * (g - sum(g * y, dim)).
pub fn softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    let y = softmax_kernel(x, d, false)?;
    if !crate::autograd::needs_grad(&[x]) {
        return Ok(y);
    }
    let (sx, sy) = (SavedTensor::new(x), SavedTensor::output(&y));
    let nd = x.ndim();
    record("SoftmaxBackward0", &[x], &[&y], true, move |g, _| {
        if nd == 0 {
            return Ok(vec![Some(mul(&g[0], &super::zeros_like(&g[0])?)?)]);
        }
        // A higher-order graph recomputes y from x so gradients flow through it.
        let ys = if is_grad_enabled() {
            softmax(&sx.get()?, dim)?
        } else {
            sy.get()?
        };
        // First-order gradients on a device take the fused row kernel.
        if !is_grad_enabled() {
            if let Some(gx) = crate::kernels::softmax_backward(&g[0], &ys, d, false)? {
                return Ok(vec![Some(gx)]);
            }
        }
        let gy = mul(&g[0], &ys)?;
        let s = sum(&gy, Some(&[d as i64]), true)?;
        Ok(vec![Some(mul(&ys, &sub(&g[0], &s)?)?)])
    });
    Ok(y)
}

/// `torch.log_softmax(x, dim)`: x - max - log(sum(exp(x - max))), fused.
/// Backward: g - exp(y) * sum(g, dim).
pub fn log_softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = wrap_dim(dim, x.ndim())?;
    let y = softmax_kernel(x, d, true)?;
    if !crate::autograd::needs_grad(&[x]) {
        return Ok(y);
    }
    let (sx, sy) = (SavedTensor::new(x), SavedTensor::output(&y));
    let nd = x.ndim();
    record("LogSoftmaxBackward0", &[x], &[&y], true, move |g, _| {
        if nd == 0 {
            return Ok(vec![Some(mul(&g[0], &super::zeros_like(&g[0])?)?)]);
        }
        let ys = if is_grad_enabled() {
            log_softmax(&sx.get()?, dim)?
        } else {
            sy.get()?
        };
        if !is_grad_enabled() {
            if let Some(gx) = crate::kernels::softmax_backward(&g[0], &ys, d, true)? {
                return Ok(vec![Some(gx)]);
            }
        }
        let s = sum(&g[0], Some(&[d as i64]), true)?;
        Ok(vec![Some(sub(&g[0], &mul(&exp(&ys)?, &s)?)?)])
    });
    Ok(y)
}
