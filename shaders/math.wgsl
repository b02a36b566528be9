// Float helpers with PyTorch's semantics where WGSL builtins leave results undefined.
// Non-finite constants are built from runtime bits: a const-expression may not be NaN or inf.

fn is_nan_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn nan_f32() -> f32 {
    var bits = 0x7fc00000u;
    return bitcast<f32>(bits);
}

fn inf_f32() -> f32 {
    var bits = 0x7f800000u;
    return bitcast<f32>(bits);
}

fn neg_inf_f32() -> f32 {
    var bits = 0xff800000u;
    return bitcast<f32>(bits);
}

// torch.maximum / torch.minimum propagate NaN; WGSL max/min may return either operand.
fn maximum_f32(a: f32, b: f32) -> f32 {
    if (is_nan_f32(a) || is_nan_f32(b)) {
        return nan_f32();
    }
    return max(a, b);
}

fn minimum_f32(a: f32, b: f32) -> f32 {
    if (is_nan_f32(a) || is_nan_f32(b)) {
        return nan_f32();
    }
    return min(a, b);
}

fn sigmoid_f32(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// exp of -2|x| never overflows, so large |x| gives +-1 instead of inf/inf.
fn tanh_f32(x: f32) -> f32 {
    let t = exp(-2.0 * abs(x));
    let r = (1.0 - t) / (1.0 + t);
    return select(r, -r, x < 0.0);
}

// WGSL pow is exp2(b * log2(a)): undefined for a < 0. torch.pow: a negative base with an integral
// exponent is fine (sign from the exponent's parity), otherwise NaN; pow(x, 0) = pow(1, y) = 1,
// even for NaN x or y; any other NaN operand gives NaN (lavapipe's pow(NaN, 1) is 0).
fn pow_f32(a: f32, b: f32) -> f32 {
    if (b == 0.0 || a == 1.0) {
        return 1.0;
    }
    if (is_nan_f32(a) || is_nan_f32(b)) {
        return nan_f32();
    }
    if (a < 0.0) {
        if (b != floor(b)) {
            return nan_f32();
        }
        let m = pow(-a, b);
        let odd = abs(b) % 2.0 == 1.0;
        return select(m, -m, odd);
    }
    if (a == 0.0) {
        return select(inf_f32(), 0.0, b > 0.0);
    }
    return pow(a, b);
}

// log(1 + x) without the cancellation of 1 + x for small x: the rounding error of u = 1 + x is
// divided back out (exact where u == 1).
fn log1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    return log(u) * x / (u - 1.0);
}

// exp(x) - 1 without cancellation for small x (the same correction, through log(u)).
fn expm1_f32(x: f32) -> f32 {
    let u = exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    return um1 * x / log(u);
}

// erf: its Taylor series below 0.5 (relative error < 1e-7 where erf is small), Abramowitz &
// Stegun 7.1.26 above (absolute error < 1.5e-7 where erf >= 0.52).
fn erf_f32(x: f32) -> f32 {
    let a = abs(x);
    if (a < 0.5) {
        let x2 = x * x;
        let s = 1.0 - x2 * (1.0 / 3.0 - x2 * (0.1 - x2 * (1.0 / 42.0 - x2 * (1.0 / 216.0 - x2 / 1320.0))));
        return 1.1283791670955126 * x * s;
    }
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let r = 1.0 - poly * exp(-a * a);
    return select(r, -r, x < 0.0);
}

// The scalar parameters of a parameterised unary op (leaky_relu's slope, elu's alpha, ...).
fn p0() -> f32 {
    return bitcast<f32>(scalar(0u));
}

fn p1() -> f32 {
    return bitcast<f32>(scalar(1u));
}

