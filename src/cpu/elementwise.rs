//! CPU side of the elementwise families (binary arithmetic, comparisons, logical ops, unary
//! math). `ops::binary` and `ops::unary` decide promotion and output shapes and reach these only
//! for CPU operands, after `crate::kernels` found no device to run on.

use super::convert::cast_copy;
use super::loops::{map1_view, map2_view};
use super::num::{float_binary, Bits, Num};
use super::simd::{self, UnaryOp};
use super::threads::{parallel_for, SendPtr, GRAIN};
use super::view::{CpuView, CpuViewMut};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::ops::{BinaryOp, BitOp, CmpOp, LogicOp};
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

/// The tensor a kernel writes and a view to write it through: `dest` itself when given (an
/// `out=` destination, which must be a contiguous CPU tensor of `shape` and `T`'s dtype; the
/// caller has checked that it is, this re-checks cheaply), else a fresh tensor.
pub(crate) fn output<T: Element>(
    shape: &[usize],
    dest: Option<&Tensor>,
) -> Result<(Tensor, CpuViewMut<T>)> {
    match dest {
        None => CpuViewMut::<T>::fresh(shape),
        Some(d) => {
            let v = CpuViewMut::<T>::of(d)?;
            v.expect_run(shape.iter().product())?;
            if v.layout().shape.as_slice() != shape {
                return Err(Error::runtime(
                    "internal error: an out= destination does not have the result's shape",
                ));
            }
            Ok((d.clone(), v))
        }
    }
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
    binary_into(op, a, b, shape, dtype, None)
}

