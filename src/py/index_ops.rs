//! Bindings for the index/join family: private `_C._name` primitives; the PyTorch-signature
//! wrappers live in `python/rustgrad/_indexing.py` and `python/rustgrad/_shape.py`.

use super::tensor::{as_tensor, maybe_nogil, wrap};
use crate::error::Error;
use crate::ops;
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// `index_select(x, dim, index)`.
#[pyfunction]
fn _index_select(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    index: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_index_select", || {
        let (t, i) = (as_tensor(x)?, as_tensor(index)?);
        wrap(
            py,
            maybe_nogil(py, t.numel(), || ops::index_select(&t, dim, &i))?,
        )
    })
}

/// Out-of-place `index_add(x, dim, index, src, alpha)`.
#[pyfunction]
fn _index_add(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    index: &Bound<'_, PyAny>,
    src: &Bound<'_, PyAny>,
    alpha: f64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_index_add", || {
        let (t, i, s) = (as_tensor(x)?, as_tensor(index)?, as_tensor(src)?);
        wrap(
            py,
            maybe_nogil(py, t.numel(), || ops::index_add(&t, dim, &i, &s, alpha))?,
        )
    })
}

/// `gather(x, dim, index)`.
#[pyfunction]
fn _gather(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    index: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_gather", || {
        let (t, i) = (as_tensor(x)?, as_tensor(index)?);
        wrap(py, maybe_nogil(py, i.numel(), || ops::gather(&t, dim, &i))?)
    })
}

/// Out-of-place scatter; `reduce` is "none", "add" or "multiply"; `src` may be 0-d.
#[pyfunction]
fn _scatter(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    dim: i64,
    index: &Bound<'_, PyAny>,
    src: &Bound<'_, PyAny>,
    reduce: &str,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_scatter", || {
        let (t, i, s) = (as_tensor(x)?, as_tensor(index)?, as_tensor(src)?);
        let r = match reduce {
            "none" => ops::Reduce::None,
            "add" | "sum" => ops::Reduce::Add,
            "multiply" | "prod" => ops::Reduce::Mul,
            _ => {
                return Err(Error::runtime(format!(
                    "reduce argument must be either add or multiply, got {}",
                    reduce
                ))
                .into())
            }
        };
        wrap(
            py,
            maybe_nogil(py, i.numel(), || ops::scatter(&t, dim, &i, &s, r))?,
        )
    })
}

/// `cat(tensors, dim)`.
#[pyfunction]
fn _cat(py: Python<'_>, tensors: Vec<Bound<'_, PyAny>>, dim: i64) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_cat", || {
        let ts: Vec<Tensor> = tensors.iter().map(as_tensor).collect::<PyResult<_>>()?;
        let n: usize = ts.iter().map(|t| t.numel()).sum();
        wrap(py, maybe_nogil(py, n, || ops::cat(&ts, dim))?)
    })
}

/// Raw write of `values` at storage offsets of `t` (no autograd).
#[pyfunction]
fn _put_offsets_(
    t: &Bound<'_, PyAny>,
    offsets: &Bound<'_, PyAny>,
    values: &Bound<'_, PyAny>,
) -> PyResult<()> {
    crate::py::errors::guard("_put_offsets_", || {
        let (t, o, v) = (as_tensor(t)?, as_tensor(offsets)?, as_tensor(values)?);
        Ok(ops::put_offsets_(&t, &o, &v)?)
    })
}

/// Advanced indexing's linear index of `indices` (int64/int32, broadcast to `bshape`) over
/// indexed dims of `sizes` (named `dims` in errors); negatives count from the end.
#[pyfunction]
fn _fold_index(
    py: Python<'_>,
    indices: Vec<Bound<'_, PyAny>>,
    sizes: Vec<usize>,
    dims: Vec<usize>,
    bshape: Vec<usize>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_fold_index", || {
        let ts: Vec<Tensor> = indices.iter().map(as_tensor).collect::<PyResult<_>>()?;
        wrap(py, ops::fold_index(&ts, &sizes, &dims, &bshape)?)
    })
}

/// Write `result` into `t` and make `t` take over `result`'s autograd history.
#[pyfunction]
fn _commit_inplace(t: &Bound<'_, PyAny>, result: &Bound<'_, PyAny>) -> PyResult<()> {
    crate::py::errors::guard("_commit_inplace", || {
        let (t, r) = (as_tensor(t)?, as_tensor(result)?);
        Ok(ops::commit_inplace(&t, &r)?)
    })
}

/// Raise PyTorch's error if `t` cannot be written in place.
#[pyfunction]
fn _check_inplace(t: &Bound<'_, PyAny>) -> PyResult<()> {
    crate::py::errors::guard("_check_inplace", || Ok(ops::check_inplace(&as_tensor(t)?)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_index_select, m)?)?;
    m.add_function(wrap_pyfunction!(_index_add, m)?)?;
    m.add_function(wrap_pyfunction!(_gather, m)?)?;
    m.add_function(wrap_pyfunction!(_scatter, m)?)?;
    m.add_function(wrap_pyfunction!(_cat, m)?)?;
    m.add_function(wrap_pyfunction!(_put_offsets_, m)?)?;
    m.add_function(wrap_pyfunction!(_fold_index, m)?)?;
    m.add_function(wrap_pyfunction!(_commit_inplace, m)?)?;
    m.add_function(wrap_pyfunction!(_check_inplace, m)?)?;
    Ok(())
}
