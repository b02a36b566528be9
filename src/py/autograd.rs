//! Python face of autograd: grad_fn objects, hook handles, `autograd.grad`/`backward`, grad mode.

use super::tensor::{as_tensor, wrap, PyTensor};
use crate::autograd::{self, Node};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::Arc;

/// A graph node as seen from Python (`tensor.grad_fn`).
#[pyclass(name = "Node", module = "rustgrad.autograd", frozen)]
pub struct PyNode {
    pub node: Arc<Node>,
    pub nr: usize,
}

#[pymethods]
impl PyNode {
    fn name(&self) -> &'static str {
        self.node.name()
    }
    #[getter]
    fn next_functions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::py::errors::guard("next_functions", || {
            let items: Vec<Py<PyAny>> = self
                .node
                .next
                .iter()
                .map(|e| -> PyResult<Py<PyAny>> {
                    match e {
                        Some(e) => {
                            let n = Py::new(
                                py,
                                PyNode {
                                    node: e.node.clone(),
                                    nr: e.input_nr,
                                },
                            )?;
                            Ok(PyTuple::new(
                                py,
                                [
                                    n.into_any(),
                                    e.input_nr.into_pyobject(py)?.into_any().unbind(),
                                ],
                            )?
                            .into_any()
                            .unbind())
                        }
                        None => Ok(PyTuple::new(
                            py,
                            [py.None(), 0i64.into_pyobject(py)?.into_any().unbind()],
                        )?
                        .into_any()
                        .unbind()),
                    }
                })
                .collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        })
    }
    /// The leaf behind an AccumulateGrad node.
    #[getter]
    fn variable(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        crate::py::errors::guard("variable", || {
            self.node.variable().map(|t| wrap(py, t)).transpose()
        })
    }
    fn __repr__(&self) -> String {
        format!(
            "<{} object at {:#x}>",
            self.node.name(),
            Arc::as_ptr(&self.node) as usize
        )
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyNode>()
            .map(|o| Arc::ptr_eq(&o.get().node, &self.node))
            .unwrap_or(false)
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
}

/// Returned by `register_hook`; `remove()` unregisters.
#[pyclass(module = "rustgrad.utils.hooks")]
pub struct HookHandle {
    pub t: Tensor,
    pub idx: Option<usize>,
    /// Whether `idx` indexes the post-accumulate-grad hooks rather than the gradient hooks.
    pub post: bool,
}

#[pymethods]
impl HookHandle {
    fn remove(&mut self) {
        if let Some(i) = self.idx.take() {
            // Replace with a no-op so other handles' indices stay valid.
            let mut m = self.t.meta();
            if self.post {
                if i < m.post_accumulate_hooks.len() {
                    m.post_accumulate_hooks[i] = Arc::new(|_| Ok(()));
                }
            } else if i < m.hooks.len() {
                m.hooks[i] = Arc::new(|_| Ok(None));
            }
        }
    }
}

/// A tensor or a sequence of tensors as a Vec.
pub fn tensor_list(ob: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    if let Ok(t) = ob.cast::<PyTensor>() {
        return Ok(vec![t.borrow().t.clone()]);
    }
    ob.try_iter()?.map(|x| as_tensor(&x?)).collect()
}

fn optional_list(ob: Option<&Bound<'_, PyAny>>, n: usize) -> PyResult<Vec<Option<Tensor>>> {
    match ob {
        None => Ok(vec![None; n]),
        Some(o) if o.is_none() => Ok(vec![None; n]),
        Some(o) => {
            if let Ok(t) = o.cast::<PyTensor>() {
                return Ok(vec![Some(t.borrow().t.clone())]);
            }
            o.try_iter()?
                .map(|x| {
                    let x = x?;
                    if x.is_none() {
                        Ok(None)
                    } else {
                        Ok(Some(as_tensor(&x)?))
                    }
                })
                .collect()
        }
    }
}

