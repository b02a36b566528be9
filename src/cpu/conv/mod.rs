//! CPU convolution kernels, all GEMMs on the blocked `cpu::gemm` driver. Stride-1 forward and
//! weight gradient read their taps straight from zero-padded input planes (each tap of an output
//! pixel sits at a fixed offset from it there), so the input is never unfolded; the other
//! strides unfold bands of output rows with im2col, and the input gradient folds `W^T · dy`
//! back with col2im. The three kernels also serve the transposed convolution, whose forward is
//! the input gradient of a convolution (`ops/conv.rs` decides which runs when).

mod padded;
mod unfold;

use self::padded::{fwd_stride_one, padded_operands, padded_plane, padded_width, tap_offsets};
use self::unfold::{bwd_input_kernel, fwd_kernel, Unfolded};
use crate::cpu::gemm::{gemm_panels, pack_rows, Panels};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::{ConvGeom as Geom, GemmFloat};
use crate::tensor::Tensor;

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

/// Bytes of padded copies (input planes and widened output-gradient rows) the stride-1 weight
/// gradient holds at once: the batch goes through in chunks of samples so that the copies stay
/// bounded beside the activations, however large those are.
const PADDED_BYTES: usize = 32 << 20;

/// `dW = sum_n dy[n] · im2col(x[n])^T`, computed transposed as one GEMM per group over the whole
/// batch: A is the unfolded input (taps × pixels), B the output gradient, both packed panel by
/// panel (stride-1 convolutions read the taps straight from a padded copy of the input, others
/// unfold them per panel). The samples' sum is the GEMM's own depth loop, the GEMM splits the
/// taps across threads, and nothing but the small `[kdim, og]` result is written: no column
/// matrix, no per-thread partial sums.
fn bwd_weight_kernel<T: GemmFloat>(dy: &[T], x: &[T], g: &Geom, dw: &mut [T]) {
    let (og, kdim, l) = (g.og(), g.cg() * g.kk(), g.l());
    let (xs, ys) = (g.c * g.h * g.w, g.o * l);
    let mut dwt = vec![T::ZERO; kdim * og];
    let stride_one = g.sh == 1 && g.sw == 1;
    // Stride 1 copies each chunk of samples into padded planes first; the chunks' GEMMs add up.
    let per_sample = (g.cg() * padded_plane(g) + og * g.oh * padded_width(g)) * size_of::<T>();
    let nb = if stride_one {
        (PADDED_BYTES / per_sample.max(1)).clamp(1, g.n.max(1))
    } else {
        g.n.max(1)
    };
    let taps_at = if stride_one {
        tap_offsets(g)
    } else {
        Vec::new()
    };
    for gi in 0..g.groups {
        let c = dwt.as_mut_ptr();
        for (ci, n0) in (0..g.n).step_by(nb).enumerate() {
            let gc = Geom {
                n: nb.min(g.n - n0),
                ..*g
            };
            let (xc, dyc) = (&x[n0 * xs..], &dy[n0 * ys..]);
            let beta = if ci == 0 { T::ZERO } else { T::ONE };
            // SAFETY (both): the operands cover kdim (og) rows by the chunk's whole depth; dwt
            // is [kdim, og].
            match stride_one
                .then(|| padded_operands(xc, dyc, &gc, gi))
                .flatten()
            {
                Some((xp, dyp, lv)) => {
                    let taps = SampleRows {
                        data: &xp,
                        offs: taps_at.clone(),
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
                            gc.n * lv,
                            T::ONE,
                            &taps,
                            &grads,
                            beta,
                            c,
                            og as isize,
                            1,
                        )
                    };
                }
                None => {
                    let grads = SampleRows {
                        data: dyc,
                        offs: (0..og).map(|o| (gi * og + o) * l).collect(),
                        sample: ys,
                        len: l,
                    };
                    let taps = Unfolded { x: xc, g: &gc, gi };
                    unsafe {
                        gemm_panels(
                            kdim,
                            og,
                            gc.n * l,
                            T::ONE,
                            &taps,
                            &grads,
                            beta,
                            c,
                            og as isize,
                            1,
                        )
                    };
                }
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
