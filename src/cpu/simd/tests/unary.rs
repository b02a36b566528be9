use super::super::math_f64 as m64;
use super::super::ops::UnaryOp;
use super::{inputs_f32, paths, ulp_diff, ulp_diff64, Rng, LENS};

/// f64 reference for an op applied to an f32 input (parameters rounded to f32
/// as the f32 kernels do).
fn reference(op: UnaryOp, x: f64) -> f64 {
    use UnaryOp as U;
    let r32 = |v: f64| v as f32 as f64;
    match op {
        U::Neg => -x,
        U::Abs => x.abs(),
        U::Exp => x.exp(),
        U::Log => x.ln(),
        U::Log2 => x.log2(),
        U::Log10 => x.log10(),
        U::Log1p => x.ln_1p(),
        U::Expm1 => x.exp_m1(),
        U::Sqrt => x.sqrt(),
        U::Rsqrt => 1.0 / x.sqrt(),
        U::Sin => x.sin(),
        U::Cos => x.cos(),
        U::Tan => x.tan(),
        U::Tanh => x.tanh(),
        U::Sigmoid => m64::sigmoid(x),
        U::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        U::Gelu => m64::gelu(x),
        U::GeluTanh => m64::gelu_tanh(x),
        U::Silu => x * m64::sigmoid(x),
        U::Erf => m64::erf(x),
        U::Floor => x.floor(),
        U::Ceil => x.ceil(),
        U::Round => x.round_ties_even(),
        U::Trunc => x.trunc(),
        U::Frac => x - x.trunc(),
        U::Exp2 => x.exp2(),
        // The kernels round the f64 libm result once; so does the reference.
        U::Acos => x.acos() as f32 as f64,
        U::Asin => x.asin() as f32 as f64,
        U::Atan => x.atan() as f32 as f64,
        U::Acosh => x.acosh() as f32 as f64,
        U::Asinh => x.asinh() as f32 as f64,
        U::Atanh => x.atanh() as f32 as f64,
        U::Sinh => x.sinh() as f32 as f64,
        U::Cosh => x.cosh() as f32 as f64,
        U::Reciprocal => 1.0 / x,
        U::Square => x * x,
        U::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        U::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                x * r32(s)
            }
        }
        U::Elu(a) => {
            if x > 0.0 {
                x
            } else {
                r32(a) * x.exp_m1()
            }
        }
        U::Softplus(b, t) => {
            let bx = x * r32(b);
            if bx > r32(t) {
                x
            } else {
                bx.exp().ln_1p() / r32(b)
            }
        }
        U::Clamp(lo, hi) => {
            let t = if x < r32(lo) { r32(lo) } else { x };
            if t > r32(hi) {
                r32(hi)
            } else {
                t
            }
        }
        U::PowScalar(p) => {
            if p == 0.5 {
                x.sqrt() // torch's fast path semantics (pow(-inf, 0.5) = NaN)
            } else if p == -0.5 {
                1.0 / x.sqrt()
            } else {
                x.powf(p)
            }
        }
        U::AddScalar(s) => x + r32(s),
        U::MulScalar(s) => x * r32(s),
        U::RsubScalar(s) => r32(s) - x,
        U::RdivScalar(s) => r32(s) / x,
    }
}

/// (max ulp, absolute tolerance) per op. The absolute part only matters where the
/// result passes through zero far from x = 0 (trig) or after cancellation.
fn tolerance(op: UnaryOp) -> (u64, f64) {
    use UnaryOp as U;
    match op {
        U::Neg | U::Abs | U::Relu | U::Floor | U::Ceil | U::Round | U::Trunc | U::Sign => (0, 0.0),
        U::Clamp(..) | U::LeakyRelu(_) => (0, 0.0),
        U::Sqrt | U::Square | U::Reciprocal | U::Frac => (0, 0.0),
        U::Acos | U::Asin | U::Atan | U::Acosh | U::Asinh | U::Atanh | U::Sinh | U::Cosh => {
            (0, 0.0)
        }
        U::AddScalar(_) | U::MulScalar(_) | U::RsubScalar(_) | U::RdivScalar(_) => (0, 0.0),
        U::Rsqrt => (1, 0.0),
        U::PowScalar(_) => (1, 0.0),
        U::Sin | U::Cos => (2, 1e-9),
        U::Tan => (3, 1e-9),
        _ => (3, 0.0),
    }
}

