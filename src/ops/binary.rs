//! Binary elementwise ops with broadcasting and type promotion: arithmetic, comparisons,
//! logical ops. Python scalars on either side become 0-d tensors after promotion is decided.

use super::{materialize, operand, result_type2, Scalar};
use crate::autograd::{record, SavedTensor};
use crate::cpu::loops::map2;
use crate::cpu::num::Num;
use crate::dtype::{result_type, DType};
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;
use crate::{with_dtype, with_num_dtype};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Maximum,
    Minimum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
    Xor,
}

/// A 0-d tensor holding `s` converted to `dtype`.
pub fn scalar_tensor(s: Scalar, dtype: DType) -> Result<Tensor> {
    with_dtype!(dtype, T, Tensor::scalar::<T>(s.cast::<T>()))
}

/// The dtype an arithmetic op computes in, given the promoted input dtype.
fn compute_dtype(op: BinaryOp, promoted: DType) -> Result<DType> {
    Ok(match op {
        BinaryOp::Div if !promoted.is_float() => crate::dtype::default_float(),
        BinaryOp::Sub if promoted == DType::Bool => {
            return Err(Error::runtime(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.",
            ))
        }
        // Bool arithmetic runs in uint8 and is cast back (True + True == True, as in PyTorch).
        _ => promoted,
    })
}

fn cast_if(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t.clone())
    } else {
        materialize(t, dtype)
    }
}

/// Forward kernel only: `a op b` in `dtype` with broadcasting.
pub(crate) fn binary_kernel(op: BinaryOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    if let Some(out) = crate::kernels::binary(op, a, b, dtype)? {
        return Ok(out);
    }
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let work = if dtype == DType::Bool {
        DType::U8
    } else {
        dtype
    };
    if let Some(out) = binary_simd(op, a, b, &shape, work)? {
        return Ok(out);
    }
    let (a, b) = (cast_if(a, work)?, cast_if(b, work)?);
    if matches!(op, BinaryOp::FloorDiv | BinaryOp::Rem) && !work.is_float() && has_zero(&b)? {
        return Err(Error::runtime("ZeroDivisionError"));
    }
    let out = Tensor::empty(&shape, work)?;
    let (ad, bd) = (a.data(), b.data());
    let (al, bl) = (ad.layout.expand(&shape)?, bd.layout.expand(&shape)?);
    let (ap, bp, op_) = (
        ad.storage.cpu_ptr(),
        bd.storage.cpu_ptr(),
        out.storage().cpu_ptr(),
    );
    with_num_dtype!(
        work,
        T,
        {
            let (ap, bp, o) = (ap as *const T, bp as *const T, op_ as *mut T);
            // SAFETY: layouts expanded to `shape` over their own storages; out is fresh.
            unsafe {
                match op {
                    BinaryOp::Add => map2(ap, &al, bp, &bl, o, <T as Num>::add),
                    BinaryOp::Sub => map2(ap, &al, bp, &bl, o, <T as Num>::sub),
                    BinaryOp::Mul => map2(ap, &al, bp, &bl, o, <T as Num>::mul),
                    BinaryOp::Div => map2(ap, &al, bp, &bl, o, <T as Num>::div),
                    BinaryOp::FloorDiv => map2(ap, &al, bp, &bl, o, <T as Num>::floor_div),
                    BinaryOp::Rem => map2(ap, &al, bp, &bl, o, <T as Num>::rem),
                    BinaryOp::Pow => map2(ap, &al, bp, &bl, o, <T as Num>::pow),
                    BinaryOp::Maximum => map2(ap, &al, bp, &bl, o, <T as Num>::maximum),
                    BinaryOp::Minimum => map2(ap, &al, bp, &bl, o, <T as Num>::minimum),
                }
            }
        },
        unreachable!("bool arithmetic runs in uint8")
    );
    if dtype == DType::Bool {
        return materialize(&out, DType::Bool);
    }
    Ok(out)
}