fn is_inf_f32(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

// The inverse hyperbolic functions through log1p_f32 (no cancellation near 0 and 1); for huge
// |x| the x^2 inside would overflow, so log(2|x|) = log|x| + ln 2 is used there.
fn acosh_f32(x: f32) -> f32 {
    if (is_nan_f32(x) || x < 1.0) {
        return nan_f32();
    }
    if (x > 1e8) {
        return log(x) + 0.6931471805599453;
    }
    let t = x - 1.0;
    return log1p_f32(t + sqrt(t * (x + 1.0)));
}

fn asinh_f32(x: f32) -> f32 {
    let a = abs(x);
    var r: f32;
    if (a > 1e8) {
        r = log(a) + 0.6931471805599453;
    } else {
        let a2 = a * a;
        r = log1p_f32(a + a2 / (1.0 + sqrt(1.0 + a2)));
    }
    return select(r, -r, x < 0.0);
}

fn atanh_f32(x: f32) -> f32 {
    let a = abs(x);
    if (is_nan_f32(x) || a > 1.0) {
        return nan_f32();
    }
    var r: f32;
    if (a == 1.0) {
        r = inf_f32();
    } else {
        r = 0.5 * log1p_f32(2.0 * a / (1.0 - a));
    }
    return select(r, -r, x < 0.0);
}

// sinh/cosh from expm1/exp; above 88, e^|x| / 2 as exp(|x| - ln 2) so it does not overflow early.
fn sinh_f32(x: f32) -> f32 {
    let a = abs(x);
    var r: f32;
    if (a > 88.0) {
        r = exp(a - 0.6931471805599453);
    } else {
        let e = expm1_f32(a);
        r = 0.5 * (e + e / (e + 1.0));
    }
    return select(r, -r, x < 0.0);
}

fn cosh_f32(x: f32) -> f32 {
    let a = abs(x);
    if (a > 88.0) {
        return exp(a - 0.6931471805599453);
    }
    let e = exp(a);
    return 0.5 * (e + 1.0 / e);
}

// atan2 with C's special cases (signed zeros, infinities), which WGSL leaves undefined and
// lavapipe gets wrong; the builtin serves the finite, non-zero-denominator rest.
fn atan2_f32(a: f32, b: f32) -> f32 {
    if (is_nan_f32(a) || is_nan_f32(b)) {
        return nan_f32();
    }
    let neg_a = (bitcast<u32>(a) & 0x80000000u) != 0u;
    let neg_b = (bitcast<u32>(b) & 0x80000000u) != 0u;
    let pi = 3.141592653589793;
    var r: f32;
    if (is_inf_f32(a) && is_inf_f32(b)) {
        r = select(0.7853981633974483, 2.356194490192345, neg_b);
    } else if (is_inf_f32(a) || (b == 0.0 && a != 0.0)) {
        r = 1.5707963267948966;
    } else if (is_inf_f32(b) || a == 0.0) {
        r = select(0.0, pi, neg_b);
    } else {
        return atan2(a, b);
    }
    return select(r, -r, neg_a);
}

fn atan_f32(x: f32) -> f32 {
    return select(atan(x), nan_f32(), is_nan_f32(x));
}

// acos/asin through atan2 of the triangle's sides: WGSL's own are undefined outside [-1, 1]
// (PyTorch gives NaN there) and lavapipe's lose ~1e-4 inside.
fn acos_f32(x: f32) -> f32 {
    if (is_nan_f32(x) || abs(x) > 1.0) {
        return nan_f32();
    }
    return atan2_f32(sqrt((1.0 - x) * (1.0 + x)), x);
}

fn asin_f32(x: f32) -> f32 {
    if (is_nan_f32(x) || abs(x) > 1.0) {
        return nan_f32();
    }
    return atan2_f32(x, sqrt((1.0 - x) * (1.0 + x)));
}

// hypot with std::hypot's special cases: an infinite operand wins over NaN.
fn hypot_f32(a: f32, b: f32) -> f32 {
    let x = abs(a);
    let y = abs(b);
    if (is_inf_f32(x) || is_inf_f32(y)) {
        return inf_f32();
    }
    if (is_nan_f32(x) || is_nan_f32(y)) {
        return nan_f32();
    }
    let m = max(x, y);
    if (m == 0.0) {
        return 0.0;
    }
    let r = min(x, y) / m;
    return m * sqrt(1.0 + r * r);
}

fn copysign_f32(a: f32, b: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(a) & 0x7fffffffu) | (bitcast<u32>(b) & 0x80000000u));
}

// log(base^a + base^b) = max + log1p(base^-|a - b|) (scaled to log base); equal infinities
// return themselves (inf - inf would be NaN).
fn logaddexp_base_f32(a: f32, b: f32, base2: bool) -> f32 {
    if (is_nan_f32(a) || is_nan_f32(b)) {
        return nan_f32();
    }
    if (is_inf_f32(a) && a == b) {
        return a;
    }
    let m = max(a, b);
    let d = -abs(a - b);
    if (base2) {
        return m + log1p_f32(exp2(d)) * 1.4426950408889634;
    }
    return m + log1p_f32(exp(d));
}

// a * log(b), 0 where a == 0 (unless b is NaN); log of a negative is NaN as in PyTorch.
fn xlogy_f32(a: f32, b: f32) -> f32 {
    if (is_nan_f32(b) || is_nan_f32(a)) {
        return nan_f32();
    }
    if (a == 0.0) {
        return 0.0;
    }
    if (b < 0.0) {
        return nan_f32();
    }
    if (b == 0.0) {
        return select(inf_f32(), neg_inf_f32(), a > 0.0);
    }
    return a * log(b);
}
