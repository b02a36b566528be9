//! The unfolding convolution kernels: im2col bands of output rows for the forward of strided
//! convolutions, col2im for the input gradient, and `Unfolded`, the weight gradient's exact
//! operand that unfolds taps panel by panel (any stride, any input values).

use crate::cpu::gemm::{copy_short, with_scratch, MatRef, Panels};
use crate::cpu::threads::{parallel_for, SendPtr};
use crate::ops::{ConvGeom as Geom, GemmFloat};

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

/// `y[n] = W · im2col(x[n]) (+ bias)`; x `[n,c,h,w]`, w `[o,c/g,kh,kw]`, both contiguous.
pub(super) fn fwd_kernel<T: GemmFloat>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geom,
    y: &mut [T],
) {
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
pub(super) fn bwd_input_kernel<T: GemmFloat>(dy: &[T], w: &[T], g: &Geom, dx: &mut [T]) {
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
pub(super) struct Unfolded<'a, T> {
    pub x: &'a [T],
    pub g: &'a Geom,
    pub gi: usize,
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
