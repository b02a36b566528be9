//! Tensor operations, one file per family. Each op checks its inputs, dispatches to a backend
//! kernel and records its backward rule right beside the forward (see `autograd::record`).
//! Backward rules are written with these same ops, so higher-order gradients come for free.

mod binary;
mod binary_math;
mod bitwise;
mod conv;
mod convert;
mod creation;
pub mod cross_entropy;
mod index;
mod inplace;
mod join;
mod kinds;
mod matmul;
mod movement;
pub mod optim;
mod out;
mod pool;
mod reduce;
mod scalar;
mod select;
mod softmax;
mod sort;
mod unary;
mod unfold;

pub use binary::*;
pub use binary_math::*;
pub use bitwise::*;
#[allow(unused_imports)]
pub use conv::*;
pub use convert::*;
pub use creation::*;
#[allow(unused_imports)]
pub use index::*;
pub use inplace::*;
#[allow(unused_imports)]
pub use join::*;
pub use kinds::{BinaryOp, BitOp, CmpOp, LogicOp, UnaryOp};
#[allow(unused_imports)]
pub use matmul::*;
pub use movement::*;
pub use out::*;
#[allow(unused_imports)]
pub use pool::*;
pub use reduce::*;
pub use scalar::Scalar;
pub use select::*;
pub use softmax::*;
pub use sort::*;
pub use unary::*;
pub use unfold::*;

use crate::dtype::{DType, Operand};
use crate::tensor::Tensor;

/// How a tensor takes part in type promotion.
pub(crate) fn operand(t: &Tensor) -> Operand {
    if t.ndim() == 0 {
        Operand::ZeroDim(t.dtype())
    } else {
        Operand::Tensor(t.dtype())
    }
}

/// Promoted dtype of two tensors.
pub fn result_type2(a: &Tensor, b: &Tensor) -> DType {
    crate::dtype::result_type(&[operand(a), operand(b)])
}
