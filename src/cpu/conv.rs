//! CPU convolution kernels, all GEMMs on the blocked `cpu::gemm` driver. Stride-1 forward and
//! weight gradient read their taps straight from zero-padded input planes (each tap of an output
//! pixel sits at a fixed offset from it there), so the input is never unfolded; the other
//! strides unfold bands of output rows with im2col, and the input gradient folds `W^T · dy`
//! back with col2im. The three kernels also serve the transposed convolution, whose forward is
//! the input gradient of a convolution (`ops/conv.rs` decides which runs when).

use crate::cpu::gemm::{gemm_panels, pack_rows, with_scratch, MatRef, Panels};
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{ConvGeom as Geom, GemmFloat};
use crate::tensor::Tensor;

/// The output columns `ox` whose input column `ox * stride + off` lies inside `0..w`, as a range.
fn valid_cols(ow: usize, w: usize, stride: usize, off: isize) -> (usize, usize) {
    // ix >= 0  <=>  ox >= ceil(-off / stride);  ix < w  <=>  ox <= (w - 1 - off) / stride.
    let lo = if off >= 0 { 0 } else { (-off) as usize }.div_ceil(stride);
    let last = w as isize - 1 - off;
    let hi = if last < 0 {
        0
    } else {
        (last as usize / stride + 1).min(ow)
    };
    (lo.min(hi), hi)
}

