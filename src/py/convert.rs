//! Moving data between Python objects (numbers, nested sequences, NumPy arrays) and tensors.

use super::tensor::PyTensor;
use crate::dtype::{default_float, DType, Element};
use crate::ops::Scalar;
use crate::shape::Shape;
use crate::storage::Storage;
use crate::tensor::Tensor;
use numpy::npyffi::{self, PY_ARRAY_API};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple};
use std::sync::Arc;

/// A Python bool/int/float (or 0-d NumPy number) as a Scalar; None if it is not a number.
pub fn extract_scalar(ob: &Bound<'_, PyAny>) -> Option<Scalar> {
    if ob.is_instance_of::<PyBool>() {
        return ob.extract::<bool>().ok().map(Scalar::Bool);
    }
    if ob.is_instance_of::<PyInt>() {
        return ob.extract::<i64>().ok().map(Scalar::Int);
    }
    if ob.is_instance_of::<PyFloat>() {
        return ob.extract::<f64>().ok().map(Scalar::Float);
    }
    // NumPy scalars and other numbers.
    let py = ob.py();
    if let Ok(np) = py.import("numpy") {
        if let Ok(generic) = np.getattr("generic") {
            if ob.is_instance(&generic).unwrap_or(false) {
                let kind: String = ob
                    .getattr("dtype")
                    .ok()?
                    .getattr("kind")
                    .ok()?
                    .extract()
                    .ok()?;
                return match kind.as_str() {
                    "b" => ob.extract::<bool>().ok().map(Scalar::Bool),
                    "i" | "u" => ob
                        .call_method0("__int__")
                        .ok()?
                        .extract::<i64>()
                        .ok()
                        .map(Scalar::Int),
                    "f" => ob
                        .call_method0("__float__")
                        .ok()?
                        .extract::<f64>()
                        .ok()
                        .map(Scalar::Float),
                    _ => None,
                };
            }
        }
    }
    None
}

fn dtype_from_numpy(name: &str) -> Option<DType> {
    DType::from_name(name)
}

/// Read a NumPy array (any layout) into a fresh tensor, converting unsupported dtypes.
fn from_numpy_copy(arr: &Bound<'_, PyUntypedArray>, dtype: Option<DType>) -> PyResult<Tensor> {
    // `torch.tensor(ndarray)` always copies (only `as_tensor`/`from_numpy` share): one fresh
    // contiguous copy, converting the dtype on the way if asked.
    let shared = from_numpy_shared(arr, true)?;
    let dt = dtype.unwrap_or(shared.dtype());
    Ok(crate::ops::materialize(&shared, dt)?)
}