#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=false, allow_unused=None))]
pub fn grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: Option<bool>,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("grad", || {
        let outs = tensor_list(outputs)?;
        let ins = tensor_list(inputs)?;
        let gos = optional_list(grad_outputs, outs.len())?;
        let retain = retain_graph.unwrap_or(create_graph);
        let r = super::tensor::maybe_nogil_graph(py, &outs, || {
            autograd::grad(
                &outs,
                gos,
                &ins,
                retain,
                create_graph,
                allow_unused.unwrap_or(false),
            )
        })?;
        let items: Vec<Py<PyAny>> = r
            .into_iter()
            .map(|g| g.map(|g| wrap(py, g)).unwrap_or_else(|| Ok(py.None())))
            .collect::<PyResult<_>>()?;
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    })
}

#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors=None, retain_graph=None, create_graph=false))]
pub fn backward(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    grad_tensors: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
) -> PyResult<()> {
    crate::py::errors::guard("backward", || {
        let ts = tensor_list(tensors)?;
        let gs = optional_list(grad_tensors, ts.len())?;
        let retain = retain_graph.unwrap_or(create_graph);
        super::tensor::maybe_nogil_graph(py, &ts, || {
            autograd::backward(&ts, gs, retain, create_graph)
        })?;
        Ok(())
    })
}

#[pyfunction]
pub fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

#[pyfunction]
pub fn _set_grad_enabled(on: bool) {
    autograd::set_grad_enabled(on)
}

/// A `&'static` node name for a Python `autograd.Function` class, leaked once per distinct name
/// (not once per call, which would grow without bound in a training loop).
fn intern_node_name(name: String) -> &'static str {
    static NAMES: parking_lot::Mutex<Vec<&'static str>> = parking_lot::Mutex::new(Vec::new());
    let mut names = NAMES.lock();
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into_boxed_str());
    names.push(n);
    n
}

/// Record a node for a Python-defined op (`autograd.Function`): `backward(*grads)` returns one
/// gradient (or None) per input.
#[pyfunction]
fn _record_function(
    name: String,
    inputs: &Bound<'_, PyAny>,
    outputs: &Bound<'_, PyAny>,
    backward: Py<PyAny>,
) -> PyResult<()> {
    crate::py::errors::guard("_record_function", || {
        let ins = tensor_list(inputs)?;
        let outs = tensor_list(outputs)?;
        let name = intern_node_name(name);
        let in_refs: Vec<&Tensor> = ins.iter().collect();
        let out_refs: Vec<&Tensor> = outs.iter().collect();
        let n_in = ins.len();
        let held = super::gc::PyHeld::new(backward);
        let in_closure = held.clone();
        autograd::record(name, &in_refs, &out_refs, true, move |grads, _needs| {
            Python::attach(|py| {
                let backward = in_closure.get(py).ok_or_else(|| {
                    crate::error::Error::runtime(format!(
                        "{name}: the backward function was already freed by the garbage collector"
                    ))
                })?;
                let gs: Vec<Py<PyAny>> = grads
                    .iter()
                    .map(|g| wrap(py, g.clone()))
                    .collect::<PyResult<_>>()
                    .map_err(super::errors::park)?;
                let r = backward
                    .call1(py, PyTuple::new(py, gs).map_err(super::errors::park)?)
                    .map_err(super::errors::park)?;
                let r = r.bind(py);
                let items: Vec<Bound<'_, PyAny>> =
                    if r.cast::<PyTuple>().is_ok() || r.cast::<PyList>().is_ok() {
                        r.try_iter()
                            .map_err(super::errors::park)?
                            .collect::<PyResult<_>>()
                            .map_err(super::errors::park)?
                    } else {
                        vec![r.clone()]
                    };
                let mut out = Vec::with_capacity(n_in);
                for i in 0..n_in {
                    match items.get(i) {
                        Some(x) if !x.is_none() => {
                            out.push(Some(as_tensor(x).map_err(super::errors::park)?))
                        }
                        _ => out.push(None),
                    }
                }
                Ok(out)
            })
        });
        if let Some((node, _)) = outs.iter().find_map(|t| t.grad_fn()) {
            node.attach_foreign(held);
        }
        Ok(())
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_record_function, m)?)?;
    m.add_class::<PyNode>()?;
    m.add_class::<HookHandle>()?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(backward, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    Ok(())
}