/// Extra ulps allowed for ops that round an intermediate which the result is
/// sensitive to: roughly the condition number |x f'(x) / f(x)| of the part
/// computed after that rounding (any f32 implementation has this error; the
/// reference is computed exactly). Also covers results that are subnormal.
fn cond_ulps(op: UnaryOp, x: f64) -> u64 {
    use UnaryOp as U;
    let c = match op {
        // 1 + erf(t) loses up to ~2 bits for t in (-0.92, 0) (erf polynomial range).
        U::Gelu if x < 0.0 => x * x + 4.0,
        // u = k*(x + c*x^3) takes ~2 roundings before the sigmoid.
        U::GeluTanh if x < 0.0 => 4.0 * 0.797_884_6 * (x + 3.0 * 0.044_715 * x * x * x).abs(),
        U::Silu if x < 0.0 => x.abs(),
        _ => 0.0,
    };
    if c.is_finite() {
        c.ceil() as u64
    } else {
        0
    }
}

fn all_ops() -> Vec<UnaryOp> {
    use UnaryOp as U;
    let mut v = vec![
        U::Neg,
        U::Abs,
        U::Exp,
        U::Log,
        U::Log2,
        U::Log10,
        U::Log1p,
        U::Expm1,
        U::Sqrt,
        U::Rsqrt,
        U::Sin,
        U::Cos,
        U::Tan,
        U::Tanh,
        U::Sigmoid,
        U::Relu,
        U::Gelu,
        U::GeluTanh,
        U::Silu,
        U::Erf,
        U::Floor,
        U::Ceil,
        U::Round,
        U::Trunc,
        U::Reciprocal,
        U::Square,
        U::Sign,
        U::Acos,
        U::Asin,
        U::Atan,
        U::Acosh,
        U::Asinh,
        U::Atanh,
        U::Sinh,
        U::Cosh,
        U::Exp2,
        U::Frac,
        U::LeakyRelu(0.01),
        U::Elu(1.0),
        U::Elu(0.3),
        U::Softplus(1.0, 20.0),
        U::Softplus(2.0, 5.0),
        U::Clamp(-1.5, 2.0),
        U::Clamp(f64::NEG_INFINITY, 0.5),
        U::Clamp(0.0, f64::INFINITY),
        U::AddScalar(1.5),
        U::MulScalar(-0.3),
        U::RsubScalar(2.0),
        U::RdivScalar(3.0),
    ];
    for p in [
        2.0, 0.5, -0.5, -1.0, 0.0, 1.0, 3.0, -2.0, 7.0, 1.5, -1.3, 2.7,
    ] {
        v.push(U::PowScalar(p));
    }
    v
}

