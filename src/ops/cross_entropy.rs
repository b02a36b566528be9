//! Fused cross entropy on class-index targets: log_softmax + nll_loss (class weights,
//! ignore_index, label smoothing, reduction) as one forward kernel and one backward kernel, on
//! the wgpu device (float32) and the CPU (float32/float64). Elsewhere (`Ok(None)`: other dtypes,
//! 1-D input, soft targets) `nn.functional.cross_entropy` composes the same loss from log_softmax
//! and gathers.

use super::{
    arange, compare, contiguous, index_select, mul, mul_scalar, reshape, scalar_tensor, softmax,
    sub, sum, to_dtype, where_, CmpOp, Scalar,
};
use crate::autograd::{is_grad_enabled, needs_grad, record, SavedTensor};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// PyTorch's `reduction` of a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    /// From PyTorch's string ("none", "mean", "sum"); ValueError text otherwise.
    pub fn parse(s: &str) -> Result<Reduction> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(Error::value(format!(
                "{other} is not a valid value for reduction"
            ))),
        }
    }
}

/// The shape of one cross-entropy problem: logits `[n, classes, inner...]` seen as rows of
/// `classes` values, `rows = n * inner`.
#[derive(Clone, Copy, Debug)]
pub struct CrossEntropy {
    pub classes: usize,
    pub inner: usize,
    pub rows: usize,
    pub ignore_index: i64,
    pub label_smoothing: f64,
    pub reduction: Reduction,
}

