//! Binary elementwise ops with broadcasting and type promotion: arithmetic, comparisons,
//! logical ops. Python scalars on either side become 0-d tensors after promotion is decided.

use super::{operand, result_type2, BinaryOp, CmpOp, LogicOp, Scalar};
use crate::autograd::{record, SavedTensor};
use crate::dtype::{result_type, DType};
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;
use crate::with_dtype;

/// A 0-d tensor holding `s` converted to `dtype`.
pub fn scalar_tensor(s: Scalar, dtype: DType) -> Result<Tensor> {
    with_dtype!(dtype, T, Tensor::scalar::<T>(s.cast::<T>()))
}

/// The dtype an arithmetic op computes in, given the promoted input dtype.
pub(crate) fn compute_dtype(op: BinaryOp, promoted: DType) -> Result<DType> {
    Ok(match op {
        _ if op.float_only() && !promoted.is_float() => {
            return Err(Error::not_implemented(format!(
                "\"{}_cpu\" not implemented for '{}'",
                format!("{op:?}").to_lowercase(),
                super::torch_dtype_name(promoted)
            )))
        }
        _ if op.promotes_int_to_float() && !promoted.is_float() => crate::dtype::default_float(),
        BinaryOp::Sub if promoted == DType::Bool => {
            return Err(Error::runtime(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.",
            ))
        }
        // Bool arithmetic runs in uint8 and is cast back (True + True == True, as in PyTorch).
        _ => promoted,
    })
}

/// Forward kernel only: `a op b` in `dtype` with broadcasting.
pub(crate) fn binary_kernel(op: BinaryOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    binary_kernel_into(op, a, b, dtype, None)
}

/// [`binary_kernel`] writing into `dest` when given: a contiguous CPU tensor of the broadcast
/// shape and `dtype` (not bool) that is at most exactly one of the operands (`ops::out`).
pub(crate) fn binary_kernel_into(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    dtype: DType,
    dest: Option<&Tensor>,
) -> Result<Tensor> {
    if dest.is_none() {
        if let Some(out) = crate::kernels::binary(op, a, b, dtype)? {
            return Ok(out);
        }
    }
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    crate::cpu::elementwise::binary_into(op, a, b, &shape, dtype, dest)
}

/// Gradient `g` of a broadcast result, summed back to `like`'s shape and cast to its dtype.
pub fn reduce_grad(g: &Tensor, like_shape: &[usize], like_dtype: DType) -> Result<Tensor> {
    let g = super::sum_to(g, like_shape)?;
    if g.dtype() != like_dtype && like_dtype.is_float() {
        super::to_dtype(&g, like_dtype)
    } else {
        Ok(g)
    }
}

/// `a op b` with promotion, broadcasting and autograd.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = compute_dtype(op, result_type2(a, b))?;
    binary_typed(op, a, b, dtype)
}

/// `a op s` (or `s op a` when `reverse`) for a Python scalar `s`.
pub fn binary_scalar(op: BinaryOp, a: &Tensor, s: Scalar, reverse: bool) -> Result<Tensor> {
    let (lhs, rhs, dtype) = scalar_operands(op, a, s, reverse)?;
    binary_typed(op, &lhs, &rhs, dtype)
}

/// The two tensor operands and compute dtype of `a op s` (or `s op a` when `reverse`): the
/// scalar becomes a 0-d tensor once PyTorch's promotion has decided the dtype.
pub(crate) fn scalar_operands(
    op: BinaryOp,
    a: &Tensor,
    s: Scalar,
    reverse: bool,
) -> Result<(Tensor, Tensor, DType)> {
    let dtype = compute_dtype(op, result_type(&[operand(a), s.operand()]))?;
    // Before the scalar is cast to an unsigned result dtype (-1 would become 255).
    if op == BinaryOp::Pow && !reverse && !dtype.is_float() && s.to_f64() < 0.0 {
        return Err(Error::runtime(
            "Integers to negative integer powers are not allowed.",
        ));
    }
    let st = scalar_tensor(
        s,
        if dtype == DType::Bool {
            DType::Bool
        } else {
            dtype
        },
    )?;
    Ok(if reverse {
        (st, a.clone(), dtype)
    } else {
        (a.clone(), st, dtype)
    })
}

