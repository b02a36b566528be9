//! CPU softmax/log_softmax along one dim (numerically stable: the row max is subtracted first).
//! A contiguous input reduced over a non-last dim works on whole rows of the inner extent (no
//! transposes); other layouts move the dim last and run one row at a time.

use super::rows::{base_ptr, map_rows2};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{rows_for, unrows};
use crate::tensor::Tensor;

/// `out = exp(x - m)`, returning `sum(out)`: one fused pass for f32.
trait ExpShift: Sized {
    fn exp_shift(x: &[Self], m: Self, out: &mut [Self]) -> Self;
}

/// Per-row kernels for the two float dtypes, on the SIMD helpers.
trait SoftmaxFloat: crate::dtype::Element + ExpShift {
    fn scale(out: &mut [Self], s: Self);
    fn shift(x: &[Self], s: Self, out: &mut [Self]);
    fn row_max(x: &[Self]) -> Self;
    /// out[i] = op(a[i], b[i]); `out` may be `a` or `b`.
    fn bin(
        op: crate::cpu::simd::BinaryOp,
        a: *const Self,
        b: *const Self,
        out: *mut Self,
        n: usize,
    );
    /// In-place elementwise unary op.
    fn un(op: crate::cpu::simd::UnaryOp, x: *mut Self, n: usize);
}

macro_rules! impl_softmax_float {
    ($t:ty, $rhs:ident, $un:ident, $max:ident, $bin:ident) => {
        impl SoftmaxFloat for $t {
            fn scale(out: &mut [$t], s: $t) {
                use crate::cpu::simd::{$rhs, BinaryOp};
                // SAFETY: in place over one slice.
                unsafe { $rhs(BinaryOp::Mul, out.as_ptr(), s, out.as_mut_ptr(), out.len()) }
            }
            fn shift(x: &[$t], s: $t, out: &mut [$t]) {
                use crate::cpu::simd::{$rhs, BinaryOp};
                // SAFETY: x and out have the same length.
                unsafe { $rhs(BinaryOp::Sub, x.as_ptr(), s, out.as_mut_ptr(), x.len()) }
            }
            fn bin(
                op: crate::cpu::simd::BinaryOp,
                a: *const $t,
                b: *const $t,
                out: *mut $t,
                n: usize,
            ) {
                // SAFETY: callers pass buffers valid for n elements.
                unsafe { crate::cpu::simd::$bin(op, a, b, out, n) }
            }
            fn un(op: crate::cpu::simd::UnaryOp, x: *mut $t, n: usize) {
                // SAFETY: in place over n valid elements.
                unsafe { crate::cpu::simd::$un(op, x, x, n) }
            }
            fn row_max(x: &[$t]) -> $t {
                // SAFETY: callers pass a non-empty row; max propagates NaN.
                unsafe { crate::cpu::simd::$max(x.as_ptr(), x.len()) }
            }
        }
    };
}
impl_softmax_float!(f32, binary_scalar_rhs_f32, unary_f32, max_f32, binary_f32);
impl_softmax_float!(f64, binary_scalar_rhs_f64, unary_f64, max_f64, binary_f64);

impl ExpShift for f32 {
    fn exp_shift(x: &[f32], m: f32, out: &mut [f32]) -> f32 {
        // SAFETY: x and out have the same length.
        unsafe { crate::cpu::simd::exp_shift_sum_f32(x.as_ptr(), m, out.as_mut_ptr(), x.len()) }
    }
}

impl ExpShift for f64 {
    fn exp_shift(x: &[f64], m: f64, out: &mut [f64]) -> f64 {
        use crate::cpu::simd::{binary_scalar_rhs_f64, sum_f64, unary_f64, BinaryOp, UnaryOp};
        // SAFETY: x and out have the same length; the exp runs in place on out.
        unsafe {
            binary_scalar_rhs_f64(BinaryOp::Sub, x.as_ptr(), m, out.as_mut_ptr(), x.len());
            unary_f64(UnaryOp::Exp, out.as_ptr(), out.as_mut_ptr(), out.len());
            sum_f64(out.as_ptr(), out.len())
        }
    }
}