/// Unfold `cg` channels of one sample (`x` points at its first channel) into `col`
/// (`[cg*kh*kw, (oy1-oy0)*ow]`, rows `ld` apart) for the output rows `oy0..oy1`, with zeros
/// where the window hits the padding.
///
/// # Safety
/// `col` must be valid for writes at `r * ld + i` for every row `r < cg*kh*kw` and
/// `i < (oy1-oy0)*ow`, and nothing else may access those elements during the call.
unsafe fn im2col<T: GemmFloat>(x: &[T], g: &Geom, col: *mut T, ld: usize, oys: (usize, usize)) {
    for c in 0..g.cg() {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * ld;
                let off = (kj * g.dw) as isize - g.pw as isize;
                // The in-bounds run of each output row is the same for every oy.
                let (lo, hi) = valid_cols(g.ow, g.w, g.sw, off);
                for oy in oys.0..oys.1 {
                    // SAFETY: one output row of `col` row `row / ld`, inside the caller's range.
                    let dst = unsafe {
                        std::slice::from_raw_parts_mut(col.add(row + (oy - oys.0) * g.ow), g.ow)
                    };
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize || lo >= hi {
                        dst.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    dst[..lo].fill(T::ZERO);
                    dst[hi..].fill(T::ZERO);
                    let start = (lo * g.sw) as isize + off;
                    if g.sw == 1 {
                        let s0 = start as usize;
                        dst[lo..hi].copy_from_slice(&src[s0..s0 + hi - lo]);
                    } else {
                        for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                            *d = src[start as usize + k * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// Fold `col` (`[cg*kh*kw, (oy1-oy0)*ow]`, rows `ld` apart, the output rows `oy0..oy1`) back
/// onto the planes `x`, adding overlapping windows.
fn col2im<T: GemmFloat>(col: &[T], g: &Geom, x: &mut [T], ld: usize, oys: (usize, usize)) {
    for c in 0..g.cg() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * ld;
                let off = (kj * g.dw) as isize - g.pw as isize;
                let (lo, hi) = valid_cols(g.ow, g.w, g.sw, off);
                if lo >= hi {
                    continue;
                }
                let start = ((lo * g.sw) as isize + off) as usize;
                for oy in oys.0..oys.1 {
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let at = row + (oy - oys.0) * g.ow;
                    let src = &col[at + lo..at + hi];
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    if g.sw == 1 {
                        for (d, &v) in dst[start..start + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (k, &v) in src.iter().enumerate() {
                            dst[start + k * g.sw] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Bytes of column matrix the forward and input-gradient kernels unfold at a time: a band of
/// output rows whose columns (and the GEMM's packed copy of them) stay in the core's L2, instead
/// of a whole sample's im2col matrix streaming through L3 twice.
const BAND_BYTES: usize = 256 << 10;

/// Output rows per band (at least one).
fn band_rows<T>(g: &Geom) -> usize {
    (BAND_BYTES / (g.cg() * g.kk() * g.ow * size_of::<T>()).max(1)).clamp(1, g.oh.max(1))
}

/// Width of a zero-padded input row (see `pad_planes`): `pw` zeros on the left and as many on
/// the right as the last output column's window needs (more than `pw` when the padding is
/// asymmetric, as with `padding="same"` and an even kernel).
fn padded_width(g: &Geom) -> usize {
    (g.w + 2 * g.pw).max(g.ow + g.dw * (g.kw - 1))
}

/// Elements of one zero-padded input plane: `ph` zero rows above, below as many as the last
/// output row's window needs plus one spare row, which takes the overhang of taps read past the
/// last row (see `SampleRows`).
fn padded_plane(g: &Geom) -> usize {
    ((g.h + 2 * g.ph).max(g.oh + g.dh * (g.kh - 1)) + 1) * padded_width(g)
}

/// Offset of each tap (c, ki, kj) of a kernel from its output pixel's position in the padded
/// planes: output pixel (oy, ox) of a stride-1 convolution reads tap r at `offs[r] + oy*sp + ox`.
fn tap_offsets(g: &Geom) -> Vec<usize> {
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
        let full = rows == w && w.is_multiple_of(8) && s == T::ONE;
        debug_assert!(self.offs[p0..p0 + kc]
            .iter()
            .all(|&o| o + i0 + rows <= self.xp.len()));
        for p in 0..kc {
            // SAFETY: pixel runs i0..i0+rows of every tap lie inside the padded planes (the
            // spare row covers the last row's overhang); the panel holds w*kc values.
            unsafe {
                let from = self.xp.as_ptr().add(self.offs[p0 + p] + i0);
                let to = dst.add(p * w);
                if full {
                    // Fixed 8-element pieces compile to vector moves (no memcpy call per step).
                    for c in (0..w).step_by(8) {
                        std::ptr::copy_nonoverlapping(from.add(c), to.add(c), 8);
                    }
                } else {
                    for i in 0..rows {
                        *to.add(i) = s * *from.add(i);
                    }
                    for i in rows..w {
                        *to.add(i) = T::ZERO;
                    }
                }
            }
        }
    }
}

/// Stride-1 forward: per sample and group, pad the input planes (they stay in L2), multiply the
/// weight by `VirtualPixels` into a virtual-pixel output block, then copy its real columns to
/// `y` with the bias added on the way. Unlike im2col, the input is expanded nowhere.
fn fwd_stride_one<T: GemmFloat>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom, y: &mut [T]) {
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

/// `y[n] = W · im2col(x[n]) (+ bias)`; x `[n,c,h,w]`, w `[o,c/g,kh,kw]`, both contiguous.
fn fwd_kernel<T: GemmFloat>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom, y: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let band = band_rows::<T>(g);
    let yp = SendPtr(y.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let yp = &yp;
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![T::ZERO; cg * kk * band * g.ow]
        };
        for n in s..e {
            for gi in 0..g.groups {
                let xg = &x[n * xs + gi * cg * g.h * g.w..];
                let wg = w[gi * og * cg * kk..].as_ptr();
                // SAFETY (both GEMMs): w holds o*cg*kk elements, the column block cg*kk rows of
                // `cols` values `ld` apart, y's sample slice og*l per group; each sample's output
                // region is written by one chunk only.
                let gemm = |b: *const T, ld: usize, cols: usize, at: usize| unsafe {
                    T::gemm(
                        og,
                        cols,
                        cg * kk,
                        T::ONE,
                        wg,
                        (cg * kk) as isize,
                        1,
                        b,
                        ld as isize,
                        1,
                        T::ZERO,
                        yp.0.add(n * ys + gi * og * l + at),
                        l as isize,
                        1,
                    )
                };
                if g.pointwise() {
                    gemm(xg.as_ptr(), l, l, 0);
                    continue;
                }
                for oy0 in (0..g.oh).step_by(band) {
                    let oys = (oy0, (oy0 + band).min(g.oh));
                    let bw = (oys.1 - oys.0) * g.ow;
                    // SAFETY: `col` holds cg*kk rows of band*ow >= bw elements, exclusively ours.
                    unsafe { im2col(xg, g, col.as_mut_ptr(), bw, oys) };
                    gemm(col.as_ptr(), bw, bw, oy0 * g.ow);
                }
            }
            if let Some(b) = bias {
                for (oc, &bv) in b.iter().enumerate() {
                    // SAFETY: within sample n's output.
                    let row =
                        unsafe { std::slice::from_raw_parts_mut(yp.0.add(n * ys + oc * l), l) };
                    row.iter_mut().for_each(|v| *v += bv);
                }
            }
        }
    });
}

/// `dx[n] = col2im(W^T · dy[n])`; the input gradient of a convolution.
fn bwd_input_kernel<T: GemmFloat>(dy: &[T], w: &[T], g: &Geom, dx: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let band = band_rows::<T>(g);
    let xp = SendPtr(dx.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let xp = &xp;
        let mut col = vec![
            T::ZERO;
            if g.pointwise() {
                0
            } else {
                cg * kk * band * g.ow
            }
        ];
        for n in s..e {
            for gi in 0..g.groups {
                let dyp = dy[n * ys + gi * og * l..].as_ptr();
                let wp = w[gi * og * cg * kk..].as_ptr();
                // SAFETY: sample n's slice of dx belongs to this chunk only.
                let dxg = unsafe {
                    std::slice::from_raw_parts_mut(
                        xp.0.add(n * xs + gi * cg * g.h * g.w),
                        cg * g.h * g.w,
                    )
                };
                // SAFETY (both GEMMs): sizes as in fwd_kernel, W read transposed through its
                // strides, `dy` columns `at..at+cols` with row stride l, C `cols` wide, `ld` apart.
                let gemm = |at: usize, cols: usize, c: *mut T, ld: usize| unsafe {
                    T::gemm(
                        cg * kk,
                        cols,
                        og,
                        T::ONE,
                        wp,
                        1,
                        (cg * kk) as isize,
                        dyp.add(at),
                        l as isize,
                        1,
                        T::ZERO,
                        c,
                        ld as isize,
                        1,
                    )
                };
                if g.pointwise() {
                    gemm(0, l, dxg.as_mut_ptr(), l);
                    continue;
                }
                dxg.fill(T::ZERO);
                for oy0 in (0..g.oh).step_by(band) {
                    let oys = (oy0, (oy0 + band).min(g.oh));
                    let bw = (oys.1 - oys.0) * g.ow;
                    gemm(oy0 * g.ow, bw, col.as_mut_ptr(), bw);
                    col2im(&col, g, dxg, bw, oys);
                }
            }
        }
    });
}

/// One group's input over the whole batch, unfolded, as a GEMM operand packed on the fly:
/// element (r, q) is tap r = (c, ki, kj) of output pixel q % l of sample q / l (zero where the
/// window hits the padding). The weight gradient multiplies it by the output gradient without
/// ever storing the `[cg*kh*kw, n*l]` column matrix.
struct Unfolded<'a, T> {
    x: &'a [T],
    g: &'a Geom,
    gi: usize,
}

impl<T: GemmFloat> Unfolded<'_, T> {
    /// Writes taps `r` of the depth range `p0..p0+kc` to `out[0..kc]`, one output row (a run of
    /// ox) at a time.
    ///
    /// # Safety
    /// `out` is valid for `kc` writes; the tap and the range lie inside the operand.
    unsafe fn unfold_tap(&self, r: usize, p0: usize, kc: usize, out: *mut T) {
        let g = self.g;
        let (l, kk, plane) = (g.l(), g.kk(), g.h * g.w);
        let (c, ki, kj) = (r / kk, r % kk / g.kw, r % g.kw);
        let off = (kj * g.dw) as isize - g.pw as isize;
        let (lo, hi) = valid_cols(g.ow, g.w, g.sw, off);
        let base = (self.gi * g.cg() + c) * plane;
        // Position of depth p0, then advanced run by run (no division per run).
        let (mut n, pix) = (p0 / l, p0 % l);
        let (mut oy, mut ox0) = (pix / g.ow, pix % g.ow);
        let mut done = 0;
        while done < kc {
            let ox1 = (ox0 + kc - done).min(g.ow);
            // SAFETY: this run fills out[done .. done+ox1-ox0], inside the caller's kc slots.
            let d = unsafe { std::slice::from_raw_parts_mut(out.add(done), ox1 - ox0) };
            let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
            let (a, b) = if iy < 0 || iy >= g.h as isize {
                (ox1, ox1)
            } else {
                (lo.clamp(ox0, ox1), hi.clamp(ox0, ox1))
            };
            d[..a - ox0].fill(T::ZERO);
            d[b - ox0..].fill(T::ZERO);
            if a < b {
                let start = n * g.c * plane + base + iy as usize * g.w;
                let first = ((a * g.sw) as isize + off) as usize;
                let src = &self.x[start..start + g.w];
                let dst = &mut d[a - ox0..b - ox0];
                if g.sw == 1 {
                    copy_short(&src[first..first + dst.len()], dst);
                } else {
                    for (k, v) in dst.iter_mut().enumerate() {
                        *v = src[first + k * g.sw];
                    }
                }
            }
            done += ox1 - ox0;
            ox0 = 0;
            oy += 1;
            if oy == g.oh {
                oy = 0;
                n += 1;
            }
        }
    }
}

/// `dst.copy_from_slice(src)` for the short runs of an image row: fixed 8-element pieces that
/// compile to vector moves, where a run-time-length copy would be a libc call per run.
fn copy_short<T: Copy>(src: &[T], dst: &mut [T]) {
    let mut s8 = src.chunks_exact(8);
    let mut d8 = dst.chunks_exact_mut(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        d.copy_from_slice(s);
    }
    for (d, s) in d8.into_remainder().iter_mut().zip(s8.remainder()) {
        *d = *s;
    }
}

impl<T: GemmFloat> Panels<T> for Unfolded<'_, T> {
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
        // Each tap's run is unfolded contiguously into scratch, then the strided packer (4x4
        // register transposes for f32) interleaves the rows into the panel.
        with_scratch(rows * kc, |tmp: *mut T| {
            // SAFETY: tmp holds rows*kc values; row i is tmp[i*kc..(i+1)*kc].
            unsafe {
                for i in 0..rows {
                    self.unfold_tap(i0 + i, p0, kc, tmp.add(i * kc));
                }
                MatRef::new(tmp as *const T, kc as isize, 1).pack(0, rows, 0, kc, w, s, dst)
            }
        })
    }
}

/// Rows of per-sample blocks as a GEMM operand whose depth runs over the samples: element
/// (i, q) is `data[(q / len) * sample + offs[i] + q % len]`, each row contiguous within a sample.
/// Serves the weight gradient twice: as the output gradient (`offs[i]` = channel i's row), packed
/// straight from `dy` with no gathered copy, and, for stride 1, as the taps of the padded input
/// (`offs` from `tap_offsets`: tap (c, ki, kj) of output pixel (oy, ox) sits at a fixed offset
/// from `oy*sp + ox` in planes `sp` wide, so each tap's row is a contiguous run). There the depth
/// runs over `oh*sp` "virtual" pixels per sample, the last `sp - ow` of each output row not real:
/// the output gradient is zero at those (`padded_operands`), so whatever finite value the taps
/// read there adds nothing. Non-finite inputs (inf * 0 = NaN) take the exact `Unfolded` path.
struct SampleRows<'a, T> {
    data: &'a [T],
    offs: Vec<usize>,
    sample: usize,
    len: usize,
}

impl<T: GemmFloat> Panels<T> for SampleRows<'_, T> {
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
        let mut q = p0;
        while q < p0 + kc {
            // One sample's stretch of the depth range.
            let (n, j) = (q / self.len, q % self.len);
            let len = (self.len - j).min(p0 + kc - q);
            let base = n * self.sample + j;
            debug_assert!(self.offs[i0..i0 + rows]
                .iter()
                .all(|&o| base + o + len <= self.data.len()));
            // SAFETY: every row's run lies inside `data` (for padded taps, the planes' spare row
            // covers the overhang of the last output row); the destination run is in the panel.
            unsafe {
                let from = self.data.as_ptr().add(base);
                pack_rows(
                    rows,
                    w,
                    len,
                    |i| from.add(self.offs[i0 + i]),
                    s,
                    dst.add((q - p0) * w),
                )
            };
            q += len;
        }
    }
}

