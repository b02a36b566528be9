//! The device error flag: how a kernel reports an out-of-range index it cannot raise.
//!
//! A compute shader has no way to stop and raise, and reading the error back after every op would
//! be a sync per op. So, like CUDA's deferred device-side asserts, an index kernel that meets a bad
//! index skips it (never reading or writing out of bounds) and records what it saw in one small
//! engine-wide buffer: `[code, index lo, index hi, dim, size, ...]`, the first reporter winning
//! through an atomic compare-exchange on the code word. The next sync point (`Engine::read`,
//! `synchronize`) reads the words along with its own readback, resets them, and raises the error
//! in the shape of PyTorch's CPU message. Only batches that ran such a kernel pay for the check
//! (the flag is "armed" after each dispatch that binds the buffer).

use super::buffer::{alloc, GpuBuffer};
use super::engine::engine;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Bytes of the error buffer (8 words; `shaders/index.wgsl` writes words 0..5).
pub(crate) const BYTES: u64 = 32;

/// Which op reported, and so which of PyTorch's messages the error gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum IndexOp {
    /// index_select / embedding: IndexError "index out of range in self".
    IndexSelect = 1,
    /// gather: RuntimeError "index i is out of bounds for dimension d with size n".
    Gather = 2,
    /// scatter / scatter_add: as gather.
    Scatter = 3,
    /// index_add: IndexError for a negative index, else as gather.
    IndexAdd = 4,
    /// Advanced indexing `x[idx]`: IndexError "index i is out of bounds for dimension d with size n".
    Index = 5,
    /// Writes at storage offsets (`x[idx] = v`): IndexError "index out of range in self".
    Put = 6,
}

impl IndexOp {
    fn from_code(code: u32) -> Option<IndexOp> {
        use IndexOp::*;
        [IndexSelect, Gather, Scatter, IndexAdd, Index, Put]
            .into_iter()
            .find(|op| *op as u32 == code)
    }
}

static BUFFER: OnceLock<GpuBuffer> = OnceLock::new();
static CREATE: Mutex<()> = Mutex::new(());
static ARMED: AtomicBool = AtomicBool::new(false);

/// The error buffer, created (zeroed, in stream order) on first use.
pub(crate) fn buffer() -> Result<GpuBuffer> {
    if let Some(b) = BUFFER.get() {
        return Ok(b.clone());
    }
    let _once = CREATE.lock();
    if let Some(b) = BUFFER.get() {
        return Ok(b.clone());
    }
    let b = alloc(BYTES)?;
    engine()?.clear(&b)?;
    let _ = BUFFER.set(b.clone());
    Ok(b)
}

/// Mark that recorded work may have reported an error. Called after the dispatch is recorded, so
/// a sync point that clears the mark has that dispatch in the batch it submits.
pub(crate) fn arm() {
    ARMED.store(true, Ordering::Release);
}

/// Whether a check is pending.
pub(crate) fn armed() -> bool {
    ARMED.load(Ordering::Acquire)
}

/// Clear the mark and return the buffer to read back when one was set (called under the batch
/// lock, right before the readback copy is recorded).
pub(crate) fn take_armed() -> Option<GpuBuffer> {
    if ARMED.swap(false, Ordering::AcqRel) {
        BUFFER.get().cloned()
    } else {
        None
    }
}

/// The error the words read back describe, if any.
pub(crate) fn decode(words: &[u32]) -> Option<Error> {
    let code = *words.first()?;
    if code == 0 {
        return None;
    }
    let index = (u64::from(words[1]) | (u64::from(words[2]) << 32)) as i64;
    let (dim, size) = (words[3], words[4]);
    let bounds = format!("index {index} is out of bounds for dimension {dim} with size {size}");
    Some(match IndexOp::from_code(code) {
        Some(IndexOp::IndexSelect) | Some(IndexOp::Put) => {
            Error::index("index out of range in self")
        }
        Some(IndexOp::Gather) | Some(IndexOp::Scatter) => Error::runtime(bounds),
        Some(IndexOp::IndexAdd) if index < 0 => Error::index("index out of range in self"),
        Some(IndexOp::IndexAdd) => Error::runtime(bounds),
        Some(IndexOp::Index) => Error::index(bounds),
        None => Error::runtime(format!(
            "wgpu: a kernel reported an unknown device error (code {code})"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn decodes_pytorch_messages() {
        assert!(decode(&[0; 8]).is_none());
        let e = decode(&[2, 7, 0, 0, 5, 0, 0, 0]).unwrap();
        assert_eq!(e.kind, ErrorKind::Runtime);
        assert_eq!(
            e.msg,
            "index 7 is out of bounds for dimension 0 with size 5"
        );
        // The index travels as two's-complement words.
        let e = decode(&[5, (-3i32) as u32, u32::MAX, 1, 2, 0, 0, 0]).unwrap();
        assert_eq!(e.kind, ErrorKind::Index);
        assert_eq!(
            e.msg,
            "index -3 is out of bounds for dimension 1 with size 2"
        );
        let e = decode(&[4, u32::MAX, u32::MAX, 0, 3, 0, 0, 0]).unwrap();
        assert_eq!(
            (e.kind, e.msg.as_str()),
            (ErrorKind::Index, "index out of range in self")
        );
    }
}