/// Wrap a NumPy array's memory in a tensor without copying (`torch.from_numpy`).
pub fn from_numpy_shared(arr: &Bound<'_, PyUntypedArray>, convert: bool) -> PyResult<Tensor> {
    let py = arr.py();
    let descr = arr.dtype();
    let name: String = descr.getattr("name")?.extract()?;
    let Some(dt) = dtype_from_numpy(&name) else {
        if convert {
            // float16, int16, uint32 ... go through NumPy's own cast.
            let target = match descr.kind() {
                b'f' => "float32",
                b'i' | b'u' => "int64",
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "can't convert np.ndarray of type numpy.{}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.",
                        name
                    )))
                }
            };
            let cast = arr.call_method1("astype", (target,))?;
            return from_numpy_shared(cast.cast::<PyUntypedArray>()?, false);
        }
        return Err(PyTypeError::new_err(format!(
            "can't convert np.ndarray of type numpy.{}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.",
            name
        )));
    };
    if !descr.is_native_byteorder().unwrap_or(true) {
        let swapped =
            arr.call_method1("astype", (descr.getattr("newbyteorder")?.call1(("=",))?,))?;
        return from_numpy_shared(swapped.cast::<PyUntypedArray>()?, convert);
    }
    if dt == DType::Bool && arr.len() > 0 {
        // Rust reads bool storage as `bool`, for which any byte other than 0 or 1 is undefined
        // behaviour; NumPy lets such bytes exist (np.frombuffer, views). Arrays holding them are
        // normalised into a fresh 0/1 copy instead of being shared.
        let bytes = arr.call_method1("view", ("u1",))?;
        let bad: bool = bytes
            .call_method1("__gt__", (1,))?
            .call_method0("any")?
            .extract()?;
        if bad {
            let fixed = bytes.call_method1("__ne__", (0,))?;
            return from_numpy_shared(fixed.cast::<PyUntypedArray>()?, convert);
        }
    }
    let item = dt.size() as isize;
    let shape: Shape = arr.shape().iter().copied().collect();
    let byte_strides = arr.strides();
    let neg_or_misaligned = byte_strides.iter().any(|&s| s < 0 || s % item != 0);
    if neg_or_misaligned {
        if !convert {
            return Err(PyValueError::new_err(
                "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
            ));
        }
        let c = arr.call_method0("copy")?;
        return from_numpy_shared(c.cast::<PyUntypedArray>()?, convert);
    }
    let strides: crate::shape::Strides = byte_strides.iter().map(|&s| s / item).collect();
    // SAFETY: PyArray_DATA of a live array; kept alive by the stored reference.
    let data = unsafe { (*arr.as_array_ptr()).data } as *mut u8;
    let layout = crate::layout::Layout {
        shape,
        strides,
        offset: 0,
    };
    let (_, span) = layout.storage_span()?;
    let keep: Py<PyAny> = arr.clone().into_any().unbind();
    // SAFETY: the array owns `span` elements from `data` and lives as long as `keep`.
    let storage = unsafe { Storage::from_external(dt, data, span, Box::new(keep)) };
    let _ = py;
    Ok(Tensor::from_parts(Arc::new(storage), layout))
}

/// Nested Python sequences of numbers: shape, and flat values with the widest kind seen.
struct Nested {
    shape: Vec<usize>,
    vals: Vec<Scalar>,
    tensors_seen: bool,
}

fn walk(ob: &Bound<'_, PyAny>, depth: usize, acc: &mut Nested) -> PyResult<()> {
    if let Some(s) = extract_scalar(ob) {
        if depth != acc.shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got a number)",
                acc.shape.get(depth).copied().unwrap_or(0),
                depth
            )));
        }
        acc.vals.push(s);
        return Ok(());
    }
    if let Ok(t) = ob.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.numel() == 1 && t.ndim() == 0 {
            acc.tensors_seen = true;
            let v = t.get_f64(0);
            acc.vals.push(if t.dtype().is_float() {
                Scalar::Float(v)
            } else if t.dtype() == DType::Bool {
                Scalar::Bool(v != 0.0)
            } else {
                Scalar::Int(v as i64)
            });
            return Ok(());
        }
        // A tensor inside a list: recurse through its rows.
        let lst = ob.call_method0("tolist")?;
        return walk(&lst, depth, acc);
    }
    if let Ok(a) = ob.cast::<PyUntypedArray>() {
        let lst = a.call_method0("tolist")?;
        return walk(&lst, depth, acc);
    }
    let seq = ob.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!(
            "Could not infer dtype of {}",
            ob.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    if ob.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err("new(): invalid data type 'str'"));
    }
    let n = seq.len()?;
    if depth == acc.shape.len() {
        if !acc.vals.is_empty() {
            return Err(PyValueError::new_err(format!(
                "expected a number at dim {} but got a sequence",
                depth
            )));
        }
        acc.shape.push(n);
    } else if acc.shape[depth] != n {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            acc.shape[depth], depth, n
        )));
    }
    for i in 0..n {
        walk(&seq.get_item(i)?, depth + 1, acc)?;
    }
    Ok(())
}

fn build<T: Element>(vals: &[Scalar], shape: &[usize]) -> PyResult<Tensor> {
    let v: Vec<T> = vals.iter().map(|s| s.cast::<T>()).collect();
    Ok(Tensor::from_vec(v, shape)?)
}

