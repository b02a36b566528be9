use super::super::ops::BinaryOp;
use super::{inputs_f32, paths, ulp_diff, ulp_diff64, Rng, LENS};

const OPS: [BinaryOp; 8] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Maximum,
    BinaryOp::Minimum,
    BinaryOp::Pow,
    BinaryOp::Atan2,
];

fn reference(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Maximum | BinaryOp::Minimum if a.is_nan() || b.is_nan() => f64::NAN,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Atan2 => a.atan2(b),
    }
}

/// Input pairs: random values paired with shuffled ones, plus all special pairs.
fn pairs() -> (Vec<f32>, Vec<f32>) {
    let xs = inputs_f32();
    let mut rng = Rng(99);
    let mut a: Vec<f32> = xs.iter().step_by(3).copied().collect();
    let mut b: Vec<f32> = a
        .iter()
        .map(|_| xs[(rng.next() % xs.len() as u64) as usize])
        .collect();
    for &s in super::SPECIAL_F32 {
        for &t in super::SPECIAL_F32 {
            a.push(s);
            b.push(t);
        }
    }
    (a, b)
}

fn check(got: f32, want: f64, what: &str) {
    // f32 + - * / are exact in f64 before the final rounding (except rare double
    // rounding), pow/atan2 go through libm: allow 1 ulp.
    let want = want as f32;
    assert!(
        ulp_diff(got, want) <= 1,
        "{what}: got {got:e} want {want:e}"
    );
}

#[test]
fn binary_f32_all_paths() {
    let (a, b) = pairs();
    let n = a.len();
    for (isa, k) in paths() {
        for op in OPS {
            let mut out = vec![0.0f32; n];
            // SAFETY: all buffers hold n elements.
            unsafe { (k.binary_f32)(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n) };
            for i in 0..n {
                check(
                    out[i],
                    reference(op, a[i] as f64, b[i] as f64),
                    &format!("{isa:?} {op:?}({:e}, {:e})", a[i], b[i]),
                );
            }
            for s in [0.0f32, -1.5, 3.0, f32::NAN, f32::INFINITY] {
                // SAFETY: as above.
                unsafe { (k.rhs_f32)(op, a.as_ptr(), s, out.as_mut_ptr(), n) };
                for i in 0..n {
                    check(
                        out[i],
                        reference(op, a[i] as f64, s as f64),
                        &format!("{isa:?} {op:?}({:e}, s={s})", a[i]),
                    );
                }
                // SAFETY: as above.
                unsafe { (k.lhs_f32)(op, s, b.as_ptr(), out.as_mut_ptr(), n) };
                for i in 0..n {
                    check(
                        out[i],
                        reference(op, s as f64, b[i] as f64),
                        &format!("{isa:?} {op:?}(s={s}, {:e})", b[i]),
                    );
                }
            }
        }
    }
}

#[test]
fn binary_lengths_and_aliasing() {
    let (a, b) = pairs();
    for (isa, k) in paths() {
        for op in OPS {
            for &n in LENS {
                let (a, b) = (&a[1..1 + n], &b[5..5 + n]);
                let mut out = vec![0.0f32; n + 1];
                out[n] = 7.0;
                // SAFETY: a, b have n elements, out n + 1.
                unsafe { (k.binary_f32)(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n) };
                assert_eq!(out[n], 7.0, "{isa:?} {op:?} n={n} wrote past the end");
                let mut a2 = a.to_vec();
                // SAFETY: out aliases the first input.
                unsafe { (k.binary_f32)(op, a2.as_ptr(), b.as_ptr(), a2.as_mut_ptr(), n) };
                let mut b2 = b.to_vec();
                // SAFETY: out aliases the second input.
                unsafe { (k.binary_f32)(op, a.as_ptr(), b2.as_ptr(), b2.as_mut_ptr(), n) };
                for i in 0..n {
                    assert_eq!(out[i].to_bits(), a2[i].to_bits());
                    assert_eq!(out[i].to_bits(), b2[i].to_bits());
                    check(
                        out[i],
                        reference(op, a[i] as f64, b[i] as f64),
                        &format!("{isa:?} {op:?} n={n}"),
                    );
                }
            }
        }
    }
}

#[test]
fn binary_f64_all_paths() {
    let (a, b) = pairs();
    let mut rng = Rng(3);
    let a: Vec<f64> = a
        .iter()
        .map(|&v| v as f64 * (1.0 + rng.unit() * 1e-9))
        .collect();
    let b: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    let n = a.len();
    for (isa, k) in paths() {
        for op in OPS {
            let mut out = vec![0.0f64; n];
            // SAFETY: all buffers hold n elements.
            unsafe { (k.binary_f64)(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n) };
            for i in 0..n {
                let want = reference(op, a[i], b[i]);
                assert_eq!(
                    ulp_diff64(out[i], want),
                    0,
                    "{isa:?} {op:?}({:e}, {:e})",
                    a[i],
                    b[i]
                );
            }
            // SAFETY: as above.
            unsafe { (k.rhs_f64)(op, a.as_ptr(), 2.5, out.as_mut_ptr(), n) };
            for i in 0..n {
                assert_eq!(ulp_diff64(out[i], reference(op, a[i], 2.5)), 0);
            }
            // SAFETY: as above.
            unsafe { (k.lhs_f64)(op, -0.75, b.as_ptr(), out.as_mut_ptr(), n) };
            for i in 0..n {
                assert_eq!(ulp_diff64(out[i], reference(op, -0.75, b[i])), 0);
            }
        }
    }
}

#[test]
fn axpy_all_paths() {
    let mut rng = Rng(5);
    for (isa, k) in paths() {
        for &n in LENS {
            let a: Vec<f32> = (0..n).map(|_| (rng.unit() - 0.5) as f32).collect();
            let b: Vec<f32> = (0..n).map(|_| (rng.unit() - 0.5) as f32).collect();
            let mut out = a.clone();
            // SAFETY: n elements each.
            unsafe { (k.axpy_f32)(-0.37, b.as_ptr(), out.as_mut_ptr(), n) };
            for i in 0..n {
                // Without FMA the product is rounded first: bound by the operands' size.
                let (p, q) = (a[i] as f64, (-0.37f32) as f64 * b[i] as f64);
                let err = (out[i] as f64 - (p + q)).abs();
                assert!(err <= 1.2e-7 * (p.abs() + q.abs()), "{isa:?} n={n}");
            }
            let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
            let mut out64 = a64.clone();
            // SAFETY: n elements each; b aliases a_out here.
            unsafe { (k.axpy_f64)(2.0, out64.as_ptr(), out64.as_mut_ptr(), n) };
            for i in 0..n {
                assert_eq!(out64[i], 3.0 * a64[i], "{isa:?} n={n}");
            }
        }
    }
}
