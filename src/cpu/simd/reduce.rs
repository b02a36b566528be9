//! Reductions over a contiguous run: sum, dot, max, min.
//!
//! Sums use ACC independent lanes within a block (vectorised, and short serial
//! chains: BLOCK/ACC = 32 adds per lane), a tree over the lanes, and a pairwise
//! tree over the block sums, so the error grows like O(log n) similar to NumPy's
//! pairwise summation, for any n.

use super::chunks::{Elem, CHUNK};
use core::ptr::{copy_nonoverlapping, read_unaligned};

const ACC: usize = 64;
const BLOCK: usize = 2048;

#[inline(always)]
fn tree_sum<T: Elem>(mut acc: [T; ACC]) -> T {
    let mut w = ACC / 2;
    while w > 0 {
        for j in 0..w {
            acc[j] = acc[j] + acc[j + w];
        }
        w /= 2;
    }
    acc[0]
}

/// Sum of a[i]*b[i] (or of a[i] when `DOT` is false) for n <= BLOCK.
/// # Safety
/// `a` (and `b` when DOT) valid for `n` elements.
#[inline(always)]
unsafe fn block<T: Elem, const DOT: bool, const F: bool>(a: *const T, b: *const T, n: usize) -> T {
    let mut acc = [T::ZERO; ACC];
    let mut ta = [T::ZERO; ACC];
    let mut tb = [T::ZERO; ACC];
    let mut i = 0;
    while i < n {
        let m = if n - i < ACC { n - i } else { ACC };
        // SAFETY: i + m <= n; partial runs go through zero-padded local buffers.
        let (pa, pb) = unsafe {
            if m == ACC {
                (a.add(i), if DOT { b.add(i) } else { a })
            } else {
                copy_nonoverlapping(a.add(i), ta.as_mut_ptr(), m);
                if DOT {
                    copy_nonoverlapping(b.add(i), tb.as_mut_ptr(), m);
                }
                (ta.as_ptr(), tb.as_ptr())
            }
        };
        // SAFETY: pa/pb point at ACC readable elements.
        let va: [T; ACC] = unsafe { read_unaligned(pa as *const [T; ACC]) };
        if DOT {
            // SAFETY: as above.
            let vb: [T; ACC] = unsafe { read_unaligned(pb as *const [T; ACC]) };
            for j in 0..ACC {
                acc[j] = T::mad::<F>(va[j], vb[j], acc[j]);
            }
        } else {
            for j in 0..ACC {
                acc[j] = acc[j] + va[j];
            }
        }
        i += m;
    }
    tree_sum(acc)
}

/// Pairwise (binary-counter) combination of block sums.
/// # Safety
/// `a` (and `b` when DOT) valid for `n` elements.
#[inline(always)]
pub(super) unsafe fn sum_or_dot<T: Elem, const DOT: bool, const F: bool>(
    a: *const T,
    b: *const T,
    n: usize,
) -> T {
    // stack[k] holds the sum of 2^levels[k] consecutive blocks; 64 levels cover any n.
    let mut stack = [T::ZERO; 64];
    let mut levels = [0u32; 64];
    let mut sp = 0;
    let mut i = 0;
    while i < n {
        let m = if n - i < BLOCK { n - i } else { BLOCK };
        // SAFETY: i + m <= n.
        let mut s = unsafe { block::<T, DOT, F>(a.add(i), if DOT { b.add(i) } else { a }, m) };
        let mut lvl = 0;
        while sp > 0 && levels[sp - 1] == lvl {
            s = stack[sp - 1] + s;
            sp -= 1;
            lvl += 1;
        }
        stack[sp] = s;
        levels[sp] = lvl;
        sp += 1;
        i += m;
    }
    let mut total = T::ZERO;
    while sp > 0 {
        sp -= 1;
        total = stack[sp] + total;
    }
    total
}

/// NaN-propagating max (`MAX`) or min over n elements; NaN for n == 0.
/// # Safety
/// `x` valid for `n` elements.
#[inline(always)]
#[allow(clippy::eq_op)] // v != v is the NaN test that works for any Elem
pub(super) unsafe fn max_min<T: Elem, const MAX: bool>(x: *const T, n: usize) -> T {
    if n == 0 {
        return T::NAN;
    }
    // SAFETY: n >= 1.
    let first = unsafe { *x };
    // Two chunks of lanes per step, so two independent max chains hide the compare latency.
    // Lanes start at x[0] and the tail is padded with it: neutral for max/min. NaN is tracked
    // in its own mask instead of inside the chain, which keeps the chain one instruction long.
    const W: usize = 2 * CHUNK;
    let mut acc = [first; W];
    // NaN detection without a per-lane bool (which LLVM widens mask by mask into bytes, slower
    // than the max itself): `v * 0` is NaN exactly for NaN and infinite v, so a NaN in `chk`
    // means "maybe a NaN"; the rare rows with an infinity are then rescanned.
    let mut chk = [T::ZERO; W];
    let mut tail = [first; W];
    #[inline(always)]
    fn pick<T: Elem, const MAX: bool>(acc: T, v: T) -> T {
        let better = if MAX { v > acc } else { v < acc };
        if better {
            v
        } else {
            acc
        }
    }
    let mut i = 0;
    while i < n {
        let m = if n - i < W { n - i } else { W };
        // SAFETY: i + m <= n; partial runs go through the padded buffer.
        let v: [T; W] = unsafe {
            if m == W {
                read_unaligned(x.add(i) as *const [T; W])
            } else {
                copy_nonoverlapping(x.add(i), tail.as_mut_ptr(), m);
                tail
            }
        };
        for j in 0..W {
            acc[j] = pick::<T, MAX>(acc[j], v[j]);
            chk[j] = chk[j] + v[j] * T::ZERO;
        }
        i += m;
    }
    if chk.iter().any(|&c| c != c) {
        // SAFETY: x is valid for n elements.
        let xs = unsafe { std::slice::from_raw_parts(x, n) };
        if xs.iter().any(|&v| v != v) {
            return T::NAN;
        }
    }
    let mut r = acc[0];
    for &v in &acc[1..] {
        r = pick::<T, MAX>(r, v);
    }
    r
}
