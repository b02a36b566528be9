//! Joining: `cat` (the primitive behind stack/hstack/vstack/...). Its backward narrows the
//! gradient back into one slice per input.

use super::{copy_into, narrow};
use crate::autograd::record;
use crate::dtype::{result_type, Operand};
use crate::error::{Error, Result};
use crate::shape::{fmt_shape, wrap_dim};
use crate::tensor::Tensor;

/// `cat(tensors, dim)` with dtype promotion. 1-D empty tensors are skipped, as PyTorch does.
pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
    if tensors.is_empty() {
        return Err(Error::runtime(
            "torch.cat(): expected a non-empty list of Tensors",
        ));
    }
    let dtype = result_type(
        &tensors
            .iter()
            .map(|t| Operand::Tensor(t.dtype()))
            .collect::<Vec<_>>(),
    );
    let parts: Vec<&Tensor> = tensors
        .iter()
        .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
        .collect();
    let Some(first) = parts.first() else {
        return Tensor::empty(&[0], dtype);
    };
    for (i, t) in parts.iter().enumerate() {
        if t.ndim() == 0 {
            return Err(Error::runtime(format!(
                "zero-dimensional tensor (at position {}) cannot be concatenated",
                i
            )));
        }
    }
    let nd = first.ndim();
    let d = wrap_dim(dim, nd)?;
    let mut shape = first.shape();
    let mut total = 0usize;
    for (i, t) in parts.iter().enumerate() {
        let s = t.shape();
        if s.len() != nd {
            return Err(Error::runtime(format!(
                "Tensors must have same number of dimensions: got {} and {}",
                nd,
                s.len()
            )));
        }
        for k in 0..nd {
            if k != d && s[k] != shape[k] {
                return Err(Error::runtime(format!(
                    "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                    d, shape[k], s[k], i
                )));
            }
        }
        total += s[d];
    }
    shape[d] = total;
    // Every part on one device (PyTorch's mixed-device error otherwise); the output lives there
    // and each part is copied into its slice by the device's strided copy.
    let device = crate::kernels::device_of(&parts)?;
    let out = match crate::kernels::zeros_on(&shape, dtype, device)? {
        Some(z) => z,
        None => Tensor::empty(&shape, dtype)?,
    };
    let mut at = 0usize;
    let mut sizes = Vec::with_capacity(parts.len());
    for t in &parts {
        let n = t.size(d);
        let region = out.with_layout(out.layout().narrow(d, at, n));
        copy_into(&region, t)?;
        sizes.push(n);
        at += n;
    }
    let refs: Vec<&Tensor> = parts.to_vec();
    let meta: Vec<(crate::shape::Shape, crate::dtype::DType)> =
        parts.iter().map(|t| (t.shape(), t.dtype())).collect();
    record("CatBackward0", &refs, &[&out], false, move |g, n| {
        let mut res = Vec::with_capacity(sizes.len());
        let mut at = 0i64;
        for (i, &s) in sizes.iter().enumerate() {
            res.push(if n[i] {
                let gi = narrow(&g[0], d as i64, at, s as i64)?;
                Some(if gi.dtype() != meta[i].1 {
                    super::to_dtype(&gi, meta[i].1)?
                } else {
                    gi
                })
            } else {
                None
            });
            at += s as i64;
        }
        Ok(res)
    });
    let _ = fmt_shape;
    Ok(out)
}
