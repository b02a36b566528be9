//! The tensor handle: shared storage + layout + autograd metadata.
//!
//! A `Tensor` is a cheap, clonable handle (`Arc`). Clones are the *same* tensor (same identity,
//! same `.grad`); views are *new* tensors sharing storage. Storage and layout sit behind a lock
//! because a few PyTorch operations replace them on an existing tensor (`t.data = x`, `set_`).

use crate::autograd::{AutogradMeta, Node};
use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::{checked_bytes, checked_numel, fmt_shape};
use crate::storage::Storage;
use parking_lot::{Mutex, MutexGuard, RwLock};
use std::sync::Arc;

/// Storage and layout: the data a tensor refers to.
#[derive(Clone)]
pub struct TensorData {
    pub storage: Arc<Storage>,
    pub layout: Layout,
}

pub struct TensorImpl {
    data: RwLock<TensorData>,
    meta: Mutex<AutogradMeta>,
}

/// A handle to a tensor. Cloning shares identity.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl Tensor {
    /// A tensor over existing storage.
    pub fn from_parts(storage: Arc<Storage>, layout: Layout) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            data: RwLock::new(TensorData { storage, layout }),
            meta: Mutex::new(AutogradMeta::default()),
        }))
    }

    /// Uninitialised contiguous tensor.
    pub fn empty(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        checked_bytes(shape, dtype.size())?;
        Ok(Self::from_parts(
            Arc::new(Storage::empty(dtype, n)?),
            Layout::contiguous(shape),
        ))
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        checked_bytes(shape, dtype.size())?;
        Ok(Self::from_parts(
            Arc::new(Storage::zeros(dtype, n)?),
            Layout::contiguous(shape),
        ))
    }

    pub fn from_vec<T: Element>(v: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let n = checked_numel(shape)?;
        if n != v.len() {
            return Err(Error::runtime(format!(
                "shape {} is invalid for input of size {}",
                fmt_shape(shape),
                v.len()
            )));
        }
        Ok(Self::from_parts(
            Arc::new(Storage::from_vec(v)?),
            Layout::contiguous(shape),
        ))
    }

    /// A 1-d tensor of `n` elements, element `i` being `f(i)`, allocated fallibly.
    pub fn from_fn<T: Element>(n: usize, f: impl Fn(usize) -> T) -> Result<Tensor> {
        checked_bytes(&[n], T::DTYPE.size())?;
        Ok(Self::from_parts(
            Arc::new(Storage::from_fn(n, f)?),
            Layout::contiguous(&[n]),
        ))
    }

    /// A 0-d tensor holding `v`.
    pub fn scalar<T: Element>(v: T) -> Result<Tensor> {
        Self::from_vec(vec![v], &[])
    }

    /// Same data, a different layout (a view). Autograd is the caller's business.
    pub fn with_layout(&self, layout: Layout) -> Tensor {
        let storage = self.0.data.read().storage.clone();
        let v = Self::from_parts(storage, layout);
        let base = self.meta().base.clone().unwrap_or_else(|| self.clone());
        v.meta().base = Some(base);
        v
    }

    /// The tensor this one is a view of, if any.
    pub fn view_base(&self) -> Option<Tensor> {
        self.meta().base.clone()
    }

    pub fn data(&self) -> TensorData {
        self.0.data.read().clone()
    }

    /// Replace storage and layout in place (`t.data = other`, `set_`).
    pub fn set_data(&self, d: TensorData) {
        *self.0.data.write() = d;
    }

    pub fn storage(&self) -> Arc<Storage> {
        self.0.data.read().storage.clone()
    }

    pub fn layout(&self) -> Layout {
        self.0.data.read().layout.clone()
    }

    pub fn shape(&self) -> crate::shape::Shape {
        self.0.data.read().layout.shape.clone()
    }

    pub fn strides(&self) -> crate::shape::Strides {
        self.0.data.read().layout.strides.clone()
    }

    pub fn ndim(&self) -> usize {
        self.0.data.read().layout.ndim()
    }

    pub fn numel(&self) -> usize {
        self.0.data.read().layout.numel()
    }

    pub fn size(&self, dim: usize) -> usize {
        self.0.data.read().layout.shape[dim]
    }

    pub fn dtype(&self) -> DType {
        self.0.data.read().storage.dtype()
    }

    pub fn device(&self) -> Device {
        self.0.data.read().storage.device()
    }

    pub fn is_contiguous(&self) -> bool {
        self.0.data.read().layout.is_contiguous()
    }

    /// Identity comparison (same tensor object, not equal values).
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage(), &other.storage())
    }

    pub fn version(&self) -> u64 {
        self.0.data.read().storage.version()
    }

    pub fn bump_version(&self) {
        self.0.data.read().storage.bump_version()
    }

    pub(crate) fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock()
    }

    /// The autograd state if no other thread holds it right now (for the garbage collector,
    /// which must never block).
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn try_meta(&self) -> Option<MutexGuard<'_, AutogradMeta>> {
        self.0.meta.try_lock()
    }

    /// Whether this handle is the only strong reference to the tensor.
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    pub(crate) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<TensorImpl> {
        Arc::downgrade(&self.0)
    }

    pub(crate) fn from_weak(w: &std::sync::Weak<TensorImpl>) -> Option<Tensor> {
        w.upgrade().map(Tensor)
    }

    // ---- autograd accessors ----

    pub fn requires_grad(&self) -> bool {
        let m = self.meta();
        m.requires_grad || m.grad_fn.is_some()
    }

    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }

    pub fn grad_fn(&self) -> Option<(Arc<Node>, usize)> {
        self.meta().grad_fn.clone()
    }

    /// `requires_grad_(flag)` with PyTorch's checks.
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        let mut m = self.meta();
        if m.grad_fn.is_some() {
            if !flag {
                return Err(Error::runtime(
                    "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().",
                ));
            }
            return Ok(());
        }
        if flag && !self.dtype().is_float() {
            return Err(Error::runtime(format!(
                "only Tensors of floating point dtype can require gradients (got {})",
                self.dtype().name()
            )));
        }
        m.requires_grad = flag;
        Ok(())
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }

    pub fn set_grad(&self, g: Option<Tensor>) {
        self.meta().grad = g;
    }

    /// A new tensor sharing data but cut from the graph.
    pub fn detach(&self) -> Tensor {
        let d = self.data();
        Self::from_parts(d.storage, d.layout)
    }

    /// Cut this tensor itself from the graph (`detach_()`).
    pub fn detach_(&self) {
        let mut m = self.meta();
        m.grad_fn = None;
        m.requires_grad = false;
    }

    pub fn retain_grad(&self) -> Result<()> {
        let mut m = self.meta();
        if m.grad_fn.is_none() {
            if !m.requires_grad {
                return Err(Error::runtime(
                    "can't retain_grad on Tensor that has requires_grad=False",
                ));
            }
            return Ok(()); // leaves always keep their grad
        }
        if !m.retains_grad {
            m.retains_grad = true;
            let (node, nr) = m.grad_fn.clone().expect("checked above");
            drop(m);
            node.watch_output(nr, self);
        }
        Ok(())
    }

    pub fn retains_grad(&self) -> bool {
        self.meta().retains_grad
    }

    /// Read element `i` of a contiguous row-major enumeration as f64 (slow; for printing/tests).
    pub fn get_f64(&self, flat: usize) -> f64 {
        if !self.device().is_cpu() {
            // A download per call: callers that read many elements move the tensor first.
            return match crate::kernels::transfer::to_host(self) {
                Ok(h) => h.get_f64(flat),
                Err(e) => std::panic::panic_any(e),
            };
        }
        let d = self.0.data.read();
        let mut off = d.layout.offset as isize;
        let mut rem = flat;
        for i in (0..d.layout.ndim()).rev() {
            let n = d.layout.shape[i];
            off += (rem % n) as isize * d.layout.strides[i];
            rem /= n;
        }
        let p = d.storage.cpu_ptr();
        // SAFETY: layout offsets are within storage by construction.
        unsafe {
            crate::with_dtype!(
                d.storage.dtype(),
                T,
                (*(p as *const T).offset(off)).to_f64()
            )
        }
    }

    /// Copy out as a contiguous Vec<T> (dtype must match).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if self.dtype() != T::DTYPE {
            return Err(Error::runtime(format!(
                "to_vec: expected dtype {} but tensor is {}",
                T::DTYPE.name(),
                self.dtype().name()
            )));
        }
        if !self.device().is_cpu() {
            return crate::kernels::transfer::to_host(self)?.to_vec();
        }
        let d = self.data();
        let mut out = Vec::with_capacity(d.layout.numel());
        let p = d.storage.cpu_ptr() as *const T;
        // SAFETY: offsets come from a valid layout over this storage.
        d.layout.for_each_offset(|o| out.push(unsafe { *p.add(o) }));
        Ok(out)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={}, dtype={})",
            fmt_shape(&self.shape()),
            self.dtype().name()
        )
    }
}