/// Vectorised fast path for f32/f64 add/sub/mul/div/maximum/minimum when both inputs already
/// have the compute dtype and are either contiguous with the output shape or a single element
/// (a 0-d scalar operand). Returns `None` when the generic strided loop must run instead.
fn binary_simd(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    work: DType,
) -> Result<Option<Tensor>> {
    use crate::cpu::simd::{self, BinaryOp as S};
    use crate::cpu::threads::{parallel_for, SendPtr, GRAIN};
    if !matches!(work, DType::F32 | DType::F64) || a.dtype() != work || b.dtype() != work {
        return Ok(None);
    }
    let sop = match op {
        BinaryOp::Add => S::Add,
        BinaryOp::Sub => S::Sub,
        BinaryOp::Mul => S::Mul,
        BinaryOp::Div => S::Div,
        BinaryOp::Maximum => S::Maximum,
        BinaryOp::Minimum => S::Minimum,
        _ => return Ok(None),
    };
    let (ad, bd) = (a.data(), b.data());
    let (al, bl) = (&ad.layout, &bd.layout);
    let full = |l: &crate::layout::Layout| l.shape.as_slice() == shape && l.is_contiguous();
    // 0: both full, 1: scalar rhs, 2: scalar lhs.
    let kind = if full(al) && full(bl) {
        0
    } else if full(al) && bl.numel() == 1 {
        1
    } else if al.numel() == 1 && full(bl) {
        2
    } else {
        return Ok(None);
    };
    let out = Tensor::empty(shape, work)?;
    let n: usize = shape.iter().product();
    let (oa, ob) = (al.offset, bl.offset);
    let (pa, pb) = (SendPtr(ad.storage.cpu_ptr()), SendPtr(bd.storage.cpu_ptr()));
    let po = SendPtr(out.storage().cpu_ptr());
    // SAFETY: full operands are contiguous runs of n elements from their offsets, a one-element
    // operand has its element at its offset; out is fresh; chunks write disjoint ranges.
    parallel_for(n, GRAIN, |s, e| unsafe {
        let (pa, pb, po) = (pa, pb, po);
        let m = e - s;
        if work == DType::F32 {
            let (a, b, o) = (pa.0 as *const f32, pb.0 as *const f32, po.0 as *mut f32);
            match kind {
                0 => simd::binary_f32(sop, a.add(oa + s), b.add(ob + s), o.add(s), m),
                1 => simd::binary_scalar_rhs_f32(sop, a.add(oa + s), *b.add(ob), o.add(s), m),
                _ => simd::binary_scalar_lhs_f32(sop, *a.add(oa), b.add(ob + s), o.add(s), m),
            }
        } else {
            let (a, b, o) = (pa.0 as *const f64, pb.0 as *const f64, po.0 as *mut f64);
            match kind {
                0 => simd::binary_f64(sop, a.add(oa + s), b.add(ob + s), o.add(s), m),
                1 => simd::binary_scalar_rhs_f64(sop, a.add(oa + s), *b.add(ob), o.add(s), m),
                _ => simd::binary_scalar_lhs_f64(sop, *a.add(oa), b.add(ob + s), o.add(s), m),
            }
        }
    });
    Ok(Some(out))
}

fn has_zero(t: &Tensor) -> Result<bool> {
    let z = cmp_kernel(CmpOp::Eq, t, &scalar_tensor(Scalar::Int(0), t.dtype())?)?;
    Ok(z.to_vec::<bool>()?.into_iter().any(|v| v))
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
    if reverse {
        binary_typed(op, &st, a, dtype)
    } else {
        binary_typed(op, a, &st, dtype)
    }
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
// The generic `x < y` closures are also instantiated for bool, where clippy prefers `!x & y`.
#[allow(clippy::bool_comparison)]
pub(crate) fn cmp_kernel(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if let Some(out) = crate::kernels::compare(op, a, b)? {
        return Ok(out);
    }
    let dtype = result_type2(a, b);
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (cast_if(a, dtype)?, cast_if(b, dtype)?);
    let out = Tensor::empty(&shape, DType::Bool)?;
    let (ad, bd) = (a.data(), b.data());
    let (al, bl) = (ad.layout.expand(&shape)?, bd.layout.expand(&shape)?);
    let (ap, bp, o) = (
        ad.storage.cpu_ptr(),
        bd.storage.cpu_ptr(),
        out.storage().cpu_ptr() as *mut bool,
    );
    with_dtype!(dtype, T, {
        let (ap, bp) = (ap as *const T, bp as *const T);
        // SAFETY: as in binary_kernel.
        unsafe {
            match op {
                CmpOp::Eq => map2(ap, &al, bp, &bl, o, |x: T, y: T| x == y),
                CmpOp::Ne => map2(ap, &al, bp, &bl, o, |x: T, y: T| x != y),
                CmpOp::Lt => map2(ap, &al, bp, &bl, o, |x: T, y: T| x < y),
                CmpOp::Le => map2(ap, &al, bp, &bl, o, |x: T, y: T| x <= y),
                CmpOp::Gt => map2(ap, &al, bp, &bl, o, |x: T, y: T| x > y),
                CmpOp::Ge => map2(ap, &al, bp, &bl, o, |x: T, y: T| x >= y),
            }
        }
    });
    Ok(out)
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
    let (a, b) = (cast_if(a, DType::Bool)?, cast_if(b, DType::Bool)?);
    let out = Tensor::empty(&shape, DType::Bool)?;
    let (ad, bd) = (a.data(), b.data());
    let (al, bl) = (ad.layout.expand(&shape)?, bd.layout.expand(&shape)?);
    let (ap, bp) = (
        ad.storage.cpu_ptr() as *const bool,
        bd.storage.cpu_ptr() as *const bool,
    );
    let o = out.storage().cpu_ptr() as *mut bool;
    // SAFETY: as in binary_kernel.
    unsafe {
        match op {
            LogicOp::And => map2(ap, &al, bp, &bl, o, |x, y| x && y),
            LogicOp::Or => map2(ap, &al, bp, &bl, o, |x, y| x || y),
            LogicOp::Xor => map2(ap, &al, bp, &bl, o, |x, y| x != y),
        }
    }
    Ok(out)
}
