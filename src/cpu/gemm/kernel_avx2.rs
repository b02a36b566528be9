//! AVX2+FMA micro-kernels (x86_64 only, selected at run time).
//!
//! Classic 6 × 2-vector layout: 12 ymm accumulators + 2 B vectors + 1
//! broadcast fit the 16 ymm registers. Partial or strided C tiles go through
//! a stack tile because AVX2 has no cheap lane masks for every element type.

use std::arch::x86_64::*;

use super::kernel_generic::store_tile;

/// Instantiates `$tile::<R>` for the runtime row count `$mr`.
macro_rules! by_rows {
    ($mr:expr, $tile:ident, $args:tt, $($r:literal)*) => {
        match $mr {
            $($r => $tile::<$r> $args,)*
            _ => unreachable!("tile rows out of range"),
        }
    };
}

macro_rules! avx2_kernel {
    (
        $modname:ident, $t:ty, $lanes:literal, [$($r:literal)*],
        $setzero:ident, $set1:ident, $load:ident, $loadu:ident, $storeu:ident, $fmadd:ident
    ) => {
        pub(super) mod $modname {
            use super::*;

            /// Rows per micro-tile.
            pub const MR: usize = [$($r),*].len();
            /// Columns per micro-tile: two ymm vectors.
            pub const NR: usize = 2 * $lanes;

            /// One `R × NR` tile; see `KernelFn` for the contract.
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
            unsafe fn tile<const R: usize>(
                nr: usize,
                kc: usize,
                mut a: *const $t,
                mut b: *const $t,
                beta: $t,
                c: *mut $t,
                rsc: isize,
                csc: isize,
            ) {
                let mut acc = [[$setzero(); 2]; R];
                // SAFETY: packed panels hold kc steps of MR / NR values and
                // B is 64-byte aligned, so the aligned loads are in bounds.
                unsafe {
                    for _ in 0..kc {
                        let b0 = $load(b);
                        let b1 = $load(b.add($lanes));
                        for i in 0..R {
                            let av = $set1(*a.add(i));
                            acc[i][0] = $fmadd(av, b0, acc[i][0]);
                            acc[i][1] = $fmadd(av, b1, acc[i][1]);
                        }
                        a = a.add(MR);
                        b = b.add(NR);
                    }
                }
                if csc == 1 && nr == NR {
                    let betav = $set1(beta);
                    for i in 0..R {
                        // SAFETY: the full R × NR tile is inside C.
                        unsafe {
                            let row = c.offset(i as isize * rsc);
                            for v in 0..2 {
                                let p = row.add(v * $lanes);
                                let r = if beta == 0.0 {
                                    acc[i][v]
                                } else {
                                    $fmadd($loadu(p), betav, acc[i][v])
                                };
                                $storeu(p, r);
                            }
                        }
                    }
                } else {
                    let mut t = [[0.0 as $t; NR]; R];
                    for i in 0..R {
                        for v in 0..2 {
                            // SAFETY: lanes v*lanes.. of row i are inside `t`.
                            unsafe { $storeu(t[i].as_mut_ptr().add(v * $lanes), acc[i][v]) };
                        }
                    }
                    // SAFETY: C is valid over R × nr by the caller's contract.
                    unsafe { store_tile(t.as_flattened(), NR, R, nr, beta, c, rsc, csc) };
                }
            }

            /// AVX2 entry point with the `KernelFn` signature.
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; `KernelFn` contract otherwise.
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn kernel(
                mr: usize,
                nr: usize,
                kc: usize,
                a: *const $t,
                b: *const $t,
                beta: $t,
                c: *mut $t,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded contract; 1 <= mr <= MR.
                unsafe { by_rows!(mr, tile, (nr, kc, a, b, beta, c, rsc, csc), $($r)*) }
            }
        }
    };
}

avx2_kernel!(
    f32k, f32, 8, [1 2 3 4 5 6],
    _mm256_setzero_ps, _mm256_set1_ps, _mm256_load_ps, _mm256_loadu_ps, _mm256_storeu_ps,
    _mm256_fmadd_ps
);

avx2_kernel!(
    f64k, f64, 4, [1 2 3 4 5 6],
    _mm256_setzero_pd, _mm256_set1_pd, _mm256_load_pd, _mm256_loadu_pd, _mm256_storeu_pd,
    _mm256_fmadd_pd
);
