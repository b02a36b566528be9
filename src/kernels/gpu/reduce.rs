//! The wgpu side of the reduce family beyond sum/amax/amin (which live in `gpu/mod.rs`).

use super::DEV;
use crate::error::Result;
use crate::kernels::not_implemented;
use crate::tensor::Tensor;

pub fn prod(_x: &Tensor, _dims: &[usize], _keepdim: bool) -> Result<Tensor> {
    Err(not_implemented("prod", DEV))
}

pub fn prod_others(_x: &Tensor, _dims: &[usize]) -> Result<Tensor> {
    Err(not_implemented("prod", DEV))
}

pub fn max_min_dim(_x: &Tensor, _dims: &[usize], _k: bool, _m: bool) -> Result<(Tensor, Tensor)> {
    Err(not_implemented("max.dim", DEV))
}

pub fn place_at_index(_g: &Tensor, _i: &Tensor, _d: usize, _n: usize) -> Result<Tensor> {
    Err(not_implemented("max.dim", DEV))
}

pub fn var_mean(_x: &Tensor, _d: &[usize], _c: f64, _k: bool) -> Result<(Tensor, Tensor)> {
    Err(not_implemented("var_mean", DEV))
}

pub fn all_any(_x: &Tensor, _d: &[usize], _k: bool, _a: bool) -> Result<Tensor> {
    Err(not_implemented("all", DEV))
}
