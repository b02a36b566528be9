//! 64-byte aligned, per-thread packing buffers that are reused across calls.

use std::alloc::{alloc, dealloc, Layout};
use std::cell::Cell;
use std::ptr::NonNull;

/// Cache-line (and zmm) alignment, so packed panels can use aligned loads
/// and never straddle lines.
const ALIGN: usize = 64;

/// A growable, uninitialised, 64-byte aligned byte buffer.
pub(super) struct AlignedBuf {
    ptr: NonNull<u8>,
    bytes: usize,
}

// SAFETY: the buffer exclusively owns its allocation; nothing is shared.
unsafe impl Send for AlignedBuf {}

impl Default for AlignedBuf {
    fn default() -> Self {
        AlignedBuf {
            ptr: NonNull::dangling(),
            bytes: 0,
        }
    }
}

impl AlignedBuf {
    /// Returns a pointer to at least `bytes` bytes, reallocating (without
    /// preserving contents) only when the buffer is too small.
    fn ensure(&mut self, bytes: usize) -> *mut u8 {
        if bytes > self.bytes {
            self.release();
            // Grow geometrically and in whole pages so that slowly growing
            // shapes do not reallocate on every call.
            let want = bytes.max(self.bytes * 2).next_multiple_of(4096);
            let layout = Layout::from_size_align(want, ALIGN).expect("gemm buffer size overflow");
            // SAFETY: `layout` has non-zero size.
            let p = unsafe { alloc(layout) };
            self.ptr = NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
            self.bytes = want;
        }
        self.ptr.as_ptr()
    }

    fn release(&mut self) {
        if self.bytes != 0 {
            // SAFETY: `ptr` was allocated in `ensure` with exactly this layout.
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.bytes, ALIGN),
                )
            };
            self.ptr = NonNull::dangling();
            self.bytes = 0;
        }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        self.release();
    }
}

thread_local! {
    static A_BUF: Cell<AlignedBuf> = Cell::new(AlignedBuf::default());
    static B_BUF: Cell<AlignedBuf> = Cell::new(AlignedBuf::default());
    static OPERAND_BUF: Cell<AlignedBuf> = Cell::new(AlignedBuf::default());
}

/// Which per-thread buffer to borrow. A and B use separate buffers because
/// the thread that packs B also packs A blocks while B is live.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    A,
    B,
    /// Scratch of an operand that packs itself (`Panels`), live while A or B is being packed.
    Operand,
}

/// Runs `f` with a 64-byte aligned scratch area of at least `len` `T`s.
///
/// The buffer is moved out of the thread-local while `f` runs, so a nested
/// call on the same thread (a GEMM inside a kernel that itself runs inside
/// a GEMM's parallel job) just gets a fresh buffer instead of
/// aliasing this one.
pub(super) fn with_buf<T, R>(slot: Slot, len: usize, f: impl FnOnce(*mut T) -> R) -> R {
    let key = match slot {
        Slot::A => &A_BUF,
        Slot::B => &B_BUF,
        Slot::Operand => &OPERAND_BUF,
    };
    let mut buf = key.take();
    let bytes = len
        .checked_mul(size_of::<T>())
        .expect("gemm buffer size overflow");
    let p = buf.ensure(bytes.max(1)) as *mut T;
    let r = f(p);
    // Keep whichever buffer is larger if a nested call also stored one.
    let nested = key.take();
    key.set(if nested.bytes > buf.bytes {
        nested
    } else {
        buf
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_reused() {
        let p1 = with_buf::<f32, _>(Slot::A, 100, |p| {
            assert_eq!(p as usize % ALIGN, 0);
            p as usize
        });
        let p2 = with_buf::<f32, _>(Slot::A, 50, |p| p as usize);
        assert_eq!(p1, p2);
        // Nested use of the same slot gets a distinct buffer.
        with_buf::<f64, _>(Slot::B, 10, |outer| {
            with_buf::<f64, _>(Slot::B, 10, |inner| assert_ne!(outer, inner));
        });
    }
}
