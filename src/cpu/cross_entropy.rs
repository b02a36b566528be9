//! CPU kernels of the fused cross entropy (`ops::cross_entropy`): log_softmax + nll_loss per row
//! in one pass over the logits, and the logits' gradient in one more, instead of the dozen
//! composed ops (log_softmax, gathers, masks, reductions and each one's backward) that dominate
//! a small classifier's training step.
//!
//! Rows: logits `[N, C, inner]` contiguous, row `r = n * inner + s` holds classes at
//! `(n * C + c) * inner + s`. Per row with target `t` (not ignored) and `lse = logsumexp(x_r)`:
//! `loss_r = (1 - ls) * w[t] * (lse - x[t]) + ls / C * sum_c w[c] * (lse - x[c])`; mean divides
//! the sum by `sum_r w[t_r]` over rows not ignored (0/0 = NaN, as in PyTorch).
//! The saved values (`aux`, `rows + 2` floats) are each row's lse (0 where ignored), the mean's
//! denominator and `sum_c w[c]`, the same layout the wgpu kernels use.

use super::rows::base_ptr;
use super::threads::{parallel_for, SendPtr, GRAIN};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::cross_entropy::{CrossEntropy, Reduction};
use crate::tensor::Tensor;

/// Float element of the kernels: f32 rows go through the vector exp, f64 through libm.
trait Fl: crate::dtype::Element + Copy + Send + Sync {
    fn f(self) -> f64;
    fn of(v: f64) -> Self;
    /// `(max, sum_c exp(x_c - max))` of a contiguous row (max 0 when the row is all -inf).
    fn max_expsum(row: &[Self], scratch: &mut [Self]) -> (f64, f64);
    /// `out[k] = exp(row[k] - shift)`.
    fn exp_shift(row: &[Self], shift: f64, out: &mut [Self]);
}

impl Fl for f32 {
    fn f(self) -> f64 {
        self as f64
    }
    fn of(v: f64) -> Self {
        v as f32
    }
    fn max_expsum(row: &[f32], scratch: &mut [f32]) -> (f64, f64) {
        use crate::cpu::simd::{exp_shift_sum_f32, max_f32};
        // SAFETY: both slices hold row.len() elements.
        unsafe {
            let mut m = max_f32(row.as_ptr(), row.len());
            if m == f32::NEG_INFINITY {
                m = 0.0;
            }
            let s = exp_shift_sum_f32(row.as_ptr(), m, scratch.as_mut_ptr(), row.len());
            (m as f64, s as f64)
        }
    }
    fn exp_shift(row: &[f32], shift: f64, out: &mut [f32]) {
        // SAFETY: both slices hold row.len() elements.
        unsafe {
            crate::cpu::simd::exp_shift_sum_f32(
                row.as_ptr(),
                shift as f32,
                out.as_mut_ptr(),
                row.len(),
            )
        };
    }
}

impl Fl for f64 {
    fn f(self) -> f64 {
        self
    }
    fn of(v: f64) -> Self {
        v
    }
    fn max_expsum(row: &[f64], _scratch: &mut [f64]) -> (f64, f64) {
        let mut m = row.iter().fold(
            f64::NEG_INFINITY,
            |a, &v| {
                if v > a || v.is_nan() {
                    v
                } else {
                    a
                }
            },
        );
        if m == f64::NEG_INFINITY {
            m = 0.0;
        }
        (m, row.iter().map(|&v| (v - m).exp()).sum())
    }
    fn exp_shift(row: &[f64], shift: f64, out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - shift).exp();
        }
    }
}

/// The class weights (contiguous, `c` elements of `T`) as f64, when given.
fn class_weights<T: Fl>(w: Option<&Tensor>, c: usize) -> Option<Vec<f64>> {
    w.map(|w| {
        // SAFETY: the op checked that w is contiguous with C elements of x's dtype.
        unsafe { std::slice::from_raw_parts(base_ptr::<T>(w) as *const T, c) }
            .iter()
            .map(|v| v.f())
            .collect()
    })
}

