//! The Python `Tensor` class: storage, autograd and the hot arithmetic paths live here in Rust;
//! the long tail of convenience methods is added in Python (`python/rustgrad/_tensor.py`).

use super::convert::{extract_scalar, extract_sizes, to_list, to_numpy, to_shape};
use super::dtype::{dtype_object, extract_dtype, PyDType, PyDevice};
use super::errors::park;
use crate::autograd;
use crate::dtype::DType;
use crate::ops::{self, BinaryOp, CmpOp, Scalar};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use pyo3::IntoPyObjectExt;
use pyo3::{PyTraverseError, PyVisit};
use std::sync::Arc;

#[pyclass(name = "Tensor", module = "rustgrad", subclass, dict, weakref)]
pub struct PyTensor {
    pub t: Tensor,
}

/// Wrap a Rust tensor in a new Python object.
pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTensor { t })?.into_any())
}

/// Run `f` without the GIL when the work is large enough for other Python threads to matter.
pub fn maybe_nogil<T: Send>(py: Python<'_>, numel: usize, f: impl FnOnce() -> T + Send) -> T {
    if numel >= 1 << 16 {
        py.detach(f)
    } else {
        f()
    }
}

/// Run a backward pass over the graph behind `roots` without the GIL when the graph is large
/// enough for parallel Python threads to gain; small graphs keep the GIL (see
/// `autograd::graph_is_large`).
pub fn maybe_nogil_graph<T: Send>(
    py: Python<'_>,
    roots: &[Tensor],
    f: impl FnOnce() -> T + Send,
) -> T {
    if autograd::graph_is_large(roots, 1 << 16) {
        py.detach(f)
    } else {
        f()
    }
}

/// The right-hand side of an arithmetic op: a tensor or a Python number.
pub enum Operand {
    T(Tensor),
    S(Scalar),
}

pub fn operand(ob: &Bound<'_, PyAny>) -> PyResult<Option<Operand>> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(Some(Operand::T(t.borrow().t.clone())));
    }
    if let Some(s) = extract_scalar(ob) {
        return Ok(Some(Operand::S(s)));
    }
    if ob.hasattr("__array_interface__")? || ob.is_instance_of::<pyo3::types::PyList>() {
        return Ok(Some(Operand::T(super::convert::tensor_from_data(
            ob, None,
        )?)));
    }
    Ok(None)
}

/// Accepts a tensor argument (or something `torch.tensor` would accept).
pub fn as_tensor(ob: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(t.borrow().t.clone());
    }
    super::convert::tensor_from_data(ob, None)
}

fn arith(
    py: Python<'_>,
    op: BinaryOp,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    let r = match operand(other)? {
        Some(Operand::T(b)) => {
            let n = a.numel().max(b.numel());
            maybe_nogil(py, n, || {
                if reverse {
                    ops::binary(op, &b, a)
                } else {
                    ops::binary(op, a, &b)
                }
            })?
        }
        Some(Operand::S(s)) => {
            maybe_nogil(py, a.numel(), || ops::binary_scalar(op, a, s, reverse))?
        }
        None => return Ok(py.NotImplemented()),
    };
    wrap(py, r)
}

fn cmp(py: Python<'_>, op: CmpOp, a: &Tensor, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let r = match operand(other)? {
        Some(Operand::T(b)) => ops::compare(op, a, &b)?,
        Some(Operand::S(s)) => ops::compare_scalar(op, a, s)?,
        None => return Ok(py.NotImplemented()),
    };
    wrap(py, r)
}

fn inplace(
    slf: &Bound<'_, PyTensor>,
    op: BinaryOp,
    other: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let a = slf.borrow().t.clone();
    match operand(other)? {
        Some(Operand::T(b)) => ops::binary_(op, &a, &b)?,
        Some(Operand::S(s)) => ops::binary_scalar_(op, &a, s)?,
        None => {
            return Err(PyTypeError::new_err(format!(
                "unsupported operand type {}",
                other.get_type().name()?
            )))
        }
    }
    Ok(slf.clone().into_any().unbind())
}

fn dims_arg(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match dim {
        None => Ok(None),
        Some(d) if d.is_none() => Ok(None),
        Some(d) => {
            if let Ok(i) = d.extract::<i64>() {
                Ok(Some(vec![i]))
            } else {
                Ok(Some(d.extract::<Vec<i64>>()?))
            }
        }
    }
}

