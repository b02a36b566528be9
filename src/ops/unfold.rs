//! `Tensor.unfold(dim, size, step)`: every `size`-long window of `dim`, `step` apart, as a new
//! last dim of a view (no copy, like PyTorch). Windows overlap when `step < size`, so the
//! backward sums the window gradients back rather than scattering one view.

use super::{add, embed_view, reshape, select, squeeze, ViewFn};
use crate::autograd::record;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::wrap_dim;
use crate::tensor::Tensor;
use std::sync::Arc;

/// `x.unfold(dim, size, step)` with PyTorch's checks and messages.
pub fn unfold(x: &Tensor, dim: i64, size: i64, step: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        // A 0-d tensor unfolds as one element of a 1-d one; the result is 1-d (`[size]`).
        wrap_dim(dim, 0)?;
        let w = unfold(&reshape(x, &[1])?, 0, size, step)?;
        return squeeze(&w, Some(&[0i64][..]));
    }
    let d = wrap_dim(dim, x.ndim())?;
    let n = x.size(d) as i64;
    if size > n {
        return Err(Error::runtime(format!(
            "maximum size for tensor at dimension {d} is {n} but size is {size}"
        )));
    }
    if step <= 0 {
        return Err(Error::runtime(format!("step is {step} but must be > 0")));
    }
    if size < 0 {
        return Err(Error::runtime(format!("size is {size} but must be >= 0")));
    }
    let (size, step) = (size as usize, step as usize);
    let windows = (n as usize - size) / step + 1;
    let l = x.layout();
    let mut shape = l.shape.clone();
    let mut strides = l.strides.clone();
    let sd = strides[d];
    shape[d] = windows;
    strides[d] = sd * step as isize;
    shape.push(size);
    strides.push(sd);
    let out = x.with_layout(Layout {
        shape,
        strides,
        offset: l.offset,
    });
    let in_shape = x.shape();
    let dtype = x.dtype();
    record("UnfoldBackward0", &[x], &[&out], false, move |g, _| {
        // Element k of every window is the strided run k, k + step, ... of `dim`: embed each of
        // those gradient slices and add them up.
        let last = g[0].ndim() as i64 - 1;
        let mut acc: Option<Tensor> = None;
        for k in 0..size {
            let f: ViewFn = Arc::new(move |l: &Layout| {
                let mut v = l.clone();
                v.offset = (v.offset as isize + k as isize * v.strides[d]) as usize;
                v.shape[d] = windows;
                v.strides[d] *= step as isize;
                Ok(v)
            });
            let e = embed_view(&select(&g[0], last, k as i64)?, &in_shape, dtype, f)?;
            acc = Some(match acc {
                Some(a) => add(&a, &e)?,
                None => e,
            });
        }
        let acc = match acc {
            Some(a) => a,
            // Empty windows: a zero gradient on the gradient's device.
            None => match crate::kernels::zeros_on(&in_shape, dtype, g[0].device())? {
                Some(z) => z,
                None => Tensor::zeros(&in_shape, dtype)?,
            },
        };
        Ok(vec![Some(acc)])
    });
    Ok(out)
}
