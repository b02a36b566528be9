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
        if s == T::ONE && si == 1 {
            // Unscaled and contiguous along the panel width (row-major B,
            // column-major A): one block copy per step of k. Full panels copy in
            // fixed 8-element pieces, which compile to vector moves; a copy of
            // run-time length is a libc memcpy call per step, whose overhead
            // rivals the 64-128 bytes it moves.
            if rows == w && w.is_multiple_of(8) {
                for p in 0..kc {
                    let from = std::slice::from_raw_parts(src.offset(p as isize * sp), w);
                    copy_short(from, std::slice::from_raw_parts_mut(dst.add(p * w), w));
                }
            } else {
                for p in 0..kc {
                    std::ptr::copy_nonoverlapping(
                        src.offset(p as isize * sp),
                        dst.add(p * w),
                        rows,
                    );
                }
            }
        } else if sp == 1 && si != 1 && rows > 1 {
            // Source contiguous along k (row-major A / column-major B); pads the panel itself.
            pack_rows(rows, w, kc, |i| src.offset(i as isize * si), s, dst);
            return;
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

/// `dst.copy_from_slice(src)` for short runs (a panel step, a run of an image row): fixed
/// 8-element pieces that compile to vector moves, where a copy of run-time length is a libc
/// `memcpy` call whose overhead rivals the few cache lines it moves.
pub(crate) fn copy_short<T: Copy>(src: &[T], dst: &mut [T]) {
    let mut s8 = src.chunks_exact(8);
    let mut d8 = dst.chunks_exact_mut(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        d.copy_from_slice(s);
    }
    for (d, s) in d8.into_remainder().iter_mut().zip(s8.remainder()) {
        *d = *s;
    }
}

fn is_f32<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// `dst[p*w + i] = f(row(i)[p])` for `i < rows`, `p < kc`: reads run along k, writes
/// scatter with stride w, one L1-sized chunk of k at a time.
///
/// # Safety
/// As `pack_rows`.
#[inline(always)]
unsafe fn scatter_along_k<T: Copy>(
    rows: usize,
    w: usize,
    kc: usize,
    row: impl Fn(usize) -> *const T,
    dst: *mut T,
    f: impl Fn(T) -> T,
) {
    let mut p0 = 0;
    while p0 < kc {
        let pe = (p0 + K_CHUNK).min(kc);
        for i in 0..rows {
            // SAFETY: forwarded contract.
            unsafe {
                let from = row(i);
                for p in p0..pe {
                    *dst.add(p * w + i) = f(*from.add(p));
                }
            }
        }
        p0 = pe;
    }
}

/// `dst[p*w + i] = row(i)[p]` for f32: groups of four rows are read four k at a time and
/// transposed in SSE registers (baseline on x86_64, so no feature detection), which turns the
/// strided scalar stores of the plain loop into one 16-byte store per k.
///
/// # Safety
/// `row(i)` is readable for `kc` values for every `i < rows`; `dst` as `pack_panel`.
#[cfg(target_arch = "x86_64")]
unsafe fn transpose_rows_f32(
    rows: usize,
    w: usize,
    kc: usize,
    row: impl Fn(usize) -> *const f32,
    dst: *mut f32,
) {
    use std::arch::x86_64::*;
    let k4 = kc / 4 * 4;
    let mut i0 = 0;
    // SAFETY: reads stay at row(i) + p (i < rows, p < kc), writes at dst + p*w + i (i < rows).
    unsafe {
        while i0 + 4 <= rows {
            let r: [*const f32; 4] = std::array::from_fn(|q| row(i0 + q));
            let mut p = 0;
            while p < k4 {
                let (a, b) = (_mm_loadu_ps(r[0].add(p)), _mm_loadu_ps(r[1].add(p)));
                let (c, d) = (_mm_loadu_ps(r[2].add(p)), _mm_loadu_ps(r[3].add(p)));
                // a = a0 a1 a2 a3, ... -> column q = (a_q, b_q, c_q, d_q).
                let ab_lo = _mm_unpacklo_ps(a, b); // a0 b0 a1 b1
                let ab_hi = _mm_unpackhi_ps(a, b); // a2 b2 a3 b3
                let cd_lo = _mm_unpacklo_ps(c, d); // c0 d0 c1 d1
                let cd_hi = _mm_unpackhi_ps(c, d); // c2 d2 c3 d3
                _mm_storeu_ps(dst.add(p * w + i0), _mm_movelh_ps(ab_lo, cd_lo));
                _mm_storeu_ps(dst.add((p + 1) * w + i0), _mm_movehl_ps(cd_lo, ab_lo));
                _mm_storeu_ps(dst.add((p + 2) * w + i0), _mm_movelh_ps(ab_hi, cd_hi));
                _mm_storeu_ps(dst.add((p + 3) * w + i0), _mm_movehl_ps(cd_hi, ab_hi));
                p += 4;
            }
            for p in k4..kc {
                for (q, from) in r.iter().enumerate() {
                    *dst.add(p * w + i0 + q) = *from.add(p);
                }
            }
            i0 += 4;
        }
        // The last rows % 4 rows, one element at a time.
        scatter_along_k(rows - i0, w, kc, |i| row(i0 + i), dst.add(i0), |v| v);
    }
}

/// Packs one panel from rows given by pointer, each contiguous along k:
/// `dst[p*w + i] = s * row(i)[p]` for `i < rows`, `p < kc`, zero for `rows <= i < w`. For
/// operands whose rows sit at offsets no single stride describes (the taps of an image).
///
/// # Safety
/// `row(i)` is readable for `kc` values for every `i < rows`; `dst` valid for `w * kc` writes.
pub(crate) unsafe fn pack_rows<T: Element>(
    rows: usize,
    w: usize,
    kc: usize,
    row: impl Fn(usize) -> *const T,
    s: T,
    dst: *mut T,
) {
    // SAFETY: reads and writes as the contract allows.
    unsafe {
        if s == T::ONE && rows >= 4 && is_f32::<T>() {
            // Row-major f32 A (the common case): 4x4 register transposes.
            #[cfg(target_arch = "x86_64")]
            transpose_rows_f32(rows, w, kc, |i| row(i) as *const f32, dst as *mut f32);
            #[cfg(not(target_arch = "x86_64"))]
            scatter_along_k(rows, w, kc, row, dst, |v| v);
        } else if s == T::ONE {
            // The unscaled case is its own instantiation: no multiply in the store-bound loop.
            scatter_along_k(rows, w, kc, row, dst, |v| v);
        } else {
            scatter_along_k(rows, w, kc, row, dst, |v| s * v);
        }
        for p in 0..kc {
            for i in rows..w {
                *dst.add(p * w + i) = T::ZERO;
            }
        }
    }
}

/// An operand the driver packs panel by panel: a strided matrix, or one computed on the fly
/// (the convolution's unfolded image, which is never stored whole). Seen as an `outer × depth`
/// matrix: A's rows or B's columns by the shared dimension.
pub(crate) trait Panels<T>: Sync {
    /// Writes `dst[p*w + i] = s * op(i0 + i, p0 + p)` for `i < rows`, `p < kc`, and zero for
    /// `rows <= i < w`.
    ///
    /// # Safety
    /// The ranges lie inside the operand; `dst` is valid for `w * kc` writes.
    #[allow(clippy::too_many_arguments)]
    unsafe fn pack(
        &self,
        i0: usize,
        rows: usize,
        p0: usize,
        kc: usize,
        w: usize,
        s: T,
        dst: *mut T,
    );
}

impl<T: Element> Panels<T> for MatRef<T> {
    unsafe fn pack(
        &self,
        i0: usize,
        rows: usize,
        p0: usize,
        kc: usize,
        w: usize,
        s: T,
        dst: *mut T,
    ) {
        // SAFETY: forwarded; the view addresses (i, p) at `ptr + i*rs + p*cs`.
        unsafe { pack_panel(rows, w, kc, self.offset(i0, p0), self.rs, self.cs, s, dst) }
    }
}

/// Packs rows `i0..i0+mc` by depth `p0..p0+kc` of A into panels of `mr` rows, folding
/// `alpha` in so the kernel does not have to scale.
///
/// # Safety
/// The block lies inside `a`; `dst` must hold `mc.div_ceil(mr) * mr * kc` values.
pub(super) unsafe fn pack_a<T: Element>(
    a: &impl Panels<T>,
    (i0, mc): (usize, usize),
    (p0, kc): (usize, usize),
    alpha: T,
    mr: usize,
    dst: *mut T,
) {
    for (panel, r0) in (0..mc).step_by(mr).enumerate() {
        // SAFETY: panel `panel` lies inside `dst` by the size contract, and its rows are
        // inside the block.
        unsafe {
            a.pack(
                i0 + r0,
                mr.min(mc - r0),
                p0,
                kc,
                mr,
                alpha,
                dst.add(panel * mr * kc),
            )
        };
    }
}

/// Packs micro-panels `panels.0..panels.1` (each `nr` columns wide) of the block of B at
/// columns `j0..j0+nc`, depth `p0..p0+kc`, into `dst`, the start of the whole packed block.
/// `bt` is B seen transposed (columns as the outer index).
///
/// # Safety
/// The block lies inside B; `dst` must hold `nc.div_ceil(nr) * nr * kc` values.
pub(super) unsafe fn pack_b<T: Element>(
    bt: &impl Panels<T>,
    (j0, nc): (usize, usize),
    (p0, kc): (usize, usize),
    nr: usize,
    panels: (usize, usize),
    dst: *mut T,
) {
    for panel in panels.0..panels.1 {
        let c0 = panel * nr;
        // SAFETY: as in `pack_a`, with B's columns playing the role of rows.
        unsafe {
            bt.pack(
                j0 + c0,
                nr.min(nc - c0),
                p0,
                kc,
                nr,
                T::ONE,
                dst.add(panel * nr * kc),
            )
        };
    }
}