/// `sum`/`mean`-style methods: parse `dim` (int, sequence or None) and an optional `dtype` to
/// convert to first, then reduce without the GIL when the input is large.
fn reduce_method(
    py: Python<'_>,
    t: &Tensor,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    dtype: Option<&Bound<'_, PyAny>>,
    f: fn(&Tensor, Option<&[i64]>, bool) -> crate::error::Result<Tensor>,
) -> PyResult<Py<PyAny>> {
    let dims = dims_arg(dim)?;
    let x = match dtype {
        Some(d) if !d.is_none() => ops::to_dtype(t, extract_dtype(d)?)?,
        _ => t.clone(),
    };
    let r = maybe_nogil(py, x.numel(), || f(&x, dims.as_deref(), keepdim))?;
    wrap(py, r)
}

#[pymethods]
impl PyTensor {
    /// Legacy constructor: `Tensor(2, 3)` (uninitialised float32), `Tensor([1, 2])` (data), or
    /// `Tensor(other)` (alias used by `Parameter.__new__`).
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        crate::py::errors::guard("py_new", || {
            if args.is_empty() {
                return Ok(PyTensor {
                    t: Tensor::empty(&[0], DType::F32)?,
                });
            }
            if args.len() == 1 {
                let a = args.get_item(0)?;
                if let Ok(t) = a.cast::<PyTensor>() {
                    return Ok(PyTensor {
                        t: t.borrow().t.detach(),
                    });
                }
                if !a.is_instance_of::<pyo3::types::PyInt>() {
                    let t = super::convert::tensor_from_data(&a, Some(DType::F32))?;
                    return Ok(PyTensor { t });
                }
            }
            let sizes = to_shape(&extract_sizes(args)?)?;
            Ok(PyTensor {
                t: Tensor::empty(&sizes, DType::F32)?,
            })
        })
    }

    // ---- metadata ----

    /// `Tensor.shape`: the size of each dimension, as a `rustgrad.Size`.
    #[getter]
    fn shape(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("shape", || super::make_size(py, &self.t.shape()))
    }

    /// `size(dim=None)`: the shape as a `rustgrad.Size`, or the size of one dim.
    #[pyo3(signature = (dim=None))]
    fn size(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("size", || match dim {
            None => super::make_size(py, &self.t.shape()),
            Some(d) => {
                let d = crate::shape::wrap_dim(d, self.t.ndim())?;
                if self.t.ndim() == 0 {
                    return Err(crate::error::Error::index(
                        "Dimension specified as 0 but tensor has no dimensions",
                    )
                    .into());
                }
                self.t.size(d).into_py_any(py)
            }
        })
    }

    /// `stride(dim=None)`: the step in elements between neighbours along each dim, or along one.
    #[pyo3(signature = (dim=None))]
    fn stride(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("stride", || {
            let s = self.t.strides();
            match dim {
                None => PyTuple::new(py, s.iter().copied())?.into_py_any(py),
                Some(d) => s[crate::shape::wrap_dim(d, self.t.ndim())?].into_py_any(py),
            }
        })
    }

    /// `storage_offset()`: the offset of the first element in the storage, in elements.
    fn storage_offset(&self) -> usize {
        self.t.layout().offset
    }

    /// `Tensor.dtype`: the element type.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyDType> {
        dtype_object(py, self.t.dtype())
    }

    /// `Tensor.device`: where the tensor's storage lives.
    #[getter]
    fn device(&self) -> PyDevice {
        let d = self.t.device();
        PyDevice {
            d,
            index: d.index(),
        }
    }

    /// `Tensor.is_cuda`: always False (rustgrad has no CUDA backend).
    #[getter]
    fn is_cuda(&self) -> bool {
        false
    }

    /// Whether the tensor lives on the wgpu device (like `Tensor.is_mps`).
    #[getter]
    fn is_wgpu(&self) -> bool {
        matches!(self.t.device(), crate::device::Device::Wgpu(_))
    }

    /// `Tensor.is_cpu`: whether the tensor is on the CPU.
    #[getter]
    fn is_cpu(&self) -> bool {
        self.t.device().is_cpu()
    }

    /// `to(device)` core: the tensor itself when already there, else a copy (differentiable).
    fn _to_device(slf: &Bound<'_, Self>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("to", || {
            let t = slf.borrow().t.clone();
            let d = super::dtype::extract_device(device)?;
            let r = crate::kernels::transfer::to_device(&t, d)?;
            if r.same(&t) {
                return Ok(slf.clone().into_any().unbind());
            }
            wrap(slf.py(), r)
        })
    }

    /// `Tensor.ndim`: the number of dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }

    /// `dim()`: the number of dimensions.
    fn dim(&self) -> usize {
        self.t.ndim()
    }

    /// `ndimension()`: the number of dimensions (alias of `dim()`).
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }

    /// `numel()`: the number of elements.
    fn numel(&self) -> usize {
        self.t.numel()
    }

    /// `nelement()`: the number of elements (alias of `numel()`).
    fn nelement(&self) -> usize {
        self.t.numel()
    }

    /// `element_size()`: bytes per element.
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }

    /// `is_contiguous(memory_format=...)`: whether the elements lie in row-major order without gaps.
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }

    /// `is_floating_point()`: whether the dtype is a float type.
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }

    /// `data_ptr()`: the address of the first element (for identity and sharing checks).
    fn data_ptr(&self) -> usize {
        let d = self.t.data();
        if !d.storage.is_cpu() {
            // No host address: the storage object's address stands in (stable and unique while
            // the storage lives), like a device pointer would.
            return Arc::as_ptr(&d.storage) as usize + d.layout.offset * d.storage.dtype().size();
        }
        d.storage.cpu_ptr() as usize + d.layout.offset * d.storage.dtype().size()
    }

    /// Elements in the whole underlying storage (not just this view), for serialization.
    fn _storage_numel(&self) -> usize {
        self.t.storage().len()
    }

    fn _storage_id(&self) -> usize {
        Arc::as_ptr(&self.t.storage()) as usize
    }

    fn _version_counter(&self) -> u64 {
        self.t.version()
    }

    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }

    fn __len__(&self) -> PyResult<usize> {
        crate::py::errors::guard("__len__", || {
            if self.t.ndim() == 0 {
                return Err(PyTypeError::new_err("len() of a 0-d tensor"));
            }
            Ok(self.t.size(0))
        })
    }

    /// Cyclic GC support: report Python objects this tensor alone owns through Rust (see
    /// `py/gc.rs`), and its instance `__dict__`.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        super::gc::traverse_dict(self, &visit)?;
        super::gc::traverse_tensor(&self.t, &visit)
    }

    fn __clear__(&mut self) {
        super::gc::clear_dict(self);
        super::gc::clear_tensor(&self.t);
    }

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    // ---- autograd ----

    /// `Tensor.requires_grad`: whether autograd records operations on this tensor.
    #[getter]
    fn requires_grad(&self) -> bool {
        self.t.requires_grad()
    }

    #[setter(requires_grad)]
    fn set_requires_grad_attr(&self, v: bool) -> PyResult<()> {
        crate::py::errors::guard("set_requires_grad_attr", || {
            Ok(self.t.set_requires_grad(v)?)
        })
    }

    /// `requires_grad_(requires_grad=True)`: set `requires_grad` in place; returns self.
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: &Bound<'_, Self>, requires_grad: bool) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("requires_grad_", || {
            slf.borrow().t.set_requires_grad(requires_grad)?;
            Ok(slf.clone().into_any().unbind())
        })
    }

    /// `Tensor.grad`: the gradient accumulated by `backward()`, or None.
    #[getter]
    fn grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        crate::py::errors::guard("grad", || self.t.grad().map(|g| wrap(py, g)).transpose())
    }

    #[setter(grad)]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        crate::py::errors::guard("set_grad", || {
            match g {
                None => self.t.set_grad(None),
                Some(g) if g.is_none() => self.t.set_grad(None),
                Some(g) => {
                    let g = g.cast::<PyTensor>().map_err(|_| {
                        PyTypeError::new_err("assigned grad expected to be a Tensor or None")
                    })?;
                    let g = g.borrow().t.clone();
                    if g.shape() != self.t.shape() {
                        return Err(PyRuntimeError::new_err(format!(
                            "assigned grad has data of a different size: {} vs {}",
                            crate::shape::fmt_shape(&g.shape()),
                            crate::shape::fmt_shape(&self.t.shape())
                        )));
                    }
                    self.t.set_grad(Some(g));
                }
            }
            Ok(())
        })
    }

    /// `Tensor.grad_fn`: the autograd node that made this tensor, or None for a leaf.
    #[getter]
    fn grad_fn(&self) -> Option<super::autograd::PyNode> {
        self.t
            .grad_fn()
            .map(|(node, nr)| super::autograd::PyNode { node, nr })
    }

    /// `Tensor.is_leaf`: True for tensors not produced by a recorded op.
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }

    /// `Tensor.retains_grad`: whether `retain_grad()` was called on this non-leaf tensor.
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }

    /// `retain_grad()`: keep `.grad` for this non-leaf tensor after `backward()`.
    fn retain_grad(&self) -> PyResult<()> {
        crate::py::errors::guard("retain_grad", || Ok(self.t.retain_grad()?))
    }

    /// `detach()`: the same memory, cut off from the autograd graph.
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("detach", || wrap(py, self.t.detach()))
    }

    /// `detach_()`: cut `self` off from the autograd graph in place.
    fn detach_(slf: &Bound<'_, Self>) -> Py<PyAny> {
        slf.borrow().t.detach_();
        slf.clone().into_any().unbind()
    }

    /// `.data`: the same memory, detached.
    #[getter]
    fn data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("data", || wrap(py, self.t.detach()))
    }

    #[setter(data)]
    fn set_data(&self, other: &Bound<'_, PyTensor>) -> PyResult<()> {
        crate::py::errors::guard("set_data", || {
            let o = other.borrow().t.data();
            self.t.set_data(o);
            Ok(())
        })
    }

    /// `backward(gradient=None, retain_graph=None, create_graph=False, inputs=None)`: accumulate the gradient of this tensor into the `.grad` of the leaves it depends on (`torch.Tensor.backward`).
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        crate::py::errors::guard("backward", || {
            let g = match gradient {
                Some(g) if !g.is_none() => Some(as_tensor(g)?),
                _ => None,
            };
            let retain = retain_graph.unwrap_or(create_graph);
            if let Some(inputs) = inputs {
                let ins = super::autograd::tensor_list(inputs)?;
                let grads = maybe_nogil_graph(py, std::slice::from_ref(&self.t), || {
                    autograd::grad(
                        std::slice::from_ref(&self.t),
                        vec![g],
                        &ins,
                        retain,
                        create_graph,
                        true,
                    )
                })?;
                for (t, g) in ins.iter().zip(grads) {
                    if let Some(g) = g {
                        let old = t.grad();
                        t.set_grad(Some(match old {
                            Some(o) => ops::add(&o, &g)?,
                            None => g,
                        }));
                    }
                }
                return Ok(());
            }
            let t = self.t.clone();
            let roots = [t];
            maybe_nogil_graph(py, &roots, || {
                autograd::backward(&roots, vec![g], retain, create_graph)
            })?;
            Ok(())
        })
    }

    /// `register_hook(fn)`: `fn(grad)` may return a replacement gradient.
    fn register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("register_hook", || {
            if !self.t.requires_grad() {
                return Err(PyRuntimeError::new_err(
                    "cannot register a hook on a tensor that doesn't require gradient",
                ));
            }
            let held = super::gc::PyHeld::new(hook);
            let in_closure = held.clone();
            let h: autograd::Hook = Arc::new(move |g: &Tensor| {
                Python::attach(|py| {
                    let Some(hook) = in_closure.get(py) else {
                        return Ok(None);
                    };
                    let r = hook
                        .call1(py, (wrap(py, g.clone()).map_err(park)?,))
                        .map_err(park)?;
                    if r.is_none(py) {
                        return Ok(None);
                    }
                    let t = r
                        .bind(py)
                        .cast::<PyTensor>()
                        .map_err(|e| park(e.into()))?
                        .borrow()
                        .t
                        .clone();
                    Ok(Some(t))
                })
            });
            let idx = {
                let mut m = self.t.meta();
                m.hooks.push(h);
                m.foreign.push(held);
                m.hooks.len() - 1
            };
            if let Some((node, nr)) = self.t.grad_fn() {
                node.watch_output(nr, &self.t);
            }
            let handle = super::autograd::HookHandle {
                t: self.t.clone(),
                idx: Some(idx),
                post: false,
            };
            Ok(Py::new(py, handle)?.into_any())
        })
    }

    /// `register_post_accumulate_grad_hook(fn)`: `fn(tensor)` runs after backward has
    /// accumulated into this leaf's `.grad` (PyTorch's hook of the same name; leaves only).
    fn register_post_accumulate_grad_hook(
        &self,
        py: Python<'_>,
        hook: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("register_post_accumulate_grad_hook", || {
            if !self.t.requires_grad() {
                return Err(PyRuntimeError::new_err(
                    "cannot register a hook on a tensor that doesn't require gradient",
                ));
            }
            if self.t.grad_fn().is_some() {
                return Err(PyRuntimeError::new_err(
                    "post accumulate grad hooks cannot be registered on non-leaf tensors",
                ));
            }
            let held = super::gc::PyHeld::new(hook);
            let in_closure = held.clone();
            let h: autograd::PostAccumulateHook = Arc::new(move |leaf: &Tensor| {
                Python::attach(|py| {
                    let Some(hook) = in_closure.get(py) else {
                        return Ok(());
                    };
                    hook.call1(py, (wrap(py, leaf.clone()).map_err(park)?,))
                        .map_err(park)?;
                    Ok(())
                })
            });
            let idx = {
                let mut m = self.t.meta();
                m.post_accumulate_hooks.push(h);
                m.foreign.push(held);
                m.post_accumulate_hooks.len() - 1
            };
            let handle = super::autograd::HookHandle {
                t: self.t.clone(),
                idx: Some(idx),
                post: true,
            };
            Ok(Py::new(py, handle)?.into_any())
        })
    }

    /// Move this tensor's whole storage into `arr` (a C-contiguous 1-d NumPy array of the
    /// storage's dtype and length, e.g. over shared memory) in place: every view of the storage
    /// sees the new memory. Backs `Tensor.share_memory_()`.
    fn _move_storage_to_numpy(&self, arr: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::py::errors::guard("share_memory_", || {
            let storage = self.t.storage();
            if !storage.is_cpu() {
                return Err(PyRuntimeError::new_err(
                    "share_memory_: only CPU storage can move into shared memory",
                ));
            }
            use numpy::PyUntypedArrayMethods;
            let arr = arr.cast::<numpy::PyUntypedArray>()?;
            let name: String = arr.dtype().getattr("name")?.extract()?;
            let ok_layout = arr.ndim() == 1
                && arr.is_c_contiguous()
                && arr.len() == storage.len()
                && crate::dtype::DType::from_name(&name) == Some(storage.dtype());
            if !ok_layout {
                return Err(PyValueError::new_err(format!(
                    "share_memory_: target must be a contiguous 1-d {} array of {} elements",
                    storage.dtype().name(),
                    storage.len()
                )));
            }
            // SAFETY: PyArray_DATA of a live, contiguous array of exactly the storage's length
            // and dtype, kept alive by the storage from now on.
            let data = unsafe { (*arr.as_array_ptr()).data } as *mut u8;
            let keep: Py<PyAny> = arr.clone().into_any().unbind();
            unsafe { storage.move_to_external(data, Box::new(keep)) };
            Ok(())
        })
    }

    // ---- conversion ----

    fn numpy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("numpy", || {
            if self.t.requires_grad() {
                return Err(PyRuntimeError::new_err(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
            ));
            }
            Ok(to_numpy(py, &self.t)?.unbind())
        })
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__(
        &self,
        py: Python<'_>,
        dtype: Option<&Bound<'_, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__array__", || {
            // np.asarray(t) follows .numpy(): a tensor that requires grad must be detached explicitly.
            if self.t.requires_grad() {
                return Err(PyRuntimeError::new_err(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
            ));
            }
            let a = to_numpy(py, &self.t)?;
            let a = match dtype {
                Some(d) if !d.is_none() => a.call_method1("astype", (d,))?,
                _ => a,
            };
            if copy == Some(true) {
                return Ok(a.call_method0("copy")?.unbind());
            }
            Ok(a.unbind())
        })
    }

    /// `tolist()`: the elements as (nested) Python lists of numbers.
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("tolist", || to_list(py, &self.t))
    }

    /// `item()`: the value of a one-element tensor as a Python number.
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("item", || {
            if self.t.numel() != 1 {
                return Err(PyRuntimeError::new_err(format!(
                    "a Tensor with {} elements cannot be converted to Scalar",
                    self.t.numel()
                )));
            }
            super::convert::element_to_py(py, &self.t, 0)
        })
    }

    fn __float__(&self) -> PyResult<f64> {
        crate::py::errors::guard("__float__", || {
            if self.t.numel() != 1 {
                return Err(PyValueError::new_err(
                    "only one element tensors can be converted to Python scalars",
                ));
            }
            Ok(self.t.get_f64(0))
        })
    }

    fn __int__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__int__", || {
            if self.t.numel() != 1 {
                return Err(PyValueError::new_err(
                    "only one element tensors can be converted to Python scalars",
                ));
            }
            if self.t.dtype().is_float() {
                // Python's int() of a float truncates (and raises for nan/inf).
                let f = self.t.get_f64(0).into_pyobject(py)?;
                return Ok(py.get_type::<pyo3::types::PyInt>().call1((f,))?.unbind());
            }
            // Integers go through the exact element value (an f64 would round int64s above 2**53).
            super::convert::element_to_py(py, &self.t, 0)
        })
    }

    fn __index__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__index__", || {
            if self.t.dtype().is_float() || self.t.numel() != 1 {
                return Err(PyTypeError::new_err(
                    "only integer tensors of a single element can be converted to an index",
                ));
            }
            super::convert::element_to_py(py, &self.t, 0)
        })
    }

    fn __bool__(&self) -> PyResult<bool> {
        crate::py::errors::guard("__bool__", || {
            if self.t.numel() != 1 {
                return Err(PyRuntimeError::new_err(
                    "Boolean value of Tensor with more than one value is ambiguous",
                ));
            }
            Ok(self.t.get_f64(0) != 0.0)
        })
    }

    /// `to(dtype)` core; the Python layer parses device/dtype/tensor arguments.
    fn _to_dtype(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("_to_dtype", || {
            let d = extract_dtype(dtype)?;
            let r = ops::to_dtype(&self.t, d)?;
            wrap(py, r)
        })
    }

    /// `contiguous()`: `self` when already contiguous, else a contiguous copy.
    fn contiguous(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("contiguous", || {
            let t = slf.borrow().t.clone();
            if t.is_contiguous() {
                return Ok(slf.clone().into_any().unbind());
            }
            wrap(slf.py(), ops::contiguous(&t)?)
        })
    }

    /// `clone()`: a copy with its own storage; differentiable (`torch.Tensor.clone`).
    fn clone(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("clone", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::clone(&self.t))?)
        })
    }

    // ---- arithmetic ----

    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__add__", || arith(py, BinaryOp::Add, &self.t, o, false))
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__radd__", || arith(py, BinaryOp::Add, &self.t, o, true))
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__sub__", || arith(py, BinaryOp::Sub, &self.t, o, false))
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rsub__", || arith(py, BinaryOp::Sub, &self.t, o, true))
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__mul__", || arith(py, BinaryOp::Mul, &self.t, o, false))
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rmul__", || arith(py, BinaryOp::Mul, &self.t, o, true))
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__truediv__", || {
            arith(py, BinaryOp::Div, &self.t, o, false)
        })
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rtruediv__", || {
            arith(py, BinaryOp::Div, &self.t, o, true)
        })
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__floordiv__", || {
            arith(py, BinaryOp::FloorDiv, &self.t, o, false)
        })
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rfloordiv__", || {
            arith(py, BinaryOp::FloorDiv, &self.t, o, true)
        })
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__mod__", || arith(py, BinaryOp::Rem, &self.t, o, false))
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rmod__", || arith(py, BinaryOp::Rem, &self.t, o, true))
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _m: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__pow__", || {
            // x ** 2 and friends take the unary fast path (better gradient and no promotion surprise).
            if let Some(s) = extract_scalar(o) {
                if self.t.dtype().is_float() {
                    let p = s.to_f64();
                    let op = if p == 2.0 {
                        ops::UnaryOp::Square
                    } else {
                        ops::UnaryOp::PowScalar(p)
                    };
                    return wrap(py, ops::unary(op, &self.t)?);
                }
            }
            arith(py, BinaryOp::Pow, &self.t, o, false)
        })
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _m: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__rpow__", || arith(py, BinaryOp::Pow, &self.t, o, true))
    }
    fn __iadd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::py::errors::guard("__iadd__", || inplace(slf, BinaryOp::Add, o).map(|_| ()))
    }
    fn __isub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::py::errors::guard("__isub__", || inplace(slf, BinaryOp::Sub, o).map(|_| ()))
    }
    fn __imul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::py::errors::guard("__imul__", || inplace(slf, BinaryOp::Mul, o).map(|_| ()))
    }
    fn __itruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::py::errors::guard("__itruediv__", || {
            inplace(slf, BinaryOp::Div, o).map(|_| ())
        })
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__neg__", || wrap(py, ops::neg(&self.t)?))
    }
    fn __pos__(slf: &Bound<'_, Self>) -> Py<PyAny> {
        slf.clone().into_any().unbind()
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__abs__", || wrap(py, ops::abs(&self.t)?))
    }
    fn __eq__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__eq__", || cmp(py, CmpOp::Eq, &self.t, o))
    }
    fn __ne__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__ne__", || cmp(py, CmpOp::Ne, &self.t, o))
    }
    fn __lt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__lt__", || cmp(py, CmpOp::Lt, &self.t, o))
    }
    fn __le__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__le__", || cmp(py, CmpOp::Le, &self.t, o))
    }
    fn __gt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__gt__", || cmp(py, CmpOp::Gt, &self.t, o))
    }
    fn __ge__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("__ge__", || cmp(py, CmpOp::Ge, &self.t, o))
    }

    /// In-place arithmetic core (`add_`, `sub_`, `mul_`, `div_`); `alpha` scales `other`.
    #[pyo3(signature = (op, other, alpha=None))]
    fn _binary_(
        slf: &Bound<'_, Self>,
        op: &str,
        other: &Bound<'_, PyAny>,
        alpha: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("_binary_", || {
            let bop = match op {
                "add" => BinaryOp::Add,
                "sub" => BinaryOp::Sub,
                "mul" => BinaryOp::Mul,
                "div" => BinaryOp::Div,
                "pow" => BinaryOp::Pow,
                "remainder" => BinaryOp::Rem,
                "floor_divide" => BinaryOp::FloorDiv,
                "maximum" => BinaryOp::Maximum,
                "minimum" => BinaryOp::Minimum,
                _ => return Err(PyValueError::new_err(format!("unknown in-place op {}", op))),
            };
            match (alpha, operand(other)?) {
                (Some(a), Some(Operand::T(b))) if a != 1.0 => {
                    let scaled = ops::mul_scalar(&b, a)?;
                    ops::binary_(bop, &slf.borrow().t, &scaled)?;
                    Ok(slf.clone().into_any().unbind())
                }
                (Some(a), Some(Operand::S(s))) if a != 1.0 => {
                    ops::binary_scalar_(bop, &slf.borrow().t, Scalar::Float(s.to_f64() * a))?;
                    Ok(slf.clone().into_any().unbind())
                }
                _ => inplace(slf, bop, other),
            }
        })
    }

    /// `zero_()`: set every element to zero in place.
    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("zero_", || {
            ops::fill_(&slf.borrow().t, Scalar::Int(0))?;
            Ok(slf.clone().into_any().unbind())
        })
    }

    /// `fill_(value)`: set every element to `value` in place.
    fn fill_(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("fill_", || {
            let t = slf.borrow().t.clone();
            if let Ok(v) = value.cast::<PyTensor>() {
                let v = v.borrow().t.clone();
                if v.ndim() != 0 {
                    return Err(PyRuntimeError::new_err(format!(
                    "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
                    v.ndim()
                )));
                }
                ops::copy_(&t, &v)?;
            } else {
                let s = extract_scalar(value)
                    .ok_or_else(|| PyTypeError::new_err("fill_ expects a number"))?;
                ops::fill_(&t, s)?;
            }
            Ok(slf.clone().into_any().unbind())
        })
    }

    /// `copy_(src, non_blocking=False)`: copy `src` into `self` in place, broadcasting and converting dtype and device; the gradient flows to `src`.
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_(
        slf: &Bound<'_, Self>,
        src: &Bound<'_, PyAny>,
        non_blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("copy_", || {
            let _ = non_blocking;
            let s = as_tensor(src)?;
            let t = slf.borrow().t.clone();
            maybe_nogil(slf.py(), t.numel(), || ops::copy_(&t, &s))?;
            Ok(slf.clone().into_any().unbind())
        })
    }

    // ---- common math as methods (hot in training loops) ----

    /// `sum(dim=None, keepdim=False, *, dtype=None)`: the sum over `dim` (all elements by default); integer inputs sum in int64 as in PyTorch.
    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("sum", || {
            reduce_method(py, &self.t, dim, keepdim, dtype, ops::sum)
        })
    }

    /// `mean(dim=None, keepdim=False, *, dtype=None)`: the mean over `dim` (all elements by default).
    #[pyo3(signature = (dim=None, keepdim=false, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("mean", || {
            reduce_method(py, &self.t, dim, keepdim, dtype, ops::mean)
        })
    }

    /// `view(*shape)` / `view(dtype)`: the same memory with another shape (one size may be -1) or reinterpreted as another dtype of the same size.
    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("view", || {
            if shape.len() == 1 {
                let a = shape.get_item(0)?;
                if a.cast::<PyDType>().is_ok() {
                    let d = extract_dtype(&a)?;
                    if d != self.t.dtype() {
                        return Err(PyRuntimeError::new_err(
                            "view(dtype) with a different element size is not supported",
                        ));
                    }
                    return wrap(py, self.t.detach());
                }
            }
            wrap(py, ops::view(&self.t, &extract_sizes(shape)?)?)
        })
    }

    /// `reshape(*shape)`: a view when the layout allows, else a copy; one size may be -1.
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("reshape", || {
            wrap(py, ops::reshape(&self.t, &extract_sizes(shape)?)?)
        })
    }

    /// `permute(*dims)`: a view with the dimensions reordered.
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("permute", || {
            wrap(py, ops::permute(&self.t, &extract_sizes(dims)?)?)
        })
    }

    /// `transpose(dim0, dim1)`: a view with two dimensions swapped.
    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("transpose", || {
            wrap(py, ops::transpose(&self.t, dim0, dim1)?)
        })
    }

    /// `t()`: a 2-D tensor transposed (0-D and 1-D tensors unchanged), a view.
    fn t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("t", || wrap(py, ops::t(&self.t)?))
    }

    /// `Tensor.T`: the dimensions reversed (a view), as `torch.Tensor.T`.
    #[getter(T)]
    fn big_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("big_t", || {
            let n = self.t.ndim() as i64;
            let rev: Vec<i64> = (0..n).rev().collect();
            wrap(py, ops::permute(&self.t, &rev)?)
        })
    }

    /// `Tensor.mT`: the last two dimensions transposed (a view).
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("m_t", || {
            if self.t.ndim() < 2 {
                return Err(PyRuntimeError::new_err(
                "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",
            ));
            }
            wrap(py, ops::transpose(&self.t, -2, -1)?)
        })
    }

    /// `unsqueeze(dim)`: a view with a size-1 dimension inserted at `dim`.
    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("unsqueeze", || wrap(py, ops::unsqueeze(&self.t, dim)?))
    }

    /// `squeeze(dim=None)`: a view without size-1 dims (all, or those in `dim`).
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("squeeze", || {
            let d = dims_arg(dim)?;
            let overload = match dim {
                None => 0,
                Some(v) if v.is_none() => 0,
                Some(v) if v.is_instance_of::<pyo3::types::PyInt>() => 1,
                Some(_) => 2,
            };
            wrap(py, ops::squeeze_as(&self.t, d.as_deref(), overload)?)
        })
    }

    /// `flatten(start_dim=0, end_dim=-1)`: dims start_dim..end_dim merged into one (a view when possible).
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("flatten", || {
            wrap(py, ops::flatten(&self.t, start_dim, end_dim)?)
        })
    }

    /// `expand(*sizes)`: a broadcast view (stride 0 along expanded dims); -1 keeps a size.
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("expand", || {
            let s = extract_sizes(sizes)?;
            let cur = self.t.shape();
            let lead = s.len().saturating_sub(cur.len());
            let shape: Vec<usize> = s
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v == -1 && i >= lead {
                        cur[i - lead]
                    } else {
                        v.max(0) as usize
                    }
                })
                .collect();
            if s.iter()
                .enumerate()
                .any(|(i, &v)| v < -1 || (v == -1 && i < lead))
            {
                return Err(PyRuntimeError::new_err(format!(
                "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {}",
                s.iter().position(|&v| v == -1).unwrap_or(0)
            )));
            }
            wrap(py, ops::expand(&self.t, &shape)?)
        })
    }

    /// `narrow(dim, start, length)`: a view of `length` elements of `dim` from `start`.
    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: i64) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("narrow", || {
            wrap(py, ops::narrow(&self.t, dim, start, length)?)
        })
    }

    /// `select(dim, index)`: a view of one index of `dim`, with `dim` removed.
    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("select", || wrap(py, ops::select(&self.t, dim, index)?))
    }

    /// `exp()`: elementwise e**x (`torch.exp`).
    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("exp", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::exp(&self.t))?)
        })
    }
    /// `log()`: elementwise natural logarithm (`torch.log`).
    fn log(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("log", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::log(&self.t))?)
        })
    }
    /// `relu()`: elementwise max(x, 0) (`torch.relu`).
    fn relu(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("relu", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::relu(&self.t))?)
        })
    }
    /// `sigmoid()`: elementwise 1 / (1 + e**-x) (`torch.sigmoid`).
    fn sigmoid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("sigmoid", || {
            wrap(
                py,
                maybe_nogil(py, self.t.numel(), || ops::sigmoid(&self.t))?,
            )
        })
    }
    /// `tanh()`: elementwise hyperbolic tangent (`torch.tanh`).
    fn tanh(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("tanh", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::tanh(&self.t))?)
        })
    }
    /// `sqrt()`: elementwise square root (`torch.sqrt`).
    fn sqrt(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("sqrt", || {
            wrap(py, maybe_nogil(py, self.t.numel(), || ops::sqrt(&self.t))?)
        })
    }

    #[classmethod]
    fn _make_subclass(
        cls: &Bound<'_, PyType>,
        data: &Bound<'_, PyTensor>,
        requires_grad: bool,
    ) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("_make_subclass", || {
            let t = data.borrow().t.detach();
            t.set_requires_grad(requires_grad)?;
            let init = pyo3::PyClassInitializer::from(PyTensor { t });
            let _ = init;
            // Subclass instances are created through the class's own __new__ (see Parameter).
            let obj = cls.call1((data.clone(),))?;
            obj.cast::<PyTensor>()?
                .borrow()
                .t
                .set_requires_grad(requires_grad)?;
            Ok(obj.unbind())
        })
    }
}
