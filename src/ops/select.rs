//! `where(cond, a, b)`: elementwise choice with broadcasting over all three.

use super::{materialize, reduce_grad, result_type2, zeros};
use crate::autograd::{record, SavedTensor};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::Bool && cond.dtype() != DType::U8 {
        return Err(Error::runtime(format!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            cond.dtype().name()
        )));
    }
    let dtype = result_type2(a, b);
    let shape = broadcast_shapes(&broadcast_shapes(&cond.shape(), &a.shape())?, &b.shape())?;
    let on_device = crate::kernels::where_(cond, a, b)?;
    let c = if cond.dtype() == DType::Bool {
        cond.clone()
    } else {
        materialize(cond, DType::Bool)?
    };
    let (ac, bc) = (
        if a.dtype() == dtype {
            a.clone()
        } else {
            materialize(a, dtype)?
        },
        if b.dtype() == dtype {
            b.clone()
        } else {
            materialize(b, dtype)?
        },
    );
    let out = match on_device {
        Some(out) => out,
        None => crate::cpu::select::where_(&c, &ac, &bc, &shape, dtype)?,
    };
    if crate::autograd::needs_grad(&[a, b]) {
        let sc = SavedTensor::new(&c);
        let (sa, sb, da, db) = (a.shape(), b.shape(), a.dtype(), b.dtype());
        record("WhereBackward0", &[a, b], &[&out], true, move |g, n| {
            let c = sc.get()?;
            let z = zeros(&[], g[0].dtype())?;
            Ok(vec![
                n[0].then(|| reduce_grad(&where_(&c, &g[0], &z)?, &sa, da))
                    .transpose()?,
                n[1].then(|| reduce_grad(&where_(&c, &z, &g[0])?, &sb, db))
                    .transpose()?,
            ])
        });
    }
    Ok(out)
}