/// The stride-1 operands of group `gi` (see `SampleRows`): the zero-padded input with one spare
/// row per plane, and the output gradient with rows widened to the padded width by zeros.
/// `None` when the group's input holds inf or NaN.
fn padded_operands<T: GemmFloat>(
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

/// `dW = sum_n dy[n] · im2col(x[n])^T`, computed transposed as one GEMM per group over the whole
/// batch: A is the unfolded input (taps × pixels), B the output gradient, both packed panel by
/// panel (stride-1 convolutions read the taps straight from a padded copy of the input, others
/// unfold them per panel). The samples' sum is the GEMM's own depth loop, the GEMM splits the
/// taps across threads, and nothing but the small `[kdim, og]` result is written: no column
/// matrix, no per-thread partial sums.
fn bwd_weight_kernel<T: GemmFloat>(dy: &[T], x: &[T], g: &Geom, dw: &mut [T]) {
    let (og, kdim, l) = (g.og(), g.cg() * g.kk(), g.l());
    let mut dwt = vec![T::ZERO; kdim * og];
    let stride_one = g.sh == 1 && g.sw == 1;
    for gi in 0..g.groups {
        let c = dwt.as_mut_ptr();
        // SAFETY (both): the operands cover kdim (og) rows by the whole depth; dwt is [kdim, og].
        match stride_one.then(|| padded_operands(x, dy, g, gi)).flatten() {
            Some((xp, dyp, lv)) => {
                let taps = SampleRows {
                    data: &xp,
                    offs: tap_offsets(g),
                    sample: g.cg() * padded_plane(g),
                    len: lv,
                };
                let grads = SampleRows {
                    data: &dyp,
                    offs: (0..og).map(|o| o * lv).collect(),
                    sample: og * lv,
                    len: lv,
                };
                unsafe {
                    gemm_panels(
                        kdim,
                        og,
                        g.n * lv,
                        T::ONE,
                        &taps,
                        &grads,
                        T::ZERO,
                        c,
                        og as isize,
                        1,
                    )
                };
            }
            None => {
                let grads = SampleRows {
                    data: dy,
                    offs: (0..og).map(|o| (gi * og + o) * l).collect(),
                    sample: g.o * l,
                    len: l,
                };
                let taps = Unfolded { x, g, gi };
                unsafe {
                    gemm_panels(
                        kdim,
                        og,
                        g.n * l,
                        T::ONE,
                        &taps,
                        &grads,
                        T::ZERO,
                        c,
                        og as isize,
                        1,
                    )
                };
            }
        }
        let block = &mut dw[gi * og * kdim..(gi + 1) * og * kdim];
        for (o, row) in block.chunks_exact_mut(kdim).enumerate() {
            for (r, v) in row.iter_mut().enumerate() {
                *v = dwt[r * og + o];
            }
        }
    }
}

fn slice_of<T>(t: &Tensor) -> &[T] {
    let d = t.data();
    // SAFETY: t is contiguous and owns numel elements of T from its offset; the storage outlives
    // the borrow because the caller keeps `t` alive.
    unsafe {
        std::slice::from_raw_parts(
            (d.storage.cpu_ptr() as *const T).add(d.layout.offset),
            d.layout.numel(),
        )
    }
}

// Only ever called on a tensor created a line earlier and not yet shared, so the mutable slice
// is the sole access to that storage.
#[allow(clippy::mut_from_ref)]
fn slice_mut<T>(t: &Tensor) -> &mut [T] {
    let d = t.data();
    // SAFETY: t is a fresh contiguous tensor nobody else references yet.
    unsafe {
        std::slice::from_raw_parts_mut(
            (d.storage.cpu_ptr() as *mut T).add(d.layout.offset),
            d.layout.numel(),
        )
    }
}

/// Stride-1 convolutions read their taps from padded planes; the rest unfold with im2col.
fn fwd_any<T: GemmFloat>(x: &[T], w: &[T], b: Option<&[T]>, g: &Geom, y: &mut [T]) {
    if g.sh == 1 && g.sw == 1 && !g.pointwise() {
        fwd_stride_one(x, w, b, g, y)
    } else {
        fwd_kernel(x, w, b, g, y)
    }
}

/// Convolution forward on contiguous tensors: out `[n, o, oh, ow]`.
pub fn forward(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Geom) -> Result<Tensor> {
    let y = Tensor::empty(&[g.n, g.o, g.oh, g.ow], x.dtype())?;
    match x.dtype() {
        DType::F32 => fwd_any::<f32>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y)),
        _ => fwd_any::<f64>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y)),
    }
    Ok(y)
}

