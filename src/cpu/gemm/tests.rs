//! Correctness tests against a naive triple loop, over every kernel this CPU
//! supports, awkward shapes, strides (transposed, padded, negative, 0) and
//! thread counts.

use super::blocking::Kernel;
use super::driver::{self, MatMut, MatRef};
use super::{dgemm, select, sgemm, Element};

/// Small xorshift generator: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

trait TestElem: Element + std::fmt::Debug {
    const EPS: f64;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn candidates() -> Vec<Kernel<Self>>;
}

impl TestElem for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn candidates() -> Vec<Kernel<Self>> {
        select::f32_candidates()
    }
}

impl TestElem for f64 {
    const EPS: f64 = f64::EPSILON;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn candidates() -> Vec<Kernel<Self>> {
        select::f64_candidates()
    }
}

/// A strided matrix stored inside a larger buffer, so that padding between
/// elements can be checked for stray writes.
struct Strided<T> {
    buf: Vec<T>,
    base: usize,
    rs: isize,
    cs: isize,
}

impl<T: TestElem> Strided<T> {
    /// Layouts: 0 row-major, 1 column-major (transposed), 2 padded rows,
    /// 3 both strides non-unit, 4 negative row stride, 5 broadcast rows
    /// (rs = 0), 6 broadcast columns (cs = 0).
    fn new(rows: usize, cols: usize, layout: usize, rng: &mut Rng, fill: Option<T>) -> Self {
        let (r, c) = (rows as isize, cols as isize);
        let (rs, cs) = match layout {
            0 => (c, 1),
            1 => (1, r),
            2 => (c + 3, 1),
            3 => (2 * (2 * c + 1), 2),
            4 => (-c, 1),
            5 => (0, 1),
            _ => (1, 0),
        };
        let offs = [
            0,
            (r - 1).max(0) * rs,
            (c - 1).max(0) * cs,
            (r - 1).max(0) * rs + (c - 1).max(0) * cs,
        ];
        let lo = *offs.iter().min().unwrap();
        let hi = *offs.iter().max().unwrap();
        let len = (hi - lo + 1) as usize;
        let buf = (0..len)
            .map(|_| fill.unwrap_or_else(|| T::from_f64(rng.float())))
            .collect();
        Strided {
            buf,
            base: (-lo) as usize,
            rs,
            cs,
        }
    }

    fn idx(&self, i: usize, j: usize) -> usize {
        (self.base as isize + i as isize * self.rs + j as isize * self.cs) as usize
    }

    fn get(&self, i: usize, j: usize) -> f64 {
        self.buf[self.idx(i, j)].to_f64()
    }

    fn view(&self) -> MatRef<T> {
        MatRef::new(self.buf.as_ptr().wrapping_add(self.base), self.rs, self.cs)
    }

    fn view_mut(&mut self) -> MatMut<T> {
        MatMut::new(
            self.buf.as_mut_ptr().wrapping_add(self.base),
            self.rs,
            self.cs,
        )
    }
}