/// [`binary`] writing into `dest` when given (see [`output`]; never for a bool result, which is
/// computed in uint8 and converted).
pub fn binary_into(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    dtype: DType,
    dest: Option<&Tensor>,
) -> Result<Tensor> {
    if dtype.is_half() {
        if dest.is_some() {
            return Err(Error::runtime(
                "internal error: a half result cannot be written into its destination directly",
            ));
        }
        // Half operands run the f32 (SIMD) kernel and round once (see kernels::widen).
        let (a, b) = (cast_if(a, DType::F32)?, cast_if(b, DType::F32)?);
        return cast_copy(&binary(op, &a, &b, shape, DType::F32)?, dtype);
    }
    let work = if dtype == DType::Bool {
        if dest.is_some() {
            return Err(Error::runtime(
                "internal error: a bool result cannot be written into its destination directly",
            ));
        }
        DType::U8
    } else {
        dtype
    };
    if let Some(out) = binary_simd(op, a, b, shape, work, dest)? {
        return Ok(out);
    }
    let (a, b) = (cast_if(a, work)?, cast_if(b, work)?);
    // Integer division by zero would trap; PyTorch's CPU kernels raise instead.
    if matches!(op, BinaryOp::FloorDiv | BinaryOp::Rem) && !work.is_float() && has_zero(&b)? {
        return Err(Error::runtime("ZeroDivisionError"));
    }
    let out = with_num_dtype!(
        work,
        T,
        {
            let av = CpuView::<T>::of(&a)?.expand(shape)?;
            let bv = CpuView::<T>::of(&b)?.expand(shape)?;
            let (out, o) = output::<T>(shape, dest)?;
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
                // Float-only (promoted before reaching here): per element in f64.
                BinaryOp::Atan2
                | BinaryOp::Hypot
                | BinaryOp::Copysign
                | BinaryOp::Logaddexp
                | BinaryOp::Logaddexp2
                | BinaryOp::Xlogy => map2_view(&av, &bv, &o, move |x: T, y: T| {
                    T::from_f64(float_binary(op, x.to_f64(), y.to_f64()))
                }),
            }?;
            out
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

/// The float types with SIMD binary kernels, and those kernels.
trait SimdBinary: Element {
    /// `out[i] = a[i] op b[i]`. Safety: as `simd::binary_f32`.
    unsafe fn full(op: simd::BinaryOp, a: *const Self, b: *const Self, o: *mut Self, n: usize);
    /// `out[i] = a[i] op s`. Safety: as `simd::binary_scalar_rhs_f32`.
    unsafe fn rhs(op: simd::BinaryOp, a: *const Self, s: Self, o: *mut Self, n: usize);
    /// `out[i] = s op b[i]`. Safety: as `simd::binary_scalar_lhs_f32`.
    unsafe fn lhs(op: simd::BinaryOp, s: Self, b: *const Self, o: *mut Self, n: usize);
}

macro_rules! simd_binary {
    ($t:ty, $full:path, $rhs:path, $lhs:path) => {
        impl SimdBinary for $t {
            unsafe fn full(op: simd::BinaryOp, a: *const $t, b: *const $t, o: *mut $t, n: usize) {
                // SAFETY: forwarded contract.
                unsafe { $full(op, a, b, o, n) }
            }
            unsafe fn rhs(op: simd::BinaryOp, a: *const $t, s: $t, o: *mut $t, n: usize) {
                // SAFETY: forwarded contract.
                unsafe { $rhs(op, a, s, o, n) }
            }
            unsafe fn lhs(op: simd::BinaryOp, s: $t, b: *const $t, o: *mut $t, n: usize) {
                // SAFETY: forwarded contract.
                unsafe { $lhs(op, s, b, o, n) }
            }
        }
    };
}
simd_binary!(
    f32,
    simd::binary_f32,
    simd::binary_scalar_rhs_f32,
    simd::binary_scalar_lhs_f32
);
simd_binary!(
    f64,
    simd::binary_f64,
    simd::binary_scalar_rhs_f64,
    simd::binary_scalar_lhs_f64
);

/// Vectorised fast path for f32/f64 add/sub/mul/div/maximum/minimum when both inputs already
/// have the compute dtype and are either contiguous with the output shape or a single element
/// (a 0-d scalar operand). Returns `None` when the generic strided loop must run instead.
fn binary_simd(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    work: DType,
    dest: Option<&Tensor>,
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
    if work == DType::F32 {
        binary_simd_typed::<f32>(sop, a, b, shape, dest)
    } else {
        binary_simd_typed::<f64>(sop, a, b, shape, dest)
    }
}

fn binary_simd_typed<T: SimdBinary>(
    sop: simd::BinaryOp,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    dest: Option<&Tensor>,
) -> Result<Option<Tensor>> {
    let (av, bv) = (CpuView::<T>::of(a)?, CpuView::<T>::of(b)?);
    let (al, bl) = (av.layout(), bv.layout());
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
    let (out, ov) = output::<T>(shape, dest)?;
    let n: usize = shape.iter().product();
    let (pa, pb, po) = (
        SendPtr(av.start() as *mut T),
        SendPtr(bv.start() as *mut T),
        SendPtr(ov.start()),
    );
    // SAFETY: the views checked their spans; full operands are contiguous runs of n elements
    // from their starts, a one-element operand has its element at its start; out is a run of n
    // elements (fresh, or an out= destination that is at most exactly one of the operands, so
    // element i is read before it is written) and chunks write disjoint ranges.
    parallel_for(n, GRAIN, |s, e| unsafe {
        let (pa, pb, po) = (pa, pb, po);
        let (a, b, o) = (pa.0 as *const T, pb.0 as *const T, po.0);
        let m = e - s;
        match kind {
            0 => T::full(sop, a.add(s), b.add(s), o.add(s), m),
            1 => T::rhs(sop, a.add(s), *b, o.add(s), m),
            _ => T::lhs(sop, *a, b.add(s), o.add(s), m),
        }
    });
    Ok(Some(out))
}

/// Bitwise `a op b` broadcast to `shape`, both converted to the integer or bool `dtype` first.
pub fn bitwise(op: BitOp, a: &Tensor, b: &Tensor, shape: &[usize], dtype: DType) -> Result<Tensor> {
    let (a, b) = (cast_if(a, dtype)?, cast_if(b, dtype)?);
    macro_rules! run {
        ($t:ty) => {{
            let av = CpuView::<$t>::of(&a)?.expand(shape)?;
            let bv = CpuView::<$t>::of(&b)?.expand(shape)?;
            let (out, o) = CpuViewMut::<$t>::fresh(shape)?;
            map2_view(&av, &bv, &o, move |x: $t, y: $t| {
                <$t as Bits>::bit(op, x, y)
            })?;
            Ok(out)
        }};
    }
    match dtype {
        DType::Bool => run!(bool),
        DType::U8 => run!(u8),
        DType::I32 => run!(i32),
        DType::I64 => run!(i64),
        other => Err(Error::runtime(format!(
            "internal error: no bitwise kernel for {}",
            other.name()
        ))),
    }
}

/// Comparison of `a` and `b` broadcast to `shape`, both converted to `dtype` first; bool out.
// The generic `x < y` closures are also instantiated for bool, where clippy prefers `!x & y`.
#[allow(clippy::bool_comparison)]
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize], dtype: DType) -> Result<Tensor> {
    let (a, b) = (cast_if(a, dtype)?, cast_if(b, dtype)?);
    let (out, o) = CpuViewMut::<bool>::fresh(shape)?;
    with_dtype!(dtype, T, {
        let av = CpuView::<T>::of(&a)?.expand(shape)?;
        let bv = CpuView::<T>::of(&b)?.expand(shape)?;
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
    let av = CpuView::<bool>::of(&a)?.expand(shape)?;
    let bv = CpuView::<bool>::of(&b)?.expand(shape)?;
    let (out, o) = CpuViewMut::<bool>::fresh(shape)?;
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
    unary_into(op, x, None)
}

/// [`unary`] writing into `dest` when given (see [`output`]).
pub fn unary_into(op: UnaryOp, x: &Tensor, dest: Option<&Tensor>) -> Result<Tensor> {
    let dt = x.dtype();
    if !dt.is_float() {
        return with_num_dtype!(
            dt,
            T,
            {
                let xv = CpuView::<T>::of(x)?;
                let (out, ov) = output::<T>(&xv.layout().shape, dest)?;
                map1_view(&xv, &ov, move |v: T| int_apply(op, v))?;
                Ok(out)
            },
            Err(Error::runtime(
                "internal error: no integer unary kernel for bool"
            ))
        );
    }
    if dt.is_half() {
        // Through the f32 SIMD kernel, rounded once (see kernels::widen).
        return cast_copy(&unary(op, &cast_copy(x, DType::F32)?)?, dt);
    }
    let src = if x.is_contiguous() {
        x.clone()
    } else {
        cast_copy(x, dt)?
    };
    match dt {
        DType::F32 => unary_simd::<f32>(op, &src, simd::unary_f32, dest),
        _ => unary_simd::<f64>(op, &src, simd::unary_f64, dest),
    }
}

/// The SIMD kernel `kernel` over a contiguous float tensor, in chunks on the pool.
fn unary_simd<T: Element>(
    op: UnaryOp,
    src: &Tensor,
    kernel: unsafe fn(UnaryOp, *const T, *mut T, usize),
    dest: Option<&Tensor>,
) -> Result<Tensor> {
    let xv = CpuView::<T>::of(src)?;
    let n = xv.layout().numel();
    if !xv.layout().is_contiguous() {
        return Err(Error::runtime(
            "internal error: the SIMD unary kernels read contiguous input",
        ));
    }
    let (out, ov) = output::<T>(&xv.layout().shape, dest)?;
    let (ip, op_) = (SendPtr(xv.start() as *mut T), SendPtr(ov.start()));
    // SAFETY: a contiguous input of n elements from its start (checked span); an output of n
    // elements (fresh, or an out= destination that is the input itself or disjoint from it);
    // chunks are disjoint.
    parallel_for(n, GRAIN, |a, b| unsafe {
        let (ip, op_) = (ip, op_);
        kernel(op, (ip.0 as *const T).add(a), op_.0.add(a), b - a)
    });
    Ok(out)
}
