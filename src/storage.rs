//! Reference-counted element storage shared by a tensor and all of its views.
//!
//! CPU memory is a 64-byte aligned raw buffer (so SIMD kernels can use aligned loads), or memory
//! borrowed from another owner (a NumPy array for `from_numpy`). Large buffers go back to a small
//! size-bucketed cache when freed, so a training loop does not page-fault fresh memory every op.

use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout as AllocLayout};
use std::any::Any;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

const ALIGN: usize = 64;
/// Buffers at least this large are recycled through the cache.
const POOL_MIN_BYTES: usize = 1 << 16;
/// The cache never holds more than this many bytes.
const POOL_MAX_BYTES: usize = 1 << 30;
/// Refuse single allocations above this: a clear error beats the OOM killer.
const MAX_ALLOC_BYTES: usize = 1 << 46;

struct BufferCache {
    free: Vec<(usize, NonNull<u8>)>,
    bytes: usize,
}
// SAFETY: the cached pointers are plain heap blocks owned by the cache.
unsafe impl Send for BufferCache {}

static CACHE: Mutex<BufferCache> = Mutex::new(BufferCache {
    free: Vec::new(),
    bytes: 0,
});

/// Round large sizes up to a size class (1/8 steps of a power of two) so freed blocks can be reused.
fn size_class(bytes: usize) -> usize {
    if bytes < POOL_MIN_BYTES {
        return bytes.max(1);
    }
    let p = usize::BITS - 1 - bytes.leading_zeros();
    let step = 1usize << (p.saturating_sub(3));
    bytes.div_ceil(step) * step
}

/// PyTorch's message for a failed CPU allocation.
fn alloc_error(bytes: usize) -> Error {
    Error::oom(format!(
        "[enforce fail at alloc_cpu] DefaultCPUAllocator: can't allocate memory: you tried to allocate {} bytes.",
        bytes
    ))
}

fn raw_alloc(bytes: usize, zeroed: bool) -> Result<NonNull<u8>> {
    if bytes > MAX_ALLOC_BYTES {
        return Err(alloc_error(bytes));
    }
    if bytes >= POOL_MIN_BYTES {
        let mut c = CACHE.lock();
        if let Some(i) = c.free.iter().position(|&(b, _)| b == bytes) {
            let (_, p) = c.free.swap_remove(i);
            c.bytes -= bytes;
            drop(c);
            if zeroed {
                // SAFETY: p is a live block of `bytes` bytes that we now own.
                unsafe { std::ptr::write_bytes(p.as_ptr(), 0, bytes) };
            }
            return Ok(p);
        }
    }
    let layout =
        AllocLayout::from_size_align(bytes, ALIGN).map_err(|e| Error::oom(e.to_string()))?;
    // SAFETY: layout has non-zero size (size_class returns >= 1).
    let p = unsafe {
        if zeroed {
            alloc_zeroed(layout)
        } else {
            alloc(layout)
        }
    };
    NonNull::new(p).ok_or_else(|| alloc_error(bytes))
}

fn raw_free(p: NonNull<u8>, bytes: usize) {
    if bytes >= POOL_MIN_BYTES {
        let mut c = CACHE.lock();
        if c.bytes + bytes <= POOL_MAX_BYTES {
            c.free.push((bytes, p));
            c.bytes += bytes;
            return;
        }
    }
    // SAFETY: p was allocated by raw_alloc with this size and alignment.
    unsafe {
        dealloc(
            p.as_ptr(),
            AllocLayout::from_size_align_unchecked(bytes, ALIGN),
        )
    };
}

/// Who frees the memory.
enum Owner {
    /// Our allocator; `bytes` is the allocated size class.
    Own { bytes: usize },
    /// Someone else's memory, kept alive by this handle (e.g. a NumPy array).
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
}

/// A CPU buffer of `len` elements of `dtype`.
pub struct CpuBuffer {
    ptr: NonNull<u8>,
    len: usize,
    owner: Owner,
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if let Owner::Own { bytes } = self.owner {
            raw_free(self.ptr, bytes);
        }
    }
}

