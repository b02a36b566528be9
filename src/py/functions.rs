//! Module-level functions: creation, conversion and generic op entry points that the Python
//! layer wraps with PyTorch's signatures.

use super::convert::{from_numpy_shared, tensor_from_data, to_shape};
use super::dtype::extract_dtype;
use super::tensor::{as_tensor, maybe_nogil, operand, wrap, Operand, PyTensor};
use crate::dtype::{default_float, DType};
use crate::ops::{self, BinaryOp, BitOp, CmpOp, LogicOp, Scalar, UnaryOp};
use numpy::PyUntypedArray;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

fn opt_dtype(d: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match d {
        Some(d) if !d.is_none() => Ok(Some(extract_dtype(d)?)),
        _ => Ok(None),
    }
}

#[pyfunction]
#[pyo3(signature = (data, dtype=None))]
fn tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("tensor", || {
        wrap(py, tensor_from_data(data, opt_dtype(dtype)?)?)
    })
}

#[pyfunction]
fn from_numpy(py: Python<'_>, arr: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("from_numpy", || {
        let tname = arr.get_type().name()?.to_string();
        let a = arr
            .cast::<PyUntypedArray>()
            .map_err(|_| PyTypeError::new_err(format!("expected np.ndarray (got {})", tname)))?;
        wrap(py, from_numpy_shared(a, false)?)
    })
}

/// `full(shape, value, dtype)`; `dtype=None` infers from the value like PyTorch.
#[pyfunction]
#[pyo3(signature = (shape, value, dtype=None, device=None))]
fn _full(
    py: Python<'_>,
    shape: Vec<i64>,
    value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_full", || {
        let s = super::convert::extract_scalar(value)
            .ok_or_else(|| PyTypeError::new_err("full(): fill_value must be a number"))?;
        let dt = opt_dtype(dtype)?.unwrap_or(match s {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => default_float(),
        });
        let shape = to_shape(&shape)?;
        if let Some(t) = device_full(&shape, s, dt, device)? {
            return wrap(py, t);
        }
        wrap(
            py,
            // (saturating: a size that overflows is refused by `full` itself)
            maybe_nogil(
                py,
                shape.iter().fold(1usize, |a, &d| a.saturating_mul(d)),
                || ops::full(&shape, s, dt),
            )?,
        )
    })
}

#[pyfunction]
#[pyo3(signature = (shape, dtype=None))]
fn _empty(
    py: Python<'_>,
    shape: Vec<i64>,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_empty", || {
        let dt = opt_dtype(dtype)?.unwrap_or(default_float());
        wrap(py, crate::tensor::Tensor::empty(&to_shape(&shape)?, dt)?)
    })
}

/// `full` made on an accelerator `device` directly (one fill kernel, no host buffer, no upload);
/// `None` for the CPU.
fn device_full(
    shape: &[usize],
    value: Scalar,
    dtype: DType,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<crate::tensor::Tensor>> {
    let Some(d) = device else { return Ok(None) };
    let d = super::dtype::extract_device(d)?;
    if d.is_cpu() {
        return Ok(None);
    }
    value.check_fits(dtype)?;
    crate::shape::checked_numel(shape)?;
    let Some(t) = crate::kernels::zeros_on(shape, dtype, d)? else {
        return Ok(None);
    };
    // Zeros are the cleared buffer itself. Another value is one fill kernel; a tensor too large
    // for the adapter's storage-binding limit (which fill does not chunk yet) is filled on the
    // host and uploaded instead, as before device fills existed.
    let zero = matches!(value, Scalar::Int(0) | Scalar::Bool(false))
        || matches!(value, Scalar::Float(f) if f == 0.0 && f.is_sign_positive());
    if zero {
        return Ok(Some(t));
    }
    match crate::kernels::fill(&t, value) {
        Ok(_) => Ok(Some(t)),
        Err(e) if e.msg.contains("max_storage_buffer_binding_size") => {
            let host = ops::full(shape, value, dtype)?;
            Ok(Some(crate::kernels::transfer::to_device(&host, d)?))
        }
        Err(e) => Err(e.into()),
    }
}

#[pyfunction]
#[pyo3(signature = (shape, dtype=None, device=None))]
fn _zeros(
    py: Python<'_>,
    shape: Vec<i64>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_zeros", || {
        let dt = opt_dtype(dtype)?.unwrap_or(default_float());
        let shape = to_shape(&shape)?;
        if let Some(t) = device_full(&shape, Scalar::Int(0), dt, device)? {
            return wrap(py, t);
        }
        wrap(py, crate::tensor::Tensor::zeros(&shape, dt)?)
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, step, dtype=None))]
fn _arange(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    step: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_arange", || {
        let sc = |o: &Bound<'_, PyAny>| {
            super::convert::extract_scalar(o)
                .ok_or_else(|| PyTypeError::new_err("arange(): arguments must be numbers"))
        };
        let (a, b, s) = (sc(start)?, sc(end)?, sc(step)?);
        let inferred = if a.is_float() || b.is_float() || s.is_float() {
            default_float()
        } else {
            DType::I64
        };
        wrap(
            py,
            ops::arange(a, b, s, opt_dtype(dtype)?.unwrap_or(inferred))?,
        )
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, dtype=None))]
fn _linspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: i64,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_linspace", || {
        if steps < 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "number of steps must be non-negative",
            ));
        }
        wrap(
            py,
            ops::linspace(
                start,
                end,
                steps as usize,
                opt_dtype(dtype)?.unwrap_or(default_float()),
            )?,
        )
    })
}

