//! The number-crunching half of the CPU random streams: the transformations PyTorch's CPU
//! generator applies to its Mersenne Twister output, reproduced to the bit.
//!
//! The raw 32-bit stream (mt19937) and the bookkeeping of which draw goes where live in
//! `python/rustgrad/_random.py`; these kernels turn already-drawn uniforms into the values
//! PyTorch computes from them. Two things decide the last bit and are therefore copied exactly:
//!
//! * PyTorch's CPU kernels are compiled with GCC's default floating-point contraction, so
//!   `x * a + b` is one fused multiply-add there; here it is `mul_add` (an exact FMA whether or
//!   not the CPU has the instruction).
//! * float32 `normal_` on contiguous tensors of at least 16 elements goes through an AVX2
//!   Box-Muller whose log and sincos are Cephes-style polynomials (`avx_mathfun.h`, after Julien
//!   Pommier's `sse_mathfun`), not libm. [`log_cephes`] and [`sincos_cephes`] evaluate the same
//!   polynomials with the same fused steps, one lane at a time. The float64 path (and the small
//!   or strided path) call libm (`log`, `log1p`, `sin`, `cos`), which is what Rust's `f64`
//!   methods lower to on Linux, as PyTorch's do.
//!
//! The polynomial constants are written with the digits of the reference so their float
//! values are the same ones.
#![allow(clippy::excessive_precision)]

use super::threads::{num_threads, parallel_for, SendPtr, GRAIN};

/// `2 * pi` as PyTorch's AVX2 kernel holds it: the double constant rounded to float.
const TWO_PI_F32: f32 = (2.0f64 * std::f64::consts::PI) as f32;

/// Natural log of a positive float by the Cephes polynomial of `avx_mathfun.h::log256_ps`.
///
/// Valid for `x` in (0, 1] (the Box-Muller radius only needs that); the fused steps are the ones
/// GCC forms from the intrinsic sequence (each `y * x + p` of the polynomial, `y * z + e * q1`
/// with the product `y * z` fused, and the final `x + e * q2`).
#[inline(always)]
pub fn log_cephes(x: f32) -> f32 {
    let bits = x.max(f32::from_bits(0x0080_0000)).to_bits();
    // Exponent and mantissa in [0.5, 1): x = m * 2^e.
    let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
    let mut m = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
    // Below sqrt(1/2) use 2m - 1 and one exponent less, so the polynomial argument stays small.
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    let extra = if small { m } else { 0.0 };
    m -= 1.0;
    if small {
        e -= 1.0;
    }
    m += extra;
    let z = m * m;
    const P: [f32; 9] = [
        7.0376836292E-2,
        -1.1514610310E-1,
        1.1676998740E-1,
        -1.2420140846E-1,
        1.4249322787E-1,
        -1.6668057665E-1,
        2.0000714765E-1,
        -2.4999993993E-1,
        3.3333331174E-1,
    ];
    let mut y = P[0];
    for &p in &P[1..] {
        y = y.mul_add(m, p);
    }
    let ym = y * m;
    let mut y = ym.mul_add(z, e * -2.12194440e-4);
    y -= z * 0.5; // (exact: z * 0.5 is a power-of-two scaling)
    let r = m + y;
    e.mul_add(0.693359375, r)
}

/// `(sin x, cos x)` for `x >= 0` by the Cephes polynomials of `avx_mathfun.h::sincos256_ps`
/// (octant reduction by 4/pi, three-part extended-precision subtraction, one polynomial per
/// octant pair), with GCC's fused steps.
#[inline(always)]
pub fn sincos_cephes(x0: f32) -> (f32, f32) {
    let sign_in = x0.to_bits() & 0x8000_0000;
    let mut x = f32::from_bits(x0.to_bits() & 0x7fff_ffff);
    // Octant index rounded up to even (the Cephes `j = (j + 1) & ~1`).
    let j = (((x * 1.27323954473516_f32) as i32) + 1) & !1;
    let jf = j as f32;
    let swap_sin = ((j & 4) as u32) << 29;
    let sin_uses_sine_poly = (j & 2) == 0;
    let sign_cos = ((!(j - 2) & 4) as u32) << 29;
    x = jf.mul_add(-0.78515625, x);
    x = jf.mul_add(-2.4187564849853515625e-4, x);
    x = jf.mul_add(-3.77489497744594108e-8, x);
    let z = x * x;
    // Cosine polynomial; GCC fuses the last `* z` into the `- z * 0.5`.
    let mut c = 2.443315711809948e-5_f32.mul_add(z, -1.388731625493765e-3);
    c = c.mul_add(z, 4.166664568298827e-2);
    c = (c * z).mul_add(z, -(z * 0.5));
    c += 1.0;
    // Sine polynomial.
    let mut s = (-1.9515295891e-4_f32).mul_add(z, 8.3321608736e-3);
    s = s.mul_add(z, -1.6666654611e-1);
    s = (s * z).mul_add(x, x);
    let (sv, cv) = if sin_uses_sine_poly { (s, c) } else { (c, s) };
    (
        f32::from_bits(sv.to_bits() ^ sign_in ^ swap_sin),
        f32::from_bits(cv.to_bits() ^ sign_cos),
    )
}

