//! Matrix products (`matmul` and its special cases, `linear`): shape rules, PyTorch's error
//! messages and the backward rule. The products themselves run in `cpu::matmul` (blocked GEMM
//! over the operands' own strides) or on the device.

use super::{add, expand, reshape, squeeze, transpose, unsqueeze};
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
/// the rows of a single GEMM and the transpose taken as a stride swap.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    if w.ndim() != 2 && w.ndim() != 1 {
        return Err(Error::runtime(format!(
            "linear(): weight must be 1-D or 2-D, got {}-D",
            w.ndim()
        )));
    }
    let wt = if w.ndim() == 2 {
        transpose(w, 0, 1)?
    } else {
        w.clone()
    };
    let y = matmul(x, &wt)?;
    match bias {
        Some(b) => add(&y, b),
        None => Ok(y),
    }
}
