//! Unary kernels. Each is `#[inline(always)]` so it is compiled separately into
//! every ISA wrapper in `isa.rs`; the op `match` sits outside the element loops.

use super::chunks::{chunked, map1, CHUNK};
use super::math_f32 as m;
use super::math_f64 as m64;
use super::ops::UnaryOp;

/// Largest |p| for which PowScalar uses repeated squaring (in f64 for f32 data,
/// where the error stays far below an f32 ulp).
const POWI_MAX_F32: f64 = (1u64 << 20) as f64;
/// For f64 data repeated squaring loses ~log2(p) bits; keep it to small p.
const POWI_MAX_F64: f64 = 4.0;

/// Recomputes lanes of a chunk whose input is outside the fast path's domain
/// (rare: huge trig arguments, inf, NaN) with the f64 libm function.
#[inline(always)]
fn patch_large(inp: &[f32; CHUNK], res: &mut [f32; CHUNK], bound: f32, f: fn(f64) -> f64) {
    // Max of |v| as bits: an integer reduction vectorises cleanly on every ISA,
    // and inf/NaN bit patterns compare above any finite bound.
    let mut mx = 0u32;
    for v in inp {
        mx = mx.max(v.to_bits() & 0x7fff_ffff);
    }
    if mx > bound.to_bits() {
        patch_cold(inp, res, bound, f);
    }
}

#[cold]
#[inline(never)]
fn patch_cold(inp: &[f32; CHUNK], res: &mut [f32; CHUNK], bound: f32, f: fn(f64) -> f64) {
    for (r, v) in res.iter_mut().zip(inp) {
        if v.is_nan() || v.abs() > bound {
            *r = f(*v as f64) as f32;
        }
    }
}

/// # Safety
/// `x` and `out` valid for `n` elements (`out` may equal `x`).
#[inline(always)]
pub(super) unsafe fn unary_f32<const F: bool>(op: UnaryOp, x: *const f32, out: *mut f32, n: usize) {
    use UnaryOp as U;
    macro_rules! map {
        (|$v:ident| $e:expr) => {
            map1!(f32, x, out, n, |$v| $e)
        };
    }
    macro_rules! trig {
        ($fast:path, $slow:path) => {
            chunked!(f32, x, out, n, |inp, res| {
                for j in 0..CHUNK {
                    res[j] = $fast(inp[j]);
                }
                patch_large(&inp, &mut res, m::TRIG_MAX, $slow);
            })
        };
    }
    // SAFETY (all arms): forwarded caller contract.
    unsafe {
        match op {
            U::Neg => map!(|v| -v),
            U::Abs => map!(|v| v.abs()),
            U::Exp => map!(|v| m::exp::<F>(v)),
            U::Log => map!(|v| m::ln::<F>(v)),
            U::Log2 => map!(|v| m::log2::<F>(v)),
            U::Log10 => map!(|v| m::log10::<F>(v)),
            U::Log1p => map!(|v| m::log1p::<F>(v)),
            U::Expm1 => map!(|v| m::expm1::<F>(v)),
            U::Sqrt => map!(|v| v.sqrt()),
            // 1/sqrt (not the approximate rsqrt instruction): rsqrt(0) = inf.
            U::Rsqrt => map!(|v| 1.0 / v.sqrt()),
            U::Sin => trig!(m::sin::<F>, f64::sin),
            U::Cos => trig!(m::cos::<F>, f64::cos),
            U::Tan => trig!(m::tan::<F>, f64::tan),
            U::Tanh => map!(|v| m::tanh::<F>(v)),
            U::Sigmoid => map!(|v| m::sigmoid::<F>(v)),
            // `v < 0 ? 0 : v` keeps NaN (torch.relu(nan) = nan).
            U::Relu => map!(|v| if v < 0.0 { 0.0 } else { v }),
            U::Gelu => map!(|v| m::gelu::<F>(v)),
            U::GeluTanh => map!(|v| m::gelu_tanh::<F>(v)),
            U::Silu => map!(|v| m::silu::<F>(v)),
            U::Erf => map!(|v| m::erf::<F>(v)),
            U::Floor => map!(|v| m::floor(v)),
            U::Ceil => map!(|v| m::ceil(v)),
            U::Round => map!(|v| m::round_even(v)),
            U::Trunc => map!(|v| m::trunc(v)),
            U::Frac => map!(|v| v - m::trunc(v)),
            U::Exp2 => map!(|v| m::exp2::<F>(v)),
            // The inverse and hyperbolic functions go through f64 libm: one rounding to f32
            // gives the correctly rounded result almost always.
            U::Acos => map!(|v| (v as f64).acos() as f32),
            U::Asin => map!(|v| (v as f64).asin() as f32),
            U::Atan => map!(|v| (v as f64).atan() as f32),
            U::Acosh => map!(|v| (v as f64).acosh() as f32),
            U::Asinh => map!(|v| (v as f64).asinh() as f32),
            U::Atanh => map!(|v| (v as f64).atanh() as f32),
            U::Sinh => map!(|v| (v as f64).sinh() as f32),
            U::Cosh => map!(|v| (v as f64).cosh() as f32),
            U::Reciprocal => map!(|v| 1.0 / v),
            U::Square => map!(|v| v * v),
            // PyTorch computes (0 < x) - (x < 0), so sign(NaN) = 0 (pytorch#41245).
            U::Sign => map!(|v| if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }),
            U::LeakyRelu(s) => {
                let s = s as f32;
                map!(|v| if v > 0.0 { v } else { v * s })
            }
            U::Elu(alpha) => {
                let alpha = alpha as f32;
                // torch: x <= 0 ? alpha*expm1(x) : x (NaN -> NaN either way)
                map!(|v| if v > 0.0 { v } else { alpha * m::expm1::<F>(v) })
            }
            U::Softplus(beta, threshold) => {
                let (beta, th) = (beta as f32, threshold as f32);
                map!(|v| {
                    let bx = v * beta;
                    let sp = m::log1p::<F>(m::exp::<F>(bx)) / beta;
                    if bx > th {
                        v
                    } else {
                        sp
                    }
                })
            }
            U::Clamp(lo, hi) => {
                if lo.is_nan() || hi.is_nan() {
                    map!(|_v| f32::NAN)
                } else {
                    let (lo, hi) = (lo as f32, hi as f32);
                    // min(max(x, lo), hi) like torch (hi wins if lo > hi); NaN x stays NaN.
                    map!(|v| {
                        let t = if v < lo { lo } else { v };
                        if t > hi {
                            hi
                        } else {
                            t
                        }
                    })
                }
            }
            U::PowScalar(p) => pow_scalar_f32(p, x, out, n),
            U::AddScalar(s) => {
                let s = s as f32;
                map!(|v| v + s)
            }
            U::MulScalar(s) => {
                let s = s as f32;
                map!(|v| v * s)
            }
            U::RsubScalar(s) => {
                let s = s as f32;
                map!(|v| s - v)
            }
            U::RdivScalar(s) => {
                let s = s as f32;
                map!(|v| s / v)
            }
        }
    }
}

