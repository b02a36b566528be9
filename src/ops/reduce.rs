//! Reductions over dims: what each means (dims, output shape and dtype, errors) and its backward
//! rule. The kernels behind `crate::kernels` move the reduced dims last (a view) and reduce each
//! run of the reduced extent, on the CPU or the wgpu device.

use super::{expand, materialize, reshape};
use crate::autograd::record;
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::{numel, wrap_dims, Shape};
use crate::tensor::Tensor;

/// Normalise a dim list: empty means all dims (PyTorch's `dim=None`).
pub fn reduce_dims(dims: Option<&[i64]>, ndim: usize) -> Result<Vec<usize>> {
    match dims {
        // PyTorch treats an empty dim list like `dim=None` (sum(x, dim=[]) sums everything).
        None => Ok((0..ndim).collect()),
        Some([]) => Ok((0..ndim).collect()),
        Some(d) => {
            let mut v = wrap_dims(d, ndim)?;
            if ndim == 0 {
                v.clear();
            }
            v.sort_unstable();
            Ok(v)
        }
    }
}

/// Output shape of a reduction.
pub fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Shape {
    let mut out = Shape::new();
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

/// A contiguous tensor whose rows (last `r` elements each) are the runs to reduce, its row count
/// and run length.
pub(crate) fn rows_for(x: &Tensor, dims: &[usize], dtype: DType) -> Result<(Tensor, usize, usize)> {
    let nd = x.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    perm.extend_from_slice(dims);
    let l = x.layout().permute(&perm);
    let r: usize = dims.iter().map(|&d| x.size(d)).product();
    let rows = l
        .numel()
        .checked_div(r)
        .unwrap_or_else(|| numel(&reduced_shape(&x.shape(), dims, false)));
    let v = x.with_layout(l);
    let c = if v.is_contiguous() && v.dtype() == dtype {
        v
    } else {
        materialize(&v, dtype)?
    };
    Ok((c, rows, r))
}

/// Accumulating dtype of `sum`: integers and bool sum to int64, as in PyTorch.
pub(crate) fn sum_dtype(d: DType) -> DType {
    if d.is_float() {
        d
    } else {
        DType::I64
    }
}

/// `sum(x, dim, keepdim)` without autograd.
pub(crate) fn sum_kernel(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    crate::kernels::sum(x, dims, keepdim)
}

/// `torch.sum(x, dim=None, keepdim=False)`. The node is SumBackward0 without dims and
/// SumBackward1 with them, as in PyTorch.
pub fn sum(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    let out = sum_kernel(x, &d, keepdim)?;
    let in_shape = x.shape();
    let name = if dims.is_none() {
        "SumBackward0"
    } else {
        "SumBackward1"
    };
    record(name, &[x], &[&out], false, move |g, _| {
        Ok(vec![Some(expand_back(&g[0], &in_shape, &d, keepdim)?)])
    });
    Ok(out)
}

/// Broadcast a reduced gradient back over the reduced dims.
pub fn expand_back(
    g: &Tensor,
    in_shape: &[usize],
    dims: &[usize],
    keepdim: bool,
) -> Result<Tensor> {
    let kept = reduced_shape(in_shape, dims, true);
    let g = if keepdim {
        g.clone()
    } else {
        reshape(g, &kept.iter().map(|&v| v as i64).collect::<Vec<_>>())?
    };
    expand(&g, in_shape)
}

/// `torch.mean`.
pub fn mean(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(crate::error::Error::not_implemented(format!(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
            match x.dtype() {
                DType::I64 => "Long",
                DType::I32 => "Int",
                DType::U8 => "Byte",
                DType::Bool => "Bool",
                _ => "Unknown",
            }
        )));
    }
    let d = reduce_dims(dims, x.ndim())?;
    let count: usize = d.iter().map(|&i| x.size(i)).product();
    let m = {
        let _g = crate::autograd::GradModeGuard::new(false);
        let s = sum(x, dims, keepdim)?;
        super::binary_scalar(
            super::BinaryOp::Div,
            &s,
            super::Scalar::Float(count as f64),
            false,
        )?
    };
    // One node with PyTorch's name (MeanBackward0 for all elements, MeanBackward1 over dims).
    let name = if dims.is_none() {
        "MeanBackward0"
    } else {
        "MeanBackward1"
    };
    let in_shape = x.shape();
    record(name, &[x], &[&m], false, move |g, _| {
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        Ok(vec![Some(super::mul_scalar(&ge, 1.0 / count as f64)?)])
    });
    Ok(m)
}

