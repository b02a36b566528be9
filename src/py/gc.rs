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
