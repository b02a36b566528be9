//! Binary kernels (tensor-tensor, tensor-scalar, scalar-tensor) and axpy.
//! The op is a const generic so each instantiation's inner loop is branch-free.

use super::chunks::{map1, map2, Elem};
use super::ops::BinaryOp;

const ADD: u8 = 0;
const SUB: u8 = 1;
const MUL: u8 = 2;
const DIV: u8 = 3;
const MAX: u8 = 4;
const MIN: u8 = 5;
const POW: u8 = 6;
const ATAN2: u8 = 7;

#[inline(always)]
fn apply<T: Elem, const OP: u8>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // x != x is the NaN test that works for any Elem
    match OP {
        ADD => a + b,
        SUB => a - b,
        MUL => a * b,
        DIV => a / b,
        // a + b is NaN iff either is NaN: NaN-propagating like torch.maximum.
        MAX => {
            let m = if a > b { a } else { b };
            if a != a || b != b {
                a + b
            } else {
                m
            }
        }
        MIN => {
            let m = if a < b { a } else { b };
            if a != a || b != b {
                a + b
            } else {
                m
            }
        }
        // libm in f64: exact special cases (pow(x, 0) = 1, pow(1, y) = 1, ...).
        POW => T::from_f64(a.to_f64().powf(b.to_f64())),
        _ => T::from_f64(a.to_f64().atan2(b.to_f64())),
    }
}

macro_rules! dispatch {
    ($op:expr, $f:ident, $t:ty, ($($arg:expr),*)) => {
        match $op {
            BinaryOp::Add => $f::<$t, ADD>($($arg),*),
            BinaryOp::Sub => $f::<$t, SUB>($($arg),*),
            BinaryOp::Mul => $f::<$t, MUL>($($arg),*),
            BinaryOp::Div => $f::<$t, DIV>($($arg),*),
            BinaryOp::Maximum => $f::<$t, MAX>($($arg),*),
            BinaryOp::Minimum => $f::<$t, MIN>($($arg),*),
            BinaryOp::Pow => $f::<$t, POW>($($arg),*),
            BinaryOp::Atan2 => $f::<$t, ATAN2>($($arg),*),
        }
    };
}

#[inline(always)]
unsafe fn vv<T: Elem, const OP: u8>(a: *const T, b: *const T, out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { map2!(T, a, b, out, n, |u, v| apply::<T, OP>(u, v)) }
}

#[inline(always)]
unsafe fn vs<T: Elem, const OP: u8>(a: *const T, s: T, out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { map1!(T, a, out, n, |v| apply::<T, OP>(v, s)) }
}

#[inline(always)]
unsafe fn sv<T: Elem, const OP: u8>(s: T, b: *const T, out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { map1!(T, b, out, n, |v| apply::<T, OP>(s, v)) }
}

/// # Safety
/// `a`, `b`, `out` valid for `n` elements; `out` may equal `a` or `b`.
#[inline(always)]
pub(super) unsafe fn binary<T: Elem>(
    op: BinaryOp,
    a: *const T,
    b: *const T,
    out: *mut T,
    n: usize,
) {
    // SAFETY: forwarded caller contract.
    unsafe { dispatch!(op, vv, T, (a, b, out, n)) }
}

/// out[i] = op(a[i], s).
/// # Safety
/// `a`, `out` valid for `n` elements; `out` may equal `a`.
#[inline(always)]
pub(super) unsafe fn binary_rhs<T: Elem>(op: BinaryOp, a: *const T, s: T, out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { dispatch!(op, vs, T, (a, s, out, n)) }
}

/// out[i] = op(s, b[i]).
/// # Safety
/// `b`, `out` valid for `n` elements; `out` may equal `b`.
#[inline(always)]
pub(super) unsafe fn binary_lhs<T: Elem>(op: BinaryOp, s: T, b: *const T, out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { dispatch!(op, sv, T, (s, b, out, n)) }
}

/// a_out[i] += alpha * b[i] (fused when the ISA has FMA).
/// # Safety
/// `b`, `a_out` valid for `n` elements; they may alias.
#[inline(always)]
pub(super) unsafe fn axpy<T: Elem, const F: bool>(alpha: T, b: *const T, a_out: *mut T, n: usize) {
    // SAFETY: forwarded caller contract.
    unsafe { map2!(T, a_out, b, a_out, n, |u, v| T::mad::<F>(alpha, v, u)) }
}
