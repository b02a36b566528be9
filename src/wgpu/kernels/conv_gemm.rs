//! Implicit-GEMM convolutions (`gemm_conv.wgsl`): forward, input gradient and weight gradient
//! as one GEMM per group whose tile loads compute the im2col / col2im addresses on the fly, so
//! no column buffer is materialised and the batch needs no chunking. The forward fuses the bias
//! and an optional activation into its store. The weight gradient reduces over batch x space
//! (K = n * oh * ow); when that leaves too few output tiles to fill the device, K is split into
//! S ranges computed side by side into an `[S, O, CG*KH*KW]` buffer and summed by one reduction
//! pass (S = 1 skips it). Everything is deterministic (fixed summation order, no atomics).

use super::gemm::{self, as_refs, Act, Tile};
use super::reduce_last;
use super::window::{words, GEOM0};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::ConvGeom;
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::ops::ReduceOp;
use crate::wgpu::view::{params, GpuView};
use crate::wgpu::zeros;
use std::sync::atomic::{AtomicBool, Ordering};

fn whole(b: &GpuBuffer) -> Binding<'_> {
    Binding {
        buffer: b,
        bytes: b.len(),
    }
}

/// Workgroups the weight gradient aims at before it splits K.
const TARGET_WORKGROUPS: u64 = 256;
/// Smallest K range of one split.
const MIN_SPLIT_K: usize = 512;
/// Address indices and divisors below this divide exactly through an f32 reciprocal with one
/// correction step (`shaders/fast_divmod.wgsl` has the error bound: within 0.75 of the quotient
/// up to here); larger problems take the exact u32 division variant.
pub(crate) const FAST_DIV_LIMIT: usize = 1 << 22;

/// Test switch: build every implicit-GEMM conv with exact u32 division (see
/// [`force_exact_division`]).
static EXACT_DIV: AtomicBool = AtomicBool::new(false);

/// Make every implicit-GEMM convolution from now on use the exact u32 division variant (`true`)
/// or choose by size again (`false`); returns the previous setting. The variant is part of the
/// pipeline key, so both stay cached. For tests of the path real problems reach only above 2^22
/// address indices.
pub fn force_exact_division(on: bool) -> bool {
    EXACT_DIV.swap(on, Ordering::Relaxed)
}

/// Whether the f32-reciprocal divisions are exact for a problem whose largest divided index or
/// divisor is `bound`.
fn fast_division(bound: usize) -> bool {
    bound < FAST_DIV_LIMIT && !EXACT_DIV.load(Ordering::Relaxed)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward = 0,
    Input = 1,
    Weight = 2,
}

/// One dispatch of `gemm_conv.wgsl`: a `m x n` product (per batch entry = group x split) over
/// `k`, `per_split` of it per split.
#[allow(clippy::too_many_arguments)]
fn run(
    mode: Mode,
    g: &ConvGeom,
    (m, n, k, per_split, splits): (usize, usize, usize, usize, usize),
    asrc: (&GpuBuffer, usize),
    bsrc: (&GpuBuffer, usize),
    dst: &GpuBuffer,
    dst_bytes: u64,
    bias: Option<(&GpuBuffer, usize)>,
    act: Act,
) -> Result<()> {
    let op = match mode {
        Mode::Forward => "conv2d",
        Mode::Input => "conv2d_backward_input",
        Mode::Weight => "conv2d_backward_weight",
    };
    let batches = g.groups * splits;
    let tile: Tile = gemm::choose(m, n, batches).unwrap_or(gemm::TILES[1]);
    let scalars = [
        m as u32,
        n as u32,
        k as u32,
        per_split as u32,
        bias.map_or(0, |b| b.1) as u32,
    ];
    let mut p = params(op, &[batches], &[], &scalars)?;
    p.resize(GEOM0, 0);
    p.extend(words(
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
            g.og(),
            g.n,
            bsrc.1,
            asrc.1,
            g.groups,
        ],
    )?);
    // The divisors' reciprocals, rounded once here: a shader's own 1.0 / x may be 2.5 ULP off,
    // which the exactness argument of `fast_divmod.wgsl` has no room for.
    let recip = |v: usize| (1.0f32 / v as f32).to_bits();
    p.extend([g.kk(), g.kw, g.ow, g.l(), g.w, g.h * g.w, g.sh, g.sw].map(recip));
    // Forward: W rows are k-contiguous, image columns run along ox. Input gradient: W^T rows
    // step over taps, dY columns along ix. Weight gradient: dY and the image both along (n, l).
    let (a_k_fast, b_k_fast) = match mode {
        Mode::Forward => (true, false),
        Mode::Input => (true, false),
        Mode::Weight => (true, true),
    };
    let mut vars = tile.vars(false, a_k_fast, b_k_fast);
    let (decl, expr) = match bias {
        Some(_) => (
            "@group(0) @binding(4) var<storage, read> bias_buf: array<f32>;",
            "bias_buf[scalar(4u) + o]",
        ),
        None => ("", "0.0"),
    };
    // Every address index the loads divide is below the GEMM extents (the core loads only
    // row < M, col < N, k < K) or the padded image size (the input gradient's tap offsets). The
    // divisors (KH * KW, KW, OH * OW, OW, H * W, W) are at most those extents, except the strides
    // the input gradient divides by, which may exceed them all; the exactness argument
    // (`fast_divmod.wgsl`) needs divisors below the limit too, so they join the bound.
    let bound = m
        .max(n)
        .max(k)
        .max(g.h + g.ph)
        .max(g.w + g.pw)
        .max(g.sh)
        .max(g.sw);
    let fast_div = fast_division(bound);
    vars.extend([
        ("MODE", (mode as u32).to_string()),
        ("FAST_DIV", fast_div.to_string()),
        ("BIAS_DECL", decl.to_string()),
        ("BIAS", expr.to_string()),
        ("ACT", act.expr().to_string()),
    ]);
    let e = engine()?;
    let kern = e.kernel("gemm_conv.wgsl", &as_refs(&vars))?;
    let mut bind = vec![
        whole(asrc.0),
        whole(bsrc.0),
        Binding {
            buffer: dst,
            bytes: dst_bytes,
        },
    ];
    if let Some((b, _)) = bias {
        bind.push(whole(b));
    }
    e.dispatch(op, &kern, &p, &bind, tile.workgroups(m, n, batches))
}

