//! The wgpu side of the fused cross entropy (`ops::cross_entropy`): contiguous operands become
//! views, the kernels' buffers come back as tensors (the loss, and the per-row values the
//! backward kernel reads).

use super::{require_f32, view_of, wrap};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::cross_entropy::{CrossEntropy, Reduction};
use crate::tensor::Tensor;
use crate::wgpu::kernels::{self as k, CeConfig, CeReduction};

fn config(cfg: &CrossEntropy) -> CeConfig {
    CeConfig {
        classes: cfg.classes,
        inner: cfg.inner,
        rows: cfg.rows,
        ignore_index: cfg.ignore_index,
        label_smoothing: cfg.label_smoothing as f32,
        reduction: match cfg.reduction {
            Reduction::None => CeReduction::None,
            Reduction::Mean => CeReduction::Mean,
            Reduction::Sum => CeReduction::Sum,
        },
    }
}

/// The loss (flat: `rows` values for `none`, else one) and the saved per-row values.
pub fn cross_entropy(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    cfg: &CrossEntropy,
) -> Result<(Tensor, Tensor)> {
    require_f32("cross_entropy", x.dtype())?;
    let wv = w.map(view_of).transpose()?;
    let (loss, aux) =
        k::cross_entropy_forward(&view_of(x)?, &view_of(t)?, wv.as_ref(), &config(cfg))?;
    let n = if cfg.reduction == Reduction::None {
        cfg.rows
    } else {
        1
    };
    Ok((
        wrap(loss, DType::F32, &[n]),
        wrap(aux, DType::F32, &[cfg.rows + 2]),
    ))
}

/// The logits' gradient (flat, `x.numel()` values) from the loss gradient `g` (contiguous).
pub fn cross_entropy_backward(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    aux: &Tensor,
    g: &Tensor,
    cfg: &CrossEntropy,
) -> Result<Tensor> {
    require_f32("cross_entropy_backward", g.dtype())?;
    let wv = w.map(view_of).transpose()?;
    let av = view_of(aux)?;
    let buf = k::cross_entropy_backward(
        &view_of(x)?,
        &view_of(t)?,
        wv.as_ref(),
        &av.buffer,
        &view_of(g)?,
        &config(cfg),
    )?;
    Ok(wrap(buf, DType::F32, &[x.numel()]))
}