/// Loss (`rows` values for `none`, else one) and the saved `aux`; `x` `[N, C, inner]`, `t` int64
/// `[rows]`, `w` `[C]`, all contiguous and of one float dtype (f32 or f64).
pub fn forward(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    cfg: &CrossEntropy,
) -> Result<(Tensor, Tensor)> {
    match x.dtype() {
        DType::F32 => fwd::<f32>(x, t, w, cfg),
        DType::F64 => fwd::<f64>(x, t, w, cfg),
        d => Err(Error::runtime(format!(
            "cross_entropy: fused kernel needs float32/float64 logits, got {d:?}"
        ))),
    }
}

/// Copy row `r` of `[N, C, inner]` into `buf` when it is strided (inner > 1), or borrow it.
///
/// # Safety
/// `xp` holds the whole `[N, C, inner]` block.
unsafe fn row_of<'a, T: Copy>(
    xp: *const T,
    r: usize,
    cfg: &CrossEntropy,
    buf: &'a mut [T],
) -> &'a [T] {
    let (c, inner) = (cfg.classes, cfg.inner);
    let (n, s) = (r / inner, r % inner);
    // SAFETY: (n, k, s) is inside the block for every class k < c.
    unsafe {
        if inner == 1 {
            return std::slice::from_raw_parts(xp.add(r * c), c);
        }
        for (k, b) in buf.iter_mut().enumerate() {
            *b = *xp.add((n * c + k) * inner + s);
        }
    }
    buf
}

fn fwd<T: Fl>(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    cfg: &CrossEntropy,
) -> Result<(Tensor, Tensor)> {
    let (rows, c) = (cfg.rows, cfg.classes);
    let xp = SendPtr(base_ptr::<T>(x));
    // SAFETY: t is contiguous int64 with `rows` elements; w contiguous with C (checked by the op).
    let tv = unsafe { std::slice::from_raw_parts(base_ptr::<i64>(t) as *const i64, rows) };
    let wv = class_weights::<T>(w, c);
    // PyTorch checks every target before computing: a bad one is an IndexError naming it.
    if let Some(&bad) = tv
        .iter()
        .find(|&&v| v != cfg.ignore_index && (v < 0 || v >= c as i64))
    {
        return Err(Error::index(format!("Target {bad} is out of bounds.")));
    }
    let wsum = wv.as_ref().map_or(c as f64, |w| w.iter().sum());
    let ls = cfg.label_smoothing;
    // Per row: (loss_r, weight of the target or 0 when ignored), and lse into aux.
    let mut per = vec![(0f64, 0f64); rows];
    let mut lse = vec![0f64; rows];
    let (pp, lp) = (SendPtr(per.as_mut_ptr()), SendPtr(lse.as_mut_ptr()));
    let grain = (GRAIN / c.max(1)).max(1);
    parallel_for(rows, grain, |a, b| {
        let (xp, pp, lp) = (&xp, &pp, &lp);
        let mut buf = vec![T::of(0.0); c];
        let mut scratch = vec![T::of(0.0); c];
        for (r, &target) in tv.iter().enumerate().take(b).skip(a) {
            if target == cfg.ignore_index {
                continue;
            }
            let tc = target as usize;
            // SAFETY: x holds rows * C elements; row r is written only by this chunk.
            let row = unsafe { row_of(xp.0 as *const T, r, cfg, &mut buf) };
            let (m, s) = T::max_expsum(row, &mut scratch);
            let l = m + s.ln();
            let wt = wv.as_ref().map_or(1.0, |w| w[tc]);
            let mut loss = (1.0 - ls) * wt * (l - row[tc].f());
            if ls > 0.0 {
                let dot: f64 = match &wv {
                    Some(w) => row.iter().zip(w).map(|(v, w)| w * v.f()).sum(),
                    None => row.iter().map(|v| v.f()).sum(),
                };
                loss += ls / c as f64 * (l * wsum - dot);
            }
            // SAFETY: index r belongs to this chunk.
            unsafe {
                *pp.0.add(r) = (loss, wt);
                *lp.0.add(r) = l;
            }
        }
    });
    let denom: f64 = per.iter().map(|p| p.1).sum();
    let loss: Vec<T> = match cfg.reduction {
        Reduction::None => per.iter().map(|p| T::of(p.0)).collect(),
        Reduction::Sum => vec![T::of(per.iter().map(|p| p.0).sum())],
        Reduction::Mean => vec![T::of(per.iter().map(|p| p.0).sum::<f64>() / denom)],
    };
    let mut aux: Vec<T> = lse.into_iter().map(T::of).collect();
    aux.push(T::of(denom));
    aux.push(T::of(wsum));
    let (nl, na) = (loss.len(), aux.len());
    Ok((
        Tensor::from_vec(loss, &[nl])?,
        Tensor::from_vec(aux, &[na])?,
    ))
}

