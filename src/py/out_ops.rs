//! Bindings of the `out=` entry points (`ops::out`). Each returns `None` once `out` holds the
//! result, or the shape `out` must be resized to first: the Python layer resizes it (with
//! PyTorch's warning when it held elements) and calls again.

use super::functions::{binary_op, unary_op};
use super::tensor::{as_tensor, maybe_nogil, operand, Operand, PyTensor};
use crate::ops;
use crate::shape::Shape;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

fn status(py: Python<'_>, r: Option<Shape>) -> PyResult<Py<PyAny>> {
    Ok(match r {
        None => py.None(),
        Some(s) => pyo3::types::PyList::new(py, s.iter().copied())?
            .into_any()
            .unbind(),
    })
}

/// `_binary_out(name, op, a, b, out)`: `torch.<name>(a, b, out=out)` for arithmetic `op`.
#[pyfunction]
fn _binary_out(
    py: Python<'_>,
    name: &str,
    op: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    out: &Bound<'_, PyTensor>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_binary_out", || {
        let bop = binary_op(op)?;
        let o = out.borrow().t.clone();
        let n = o.numel();
        let r = match (operand(a)?, operand(b)?) {
            (Some(Operand::T(x)), Some(Operand::T(y))) => {
                maybe_nogil(py, n, || ops::binary_out(name, bop, &x, &y, &o))?
            }
            (Some(Operand::T(x)), Some(Operand::S(s))) => maybe_nogil(py, n, || {
                ops::binary_scalar_out(name, bop, &x, s, false, &o)
            })?,
            (Some(Operand::S(s)), Some(Operand::T(y))) => {
                maybe_nogil(py, n, || ops::binary_scalar_out(name, bop, &y, s, true, &o))?
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{}(): argument 'input' (position 1) must be Tensor, not {}",
                    name,
                    a.get_type().name()?
                )))
            }
        };
        status(py, r)
    })
}

/// `_unary_out(name, x, out, p0=None, p1=None)`: `torch.<name>(x, out=out)`.
#[pyfunction]
#[pyo3(signature = (name, x, out, p0=None, p1=None))]
fn _unary_out(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyTensor>,
    p0: Option<f64>,
    p1: Option<f64>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_unary_out", || {
        let op = unary_op(name, p0, p1)?;
        let t = as_tensor(x)?;
        let o = out.borrow().t.clone();
        let r = maybe_nogil(py, o.numel(), || ops::unary_out(name, op, &t, &o))?;
        status(py, r)
    })
}

/// `_mm_out(name, a, b, out)`: `torch.mm(a, b, out=out)` for two matrices.
#[pyfunction]
fn _mm_out(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    out: &Bound<'_, PyTensor>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_mm_out", || {
        let (x, y) = (as_tensor(a)?, as_tensor(b)?);
        let o = out.borrow().t.clone();
        let n = x.numel().max(y.numel()).max(o.numel());
        let r = maybe_nogil(py, n, || ops::mm_out(name, &x, &y, &o))?;
        status(py, r)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_binary_out, m)?)?;
    m.add_function(wrap_pyfunction!(_unary_out, m)?)?;
    m.add_function(wrap_pyfunction!(_mm_out, m)?)?;
    Ok(())
}
