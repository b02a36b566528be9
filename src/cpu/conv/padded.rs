//! Stride-1 convolution without unfolding: the input is copied once into zero-padded planes, in
//! which every tap of an output pixel sits at a fixed offset from the pixel's own position, so the
//! GEMM reads each tap's run straight from the planes (forward: `VirtualPixels`; weight gradient:
//! the offsets feed `SampleRows` in the parent module).

use crate::cpu::gemm::{copy_short, gemm_panels, MatRef, Panels};
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::ops::{ConvGeom as Geom, GemmFloat};

/// Width of a zero-padded input row (see `pad_planes`): `pw` zeros on the left and as many on
/// the right as the last output column's window needs (more than `pw` when the padding is
/// asymmetric, as with `padding="same"` and an even kernel).
pub(super) fn padded_width(g: &Geom) -> usize {
    (g.w + 2 * g.pw).max(g.ow + g.dw * (g.kw - 1))
}

/// Elements of one zero-padded input plane: `ph` zero rows above, below as many as the last
/// output row's window needs plus one spare row, which takes the overhang of taps read past the
/// last row (see `SampleRows`).
pub(super) fn padded_plane(g: &Geom) -> usize {
    ((g.h + 2 * g.ph).max(g.oh + g.dh * (g.kh - 1)) + 1) * padded_width(g)
}

/// Offset of each tap (c, ki, kj) of a kernel from its output pixel's position in the padded
/// planes: output pixel (oy, ox) of a stride-1 convolution reads tap r at `offs[r] + oy*sp + ox`.
pub(super) fn tap_offsets(g: &Geom) -> Vec<usize> {
    let (sp, plane) = (padded_width(g), padded_plane(g));
    (0..g.cg() * g.kk())
        .map(|r| {
            let (c, ki, kj) = (r / g.kk(), r % g.kk() / g.kw, r % g.kw);
            c * plane + ki * g.dh * sp + kj * g.dw
        })
        .collect()
}

/// Copies `cg` input planes (`src`, each h×w) into `dst` as zero-padded planes of
/// `padded_plane(g)` elements, writing every element once (no zero-fill first); returns whether
/// any value was inf or NaN.
///
/// # Safety
/// `dst` is valid for `cg * padded_plane(g)` writes that nothing else accesses meanwhile.
unsafe fn pad_planes<T: GemmFloat>(src: &[T], cg: usize, g: &Geom, dst: *mut T) -> bool {
    let (sp, plane) = (padded_width(g), padded_plane(g));
    // `v * 0` is zero for finite v and NaN otherwise (an OR of compares, which vectorises).
    let mut bad = false;
    // SAFETY: every write is inside plane c of `dst`; +0.0 is all zero bits in f32 and f64.
    unsafe {
        let zero = |p: *mut T, len: usize| std::ptr::write_bytes(p, 0, len);
        for (c, planes) in src.chunks_exact(g.h * g.w).take(cg).enumerate() {
            let pl = dst.add(c * plane);
            zero(pl, g.ph * sp + g.pw);
            for (y, line) in planes.chunks_exact(g.w).enumerate() {
                let at = pl.add((y + g.ph) * sp + g.pw);
                std::ptr::copy_nonoverlapping(line.as_ptr(), at, g.w);
                bad |= line
                    .iter()
                    .fold(false, |b, &v| b | (v * T::ZERO != T::ZERO));
                // Right pad of this row and left pad of the next.
                zero(at.add(g.w), sp - g.w);
            }
            let done = (g.ph + g.h) * sp + g.pw;
            zero(pl.add(done), plane - done);
        }
    }
    bad
}

/// A stride-1 forward's unfolded input seen by the GEMM as B transposed, over the "virtual"
/// pixels of one sample (`oh` rows of the padded width; the last columns of each row are not
/// real outputs and are dropped afterwards): element (q, r) is `xp[offs[r] + q]`, so each
/// packed step of depth is one contiguous run of the padded input, and no column matrix exists.
struct VirtualPixels<'a, T> {
    xp: &'a [T],
    offs: &'a [usize],
}

impl<T: GemmFloat> Panels<T> for VirtualPixels<'_, T> {
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
        debug_assert!(self.offs[p0..p0 + kc]
            .iter()
            .all(|&o| o + i0 + rows <= self.xp.len()));
        for p in 0..kc {
            // SAFETY: pixel runs i0..i0+rows of every tap lie inside the padded planes (the
            // spare row covers the last row's overhang); the panel holds w*kc values.
            let (from, to) = unsafe {
                (
                    &self.xp[self.offs[p0 + p] + i0..][..rows],
                    std::slice::from_raw_parts_mut(dst.add(p * w), w),
                )
            };
            if s == T::ONE {
                copy_short(from, &mut to[..rows]);
            } else {
                for (d, &v) in to.iter_mut().zip(from) {
                    *d = s * v;
                }
            }
            to[rows..].fill(T::ZERO);
        }
    }
}

