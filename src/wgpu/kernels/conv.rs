//! Convolutions on the device. The default path is the implicit GEMM of [`super::conv_gemm`]
//! (no column buffer); with the `legacy` matmul variant forced (`gemm::force_variant`) the first
//! implementation below runs instead, for comparison: im2col (`conv_unfold.wgsl`) into a column buffer, the tiled
//! [`matmul`] over (sample, group) batches read through strided views, and col2im in gather form
//! (`conv_fold.wgsl`) for the input gradient. Every step is deterministic (no float atomics).
//!
//! The column matrix of a chunk of samples must fit one storage binding, so the batch is split
//! into chunks of samples that fit `max_storage_buffer_binding_size`; the weight gradient adds the
//! chunks' products in chunk order. Operands are dense row-major tensors (any offset), as the
//! convolution ops hand them over.

use super::gemm::Act;
use super::window::{window_params, words};
use super::{binary, copy, float_type, matmul, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::ConvGeom;
use crate::shape::{contiguous_strides, fmt_shape};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::ops::BinaryOp;
use crate::wgpu::pool::fmt_bytes;
use crate::wgpu::view::{check_view, GpuView};
use crate::wgpu::zeros;
use std::sync::atomic::{AtomicU64, Ordering};

/// Test hook: when nonzero, the byte budget of one chunk's column matrix (instead of the
/// adapter's storage binding limit), so chunking can be exercised with small tensors.
static COLUMN_BUDGET_OVERRIDE: AtomicU64 = AtomicU64::new(0);

/// Set (nonzero) or clear (0) the column budget override; returns the previous value.
pub fn set_column_budget_override(bytes: u64) -> u64 {
    COLUMN_BUDGET_OVERRIDE.swap(bytes, Ordering::Relaxed)
}

/// Where column (n, g, k, l) of a chunk lives (k runs over a group's channels x taps, l over
/// output positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cols {
    /// `[samples, groups, K, L]`: what a product batched over (sample, group) reads or writes.
    SampleMajor,
    /// `[groups, K, samples, L]`: (sample, position) becomes one axis of stride 1, so the weight
    /// gradient of a whole chunk is one product per group.
    TapMajor,
}

/// Element strides of columns (n, g, k, l) for a chunk of `nb` samples.
fn col_strides(g: &ConvGeom, nb: usize, layout: Cols) -> [usize; 4] {
    let (k, l) = (g.cg() * g.kk(), g.l());
    match layout {
        Cols::SampleMajor => [g.groups * k * l, k * l, l, 1],
        Cols::TapMajor => [l, k * nb * l, nb * l, 1],
    }
}

/// The geometry block of `conv_unfold.wgsl` / `conv_fold.wgsl`.
fn geometry(op: &str, g: &ConvGeom, image_offset: usize, cols: [usize; 4]) -> Result<Vec<u32>> {
    words(
        op,
        &[
            g.c,
            g.h,
            g.w,
            g.kh,
            g.kw,
            g.oh,
            g.ow,
            g.sh,
            g.sw,
            g.ph,
            g.pw,
            g.dh,
            g.dw,
            g.cg(),
            image_offset,
            cols[0],
            cols[1],
            cols[2],
            cols[3],
        ],
    )
}