/// Sum `g` down to `shape` (undoing broadcasting): the one place broadcast gradients are reduced.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let gs = g.shape();
    if gs.as_slice() == shape {
        return Ok(g.clone());
    }
    let lead = gs.len() - shape.len();
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && gs[lead + i] != 1 {
            dims.push((lead + i) as i64);
        }
    }
    let s = if dims.is_empty() {
        g.clone()
    } else {
        sum(g, Some(&dims), true)?
    };
    reshape(&s, &shape.iter().map(|&v| v as i64).collect::<Vec<_>>())
}

/// PyTorch's short dtype names used in kernel error messages ("Float", "Long" ...).
pub fn torch_dtype_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

/// `torch.prod(x, dim=None, keepdim=False)`; integer and bool inputs give int64. The backward is
/// exact with zeros in the input: each element gets the product of the others in its run.
pub fn prod(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    let out = crate::kernels::prod(x, &d, keepdim)?;
    let (sx, in_shape) = (crate::autograd::SavedTensor::new(x), x.shape());
    let name = if dims.is_none() {
        "ProdBackward0"
    } else {
        "ProdBackward1"
    };
    record(name, &[x], &[&out], true, move |g, _| {
        let others = crate::kernels::prod_others(&sx.get()?.detach(), &d)?;
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        Ok(vec![Some(super::mul(&ge, &others)?)])
    });
    Ok(out)
}

/// `torch.amax`/`torch.amin` over `dims` (all dims when `None`). Ties share the gradient evenly.
/// `name` is the op named in errors and nodes ("amax", "amin", "max", "min").
pub fn amax_amin(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    want_max: bool,
    name: &str,
) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    if x.numel() == 0 && (dims.is_none() || d.iter().any(|&i| x.size(i) == 0)) {
        let msg = if dims.is_none() && (name == "max" || name == "min") {
            format!("{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.", name)
        } else {
            format!(
                "{}(): Expected reduction dim {} to have non-zero size.",
                name,
                d.iter().find(|&&i| x.size(i) == 0).copied().unwrap_or(0)
            )
        };
        return Err(crate::error::Error::runtime(msg));
    }
    let out = crate::kernels::amax(x, &d, keepdim, want_max)?;
    let node = match (name, want_max) {
        ("max", _) => "MaxBackward1",
        ("min", _) => "MinBackward1",
        (_, true) => "AmaxBackward0",
        _ => "AminBackward0",
    };
    let (sx, sy, in_shape) = (
        crate::autograd::SavedTensor::new(x),
        crate::autograd::SavedTensor::output(&out),
        x.shape(),
    );
    record(node, &[x], &[&out], true, move |g, _| {
        let (xs, ys) = (sx.get()?.detach(), sy.get()?);
        // Mask of the winning elements; the gradient is split evenly between ties.
        let ye = expand_back(&ys, &in_shape, &d, keepdim)?;
        let mask = super::to_dtype(&super::compare(super::CmpOp::Eq, &xs, &ye)?, xs.dtype())?;
        let dl: Vec<i64> = d.iter().map(|&v| v as i64).collect();
        let count = sum(&mask, Some(&dl), true)?;
        let ge = expand_back(&g[0], &in_shape, &d, keepdim)?;
        let share = super::div(&mask, &count)?;
        Ok(vec![Some(super::mul(&ge, &share)?)])
    });
    Ok(out)
}

/// Zeros with `n` entries along `dim` and `g` placed at `idx` (the gradient of a max/min along a
/// dim; the indices are distinct within a run). Differentiable in `g` (its backward gathers).
fn place_at_index(g: &Tensor, idx: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    let Some(out) = crate::kernels::place_at_index(g, idx, dim, n)? else {
        return super::scatter_add_dim(g, idx, dim, n);
    };
    let idx_saved = idx.detach();
    record("ScatterBackward0", &[g], &[&out], true, move |gg, _| {
        Ok(vec![Some(super::gather_dim(&gg[0], &idx_saved, dim)?)])
    });
    Ok(out)
}

/// `torch.max(x, dim, keepdim)` / `torch.min(...)`: (values, int64 indices of the first extreme).
/// The gradient goes to the returned index only.
pub fn max_min_dim(
    x: &Tensor,
    dim: i64,
    keepdim: bool,
    want_max: bool,
) -> Result<(Tensor, Tensor)> {
    let name = if want_max { "max" } else { "min" };
    let d = crate::shape::wrap_dim(dim, x.ndim())?;
    let dims: Vec<usize> = if x.ndim() == 0 { vec![] } else { vec![d] };
    if x.ndim() > 0 && x.size(d) == 0 {
        return Err(crate::error::Error::index(format!(
            "{}(): Expected reduction dim {} to have non-zero size.",
            name, d
        )));
    }
    let (vals, idx) = crate::kernels::max_min_dim(x, &dims, keepdim, want_max)?;
    if x.ndim() > 0 {
        let (saved, in_shape) = (idx.clone(), x.shape());
        let node = if want_max {
            "MaxBackward0"
        } else {
            "MinBackward0"
        };
        record(node, &[x], &[&vals], true, move |g, _| {
            let (gk, ik) = if keepdim {
                (g[0].clone(), saved.clone())
            } else {
                (
                    super::unsqueeze(&g[0], d as i64)?,
                    super::unsqueeze(&saved, d as i64)?,
                )
            };
            Ok(vec![Some(place_at_index(&gk, &ik, d, in_shape[d])?)])
        });
    } else {
        record(
            if want_max {
                "MaxBackward0"
            } else {
                "MinBackward0"
            },
            &[x],
            &[&vals],
            false,
            |g, _| Ok(vec![Some(g[0].clone())]),
        );
    }
    Ok((vals, idx))
}

