//! CPU side of the elementwise families (binary arithmetic, comparisons, logical ops, unary
//! math). `ops::binary` and `ops::unary` decide promotion and output shapes and reach these only
//! for CPU operands, after `crate::kernels` found no device to run on.

use super::convert::cast_copy;
use super::loops::{map1_view, map2_view};
use super::num::Num;
use super::simd::{self, UnaryOp};
use super::threads::{parallel_for, SendPtr, GRAIN};
use super::view::{CpuView, CpuViewMut};
use crate::dtype::{DType, Element as _};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, CmpOp, LogicOp};
use crate::tensor::Tensor;
use crate::{with_dtype, with_num_dtype};

/// `t` in `dtype`: itself when it already is, else a converted contiguous copy.
fn cast_if(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t.clone())
    } else {
        cast_copy(t, dtype)
    }
}

fn bool_work() -> Error {
    Error::runtime("internal error: bool arithmetic runs in uint8")
}

/// `a op b` broadcast to `shape`, computed in `dtype` (bool arithmetic runs in uint8 and is cast
/// back, so True + True == True as in PyTorch).
pub fn binary(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    let work = if dtype == DType::Bool {
        DType::U8
    } else {
        dtype
    };
    if let Some(out) = binary_simd(op, a, b, shape, work)? {
        return Ok(out);
    }
    let (a, b) = (cast_if(a, work)?, cast_if(b, work)?);
    // Integer division by zero would trap; PyTorch's CPU kernels raise instead.
    if matches!(op, BinaryOp::FloorDiv | BinaryOp::Rem) && !work.is_float() && has_zero(&b)? {
        return Err(Error::runtime("ZeroDivisionError"));
    }
    let out = Tensor::empty(shape, work)?;
    let (ad, bd, od) = (a.data(), b.data(), out.data());
    with_num_dtype!(
        work,
        T,
        {
            let av = CpuView::<T>::of(&ad)?.expand(shape)?;
            let bv = CpuView::<T>::of(&bd)?.expand(shape)?;
            let o = CpuViewMut::<T>::of(&od)?;
            match op {
                BinaryOp::Add => map2_view(&av, &bv, &o, <T as Num>::add),
                BinaryOp::Sub => map2_view(&av, &bv, &o, <T as Num>::sub),
                BinaryOp::Mul => map2_view(&av, &bv, &o, <T as Num>::mul),
                BinaryOp::Div => map2_view(&av, &bv, &o, <T as Num>::div),
                BinaryOp::FloorDiv => map2_view(&av, &bv, &o, <T as Num>::floor_div),
                BinaryOp::Rem => map2_view(&av, &bv, &o, <T as Num>::rem),
                BinaryOp::Pow => map2_view(&av, &bv, &o, <T as Num>::pow),
                BinaryOp::Maximum => map2_view(&av, &bv, &o, <T as Num>::maximum),
                BinaryOp::Minimum => map2_view(&av, &bv, &o, <T as Num>::minimum),
            }?
        },
        return Err(bool_work())
    );
    if dtype == DType::Bool {
        return cast_copy(&out, DType::Bool);
    }
    Ok(out)
}

/// Whether any element of an integer tensor is zero.
fn has_zero(t: &Tensor) -> Result<bool> {
    with_num_dtype!(
        t.dtype(),
        T,
        Ok(t.to_vec::<T>()?.into_iter().any(|v| v == T::zero())),
        Err(bool_work())
    )
}

/// One SIMD pass over `n` elements per chunk of the pool, for the three operand shapes the
/// vectorised kernels take.
macro_rules! simd_binary {
    ($T:ty, $full:path, $rhs:path, $lhs:path, $sop:expr, $kind:expr, $ad:expr, $bd:expr, $od:expr, $n:expr) => {{
        let (av, bv) = (CpuView::<$T>::of($ad)?, CpuView::<$T>::of($bd)?);
        let ov = CpuViewMut::<$T>::of($od)?;
        let (oa, ob) = (av.layout().offset, bv.layout().offset);
        let (pa, pb) = (SendPtr(av.base() as *mut $T), SendPtr(bv.base() as *mut $T));
        let po = SendPtr(ov.start());
        let (sop, kind) = ($sop, $kind);
        // SAFETY: the views checked their spans; full operands are contiguous runs of n elements
        // from their offsets, a one-element operand has its element at its offset; out is a
        // fresh run of n elements and chunks write disjoint ranges.
        parallel_for($n, GRAIN, |s, e| unsafe {
            let (pa, pb, po) = (pa, pb, po);
            let (a, b, o) = (pa.0 as *const $T, pb.0 as *const $T, po.0);
            let m = e - s;
            match kind {
                0 => $full(sop, a.add(oa + s), b.add(ob + s), o.add(s), m),
                1 => $rhs(sop, a.add(oa + s), *b.add(ob), o.add(s), m),
                _ => $lhs(sop, *a.add(oa), b.add(ob + s), o.add(s), m),
            }
        });
    }};
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
    use simd::BinaryOp as S;
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
    let od = out.data();
    let n: usize = shape.iter().product();
    if work == DType::F32 {
        simd_binary!(
            f32,
            simd::binary_f32,
            simd::binary_scalar_rhs_f32,
            simd::binary_scalar_lhs_f32,
            sop,
            kind,
            &ad,
            &bd,
            &od,
            n
        );
    } else {
        simd_binary!(
            f64,
            simd::binary_f64,
            simd::binary_scalar_rhs_f64,
            simd::binary_scalar_lhs_f64,
            sop,
            kind,
            &ad,
            &bd,
            &od,
            n
        );
    }
    Ok(Some(out))
}

