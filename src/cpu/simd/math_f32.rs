//! Branch-free f32 math written so that LLVM can vectorise a loop over it.
//!
//! Every function is `#[inline(always)]` and free of libm calls, data-dependent
//! branches and table lookups: special cases are handled with selects
//! (`if c { a } else { b }` on values, which become blends). The kernels inline
//! these into `#[target_feature]` wrappers, so one source compiles to AVX-512,
//! AVX2+FMA and portable code. `F` says whether a hardware FMA may be used; without
//! it `f32::mul_add` would become a (slow, unvectorisable) libm call.

// Polynomial coefficients are kept with the digits they were published/fitted with.
#![allow(clippy::excessive_precision)]

/// 1.5 * 2^23: adding it rounds a float with |v| < 2^22 to an integer held in
/// the low mantissa bits (round-to-nearest-even), without a float->int convert.
const MAGIC: f32 = 12_582_912.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
// Cody-Waite split of ln 2: LN2_HI has few bits so n*LN2_HI is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

#[inline(always)]
pub(super) fn mad<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn sel(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

/// 2^k for k in [-126, 127], built from exponent bits.
#[inline(always)]
fn pow2i(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// y * 2^k for k in [-151, 128]: two factors so that neither overflows and
/// results in the subnormal range are rounded only once.
#[inline(always)]
fn scale(y: f32, k: i32) -> f32 {
    let k1 = k >> 1;
    y * pow2i(k1) * pow2i(k.wrapping_sub(k1))
}

/// Range reduction for exp of (x + xlo): returns (r, n) with x + xlo = n*ln2 + r,
/// |r| <= ~ln2/2. `x` must already be clamped to a few hundred.
#[inline(always)]
fn exp_reduce<const F: bool>(x: f32, xlo: f32) -> (f32, i32) {
    let t = mad::<F>(x, LOG2E, MAGIC);
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = mad::<F>(n, -LN2_HI, x);
    let r = mad::<F>(n, -LN2_LO, r) + xlo;
    (r, ni)
}

/// e^r for |r| <= ~0.35 (Cephes expf minimax polynomial, ~1 ulp).
#[inline(always)]
fn exp_poly<const F: bool>(r: f32) -> f32 {
    let mut p = 1.987_569_1e-4;
    p = mad::<F>(p, r, 1.398_199_9e-3);
    p = mad::<F>(p, r, 8.333_452e-3);
    p = mad::<F>(p, r, 4.166_579_6e-2);
    p = mad::<F>(p, r, 1.666_666_5e-1);
    p = mad::<F>(p, r, 5.000_000_1e-1);
    mad::<F>(p, r * r, r) + 1.0
}

/// exp(x + xlo) where xlo is a small correction (used for exp(-a^2) with an exact a^2).
#[inline(always)]
fn exp_dd<const F: bool>(x: f32, xlo: f32) -> f32 {
    // Beyond these bounds the result is inf / 0 anyway; clamping keeps n in the
    // range `scale` handles, and NaN survives (comparisons are false).
    let xc = sel(x > 89.0, 89.0, x);
    let xc = sel(xc < -104.0, -104.0, xc);
    let (r, n) = exp_reduce::<F>(xc, xlo);
    scale(exp_poly::<F>(r), n)
}

#[inline(always)]
pub(super) fn exp<const F: bool>(x: f32) -> f32 {
    exp_dd::<F>(x, 0.0)
}

/// 2^x: x = n + f with n = round(x) (so f = x - n is exact), then 2^n * e^(f ln 2).
#[inline(always)]
pub(super) fn exp2<const F: bool>(x: f32) -> f32 {
    // Outside [-151, 129] the result is 0 / inf anyway; NaN passes the clamps untouched.
    let xc = sel(x > 129.0, 129.0, x);
    let xc = sel(xc < -151.0, -151.0, xc);
    let t = xc + MAGIC;
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = (xc - n) * std::f32::consts::LN_2;
    scale(exp_poly::<F>(r), ni)
}

#[inline(always)]
pub(super) fn expm1<const F: bool>(x: f32) -> f32 {
    // expm1(x) == -1 in f32 below ~-17.3, and == inf above ~88.73.
    let xc = sel(x > 89.0, 89.0, x);
    let xc = sel(xc < -30.0, -30.0, xc);
    let (r, n) = exp_reduce::<F>(xc, 0.0);
    // e^r - 1 by Taylor series to r^7 (truncation < 0.2 ulp for |r| <= ln2/2),
    // evaluated as r + r^2*p so small results keep full relative accuracy.
    let mut p = 1.0 / 5040.0;
    p = mad::<F>(p, r, 1.0 / 720.0);
    p = mad::<F>(p, r, 1.0 / 120.0);
    p = mad::<F>(p, r, 1.0 / 24.0);
    p = mad::<F>(p, r, 1.0 / 6.0);
    p = mad::<F>(p, r, 0.5);
    let em = mad::<F>(p, r * r, r);
    // 2^n*(em+1) - 1 = 2^n*em + (2^n - 1). 2^128 is not finite, so for n = 128
    // compute half of it and double at the end.
    let big = n > 127;
    let s = pow2i(n - big as i32);
    let res = mad::<F>(s, em, s - sel(big, 0.5, 1.0)) * sel(big, 2.0, 1.0);
    // keeps expm1(-0) = -0
    sel(x == 0.0, x, res)
}

/// Splits x into (k, f) with x = 2^k * (1 + f), 1+f in [sqrt(1/2), sqrt(2)).
/// Only meaningful for finite x > 0; callers patch the other cases.
#[inline(always)]
fn log_reduce(x: f32) -> (f32, f32) {
    // Subnormals: scale into the normal range first.
    let tiny = x < f32::MIN_POSITIVE;
    let xs = sel(tiny, x * 8_388_608.0, x);
    // Offsetting by (1 - sqrt(1/2))'s bit pattern makes the exponent field
    // round at sqrt(2) instead of 2 (musl's trick); no branch needed.
    let ix = xs.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = ((ix >> 23) as i32) - 0x7f - if tiny { 23 } else { 0 };
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    (k as f32, m - 1.0)
}

/// log(1+f) - f for f in [sqrt(1/2)-1, sqrt(2)-1] (Cephes logf polynomial).
#[inline(always)]
fn log1p_tail<const F: bool>(f: f32) -> f32 {
    let z = f * f;
    let mut p = 7.037_683_6e-2;
    p = mad::<F>(p, f, -1.151_461e-1);
    p = mad::<F>(p, f, 1.167_699_9e-1);
    p = mad::<F>(p, f, -1.242_014_1e-1);
    p = mad::<F>(p, f, 1.424_932_3e-1);
    p = mad::<F>(p, f, -1.666_805_8e-1);
    p = mad::<F>(p, f, 2.000_071_5e-1);
    p = mad::<F>(p, f, -2.499_999_4e-1);
    p = mad::<F>(p, f, 3.333_333_1e-1);
    mad::<F>(p, f * z, -0.5 * z)
}

/// IEEE special cases shared by log, log2, log10.
#[inline(always)]
fn log_special(x: f32, r: f32) -> f32 {
    let r = sel(x == f32::INFINITY, f32::INFINITY, r);
    let r = sel(x == 0.0, f32::NEG_INFINITY, r);
    sel(x < 0.0 || x.is_nan(), f32::NAN, r)
}

#[inline(always)]
pub(super) fn ln<const F: bool>(x: f32) -> f32 {
    let (k, f) = log_reduce(x);
    let y = mad::<F>(k, LN2_LO, log1p_tail::<F>(f));
    log_special(x, mad::<F>(k, LN2_HI, f + y))
}

#[inline(always)]
pub(super) fn log2<const F: bool>(x: f32) -> f32 {
    let (k, f) = log_reduce(x);
    // k is exact, so powers of two give exact results.
    let l = f + log1p_tail::<F>(f);
    log_special(x, mad::<F>(l, LOG2E, k))
}

#[inline(always)]
pub(super) fn log10<const F: bool>(x: f32) -> f32 {
    let (k, f) = log_reduce(x);
    let l = f + log1p_tail::<F>(f);
    let r = mad::<F>(k, std::f32::consts::LOG10_2, l * std::f32::consts::LOG10_E);
    log_special(x, r)
}

#[inline(always)]
pub(super) fn log1p<const F: bool>(x: f32) -> f32 {
    let u = 1.0 + x;
    // log(u) plus a first-order correction for the rounding error of 1 + x.
    let c = (x - (u - 1.0)) / u;
    let r = ln::<F>(u) + c;
    let r = sel(x == f32::INFINITY, f32::INFINITY, r);
    let r = sel(u == 0.0, f32::NEG_INFINITY, r);
    // keeps log1p(-0) = -0
    sel(x == 0.0, x, r)
}

#[inline(always)]
pub(super) fn tanh<const F: bool>(x: f32) -> f32 {
    // tanh(a) = expm1(2a) / (expm1(2a) + 2): accurate for tiny a as well, so no
    // separate small-argument polynomial. tanh(9.1) rounds to 1 in f32.
    let a = x.abs();
    let a = sel(a > 9.1, 9.1, a);
    let e = expm1::<F>(a + a);
    (e / (e + 2.0)).copysign(x)
}

#[inline(always)]
pub(super) fn sigmoid<const F: bool>(x: f32) -> f32 {
    // exp(-|x|) never overflows, and e/(1+e) keeps subnormal results for x << 0.
    let e = exp::<F>(-x.abs());
    let r = 1.0 / (1.0 + e);
    sel(x >= 0.0, r, e * r)
}

// erf(x) = x * P(x^2) on [0, ERF_SPLIT) (least-squares/minimax fit, ~0.6 ulp).
const ERF_SPLIT: f32 = 0.921_875;
// The x^1 coefficient is a fitted value, not exactly 2/sqrt(pi).
#[allow(clippy::approx_constant)]
#[inline(always)]
fn erf_small<const F: bool>(x: f32) -> f32 {
    let t = x * x;
    let mut p = -5.991_156_2e-4;
    p = mad::<F>(p, t, 4.993_251_5e-3);
    p = mad::<F>(p, t, -2.676_667_6e-2);
    p = mad::<F>(p, t, 1.128_181_8e-1);
    p = mad::<F>(p, t, -3.761_249_5e-1);
    p = mad::<F>(p, t, 1.128_379_1);
    x * p
}

/// Exact square of a (|a| small enough not to overflow) as hi + lo.
#[inline(always)]
fn square_dd<const F: bool>(a: f32) -> (f32, f32) {
    if F {
        let hi = a * a;
        (hi, a.mul_add(a, -hi))
    } else {
        // 12-bit high part: ah*ah is exact.
        let ah = f32::from_bits(a.to_bits() & 0xffff_f000);
        let al = a - ah;
        (ah * ah, al * (ah + a))
    }
}

/// erfc(a) for a >= ERF_SPLIT with good *relative* accuracy (gelu needs it for
/// very negative x). `sq_hi + sq_lo` must be a^2 to ~2x f32 precision, because
/// exp(-a^2) amplifies an error in a^2 by a^2.
/// erfc(a) = exp(-a^2) * g(1/a) / a with g fitted on a in [0.92, 10].
#[inline(always)]
fn erfc_tail<const F: bool>(a: f32, sq_hi: f32, sq_lo: f32) -> f32 {
    let u = 1.0 / a;
    let v = u - 0.5;
    let mut g = -9.711_294_6e-2;
    g = mad::<F>(g, v, 1.768_521_5e-1);
    g = mad::<F>(g, v, -7.140_816e-2);
    g = mad::<F>(g, v, -8.181_51e-2);
    g = mad::<F>(g, v, 1.342_448_4e-1);
    g = mad::<F>(g, v, -1.059_787_7e-1);
    g = mad::<F>(g, v, 3.960_524e-2);
    g = mad::<F>(g, v, 4.265_044_3e-2);
    g = mad::<F>(g, v, -1.087_157_1e-1);
    g = mad::<F>(g, v, 1.189_575_3e-1);
    g = mad::<F>(g, v, -3.663_385e-2);
    g = mad::<F>(g, v, -1.672_109_7e-1);
    g = mad::<F>(g, v, 5.107_913_6e-1);
    // Apply 2^n last so that the subnormal tail is rounded only once.
    let xc = sel(sq_hi > 104.0, 104.0, sq_hi);
    let (r, n) = exp_reduce::<F>(-xc, -sq_lo);
    let res = scale(exp_poly::<F>(r) * (g * u), n);
    // erfc(a) < 2^-149 / 2 beyond a = 10
    sel(a > 10.0, 0.0, res)
}

#[inline(always)]
pub(super) fn erf<const F: bool>(x: f32) -> f32 {
    let a = x.abs();
    let ac = sel(a > 10.5, 10.5, a);
    let (h, l) = square_dd::<F>(ac);
    let big = (1.0 - erfc_tail::<F>(ac, h, l)).copysign(x);
    sel(a < ERF_SPLIT, erf_small::<F>(x), big)
}

#[inline(always)]
pub(super) fn gelu<const F: bool>(x: f32) -> f32 {
    // 0.5*x*(1 + erf(t)), t = x/sqrt(2). For t < -0.92 use 1+erf(t) = erfc(-t)
    // to avoid cancellation; t^2 = x^2/2 is formed from x so it stays exact.
    let t = x * std::f32::consts::FRAC_1_SQRT_2;
    let ax = x.abs();
    let ax = sel(ax > 14.9, 14.9, ax);
    let (h, l) = square_dd::<F>(ax);
    let at = ax * std::f32::consts::FRAC_1_SQRT_2;
    let ec = erfc_tail::<F>(at, 0.5 * h, 0.5 * l);
    let one_plus_erf = sel(t > 0.0, 2.0 - ec, ec);
    let one_plus_erf = sel(t.abs() < ERF_SPLIT, 1.0 + erf_small::<F>(t), one_plus_erf);
    0.5 * x * one_plus_erf
}

#[inline(always)]
pub(super) fn gelu_tanh<const F: bool>(x: f32) -> f32 {
    // 0.5*(1 + tanh(u)) == sigmoid(2u): no cancellation for x << 0.
    const K2: f32 = 2.0 * 0.797_884_6; // 2*sqrt(2/pi)
    let u2 = K2 * mad::<F>(0.044_715 * x, x * x, x);
    x * sigmoid::<F>(u2)
}

#[inline(always)]
pub(super) fn silu<const F: bool>(x: f32) -> f32 {
    x * sigmoid::<F>(x)
}

/// |x| above which sin/cos/tan are recomputed in f64 (the 3-part pi/2 below
/// only gives exact products for |n| < 2^13).
pub(super) const TRIG_MAX: f32 = 8192.0;

/// Returns (sin(r), cos(r), quadrant) with x = quadrant*pi/2 + r.
#[inline(always)]
fn sincos_reduce<const F: bool>(x: f32) -> (f32, f32, u32) {
    // pi/2 split into 3 parts with trailing zeros (Cephes' DP1..3, doubled).
    const DP1: f32 = 0.785_156_25 * 2.0;
    const DP2: f32 = 2.418_756_5e-4 * 2.0;
    const DP3: f32 = 3.774_895e-8 * 2.0;
    let t = mad::<F>(x, std::f32::consts::FRAC_2_PI, MAGIC);
    let n = t - MAGIC;
    let q = t.to_bits();
    let r = mad::<F>(n, -DP1, x);
    let r = mad::<F>(n, -DP2, r);
    let r = mad::<F>(n, -DP3, r);
    let z = r * r;
    // Cephes sinf/cosf polynomials on [-pi/4, pi/4].
    let mut ps = -1.951_529_6e-4;
    ps = mad::<F>(ps, z, 8.332_161e-3);
    ps = mad::<F>(ps, z, -1.666_665_5e-1);
    let s = mad::<F>(ps * z, r, r);
    let mut pc = 2.443_315_7e-5;
    pc = mad::<F>(pc, z, -1.388_731_6e-3);
    pc = mad::<F>(pc, z, 4.166_664_6e-2);
    let c = mad::<F>(pc * z, z, mad::<F>(-0.5, z, 1.0));
    (s, c, q)
}

/// Flips the sign of v when bit 1 of q is set (quadrants 2 and 3).
#[inline(always)]
fn flip(v: f32, q: u32) -> f32 {
    f32::from_bits(v.to_bits() ^ ((q & 2) << 30))
}

#[inline(always)]
pub(super) fn sin<const F: bool>(x: f32) -> f32 {
    let (s, c, q) = sincos_reduce::<F>(x);
    let v = flip(sel(q & 1 != 0, c, s), q);
    sel(x == 0.0, x, v)
}

#[inline(always)]
pub(super) fn cos<const F: bool>(x: f32) -> f32 {
    let (s, c, q) = sincos_reduce::<F>(x);
    let q = q.wrapping_add(1);
    flip(sel(q & 1 != 0, c, s), q)
}

#[inline(always)]
pub(super) fn tan<const F: bool>(x: f32) -> f32 {
    let (s, c, q) = sincos_reduce::<F>(x);
    let v = sel(q & 1 != 0, -c / s, s / c);
    sel(x == 0.0, x, v)
}

const TWO23: f32 = 8_388_608.0;

/// Round half to even. Floats with |x| >= 2^23 (and inf/NaN) are already integral.
#[inline(always)]
pub(super) fn round_even(x: f32) -> f32 {
    let a = x.abs();
    // With the default rounding mode this addition rounds to an integer.
    let r = (a + TWO23) - TWO23;
    sel(a < TWO23, r.copysign(x), x)
}

#[inline(always)]
pub(super) fn trunc(x: f32) -> f32 {
    let a = x.abs();
    let r = (a + TWO23) - TWO23;
    let r = sel(r > a, r - 1.0, r);
    sel(a < TWO23, r.copysign(x), x)
}

#[inline(always)]
pub(super) fn floor(x: f32) -> f32 {
    let t = trunc(x);
    sel(t > x, t - 1.0, t)
}

#[inline(always)]
pub(super) fn ceil(x: f32) -> f32 {
    let t = trunc(x);
    sel(t < x, t + 1.0, t)
}
