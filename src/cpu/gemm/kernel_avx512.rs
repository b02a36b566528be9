//! AVX-512F micro-kernels (x86_64 only, selected at run time).
//!
//! C tiles are `MR` rows × `NV` zmm vectors. Per k step the kernel loads
//! `NV` vectors of packed B and broadcasts `MR` values of packed A, issuing
//! `MR*NV` independent FMAs: with MR=12, NV=2 that is 24 accumulators (+2 B
//! vectors + 1 broadcast of the 32 zmm registers), enough to cover the
//! 4-cycle FMA latency on both FMA pipes of Zen 4/5. Rows past the matrix
//! edge use a smaller const-generic instantiation instead of wasted work;
//! columns past the edge use masked loads/stores.

use std::arch::x86_64::*;

use super::kernel_generic::store_tile;

/// Instantiates `$tile::<R, NV>` for the runtime row count `$mr`.
macro_rules! by_rows {
    ($mr:expr, $tile:ident, $nv:literal, $args:tt, $($r:literal)*) => {
        match $mr {
            $($r => $tile::<$r, $nv> $args,)*
            _ => unreachable!("tile rows out of range"),
        }
    };
}

macro_rules! avx512_kernel {
    (
        $modname:ident, $t:ty, $lanes:literal, $mask:ty, [$($r:literal)*],
        $setzero:ident, $set1:ident, $load:ident, $loadu:ident, $storeu:ident,
        $fmadd:ident, $maskz_loadu:ident, $mask_storeu:ident
    ) => {
        pub(super) mod $modname {
            use super::*;

            /// Rows per micro-tile.
            pub const MR: usize = [$($r),*].len();
            /// Columns per micro-tile: two zmm vectors.
            pub const NR: usize = 2 * $lanes;

            /// One `R × (NV*lanes)` tile; see `KernelFn` for the contract.
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
            unsafe fn tile<const R: usize, const NV: usize>(
                nr: usize,
                kc: usize,
                mut a: *const $t,
                mut b: *const $t,
                beta: $t,
                c: *mut $t,
                rsc: isize,
                csc: isize,
            ) {
                // Pull the C tile toward L1 while the k loop runs, so the
                // write-back does not stall on misses. Prefetches never
                // fault; wrapping arithmetic keeps the address computation
                // defined even for lanes past the tile.
                if csc == 1 {
                    for i in 0..R {
                        let row = c.wrapping_offset(i as isize * rsc) as *const i8;
                        _mm_prefetch::<_MM_HINT_T0>(row);
                        if NV == 2 {
                            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(64 * NV - 1));
                        }
                    }
                }
                let mut acc = [[$setzero(); NV]; R];
                // SAFETY: the packed panels hold kc steps of MR (A) and NR (B)
                // values and B is 64-byte aligned (NR*size is a multiple of
                // 64), so every load below is in bounds and aligned.
                unsafe {
                    for _ in 0..kc {
                        let mut bv = [$setzero(); NV];
                        for v in 0..NV {
                            bv[v] = $load(b.add(v * $lanes));
                        }
                        for i in 0..R {
                            let av = $set1(*a.add(i));
                            for v in 0..NV {
                                acc[i][v] = $fmadd(av, bv[v], acc[i][v]);
                            }
                        }
                        a = a.add(MR);
                        b = b.add(NR);
                    }
                }
                if csc == 1 {
                    let betav = $set1(beta);
                    for i in 0..R {
                        // SAFETY: rows < R and columns < nr are inside the C
                        // tile; partial vectors are masked to columns < nr.
                        unsafe {
                            let row = c.offset(i as isize * rsc);
                            for v in 0..NV {
                                let j0 = v * $lanes;
                                if j0 >= nr {
                                    break;
                                }
                                let p = row.add(j0);
                                if nr - j0 >= $lanes {
                                    let r = if beta == 0.0 {
                                        acc[i][v]
                                    } else {
                                        $fmadd($loadu(p), betav, acc[i][v])
                                    };
                                    $storeu(p, r);
                                } else {
                                    let mask = ((1u32 << (nr - j0)) - 1) as $mask;
                                    let r = if beta == 0.0 {
                                        acc[i][v]
                                    } else {
                                        $fmadd($maskz_loadu(mask, p), betav, acc[i][v])
                                    };
                                    $mask_storeu(p, mask, r);
                                }
                            }
                        }
                    }
                } else {
                    // Strided C: spill to a stack tile, then scalar update.
                    let mut t = [[0.0 as $t; NR]; R];
                    for i in 0..R {
                        for v in 0..NV {
                            // SAFETY: writes lanes v*lanes.. of row i, inside `t`.
                            unsafe { $storeu(t[i].as_mut_ptr().add(v * $lanes), acc[i][v]) };
                        }
                    }
                    // SAFETY: C is valid over R × nr by the caller's contract.
                    unsafe { store_tile(t.as_flattened(), NR, R, nr, beta, c, rsc, csc) };
                }
            }

            /// AVX-512 entry point with the `KernelFn` signature.
            ///
            /// # Safety
            /// The CPU must support AVX-512F; `KernelFn` contract otherwise.
            #[target_feature(enable = "avx512f")]
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
                // SAFETY: forwarded contract; 1 <= mr <= MR and nr <= NR.
                unsafe {
                    if nr > $lanes {
                        by_rows!(mr, tile, 2, (nr, kc, a, b, beta, c, rsc, csc), $($r)*)
                    } else {
                        by_rows!(mr, tile, 1, (nr, kc, a, b, beta, c, rsc, csc), $($r)*)
                    }
                }
            }
        }
    };
}

avx512_kernel!(
    f32k, f32, 16, __mmask16, [1 2 3 4 5 6 7 8 9 10 11 12],
    _mm512_setzero_ps, _mm512_set1_ps, _mm512_load_ps, _mm512_loadu_ps, _mm512_storeu_ps,
    _mm512_fmadd_ps, _mm512_maskz_loadu_ps, _mm512_mask_storeu_ps
);

avx512_kernel!(
    f64k, f64, 8, __mmask8, [1 2 3 4 5 6 7 8 9 10 11 12],
    _mm512_setzero_pd, _mm512_set1_pd, _mm512_load_pd, _mm512_loadu_pd, _mm512_storeu_pd,
    _mm512_fmadd_pd, _mm512_maskz_loadu_pd, _mm512_mask_storeu_pd
);
