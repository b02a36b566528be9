//! Python's cyclic garbage collector and the tensor graph.
//!
//! A Python object can reach itself through Rust: a tensor's hook that refers to the tensor, an
//! `autograd.Function` whose `ctx` keeps its output, a tensor stored in its own `__dict__`. Such
//! cycles are invisible to CPython unless the Tensor type reports what it owns. Python objects
//! held by Rust closures are kept in a [`PyHeld`] registered beside the closure (on the tensor's
//! autograd state or on its graph node), so `__traverse__` can report them and `__clear__` can
//! drop them.
//!
//! Every reference must be reported by exactly one owner, or the collector's counts go wrong
//! and it could free live objects. A `PyHeld` is therefore reported only along a path that this
//! Python object owns alone: the Rust tensor referenced by no other handle, and its graph node by
//! no other tensor or node. Shared paths are skipped, which at worst leaves a cycle uncollected.

use crate::autograd::Foreign;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};
use std::sync::Arc;

/// A Python object owned by Rust graph state; emptied by the collector's `__clear__`.
pub struct PyHeld(Mutex<Option<Py<PyAny>>>);

impl PyHeld {
    pub fn new(obj: Py<PyAny>) -> Arc<PyHeld> {
        Arc::new(PyHeld(Mutex::new(Some(obj))))
    }

    /// The object, unless the collector has already cleared it.
    pub fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.0.lock().as_ref().map(|o| o.clone_ref(py))
    }
}

fn visit_all(list: &[Foreign], visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    for f in list {
        if let Some(h) = f.downcast_ref::<PyHeld>() {
            if let Some(g) = h.0.try_lock() {
                if let Some(o) = g.as_ref() {
                    visit.call(o)?;
                }
            }
        }
    }
    Ok(())
}

/// Report the Python objects that `t` alone owns through its hooks and its graph node.
pub fn traverse_tensor(t: &Tensor, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    if !t.is_unique() {
        return Ok(());
    }
    let Some(m) = t.try_meta() else {
        return Ok(());
    };
    visit_all(&m.foreign, visit)?;
    if let Some((node, _)) = &m.grad_fn {
        if Arc::strong_count(node) == 1 {
            if let Some(f) = node.foreign.try_lock() {
                visit_all(&f, visit)?;
            }
        }
    }
    Ok(())
}

/// Break cycles through `t`: drop the Python objects its hooks and its own graph node hold.
/// Only called on objects the collector found unreachable.
pub fn clear_tensor(t: &Tensor) {
    if !t.is_unique() {
        return;
    }
    let (mut held, node) = {
        let Some(mut m) = t.try_meta() else {
            return;
        };
        let node = match &m.grad_fn {
            Some((n, _)) if Arc::strong_count(n) == 1 => Some(n.clone()),
            _ => None,
        };
        m.hooks.clear();
        m.post_accumulate_hooks.clear();
        (std::mem::take(&mut m.foreign), node)
    };
    if let Some(n) = node {
        held.extend(n.foreign.lock().drain(..));
    }
    // Take the objects out first, then let them go with no lock held: dropping one can run
    // arbitrary Python code (finalizers) that touches tensors.
    let objs: Vec<Py<PyAny>> = held
        .iter()
        .filter_map(|f| f.downcast_ref::<PyHeld>())
        .filter_map(|h| h.0.lock().take())
        .collect();
    drop(held);
    drop(objs);
}

/// Where a Tensor object keeps its instance `__dict__`, relative to the Rust value PyO3 hands
/// to `__traverse__` (which gets `&self`, not the object). PyO3 visits the dict only for classes
/// without a `__traverse__` of their own, so ours must. Measured and verified once at import
/// (`init_dict_layout`); when the check fails, dicts are not traversed (cycles through
/// `t.attr = t` then leak, but nothing unsafe happens).
static DICT_LAYOUT: std::sync::OnceLock<Option<(isize, isize)>> = std::sync::OnceLock::new();

/// Measure the object layout on a probe tensor and check it against what Python reports.
pub fn init_dict_layout(py: Python<'_>) -> PyResult<()> {
    use super::tensor::PyTensor;
    let probe = Bound::new(
        py,
        PyTensor {
            t: Tensor::zeros(&[0], crate::dtype::DType::F32)?,
        },
    )?;
    probe.setattr("_gc_probe", true)?;
    let obj = probe.as_ptr() as isize;
    let value = {
        let r = probe.borrow();
        &*r as *const PyTensor as isize
    };
    let dict_off: isize = probe.get_type().getattr("__dictoffset__")?.extract()?;
    let dict = probe.getattr("__dict__")?;
    let layout = (value - obj, dict_off);
    let ok = dict_off > 0 && {
        // SAFETY: dict_off is the type's own tp_dictoffset, inside the live probe object.
        let slot = unsafe { *((obj + dict_off) as *const *mut pyo3::ffi::PyObject) };
        slot == dict.as_ptr()
    };
    let _ = DICT_LAYOUT.set(ok.then_some(layout));
    Ok(())
}

/// The `__dict__` slot of the Tensor object whose Rust value is `value`.
fn dict_slot<T>(value: &T) -> Option<*mut *mut pyo3::ffi::PyObject> {
    let (value_off, dict_off) = (*DICT_LAYOUT.get()?)?;
    let obj = value as *const T as isize - value_off;
    Some((obj + dict_off) as *mut *mut pyo3::ffi::PyObject)
}

/// Report the instance `__dict__` of the Tensor object holding `value`.
pub fn traverse_dict<T>(value: &T, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    if let Some(slot) = dict_slot(value) {
        // SAFETY: the layout was verified at import; the slot holds the dict or null, and
        // `Py<PyAny>` is a transparent non-null object pointer.
        unsafe {
            if !(*slot).is_null() {
                visit.call(&*(slot as *const Py<PyAny>))?;
            }
        }
    }
    Ok(())
}

/// Drop the instance `__dict__` of the Tensor object holding `value` (`Py_CLEAR`).
pub fn clear_dict<T>(value: &T) {
    if let Some(slot) = dict_slot(value) {
        // SAFETY: as in `traverse_dict`; the slot is emptied before the reference is released
        // so code run by the release sees no dangling pointer.
        unsafe {
            let d = *slot;
            if !d.is_null() {
                *slot = std::ptr::null_mut();
                pyo3::ffi::Py_DECREF(d);
            }
        }
    }
}