/// The logits' gradient (contiguous `[N, C, inner]`) from the forward's `aux` and the loss
/// gradient `g` (one value, or `rows` for `none`).
pub fn backward(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    aux: &Tensor,
    g: &Tensor,
    cfg: &CrossEntropy,
) -> Result<Tensor> {
    match x.dtype() {
        DType::F32 => bwd::<f32>(x, t, w, aux, g, cfg),
        _ => bwd::<f64>(x, t, w, aux, g, cfg),
    }
}

fn bwd<T: Fl>(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    aux: &Tensor,
    g: &Tensor,
    cfg: &CrossEntropy,
) -> Result<Tensor> {
    let (rows, c, inner) = (cfg.rows, cfg.classes, cfg.inner);
    let dx = Tensor::empty(&x.shape(), x.dtype())?;
    let xp = SendPtr(base_ptr::<T>(x));
    let dp = SendPtr(dx.storage().cpu_ptr() as *mut T);
    // SAFETY: shapes as documented (checked by the op that saved them).
    let (tv, av, gv) = unsafe {
        (
            std::slice::from_raw_parts(base_ptr::<i64>(t) as *const i64, rows),
            std::slice::from_raw_parts(base_ptr::<T>(aux) as *const T, rows + 2),
            std::slice::from_raw_parts(base_ptr::<T>(g) as *const T, g.numel()),
        )
    };
    let wv = class_weights::<T>(w, c);
    let (denom, wsum) = (av[rows].f(), av[rows + 1].f());
    let ls = cfg.label_smoothing;
    let grain = (GRAIN / c.max(1)).max(1);
    parallel_for(rows, grain, |a, b| {
        let (xp, dp) = (&xp, &dp);
        let mut buf = vec![T::of(0.0); c];
        let mut grad = vec![T::of(0.0); c];
        for r in a..b {
            let target = tv[r];
            grad.iter_mut().for_each(|v| *v = T::of(0.0));
            if target != cfg.ignore_index {
                let tc = target as usize;
                let scale = match cfg.reduction {
                    Reduction::None => gv[r].f(),
                    Reduction::Sum => gv[0].f(),
                    Reduction::Mean => gv[0].f() / denom,
                };
                let wt = wv.as_ref().map_or(1.0, |w| w[tc]);
                let alpha = scale * ((1.0 - ls) * wt + ls / c as f64 * wsum);
                // SAFETY: x holds the whole block; row r is read only.
                let row = unsafe { row_of(xp.0 as *const T, r, cfg, &mut buf) };
                // d loss / d x_k = scale * (alpha' * softmax_k - beta_k).
                T::exp_shift(row, av[r].f(), &mut grad);
                let smooth = scale * ls / c as f64;
                for (k, gk) in grad.iter_mut().enumerate() {
                    let wk = wv.as_ref().map_or(1.0, |w| w[k]);
                    *gk = T::of(alpha * gk.f() - smooth * wk);
                }
                grad[tc] = T::of(grad[tc].f() - scale * (1.0 - ls) * wt);
            }
            let (n, s) = (r / inner, r % inner);
            for (k, &gk) in grad.iter().enumerate() {
                // SAFETY: row r's elements of dx belong to this chunk.
                unsafe { *dp.0.add((n * c + k) * inner + s) = gk };
            }
        }
    });
    Ok(dx)
}
