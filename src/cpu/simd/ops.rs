//! The op lists understood by the elementwise kernels: the device-neutral [`UnaryOp`] (defined
//! with the ops, `ops::kinds`) and the SIMD kernels' own binary list.

pub use crate::ops::UnaryOp;

/// Elementwise binary ops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// NaN-propagating, like `torch.maximum`.
    Maximum,
    /// NaN-propagating, like `torch.minimum`.
    Minimum,
    Pow,
    Atan2,
}
