//! Matrix products (`matmul` and its special cases, `linear`): shape rules, PyTorch's error
//! messages and the backward rule. The products themselves run in `cpu::matmul` (blocked GEMM
//! over the operands' own strides) or on the device.

use super::{add, expand, reshape, squeeze, transpose, unary, unsqueeze, UnaryOp};
use crate::autograd::{record, SavedTensor};
// Float element types with a GEMM kernel: the conv and pool kernels name it from here.
pub(crate) use crate::cpu::matmul::GemmFloat;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{broadcast_shapes, Shape};
use crate::tensor::Tensor;

/// PyTorch's lower-case dtype names used by matmul errors ("float != double").
pub(crate) fn lower_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::U8 => "unsigned char",
        DType::I8 => "signed char",
        DType::I16 => "short int",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::F16 => "c10::Half",
        DType::BF16 => "c10::BFloat16",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// Product of `[..., m, k]` and `[..., k, n]` with identical batch dims (possibly stride-0
/// views). Records its own backward; broadcasting is undone by the `expand` views around it.
fn bmm_core(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nd = a.ndim();
    let mut shape: Shape = a.shape();
    shape[nd - 1] = b.shape()[nd - 1];
    let out = match crate::kernels::bmm(a, b)? {
        Some(out) => out,
        None => crate::cpu::matmul::bmm(a, b, &shape)?,
    };
    let name = if nd == 2 {
        "MmBackward0"
    } else {
        "BmmBackward0"
    };
    let (ka, kb) = (SavedTensor::new(a), SavedTensor::new(b));
    record(name, &[a, b], &[&out], true, move |g, needs| {
        let g = &g[0];
        let nd = g.ndim() as i64;
        let (a, b) = (&ka.get()?, &kb.get()?);
        let ga = if needs[0] {
            Some(bmm_core(g, &transpose(b, nd - 2, nd - 1)?)?)
        } else {
            None
        };
        let gb = if needs[1] {
            Some(bmm_core(&transpose(a, nd - 2, nd - 1)?, g)?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    });
    Ok(out)
}

fn dims_str(s: &[usize]) -> String {
    s.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// `torch.matmul(a, b)` with all of PyTorch's cases (dot, matrix-vector, batched with
/// broadcasting of the batch dims).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (na, nb) = (a.ndim(), b.ndim());
    if na == 0 || nb == 0 {
        return Err(Error::runtime(format!(
            "both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            lower_name(a.dtype()),
            lower_name(b.dtype())
        )));
    }
    let (sa, sb) = (a.shape(), b.shape());
    if na == 1 && nb == 1 {
        if sa[0] != sb[0] {
            return Err(Error::runtime(format!(
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                sa[0], sb[0], sa[0], sb[0]
            )));
        }
        let r = bmm_core(&unsqueeze(a, 0)?, &unsqueeze(b, 1)?)?;
        return reshape(&r, &[]);
    }
    // Promote vectors to matrices, remembering which dims to drop afterwards.
    let a2 = if na == 1 { unsqueeze(a, 0)? } else { a.clone() };
    let b2 = if nb == 1 { unsqueeze(b, 1)? } else { b.clone() };
    let (s2a, s2b) = (a2.shape(), b2.shape());
    let (m, k) = (s2a[s2a.len() - 2], s2a[s2a.len() - 1]);
    let (k2, n) = (s2b[s2b.len() - 2], s2b[s2b.len() - 1]);
    if k != k2 {
        let msg = if na == 1 || nb == 1 {
            format!(
                "size mismatch, got input ({}), mat ({}x{}), vec ({})",
                if nb == 1 { m } else { n },
                if nb == 1 { m } else { n },
                if nb == 1 { k } else { k2 },
                if nb == 1 { k2 } else { k }
            )
        } else if na == 2 && nb == 2 {
            format!(
                "mat1 and mat2 shapes cannot be multiplied ({} and {})",
                dims_str(&sa),
                dims_str(&sb)
            )
        } else {
            format!(
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                s2a[..s2a.len() - 2].iter().product::<usize>(),
                k,
                s2b[..s2b.len() - 2].iter().product::<usize>().max(1),
                k2
            )
        };
        return Err(Error::runtime(msg));
    }
    let out = if a2.ndim() == 2 && b2.ndim() == 2 {
        bmm_core(&a2, &b2)?
    } else if b2.ndim() == 2 && a2.ndim() > 2 && a2.is_contiguous() {
        // Fold batch dims of a contiguous left operand into rows: one big GEMM.
        let rows = a2.numel() / k.max(1);
        let flat = reshape(&a2, &[rows as i64, k as i64])?;
        let r = bmm_core(&flat, &b2)?;
        let mut shp: Vec<i64> = s2a[..s2a.len() - 1].iter().map(|&v| v as i64).collect();
        shp.push(n as i64);
        reshape(&r, &shp)?
    } else {
        let batch = broadcast_shapes(&s2a[..s2a.len() - 2], &s2b[..s2b.len() - 2])?;
        let mut ea: Vec<usize> = batch.to_vec();
        ea.extend([m, k]);
        let mut eb: Vec<usize> = batch.to_vec();
        eb.extend([k, n]);
        bmm_core(&expand(&a2, &ea)?, &expand(&b2, &eb)?)?
    };
    let mut out = out;
    if na == 1 {
        out = squeeze(&out, Some(&[-2]))?;
    }
    if nb == 1 {
        out = squeeze(&out, Some(&[-1]))?;
    }
    Ok(out)
}

/// `F.linear(x, weight, bias)`: `x @ weight^T + bias`, with the batch dims of `x` folded into
/// the rows of a single GEMM and the transpose taken as a stride swap. On the device the bias is
/// added by the GEMM's epilogue.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    linear_act(x, w, bias, None)
}

/// `act(F.linear(x, weight, bias))`. On the wgpu device the bias and the activation (relu,
/// sigmoid, tanh, gelu, gelu_tanh, silu) run in the GEMM's epilogue, one kernel; elsewhere (or
/// for other activations) it is the composition of the ops.
pub fn linear_act(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    act: Option<UnaryOp>,
) -> Result<Tensor> {
    if w.ndim() != 2 && w.ndim() != 1 {
        return Err(Error::runtime(format!(
            "linear(): weight must be 1-D or 2-D, got {}-D",
            w.ndim()
        )));
    }
    let mut ts = vec![x, w];
    ts.extend(bias);
    let on_device = !crate::kernels::device_of(&ts)?.is_cpu();
    let xs = x.shape();
    // One GEMM with the bias folded in (PyTorch's addmm; on the CPU for 2-D and batched input,
    // where a vector input stays a matrix-vector product as in PyTorch).
    let fold = on_device || (act.is_none() && bias.is_some() && x.ndim() >= 2);
    if fold && w.ndim() == 2 && x.ndim() >= 1 && xs[xs.len() - 1] == w.shape()[1] {
        let k = w.shape()[1] as i64;
        if x.ndim() == 2 {
            return addmm_act(bias, x, &transpose(w, 0, 1)?, act);
        }
        let x2 = reshape(x, &[-1, k])?;
        let y = addmm_act(bias, &x2, &transpose(w, 0, 1)?, act)?;
        let mut shp: Vec<i64> = xs[..xs.len() - 1].iter().map(|&v| v as i64).collect();
        shp.push(w.shape()[0] as i64);
        return reshape(&y, &shp);
    }
    let wt = if w.ndim() == 2 {
        transpose(w, 0, 1)?
    } else {
        w.clone()
    };
    let y = matmul(x, &wt)?;
    let y = match bias {
        Some(b) => add(&y, b)?,
        None => y,
    };
    match act {
        Some(op) => unary(op, &y),
        None => Ok(y),
    }
}

/// `act(a @ b + bias)` for 2-D `a: [m, k]`, `b: [k, n]` and `bias` broadcastable to `[m, n]`
/// (`torch.addmm(bias, a, b)` with beta = alpha = 1, then the activation). On the wgpu device
/// it is one GEMM with the bias and activation in the epilogue; its backward applies the
/// activation's derivative (from the saved output, or the saved pre-activation for gelu/silu)
/// and then the product's rule. Elsewhere it is the composition of the ops.
pub fn addmm_act(
    bias: Option<&Tensor>,
    a: &Tensor,
    b: &Tensor,
    act: Option<UnaryOp>,
) -> Result<Tensor> {
    let shapes_fit = a.ndim() == 2
        && b.ndim() == 2
        && a.shape()[1] == b.shape()[0]
        && a.dtype() == b.dtype()
        && bias.is_none_or(|t| {
            let mn = [a.shape()[0], b.shape()[1]];
            t.dtype() == a.dtype()
                && t.ndim() <= 2
                && broadcast_shapes(&t.shape(), &mn).is_ok_and(|s| s.as_slice() == mn)
        });
    let fused = if shapes_fit {
        crate::kernels::addmm_act(a, b, bias, act)?
    } else {
        None
    };
    let Some((out, pre)) = fused else {
        let y = matmul(a, b)?;
        let y = match bias {
            Some(t) => add(&y, t)?,
            None => y,
        };
        return match act {
            Some(op) => unary(op, &y),
            None => Ok(y),
        };
    };
    let mut inputs = vec![a, b];
    inputs.extend(bias);
    let (ka, kb) = (SavedTensor::new(a), SavedTensor::new(b));
    let so = SavedTensor::output(&out);
    let sp = pre.as_ref().map(SavedTensor::new);
    let sbias = act.and(bias).map(SavedTensor::new);
    let bias_like = bias.map(|t| (t.shape(), t.dtype()));
    record("AddmmBackward0", &inputs, &[&out], true, move |g, needs| {
        let gp = match act {
            None => g[0].clone(),
            // A higher-order graph (create_graph) recomputes the pre-activation and the output
            // from the inputs so gradients flow through them; first-order backward uses the
            // kernel's saved output (and pre-activation, for gelu/silu).
            Some(op) if crate::autograd::is_grad_enabled() => {
                let p = bmm_core(&ka.get()?, &kb.get()?)?;
                let p = match &sbias {
                    Some(t) => add(&p, &t.get()?)?,
                    None => p,
                };
                super::unary::unary_backward(op, &g[0], &p, || unary(op, &p))?
            }
            Some(op) => {
                let y = so.get()?;
                let x = match &sp {
                    Some(p) => p.get()?,
                    None => y.clone(),
                };
                super::unary::unary_backward(op, &g[0], &x, || Ok(y.clone()))?
            }
        };
        let ga = if needs[0] {
            Some(bmm_core(&gp, &transpose(&kb.get()?, 0, 1)?)?)
        } else {
            None
        };
        let gb = if needs[1] {
            Some(bmm_core(&transpose(&ka.get()?, 0, 1)?, &gp)?)
        } else {
            None
        };
        let mut grads = vec![ga, gb];
        if let Some((shape, dtype)) = &bias_like {
            grads.push(if needs[2] {
                Some(super::reduce_grad(&gp, shape, *dtype)?)
            } else {
                None
            });
        }
        Ok(grads)
    });
    Ok(out)
}
