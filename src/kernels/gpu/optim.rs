//! stub
use super::DEV;
use crate::error::Result;
use crate::kernels::not_implemented;
use crate::ops::optim::Update;
use crate::tensor::Tensor;

pub fn fused_update(_p: &Tensor, _g: &Tensor, _b: &[Option<Tensor>], _u: Update) -> Result<()> {
    Err(not_implemented("_fused_optimizer_step", DEV))
}
