//! The element trait and the chunked loop skeleton shared by all kernels.
//!
//! Kernels work on fixed-size chunks copied into local arrays: the whole chunk is
//! read before anything is written, so `out` may alias an input (in-place ops)
//! without LLVM's runtime alias checks sending the loop down a scalar path. The
//! last partial chunk goes through zero-padded stack buffers, so tails use the
//! same vector code.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// Elements per chunk: 2 AVX-512 registers of f32 (4 of f64).
pub(super) const CHUNK: usize = 32;

pub(super) trait Elem:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    const ZERO: Self;
    const NAN: Self;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    /// a*b + c, fused only when `F` (hardware FMA available).
    fn mad<const F: bool>(a: Self, b: Self, c: Self) -> Self;
}

macro_rules! impl_elem {
    ($t:ty) => {
        impl Elem for $t {
            const ZERO: Self = 0.0;
            const NAN: Self = <$t>::NAN;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn mad<const F: bool>(a: Self, b: Self, c: Self) -> Self {
                if F {
                    a.mul_add(b, c)
                } else {
                    a * b + c
                }
            }
        }
    };
}
impl_elem!(f32);
impl_elem!(f64);

/// Runs `$body` once per chunk with `$inp: [T; CHUNK]` (input values) and
/// `$res: [T; CHUNK]` (to fill). Must be expanded in a direct child module of
/// `simd` inside an `unsafe` context; `$x`/`$out` valid for `$n` elements.
macro_rules! chunked {
    ($t:ty, $x:expr, $out:expr, $n:expr, |$inp:ident, $res:ident| $body:block) => {{
        #[allow(unused_imports)]
        use super::chunks::{Elem as _, CHUNK};
        let (x, out, n): (*const $t, *mut $t, usize) = ($x, $out, $n);
        let mut tail_in = [<$t>::ZERO; CHUNK];
        let mut tail_out = [<$t>::ZERO; CHUNK];
        let mut i = 0;
        while i < n {
            let m = if n - i < CHUNK { n - i } else { CHUNK };
            // SAFETY: i + m <= n, so x/out are valid for m elements at i; a full
            // chunk reads/writes the caller's memory, a partial one the local buffers.
            let (src, dst) = if m == CHUNK {
                (x.add(i), out.add(i))
            } else {
                core::ptr::copy_nonoverlapping(x.add(i), tail_in.as_mut_ptr(), m);
                (tail_in.as_ptr(), tail_out.as_mut_ptr())
            };
            let $inp: [$t; CHUNK] = core::ptr::read_unaligned(src as *const [$t; CHUNK]);
            #[allow(unused_mut)]
            let mut $res = [<$t>::ZERO; CHUNK];
            $body
            core::ptr::write_unaligned(dst as *mut [$t; CHUNK], $res);
            if m < CHUNK {
                core::ptr::copy_nonoverlapping(tail_out.as_ptr(), out.add(i), m);
            }
            i += m;
        }
    }};
}
pub(super) use chunked;

/// Elementwise form of `chunked!`: `map1!(T, x, out, n, |v| expr)`.
macro_rules! map1 {
    ($t:ty, $x:expr, $out:expr, $n:expr, |$v:ident| $e:expr) => {
        super::chunks::chunked!($t, $x, $out, $n, |inp, res| {
            for j in 0..super::chunks::CHUNK {
                let $v = inp[j];
                res[j] = $e;
            }
        })
    };
}
pub(super) use map1;

/// Two-input version: `map2!(T, a, b, out, n, |u, v| expr)`. `out` may alias a or b.
macro_rules! map2 {
    ($t:ty, $a:expr, $b:expr, $out:expr, $n:expr, |$u:ident, $v:ident| $e:expr) => {{
        #[allow(unused_imports)]
        use super::chunks::{Elem as _, CHUNK};
        let (a, b, out, n): (*const $t, *const $t, *mut $t, usize) = ($a, $b, $out, $n);
        let mut ta = [<$t>::ZERO; CHUNK];
        let mut tb = [<$t>::ZERO; CHUNK];
        let mut tout = [<$t>::ZERO; CHUNK];
        let mut i = 0;
        while i < n {
            let m = if n - i < CHUNK { n - i } else { CHUNK };
            // SAFETY: as in `chunked!`.
            let (sa, sb, dst) = if m == CHUNK {
                (a.add(i), b.add(i), out.add(i))
            } else {
                core::ptr::copy_nonoverlapping(a.add(i), ta.as_mut_ptr(), m);
                core::ptr::copy_nonoverlapping(b.add(i), tb.as_mut_ptr(), m);
                (ta.as_ptr(), tb.as_ptr(), tout.as_mut_ptr())
            };
            let ia: [$t; CHUNK] = core::ptr::read_unaligned(sa as *const [$t; CHUNK]);
            let ib: [$t; CHUNK] = core::ptr::read_unaligned(sb as *const [$t; CHUNK]);
            let mut res = [<$t>::ZERO; CHUNK];
            for j in 0..CHUNK {
                let ($u, $v) = (ia[j], ib[j]);
                res[j] = $e;
            }
            core::ptr::write_unaligned(dst as *mut [$t; CHUNK], res);
            if m < CHUNK {
                core::ptr::copy_nonoverlapping(tout.as_ptr(), out.add(i), m);
            }
            i += m;
        }
    }};
}
pub(super) use map2;
