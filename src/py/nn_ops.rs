//! Bindings for the nn family: matmul, linear, convolutions, pooling. PyTorch-signature wrappers live in
//! `python/rustgrad/_linalg.py` and `python/rustgrad/_nn_native.py`.

use super::tensor::{as_tensor, maybe_nogil, wrap};
use crate::ops;
use pyo3::prelude::*;

/// `matmul(a, b)`.
#[pyfunction]
fn _matmul(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_matmul", || {
        let (a, b) = (as_tensor(a)?, as_tensor(b)?);
        let n = a.numel().max(b.numel());
        wrap(py, maybe_nogil(py, n, || ops::matmul(&a, &b))?)
    })
}

/// `linear(x, weight, bias=None)`.
#[pyfunction]
#[pyo3(signature = (x, w, b=None))]
fn _linear(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    b: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_linear", || {
        let (x, w) = (as_tensor(x)?, as_tensor(w)?);
        let b = b.map(as_tensor).transpose()?;
        wrap(
            py,
            maybe_nogil(py, x.numel(), || ops::linear(&x, &w, b.as_ref()))?,
        )
    })
}

/// The activation named by the fused bindings ("none", "relu", "sigmoid", "tanh", "gelu",
/// "gelu_tanh", "silu").
fn fused_act(name: &str) -> crate::error::Result<Option<ops::UnaryOp>> {
    use ops::UnaryOp::*;
    Ok(Some(match name {
        "none" => return Ok(None),
        "relu" => Relu,
        "sigmoid" => Sigmoid,
        "tanh" => Tanh,
        "gelu" => Gelu,
        "gelu_tanh" => GeluTanh,
        "silu" => Silu,
        other => {
            return Err(crate::error::Error::value(format!(
                "unknown fused activation '{other}' (expected one of none, relu, sigmoid, tanh, \
                 gelu, gelu_tanh, silu)"
            )))
        }
    }))
}

/// `act(F.linear(x, w, b))`: one GEMM with the bias and activation in its epilogue on wgpu.
#[pyfunction]
#[pyo3(signature = (x, w, b, act))]
fn _linear_act(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    b: Option<&Bound<'_, PyAny>>,
    act: &str,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_linear_act", || {
        let (x, w) = (as_tensor(x)?, as_tensor(w)?);
        let b = b.map(as_tensor).transpose()?;
        let act = fused_act(act)?;
        wrap(
            py,
            maybe_nogil(py, x.numel(), || ops::linear_act(&x, &w, b.as_ref(), act))?,
        )
    })
}

/// `act(bias + a @ b)` for 2-D `a`, `b` (`torch.addmm` with beta = alpha = 1, then `act`).
#[pyfunction]
#[pyo3(signature = (bias, a, b, act))]
fn _addmm_act(
    py: Python<'_>,
    bias: Option<&Bound<'_, PyAny>>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    act: &str,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_addmm_act", || {
        let (a, b) = (as_tensor(a)?, as_tensor(b)?);
        let bias = bias.map(as_tensor).transpose()?;
        let act = fused_act(act)?;
        wrap(
            py,
            maybe_nogil(py, a.numel(), || ops::addmm_act(bias.as_ref(), &a, &b, act))?,
        )
    })
}

/// `conv2d(x, w, b, stride, padding(t, b, l, r), dilation, groups)` on 4-D input.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, w, b, stride, padding, dilation, groups, act="none"))]
fn _conv2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    b: Option<&Bound<'_, PyAny>>,
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
    act: &str,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_conv2d", || {
        let (x, w) = (as_tensor(x)?, as_tensor(w)?);
        let b = b.map(as_tensor).transpose()?;
        let act = fused_act(act)?;
        let r = maybe_nogil(py, x.numel(), || {
            ops::conv2d_act(&x, &w, b.as_ref(), stride, padding, dilation, groups, act)
        })?;
        wrap(py, r)
    })
}

/// `conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)` on 4-D input.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _conv_transpose2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    b: Option<&Bound<'_, PyAny>>,
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    groups: usize,
    dilation: [usize; 2],
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_conv_transpose2d", || {
        let (x, w) = (as_tensor(x)?, as_tensor(w)?);
        let b = b.map(as_tensor).transpose()?;
        let r = maybe_nogil(py, x.numel(), || {
            ops::conv_transpose2d(
                &x,
                &w,
                b.as_ref(),
                stride,
                padding,
                output_padding,
                groups,
                dilation,
            )
        })?;
        wrap(py, r)
    })
}

/// `max_pool2d(x, k, s, p, d, ceil_mode)` -> (values, indices).
#[pyfunction]
fn _max_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil_mode: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_max_pool2d", || {
        let x = as_tensor(x)?;
        let (v, i) = maybe_nogil(py, x.numel(), || ops::max_pool2d(&x, k, s, p, d, ceil_mode))?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

/// `avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _avg_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_avg_pool2d", || {
        let x = as_tensor(x)?;
        let r = maybe_nogil(py, x.numel(), || {
            ops::avg_pool2d(&x, k, s, p, ceil_mode, count_include_pad, divisor_override)
        })?;
        wrap(py, r)
    })
}

/// `adaptive_avg_pool2d(x, (oh, ow))`.
#[pyfunction]
fn _adaptive_avg_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: [usize; 2],
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_adaptive_avg_pool2d", || {
        let x = as_tensor(x)?;
        wrap(
            py,
            maybe_nogil(py, x.numel(), || ops::adaptive_avg_pool2d(&x, out))?,
        )
    })
}

/// `adaptive_max_pool2d(x, (oh, ow))` -> (values, indices).
#[pyfunction]
fn _adaptive_max_pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: [usize; 2],
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_adaptive_max_pool2d", || {
        let x = as_tensor(x)?;
        let (v, i) = maybe_nogil(py, x.numel(), || ops::adaptive_max_pool2d(&x, out))?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

/// `cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)` fused on the
/// wgpu device (class-index targets, C at dim 1); `None` where the fused kernels do not apply.
#[pyfunction]
#[pyo3(signature = (x, target, weight, ignore_index, reduction, label_smoothing))]
fn _cross_entropy_fused(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    reduction: &str,
    label_smoothing: f64,
) -> PyResult<Option<Py<PyAny>>> {
    crate::py::errors::guard("_cross_entropy_fused", || {
        let (x, t) = (as_tensor(x)?, as_tensor(target)?);
        let w = match weight {
            Some(w) if !w.is_none() => Some(as_tensor(w)?),
            _ => None,
        };
        let red = crate::ops::cross_entropy::Reduction::parse(reduction)?;
        let out = crate::ops::cross_entropy::cross_entropy_fused(
            &x,
            &t,
            w.as_ref(),
            ignore_index,
            red,
            label_smoothing,
        )?;
        out.map(|t| wrap(py, t)).transpose()
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_cross_entropy_fused, m)?)?;
    m.add_function(wrap_pyfunction!(_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(_linear, m)?)?;
    m.add_function(wrap_pyfunction!(_linear_act, m)?)?;
    m.add_function(wrap_pyfunction!(_addmm_act, m)?)?;
    m.add_function(wrap_pyfunction!(_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(_conv_transpose2d, m)?)?;
    Ok(())
}
