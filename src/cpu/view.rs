//! Typed views of CPU storage: the one place CPU kernels turn a tensor into element memory.
//!
//! A view is a storage plus a layout, accepted after three checks made once per kernel call (not
//! per element): the storage lives on the CPU, it holds elements of the Rust type the kernel
//! reads or writes, and every offset the layout can reach lies inside it. Kernels then address
//! memory only as the view's base pointer plus layout offsets, so "is this pointer arithmetic in
//! bounds" is answered here, for every family, instead of at each call site.
//!
//! Views hand out raw pointers, not `&[T]`/`&mut [T]`: PyTorch lets two views of one storage
//! alias and in-place ops write through either, which no Rust borrow can describe. A view holds
//! its storage (a reference count, like the tensor it came from), so the memory outlives every
//! pointer taken from it.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::Tensor;
use std::sync::Arc;

/// Base pointer of `storage` once it is known to be CPU memory of `T` that covers `layout`.
fn checked_base<T: Element>(storage: &Storage, layout: &Layout) -> Result<*mut T> {
    if !storage.is_cpu() {
        // The device seam (`crate::kernels`) keeps device tensors away from CPU kernels; this is
        // the error, rather than a bad dereference, if a path ever forgets to.
        return Err(Error::not_implemented(format!(
            "a CPU kernel was handed a tensor on the {} device: this operator is not currently \
             implemented for the wgpu device (move the tensor with .cpu() first)",
            storage.device().full_name()
        )));
    }
    if storage.dtype() != T::DTYPE {
        return Err(Error::runtime(format!(
            "internal error: a CPU kernel for {} elements was handed {} storage",
            T::DTYPE.name(),
            storage.dtype().name()
        )));
    }
    if !layout.shape.contains(&0) {
        let end = match span_end(layout) {
            Some(end) => end,
            // Overflowing or negative reach: `storage_span` words the error.
            None => layout.storage_span()?.1,
        };
        if end > storage.len() {
            return Err(Error::runtime(format!(
                "internal error: a layout reaching element {} was used over a storage of {} elements",
                end,
                storage.len()
            )));
        }
    }
    Ok(storage.cpu_ptr() as *mut T)
}

/// One past the largest offset a non-empty `layout` reaches, or `None` when some offset would be
/// negative or the arithmetic overflows. The same bound as [`Layout::storage_span`], in plain
/// checked `isize` steps because it runs on every kernel call.
fn span_end(layout: &Layout) -> Option<usize> {
    let (shape, strides) = (layout.shape.as_slice(), layout.strides.as_slice());
    let mut lo = isize::try_from(layout.offset).ok()?;
    let mut hi = lo;
    for (&d, &s) in shape.iter().zip(strides) {
        let ext = (d as isize - 1).checked_mul(s)?;
        if ext < 0 {
            lo = lo.checked_add(ext)?;
        } else {
            hi = hi.checked_add(ext)?;
        }
    }
    if lo < 0 {
        return None;
    }
    (hi as usize).checked_add(1)
}

/// Read access to the elements of a CPU tensor through a layout.
pub struct CpuView<T> {
    base: *const T,
    layout: Layout,
    _storage: Arc<Storage>,
}

impl<T: Element> CpuView<T> {
    /// `layout` over `storage`, checked as described in the module docs.
    pub fn new(storage: Arc<Storage>, layout: Layout) -> Result<Self> {
        let base = checked_base::<T>(&storage, &layout)?;
        Ok(CpuView {
            base,
            layout,
            _storage: storage,
        })
    }

    /// The tensor's own storage and layout.
    pub fn of(t: &Tensor) -> Result<Self> {
        let d = t.data();
        Self::new(d.storage, d.layout)
    }

    /// The same elements broadcast to `shape` (stride 0 along new or size-1 dims). The set of
    /// offsets reached does not grow, so the span check still holds.
    pub fn expand(self, shape: &[usize]) -> Result<Self> {
        let layout = self.layout.expand(shape)?;
        Ok(CpuView { layout, ..self })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Element 0 of the storage: valid at every offset the layout maps an index to.
    pub fn base(&self) -> *const T {
        self.base
    }

    /// The element at the layout's offset (where a contiguous view's run begins).
    pub fn start(&self) -> *const T {
        // An offset inside the checked span (or one past a 0-element span) of the allocation.
        self.base.wrapping_add(self.layout.offset)
    }
}

/// Write access to the elements of a CPU tensor through a layout.
pub struct CpuViewMut<T> {
    base: *mut T,
    layout: Layout,
    _storage: Arc<Storage>,
}

impl<T: Element> CpuViewMut<T> {
    /// `layout` over `storage`, checked as described in the module docs.
    pub fn new(storage: Arc<Storage>, layout: Layout) -> Result<Self> {
        let base = checked_base::<T>(&storage, &layout)?;
        Ok(CpuViewMut {
            base,
            layout,
            _storage: storage,
        })
    }