/// `torch.tensor(data, dtype=None)`: always copies.
pub fn tensor_from_data(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        let c = crate::ops::materialize(&t, dtype.unwrap_or(t.dtype()))?;
        return Ok(c);
    }
    if let Ok(a) = data.cast::<PyUntypedArray>() {
        return from_numpy_copy(a, dtype);
    }
    // A NumPy scalar keeps its own dtype (np.float64(1) -> float64), as in PyTorch.
    if let Ok(np) = data.py().import("numpy") {
        if data.is_instance(&np.getattr("generic")?)? {
            let arr = np.call_method1("asarray", (data,))?;
            if let Ok(a) = arr.cast::<PyUntypedArray>() {
                return from_numpy_copy(a, dtype);
            }
        }
    }
    if let Some(s) = extract_scalar(data) {
        let dt = dtype.unwrap_or(match s {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => default_float(),
        });
        return Ok(crate::ops::scalar_tensor(s, dt)?);
    }
    let mut acc = Nested {
        shape: vec![],
        vals: vec![],
        tensors_seen: false,
    };
    walk(data, 0, &mut acc)?;
    let _ = acc.tensors_seen;
    let inferred = if acc.vals.iter().any(|s| s.is_float()) {
        default_float()
    } else if acc.vals.iter().any(|s| matches!(s, Scalar::Int(_))) {
        DType::I64
    } else if acc.vals.is_empty() {
        default_float()
    } else {
        DType::Bool
    };
    let dt = dtype.unwrap_or(inferred);
    crate::with_dtype!(dt, T, build::<T>(&acc.vals, &acc.shape))
}

/// Keeps a tensor's storage alive while NumPy views it.
#[pyclass(frozen)]
pub struct StorageOwner {
    _s: Arc<Storage>,
}

/// A NumPy array viewing the tensor's memory (`Tensor.numpy()`).
pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    // A device tensor is downloaded (a sync point); the array views the host copy.
    let t = &crate::kernels::transfer::to_host(t)?;
    let d = t.data();
    let item = d.storage.dtype().size() as isize;
    let mut dims: Vec<npyffi::npy_intp> = d
        .layout
        .shape
        .iter()
        .map(|&v| v as npyffi::npy_intp)
        .collect();
    // A dim of size 0 or 1 may carry any stride (as_strided accepts 2**62); its byte stride is
    // never used, so give NumPy 0 instead of a product that could overflow. Longer dims are
    // bounded by the storage, so their byte strides fit.
    let mut strides: Vec<npyffi::npy_intp> = d
        .layout
        .shape
        .iter()
        .zip(d.layout.strides.iter())
        .map(|(&n, &s)| {
            if n <= 1 {
                0
            } else {
                (s * item) as npyffi::npy_intp
            }
        })
        .collect();
    let descr = np_descr(py, d.storage.dtype())?;
    let owner = Py::new(
        py,
        StorageOwner {
            _s: d.storage.clone(),
        },
    )?;
    // SAFETY: data pointer and strides describe memory kept alive by `owner`, which becomes the
    // array's base object.
    unsafe {
        let data = d.storage.cpu_ptr().offset(d.layout.offset as isize * item);
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            PY_ARRAY_API.get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            descr,
            dims.len() as std::os::raw::c_int,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            data as *mut std::os::raw::c_void,
            npyffi::NPY_ARRAY_WRITEABLE,
            std::ptr::null_mut(),
        );
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        PY_ARRAY_API.PyArray_SetBaseObject(py, ptr as *mut npyffi::PyArrayObject, owner.into_ptr());
        Ok(Bound::from_owned_ptr(py, ptr))
    }
}

