//! The process-wide engine: the device context plus the buffer pools, the pipeline cache and the
//! open command batch. Created on first use; a failure (no adapter) is remembered and returned as
//! the same error every time.

use super::context::{Context, Options};
use super::encoder::Batch;
use super::pipelines::Kernel;
use super::pool::BucketPool;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, OnceLock};

/// What a pooled buffer is for; each kind has its own pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolKind {
    /// Tensor storage: bound to kernels, copied to and from.
    Storage,
    /// Host data on its way in (tensor uploads and kernel parameters). Kept apart from `Storage`
    /// because a staging buffer is written by `queue.write_buffer`, which runs before the open
    /// encoder's work: it must never be a buffer that recorded-but-unsubmitted work still reads.
    /// Staging buffers only return to their pool after the batch that used them is submitted.
    Staging,
    /// MAP_READ targets for readback.
    Readback,
}

impl PoolKind {
    pub fn usage(self) -> wgpu::BufferUsages {
        use wgpu::BufferUsages as U;
        match self {
            PoolKind::Storage | PoolKind::Staging => U::STORAGE | U::COPY_SRC | U::COPY_DST,
            PoolKind::Readback => U::MAP_READ | U::COPY_DST,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PoolKind::Storage => "rustgrad storage",
            PoolKind::Staging => "rustgrad staging",
            PoolKind::Readback => "rustgrad readback",
        }
    }
}

#[derive(Default)]
pub(crate) struct Pools {
    pub storage: BucketPool<wgpu::Buffer>,
    pub staging: BucketPool<wgpu::Buffer>,
    pub readback: BucketPool<wgpu::Buffer>,
}

impl Pools {
    pub fn get_mut(&mut self, kind: PoolKind) -> &mut BucketPool<wgpu::Buffer> {
        match kind {
            PoolKind::Storage => &mut self.storage,
            PoolKind::Staging => &mut self.staging,
            PoolKind::Readback => &mut self.readback,
        }
    }
}

/// Lock order: `batch` before `pools`; `pools` and `pipelines` are leaves (a `GpuBuffer` dropped
/// while `batch` is held takes `pools`, so nothing may take `batch` while holding `pools`).
pub(crate) struct Engine {
    pub ctx: Context,
    pub pools: Mutex<Pools>,
    pub pipelines: Mutex<HashMap<(&'static str, String), Arc<Kernel>>>,
    pub batch: Mutex<Batch>,
    /// Test hook: when nonzero, replaces the adapter's per-dimension workgroup limit so grid
    /// spreading over x/y/z can be exercised with small dispatches.
    pub max_workgroups_override: AtomicU32,
}

static ENGINE: OnceLock<std::result::Result<Engine, Error>> = OnceLock::new();

/// The engine, opening the device on first use.
pub(crate) fn engine() -> Result<&'static Engine> {
    let e = ENGINE.get_or_init(|| {
        // wgpu should report failures as values, but a panic in a driver shim must not escape.
        std::panic::catch_unwind(|| {
            Options::from_env()
                .and_then(|o| Context::create(&o))
                .map(Engine::new)
        })
        .unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(Error::runtime(format!(
                "wgpu initialisation panicked: {why}"
            )))
        })
    });
    e.as_ref().map_err(Clone::clone)
}

/// The engine if it was already opened (used by drops, which must not open a device).
pub(crate) fn engine_if_open() -> Option<&'static Engine> {
    ENGINE.get().and_then(|r| r.as_ref().ok())
}

impl Engine {
    fn new(ctx: Context) -> Engine {
        Engine {
            ctx,
            pools: Mutex::new(Pools::default()),
            pipelines: Mutex::new(HashMap::new()),
            batch: Mutex::new(Batch::default()),
            max_workgroups_override: AtomicU32::new(0),
        }
    }
}