/// Stride-1 forward: per sample and group, pad the input planes (they stay in L2), multiply the
/// weight by `VirtualPixels` into a virtual-pixel output block, then copy its real columns to
/// `y` with the bias added on the way. Unlike im2col, the input is expanded nowhere.
pub(super) fn fwd_stride_one<T: GemmFloat>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geom,
    y: &mut [T],
) {
    let (cg, og, kdim, l) = (g.cg(), g.og(), g.cg() * g.kk(), g.l());
    let (xs, ys, sp) = (g.c * g.h * g.w, g.o * l, padded_width(g));
    let lv = g.oh * sp;
    let offs = tap_offsets(g);
    let yp = SendPtr(y.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let yp = &yp;
        let mut xp: Vec<T> = Vec::with_capacity(cg * padded_plane(g));
        let mut cv = vec![T::ZERO; og * lv];
        for n in s..e {
            for gi in 0..g.groups {
                // SAFETY: pad_planes writes all cg*plane elements of the reserved capacity.
                unsafe {
                    pad_planes(&x[n * xs + gi * cg * g.h * g.w..], cg, g, xp.as_mut_ptr());
                    xp.set_len(cg * padded_plane(g));
                }
                let taps = VirtualPixels {
                    xp: &xp,
                    offs: &offs,
                };
                let wg = MatRef::new(w[gi * og * kdim..].as_ptr(), kdim as isize, 1);
                // SAFETY: the weight block is [og, kdim], the operand [lv, kdim], cv [og, lv].
                unsafe {
                    gemm_panels(
                        og,
                        lv,
                        kdim,
                        T::ONE,
                        &wg,
                        &taps,
                        T::ZERO,
                        cv.as_mut_ptr(),
                        lv as isize,
                        1,
                    )
                };
                for (o, block) in cv.chunks_exact(lv).enumerate() {
                    let oc = gi * og + o;
                    let bv = bias.map_or(T::ZERO, |b| b[oc]);
                    // SAFETY: channel oc of sample n's output, owned by this chunk.
                    let out =
                        unsafe { std::slice::from_raw_parts_mut(yp.0.add(n * ys + oc * l), l) };
                    for (dst, src) in out.chunks_exact_mut(g.ow).zip(block.chunks_exact(sp)) {
                        for (d, &v) in dst.iter_mut().zip(src) {
                            *d = v + bv;
                        }
                    }
                }
            }
        }
    });
}

/// The stride-1 operands of group `gi` (see `SampleRows`): the zero-padded input with one spare
/// row per plane, and the output gradient with rows widened to the padded width by zeros.
/// `None` when the group's input holds inf or NaN.
pub(super) fn padded_operands<T: GemmFloat>(
    x: &[T],
    dy: &[T],
    g: &Geom,
    gi: usize,
) -> Option<(Vec<T>, Vec<T>, usize)> {
    let (cg, og) = (g.cg(), g.og());
    let (sp, plane) = (padded_width(g), padded_plane(g));
    let lv = g.oh * sp;
    // Written element by element below (each exactly once), not zero-filled first: a calloc of
    // this size is a memset, as the allocator recycles freed blocks.
    let (xlen, dlen) = (g.n * cg * plane, g.n * og * lv);
    let mut xp: Vec<T> = Vec::with_capacity(xlen);
    let mut dyp: Vec<T> = Vec::with_capacity(dlen);
    let (xs, ys) = (g.c * g.h * g.w, g.o * g.l());
    let finite = std::sync::atomic::AtomicBool::new(true);
    let (xpp, dpp) = (SendPtr(xp.as_mut_ptr()), SendPtr(dyp.as_mut_ptr()));
    parallel_for(g.n, 1, |s, e| {
        let (xpp, dpp) = (&xpp, &dpp);
        let mut bad = false;
        // SAFETY: sample n's planes (and gradient rows) lie inside the reserved capacity and
        // belong to this task only; every write below stays in them.
        unsafe {
            for n in s..e {
                let src = &x[n * xs + gi * cg * g.h * g.w..];
                bad |= pad_planes(src, cg, g, xpp.0.add(n * cg * plane));
                for o in 0..og {
                    let src = &dy[n * ys + (gi * og + o) * g.l()..][..g.l()];
                    let rows = dpp.0.add((n * og + o) * lv);
                    for (y, line) in src.chunks_exact(g.ow).enumerate() {
                        std::ptr::copy_nonoverlapping(line.as_ptr(), rows.add(y * sp), g.ow);
                        std::ptr::write_bytes(rows.add(y * sp + g.ow), 0, sp - g.ow);
                    }
                }
            }
        }
        if bad {
            finite.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    // SAFETY: every element of both buffers was written above.
    unsafe {
        xp.set_len(xlen);
        dyp.set_len(dlen);
    }
    finite.into_inner().then_some((xp, dyp, lv))
}
