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

/// `conv2d(x, w, b, stride, padding(t, b, l, r), dilation, groups)` on 4-D input.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _conv2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    b: Option<&Bound<'_, PyAny>>,
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_conv2d", || {
        let (x, w) = (as_tensor(x)?, as_tensor(w)?);
        let b = b.map(as_tensor).transpose()?;
        let r = maybe_nogil(py, x.numel(), || {
            ops::conv2d(&x, &w, b.as_ref(), stride, padding, dilation, groups)
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(_linear, m)?)?;
    m.add_function(wrap_pyfunction!(_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(_conv_transpose2d, m)?)?;
    Ok(())
}