/// Comparison of `a` and `b` broadcast to `shape`, both converted to `dtype` first; bool out.
// The generic `x < y` closures are also instantiated for bool, where clippy prefers `!x & y`.
#[allow(clippy::bool_comparison)]
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize], dtype: DType) -> Result<Tensor> {
    let (a, b) = (cast_if(a, dtype)?, cast_if(b, dtype)?);
    let out = Tensor::empty(shape, DType::Bool)?;
    let (ad, bd, od) = (a.data(), b.data(), out.data());
    let o = CpuViewMut::<bool>::of(&od)?;
    with_dtype!(dtype, T, {
        let av = CpuView::<T>::of(&ad)?.expand(shape)?;
        let bv = CpuView::<T>::of(&bd)?.expand(shape)?;
        match op {
            CmpOp::Eq => map2_view(&av, &bv, &o, |x: T, y: T| x == y),
            CmpOp::Ne => map2_view(&av, &bv, &o, |x: T, y: T| x != y),
            CmpOp::Lt => map2_view(&av, &bv, &o, |x: T, y: T| x < y),
            CmpOp::Le => map2_view(&av, &bv, &o, |x: T, y: T| x <= y),
            CmpOp::Gt => map2_view(&av, &bv, &o, |x: T, y: T| x > y),
            CmpOp::Ge => map2_view(&av, &bv, &o, |x: T, y: T| x >= y),
        }?
    });
    Ok(out)
}

/// logical_and / logical_or / logical_xor of `a` and `b` (any dtype, read as `!= 0`) broadcast
/// to `shape`; bool out.
pub fn logical(op: LogicOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (a, b) = (cast_if(a, DType::Bool)?, cast_if(b, DType::Bool)?);
    let out = Tensor::empty(shape, DType::Bool)?;
    let (ad, bd, od) = (a.data(), b.data(), out.data());
    let av = CpuView::<bool>::of(&ad)?.expand(shape)?;
    let bv = CpuView::<bool>::of(&bd)?.expand(shape)?;
    let o = CpuViewMut::<bool>::of(&od)?;
    match op {
        LogicOp::And => map2_view(&av, &bv, &o, |x, y| x && y),
        LogicOp::Or => map2_view(&av, &bv, &o, |x, y| x || y),
        LogicOp::Xor => map2_view(&av, &bv, &o, |x, y| x != y),
    }?;
    Ok(out)
}

/// `op` applied to one integer element (the ops `ops::unary` keeps closed over integers).
fn int_apply<T: Num>(op: UnaryOp, x: T) -> T {
    use UnaryOp::*;
    match op {
        Neg => T::neg(x),
        Abs => T::abs(x),
        Sign => {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                T::neg(T::one())
            } else {
                T::zero()
            }
        }
        Square => T::mul(x, x),
        Relu => T::maximum(x, T::zero()),
        Clamp(lo, hi) => {
            let v = x.to_f64().max(lo).min(hi);
            T::from_f64(v)
        }
        _ => x,
    }
}

/// `op(x)` in `x`'s dtype: the SIMD kernels for float tensors (over a contiguous copy when `x`
/// is strided), an elementwise integer map otherwise. Bool input is the caller's to refuse.
pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let dt = x.dtype();
    if !dt.is_float() {
        let d = x.data();
        let out = Tensor::empty(&d.layout.shape, dt)?;
        let od = out.data();
        with_num_dtype!(
            dt,
            T,
            map1_view(
                &CpuView::<T>::of(&d)?,
                &CpuViewMut::<T>::of(&od)?,
                move |v: T| int_apply(op, v)
            )?,
            return Err(Error::runtime(
                "internal error: no integer unary kernel for bool"
            ))
        );
        return Ok(out);
    }
    let src = if x.is_contiguous() {
        x.clone()
    } else {
        cast_copy(x, dt)?
    };
    let d = src.data();
    let n = d.layout.numel();
    let out = Tensor::empty(&d.layout.shape, dt)?;
    let od = out.data();
    macro_rules! simd_unary {
        ($T:ty, $kernel:path) => {{
            let (xv, ov) = (CpuView::<$T>::of(&d)?, CpuViewMut::<$T>::of(&od)?);
            ov.expect_run(n)?;
            let (ip, op_) = (SendPtr(xv.start() as *mut $T), SendPtr(ov.start()));
            // SAFETY: contiguous input of n elements from its start (checked span); a fresh
            // output run of n elements; chunks are disjoint.
            parallel_for(n, GRAIN, |a, b| unsafe {
                let (ip, op_) = (ip, op_);
                $kernel(op, (ip.0 as *const $T).add(a), op_.0.add(a), b - a)
            });
        }};
    }
    match dt {
        DType::F32 => simd_unary!(f32, simd::unary_f32),
        _ => simd_unary!(f64, simd::unary_f64),
    }
    Ok(out)
}