/// Whether `mul_add` may be compiled to the FMA instruction (x86_64 needs the run-time check;
/// elsewhere `mul_add` is already the hardware instruction or an exact libm call).
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Run `body` on `data` split into blocks of `block` elements (a multiple of 16), on the
/// thread pool when large. Every element depends only on its own block, so the split does not
/// change the values.
fn blocks<T: Send>(data: &mut [T], block: usize, body: impl Fn(&mut [T]) + Sync + Send) {
    if data.len() >= 2 * GRAIN && num_threads() > 1 {
        let (len, ptr) = (data.len(), SendPtr(data.as_mut_ptr()));
        parallel_for(len.div_ceil(block), 1, |b0, b1| {
            let ptr = &ptr;
            let (s, e) = (b0 * block, (b1 * block).min(len));
            // SAFETY: block ranges of different calls are disjoint and inside `data`, which
            // stays mutably borrowed by this function until every call returned.
            body(unsafe { std::slice::from_raw_parts_mut(ptr.0.add(s), e - s) });
        });
    } else {
        body(data);
    }
}

/// Instantiate a kernel body twice: once with FMA enabled (so each `mul_add` is one
/// instruction), once portable (where `mul_add` is libm's exact `fma`); same values either way.
macro_rules! fma_dispatch {
    ($(#[$doc:meta])* $name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "fma")]
                unsafe fn with_fma($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if has_fma() {
                    // SAFETY: the CPU reports FMA support.
                    return unsafe { with_fma($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

const BLOCK: usize = 16 * 1024;

#[inline(always)]
fn normal_fill_f32_body(data: &mut [f32], mean: f32, std: f32) {
    for block in data.chunks_exact_mut(16) {
        for j in 0..8 {
            let radius = (-2.0f32 * log_cephes(1.0 - block[j])).sqrt();
            let (s, c) = sincos_cephes(TWO_PI_F32 * block[j + 8]);
            block[j] = (radius * c).mul_add(std, mean);
            block[j + 8] = (radius * s).mul_add(std, mean);
        }
    }
}

#[inline(always)]
fn normal_fill_f64_body(data: &mut [f64], mean: f64, std: f64) {
    let two_pi = 2.0 * std::f64::consts::PI;
    for block in data.chunks_exact_mut(16) {
        for j in 0..8 {
            let radius = (-2.0 * (1.0 - block[j]).ln()).sqrt();
            let theta = two_pi * block[j + 8];
            block[j] = (radius * theta.cos()).mul_add(std, mean);
            block[j + 8] = (radius * theta.sin()).mul_add(std, mean);
        }
    }
}

#[inline(always)]
fn fused_affine_f32_body(data: &mut [f32], scale: f32, shift: f32) {
    for v in data {
        *v = v.mul_add(scale, shift);
    }
}

#[inline(always)]
fn fused_affine_f64_body(data: &mut [f64], scale: f64, shift: f64) {
    for v in data {
        *v = v.mul_add(scale, shift);
    }
}

fma_dispatch!(normal_fill_f32_blocks, normal_fill_f32_body, (data: &mut [f32], mean: f32, std: f32));
fma_dispatch!(normal_fill_f64_blocks, normal_fill_f64_body, (data: &mut [f64], mean: f64, std: f64));
fma_dispatch!(fused_affine_f32_serial, fused_affine_f32_body, (data: &mut [f32], scale: f32, shift: f32));
fma_dispatch!(fused_affine_f64_serial, fused_affine_f64_body, (data: &mut [f64], scale: f64, shift: f64));

/// PyTorch's float32 `normal_fill_16` on every whole block of 16 in `data` (uniforms in [0, 1)
/// in, normals out): pairs `(j, j + 8)` of each block become `r cos t` and `r sin t` with
/// `r = sqrt(-2 log(1 - u_j))`, `t = 2 pi u_{j+8}`, then `* std + mean` (fused). A trailing
/// partial block is left alone (the caller redraws the last 16, as PyTorch does).
pub fn normal_fill_f32(data: &mut [f32], mean: f32, std: f32) {
    blocks(data, BLOCK, |d| normal_fill_f32_blocks(d, mean, std));
}

/// The float64 twin of [`normal_fill_f32`], with libm's `log`, `cos` and `sin`.
pub fn normal_fill_f64(data: &mut [f64], mean: f64, std: f64) {
    blocks(data, BLOCK, |d| normal_fill_f64_blocks(d, mean, std));
}

/// PyTorch's scalar `normal_distribution<double>` on consecutive uniform pairs: `(u1, u2)` at
/// `(2k, 2k + 1)` become `(r cos t, r sin t)` with `r = sqrt(-2 log1p(-u2))`, `t = 2 pi u1` (the
/// sine is the value PyTorch caches for the next draw). A trailing odd element is left alone.
pub fn box_muller_pairs_f64(data: &mut [f64]) {
    let two_pi = 2.0 * std::f64::consts::PI;
    for pair in data.chunks_exact_mut(2) {
        let r = (-2.0 * (-pair[1]).ln_1p()).sqrt();
        let theta = two_pi * pair[0];
        pair[0] = r * theta.cos();
        pair[1] = r * theta.sin();
    }
}

/// `x = x * scale + shift` with one rounding (PyTorch's contracted uniform/normal affine step).
pub fn fused_affine_f32(data: &mut [f32], scale: f32, shift: f32) {
    blocks(data, BLOCK, |d| fused_affine_f32_serial(d, scale, shift));
}

/// The float64 twin of [`fused_affine_f32`].
pub fn fused_affine_f64(data: &mut [f64], scale: f64, shift: f64) {
    blocks(data, BLOCK, |d| fused_affine_f64_serial(d, scale, shift));
}

/// PyTorch's CPU `exponential_distribution<double>`: `-1/lambd * log1p(-u)` for uniforms `u`.
pub fn exponential_f64(data: &mut [f64], lambd: f64) {
    let k = -1.0 / lambd;
    blocks(data, BLOCK, |d| {
        for v in d {
            *v = k * (-*v).ln_1p();
        }
    });
}

/// PyTorch's `randperm` for `n < 2^32 / 20`: start from `0..n`, then for `i` in `0..n-1` swap
/// slot `i` with slot `i + draws[i] % (n - i)` (`draws` are raw 32-bit outputs, `n - 1` of them).
pub fn randperm_swaps(draws: &[u32], out: &mut [i64]) {
    let n = out.len();
    for (i, v) in out.iter_mut().enumerate() {
        *v = i as i64;
    }
    for (i, &d) in draws.iter().enumerate().take(n.saturating_sub(1)) {
        let z = i + (d as usize) % (n - i);
        out.swap(i, z);
    }
}

/// PyTorch's `randperm` for large `n`: the inside-out Fisher-Yates with 64-bit draws, one per
/// element (`out[i] = out[z]; out[z] = i` with `z = draws[i] % (i + 1)`).
pub fn randperm_inside_out(draws: &[u64], out: &mut [i64]) {
    for i in 0..out.len().min(draws.len()) {
        let z = (draws[i] % (i as u64 + 1)) as usize;
        out[i] = out[z];
        out[z] = i as i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cephes_log_and_sincos_are_close_to_libm() {
        for k in 1..2000 {
            let x = k as f32 / 2000.0;
            assert!((log_cephes(x) - x.ln()).abs() <= 2e-7 * x.ln().abs().max(1.0));
            let t = x * TWO_PI_F32;
            let (s, c) = sincos_cephes(t);
            assert!(
                (s - t.sin()).abs() < 1e-6 && (c - t.cos()).abs() < 1e-6,
                "{t}"
            );
        }
    }

    #[test]
    fn randperm_kernels_give_permutations() {
        let draws: Vec<u32> = (0..9u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let mut p = vec![0i64; 10];
        randperm_swaps(&draws, &mut p);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<i64>>());
        let draws64: Vec<u64> = (0..10u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        randperm_inside_out(&draws64, &mut p);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<i64>>());
    }

    #[test]
    fn fill_leaves_a_partial_block() {
        let mut d = vec![0.5f32; 20];
        normal_fill_f32(&mut d, 0.0, 1.0);
        assert_eq!(&d[16..], &[0.5; 4]);
        assert!(d[..16].iter().all(|v| v.is_finite()));
    }
}
