//! Fused cross entropy on class-index targets (`cross_entropy.wgsl`,
//! `cross_entropy_backward.wgsl`): log_softmax + nll_loss forward in one dispatch and its
//! gradient with respect to the logits in one more.
//!
//! `none` uses one invocation per row across the grid. With a mean or sum reduction each
//! workgroup folds a contiguous chunk of [`CHUNK`] rows; a batch that fits one chunk (a
//! classifier's few hundred rows) writes the loss from that one workgroup, a longer one (language
//! model tokens) writes one partial per workgroup that a second one-workgroup pass
//! (`cross_entropy_reduce.wgsl`) folds in a fixed order. WGSL has no float atomics, and the fixed
//! order keeps the loss bit-for-bit the same from run to run.

use super::{whole, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::errors;
use crate::wgpu::view::{check_view, GpuView};

/// Rows one workgroup folds when reducing: four per invocation, so the per-workgroup tree and
/// the partials stay small against the rows' own work while long batches still spread over
/// `rows / CHUNK` workgroups.
const CHUNK: usize = 4 * WG as usize;

/// How the per-row losses are combined (PyTorch's `reduction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeReduction {
    None,
    Mean,
    Sum,
}

/// The problem: logits `[n, classes, inner]` (contiguous), targets `[n, inner]` (int64),
/// optional class weights `[classes]`.
#[derive(Clone, Copy, Debug)]
pub struct CeConfig {
    pub classes: usize,
    pub inner: usize,
    pub rows: usize,
    pub ignore_index: i64,
    pub label_smoothing: f32,
    pub reduction: CeReduction,
}

impl CeConfig {
    fn words(&self, op: &str, x: &GpuView, t: &GpuView, w: Option<&GpuView>) -> Result<Vec<u32>> {
        let too_big = || Error::runtime(format!("wgpu: {op}: sizes exceed 2^32"));
        let u = |v: usize| u32::try_from(v).map_err(|_| too_big());
        let flags = u32::from(w.is_some())
            | (u32::from(self.reduction != CeReduction::None) << 1)
            | (u32::from(self.reduction == CeReduction::Mean) << 2)
            | (u32::from(self.reduce_groups() > 1) << 3);
        let mut p = vec![0u32; 22];
        p[0] = u(x.numel())?;
        let ii = self.ignore_index as u64;
        p[10..18].copy_from_slice(&[
            u(self.classes)?,
            u(self.inner)?,
            u(self.rows)?,
            ii as u32,
            (ii >> 32) as u32,
            self.label_smoothing.to_bits(),
            flags,
            CHUNK as u32,
        ]);
        p[18] = u(x.offset)?;
        p[19] = u(t.offset)?;
        p[20] = u(w.map_or(0, |w| w.offset))?;
        Ok(p)
    }

    /// Workgroups of the forward's first pass when reducing (more than one needs the second).
    fn reduce_groups(&self) -> usize {
        if self.reduction == CeReduction::None {
            0
        } else {
            self.rows.div_ceil(CHUNK).max(1)
        }
    }
}

fn check(op: &str, cfg: &CeConfig, x: &GpuView, t: &GpuView, w: Option<&GpuView>) -> Result<()> {
    check_view(op, x)?;
    check_view(op, t)?;
    let contiguous = |v: &GpuView| v.strides == crate::shape::contiguous_strides(&v.shape);
    if x.dtype != DType::F32 || t.dtype != DType::I64 || !contiguous(x) || !contiguous(t) {
        return Err(Error::runtime(format!(
            "wgpu: {op}: expects contiguous float32 logits and int64 targets"
        )));
    }
    if x.numel() != cfg.rows * cfg.classes || t.numel() != cfg.rows {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {} logits and {} targets for {} rows of {} classes",
            x.numel(),
            t.numel(),
            cfg.rows,
            cfg.classes
        )));
    }
    if let Some(w) = w {
        check_view(op, w)?;
        if w.dtype != DType::F32 || w.numel() != cfg.classes || !contiguous(w) {
            return Err(Error::runtime(format!(
                "wgpu: {op}: class weights must be {} contiguous float32 values",
                cfg.classes
            )));
        }
    }
    Ok(())
}