/// `torch.var(x, dims, correction, keepdim)` for float tensors, one fused pass per run (mean,
/// then the sum of squared deviations, both accumulated in f64). Returns `(var, mean)`.
/// The gradient of var is `g * 2 (x - mean) / (N - correction)`; mean's is the usual one.
pub fn var_mean(
    x: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keepdim: bool,
) -> Result<(Tensor, Tensor)> {
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(crate::error::Error::not_implemented(
            "std and var only support floating point and complex dtypes",
        ));
    }
    let d = reduce_dims(dims, x.ndim())?;
    let r: usize = d.iter().map(|&i| x.size(i)).product();
    let denom = (r as f64 - correction).max(0.0);
    let (var, mean) = crate::kernels::var_mean(x, &d, correction, keepdim)?;
    let (sx, in_shape) = (crate::autograd::SavedTensor::new(x), x.shape());
    let dl: Vec<i64> = d.iter().map(|&i| i as i64).collect();
    record(
        "VarMeanBackward0",
        &[x],
        &[&var, &mean],
        true,
        move |g, _| {
            // Missing output gradients arrive as zeros, so both terms are always well-formed.
            let x = sx.get()?;
            let mu = super::mean(&x, Some(&dl), true)?;
            let dev = super::sub(&x, &mu)?;
            let gv = expand_back(&g[0], &in_shape, &d, keepdim)?;
            let tv = super::mul(&gv, &super::mul_scalar(&dev, 2.0 / denom)?)?;
            let gm = expand_back(&g[1], &in_shape, &d, keepdim)?;
            let tm = super::mul_scalar(&gm, 1.0 / r as f64)?;
            Ok(vec![Some(super::add(&tv, &tm)?)])
        },
    );
    Ok((var, mean))
}

/// `torch.all`/`torch.any` over `dims` (all dims when `None`): a bool tensor, true where every
/// (some) element is nonzero; NaN is nonzero. Empty runs give true (all) and false (any). Not
/// differentiable (the result is bool).
pub fn all_any(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, want_all: bool) -> Result<Tensor> {
    let d = reduce_dims(dims, x.ndim())?;
    crate::kernels::all_any(x, &d, keepdim, want_all)
}

/// `s ** (1/p)` of a non-negative reduction result `s` (the p-th power sum of a norm, or a
/// variance for a standard deviation), recorded as one node named `name`.
///
/// Its gradient `y / (p s)` is infinite where `s == 0`; PyTorch's norm and std backward rules
/// choose the subgradient 0 there (masking with `where`), so `x.norm()` at `x = 0` or `std()` of
/// a constant give zero gradients instead of `inf * 0 = NaN`. This op is that rule.
pub fn reduction_root(s: &Tensor, p: f64, name: &'static str) -> Result<Tensor> {
    if !s.dtype().is_float() {
        return Err(crate::error::Error::runtime(format!(
            "{name}: expected a floating point tensor"
        )));
    }
    let y = {
        let _g = crate::autograd::GradModeGuard::new(false);
        if p == 2.0 {
            super::sqrt(s)?
        } else {
            super::unary(super::UnaryOp::PowScalar(1.0 / p), s)?
        }
    };
    let (ss, sy) = (
        crate::autograd::SavedTensor::new(s),
        crate::autograd::SavedTensor::output(&y),
    );
    record(name, &[s], &[&y], true, move |g, _| {
        let (s, y) = (ss.get()?, sy.get()?);
        let zero = super::compare_scalar(super::CmpOp::Eq, &y, super::Scalar::Int(0))?;
        let d = super::div(&y, &super::mul_scalar(&s, p)?)?;
        let z = super::scalar_tensor(super::Scalar::Float(0.0), g[0].dtype())?;
        Ok(vec![Some(super::where_(
            &zero,
            &z,
            &super::mul(&g[0], &d)?,
        )?)])
    });
    Ok(y)
}
