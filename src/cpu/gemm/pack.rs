//! Packing of A and B blocks into contiguous micro-panels.
//!
//! A packed panel of width `w` stores, for every step p of the shared
//! dimension, `w` consecutive values: `dst[p*w + i]`. The micro-kernel then
//! streams both operands with unit stride no matter how the caller laid the
//! matrices out. Lanes past the matrix edge are zero-filled so kernels can
//! always load whole vectors.

use super::driver::MatRef;
use super::Element;

/// Source elements read per row before moving to the next row when the
/// source is contiguous along k; 16 f32 = one cache line, and the 16×w
/// destination sub-block stays in L1 while it is filled column by column.
const K_CHUNK: usize = 16;

/// Packs one panel: `dst[p*w + i] = s * src[i*si + p*sp]` for `i < rows`,
/// `p < kc`, and zero for `rows <= i < w`.
///
/// # Safety
/// `src` must be readable at every addressed element; `dst` must be valid
/// for `w * kc` writes.
#[allow(clippy::too_many_arguments)]
unsafe fn pack_panel<T: Element>(
    rows: usize,
    w: usize,
    kc: usize,
    src: *const T,
    si: isize,
    sp: isize,
    s: T,
    dst: *mut T,
) {
    // SAFETY: all reads are at `src + i*si + p*sp` with i < rows, p < kc,
    // and all writes at `dst + p*w + i` with i < w, p < kc, both within the
    // ranges the caller guarantees.
    unsafe {
        if sp == 1 && si != 1 && rows > 1 {
            // Source contiguous along k (row-major A / column-major B): read
            // runs along k, scatter with stride w, one L1-sized chunk at a time.
            let mut p0 = 0;
            while p0 < kc {
                let pe = (p0 + K_CHUNK).min(kc);
                for i in 0..rows {
                    let row = src.offset(i as isize * si);
                    for p in p0..pe {
                        *dst.add(p * w + i) = s * *row.add(p);
                    }
                }
                p0 = pe;
            }
        } else if si == 1 {
            // Source contiguous along the panel width: straight copies that
            // the compiler vectorises.
            for p in 0..kc {
                let from = src.offset(p as isize * sp);
                let to = dst.add(p * w);
                for i in 0..rows {
                    *to.add(i) = s * *from.add(i);
                }
            }
        } else {
            // Arbitrary strides (including 0 for broadcast dimensions).
            for p in 0..kc {
                let from = src.offset(p as isize * sp);
                let to = dst.add(p * w);
                for i in 0..rows {
                    *to.add(i) = s * *from.offset(i as isize * si);
                }
            }
        }
        if rows < w {
            for p in 0..kc {
                for i in rows..w {
                    *dst.add(p * w + i) = T::ZERO;
                }
            }
        }
    }
}

/// Packs the `mc × kc` block of A at `a` (already offset to the block's
/// origin) into panels of `mr` rows, folding `alpha` in so the kernel does
/// not have to scale.
///
/// # Safety
/// `a` must be readable over the block; `dst` must hold
/// `mc.div_ceil(mr) * mr * kc` values.
pub(super) unsafe fn pack_a<T: Element>(
    mc: usize,
    kc: usize,
    a: MatRef<T>,
    alpha: T,
    mr: usize,
    dst: *mut T,
) {
    for (panel, i0) in (0..mc).step_by(mr).enumerate() {
        let rows = mr.min(mc - i0);
        // SAFETY: panel `panel` lies inside `dst` by the size contract, and
        // its source rows i0..i0+rows are inside the block.
        unsafe {
            pack_panel(
                rows,
                mr,
                kc,
                a.offset(i0, 0),
                a.rs,
                a.cs,
                alpha,
                dst.add(panel * mr * kc),
            )
        };
    }
}

/// Packs micro-panels `panels.0..panels.1` (each `nr` columns wide) of the
/// `kc × nc` block of B at `b` (offset to the block's origin) into `dst`,
/// which is the start of the whole packed block.
///
/// # Safety
/// `b` must be readable over the block; `dst` must hold
/// `nc.div_ceil(nr) * nr * kc` values.
pub(super) unsafe fn pack_b<T: Element>(
    kc: usize,
    nc: usize,
    b: MatRef<T>,
    nr: usize,
    panels: (usize, usize),
    dst: *mut T,
) {
    for panel in panels.0..panels.1 {
        let j0 = panel * nr;
        let cols = nr.min(nc - j0);
        // SAFETY: as in `pack_a`, with B's columns playing the role of rows.
        unsafe {
            pack_panel(
                cols,
                nr,
                kc,
                b.offset(0, j0),
                b.cs,
                b.rs,
                T::ONE,
                dst.add(panel * nr * kc),
            )
        };
    }
}