/// Runs one product with `kern` (or the public entry point when `None`)
/// and checks every element of C, plus that C's padding is untouched.
#[allow(clippy::too_many_arguments)]
fn check<T: TestElem>(
    kern: Option<&Kernel<T>>,
    (m, n, k): (usize, usize, usize),
    layouts: (usize, usize, usize),
    alpha: f64,
    beta: f64,
    rng: &mut Rng,
) {
    let a = Strided::<T>::new(m, k, layouts.0, rng, None);
    let b = Strided::<T>::new(k, n, layouts.1, rng, None);
    // beta == 0 must not read C: poison it with NaN.
    let poison = (beta == 0.0).then(|| T::from_f64(f64::NAN));
    let mut c = Strided::<T>::new(m, n, layouts.2, rng, poison);
    let c0 = c.buf.clone();
    let (al, be) = (T::from_f64(alpha), T::from_f64(beta));
    let (av, bv, cv) = (a.view(), b.view(), c.view_mut());
    // SAFETY: the views cover buffers built for exactly these shapes.
    unsafe {
        match kern {
            Some(kern) => driver::gemm(kern, m, n, k, al, &av, &bv.t(), be, cv),
            None => public_gemm::<T>(m, n, k, al, av, bv, be, cv),
        }
    }
    let mut is_elem = vec![false; c.buf.len()];
    for i in 0..m {
        for j in 0..n {
            is_elem[c.idx(i, j)] = true;
            let (mut s, mut mag) = (0.0, 0.0);
            for p in 0..k {
                s += a.get(i, p) * b.get(p, j);
                mag += (a.get(i, p) * b.get(p, j)).abs();
            }
            let old = c0[c.idx(i, j)].to_f64();
            let (want, mag) = if beta == 0.0 {
                (alpha * s, alpha.abs() * mag)
            } else {
                (
                    alpha * s + beta * old,
                    alpha.abs() * mag + (beta * old).abs(),
                )
            };
            let got = c.get(i, j);
            let tol = T::EPS * (k as f64 + 4.0) * 2.0 * mag + 1e-30;
            assert!(
                (got - want).abs() <= tol,
                "{} m={m} n={n} k={k} layouts={layouts:?} alpha={alpha} beta={beta}: C[{i},{j}] = {got}, want {want}",
                kern.map_or("public", |k| k.name),
            );
        }
    }
    for (idx, (&now, &before)) in c.buf.iter().zip(&c0).enumerate() {
        if !is_elem[idx] {
            assert!(
                now.to_f64().to_bits() == before.to_f64().to_bits(),
                "padding of C modified at {idx}"
            );
        }
    }
}

/// Dispatches to the public `sgemm`/`dgemm` for `T`.
#[allow(clippy::too_many_arguments)]
unsafe fn public_gemm<T: TestElem>(
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: MatRef<T>,
    b: MatRef<T>,
    beta: T,
    c: MatMut<T>,
) {
    use std::any::TypeId;
    // SAFETY: the TypeId checks make the pointer casts identity casts, and
    // the views satisfy the public contract.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let f = |x: T| x.to_f64() as f32;
            sgemm(
                m,
                n,
                k,
                f(alpha),
                a.ptr.cast(),
                a.rs,
                a.cs,
                b.ptr.cast(),
                b.rs,
                b.cs,
                f(beta),
                c.ptr.cast(),
                c.rs,
                c.cs,
            )
        } else {
            dgemm(
                m,
                n,
                k,
                alpha.to_f64(),
                a.ptr.cast(),
                a.rs,
                a.cs,
                b.ptr.cast(),
                b.rs,
                b.cs,
                beta.to_f64(),
                c.ptr.cast(),
                c.rs,
                c.cs,
            )
        }
    }
}

/// Each candidate kernel with its real blocking plus a tiny-blocking copy,
/// so multi-block paths (several KC/MC/NC blocks) run on small shapes.
fn kernels<T: TestElem>() -> Vec<Kernel<T>> {
    let mut out = Vec::new();
    for k in T::candidates() {
        out.push(Kernel {
            name: k.name,
            mr: k.mr,
            nr: k.nr,
            mc: 2 * k.mr,
            kc: 7,
            nc: 2 * k.nr,
            func: k.func,
        });
        out.push(k);
    }
    out
}

fn random_shapes<T: TestElem>(seed: u64, cases: usize) {
    let mut rng = Rng(seed);
    let kernels = kernels::<T>();
    let primes = [1, 2, 3, 5, 7, 11, 13, 17, 31, 37, 53, 67];
    for case in 0..cases {
        let dim = |rng: &mut Rng| {
            if case % 3 == 0 {
                primes[rng.below(primes.len())]
            } else {
                1 + rng.below(70)
            }
        };
        let shape = (dim(&mut rng), dim(&mut rng), dim(&mut rng));
        let layouts = (rng.below(7), rng.below(7), rng.below(5));
        let alpha = [1.0, -0.5, 2.0, rng.float()][rng.below(4)];
        let beta = [0.0, 1.0, -1.5, rng.float()][rng.below(4)];
        let kern = &kernels[case % kernels.len()];
        check::<T>(Some(kern), shape, layouts, alpha, beta, &mut rng);
    }
}

#[test]
fn f32_random_shapes_all_kernels() {
    random_shapes::<f32>(0x9E37_79B9_7F4A_7C15, 600);
}

#[test]
fn f64_random_shapes_all_kernels() {
    random_shapes::<f64>(0xD1B5_4A32_D192_ED03, 600);
}

