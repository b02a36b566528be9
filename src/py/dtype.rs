//! `rustgrad.dtype` and `rustgrad.device` objects.

use crate::device::Device;
use crate::dtype::DType;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// A dtype object such as `rustgrad.float32`; one singleton per dtype.
#[pyclass(name = "dtype", module = "rustgrad", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub d: DType,
}

static DTYPES: PyOnceLock<Vec<Py<PyDType>>> = PyOnceLock::new();

/// The singleton Python object of a dtype.
pub fn dtype_object(py: Python<'_>, d: DType) -> Py<PyDType> {
    let all = DTYPES.get_or_init(py, || {
        DType::ALL
            .iter()
            .map(|&d| Py::new(py, PyDType { d }).expect("dtype object"))
            .collect()
    });
    all[DType::ALL
        .iter()
        .position(|&x| x == d)
        .expect("known dtype")]
    .clone_ref(py)
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("torch.{}", self.d.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.d.is_float()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.d, DType::Bool | DType::U8)
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.d.size()
    }
    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, (String,))> {
        crate::py::errors::guard("__reduce__", || {
            let f = py.import("rustgrad")?.getattr("_dtype_from_name")?;
            Ok((f.unbind(), (self.d.name().to_string(),)))
        })
    }
}

/// Accept a dtype object, a NumPy dtype / type, or a dtype name.
pub fn extract_dtype(ob: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = ob.cast::<PyDType>() {
        return Ok(d.get().d);
    }
    if let Ok(s) = ob.cast::<PyString>() {
        // to_cow, not to_str: the abi3 (limited) API before 3.10 has no borrowed UTF-8 view.
        let owned = s.to_cow()?;
        let s: &str = &owned;
        let s = s.strip_prefix("torch.").unwrap_or(s);
        if let Some(d) = DType::from_name(s) {
            return Ok(d);
        }
    }
    let py = ob.py();
    // Python builtins used as dtypes (PyTorch accepts float/int/bool in many places).
    let builtins = py.import("builtins")?;
    if ob.is(&builtins.getattr("float")?) {
        return Ok(DType::F64);
    }
    if ob.is(&builtins.getattr("int")?) {
        return Ok(DType::I64);
    }
    if ob.is(&builtins.getattr("bool")?) {
        return Ok(DType::Bool);
    }
    if let Ok(np) = py.import("numpy") {
        if let Ok(nd) = np.call_method1("dtype", (ob,)) {
            let name: String = nd.getattr("name")?.extract()?;
            if let Some(d) = DType::from_name(&name) {
                return Ok(d);
            }
        }
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "dtype must be a rustgrad.dtype (e.g. rustgrad.float32), got {}",
        ob.repr()?
    )))
}

/// `rustgrad.device("cpu")`.
#[pyclass(name = "device", module = "rustgrad", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub d: Device,
    pub index: Option<i64>,
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (kind, index=None))]
    fn new(kind: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<Self> {
        crate::py::errors::guard("new", || {
            if let Ok(d) = kind.cast::<PyDevice>() {
                return Ok(d.get().clone());
            }
            let s: String = kind.extract()?;
            let d = Device::parse(&s)?;
            let idx = index.or_else(|| s.split(':').nth(1).and_then(|i| i.parse().ok()));
            Ok(PyDevice { d, index: idx })
        })
    }
    #[getter(r#type)]
    fn kind(&self) -> String {
        self.d.to_string()
    }
    #[getter]
    fn index(&self) -> Option<i64> {
        self.index
    }
    fn __repr__(&self) -> String {
        match self.index {
            Some(i) => format!("device(type='{}', index={})", self.d, i),
            None => format!("device(type='{}')", self.d),
        }
    }
    fn __str__(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{}", self.d, i),
            None => self.d.to_string(),
        }
    }
}

/// Accept "cpu", "cpu:0" or a device object.
#[allow(dead_code)] // kept for bindings that take a device argument
pub fn extract_device(ob: &Bound<'_, PyAny>) -> PyResult<Device> {
    if let Ok(d) = ob.cast::<PyDevice>() {
        return Ok(d.get().d);
    }
    let s: String = ob.str()?.extract()?;
    Ok(Device::parse(&s)?)
}