#[pyfunction]
#[pyo3(signature = (n, m=None, dtype=None))]
fn _eye(
    py: Python<'_>,
    n: i64,
    m: Option<i64>,
    dtype: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_eye", || {
        let m = m.unwrap_or(n);
        if n < 0 || m < 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "n must be greater or equal to 0, got {}",
                n.min(m)
            )));
        }
        wrap(
            py,
            ops::eye(
                n as usize,
                m as usize,
                opt_dtype(dtype)?.unwrap_or(default_float()),
            )?,
        )
    })
}

/// Parse a unary op name (with its parameters).
pub(crate) fn unary_op(name: &str, p0: Option<f64>, p1: Option<f64>) -> PyResult<UnaryOp> {
    use UnaryOp::*;
    Ok(match name {
        "neg" | "negative" => Neg,
        "abs" | "absolute" => Abs,
        "exp" => Exp,
        "log" => Log,
        "log2" => Log2,
        "log10" => Log10,
        "log1p" => Log1p,
        "expm1" => Expm1,
        "sqrt" => Sqrt,
        "rsqrt" => Rsqrt,
        "sin" => Sin,
        "cos" => Cos,
        "tan" => Tan,
        "tanh" => Tanh,
        "sigmoid" => Sigmoid,
        "relu" => Relu,
        "gelu" => Gelu,
        "gelu_tanh" => GeluTanh,
        "silu" => Silu,
        "erf" => Erf,
        "floor" => Floor,
        "ceil" => Ceil,
        "round" => Round,
        "trunc" => Trunc,
        "reciprocal" => Reciprocal,
        "square" => Square,
        "sign" => Sign,
        "acos" | "arccos" => Acos,
        "asin" | "arcsin" => Asin,
        "atan" | "arctan" => Atan,
        "acosh" | "arccosh" => Acosh,
        "asinh" | "arcsinh" => Asinh,
        "atanh" | "arctanh" => Atanh,
        "sinh" => Sinh,
        "cosh" => Cosh,
        "exp2" => Exp2,
        "frac" => Frac,
        "leaky_relu" => LeakyRelu(p0.unwrap_or(0.01)),
        "elu" => Elu(p0.unwrap_or(1.0)),
        "softplus" => Softplus(p0.unwrap_or(1.0), p1.unwrap_or(20.0)),
        "clamp" => Clamp(p0.unwrap_or(f64::NEG_INFINITY), p1.unwrap_or(f64::INFINITY)),
        "pow" => PowScalar(p0.unwrap_or(1.0)),
        _ => return Err(PyValueError::new_err(format!("unknown unary op {}", name))),
    })
}

#[pyfunction]
#[pyo3(signature = (name, x, p0=None, p1=None))]
fn _unary(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    p0: Option<f64>,
    p1: Option<f64>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_unary", || {
        let t = as_tensor(x)?;
        let op = unary_op(name, p0, p1)?;
        wrap(py, maybe_nogil(py, t.numel(), || ops::unary(op, &t))?)
    })
}

/// In-place unary op (`relu_`, `clamp_`, `exp_` ...).
#[pyfunction]
#[pyo3(signature = (name, x, p0=None, p1=None))]
fn _unary_(
    name: &str,
    x: &Bound<'_, PyTensor>,
    p0: Option<f64>,
    p1: Option<f64>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_unary_", || {
        let t = x.borrow().t.clone();
        let op = unary_op(name, p0, p1)?;
        ops::check_inplace(&t)?;
        let r = ops::unary(op, &ops::inplace_source(&t, &[])?)?;
        if r.dtype() != t.dtype() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "result type {} can't be cast to the desired output type {}",
                ops::torch_dtype_name(r.dtype()),
                ops::torch_dtype_name(t.dtype())
            )));
        }
        ops::commit_inplace(&t, &r)?;
        Ok(x.clone().into_any().unbind())
    })
}