/// `cross_entropy(x, target, weight, ignore_index=, reduction=, label_smoothing=)` for logits `x`
/// of shape `[N, C, d1...]` (C at dim 1) and integer class targets `[N, d1...]`, fused, when `x`
/// is a float32 wgpu tensor or a float32/float64 CPU tensor; `Ok(None)` when the fused kernels do
/// not apply (the caller composes).
/// The argument checks of `nll_loss` (shapes, weight length) are the caller's.
pub fn cross_entropy_fused(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Option<Tensor>> {
    // RUSTGRAD_WGPU_FUSION=0 keeps the composed ops on the device (for debugging and
    // before/after counts).
    #[cfg(feature = "wgpu")]
    if !x.device().is_cpu() && !crate::wgpu::fusion_enabled() {
        return Ok(None);
    }
    let int_target = matches!(target.dtype(), DType::I64 | DType::I32 | DType::U8);
    // float32 on the device; float32 and float64 on the CPU (float64 is what gradcheck runs).
    let float_ok = x.dtype() == DType::F32 || (x.device().is_cpu() && x.dtype() == DType::F64);
    if !float_ok
        || x.ndim() < 2
        || !int_target
        || weight.is_some_and(|w| w.dtype() != x.dtype() || w.device() != x.device())
        || target.device() != x.device()
    {
        return Ok(None);
    }
    let shape = x.shape();
    let (n, classes) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let mut tshape = vec![n];
    tshape.extend_from_slice(&shape[2..]);
    if target.shape().as_slice() != tshape.as_slice()
        || weight.is_some_and(|w| w.numel() != classes)
    {
        return Err(Error::runtime(format!(
            "cross_entropy: target of shape {:?} (weight {:?}) for input of shape {:?}",
            target.shape().as_slice(),
            weight.map(|w| w.shape().to_vec()),
            shape.as_slice()
        )));
    }
    let cfg = CrossEntropy {
        classes,
        inner,
        rows: n * inner,
        ignore_index,
        label_smoothing,
        reduction,
    };
    let xc = contiguous(x)?;
    let tc = contiguous(&to_dtype(target, DType::I64)?)?;
    let wc = weight.map(contiguous).transpose()?;
    let Some((loss, aux)) = crate::kernels::cross_entropy(&xc, &tc, wc.as_ref(), &cfg)? else {
        return Ok(None);
    };
    let loss = if reduction == Reduction::None {
        let dims: Vec<i64> = tshape.iter().map(|&d| d as i64).collect();
        reshape(&loss, &dims)?
    } else {
        reshape(&loss, &[])?
    };
    if !needs_grad(&[x]) {
        return Ok(Some(loss));
    }
    let sx = SavedTensor::new(x);
    // PyTorch's node: nll_loss for [N, C], nll_loss2d (on a 4-D view) for more dims.
    let node = if x.ndim() == 2 {
        "NllLossBackward0"
    } else {
        "NllLoss2DBackward0"
    };
    record(node, &[x], &[&loss], true, move |g, _| {
        // A higher-order graph differentiates the same gradient written in tensor ops.
        if is_grad_enabled() {
            let gx = composite_grad(&sx.get()?, &tc, wc.as_ref(), &g[0], &cfg)?;
            return Ok(vec![Some(gx)]);
        }
        let gc = contiguous(&g[0])?;
        let gx = crate::kernels::cross_entropy_backward(&xc, &tc, wc.as_ref(), &aux, &gc, &cfg)?;
        let dims: Vec<i64> = xc.shape().iter().map(|&d| d as i64).collect();
        Ok(vec![Some(reshape(&gx, &dims)?)])
    });
    Ok(Some(loss))
}

/// The fused backward's formula in differentiable tensor ops (for create_graph):
/// `s * (alpha * softmax(x) - beta)` with, per row r (target t, valid = not ignored),
/// `alpha = valid * ((1 - ls) * w[t] + ls / C * sum(w))`,
/// `beta[c] = valid * ((1 - ls) * w[t] * [c == t] + ls / C * w[c])`, `s` the loss gradient per
/// row (divided by the mean's denominator `sum(valid * w[t])`).
fn composite_grad(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    g: &Tensor,
    cfg: &CrossEntropy,
) -> Result<Tensor> {
    let shape = x.shape();
    let nd = shape.len();
    let ls = cfg.label_smoothing;
    let c = cfg.classes as f64;
    // Views with the class dim kept as size 1 / spanning the classes.
    let row_dims: Vec<i64> = (0..nd)
        .map(|d| if d == 1 { 1 } else { shape[d] as i64 })
        .collect();
    let class_dims: Vec<i64> = (0..nd)
        .map(|d| if d == 1 { cfg.classes as i64 } else { 1 })
        .collect();
    let t = reshape(t, &row_dims)?;
    let valid = compare(
        CmpOp::Ne,
        &t,
        &scalar_tensor(Scalar::Int(cfg.ignore_index), DType::I64)?,
    )?;
    let zero = scalar_tensor(Scalar::Int(0), DType::I64)?;
    let tv = where_(&valid, &t, &zero)?;
    let valid = to_dtype(&valid, DType::F32)?;
    let classes = reshape(
        &arange(
            Scalar::Int(0),
            Scalar::Int(cfg.classes as i64),
            Scalar::Int(1),
            DType::I64,
        )?,
        &class_dims,
    )?;
    let classes = crate::kernels::transfer::to_device(&classes, x.device())?;
    let onehot = to_dtype(&compare(CmpOp::Eq, &tv, &classes)?, DType::F32)?;
    let (wt, wvec, wsum) = match w {
        Some(w) => {
            let flat = reshape(&tv, &[-1])?;
            let wt = reshape(&index_select(w, 0, &flat)?, &row_dims)?;
            (wt, reshape(w, &class_dims)?, sum(w, None, false)?)
        }
        None => {
            let one = scalar_tensor(Scalar::Float(1.0), DType::F32)?;
            (
                one.clone(),
                one,
                scalar_tensor(Scalar::Float(c), DType::F32)?,
            )
        }
    };
    let vwt = mul(&valid, &wt)?;
    let alpha = super::add(
        &mul_scalar(&vwt, 1.0 - ls)?,
        &mul(&valid, &mul_scalar(&wsum, ls / c)?)?,
    )?;
    let beta = super::add(
        &mul(&mul_scalar(&vwt, 1.0 - ls)?, &onehot)?,
        &mul(&valid, &mul_scalar(&wvec, ls / c)?)?,
    )?;
    let s = match cfg.reduction {
        Reduction::None => reshape(g, &row_dims)?,
        Reduction::Sum => g.clone(),
        Reduction::Mean => super::div(g, &sum(&vwt, None, false)?)?,
    };
    let p = softmax(x, 1)?;
    mul(&s, &sub(&mul(&alpha, &p)?, &beta)?)
}