fn binary_typed(op: BinaryOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    let out = binary_kernel(op, a, b, dtype)?;
    if !crate::autograd::needs_grad(&[a, b]) {
        return Ok(out);
    }
    let (sa, sb) = (a.shape(), b.shape());
    let (da, db) = (a.dtype(), b.dtype());
    match op {
        BinaryOp::Add => record("AddBackward0", &[a, b], &[&out], false, move |g, n| {
            Ok(vec![
                n[0].then(|| reduce_grad(&g[0], &sa, da)).transpose()?,
                n[1].then(|| reduce_grad(&g[0], &sb, db)).transpose()?,
            ])
        }),
        BinaryOp::Sub => record("SubBackward0", &[a, b], &[&out], false, move |g, n| {
            Ok(vec![
                n[0].then(|| reduce_grad(&g[0], &sa, da)).transpose()?,
                n[1].then(|| reduce_grad(&super::neg(&g[0])?, &sb, db))
                    .transpose()?,
            ])
        }),
        BinaryOp::Mul => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            record("MulBackward0", &[a, b], &[&out], true, move |g, n| {
                Ok(vec![
                    n[0].then(|| reduce_grad(&mul(&g[0], &xb.get()?)?, &sa, da))
                        .transpose()?,
                    n[1].then(|| reduce_grad(&mul(&g[0], &xa.get()?)?, &sb, db))
                        .transpose()?,
                ])
            })
        }
        BinaryOp::Div => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            record("DivBackward0", &[a, b], &[&out], true, move |g, n| {
                let bv = xb.get()?;
                Ok(vec![
                    n[0].then(|| reduce_grad(&div(&g[0], &bv)?, &sa, da))
                        .transpose()?,
                    n[1].then(|| {
                        // d(a/b)/db = -a / b^2
                        let t = div(&mul(&g[0], &xa.get()?)?, &mul(&bv, &bv)?)?;
                        reduce_grad(&super::neg(&t)?, &sb, db)
                    })
                    .transpose()?,
                ])
            })
        }
        BinaryOp::Pow => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            record("PowBackward1", &[a, b], &[&out], true, move |g, n| {
                let (av, bv) = (xa.get()?, xb.get()?);
                let ga = if n[0] {
                    // b * a^(b-1), with 0 where b == 0 (PyTorch's convention for 0^0).
                    let bm1 = binary_scalar(BinaryOp::Sub, &bv, Scalar::Int(1), false)?;
                    let d = mul(&bv, &binary(BinaryOp::Pow, &av, &bm1)?)?;
                    let zero_exp = compare_scalar(CmpOp::Eq, &bv, Scalar::Int(0))?;
                    let d =
                        super::where_(&zero_exp, &scalar_tensor(Scalar::Int(0), d.dtype())?, &d)?;
                    Some(reduce_grad(&mul(&g[0], &d)?, &sa, da)?)
                } else {
                    None
                };
                let gb = if n[1] {
                    // a^b * ln(a), with 0 where a == 0 and b >= 0.
                    let p = binary(BinaryOp::Pow, &av, &bv)?;
                    let d = mul(&p, &super::log(&av)?)?;
                    let mask = logical(
                        LogicOp::And,
                        &compare_scalar(CmpOp::Eq, &av, Scalar::Int(0))?,
                        &compare_scalar(CmpOp::Ge, &bv, Scalar::Int(0))?,
                    )?;
                    let d = super::where_(&mask, &scalar_tensor(Scalar::Int(0), d.dtype())?, &d)?;
                    Some(reduce_grad(&mul(&g[0], &d)?, &sb, db)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        BinaryOp::Maximum | BinaryOp::Minimum => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            let name = if op == BinaryOp::Maximum {
                "MaximumBackward0"
            } else {
                "MinimumBackward0"
            };
            record(name, &[a, b], &[&out], true, move |g, n| {
                let (av, bv) = (xa.get()?, xb.get()?);
                // Ties split the gradient evenly, as PyTorch does.
                let win = compare(
                    if op == BinaryOp::Maximum {
                        CmpOp::Gt
                    } else {
                        CmpOp::Lt
                    },
                    &av,
                    &bv,
                )?;
                let tie = compare(CmpOp::Eq, &av, &bv)?;
                let gd = g[0].dtype();
                let one = scalar_tensor(Scalar::Float(1.0), gd)?;
                let half = scalar_tensor(Scalar::Float(0.5), gd)?;
                let zero = scalar_tensor(Scalar::Float(0.0), gd)?;
                let wa = super::where_(&win, &one, &super::where_(&tie, &half, &zero)?)?;
                let lose = logical(LogicOp::Or, &win, &tie)?;
                let wb = super::where_(&lose, &super::where_(&tie, &half, &zero)?, &one)?;
                Ok(vec![
                    n[0].then(|| reduce_grad(&mul(&g[0], &wa)?, &sa, da))
                        .transpose()?,
                    n[1].then(|| reduce_grad(&mul(&g[0], &wb)?, &sb, db))
                        .transpose()?,
                ])
            })
        }
        // a - floor(a / b) * b: gradient 1 for a and -floor(a / b) for b, as in PyTorch.
        BinaryOp::Rem => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            record("RemainderBackward0", &[a, b], &[&out], true, move |g, n| {
                let ga = n[0].then(|| reduce_grad(&g[0], &sa, da)).transpose()?;
                let gb = if n[1] {
                    let q = super::floor(&div(&xa.get()?, &xb.get()?)?)?;
                    Some(reduce_grad(&mul(&g[0], &super::neg(&q)?)?, &sb, db)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        BinaryOp::Atan2
        | BinaryOp::Hypot
        | BinaryOp::Copysign
        | BinaryOp::Logaddexp
        | BinaryOp::Logaddexp2
        | BinaryOp::Xlogy => {
            let (xa, xb) = (SavedTensor::new(a), SavedTensor::new(b));
            let name = match op {
                BinaryOp::Atan2 => "Atan2Backward0",
                BinaryOp::Hypot => "HypotBackward0",
                BinaryOp::Copysign => "CopysignBackward0",
                BinaryOp::Logaddexp => "LogaddexpBackward0",
                BinaryOp::Logaddexp2 => "Logaddexp2Backward0",
                _ => "XlogyBackward0",
            };
            record(name, &[a, b], &[&out], true, move |g, n| {
                let (av, bv) = (xa.get()?, xb.get()?);
                let (ga, gb) = super::binary_math_grads(op, &g[0], &av, &bv, n[0], n[1])?;
                Ok(vec![
                    ga.map(|t| reduce_grad(&t, &sa, da)).transpose()?,
                    gb.map(|t| reduce_grad(&t, &sb, db)).transpose()?,
                ])
            })
        }
        // Piecewise constant in both inputs: zero gradient almost everywhere.
        BinaryOp::FloorDiv => record("DivBackward0", &[a, b], &[&out], false, move |_, n| {
            let ga = n[0].then(|| super::zeros(&sa, da)).transpose()?;
            let gb = n[1].then(|| super::zeros(&sb, db)).transpose()?;
            Ok(vec![ga, gb])
        }),
    }
    Ok(out)
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Mul, a, b)
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Div, a, b)
}
pub fn mul_scalar(a: &Tensor, s: f64) -> Result<Tensor> {
    binary_scalar(BinaryOp::Mul, a, Scalar::Float(s), false)
}
pub fn add_scalar(a: &Tensor, s: f64) -> Result<Tensor> {
    binary_scalar(BinaryOp::Add, a, Scalar::Float(s), false)
}

/// Comparison kernel: bool output, inputs promoted first.
pub(crate) fn cmp_kernel(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(out) = crate::kernels::compare(op, a, b)? {
        return Ok(out);
    }
    let dtype = result_type2(a, b);
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    crate::cpu::elementwise::compare(op, a, b, &shape, dtype)
}

/// `a == b` etc. Never differentiable.
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    cmp_kernel(op, a, b)
}

pub fn compare_scalar(op: CmpOp, a: &Tensor, s: Scalar) -> Result<Tensor> {
    let dtype = result_type(&[operand(a), s.operand()]);
    cmp_kernel(op, a, &scalar_tensor(s, dtype)?)
}

/// logical_and / logical_or / logical_xor: any dtype in, bool out.
pub fn logical(op: LogicOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(out) = crate::kernels::logical(op, a, b)? {
        return Ok(out);
    }
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    crate::cpu::elementwise::logical(op, a, b, &shape)
}