pub(crate) fn binary_op(name: &str) -> PyResult<BinaryOp> {
    Ok(match name {
        "add" => BinaryOp::Add,
        "sub" | "subtract" => BinaryOp::Sub,
        "mul" | "multiply" => BinaryOp::Mul,
        "div" | "true_divide" | "divide" => BinaryOp::Div,
        "floor_divide" => BinaryOp::FloorDiv,
        "remainder" => BinaryOp::Rem,
        "pow" => BinaryOp::Pow,
        "maximum" => BinaryOp::Maximum,
        "minimum" => BinaryOp::Minimum,
        "atan2" | "arctan2" => BinaryOp::Atan2,
        "hypot" => BinaryOp::Hypot,
        "copysign" => BinaryOp::Copysign,
        "logaddexp" => BinaryOp::Logaddexp,
        "logaddexp2" => BinaryOp::Logaddexp2,
        "xlogy" => BinaryOp::Xlogy,
        _ => return Err(PyValueError::new_err(format!("unknown binary op {}", name))),
    })
}

#[pyfunction]
fn _binary(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_binary", || {
        let op = binary_op(name)?;
        let r = match (operand(a)?, operand(b)?) {
            (Some(Operand::T(x)), Some(Operand::T(y))) => ops::binary(op, &x, &y)?,
            (Some(Operand::T(x)), Some(Operand::S(s))) => ops::binary_scalar(op, &x, s, false)?,
            (Some(Operand::S(s)), Some(Operand::T(y))) => ops::binary_scalar(op, &y, s, true)?,
            (Some(Operand::S(s)), Some(Operand::S(u))) => {
                let x = ops::scalar_like_python(s)?;
                ops::binary_scalar(op, &x, u, false)?
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{}(): expected Tensor or number arguments",
                    name
                )))
            }
        };
        wrap(py, r)
    })
}

/// `bitwise_and/or/xor/left_shift/right_shift(a, b)`; either side may be a Python number.
#[pyfunction]
fn _bitwise(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_bitwise", || {
        let op = match name {
            "and" => BitOp::And,
            "or" => BitOp::Or,
            "xor" => BitOp::Xor,
            "left_shift" => BitOp::Shl,
            "right_shift" => BitOp::Shr,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown bitwise op {}",
                    name
                )))
            }
        };
        let r = match (operand(a)?, operand(b)?) {
            (Some(Operand::T(x)), Some(Operand::T(y))) => ops::bitwise(op, &x, &y)?,
            (Some(Operand::T(x)), Some(Operand::S(s))) => ops::bitwise_scalar(op, &x, s, false)?,
            (Some(Operand::S(s)), Some(Operand::T(y))) => ops::bitwise_scalar(op, &y, s, true)?,
            (Some(Operand::S(s)), Some(Operand::S(u))) => {
                ops::bitwise_scalar(op, &ops::scalar_like_python(s)?, u, false)?
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "bitwise_{}(): expected Tensor or number arguments",
                    name
                )))
            }
        };
        wrap(py, r)
    })
}

/// `torch.bitwise_not(x)`.
#[pyfunction]
fn _bitwise_not(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_bitwise_not", || {
        wrap(py, ops::bitwise_not(&as_tensor(x)?)?)
    })
}

#[pyfunction]
fn _compare(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_compare", || {
        let op = match name {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown comparison {}",
                    name
                )))
            }
        };
        let x = as_tensor(a)?;
        let r = match operand(b)? {
            Some(Operand::T(y)) => ops::compare(op, &x, &y)?,
            Some(Operand::S(s)) => ops::compare_scalar(op, &x, s)?,
            None => {
                return Err(PyTypeError::new_err(format!(
                    "{}(): argument 'other' must be Tensor or Number",
                    name
                )))
            }
        };
        wrap(py, r)
    })
}

#[pyfunction]
fn _logical(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_logical", || {
        let op = match name {
            "and" => LogicOp::And,
            "or" => LogicOp::Or,
            "xor" => LogicOp::Xor,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown logical op {}",
                    name
                )))
            }
        };
        wrap(py, ops::logical(op, &as_tensor(a)?, &as_tensor(b)?)?)
    })
}

