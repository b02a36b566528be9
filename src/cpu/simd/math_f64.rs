//! Scalar f64 helpers that std lacks. The f64 kernels call std (libm) for most
//! transcendentals; these fill the gaps with full double accuracy.

use std::f64::consts::PI;

/// erf(x) for |x| < 2.5 via the all-positive series
/// erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)),
/// which has no cancellation (unlike the Taylor series).
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut k = 0.0;
    while term.abs() > sum.abs() * 1e-17 {
        k += 1.0;
        term *= 2.0 * x2 / (2.0 * k + 1.0);
        sum += term;
    }
    2.0 / PI.sqrt() * (-x2).exp() * sum
}

/// erfc(x) for x >= 2.5 via its continued fraction
/// erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
fn erfc_cf(x: f64) -> f64 {
    let mut f = x;
    let mut k = 60.0;
    while k > 0.0 {
        f = x + (k * 0.5) / f;
        k -= 1.0;
    }
    (-x * x).exp() / PI.sqrt() / f
}

pub(super) fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a.is_nan() {
        x
    } else if a < 2.5 {
        erf_series(x)
    } else {
        (1.0 - erfc_cf(a)).copysign(x)
    }
}

pub(super) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x < 2.5 {
        1.0 - erf(x)
    } else if x > 27.3 {
        0.0
    } else {
        erfc_cf(x)
    }
}

pub(super) fn sigmoid(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 {
        r
    } else {
        e * r
    }
}

pub(super) fn gelu(x: f64) -> f64 {
    0.5 * x * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

pub(super) fn gelu_tanh(x: f64) -> f64 {
    // 0.5*(1 + tanh(u)) == sigmoid(2u)
    const K: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
    x * sigmoid(2.0 * K * (x + 0.044_715 * x * x * x))
}

/// x^p for integer p by binary exponentiation (caller bounds |p|).
pub(super) fn powi(x: f64, p: i64) -> f64 {
    let mut e = p.unsigned_abs();
    let mut base = x;
    let mut acc = 1.0;
    while e > 0 {
        if e & 1 == 1 {
            acc *= base;
        }
        base *= base;
        e >>= 1;
    }
    if p < 0 {
        1.0 / acc
    } else {
        acc
    }
}