    /// The tensor's own storage and layout.
    pub fn of(t: &Tensor) -> Result<Self> {
        let d = t.data();
        Self::new(d.storage, d.layout)
    }

    /// A new uninitialised contiguous tensor of `shape` and a view to write it through. The
    /// checks hold by construction (fresh CPU storage of exactly the layout's elements), so a
    /// kernel's output costs no span walk.
    pub fn fresh(shape: &[usize]) -> Result<(Tensor, Self)> {
        let t = Tensor::empty(shape, T::DTYPE)?;
        let d = t.data();
        let view = CpuViewMut {
            base: d.storage.cpu_ptr() as *mut T,
            layout: d.layout,
            _storage: d.storage,
        };
        Ok((t, view))
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Element 0 of the storage: valid at every offset the layout maps an index to.
    pub fn base(&self) -> *mut T {
        self.base
    }

    /// The element at the layout's offset (where a contiguous view's run begins).
    pub fn start(&self) -> *mut T {
        self.base.wrapping_add(self.layout.offset)
    }

    /// `Ok` when this view is a contiguous run of exactly `n` elements (the output shape every
    /// map kernel writes).
    pub fn expect_run(&self, n: usize) -> Result<()> {
        if self.layout.is_contiguous() && self.layout.numel() == n {
            Ok(())
        } else {
            Err(Error::runtime(format!(
                "internal error: a CPU kernel writing {} elements was given an output of {} \
                 elements (contiguous: {})",
                n,
                self.layout.numel(),
                self.layout.is_contiguous()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::tensor::Tensor;

    #[test]
    fn checks_dtype_and_span() {
        let t = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        assert!(CpuView::<f32>::of(&t).is_ok());
        assert!(CpuView::<f64>::of(&t).is_err(), "wrong element type");
        // A layout reaching past the 6 stored elements is refused, also through an offset.
        let wide = Layout::contiguous(&[2, 4]);
        assert!(CpuView::<f32>::new(t.storage(), wide).is_err());
        let mut shifted = Layout::contiguous(&[3]);
        shifted.offset = 4;
        assert!(CpuViewMut::<f32>::new(t.storage(), shifted).is_err());
        // A transposed view covers the same span.
        let v = CpuView::<f32>::new(t.storage(), t.layout().transpose(0, 1)).unwrap();
        assert_eq!(v.layout().shape.as_slice(), &[3, 2]);
        let e = Tensor::empty(&[0], DType::I64).unwrap();
        assert!(
            CpuViewMut::<i64>::of(&e).is_ok(),
            "empty tensors have no span"
        );
    }

    #[test]
    fn expand_and_runs() {
        let t = Tensor::from_vec(vec![1i32, 2, 3], &[3, 1]).unwrap();
        let v = CpuView::<i32>::of(&t).unwrap().expand(&[2, 3, 4]).unwrap();
        assert_eq!(v.layout().strides.as_slice(), &[0, 1, 0]);
        let (out, o) = CpuViewMut::<i32>::fresh(&[2, 3, 4]).unwrap();
        assert_eq!(out.dtype(), DType::I32);
        assert!(o.expect_run(24).is_ok());
        assert!(o.expect_run(23).is_err());
        // Negative strides are allowed as long as no offset goes below 0.
        let mut rev = Layout::contiguous(&[6]);
        rev.strides[0] = -1;
        rev.offset = 5;
        assert!(
            CpuView::<f32>::new(out.storage(), rev.clone()).is_err(),
            "i32 storage"
        );
        let f = Tensor::zeros(&[6], DType::F32).unwrap();
        assert!(CpuView::<f32>::new(f.storage(), rev.clone()).is_ok());
        rev.offset = 4;
        assert!(
            CpuView::<f32>::new(f.storage(), rev).is_err(),
            "reaches offset -1"
        );
    }
}