/// `act(conv2d(x, w) + bias)` into a fresh `[n, o, oh, ow]` buffer; offsets are element offsets
/// of dense tensors (checked by the caller).
pub(super) fn forward(
    x: (&GpuBuffer, usize),
    w: (&GpuBuffer, usize),
    bias: Option<(&GpuBuffer, usize)>,
    act: Act,
    g: &ConvGeom,
) -> Result<GpuBuffer> {
    let total = g.n * g.o * g.l();
    let y = alloc(total as u64 * 4)?;
    if total == 0 {
        return Ok(y);
    }
    let k = g.cg() * g.kk();
    run(
        Mode::Forward,
        g,
        (g.og(), g.n * g.l(), k, k, 1),
        w,
        x,
        &y,
        total as u64 * 4,
        bias,
        act,
    )?;
    Ok(y)
}

/// The input gradient `[n, c, h, w]` from `dy` and `w`.
pub(super) fn backward_input(
    dy: (&GpuBuffer, usize),
    w: (&GpuBuffer, usize),
    g: &ConvGeom,
) -> Result<GpuBuffer> {
    let total = g.n * g.c * g.h * g.w;
    let dx = alloc(total as u64 * 4)?;
    if total == 0 {
        return Ok(dx);
    }
    let k = g.og() * g.kk();
    run(
        Mode::Input,
        g,
        (g.cg(), g.n * g.h * g.w, k, k, 1),
        w,
        dy,
        &dx,
        total as u64 * 4,
        None,
        Act::None,
    )?;
    Ok(dx)
}

/// How many K ranges the weight gradient splits into.
fn weight_splits(tile: &Tile, m: usize, n: usize, k: usize, groups: usize) -> usize {
    let tiles = tile.workgroups(m, n, groups).max(1);
    let want = TARGET_WORKGROUPS.div_ceil(tiles) as usize;
    want.min(k / MIN_SPLIT_K).max(1)
}

/// The weight gradient `[o, c/groups, kh, kw]` from `dy` and the input `x`.
pub(super) fn backward_weight(
    dy: (&GpuBuffer, usize),
    x: (&GpuBuffer, usize),
    g: &ConvGeom,
) -> Result<GpuBuffer> {
    let (m, n, k) = (g.og(), g.cg() * g.kk(), g.n * g.l());
    let total = g.o * n;
    if total == 0 || k == 0 {
        return zeros(total as u64 * 4);
    }
    let tile = gemm::choose(m, n, g.groups).unwrap_or(gemm::TILES[1]);
    let splits = weight_splits(&tile, m, n, k, g.groups);
    let per = k.div_ceil(splits);
    let splits = k.div_ceil(per);
    let part = alloc((splits * total) as u64 * 4)?;
    run(
        Mode::Weight,
        g,
        (m, n, k, per, splits),
        dy,
        x,
        &part,
        (splits * total) as u64 * 4,
        None,
        Act::None,
    )?;
    if splits == 1 {
        return Ok(part);
    }
    // [S, total] read as [total, S]: one pass sums each weight's splits in split order.
    let v = GpuView::new(part, DType::F32, &[total, splits], &[1, total as isize], 0);
    reduce_last(ReduceOp::Sum, &v)
}
