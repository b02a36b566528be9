//! Accuracy and plumbing tests, run against every ISA path this CPU supports.

mod binary;
mod reduce;
mod unary;

use super::isa::{table_for, Isa, Kernels};

/// All (isa, table) pairs runnable here; the portable path always is.
fn paths() -> Vec<(Isa, &'static Kernels)> {
    let v: Vec<_> = Isa::ALL
        .iter()
        .filter_map(|&i| table_for(i).map(|t| (i, t)))
        .collect();
    assert!(v.iter().any(|(i, _)| *i == Isa::Portable));
    v
}

/// Tiny deterministic PRNG (xorshift64*), so tests need no dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const SPECIAL_F32: &[f32] = &[
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-40,
    -1e-40,
    1.4e-45,
    -1.4e-45,
    f32::MAX,
    f32::MIN,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.5,
    -2.5,
    0.921_875,
    -0.921_875,
    88.72,
    88.73,
    89.0,
    -87.3,
    -103.0,
    -104.0,
    9.1,
    10.0,
    -10.0,
    20.0,
    8192.0,
    -8192.0,
    8193.0,
    1e10,
    -1e10,
    std::f32::consts::PI,
    std::f32::consts::FRAC_PI_2,
    -std::f32::consts::FRAC_PI_2,
    8_388_608.0,
    8_388_607.5,
    -8_388_607.5,
    4_194_303.5,
];

/// Specials, a log sweep over all magnitudes, dense linear sweeps over the
/// interesting ranges, and random bit patterns (every exponent).
fn inputs_f32() -> Vec<f32> {
    let mut v = SPECIAL_F32.to_vec();
    let mut e = -45.0f64;
    while e < 38.5 {
        let x = 10f64.powf(e) as f32;
        v.push(x);
        v.push(-x);
        e += 0.01;
    }
    for (lo, hi, n) in [
        (-10.0, 10.0, 40_000),
        (-120.0, 120.0, 20_000),
        (-1.0, 1.0, 20_000),
    ] {
        for i in 0..=n {
            v.push((lo + (hi - lo) * i as f64 / n as f64) as f32);
        }
    }
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..40_000 {
        v.push(f32::from_bits(rng.next() as u32));
    }
    for _ in 0..20_000 {
        v.push(((rng.unit() - 0.5) * 200.0) as f32);
    }
    v
}

/// Distance in units in the last place; ±0 are equal, NaN only matches NaN.
fn ulp_diff(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let key = |x: f32| {
        let b = x.to_bits() as i32;
        if b < 0 {
            -((b & 0x7fff_ffff) as i64)
        } else {
            b as i64
        }
    };
    (key(a) - key(b)).unsigned_abs()
}

fn ulp_diff64(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let key = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            -((b & i64::MAX) as i128)
        } else {
            b as i128
        }
    };
    (key(a) - key(b)).unsigned_abs() as u64
}

/// Lengths that exercise empty runs, scalar-sized tails and chunk boundaries.
const LENS: &[usize] = &[
    0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 2047, 2048, 2049, 4099,
];