#[test]
fn unary_f32_accuracy_all_paths() {
    let xs = inputs_f32();
    let mut failures = Vec::new();
    for (isa, k) in paths() {
        for op in all_ops() {
            let mut out = vec![0.0f32; xs.len()];
            // SAFETY: both buffers hold xs.len() elements.
            unsafe { (k.unary_f32)(op, xs.as_ptr(), out.as_mut_ptr(), xs.len()) };
            let (max_ulp, abs_tol) = tolerance(op);
            let mut worst = (0u64, 0.0f32, 0.0f32, 0.0f32);
            for (&x, &got) in xs.iter().zip(&out) {
                let want = reference(op, x as f64) as f32;
                let d = ulp_diff(got, want).saturating_sub(cond_ulps(op, x as f64));
                let abs_ok = ((got as f64) - (want as f64)).abs() <= abs_tol;
                if d > max_ulp && !abs_ok && d > worst.0 {
                    worst = (d, x, got, want);
                }
            }
            if worst.0 > 0 {
                failures.push(format!(
                    "{isa:?} {op:?}: {} ulp at x={:e} got {:e} want {:e}",
                    worst.0, worst.1, worst.2, worst.3
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Prints the worst ulp error per op on the active path (cargo test -- --nocapture).
#[test]
fn unary_f32_error_report() {
    let xs = inputs_f32();
    for (isa, k) in paths() {
        let mut line = format!("{isa:?}:");
        for op in all_ops() {
            let mut out = vec![0.0f32; xs.len()];
            // SAFETY: both buffers hold xs.len() elements.
            unsafe { (k.unary_f32)(op, xs.as_ptr(), out.as_mut_ptr(), xs.len()) };
            let worst = xs
                .iter()
                .zip(&out)
                .filter(|(x, _)| x.abs() <= 8192.0) // trig has its own abs tolerance
                .map(|(&x, &g)| {
                    ulp_diff(g, reference(op, x as f64) as f32)
                        .saturating_sub(cond_ulps(op, x as f64))
                })
                .max()
                .unwrap_or(0);
            line += &format!(" {op:?}={worst}");
        }
        println!("{line}");
    }
}

#[test]
fn unary_f32_signed_zero_and_specials() {
    use UnaryOp as U;
    for (isa, k) in paths() {
        let run = |op: UnaryOp, x: f32| {
            let mut o = 0.0f32;
            // SAFETY: one element each.
            unsafe { (k.unary_f32)(op, &x, &mut o, 1) };
            o
        };
        for op in [
            U::Neg,
            U::Expm1,
            U::Log1p,
            U::Sin,
            U::Tan,
            U::Tanh,
            U::Erf,
            U::Round,
            U::Trunc,
            U::Ceil,
        ] {
            let r = run(op, if op == U::Neg { 0.0 } else { -0.0 });
            assert!(
                r == 0.0 && r.is_sign_negative(),
                "{isa:?} {op:?}(-0) = {r:e}"
            );
        }
        assert!(run(U::Round, -0.4).is_sign_negative());
        assert_eq!(run(U::Round, 2.5), 2.0);
        assert_eq!(run(U::Round, 3.5), 4.0);
        assert_eq!(run(U::Round, -2.5), -2.0);
        assert!(run(U::Relu, f32::NAN).is_nan());
        assert_eq!(run(U::Sign, f32::NAN), 0.0);
        assert_eq!(run(U::Sign, -0.0), 0.0);
        assert_eq!(run(U::Rsqrt, 0.0), f32::INFINITY);
        assert_eq!(run(U::Log, 0.0), f32::NEG_INFINITY);
        assert!(run(U::Log, -1.0).is_nan());
        assert_eq!(run(U::Log2, 8.0), 3.0);
        assert_eq!(run(U::Exp, 0.0), 1.0);
        assert_eq!(run(U::Exp, 89.0), f32::INFINITY);
        assert_eq!(run(U::Exp, -104.0), 0.0);
        assert_eq!(run(U::Tanh, f32::INFINITY), 1.0);
        assert_eq!(run(U::Sigmoid, f32::NEG_INFINITY), 0.0);
        assert_eq!(run(U::Softplus(1.0, 20.0), 30.0), 30.0);
        assert!(run(U::Clamp(0.0, 1.0), f32::NAN).is_nan());
        assert!(run(U::Clamp(f64::NAN, 1.0), 0.5).is_nan());
        assert_eq!(run(U::Clamp(2.0, 1.0), 0.0), 1.0);
        assert!(run(U::PowScalar(0.5), f32::NEG_INFINITY).is_nan());
        assert_eq!(run(U::PowScalar(0.0), f32::NAN), 1.0);
    }
}

#[test]
fn unary_f32_lengths_and_in_place() {
    let xs = inputs_f32();
    let ops = all_ops();
    for (isa, k) in paths() {
        for &op in &ops {
            for &n in LENS {
                // Misaligned start, and a guard element that must survive.
                let src = &xs[3..3 + n];
                let mut out = vec![0.0f32; n + 1];
                out[n] = 12345.0;
                // SAFETY: src has n elements, out n + 1.
                unsafe { (k.unary_f32)(op, src.as_ptr(), out.as_mut_ptr(), n) };
                assert_eq!(out[n], 12345.0, "{isa:?} {op:?} n={n} wrote past the end");
                let mut inplace = src.to_vec();
                // SAFETY: in place over n elements.
                unsafe { (k.unary_f32)(op, inplace.as_ptr(), inplace.as_mut_ptr(), n) };
                for i in 0..n {
                    let want = reference(op, src[i] as f64) as f32;
                    assert_eq!(
                        out[i].to_bits(),
                        inplace[i].to_bits(),
                        "{isa:?} {op:?} n={n} i={i}"
                    );
                    let (u, a) = super::unary::tolerance(op);
                    assert!(
                        ulp_diff(out[i], want).saturating_sub(cond_ulps(op, src[i] as f64)) <= u
                            || ((out[i] - want).abs() as f64) <= a,
                        "{isa:?} {op:?} n={n} x={:e} got {:e} want {:e}",
                        src[i],
                        out[i],
                        want
                    );
                }
            }
        }
    }
}

#[test]
fn unary_f64_all_paths() {
    let mut rng = Rng(77);
    let mut xs: Vec<f64> = inputs_f32().iter().map(|&v| v as f64).collect();
    xs.extend((0..5000).map(|_| (rng.unit() - 0.5) * 60.0));
    for (isa, k) in paths() {
        for op in all_ops() {
            let mut out = vec![0.0f64; xs.len()];
            // SAFETY: both buffers hold xs.len() elements.
            unsafe { (k.unary_f64)(op, xs.as_ptr(), out.as_mut_ptr(), xs.len()) };
            // f64 kernels use f64 parameters, so compare with an f64-parameter reference.
            for (&x, &got) in xs.iter().zip(&out) {
                let want = reference_f64(op, x);
                let tol = if matches!(op, UnaryOp::PowScalar(_)) {
                    4
                } else {
                    0
                };
                assert!(
                    ulp_diff64(got, want) <= tol,
                    "{isa:?} {op:?} x={x:e} got {got:e} want {want:e}"
                );
            }
        }
        for &n in LENS {
            let mut v = xs[..n].to_vec();
            // SAFETY: in place over n elements.
            unsafe { (k.unary_f64)(UnaryOp::Exp, v.as_ptr(), v.as_mut_ptr(), n) };
            for i in 0..n {
                assert_eq!(ulp_diff64(v[i], xs[i].exp()), 0);
            }
        }
    }
}

fn reference_f64(op: UnaryOp, x: f64) -> f64 {
    use UnaryOp as U;
    match op {
        U::LeakyRelu(s) => {
            if x > 0.0 {
                x
            } else {
                x * s
            }
        }
        U::Elu(a) => {
            if x > 0.0 {
                x
            } else {
                a * x.exp_m1()
            }
        }
        U::AddScalar(s) => x + s,
        U::MulScalar(s) => x * s,
        U::RsubScalar(s) => s - x,
        U::RdivScalar(s) => s / x,
        // `reference` rounds these to f32 (what the f32 kernels do); the f64 kernels are libm's.
        U::Acos => x.acos(),
        U::Asin => x.asin(),
        U::Atan => x.atan(),
        U::Acosh => x.acosh(),
        U::Asinh => x.asinh(),
        U::Atanh => x.atanh(),
        U::Sinh => x.sinh(),
        U::Cosh => x.cosh(),
        _ => reference(op, x),
    }
}

#[test]
fn erf_f64_known_values() {
    let cases = [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (-1.5, -0.966_105_146_475_310_7),
    ];
    for (x, want) in cases {
        let got = m64::erf(x);
        assert!(
            (got - want).abs() <= 4.5e-16,
            "erf({x}) = {got}, want {want}"
        );
    }
    let erfc_cases = [
        (3.0, 2.209_049_699_858_544e-5),
        (5.0, 1.537_459_794_428_035e-12),
        (10.0, 2.088_487_583_762_545e-45),
    ];
    for (x, want) in erfc_cases {
        let got = m64::erfc(x);
        assert!(
            ((got - want) / want).abs() <= 1e-14,
            "erfc({x}) = {got:e}, want {want:e}"
        );
    }
}
