//! Rust errors become the Python exception PyTorch raises for the same mistake.

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::{PyErr, PyResult};

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e.kind {
            ErrorKind::Runtime | ErrorKind::OutOfMemory => PyRuntimeError::new_err(e.msg),
            ErrorKind::Index => PyIndexError::new_err(e.msg),
            ErrorKind::Type => PyTypeError::new_err(e.msg),
            ErrorKind::Value => PyValueError::new_err(e.msg),
            ErrorKind::Python => take_python_error(e.msg),
            ErrorKind::NotImplemented => pyo3::exceptions::PyNotImplementedError::new_err(e.msg),
        }
    }
}

thread_local! {
    /// A Python exception raised inside a hook, parked while it travels through Rust frames.
    static PENDING: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Park a Python exception so it can cross Rust code as an `Error` and come back out unchanged.
pub fn park(err: PyErr) -> Error {
    let msg = err.to_string();
    PENDING.with(|p| *p.borrow_mut() = Some(err));
    Error {
        kind: ErrorKind::Python,
        msg,
    }
}

fn take_python_error(msg: String) -> PyErr {
    PENDING
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| PyRuntimeError::new_err(msg))
}

/// The last line of defence: run a binding's body and turn a Rust panic into a `RuntimeError`
/// naming the function, so no `PanicException` (a `BaseException` that escapes
/// `except Exception`) ever reaches Python. Panics are bugs; this keeps them catchable.
pub fn guard<T>(name: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            // A device check that fired as a panic (`Storage::cpu_ptr` on device memory) carries
            // the error to raise.
            if let Some(e) = payload.downcast_ref::<Error>() {
                return Err(e.clone().into());
            }
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(PyRuntimeError::new_err(format!(
                "{name}: internal error: {what} (this is a rustgrad bug; please report it)"
            )))
        }
    }
}
