//! CPU SIMD elementwise kernels and contiguous reductions.
//!
//! Single-threaded: callers split large arrays into chunks and run them on
//! threads. Each kernel is compiled for AVX-512, AVX2+FMA and a portable
//! baseline; the best path this CPU supports is chosen at run time (see
//! [`active_isa`]). f32 transcendentals use vectorisable polynomial versions
//! (`math_f32`); f64 ones use std/libm.

// Lane loops index several fixed-size arrays in lockstep on purpose: that is
// the shape LLVM vectorises most reliably.
#![allow(clippy::needless_range_loop)]

mod binary;
mod chunks;
mod isa;
mod math_f32;
mod math_f64;
mod ops;
mod reduce;
mod unary;

#[cfg(test)]
mod tests;

pub use isa::{active_isa, Isa};
pub use ops::{BinaryOp, UnaryOp};

/// out[i] = op(x[i]).
/// # Safety
/// `x` and `out` valid for `n` elements; `out` may equal `x` (in place) but
/// must not otherwise overlap it.
pub unsafe fn unary_f32(op: UnaryOp, x: *const f32, out: *mut f32, n: usize) {
    // SAFETY: forwarded contract; the table matches the running CPU.
    unsafe { (isa::active().unary_f32)(op, x, out, n) }
}

/// f64 version of [`unary_f32`].
/// # Safety
/// As [`unary_f32`].
pub unsafe fn unary_f64(op: UnaryOp, x: *const f64, out: *mut f64, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().unary_f64)(op, x, out, n) }
}

/// out[i] = op(a[i], b[i]).
/// # Safety
/// `a`, `b`, `out` valid for `n` elements; `out` may equal `a` or `b` but must
/// not otherwise overlap them.
pub unsafe fn binary_f32(op: BinaryOp, a: *const f32, b: *const f32, out: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().binary_f32)(op, a, b, out, n) }
}

/// f64 version of [`binary_f32`].
/// # Safety
/// As [`binary_f32`].
pub unsafe fn binary_f64(op: BinaryOp, a: *const f64, b: *const f64, out: *mut f64, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().binary_f64)(op, a, b, out, n) }
}

/// out[i] = op(a[i], s).
/// # Safety
/// `a`, `out` valid for `n` elements; `out` may equal `a`.
pub unsafe fn binary_scalar_rhs_f32(op: BinaryOp, a: *const f32, s: f32, out: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().rhs_f32)(op, a, s, out, n) }
}

/// f64 version of [`binary_scalar_rhs_f32`].
/// # Safety
/// As [`binary_scalar_rhs_f32`].
pub unsafe fn binary_scalar_rhs_f64(op: BinaryOp, a: *const f64, s: f64, out: *mut f64, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().rhs_f64)(op, a, s, out, n) }
}

/// out[i] = op(s, b[i]).
/// # Safety
/// `b`, `out` valid for `n` elements; `out` may equal `b`.
pub unsafe fn binary_scalar_lhs_f32(op: BinaryOp, s: f32, b: *const f32, out: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().lhs_f32)(op, s, b, out, n) }
}

/// f64 version of [`binary_scalar_lhs_f32`].
/// # Safety
/// As [`binary_scalar_lhs_f32`].
pub unsafe fn binary_scalar_lhs_f64(op: BinaryOp, s: f64, b: *const f64, out: *mut f64, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().lhs_f64)(op, s, b, out, n) }
}

/// a_out[i] = a_out[i] + alpha * b[i] (fused multiply-add where available).
/// # Safety
/// `b`, `a_out` valid for `n` elements; they may be equal.
pub unsafe fn axpy_f32(alpha: f32, b: *const f32, a_out: *mut f32, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().axpy_f32)(alpha, b, a_out, n) }
}

/// f64 version of [`axpy_f32`].
/// # Safety
/// As [`axpy_f32`].
pub unsafe fn axpy_f64(alpha: f64, b: *const f64, a_out: *mut f64, n: usize) {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().axpy_f64)(alpha, b, a_out, n) }
}

/// `out[i] = exp(x[i] - shift)` for n elements, returning their sum (softmax rows).
/// # Safety
/// `x` and `out` valid for `n` elements (`out` may equal `x`).
pub unsafe fn exp_shift_sum_f32(x: *const f32, shift: f32, out: *mut f32, n: usize) -> f32 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().exp_shift_sum_f32)(x, shift, out, n) }
}

/// Sum of n elements (blocked pairwise summation; 0 for n = 0).
/// # Safety
/// `x` valid for `n` elements.
pub unsafe fn sum_f32(x: *const f32, n: usize) -> f32 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().sum_f32)(x, n) }
}

/// f64 version of [`sum_f32`].
/// # Safety
/// As [`sum_f32`].
pub unsafe fn sum_f64(x: *const f64, n: usize) -> f64 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().sum_f64)(x, n) }
}

/// Maximum; NaN if any element is NaN. Callers pass n > 0 (n = 0 gives NaN).
/// # Safety
/// `x` valid for `n` elements.
pub unsafe fn max_f32(x: *const f32, n: usize) -> f32 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().max_f32)(x, n) }
}

/// f64 version of [`max_f32`].
/// # Safety
/// As [`max_f32`].
pub unsafe fn max_f64(x: *const f64, n: usize) -> f64 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().max_f64)(x, n) }
}

/// Minimum; NaN if any element is NaN. Callers pass n > 0 (n = 0 gives NaN).
/// # Safety
/// `x` valid for `n` elements.
pub unsafe fn min_f32(x: *const f32, n: usize) -> f32 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().min_f32)(x, n) }
}

/// f64 version of [`min_f32`].
/// # Safety
/// As [`min_f32`].
pub unsafe fn min_f64(x: *const f64, n: usize) -> f64 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().min_f64)(x, n) }
}

/// Dot product (blocked pairwise like [`sum_f32`]).
/// # Safety
/// `a`, `b` valid for `n` elements.
pub unsafe fn dot_f32(a: *const f32, b: *const f32, n: usize) -> f32 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().dot_f32)(a, b, n) }
}

/// f64 version of [`dot_f32`].
/// # Safety
/// As [`dot_f32`].
pub unsafe fn dot_f64(a: *const f64, b: *const f64, n: usize) -> f64 {
    // SAFETY: forwarded contract.
    unsafe { (isa::active().dot_f64)(a, b, n) }
}
