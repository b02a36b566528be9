//! Tensors made from nothing: full, zeros, ones, arange, linspace, eye.

use super::{scalar_tensor, Scalar};
use crate::dtype::{DType, Element as _};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::tensor::Tensor;
use crate::with_dtype;

pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
    Tensor::zeros(shape, dtype)
}

/// `torch.full(shape, value, dtype)`.
pub fn full(shape: &[usize], value: Scalar, dtype: DType) -> Result<Tensor> {
    value.check_fits(dtype)?;
    let t = Tensor::empty(shape, dtype)?;
    fill_raw(&t, value)?;
    Ok(t)
}

/// Fill every element of `t` with `value` (no autograd, no version bump).
pub(crate) fn fill_raw(t: &Tensor, value: Scalar) -> Result<()> {
    if crate::kernels::fill(t, value)? {
        return Ok(());
    }
    crate::cpu::fill::fill(t, value)
}

/// Ones of `t`'s shape and dtype on `t`'s device.
pub fn ones_like(t: &Tensor) -> Result<Tensor> {
    if t.device().is_cpu() {
        return full(&t.shape(), Scalar::Int(1), t.dtype());
    }
    let z = zeros_like(t)?;
    fill_raw(&z, Scalar::Int(1))?;
    Ok(z)
}

/// Zeros of `t`'s shape and dtype on `t`'s device.
pub fn zeros_like(t: &Tensor) -> Result<Tensor> {
    match crate::kernels::zeros_on(&t.shape(), t.dtype(), t.device())? {
        Some(z) => Ok(z),
        None => Tensor::zeros(&t.shape(), t.dtype()),
    }
}

/// `torch.arange(start, end, step)`.
pub fn arange(start: Scalar, end: Scalar, step: Scalar, dtype: DType) -> Result<Tensor> {
    if dtype == DType::Bool {
        return Err(Error::not_implemented(
            "\"arange_cpu\" not implemented for 'Bool'",
        ));
    }
    let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
    if st == 0.0 {
        return Err(Error::runtime("step must be nonzero"));
    }
    if !s.is_finite() || !e.is_finite() {
        return Err(Error::runtime(format!("unsupported range: {} -> {}", s, e)));
    }
    if (st > 0.0 && e < s) || (st < 0.0 && e > s) {
        return Err(Error::runtime(
            "upper bound and larger bound inconsistent with step sign",
        ));
    }
    let len = ((e - s) / st).ceil().max(0.0);
    if len >= i64::MAX as f64 {
        return Err(Error::runtime(format!(
            "Storage size calculation overflowed with sizes=[{}]",
            len as u128
        )));
    }
    let n = len as usize;
    let int_math = !dtype.is_float() && !start.is_float() && !step.is_float();
    with_dtype!(dtype, T, {
        Tensor::from_fn(n, |i| {
            if int_math {
                T::from_i64(
                    start
                        .to_i64()
                        .wrapping_add((i as i64).wrapping_mul(step.to_i64())),
                )
            } else {
                T::from_f64(s + i as f64 * st)
            }
        })
    })
}

/// `torch.linspace(start, end, steps)`.
pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
    if dtype == DType::Bool {
        return Err(Error::not_implemented(
            "\"linspace_cpu\" not implemented for 'Bool'",
        ));
    }
    let step = if steps > 1 {
        (end - start) / (steps - 1) as f64
    } else {
        0.0
    };
    // Fill from both ends so the last value is exactly `end`, as PyTorch does
    // (a single step yields `start`).
    let half = (steps / 2).max(1);
    with_dtype!(dtype, T, {
        Tensor::from_fn(steps, |i| {
            T::from_f64(if i < half {
                start + step * i as f64
            } else {
                end - step * (steps - 1 - i) as f64
            })
        })
    })
}

/// `torch.eye(n, m)`.
pub fn eye(n: usize, m: usize, dtype: DType) -> Result<Tensor> {
    let t = Tensor::zeros(&[n, m], dtype)?;
    let k = n.min(m);
    let diag = t.with_layout(Layout {
        shape: [k].into_iter().collect(),
        strides: [(m + 1) as isize].into_iter().collect(),
        offset: 0,
    });
    fill_raw(&diag, Scalar::Int(1))?;
    Ok(t)
}

/// A 0-d tensor of the default dtype for a Python number (`torch.tensor(3.5)`).
pub fn scalar_like_python(s: Scalar) -> Result<Tensor> {
    let dt = match s {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::Float(_) => crate::dtype::default_float(),
    };
    scalar_tensor(s, dt)
}