#[pyfunction]
fn _where(
    py: Python<'_>,
    cond: &Bound<'_, PyAny>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_where", || {
        let c = as_tensor(cond)?;
        // Python numbers take the other operand's dtype when it is a tensor (PyTorch's scalar rule).
        let (ta, tb) = match (operand(a)?, operand(b)?) {
            (Some(Operand::T(x)), Some(Operand::T(y))) => (x, y),
            (Some(Operand::T(x)), Some(Operand::S(s))) => {
                let dt = crate::dtype::result_type(&[ops_operand(&x), s.operand()]);
                (x, ops::scalar_tensor(s, dt)?)
            }
            (Some(Operand::S(s)), Some(Operand::T(y))) => {
                let dt = crate::dtype::result_type(&[ops_operand(&y), s.operand()]);
                (ops::scalar_tensor(s, dt)?, y)
            }
            (Some(Operand::S(s)), Some(Operand::S(u))) => {
                let dt = crate::dtype::result_type(&[s.operand(), u.operand()]);
                let dt = if dt == DType::F64 {
                    default_float()
                } else {
                    dt
                };
                (ops::scalar_tensor(s, dt)?, ops::scalar_tensor(u, dt)?)
            }
            _ => {
                return Err(PyTypeError::new_err(
                    "where(): expected Tensor or number arguments",
                ))
            }
        };
        wrap(py, ops::where_(&c, &ta, &tb)?)
    })
}

fn ops_operand(t: &crate::tensor::Tensor) -> crate::dtype::Operand {
    if t.ndim() == 0 {
        crate::dtype::Operand::ZeroDim(t.dtype())
    } else {
        crate::dtype::Operand::Tensor(t.dtype())
    }
}

#[pyfunction]
#[pyo3(signature = (x, size, stride, storage_offset=0))]
fn _as_strided(
    py: Python<'_>,
    x: &Bound<'_, PyTensor>,
    size: Vec<i64>,
    stride: Vec<isize>,
    storage_offset: i64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_as_strided", || {
        // Signed on the way in, as PyTorch's int64 arguments: negatives are RuntimeErrors with
        // PyTorch's messages, not OverflowErrors from the conversion.
        if size.iter().any(|&d| d < 0) {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Storage size calculation overflowed with sizes={:?} and strides={:?}",
                size, stride
            )));
        }
        if storage_offset < 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "Tensor: invalid storage offset {storage_offset}"
            )));
        }
        let size: Vec<usize> = size.iter().map(|&d| d as usize).collect();
        wrap(
            py,
            ops::as_strided(&x.borrow().t, &size, &stride, storage_offset as usize)?,
        )
    })
}

/// `Tensor.unfold(dimension, size, step)`: a view of sliding windows.
#[pyfunction]
fn _unfold(
    py: Python<'_>,
    x: &Bound<'_, PyTensor>,
    dimension: i64,
    size: i64,
    step: i64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("unfold", || {
        wrap(py, ops::unfold(&x.borrow().t, dimension, size, step)?)
    })
}

#[pyfunction]
fn _slice(
    py: Python<'_>,
    x: &Bound<'_, PyTensor>,
    dim: i64,
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("_slice", || {
        wrap(py, ops::slice(&x.borrow().t, dim, start, stop, step)?)
    })
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::cpu::threads::num_threads()
}

#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    crate::py::errors::guard("set_num_threads", || {
        if n <= 0 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "set_num_threads expects a positive integer",
            ));
        }
        crate::cpu::threads::set_num_threads(n as usize);
        Ok(())
    })
}

#[pyfunction]
fn _promote_types(
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    py: Python<'_>,
) -> PyResult<Py<super::dtype::PyDType>> {
    crate::py::errors::guard("_promote_types", || {
        Ok(super::dtype::dtype_object(
            py,
            DType::promote(extract_dtype(a)?, extract_dtype(b)?),
        ))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tensor, m)?)?;
    m.add_function(wrap_pyfunction!(from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(_full, m)?)?;
    m.add_function(wrap_pyfunction!(_empty, m)?)?;
    m.add_function(wrap_pyfunction!(_zeros, m)?)?;
    m.add_function(wrap_pyfunction!(_arange, m)?)?;
    m.add_function(wrap_pyfunction!(_linspace, m)?)?;
    m.add_function(wrap_pyfunction!(_eye, m)?)?;
    m.add_function(wrap_pyfunction!(_unary, m)?)?;
    m.add_function(wrap_pyfunction!(_unary_, m)?)?;
    m.add_function(wrap_pyfunction!(_binary, m)?)?;
    m.add_function(wrap_pyfunction!(_compare, m)?)?;
    m.add_function(wrap_pyfunction!(_logical, m)?)?;
    m.add_function(wrap_pyfunction!(_bitwise, m)?)?;
    m.add_function(wrap_pyfunction!(_unfold, m)?)?;
    m.add_function(wrap_pyfunction!(_bitwise_not, m)?)?;
    m.add_function(wrap_pyfunction!(_where, m)?)?;
    m.add_function(wrap_pyfunction!(_as_strided, m)?)?;
    m.add_function(wrap_pyfunction!(_slice, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(_promote_types, m)?)?;
    Ok(())
}
