//! `GpuBuffer`: a shared handle to a pooled device buffer. Dropping the last handle gives the
//! buffer back to its pool; work already recorded against it stays valid, because every later
//! write to a reused buffer is recorded into the same command stream, after that work.

use super::engine::{engine, engine_if_open, Engine, PoolKind};
use super::pool::{bucket_size, fmt_bytes, Acquired, CreateError};
use super::stats::{self, COUNTERS};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A device buffer of `len()` bytes (dtype-agnostic). Cloning shares the buffer.
#[derive(Clone)]
pub struct GpuBuffer {
    slot: Arc<Slot>,
}

struct Slot {
    raw: wgpu::Buffer,
    len: u64,
    bucket: u64,
    kind: PoolKind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(e) = engine_if_open() {
            e.release(self.kind, self.bucket, self.raw.clone());
        }
    }
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GpuBuffer({} bytes, {:?})",
            self.slot.len, self.slot.kind
        )
    }
}

impl GpuBuffer {
    /// Bytes requested (the logical size).
    pub fn len(&self) -> u64 {
        self.slot.len
    }

    /// Whether the logical size is zero.
    pub fn is_empty(&self) -> bool {
        self.slot.len == 0
    }

    /// Bytes actually allocated (the pool bucket).
    pub fn capacity(&self) -> u64 {
        self.slot.bucket
    }

    /// Whether two handles share one buffer.
    pub fn same_buffer(&self, other: &GpuBuffer) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot)
    }

    /// Whether this is the only handle on the buffer (no tensor or kernel can still reach it).
    pub(crate) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.slot) == 1
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        &self.slot.raw
    }
}

impl Engine {
    /// A pooled buffer of at least `bytes` bytes of the given kind. Contents are unspecified.
    pub(crate) fn acquire(&self, kind: PoolKind, bytes: u64) -> Result<GpuBuffer> {
        let max = self.ctx.limits.max_buffer_size;
        if bytes > max {
            return Err(Error::runtime(format!(
                "wgpu: a buffer of {} exceeds this adapter's max_buffer_size of {}",
                fmt_bytes(bytes),
                fmt_bytes(max)
            )));
        }
        self.ctx.check("allocating a buffer")?;
        let bucket = bucket_size(bytes, max);
        let (raw, how) = self
            .pools
            .lock()
            .get_mut(kind)
            .acquire(bytes, bucket, |size| self.create_raw(kind, size))?;
        match how {
            Acquired::Reused => stats::add(&COUNTERS.buffers_reused, 1),
            Acquired::Created { freed } => {
                stats::add(&COUNTERS.buffers_created, 1);
                stats::add(&COUNTERS.bytes_reserved, bucket);
                stats::sub(&COUNTERS.bytes_reserved, freed);
            }
        }
        if kind == PoolKind::Storage {
            stats::allocated(bucket);
        }
        Ok(GpuBuffer {
            slot: Arc::new(Slot {
                raw,
                len: bytes,
                bucket,
                kind,
            }),
        })
    }

    fn create_raw(
        &self,
        kind: PoolKind,
        size: u64,
    ) -> std::result::Result<wgpu::Buffer, CreateError> {
        let (buf, err) = self.ctx.capture(|| {
            self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(kind.label()),
                size,
                usage: kind.usage(),
                mapped_at_creation: false,
            })
        });
        match err {
            None => Ok(buf),
            Some(e @ wgpu::Error::OutOfMemory { .. }) => {
                Err(CreateError::OutOfMemory(e.to_string()))
            }
            Some(e) => Err(CreateError::Other(super::context::wgpu_error(
                "allocating a buffer",
                &e,
            ))),
        }
    }

    fn release(&self, kind: PoolKind, bucket: u64, raw: wgpu::Buffer) {
        self.pools.lock().get_mut(kind).release(bucket, raw);
        if kind == PoolKind::Storage {
            stats::sub(&COUNTERS.bytes_allocated, bucket);
        }
    }

    /// Free every cached buffer (like `torch.cuda.empty_cache()`); live buffers are untouched.
    pub(crate) fn empty_cache(&self) {
        let mut pools = self.pools.lock();
        let freed = pools.storage.clear() + pools.staging.clear() + pools.readback.clear();
        stats::sub(&COUNTERS.bytes_reserved, freed);
    }
}

/// A storage buffer of `bytes` bytes with unspecified contents (like `torch.empty`).
pub fn alloc(bytes: u64) -> Result<GpuBuffer> {
    engine()?.acquire(PoolKind::Storage, bytes)
}
