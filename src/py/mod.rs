//! The `rustgrad._rustgrad` extension module. One file per domain; each has a `register`.

mod autograd;
mod config;
mod convert;
mod device_ops;
mod dtype;
mod errors;
mod functions;
mod gc;
mod index_ops;
mod nn_ops;
mod optim_ops;
mod out_ops;
mod random_ops;
mod reduce_ops;
mod tensor;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

static SIZE_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `rustgrad.Size` (tuple subclass) for a shape; plain tuple before the package sets the class.
pub(crate) fn make_size(py: Python<'_>, shape: &[usize]) -> PyResult<Py<PyAny>> {
    let tup = pyo3::types::PyTuple::new(py, shape.iter().copied())?;
    match SIZE_CLASS.get(py) {
        Some(cls) => Ok(cls.call1(py, (tup,))?),
        None => Ok(tup.into_any().unbind()),
    }
}

#[pyfunction]
fn _set_size_class(py: Python<'_>, cls: Py<PyAny>) {
    let _ = SIZE_CLASS.set(py, cls);
}

#[pymodule]
fn _rustgrad(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tensor::PyTensor>()?;
    gc::init_dict_layout(m.py())?;
    m.add_class::<dtype::PyDType>()?;
    m.add_class::<dtype::PyDevice>()?;
    m.add_class::<convert::StorageOwner>()?;
    m.add_function(wrap_pyfunction!(_set_size_class, m)?)?;
    for d in crate::dtype::DType::ALL {
        m.add(d.name(), dtype::dtype_object(m.py(), d))?;
    }
    autograd::register(m)?;
    functions::register(m)?;
    reduce_ops::register(m)?;
    index_ops::register(m)?;
    nn_ops::register(m)?;
    optim_ops::register(m)?;
    random_ops::register(m)?;
    out_ops::register(m)?;
    device_ops::register(m)?;
    config::register(m)?;
    Ok(())
}
