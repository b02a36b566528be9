//! Per-dtype arithmetic with PyTorch's semantics: integers wrap on overflow (never panic),
//! division/remainder round like Python's `//` and `%`, floats propagate NaN through max/min.

use crate::dtype::Element;
use crate::ops::{BinaryOp, BitOp};

pub trait Num: Element {
    fn add(a: Self, b: Self) -> Self;
    fn sub(a: Self, b: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    /// Division in this dtype (integers truncate; callers check for zero divisors first).
    fn div(a: Self, b: Self) -> Self;
    fn floor_div(a: Self, b: Self) -> Self;
    /// Python-style remainder: the sign follows the divisor.
    fn rem(a: Self, b: Self) -> Self;
    fn maximum(a: Self, b: Self) -> Self;
    fn minimum(a: Self, b: Self) -> Self;
    fn pow(a: Self, b: Self) -> Self;
    fn neg(a: Self) -> Self;
    fn abs(a: Self) -> Self;
    fn is_nan(a: Self) -> bool;
}

macro_rules! int_num {
    ($t:ty) => {
        impl Num for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                if b == 0 {
                    0
                } else {
                    a.wrapping_div(b)
                }
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let q = a.wrapping_div(b);
                #[allow(unused_comparisons)]
                if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let r = a.wrapping_rem(b);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (b < 0)) {
                    r.wrapping_add(b)
                } else {
                    r
                }
            }
            #[inline(always)]
            fn maximum(a: Self, b: Self) -> Self {
                if a > b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn minimum(a: Self, b: Self) -> Self {
                if a < b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                #[allow(unused_comparisons)]
                if b < 0 {
                    // Integer x**negative truncates 1/x^|b| as PyTorch does: 1 for x == 1,
                    // +-1 for x == -1 (by the exponent's parity), else 0. (A negative *scalar*
                    // exponent is refused before the kernel runs.)
                    let minus_one = (0 as Self).wrapping_sub(1);
                    return if a == 1 {
                        1
                    } else if a == minus_one {
                        if b & 1 == 1 {
                            minus_one
                        } else {
                            1
                        }
                    } else {
                        0
                    };
                }
                let mut r: Self = 1;
                let mut base = a;
                let mut e = b;
                while e > 0 {
                    if e & 1 == 1 {
                        r = r.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                r
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                (0 as $t).wrapping_sub(a)
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn abs(a: Self) -> Self {
                if a < 0 {
                    (0 as $t).wrapping_sub(a)
                } else {
                    a
                }
            }
            #[inline(always)]
            fn is_nan(_a: Self) -> bool {
                false
            }
        }
    };
}
int_num!(u8);
int_num!(i32);
int_num!(i64);

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a + b
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a - b
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a * b
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                a / b
            }
            #[inline(always)]
            fn floor_div(a: Self, b: Self) -> Self {
                (a / b).floor()
            }
            #[inline(always)]
            fn rem(a: Self, b: Self) -> Self {
                let r = a % b;
                if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                    r + b
                } else {
                    r
                }
            }
            #[inline(always)]
            fn maximum(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() {
                    <$t>::NAN
                } else if a > b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn minimum(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() {
                    <$t>::NAN
                } else if a < b {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn pow(a: Self, b: Self) -> Self {
                a.powf(b)
            }
            #[inline(always)]
            fn neg(a: Self) -> Self {
                -a
            }
            #[inline(always)]
            fn abs(a: Self) -> Self {
                a.abs()
            }
            #[inline(always)]
            fn is_nan(a: Self) -> bool {
                a.is_nan()
            }
        }
    };
}
float_num!(f32);
float_num!(f64);

/// One element of a transcendental binary op (`BinaryOp::Atan2` ... `Xlogy`) in f64, with
/// PyTorch's special cases. f32 kernels round the result once.
#[inline(always)]
pub fn float_binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Atan2 => a.atan2(b),
        BinaryOp::Hypot => a.hypot(b),
        BinaryOp::Copysign => a.copysign(b),
        BinaryOp::Logaddexp | BinaryOp::Logaddexp2 => {
            // Equal infinities: log(e^inf + e^inf) = inf, log(0 + 0) = -inf (no inf - inf).
            if a.is_infinite() && a == b {
                return a;
            }
            let m = if a > b { a } else { b };
            let d = -(a - b).abs();
            if op == BinaryOp::Logaddexp {
                m + d.exp().ln_1p()
            } else {
                m + d.exp2().ln_1p() / std::f64::consts::LN_2
            }
        }
        BinaryOp::Xlogy => {
            if b.is_nan() {
                f64::NAN
            } else if a == 0.0 {
                0.0
            } else {
                a * b.ln()
            }
        }
        _ => f64::NAN,
    }
}

/// Bitwise ops per integer dtype, with PyTorch's shift rules: a left shift by a negative amount
/// or by the bit width or more is 0; a right shift by a negative amount or by at least
/// `bits - signed` shifts by that many (leaving 0 or, for negative values, -1).
pub trait Bits: Element {
    fn bit(op: BitOp, a: Self, b: Self) -> Self;
}

macro_rules! int_bits {
    ($t:ty, $signed:expr) => {
        impl Bits for $t {
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn bit(op: BitOp, a: Self, b: Self) -> Self {
                const BITS: $t = (std::mem::size_of::<$t>() * 8) as $t;
                let neg = b < 0;
                match op {
                    BitOp::And => a & b,
                    BitOp::Or => a | b,
                    BitOp::Xor => a ^ b,
                    BitOp::Shl => {
                        if neg || b >= BITS {
                            0
                        } else {
                            a.wrapping_shl(b as u32)
                        }
                    }
                    BitOp::Shr => {
                        let max = BITS - $signed;
                        let s = if neg || b >= max { max } else { b };
                        // Unsigned: shifting out every bit leaves 0 (`>>` by BITS would overflow).
                        if s >= BITS {
                            0
                        } else {
                            a >> s as u32
                        }
                    }
                }
            }
        }
    };
}
int_bits!(u8, 0);
int_bits!(i32, 1);
int_bits!(i64, 1);

impl Bits for bool {
    #[inline(always)]
    fn bit(op: BitOp, a: Self, b: Self) -> Self {
        match op {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            // Shifts on bool are refused before a kernel runs.
            BitOp::Xor | BitOp::Shl | BitOp::Shr => a ^ b,
        }
    }
}

/// Float-only math used by unary kernels and their backward rules.
pub trait Float: Num {
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn from_f(v: f64) -> Self;
}

macro_rules! float_impl {
    ($t:ty) => {
        impl Float for $t {
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn from_f(v: f64) -> Self {
                v as $t
            }
        }
    };
}
float_impl!(f32);
float_impl!(f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(i64::floor_div(-7, 2), -4);
        assert_eq!(i64::rem(-7, 2), 1);
        assert_eq!(i64::rem(7, -2), -1);
        assert_eq!(f64::rem(-7.0, 2.0), 1.0);
        assert_eq!(i64::pow(3, 4), 81);
        assert_eq!(u8::add(250, 10), 4);
        assert!(<f32 as Num>::maximum(f32::NAN, 1.0).is_nan());
    }
}