/// Softmax over the middle axis of a contiguous `[outer, n, inner]` tensor (a non-last dim),
/// working on whole rows of `inner` elements with per-column max/sum buffers: no transposes.
fn softmax_columns<T: SoftmaxFloat>(
    x: &Tensor,
    outer: usize,
    n: usize,
    inner: usize,
    log: bool,
) -> Result<Tensor> {
    use crate::cpu::simd::{BinaryOp, UnaryOp};
    use crate::cpu::threads::{parallel_for, SendPtr, GRAIN};
    const CHUNK: usize = 1024;
    let out = Tensor::empty(&x.shape(), x.dtype())?;
    let nchunk = inner.div_ceil(CHUNK);
    let ip = SendPtr(base_ptr::<T>(x));
    let op = SendPtr(out.storage().cpu_ptr() as *mut T);
    let grain = (GRAIN / (n * CHUNK.min(inner)).max(1)).max(1);
    parallel_for(outer * nchunk, grain, |a, b| {
        let (ip, op) = (ip, op);
        let mut m = vec![T::zero(); CHUNK.min(inner)];
        let mut s = vec![T::zero(); CHUNK.min(inner)];
        for t in a..b {
            let (o, c) = (t / nchunk, t % nchunk);
            let c0 = c * CHUNK;
            let len = CHUNK.min(inner - c0);
            let (m, s) = (&mut m[..len], &mut s[..len]);
            // SAFETY: task t reads x[o, :, c0..c0+len] and owns out[o, :, c0..c0+len].
            unsafe {
                let row = |j: usize| ip.0.add((o * n + j) * inner + c0) as *const T;
                let orow = |j: usize| op.0.add((o * n + j) * inner + c0);
                m.copy_from_slice(std::slice::from_raw_parts(row(0), len));
                for j in 1..n {
                    T::bin(BinaryOp::Maximum, m.as_ptr(), row(j), m.as_mut_ptr(), len);
                }
                // All -inf columns shift by 0 (NaN result, as PyTorch). A +inf max is kept:
                // inf - inf = NaN makes the whole column NaN, as PyTorch gives.
                for v in m.iter_mut() {
                    if v.to_f64() == f64::NEG_INFINITY {
                        *v = T::zero();
                    }
                }
                s.fill(T::zero());
                for j in 0..n {
                    T::bin(BinaryOp::Sub, row(j), m.as_ptr(), orow(j), len);
                    T::un(UnaryOp::Exp, orow(j), len);
                    T::bin(BinaryOp::Add, s.as_ptr(), orow(j), s.as_mut_ptr(), len);
                }
                if log {
                    // lse = m + ln(s); out = x - lse.
                    T::un(UnaryOp::Log, s.as_mut_ptr(), len);
                    T::bin(BinaryOp::Add, s.as_ptr(), m.as_ptr(), s.as_mut_ptr(), len);
                    for j in 0..n {
                        T::bin(BinaryOp::Sub, row(j), s.as_ptr(), orow(j), len);
                    }
                } else {
                    for j in 0..n {
                        T::bin(BinaryOp::Div, orow(j), s.as_ptr(), orow(j), len);
                    }
                }
            }
        }
    });
    Ok(out)
}

fn softmax_rows<T: SoftmaxFloat>(row: &[T], out: &mut [T], log: bool) {
    if row.is_empty() {
        return;
    }
    let mut m = T::row_max(row);
    // All -inf: shift by 0 so the result is NaN like PyTorch rather than exp(-inf - -inf). A
    // +inf max stays: inf - inf = NaN turns the row NaN, which is PyTorch's result.
    if m.to_f64() == f64::NEG_INFINITY {
        m = T::zero();
    }
    let s = T::exp_shift(row, m, out);
    if log {
        let lse = T::from_f64(m.to_f64() + s.to_f64().ln());
        T::shift(row, lse, out);
    } else {
        T::scale(out, T::from_f64(1.0 / s.to_f64()));
    }
}

/// `softmax(x, d)` (or `log_softmax`) of a float tensor with at least one dim.
pub fn softmax(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    let dtype = x.dtype();
    let shape = x.shape();
    let inner: usize = shape[d + 1..].iter().product();
    if x.is_contiguous() && inner > 1 && x.numel() > 0 {
        let outer: usize = shape[..d].iter().product();
        return match dtype {
            DType::F32 => softmax_columns::<f32>(x, outer, shape[d], inner, log),
            _ => softmax_columns::<f64>(x, outer, shape[d], inner, log),
        };
    }
    let (xr, rows, n) = rows_for(x, &[d], dtype)?;
    let out = Tensor::empty(&xr.shape(), dtype)?;
    match dtype {
        DType::F32 => map_rows2::<f32, f32, u8>(&xr, rows, n, n, &out, None, |r, o, _| {
            softmax_rows(r, o, log)
        }),
        _ => map_rows2::<f64, f64, u8>(&xr, rows, n, n, &out, None, |r, o, _| {
            softmax_rows(r, o, log)
        }),
    }
    unrows(&out, d)
}