/// A wgpu device buffer holding `len` elements. 4-byte dtypes are stored as is; bool and uint8
/// are widened to one u32 per element (WGSL has no byte type); int64 is stored raw, as two u32
/// words per element; float64 never reaches the device (see `crate::kernels::transfer`).
#[cfg(feature = "wgpu")]
pub struct WgpuBuffer {
    pub buffer: crate::wgpu::GpuBuffer,
    len: usize,
}

/// Device memory behind a tensor. New backends add variants here.
pub enum StorageData {
    Cpu(CpuBuffer),
    #[cfg(feature = "wgpu")]
    Wgpu(WgpuBuffer),
}

/// Storage shared by views. Writes go through raw pointers, as in PyTorch: two views may alias and
/// in-place ops write through either, so no Rust borrow can describe it. The version counter is
/// bumped by every in-place write so autograd can detect modified saved tensors.
pub struct Storage {
    data: UnsafeCell<StorageData>,
    dtype: DType,
    version: AtomicU64,
    /// Buffers this storage has moved out of (`share_memory_`), kept until the storage dies so a
    /// kernel that already holds their pointer never touches freed memory.
    retired: Mutex<Vec<StorageData>>,
}

// SAFETY: element memory is plain data; concurrent writes are prevented at the Python level by the
// GIL or are the user's race, exactly as in PyTorch. No Rust references into it outlive a kernel.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    /// Uninitialised storage of `len` elements (contents unspecified, like `torch.empty`).
    pub fn empty(dtype: DType, len: usize) -> Result<Storage> {
        Self::alloc(dtype, len, false)
    }

    pub fn zeros(dtype: DType, len: usize) -> Result<Storage> {
        Self::alloc(dtype, len, true)
    }

    fn alloc(dtype: DType, len: usize, zeroed: bool) -> Result<Storage> {
        let bytes = crate::shape::checked_bytes(&[len], dtype.size())?;
        if bytes > MAX_ALLOC_BYTES {
            return Err(alloc_error(bytes));
        }
        let bytes = size_class(bytes);
        let ptr = raw_alloc(bytes, zeroed)?;
        Ok(Storage {
            data: UnsafeCell::new(StorageData::Cpu(CpuBuffer {
                ptr,
                len,
                owner: Owner::Own { bytes },
            })),
            dtype,
            version: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
        })
    }

    /// Storage filled from a Vec.
    pub fn from_vec<T: Element>(v: Vec<T>) -> Result<Storage> {
        let s = Self::empty(T::DTYPE, v.len())?;
        // SAFETY: fresh buffer of exactly v.len() elements of T.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), s.cpu_ptr() as *mut T, v.len()) };
        Ok(s)
    }

    /// Storage of `len` elements, element `i` being `f(i)`. The buffer is allocated fallibly
    /// first, so a user-sized request that cannot be met is an error, never an abort (a `Vec`
    /// of the same size would abort the process on allocation failure).
    pub fn from_fn<T: Element>(len: usize, f: impl Fn(usize) -> T) -> Result<Storage> {
        let s = Self::empty(T::DTYPE, len)?;
        let p = s.cpu_ptr() as *mut T;
        for i in 0..len {
            // SAFETY: fresh buffer of exactly `len` elements of T, written once each.
            unsafe { p.add(i).write(f(i)) };
        }
        Ok(s)
    }

    /// Wrap foreign memory without copying.
    ///
    /// # Safety
    /// `ptr` must be valid for `len` elements of `dtype`, suitably aligned, for as long as
    /// `keepalive` lives.
    pub unsafe fn from_external(
        dtype: DType,
        ptr: *mut u8,
        len: usize,
        keepalive: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::dangling());
        Storage {
            data: UnsafeCell::new(StorageData::Cpu(CpuBuffer {
                ptr,
                len,
                owner: Owner::External(keepalive),
            })),
            dtype,
            version: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// Storage living in a wgpu buffer (`len` elements of `dtype`, in the device encoding
    /// described at [`WgpuBuffer`]).
    #[cfg(feature = "wgpu")]
    pub fn from_gpu(dtype: DType, len: usize, buffer: crate::wgpu::GpuBuffer) -> Storage {
        Storage {
            data: UnsafeCell::new(StorageData::Wgpu(WgpuBuffer { buffer, len })),
            dtype,
            version: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The device buffer, for wgpu storage.
    #[cfg(feature = "wgpu")]
    pub fn gpu_buffer(&self) -> Option<&crate::wgpu::GpuBuffer> {
        match self.data() {
            StorageData::Wgpu(b) => Some(&b.buffer),
            StorageData::Cpu(_) => None,
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> Device {
        match self.data() {
            StorageData::Cpu(_) => Device::Cpu,
            #[cfg(feature = "wgpu")]
            StorageData::Wgpu(_) => Device::Wgpu(0),
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self.data(), StorageData::Cpu(_))
    }

    fn data(&self) -> &StorageData {
        // SAFETY: we never hand out &mut StorageData; the enum is replaced only by
        // `move_to_external`, which keeps the old value alive (see there).
        unsafe { &*self.data.get() }
    }

    /// Copy the contents into foreign memory and make that memory this storage's buffer, so every
    /// tensor viewing the storage now reads and writes it (`Tensor.share_memory_()`). The old
    /// buffer is kept until the storage is dropped, so a pointer taken before the move stays
    /// valid (its later writes are lost, as with any unsynchronised race on one tensor).
    ///
    /// # Safety
    /// The storage must be CPU storage; `ptr` must be valid for `self.len()` elements of
    /// `self.dtype()`, suitably aligned, not overlap the current buffer, and live as long as
    /// `keepalive`. No `&StorageData` obtained through `data()` may be held across the call
    /// (the bindings hold the GIL, and no kernel keeps one beyond its own call).
    pub unsafe fn move_to_external(&self, ptr: *mut u8, keepalive: Box<dyn Any + Send + Sync>) {
        let len = self.len();
        let bytes = len * self.dtype.size();
        if bytes > 0 {
            std::ptr::copy_nonoverlapping(self.cpu_ptr() as *const u8, ptr, bytes);
        }
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::dangling());
        let new = StorageData::Cpu(CpuBuffer {
            ptr,
            len,
            owner: Owner::External(keepalive),
        });
        let old = std::mem::replace(&mut *self.data.get(), new);
        self.retired.lock().push(old);
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self.data() {
            StorageData::Cpu(b) => b.len,
            #[cfg(feature = "wgpu")]
            StorageData::Wgpu(b) => b.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Raw base pointer of CPU memory.
    ///
    /// # Panics
    /// On device storage. Ops check devices at their dispatch point (`crate::kernels`) so no CPU
    /// kernel sees a device tensor; this panic is the last line of defence against handing a
    /// kernel a pointer it must not dereference. Its payload is a NotImplemented [`Error`], which
    /// the Python bindings' panic guard raises as `NotImplementedError`.
    pub fn cpu_ptr(&self) -> *mut u8 {
        match self.data() {
            StorageData::Cpu(b) => b.ptr.as_ptr(),
            #[cfg(feature = "wgpu")]
            StorageData::Wgpu(_) => std::panic::panic_any(Error::not_implemented(format!(
                "a CPU kernel was handed a tensor on the {} device: this operator is not \
                 currently implemented for the wgpu device (move the tensor with .cpu() first)",
                self.device().full_name()
            ))),
        }
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Record an in-place write.
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_and_reuse() {
        let s = Storage::zeros(DType::F32, 100_000).unwrap();
        assert_eq!(s.len(), 100_000);
        let p = s.cpu_ptr();
        assert_eq!(p as usize % ALIGN, 0);
        drop(s);
        let s2 = Storage::zeros(DType::F32, 100_000).unwrap();
        // SAFETY: 100_000 zeroed f32s.
        let v = unsafe { std::slice::from_raw_parts(s2.cpu_ptr() as *const f32, 100_000) };
        assert!(v.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn absurd_sizes_fail_cleanly() {
        assert!(Storage::empty(DType::F32, 1 << 50).is_err());
        assert!(Storage::empty(DType::F64, usize::MAX / 2).is_err());
    }

    #[test]
    fn size_classes_cover_request() {
        for b in [1usize, 100, 65536, 70000, 1 << 20, (1 << 20) + 1] {
            assert!(size_class(b) >= b);
        }
    }
}