/// Every kernel on every tile-edge residue: m and n from 1 to past 2 tiles.
fn all_edges<T: TestElem>() {
    let mut rng = Rng(12345);
    for kern in kernels::<T>() {
        for m in 1..=2 * kern.mr + 1 {
            for n in [
                1,
                2,
                kern.nr / 2,
                kern.nr / 2 + 1,
                kern.nr - 1,
                kern.nr,
                kern.nr + 3,
                2 * kern.nr + 1,
            ] {
                let layouts = (rng.below(7), rng.below(7), rng.below(5));
                let beta = if m % 2 == 0 { 0.0 } else { 0.5 };
                check::<T>(Some(&kern), (m, n, 9), layouts, 1.0, beta, &mut rng);
            }
        }
    }
}

#[test]
fn f32_tile_edges() {
    all_edges::<f32>();
}

#[test]
fn f64_tile_edges() {
    all_edges::<f64>();
}

#[test]
fn degenerate_shapes() {
    let mut rng = Rng(7);
    for (m, n, k) in [
        (0, 0, 0),
        (0, 5, 3),
        (5, 0, 3),
        (3, 4, 0),
        (1, 1, 1),
        (1, 1, 0),
        (1, 40, 33),
        (40, 1, 33),
        (1, 1, 300),
    ] {
        for beta in [0.0, 1.0, 2.5] {
            for layout in 0..5 {
                check::<f32>(
                    None,
                    (m, n, k),
                    (layout, (layout + 1) % 7, layout),
                    1.5,
                    beta,
                    &mut rng,
                );
                check::<f64>(
                    None,
                    (m, n, k),
                    ((layout + 2) % 7, layout, layout),
                    1.5,
                    beta,
                    &mut rng,
                );
            }
        }
    }
}

/// `alpha == 0` (or k == 0) must not read A or B, so NaNs there stay out of C.
#[test]
fn alpha_zero_ignores_inputs() {
    let a = [f32::NAN; 6];
    let b = [f32::NAN; 6];
    let mut c = [1.0f32, 2.0, 3.0, 4.0];
    // SAFETY: 2×3 · 3×2 → 2×2, all row-major buffers of the right size.
    unsafe {
        sgemm(
            2,
            2,
            3,
            0.0,
            a.as_ptr(),
            3,
            1,
            b.as_ptr(),
            2,
            1,
            2.0,
            c.as_mut_ptr(),
            2,
            1,
        )
    };
    assert_eq!(c, [2.0, 4.0, 6.0, 8.0]);
    let mut c = [f64::NAN; 4];
    // SAFETY: k == 0, so A and B are never read; C is 2×2.
    unsafe {
        dgemm(
            2,
            2,
            0,
            1.0,
            std::ptr::null(),
            0,
            0,
            std::ptr::null(),
            0,
            0,
            0.0,
            c.as_mut_ptr(),
            2,
            1,
        )
    };
    assert_eq!(c, [0.0; 4]);
}

/// Shapes large enough to go parallel, in pools of 1, 2 and 3 threads
/// (3 exercises uneven grid factorisation).
#[test]
fn thread_pools() {
    let mut rng = Rng(99);
    let shapes = [
        (150, 130, 120),
        (1, 700, 300),
        (700, 1, 300),
        (97, 301, 257),
        (300, 33, 200),
        (13, 500, 140),
    ];
    for threads in [1, 2, 3] {
        crate::cpu::threads::with_threads(threads, || {
            for (i, &shape) in shapes.iter().enumerate() {
                let layouts = (i % 5, (i + 1) % 5, i % 3);
                let beta = if i % 2 == 0 { 0.0 } else { -1.0 };
                check::<f32>(None, shape, layouts, 0.75, beta, &mut rng);
                check::<f64>(None, shape, layouts, 0.75, beta, &mut rng);
            }
        });
    }
}

/// Concurrent calls from inside a parallel region must not share buffers.
#[test]
fn nested_parallel_calls() {
    crate::cpu::threads::with_threads(2, || {
        crate::cpu::threads::run_tasks(6, |s| {
            let mut rng = Rng(1000 + s as u64);
            check::<f32>(None, (120, 110, 100), (0, 1, 0), 1.0, 0.0, &mut rng);
        });
    });
}