/// The column matrix of samples `[n0, n0 + nb)` of the dense image at element `offset` of `x`.
fn unfold(
    x: &GpuBuffer,
    offset: usize,
    g: &ConvGeom,
    nb: usize,
    layout: Cols,
) -> Result<GpuBuffer> {
    let op = "conv2d (im2col)";
    let n = nb * g.c * g.kk() * g.l();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel("conv_unfold.wgsl", &[("DTYPE", "f32"), ("WG", WG_STR)])?;
    let p = window_params(op, n, &geometry(op, g, offset, col_strides(g, nb, layout))?)?;
    let bind = [
        Binding {
            buffer: x,
            bytes: x.len(),
        },
        Binding {
            buffer: &out,
            bytes: n as u64 * 4,
        },
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// Sum `[nb, groups, K, L]` columns back onto the `nb` dense images at element `offset` of `dst`.
fn fold(cols: &GpuBuffer, g: &ConvGeom, nb: usize, dst: &GpuBuffer, offset: usize) -> Result<()> {
    let op = "conv2d (col2im)";
    let n = nb * g.c * g.h * g.w;
    if n == 0 {
        return Ok(());
    }
    let e = engine()?;
    let k = e.kernel("conv_fold.wgsl", &[("DTYPE", "f32"), ("WG", WG_STR)])?;
    let strides = col_strides(g, nb, Cols::SampleMajor);
    let p = window_params(op, n, &geometry(op, g, offset, strides)?)?;
    let bind = [
        Binding {
            buffer: cols,
            bytes: cols.len(),
        },
        Binding {
            buffer: dst,
            bytes: dst.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))
}

/// The element offset of `v`, which must be a dense row-major f32 tensor of `shape`.
fn dense(op: &str, what: &str, v: &GpuView, shape: &[usize]) -> Result<usize> {
    check_view(op, v)?;
    float_type(op, v)?;
    let row_major = contiguous_strides(shape);
    let ok = v.shape.as_slice() == shape
        && (0..shape.len()).all(|d| shape[d] <= 1 || v.strides[d] == row_major[d]);
    if !ok {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {what} must be a contiguous {} tensor (got shape {}, strides {:?})",
            fmt_shape(shape),
            fmt_shape(&v.shape),
            v.strides.as_slice()
        )));
    }
    Ok(v.offset)
}

/// Scratch bytes a chunk aims at when the binding limit allows more: adapters with multi-GiB
/// bindings would otherwise unfold a whole large batch at once.
const SCRATCH_TARGET: u64 = 256 << 20;

/// Samples per chunk so that the largest scratch binding of a chunk (`per_sample` elements per
/// sample) fits the storage binding limit (and, past one sample, [`SCRATCH_TARGET`]).
fn chunk_samples(op: &str, g: &ConvGeom, per_sample: usize) -> Result<usize> {
    let (limit, target) = match COLUMN_BUDGET_OVERRIDE.load(Ordering::Relaxed) {
        0 => {
            let limit = engine()?.ctx.limits.max_storage_buffer_binding_size;
            (limit, limit.min(SCRATCH_TARGET))
        }
        v => (v, v),
    };
    let bytes = (per_sample as u64).saturating_mul(4);
    if bytes > limit {
        return Err(Error::runtime(format!(
            "wgpu: {op}: the column matrix of one sample needs a storage binding of {} ({bytes} \
             bytes), larger than this adapter's max_storage_buffer_binding_size of {} ({limit} \
             bytes)",
            fmt_bytes(bytes),
            fmt_bytes(limit)
        )));
    }
    Ok(((target / bytes.max(1)) as usize).clamp(1, g.n.max(1)))
}

/// The chunks `[n0, n0 + nb)` of `g.n` samples, `per` at a time.
fn chunks(n: usize, per: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(per.max(1))
        .map(move |n0| (n0, per.min(n - n0)))
}

fn view(buf: &GpuBuffer, shape: &[usize], strides: &[usize], offset: usize) -> GpuView {
    let s: Vec<isize> = strides.iter().map(|&s| s as isize).collect();
    GpuView::new(buf.clone(), DType::F32, shape, &s, offset)
}

/// Place chunk `part` (`elems` elements per sample, `nb` samples) at sample `n0` of `out`, or
/// take it as the whole result when it is the only chunk.
fn place(
    out: &mut Option<GpuBuffer>,
    part: GpuBuffer,
    whole_len: usize,
    n0: usize,
    nb: usize,
    elems: usize,
) -> Result<()> {
    if n0 == 0 && nb * elems == whole_len {
        *out = Some(part);
        return Ok(());
    }
    let dst = match out {
        Some(b) => b.clone(),
        None => {
            let b = alloc(whole_len as u64 * 4)?;
            *out = Some(b.clone());
            b
        }
    };
    copy(
        &part,
        0,
        &dst,
        (n0 * elems) as u64 * 4,
        (nb * elems) as u64 * 4,
    )
}

