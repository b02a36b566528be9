//! Bindings for the reduce family: private `_C._name` primitives; the PyTorch-signature wrappers
//! live in `python/rustgrad/_reduce.py`.

use super::tensor::{as_tensor, maybe_nogil, wrap};
use crate::ops;
use pyo3::prelude::*;

/// `prod(x, dim=None, keepdim=False)`.
#[pyfunction]
#[pyo3(signature = (x, dim=None, keepdim=false))]
fn _prod(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: Option<i64>,
    keepdim: bool,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_prod", || {
        let t = as_tensor(x)?;
        let dims = dim.map(|d| vec![d]);
        wrap(
            py,
            maybe_nogil(py, t.numel(), || ops::prod(&t, dims.as_deref(), keepdim))?,
        )
    })
}

/// `amax/amin/max/min` values over several dims (`dims=None`: all). `name` is used in errors.
#[pyfunction]
#[pyo3(signature = (x, dims, keepdim, want_max, name))]
fn _amax(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dims: Option<Vec<i64>>,
    keepdim: bool,
    want_max: bool,
    name: &str,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_amax", || {
        let t = as_tensor(x)?;
        let r = maybe_nogil(py, t.numel(), || {
            ops::amax_amin(&t, dims.as_deref(), keepdim, want_max, name)
        })?;
        wrap(py, r)
    })
}

/// `max(x, dim, keepdim)` / `min(...)` -> (values, indices).
#[pyfunction]
fn _max_dim(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    keepdim: bool,
    want_max: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_max_dim", || {
        let t = as_tensor(x)?;
        let (v, i) = maybe_nogil(py, t.numel(), || {
            ops::max_min_dim(&t, dim, keepdim, want_max)
        })?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

/// `sort(x, dim, descending)` -> (values, indices); always stable.
#[pyfunction]
fn _sort(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    descending: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_sort", || {
        let t = as_tensor(x)?;
        let (v, i) = maybe_nogil(py, t.numel(), || ops::sort(&t, dim, descending))?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

/// `cumsum(x, dim)` (`prod=False`) or `cumprod(x, dim)`.
#[pyfunction]
fn _cumulative(py: Python<'_>, x: &Bound<'_, PyAny>, dim: i64, prod: bool) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_cumulative", || {
        let t = as_tensor(x)?;
        let r = maybe_nogil(py, t.numel(), || {
            if prod {
                ops::cumprod(&t, dim)
            } else {
                ops::cumsum(&t, dim)
            }
        })?;
        wrap(py, r)
    })
}

/// Fused `softmax(x, dim)` or `log_softmax(x, dim)`.
#[pyfunction]
fn _softmax(py: Python<'_>, x: &Bound<'_, PyAny>, dim: i64, log: bool) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_softmax", || {
        let t = as_tensor(x)?;
        let r = maybe_nogil(py, t.numel(), || {
            if log {
                ops::log_softmax(&t, dim)
            } else {
                ops::softmax(&t, dim)
            }
        })?;
        wrap(py, r)
    })
}

/// `gather` along `dim` for an index that matches `x` outside `dim` (gradient: scatter-add).
#[pyfunction]
fn _gather_dim(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    idx: &Bound<'_, PyAny>,
    dim: i64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_gather_dim", || {
        let t = as_tensor(x)?;
        let i = as_tensor(idx)?;
        let d = crate::shape::wrap_dim(dim, t.ndim())?;
        wrap(
            py,
            maybe_nogil(py, t.numel(), || ops::gather_dim(&t, &i, d))?,
        )
    })
}

/// `mode(x, dim, keepdim)` -> (values, indices).
#[pyfunction]
fn _mode(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    keepdim: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_mode", || {
        let t = as_tensor(x)?;
        let (v, i) = maybe_nogil(py, t.numel(), || ops::mode(&t, dim, keepdim))?;
        Ok((wrap(py, v)?, wrap(py, i)?))
    })
}

/// `var_mean(x, dims, correction, keepdim)` -> (var, mean), fused (floats only).
#[pyfunction]
fn _var_mean(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dims: Option<Vec<i64>>,
    correction: f64,
    keepdim: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    crate::py::errors::guard("_var_mean", || {
        let t = as_tensor(x)?;
        let (v, m) = maybe_nogil(py, t.numel(), || {
            ops::var_mean(&t, dims.as_deref(), correction, keepdim)
        })?;
        Ok((wrap(py, v)?, wrap(py, m)?))
    })
}

/// `all(x, dims, keepdim)` (`want_all`) or `any(...)` -> bool (`dims=None`: all dims).
#[pyfunction]
fn _all_any(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dims: Option<Vec<i64>>,
    keepdim: bool,
    want_all: bool,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_all_any", || {
        let t = as_tensor(x)?;
        let r = maybe_nogil(py, t.numel(), || {
            ops::all_any(&t, dims.as_deref(), keepdim, want_all)
        })?;
        wrap(py, r)
    })
}

/// `reduction_root(s, p, kind)`: `s ** (1/p)` with PyTorch's zero subgradient at `s == 0`;
/// `kind` ("std" or "norm") picks the grad_fn name.
#[pyfunction]
fn _reduction_root(s: &Bound<'_, PyAny>, p: f64, kind: &str) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_reduction_root", || {
        let name = match kind {
            "std" => "StdBackward0",
            _ => "LinalgVectorNormBackward0",
        };
        let t = as_tensor(s)?;
        wrap(s.py(), ops::reduction_root(&t, p, name)?)
    })
}

/// Register the reduce-family primitives on the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_prod, m)?)?;
    m.add_function(wrap_pyfunction!(_reduction_root, m)?)?;
    m.add_function(wrap_pyfunction!(_amax, m)?)?;
    m.add_function(wrap_pyfunction!(_max_dim, m)?)?;
    m.add_function(wrap_pyfunction!(_sort, m)?)?;
    m.add_function(wrap_pyfunction!(_cumulative, m)?)?;
    m.add_function(wrap_pyfunction!(_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(_gather_dim, m)?)?;
    m.add_function(wrap_pyfunction!(_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_var_mean, m)?)?;
    m.add_function(wrap_pyfunction!(_all_any, m)?)?;
    Ok(())
}
