use super::{paths, Rng, LENS};

#[test]
fn sum_and_dot_small_exact() {
    // Small integers sum exactly in any order.
    for (isa, k) in paths() {
        for &n in LENS {
            let x: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let want: f32 = x.iter().sum();
            // SAFETY: n elements.
            let got = unsafe { (k.sum_f32)(x.as_ptr(), n) };
            assert_eq!(got, want, "{isa:?} sum n={n}");
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            // SAFETY: n elements.
            assert_eq!(unsafe { (k.sum_f64)(x64.as_ptr(), n) }, want as f64);
            let wd: f32 = x.iter().map(|v| v * v).sum();
            // SAFETY: n elements each.
            assert_eq!(
                unsafe { (k.dot_f32)(x.as_ptr(), x.as_ptr(), n) },
                wd,
                "{isa:?} dot n={n}"
            );
            // SAFETY: n elements each.
            assert_eq!(
                unsafe { (k.dot_f64)(x64.as_ptr(), x64.as_ptr(), n) },
                wd as f64
            );
        }
    }
}

#[test]
fn sum_long_runs_are_accurate() {
    let mut rng = Rng(11);
    let n = 16 << 20;
    let x: Vec<f32> = (0..n).map(|_| rng.unit() as f32).collect();
    let exact: f64 = x.iter().map(|&v| v as f64).sum();
    let y: Vec<f32> = (0..n).map(|_| (rng.unit() - 0.5) as f32).collect();
    let exact_dot: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
    let abs_dot: f64 = x
        .iter()
        .zip(&y)
        .map(|(&a, &b)| (a as f64 * b as f64).abs())
        .sum();
    for (isa, k) in paths() {
        for len in [n, n - 1, 1_000_003, 70_001] {
            let ex: f64 = if len == n {
                exact
            } else {
                x[..len].iter().map(|&v| v as f64).sum()
            };
            // SAFETY: len <= n elements.
            let got = unsafe { (k.sum_f32)(x.as_ptr(), len) } as f64;
            let rel = ((got - ex) / ex).abs();
            // Naive f32 summation is off by ~1e-3 at 16M; pairwise stays near 1e-7.
            assert!(rel < 1e-6, "{isa:?} sum len={len} rel err {rel:e}");
        }
        // SAFETY: n elements each.
        let got = unsafe { (k.dot_f32)(x.as_ptr(), y.as_ptr(), n) } as f64;
        assert!((got - exact_dot).abs() / abs_dot < 1e-6, "{isa:?} dot err");
    }
}

#[test]
fn max_min_propagate_nan_and_cover_tails() {
    let mut rng = Rng(21);
    for (isa, k) in paths() {
        for &n in LENS.iter().filter(|&&n| n > 0) {
            let mut x: Vec<f32> = (0..n).map(|_| (rng.unit() * 100.0 - 50.0) as f32).collect();
            let (mx, mn) = x
                .iter()
                .fold((f32::NEG_INFINITY, f32::INFINITY), |(a, b), &v| {
                    (a.max(v), b.min(v))
                });
            // SAFETY: n elements.
            unsafe {
                assert_eq!((k.max_f32)(x.as_ptr(), n), mx, "{isa:?} max n={n}");
                assert_eq!((k.min_f32)(x.as_ptr(), n), mn, "{isa:?} min n={n}");
            }
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            // SAFETY: n elements.
            unsafe {
                assert_eq!((k.max_f64)(x64.as_ptr(), n), mx as f64);
                assert_eq!((k.min_f64)(x64.as_ptr(), n), mn as f64);
            }
            for pos in [0, n / 2, n - 1] {
                let keep = x[pos];
                x[pos] = f32::NAN;
                // SAFETY: n elements.
                unsafe {
                    assert!(
                        (k.max_f32)(x.as_ptr(), n).is_nan(),
                        "{isa:?} max NaN at {pos}/{n}"
                    );
                    assert!(
                        (k.min_f32)(x.as_ptr(), n).is_nan(),
                        "{isa:?} min NaN at {pos}/{n}"
                    );
                }
                let mut x64 = x64.clone();
                x64[pos] = f64::NAN;
                // SAFETY: n elements.
                unsafe {
                    assert!((k.max_f64)(x64.as_ptr(), n).is_nan());
                    assert!((k.min_f64)(x64.as_ptr(), n).is_nan());
                }
                x[pos] = keep;
            }
        }
        let inf = [f32::NEG_INFINITY, -1.0, f32::INFINITY];
        // SAFETY: 3 elements.
        unsafe {
            assert_eq!((k.max_f32)(inf.as_ptr(), 3), f32::INFINITY);
            assert_eq!((k.min_f32)(inf.as_ptr(), 3), f32::NEG_INFINITY);
        }
    }
}