/// The loss (`rows` values for `none`, else one) and the saved rows' log-sum-exp followed by the
/// mean's denominator and the weights' sum (what [`cross_entropy_backward`] reads).
pub fn cross_entropy_forward(
    x: &GpuView,
    t: &GpuView,
    w: Option<&GpuView>,
    cfg: &CeConfig,
) -> Result<(GpuBuffer, GpuBuffer)> {
    let op = "cross_entropy";
    check(op, cfg, x, t, w)?;
    let reduce = cfg.reduction != CeReduction::None;
    let loss = alloc(4 * if reduce { 1 } else { cfg.rows.max(1) } as u64)?;
    let aux = alloc(4 * (cfg.rows as u64 + 2))?;
    let e = engine()?;
    let k = e.kernel(
        "cross_entropy.wgsl",
        &[("WG", WG_STR), ("IDX_T", "vec2<u32>"), ("IDX_LOAD", "v")],
    )?;
    let p = cfg.words(op, x, t, w)?;
    let dummy = alloc(4)?;
    let wbuf = w.map_or(&dummy, |w| &w.buffer);
    let flag = errors::buffer()?;
    let groups = cfg.reduce_groups();
    let partials = if groups > 1 {
        alloc(8 * groups as u64)?
    } else {
        alloc(4)?
    };
    let bind = [
        whole(x),
        whole(t),
        Binding {
            buffer: wbuf,
            bytes: wbuf.len(),
        },
        Binding {
            buffer: &loss,
            bytes: loss.len(),
        },
        Binding {
            buffer: &aux,
            bytes: aux.len(),
        },
        Binding {
            buffer: &flag,
            bytes: errors::BYTES,
        },
        Binding {
            buffer: &partials,
            bytes: partials.len(),
        },
    ];
    let grid = if reduce {
        groups as u64
    } else {
        workgroups(cfg.rows, WG).max(1)
    };
    e.dispatch(op, &k, &p, &bind, grid)?;
    errors::arm();
    if groups > 1 {
        let fold = e.kernel("cross_entropy_reduce.wgsl", &[("WG", WG_STR)])?;
        let bind = [
            Binding {
                buffer: &partials,
                bytes: partials.len(),
            },
            Binding {
                buffer: &loss,
                bytes: loss.len(),
            },
            Binding {
                buffer: &aux,
                bytes: aux.len(),
            },
        ];
        e.dispatch("cross_entropy_reduce", &fold, &p, &bind, 1)?;
    }
    Ok((loss, aux))
}

/// The gradient of [`cross_entropy_forward`]'s loss with respect to the logits, from the loss
/// gradient `g` (`rows` values for `none`, else one) and the forward's `aux`: a fresh buffer of
/// `x.numel()` values.
pub fn cross_entropy_backward(
    x: &GpuView,
    t: &GpuView,
    w: Option<&GpuView>,
    aux: &GpuBuffer,
    g: &GpuView,
    cfg: &CeConfig,
) -> Result<GpuBuffer> {
    let op = "cross_entropy_backward";
    check(op, cfg, x, t, w)?;
    check_view(op, g)?;
    let want = if cfg.reduction == CeReduction::None {
        cfg.rows
    } else {
        1
    };
    if g.dtype != DType::F32
        || g.numel() != want
        || g.strides != crate::shape::contiguous_strides(&g.shape)
    {
        return Err(Error::runtime(format!(
            "wgpu: {op}: the loss gradient must be {want} contiguous float32 values"
        )));
    }
    let n = x.numel();
    let dx = alloc(4 * n.max(1) as u64)?;
    if n == 0 {
        return Ok(dx);
    }
    let e = engine()?;
    let k = e.kernel(
        "cross_entropy_backward.wgsl",
        &[("WG", WG_STR), ("IDX_T", "vec2<u32>"), ("IDX_LOAD", "v")],
    )?;
    let mut p = cfg.words(op, x, t, w)?;
    p[21] = u32::try_from(g.offset)
        .map_err(|_| Error::runtime(format!("wgpu: {op}: offset exceeds 2^32")))?;
    let dummy = alloc(4)?;
    let wbuf = w.map_or(&dummy, |w| &w.buffer);
    let bind = [
        whole(x),
        whole(t),
        Binding {
            buffer: wbuf,
            bytes: wbuf.len(),
        },
        Binding {
            buffer: aux,
            bytes: aux.len(),
        },
        whole(g),
        Binding {
            buffer: &dx,
            bytes: dx.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(dx)
}
