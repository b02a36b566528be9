//! The transcendental binary ops (atan2, hypot, copysign, logaddexp, logaddexp2, xlogy): their
//! PyTorch-named entry points and their gradients. Forward dispatch, promotion and autograd
//! recording are `ops::binary`'s; the CPU kernels compute each element in f64
//! (`cpu::num::float_binary`), the wgpu ones use the bodies in `shaders/ops.txt`.

use super::{
    add, binary, compare_scalar, div, logical, mul, scalar_tensor, sub, unary, where_, BinaryOp,
    CmpOp, LogicOp, Scalar, UnaryOp,
};
use crate::error::Result;
use crate::tensor::Tensor;

type Grads = (Option<Tensor>, Option<Tensor>);

/// The gradients of `op(a, b)` for upstream gradient `g` (unreduced: `g`'s broadcast shape),
/// for the inputs flagged in `need_a` / `need_b`. Written in tensor ops so they differentiate
/// again (create_graph) and run on any device.
pub(crate) fn binary_math_grads(
    op: BinaryOp,
    g: &Tensor,
    a: &Tensor,
    b: &Tensor,
    need_a: bool,
    need_b: bool,
) -> Result<Grads> {
    let zero = || scalar_tensor(Scalar::Float(0.0), g.dtype());
    let pick =
        |fa: &dyn Fn() -> Result<Tensor>, fb: &dyn Fn() -> Result<Tensor>| -> Result<Grads> {
            Ok((
                if need_a { Some(fa()?) } else { None },
                if need_b { Some(fb()?) } else { None },
            ))
        };
    match op {
        BinaryOp::Atan2 => {
            // d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2); PyTorch takes 0 where
            // a = b = 0 (the reciprocal of the zero denominator is masked to 0).
            let den = add(&mul(a, a)?, &mul(b, b)?)?;
            let recip = where_(
                &compare_scalar(CmpOp::Eq, &den, Scalar::Int(0))?,
                &zero()?,
                &unary(UnaryOp::Reciprocal, &den)?,
            )?;
            pick(&|| mul(&mul(g, b)?, &recip), &|| {
                mul(&mul(g, &unary(UnaryOp::Neg, a)?)?, &recip)
            })
        }
        BinaryOp::Hypot => {
            let h = binary(BinaryOp::Hypot, a, b)?;
            pick(&|| div(&mul(g, a)?, &h), &|| div(&mul(g, b)?, &h))
        }
        BinaryOp::Copysign => {
            // result / a is +-1; PyTorch picks 0 where a == 0. The sign input gets no gradient.
            let r = binary(BinaryOp::Copysign, a, b)?;
            let ratio = where_(
                &compare_scalar(CmpOp::Eq, a, Scalar::Int(0))?,
                &zero()?,
                &div(&r, a)?,
            )?;
            pick(&|| mul(g, &ratio), &|| super::zeros(&g.shape(), g.dtype()))
        }
        BinaryOp::Logaddexp | BinaryOp::Logaddexp2 => {
            // d/da = 1 / (1 + base^(b - a)): the softmax weight of a.
            let e = if op == BinaryOp::Logaddexp {
                UnaryOp::Exp
            } else {
                UnaryOp::Exp2
            };
            let w = |x: &Tensor, y: &Tensor| -> Result<Tensor> {
                let t = unary(UnaryOp::AddScalar(1.0), &unary(e, &sub(y, x)?)?)?;
                div(g, &t)
            };
            pick(&|| w(a, b), &|| w(b, a))
        }
        BinaryOp::Xlogy => pick(
            &|| {
                // g * log(b), with 0 where g == 0 (xlogy itself) and where a == 0 and b <= 0.
                let mask = logical(
                    LogicOp::And,
                    &compare_scalar(CmpOp::Eq, a, Scalar::Int(0))?,
                    &compare_scalar(CmpOp::Le, b, Scalar::Int(0))?,
                )?;
                where_(&mask, &zero()?, &binary(BinaryOp::Xlogy, g, b)?)
            },
            &|| div(&mul(g, a)?, b),
        ),
        _ => Ok((None, None)),
    }
}

macro_rules! binary_fns {
    ($($name:ident => $op:ident),* $(,)?) => {
        $(
            #[doc = concat!("`torch.", stringify!($name), "(a, b)` with broadcasting and autograd.")]
            pub fn $name(a: &Tensor, b: &Tensor) -> Result<Tensor> {
                binary(BinaryOp::$op, a, b)
            }
        )*
    };
}

binary_fns!(
    atan2 => Atan2, hypot => Hypot, copysign => Copysign, logaddexp => Logaddexp,
    logaddexp2 => Logaddexp2, xlogy => Xlogy,
);