/// The input gradient `[n, c, h, w]` of a convolution from its output gradient `dy`.
pub fn backward_input(dy: &Tensor, w: &Tensor, g: &Geom) -> Result<Tensor> {
    let dx = Tensor::empty(&[g.n, g.c, g.h, g.w], dy.dtype())?;
    match dy.dtype() {
        DType::F32 => bwd_input_kernel::<f32>(slice_of(dy), slice_of(w), g, slice_mut(&dx)),
        _ => bwd_input_kernel::<f64>(slice_of(dy), slice_of(w), g, slice_mut(&dx)),
    }
    Ok(dx)
}

/// The weight gradient `[o, c/groups, kh, kw]` of a convolution from `dy` and its input `x`.
pub fn backward_weight(dy: &Tensor, x: &Tensor, g: &Geom) -> Result<Tensor> {
    let dw = Tensor::empty(&[g.o, g.cg(), g.kh, g.kw], dy.dtype())?;
    match dy.dtype() {
        DType::F32 => bwd_weight_kernel::<f32>(slice_of(dy), slice_of(x), g, slice_mut(&dw)),
        _ => bwd_weight_kernel::<f64>(slice_of(dy), slice_of(x), g, slice_mut(&dw)),
    }
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::valid_cols;

    #[test]
    fn valid_cols_matches_a_scan() {
        for w in 1..9usize {
            for stride in 1..4usize {
                for off in -5isize..6 {
                    for ow in 0..9usize {
                        let ok: Vec<usize> = (0..ow)
                            .filter(|&ox| {
                                let ix = (ox * stride) as isize + off;
                                ix >= 0 && ix < w as isize
                            })
                            .collect();
                        let (lo, hi) = valid_cols(ow, w, stride, off);
                        let got: Vec<usize> = (lo..hi).collect();
                        assert_eq!(got, ok, "w {w} stride {stride} off {off} ow {ow}");
                    }
                }
            }
        }
    }
}