/// `y = conv2d(x, w) + bias`: x `[n, c, h, w]`, w `[o, c/groups, kh, kw]`, bias `[o]`; a fresh
/// `[n, o, oh, ow]` buffer.
pub fn conv2d_forward(
    x: &GpuView,
    w: &GpuView,
    bias: Option<&GpuView>,
    g: &ConvGeom,
) -> Result<GpuBuffer> {
    conv2d_forward_act(x, w, bias, Act::None, g)
}

/// Whether the first (im2col) implementation was asked for.
fn legacy() -> bool {
    super::gemm::forced().as_deref() == Some("legacy")
}

/// `act(conv2d(x, w) + bias)` with the bias and activation applied as the output is stored.
pub fn conv2d_forward_act(
    x: &GpuView,
    w: &GpuView,
    bias: Option<&GpuView>,
    act: Act,
    g: &ConvGeom,
) -> Result<GpuBuffer> {
    let op = "conv2d";
    let xo = dense(op, "input", x, &[g.n, g.c, g.h, g.w])?;
    let wo = dense(op, "weight", w, &[g.o, g.cg(), g.kh, g.kw])?;
    let bo = bias.map(|b| dense(op, "bias", b, &[g.o])).transpose()?;
    if !legacy() {
        let b = bias.zip(bo).map(|(b, o)| (&b.buffer, o));
        return super::conv_gemm::forward((&x.buffer, xo), (&w.buffer, wo), b, act, g);
    }
    if act != Act::None {
        return Err(Error::runtime(
            "wgpu: the legacy conv2d path has no fused activation",
        ));
    }
    let (gr, og, k, l) = (g.groups, g.og(), g.cg() * g.kk(), g.l());
    let total = g.n * g.o * l;
    let mut y = None;
    if total > 0 && k == 0 {
        y = Some(zeros(total as u64 * 4)?);
    } else if total > 0 {
        let per = chunk_samples(op, g, (g.c * g.kk() * l).max(g.o * l))?;
        for (n0, nb) in chunks(g.n, per) {
            let image = xo + n0 * g.c * g.h * g.w;
            // A 1x1 unpadded stride-1 kernel reads the image itself as its columns.
            let cols = if g.pointwise() {
                view(&x.buffer, &[nb, gr, k, l], &[g.c * l, k * l, l, 1], image)
            } else {
                let buf = unfold(&x.buffer, image, g, nb, Cols::SampleMajor)?;
                view(&buf, &[nb, gr, k, l], &[gr * k * l, k * l, l, 1], 0)
            };
            let wv = view(&w.buffer, &[nb, gr, og, k], &[0, og * k, k, 1], wo);
            let part = matmul(&wv, &cols)?;
            place(&mut y, part, total, n0, nb, g.o * l)?;
        }
    }
    let y = match y {
        Some(y) => y,
        None => alloc(0)?,
    };
    match (bias, bo) {
        (Some(b), Some(bo)) if total > 0 => {
            let yv = view(&y, &[g.n, g.o, l], &[g.o * l, l, 1], 0);
            let bv = view(&b.buffer, &[g.o, 1], &[1, 1], bo);
            binary(BinaryOp::Add, &yv, &bv, &[g.n, g.o, l])
        }
        _ => Ok(y),
    }
}

/// The input gradient `[n, c, h, w]` of a convolution from `dy` `[n, o, oh, ow]` and `w`.
pub fn conv2d_backward_input(dy: &GpuView, w: &GpuView, g: &ConvGeom) -> Result<GpuBuffer> {
    let op = "conv2d_backward_input";
    let yo = dense(op, "grad_output", dy, &[g.n, g.o, g.oh, g.ow])?;
    let wo = dense(op, "weight", w, &[g.o, g.cg(), g.kh, g.kw])?;
    if !legacy() {
        return super::conv_gemm::backward_input((&dy.buffer, yo), (&w.buffer, wo), g);
    }
    let (gr, og, k, l) = (g.groups, g.og(), g.cg() * g.kk(), g.l());
    let image = g.c * g.h * g.w;
    let total = g.n * image;
    if total == 0 {
        return alloc(0);
    }
    if l == 0 || og == 0 {
        return zeros(total as u64 * 4);
    }
    let per = chunk_samples(op, g, g.c * g.kk() * l)?;
    let mut dx = None;
    for (n0, nb) in chunks(g.n, per) {
        // Columns of the gradient: W^T (per group) times dy, batched over (sample, group).
        let wt = view(&w.buffer, &[nb, gr, k, og], &[0, og * k, 1, k], wo);
        let dyv = view(
            &dy.buffer,
            &[nb, gr, og, l],
            &[g.o * l, og * l, l, 1],
            yo + n0 * g.o * l,
        );
        let cols = matmul(&wt, &dyv)?;
        if g.pointwise() {
            place(&mut dx, cols, total, n0, nb, image)?;
        } else {
            let dst = match &dx {
                Some(b) => b.clone(),
                None => {
                    let b = alloc(total as u64 * 4)?;
                    dx = Some(b.clone());
                    b
                }
            };
            fold(&cols, g, nb, &dst, n0 * image)?;
        }
    }
    dx.map_or_else(|| alloc(0), Ok)
}