/// The NumPy dtype of a tensor dtype. bfloat16 has none: PyTorch's TypeError.
fn np_descr(py: Python<'_>, dtype: DType) -> PyResult<*mut npyffi::PyArray_Descr> {
    use numpy::PyArrayDescr;
    let d: Bound<'_, PyArrayDescr> = match dtype {
        DType::Bool => numpy::dtype::<bool>(py),
        DType::U8 => numpy::dtype::<u8>(py),
        DType::I8 => numpy::dtype::<i8>(py),
        DType::I16 => numpy::dtype::<i16>(py),
        DType::F16 => PyArrayDescr::new(py, "float16")?,
        DType::BF16 => return Err(PyTypeError::new_err("Got unsupported ScalarType BFloat16")),
        DType::I32 => numpy::dtype::<i32>(py),
        DType::I64 => numpy::dtype::<i64>(py),
        DType::F32 => numpy::dtype::<f32>(py),
        DType::F64 => numpy::dtype::<f64>(py),
    };
    Ok(d.into_dtype_ptr())
}

/// Python value of one element (`item()`, `tolist()`).
pub fn element_to_py(py: Python<'_>, t: &Tensor, flat: usize) -> PyResult<Py<PyAny>> {
    let host = crate::kernels::transfer::to_host(t)?;
    let t = &host;
    let v = t.get_f64(flat);
    Ok(match t.dtype() {
        DType::Bool => PyBool::new(py, v != 0.0).to_owned().into_any().unbind(),
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => {
            PyFloat::new(py, v).into_any().unbind()
        }
        DType::I64 => {
            // Read exactly: f64 loses precision past 2^53.
            let d = t.data();
            let off = flat_offset(&d.layout, flat);
            // SAFETY: offset inside the layout.
            let x = unsafe { *(d.storage.cpu_ptr() as *const i64).offset(off) };
            x.into_pyobject(py)?.into_any().unbind()
        }
        _ => (v as i64).into_pyobject(py)?.into_any().unbind(),
    })
}

fn flat_offset(l: &crate::layout::Layout, flat: usize) -> isize {
    let mut off = l.offset as isize;
    let mut rem = flat;
    for i in (0..l.ndim()).rev() {
        off += (rem % l.shape[i]) as isize * l.strides[i];
        rem /= l.shape[i];
    }
    off
}

/// `tolist()`: nested lists of Python numbers.
pub fn to_list(py: Python<'_>, t: &Tensor) -> PyResult<Py<PyAny>> {
    let c = crate::ops::contiguous(&crate::kernels::transfer::to_host(&t.detach())?)?;
    let shape = c.shape();
    if shape.is_empty() {
        return element_to_py(py, &c, 0);
    }
    fn rec(
        py: Python<'_>,
        c: &Tensor,
        shape: &[usize],
        base: usize,
        stride: usize,
    ) -> PyResult<Py<PyAny>> {
        let n = shape[0];
        let inner = stride / n.max(1);
        let items: Vec<Py<PyAny>> = if shape.len() == 1 {
            (0..n)
                .map(|i| element_to_py(py, c, base + i))
                .collect::<PyResult<_>>()?
        } else {
            (0..n)
                .map(|i| rec(py, c, &shape[1..], base + i * inner, inner))
                .collect::<PyResult<_>>()?
        };
        Ok(PyList::new(py, items)?.into_any().unbind())
    }
    rec(py, &c, &shape, 0, c.numel())
}

/// Parse sizes given as `f(2, 3)`, `f((2, 3))` or `f([2, 3])`.
pub fn extract_sizes(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if a.is_instance_of::<PyInt>() {
            return Ok(vec![a.extract()?]);
        }
        if let Ok(seq) = a.cast::<PySequence>() {
            return (0..seq.len()?)
                .map(|i| seq.get_item(i)?.extract::<i64>())
                .collect();
        }
    }
    args.iter().map(|a| a.extract::<i64>()).collect()
}

/// Sizes as usize, rejecting negatives with PyTorch's message.
pub fn to_shape(sizes: &[i64]) -> PyResult<Vec<usize>> {
    sizes
        .iter()
        .map(|&s| {
            if s < 0 {
                Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                    "Trying to create tensor with negative dimension {}: {:?}",
                    s, sizes
                )))
            } else {
                Ok(s as usize)
            }
        })
        .collect()
}
