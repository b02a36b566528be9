//! CPU convolution kernels: each sample is unfolded with im2col and multiplied by the weight with
//! one GEMM per group; the batch is spread over threads. The three kernels (forward, input
//! gradient, weight gradient) also serve the transposed convolution, whose forward is the input
//! gradient of a convolution (`ops/conv.rs` decides which runs when).

use crate::cpu::threads::{parallel_for, SendPtr};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{ConvGeom as Geom, GemmFloat};
use crate::tensor::Tensor;
use std::sync::Mutex;

/// Unfold `cg` channels of one sample (`x` points at its first channel) into `col`
/// (`[cg*kh*kw, oh*ow]`, row-major), with zeros where the window hits the padding.
fn im2col<T: GemmFloat>(x: &[T], g: &Geom, col: &mut [T]) {
    let l = g.l();
    for c in 0..g.cg() {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * l;
                for oy in 0..g.oh {
                    let dst = &mut col[row + oy * g.ow..row + (oy + 1) * g.ow];
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        dst.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let off = (kj * g.dw) as isize - g.pw as isize;
                    if g.sw == 1 && off >= 0 && off as usize + g.ow <= g.w {
                        dst.copy_from_slice(&src[off as usize..off as usize + g.ow]);
                        continue;
                    }
                    for (ox, d) in dst.iter_mut().enumerate() {
                        let ix = (ox * g.sw) as isize + off;
                        *d = if ix >= 0 && ix < g.w as isize {
                            src[ix as usize]
                        } else {
                            T::ZERO
                        };
                    }
                }
            }
        }
    }
}

/// Fold `col` back onto the (zeroed) planes `x`, adding overlapping windows.
fn col2im<T: GemmFloat>(col: &[T], g: &Geom, x: &mut [T]) {
    let l = g.l();
    for c in 0..g.cg() {
        let plane = &mut x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let row = ((c * g.kh + ki) * g.kw + kj) * l;
                for oy in 0..g.oh {
                    let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let src = &col[row + oy * g.ow..row + (oy + 1) * g.ow];
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let off = (kj * g.dw) as isize - g.pw as isize;
                    for (ox, &v) in src.iter().enumerate() {
                        let ix = (ox * g.sw) as isize + off;
                        if ix >= 0 && ix < g.w as isize {
                            dst[ix as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// `y[n] = W · im2col(x[n]) (+ bias)`; x `[n,c,h,w]`, w `[o,c/g,kh,kw]`, both contiguous.
fn fwd_kernel<T: GemmFloat>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geom, y: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let yp = SendPtr(y.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let yp = &yp;
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![T::ZERO; cg * kk * l]
        };
        for n in s..e {
            for gi in 0..g.groups {
                let xg = &x[n * xs + gi * cg * g.h * g.w..];
                let cp = group_columns(xg, g, &mut col);
                // SAFETY: w holds o*cg*kk elements, col cg*kk*l, y's sample slice og*l per group;
                // each sample's output region is written by one chunk only.
                unsafe {
                    T::gemm(
                        og,
                        l,
                        cg * kk,
                        T::ONE,
                        w.as_ptr().add(gi * og * cg * kk),
                        (cg * kk) as isize,
                        1,
                        cp,
                        l as isize,
                        1,
                        T::ZERO,
                        yp.0.add(n * ys + gi * og * l),
                        l as isize,
                        1,
                    );
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
    let xp = SendPtr(dx.as_mut_ptr());
    parallel_for(g.n, 1, |s, e| {
        let xp = &xp;
        let mut col = vec![T::ZERO; if g.pointwise() { 0 } else { cg * kk * l }];
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
                let (cp, rs) = if g.pointwise() {
                    (dxg.as_mut_ptr(), l as isize)
                } else {
                    (col.as_mut_ptr(), l as isize)
                };
                // SAFETY: sizes as in fwd_kernel, with W read transposed through its strides.
                unsafe {
                    T::gemm(
                        cg * kk,
                        l,
                        og,
                        T::ONE,
                        wp,
                        1,
                        (cg * kk) as isize,
                        dyp,
                        l as isize,
                        1,
                        T::ZERO,
                        cp,
                        rs,
                        1,
                    );
                }
                if !g.pointwise() {
                    dxg.fill(T::ZERO);
                    col2im(&col, g, dxg);
                }
            }
        }
    });
}

/// The column matrix of one group of one sample: the input itself for pointwise (1x1, unpadded,
/// stride-1) kernels, else its im2col expansion written into `col`.
fn group_columns<T: GemmFloat>(xg: &[T], g: &Geom, col: &mut [T]) -> *const T {
    if g.pointwise() {
        xg.as_ptr()
    } else {
        im2col(xg, g, col);
        col.as_ptr()
    }
}

/// `dW = sum_n dy[n] · im2col(x[n])^T`, accumulated per thread chunk then summed.
fn bwd_weight_kernel<T: GemmFloat>(dy: &[T], x: &[T], g: &Geom, dw: &mut [T]) {
    let (cg, og, kk, l) = (g.cg(), g.og(), g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    // Each chunk's partial sum is keyed by its first sample and the partials are added in that
    // order, so the result does not depend on which thread finished first.
    let parts: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());
    parallel_for(g.n, 1, |s, e| {
        let mut acc = vec![T::ZERO; dw.len()];
        let mut col = vec![T::ZERO; if g.pointwise() { 0 } else { cg * kk * l }];
        for n in s..e {
            for gi in 0..g.groups {
                let xg = &x[n * xs + gi * cg * g.h * g.w..];
                let cp = group_columns(xg, g, &mut col);
                // SAFETY: acc is this chunk's own og*cg*kk block per group.
                unsafe {
                    T::gemm(
                        og,
                        cg * kk,
                        l,
                        T::ONE,
                        dy[n * ys + gi * og * l..].as_ptr(),
                        l as isize,
                        1,
                        cp,
                        1,
                        l as isize,
                        T::ONE,
                        acc.as_mut_ptr().add(gi * og * cg * kk),
                        (cg * kk) as isize,
                        1,
                    );
                }
            }
        }
        if let Ok(mut p) = parts.lock() {
            p.push((s, acc));
        }
    });
    dw.fill(T::ZERO);
    let mut parts = parts.into_inner().unwrap_or_default();
    parts.sort_unstable_by_key(|(s, _)| *s);
    for (_, p) in parts {
        dw.iter_mut().zip(&p).for_each(|(d, &v)| *d += v);
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
