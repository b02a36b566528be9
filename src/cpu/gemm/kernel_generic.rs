//! Portable scalar micro-kernel (any architecture) and the shared scalar
//! tile write-back used by the SIMD kernels for strided or partial tiles.

use super::Element;

/// Rows per tile of the portable kernel.
pub(super) const MR: usize = 4;
/// Columns per tile of the portable kernel; 4×8 accumulators fit the 16
/// vector registers of SSE2/NEON once the compiler vectorises the rows.
pub(super) const NR: usize = 8;

/// Writes `C[i, j] = tile[i*ld + j] + beta * C[i, j]` for the valid
/// `mr × nr` region (C not read when beta == 0).
///
/// # Safety
/// `tile` has at least `mr` rows of `ld`; C is valid over the region.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn store_tile<T: Element>(
    tile: &[T],
    ld: usize,
    mr: usize,
    nr: usize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    for i in 0..mr {
        for j in 0..nr {
            // SAFETY: (i, j) is in the caller-guaranteed C region.
            unsafe {
                let p = c.offset(i as isize * rsc + j as isize * csc);
                let v = tile[i * ld + j];
                *p = if beta == T::ZERO { v } else { v + beta * *p };
            }
        }
    }
}

/// Portable `MR × NR` micro-kernel; see `KernelFn` for the contract.
///
/// # Safety
/// Panels hold `kc` steps of `MR`/`NR` values; C is valid over mr×nr.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn kernel<T: Element>(
    mr: usize,
    nr: usize,
    kc: usize,
    a: *const T,
    b: *const T,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let mut acc = [T::ZERO; MR * NR];
    for p in 0..kc {
        // SAFETY: step p of each packed panel is in bounds (p < kc).
        let (av, bv) = unsafe {
            (
                &*(a.add(p * MR) as *const [T; MR]),
                &*(b.add(p * NR) as *const [T; NR]),
            )
        };
        for i in 0..MR {
            for j in 0..NR {
                acc[i * NR + j] = acc[i * NR + j] + av[i] * bv[j];
            }
        }
    }
    // SAFETY: forwarded caller contract on C.
    unsafe { store_tile(&acc, NR, mr, nr, beta, c, rsc, csc) };
}
