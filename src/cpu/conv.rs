//! CPU convolution kernels: each sample is unfolded with im2col and multiplied by the weight with
//! one GEMM per group; the batch is spread over threads. The three kernels (forward, input
//! gradient, weight gradient) also serve the transposed convolution, whose forward is the input
//! gradient of a convolution (`ops/conv.rs` decides which runs when).

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

/// Bytes of column matrix the weight gradient unfolds at a time.
const COL_BUDGET: usize = 8 << 20;

/// `dW = sum_n dy[n] · im2col(x[n])^T` as one GEMM per chunk of samples: the chunk's columns sit
/// side by side in one `[cg*kh*kw, nb*l]` matrix, so the samples' sum is the GEMM's own depth
/// loop (accumulated in the micro-kernel's registers) and the GEMM splits its output across
/// threads; no per-thread partial sums to add up afterwards.
fn bwd_weight_kernel<T: GemmFloat>(dy: &[T], x: &[T], g: &Geom, dw: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let kdim = cg * kk;
    let per_sample = (kdim * l * size_of::<T>()).max(1);
    let chunks = g.n.div_ceil((COL_BUDGET / per_sample).max(1)).max(1);
    let nb = g.n.div_ceil(chunks);
    let mut col = vec![T::ZERO; kdim * nb * l];
    let mut dyc = vec![T::ZERO; if nb > 1 { og * nb * l } else { 0 }];
    for (ci, n0) in (0..g.n).step_by(nb).enumerate() {
        let cnt = nb.min(g.n - n0);
        let ld = cnt * l;
        for gi in 0..g.groups {
            let cp = SendPtr(col.as_mut_ptr());
            let dp = SendPtr(dyc.as_mut_ptr());
            let gather = cnt > 1;
            parallel_for(cnt, 1, |s, e| {
                let (cp, dp) = (&cp, &dp);
                for j in s..e {
                    let n = n0 + j;
                    // SAFETY: sample j writes columns j*l..(j+1)*l of every row of `col` (and of
                    // `dyc`), disjoint from the other samples; both hold their full size.
                    unsafe {
                        im2col(
                            &x[n * xs + gi * cg * g.h * g.w..],
                            g,
                            cp.0.add(j * l),
                            ld,
                            (0, g.oh),
                        );
                        if gather {
                            for o in 0..og {
                                let src = &dy[n * ys + (gi * og + o) * l..][..l];
                                std::ptr::copy_nonoverlapping(
                                    src.as_ptr(),
                                    dp.0.add(o * ld + j * l),
                                    l,
                                );
                            }
                        }
                    }
                }
            });
            let a = if gather {
                dyc.as_ptr()
            } else {
                dy[n0 * ys + gi * og * l..].as_ptr()
            };
            let beta = if ci == 0 { T::ZERO } else { T::ONE };
            // SAFETY: a is [og, ld] with row stride ld (or l == ld for one sample), col is
            // [kdim, ld] read transposed, dw's group block is [og, kdim].
            unsafe {
                T::gemm(
                    og,
                    kdim,
                    ld,
                    T::ONE,
                    a,
                    ld as isize,
                    1,
                    col.as_ptr(),
                    1,
                    ld as isize,
                    beta,
                    dw.as_mut_ptr().add(gi * og * kdim),
                    kdim as isize,
                    1,
                );
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

/// Convolution forward on contiguous tensors: out `[n, o, oh, ow]`.
pub fn forward(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Geom) -> Result<Tensor> {
    let y = Tensor::empty(&[g.n, g.o, g.oh, g.ow], x.dtype())?;
    match x.dtype() {
        DType::F32 => {
            fwd_kernel::<f32>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y))
        }
        _ => fwd_kernel::<f64>(slice_of(x), slice_of(w), b.map(slice_of), g, slice_mut(&y)),
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