/// Same fast paths as PyTorch's pow_tensor_scalar (2, 3 -> products, 0.5 ->
/// sqrt, -0.5 -> rsqrt, -1 -> reciprocal), so e.g. pow(-inf, 0.5) = NaN as in torch.
#[inline(always)]
unsafe fn pow_scalar_f32(p: f64, x: *const f32, out: *mut f32, n: usize) {
    // SAFETY (all arms): forwarded caller contract.
    unsafe {
        if p == 2.0 {
            map1!(f32, x, out, n, |v| v * v)
        } else if p == 0.5 {
            map1!(f32, x, out, n, |v| v.sqrt())
        } else if p == -0.5 {
            map1!(f32, x, out, n, |v| 1.0 / v.sqrt())
        } else if p == -1.0 {
            map1!(f32, x, out, n, |v| 1.0 / v)
        } else if p.fract() == 0.0 && p.abs() <= POWI_MAX_F32 {
            // Repeated squaring over whole chunks (bit loop outside, lane loop inside
            // so the lane loop vectorises), in f64 so rounding stays < 1 f32 ulp.
            let neg = p < 0.0;
            let e0 = p.abs() as u64;
            chunked!(f32, x, out, n, |inp, res| {
                let mut base = [0.0f64; CHUNK];
                let mut acc = [1.0f64; CHUNK];
                for j in 0..CHUNK {
                    base[j] = inp[j] as f64;
                }
                let mut e = e0;
                while e > 0 {
                    if e & 1 == 1 {
                        for j in 0..CHUNK {
                            acc[j] *= base[j];
                        }
                    }
                    for j in 0..CHUNK {
                        base[j] *= base[j];
                    }
                    e >>= 1;
                }
                for j in 0..CHUNK {
                    res[j] = (if neg { 1.0 / acc[j] } else { acc[j] }) as f32;
                }
            })
        } else {
            // General exponent: libm pow in f64 (correct special cases, < 1 ulp).
            map1!(f32, x, out, n, |v| (v as f64).powf(p) as f32)
        }
    }
}

