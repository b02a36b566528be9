//! One error type for the whole crate. Each kind maps to the Python exception PyTorch raises for
//! the same mistake (see `py/errors.rs`).

use std::fmt;

/// Which Python exception an error becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Shape, dtype, device and autograd mistakes: `RuntimeError` in PyTorch.
    Runtime,
    /// Out-of-range indices and dims: `IndexError`.
    Index,
    /// Wrong argument types: `TypeError`.
    Type,
    /// Bad argument values: `ValueError`.
    Value,
    /// Allocation failures: `RuntimeError` in PyTorch too, but kept apart for clarity.
    OutOfMemory,
    /// An exception raised by user Python code (a hook) that must propagate as-is.
    Python,
    /// A dtype a kernel does not support ("... not implemented for 'Long'"): PyTorch raises
    /// `NotImplementedError` (a subclass of `RuntimeError`).
    NotImplemented,
}

/// The crate's error: a kind and a message that names the shapes, dims or dtypes involved.
#[derive(Clone, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub msg: String,
}

impl Error {
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Runtime,
            msg: msg.into(),
        }
    }
    pub fn index(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Index,
            msg: msg.into(),
        }
    }
    pub fn type_error(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Type,
            msg: msg.into(),
        }
    }
    pub fn value(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Value,
            msg: msg.into(),
        }
    }
    /// `NotImplementedError`: an op that has no kernel for the given dtype.
    pub fn not_implemented(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::NotImplemented,
            msg: msg.into(),
        }
    }
    pub fn oom(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::OutOfMemory,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(kind, fmt...)` returns early with an error of that kind.
#[macro_export]
macro_rules! bail {
    (runtime, $($t:tt)*) => { return Err($crate::error::Error::runtime(format!($($t)*))) };
    (index, $($t:tt)*) => { return Err($crate::error::Error::index(format!($($t)*))) };
    (type_error, $($t:tt)*) => { return Err($crate::error::Error::type_error(format!($($t)*))) };
    (value, $($t:tt)*) => { return Err($crate::error::Error::value(format!($($t)*))) };
}
