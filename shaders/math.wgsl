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