/// f64 unary ops. Simple ops vectorise; transcendentals use std (libm) per
/// element, which keeps full double accuracy.
///
/// # Safety
/// `x` and `out` valid for `n` elements (`out` may equal `x`).
#[inline(always)]
pub(super) unsafe fn unary_f64<const F: bool>(op: UnaryOp, x: *const f64, out: *mut f64, n: usize) {
    use UnaryOp as U;
    macro_rules! map {
        (|$v:ident| $e:expr) => {
            map1!(f64, x, out, n, |$v| $e)
        };
    }
    // SAFETY (all arms): forwarded caller contract.
    unsafe {
        match op {
            U::Neg => map!(|v| -v),
            U::Abs => map!(|v| v.abs()),
            U::Exp => map!(|v| v.exp()),
            U::Log => map!(|v| v.ln()),
            U::Log2 => map!(|v| v.log2()),
            U::Log10 => map!(|v| v.log10()),
            U::Log1p => map!(|v| v.ln_1p()),
            U::Expm1 => map!(|v| v.exp_m1()),
            U::Sqrt => map!(|v| v.sqrt()),
            U::Rsqrt => map!(|v| 1.0 / v.sqrt()),
            U::Sin => map!(|v| v.sin()),
            U::Cos => map!(|v| v.cos()),
            U::Tan => map!(|v| v.tan()),
            U::Tanh => map!(|v| v.tanh()),
            U::Sigmoid => map!(|v| m64::sigmoid(v)),
            U::Relu => map!(|v| if v < 0.0 { 0.0 } else { v }),
            U::Gelu => map!(|v| m64::gelu(v)),
            U::GeluTanh => map!(|v| m64::gelu_tanh(v)),
            U::Silu => map!(|v| v * m64::sigmoid(v)),
            U::Erf => map!(|v| m64::erf(v)),
            U::Floor => map!(|v| v.floor()),
            U::Ceil => map!(|v| v.ceil()),
            U::Round => map!(|v| v.round_ties_even()),
            U::Trunc => map!(|v| v.trunc()),
            U::Frac => map!(|v| v - v.trunc()),
            U::Exp2 => map!(|v| v.exp2()),
            U::Acos => map!(|v| v.acos()),
            U::Asin => map!(|v| v.asin()),
            U::Atan => map!(|v| v.atan()),
            U::Acosh => map!(|v| v.acosh()),
            U::Asinh => map!(|v| v.asinh()),
            U::Atanh => map!(|v| v.atanh()),
            U::Sinh => map!(|v| v.sinh()),
            U::Cosh => map!(|v| v.cosh()),
            U::Reciprocal => map!(|v| 1.0 / v),
            U::Square => map!(|v| v * v),
            // sign(NaN) = 0 like PyTorch, see the f32 version.
            U::Sign => map!(|v| if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }),
            U::LeakyRelu(s) => map!(|v| if v > 0.0 { v } else { v * s }),
            U::Elu(alpha) => map!(|v| if v > 0.0 { v } else { alpha * v.exp_m1() }),
            U::Softplus(beta, th) => map!(|v| {
                let bx = v * beta;
                if bx > th {
                    v
                } else {
                    bx.exp().ln_1p() / beta
                }
            }),
            U::Clamp(lo, hi) => {
                if lo.is_nan() || hi.is_nan() {
                    map!(|_v| f64::NAN)
                } else {
                    map!(|v| {
                        let t = if v < lo { lo } else { v };
                        if t > hi {
                            hi
                        } else {
                            t
                        }
                    })
                }
            }
            U::PowScalar(p) => {
                if p == 2.0 {
                    map!(|v| v * v)
                } else if p == 0.5 {
                    map!(|v| v.sqrt())
                } else if p == -0.5 {
                    map!(|v| 1.0 / v.sqrt())
                } else if p == -1.0 {
                    map!(|v| 1.0 / v)
                } else if p.fract() == 0.0 && p.abs() <= POWI_MAX_F64 {
                    let pi = p as i64;
                    map!(|v| m64::powi(v, pi))
                } else {
                    map!(|v| v.powf(p))
                }
            }
            U::AddScalar(s) => map!(|v| v + s),
            U::MulScalar(s) => map!(|v| v * s),
            U::RsubScalar(s) => map!(|v| s - v),
            U::RdivScalar(s) => map!(|v| s / v),
        }
    }
    let _ = F; // f64 kernels do not need the FMA flag yet
}

/// `out[i] = exp(x[i] - shift)`, returning the sum of the results: softmax's numerator and
/// denominator in one pass over the row instead of three (subtract, exp, sum).
/// # Safety
/// `x` and `out` valid for `n` elements (`out` may equal `x`).
#[inline(always)]
pub(super) unsafe fn exp_shift_sum_f32<const F: bool>(
    x: *const f32,
    shift: f32,
    out: *mut f32,
    n: usize,
) -> f32 {
    let full = n / CHUNK * CHUNK;
    let mut acc = [0f32; CHUNK];
    // SAFETY (both loops): forwarded caller contract; full <= n.
    unsafe {
        chunked!(f32, x, out, full, |inp, res| {
            for j in 0..CHUNK {
                res[j] = m::exp::<F>(inp[j] - shift);
                acc[j] += res[j];
            }
        });
        let mut total = acc.iter().sum::<f32>();
        for i in full..n {
            let e = m::exp::<F>(*x.add(i) - shift);
            *out.add(i) = e;
            total += e;
        }
        total
    }
}