/// The weight gradient `[o, c/groups, kh, kw]` of a convolution from `dy` `[n, o, oh, ow]` and
/// its input `x` `[n, c, h, w]`: per group, `dy (og x n*L) @ columns^T (n*L x K)`.
pub fn conv2d_backward_weight(dy: &GpuView, x: &GpuView, g: &ConvGeom) -> Result<GpuBuffer> {
    let op = "conv2d_backward_weight";
    let yo = dense(op, "grad_output", dy, &[g.n, g.o, g.oh, g.ow])?;
    let xo = dense(op, "input", x, &[g.n, g.c, g.h, g.w])?;
    if !legacy() {
        return super::conv_gemm::backward_weight((&dy.buffer, yo), (&x.buffer, xo), g);
    }
    let (gr, og, k, l) = (g.groups, g.og(), g.cg() * g.kk(), g.l());
    let total = g.o * k;
    if total == 0 {
        return alloc(0);
    }
    if g.n * l == 0 {
        return zeros(total as u64 * 4);
    }
    let per = chunk_samples(op, g, (g.c * g.kk() * l).max(g.o * l))?;
    let mut dw: Option<GpuBuffer> = None;
    for (n0, nb) in chunks(g.n, per) {
        let cols = unfold(&x.buffer, xo + n0 * g.c * g.h * g.w, g, nb, Cols::TapMajor)?;
        let m = nb * l;
        // dy as [groups, og, (sample, position)]: a view for one sample, else a permuted copy.
        let dy_off = yo + n0 * g.o * l;
        let dyv = if nb == 1 {
            view(&dy.buffer, &[gr, og, m], &[og * l, l, 1], dy_off)
        } else {
            let perm = view(
                &dy.buffer,
                &[gr, og, nb, l],
                &[og * l, l, g.o * l, 1],
                dy_off,
            );
            let buf = super::contiguous(&perm)?;
            view(&buf, &[gr, og, m], &[og * m, m, 1], 0)
        };
        let colst = view(&cols, &[gr, m, k], &[k * m, 1, m], 0);
        let part = matmul(&dyv, &colst)?;
        dw = Some(match dw {
            None => part,
            Some(acc) => {
                let shape = [total];
                binary(
                    BinaryOp::Add,
                    &view(&acc, &shape, &[1], 0),
                    &view(&part, &shape, &[1], 0),
                    &shape,
                )?
            }
        });
    }
    dw.map_or_else(|| alloc(0), Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wgpu::tests::gpu;
    use crate::wgpu::{read_f32, upload_f32};

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Input tap (iy, ix) of output (oy, ox) and kernel tap (ki, kj), if inside the image.
    fn tap(g: &ConvGeom, oy: usize, ox: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let iy = (oy * g.sh + ki * g.dh) as isize - g.ph as isize;
        let ix = (ox * g.sw + kj * g.dw) as isize - g.pw as isize;
        (iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w)
            .then_some((iy as usize, ix as usize))
    }

    /// Direct loops over (n, oc, oy, ox, ic, ki, kj), calling `f(x index, w index, y index)`.
    fn each_term(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
        let (cg, og) = (g.cg(), g.og());
        for n in 0..g.n {
            for oc in 0..g.o {
                let grp = oc / og;
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        for ic in 0..cg {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    if let Some((iy, ix)) = tap(g, oy, ox, ki, kj) {
                                        let c = grp * cg + ic;
                                        f(
                                            ((n * g.c + c) * g.h + iy) * g.w + ix,
                                            ((oc * cg + ic) * g.kh + ki) * g.kw + kj,
                                            ((n * g.o + oc) * g.oh + oy) * g.ow + ox,
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    fn check(g: &ConvGeom) {
        let (nx, nw, ny) = (
            g.n * g.c * g.h * g.w,
            g.o * g.cg() * g.kk(),
            g.n * g.o * g.l(),
        );
        let (x, w, b, dy) = (data(nx, 1), data(nw, 2), data(g.o, 3), data(ny, 4));
        let (mut y, mut dx, mut dw) = (vec![0f32; ny], vec![0f32; nx], vec![0f32; nw]);
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / g.l()) % g.o];
        }
        each_term(g, |xi, wi, yi| {
            y[yi] += x[xi] * w[wi];
            dx[xi] += dy[yi] * w[wi];
            dw[wi] += dy[yi] * x[xi];
        });
        // Operands at a nonzero offset, as a sliced tensor would be.
        let at = |v: &[f32], shape: &[usize]| {
            let mut padded = vec![0f32; 3];
            padded.extend_from_slice(v);
            let s: Vec<isize> = contiguous_strides(shape).iter().copied().collect();
            GpuView::new(upload_f32(&padded).unwrap(), DType::F32, shape, &s, 3)
        };
        let xv = at(&x, &[g.n, g.c, g.h, g.w]);
        let wv = at(&w, &[g.o, g.cg(), g.kh, g.kw]);
        let bv = at(&b, &[g.o]);
        let dyv = at(&dy, &[g.n, g.o, g.oh, g.ow]);
        let one_sample = ((g.c * g.kk() * g.l()).max(g.o * g.l()) * 4) as u64;
        // Implicit GEMM (the default; the budget does not apply to it), then the legacy im2col
        // path at the adapter's limit (one chunk), one sample per chunk and two per chunk.
        let runs = [(None, 0), (Some("legacy"), 0), (Some("legacy"), one_sample)];
        let runs = runs
            .into_iter()
            .chain([(Some("legacy"), 2 * one_sample + 4)]);
        for (variant, budget) in runs {
            super::super::gemm::force_variant(variant).unwrap();
            set_column_budget_override(budget);
            let got = read_f32(&conv2d_forward(&xv, &wv, Some(&bv), g).unwrap(), 0, ny).unwrap();
            close(&got, &y, &format!("forward (budget {budget})"));
            let got = read_f32(&conv2d_backward_input(&dyv, &wv, g).unwrap(), 0, nx).unwrap();
            close(&got, &dx, &format!("input gradient (budget {budget})"));
            let got = read_f32(&conv2d_backward_weight(&dyv, &xv, g).unwrap(), 0, nw).unwrap();
            close(&got, &dw, &format!("weight gradient (budget {budget})"));
        }
        set_column_budget_override(one_sample - 4);
        let e = conv2d_forward(&xv, &wv, None, g).unwrap_err();
        set_column_budget_override(0);
        super::super::gemm::force_variant(None).unwrap();
        assert!(
            e.msg.contains("max_storage_buffer_binding_size"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn chunked_batches_match_direct_loops() {
        let Some(_lock) = gpu() else { return };
        let base = ConvGeom {
            n: 5,
            c: 4,
            h: 7,
            w: 6,
            o: 6,
            kh: 3,
            kw: 2,
            oh: 4,
            ow: 4,
            sh: 2,
            sw: 1,
            ph: 1,
            pw: 0,
            dh: 1,
            dw: 2,
            groups: 2,
        };
        check(&base);
        // Pointwise: the image is its own column matrix; results are placed chunk by chunk.
        check(&ConvGeom {
            kh: 1,
            kw: 1,
            oh: 7,
            ow: 6,
            sh: 1,
            ph: 0,
            dw: 1,
            ..base
        });
    }
}
