//! Engine counters, in the spirit of `torch.cuda.memory_stats()`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the engine counters. Cumulative counts restart at [`reset_stats`]; the byte gauges
/// (`bytes_allocated`, `bytes_reserved`) are current values and are not reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted to the queue.
    pub submits: u64,
    /// Compute pipelines compiled (cache misses).
    pub pipelines_compiled: u64,
    /// wgpu buffers created (pool misses), of every kind: storage, staging, readback.
    pub buffers_created: u64,
    /// Allocations served from the pool.
    pub buffers_reused: u64,
    /// Host-to-device bytes (tensor data and kernel parameters).
    pub bytes_uploaded: u64,
    /// Device-to-host bytes.
    pub bytes_downloaded: u64,
    /// Bytes of storage buffers held by live handles (bucket sizes), like `allocated_bytes.current`.
    pub bytes_allocated: u64,
    /// Highest `bytes_allocated` since the last reset, like `allocated_bytes.peak`.
    pub peak_bytes_allocated: u64,
    /// Bytes of every device buffer the engine holds, live or cached in a pool, like
    /// `reserved_bytes.current`.
    pub bytes_reserved: u64,
    /// Fused elementwise kernels dispatched (chains of one or more stages; `fusion.rs`).
    pub fused_kernels: u64,
    /// Elementwise stages that went into fused chains.
    pub fused_stages: u64,
    /// Stage outputs never written because nothing could read them.
    pub stores_elided: u64,
}

impl Stats {
    /// Name/value pairs in a fixed order (what `rustgrad.wgpu.stats()` turns into a dict).
    pub fn to_pairs(&self) -> [(&'static str, u64); 13] {
        [
            ("dispatches", self.dispatches),
            ("submits", self.submits),
            ("pipelines_compiled", self.pipelines_compiled),
            ("buffers_created", self.buffers_created),
            ("buffers_reused", self.buffers_reused),
            ("bytes_uploaded", self.bytes_uploaded),
            ("bytes_downloaded", self.bytes_downloaded),
            ("bytes_allocated", self.bytes_allocated),
            ("peak_bytes_allocated", self.peak_bytes_allocated),
            ("bytes_reserved", self.bytes_reserved),
            ("fused_kernels", self.fused_kernels),
            ("fused_stages", self.fused_stages),
            ("stores_elided", self.stores_elided),
        ]
    }

    /// `self - earlier` for the cumulative counters (gauges keep `self`'s values).
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            dispatches: self.dispatches - earlier.dispatches,
            submits: self.submits - earlier.submits,
            pipelines_compiled: self.pipelines_compiled - earlier.pipelines_compiled,
            buffers_created: self.buffers_created - earlier.buffers_created,
            buffers_reused: self.buffers_reused - earlier.buffers_reused,
            bytes_uploaded: self.bytes_uploaded - earlier.bytes_uploaded,
            bytes_downloaded: self.bytes_downloaded - earlier.bytes_downloaded,
            fused_kernels: self.fused_kernels - earlier.fused_kernels,
            fused_stages: self.fused_stages - earlier.fused_stages,
            stores_elided: self.stores_elided - earlier.stores_elided,
            ..*self
        }
    }
}

pub(crate) struct Counters {
    pub dispatches: AtomicU64,
    pub submits: AtomicU64,
    pub pipelines_compiled: AtomicU64,
    pub buffers_created: AtomicU64,
    pub buffers_reused: AtomicU64,
    pub bytes_uploaded: AtomicU64,
    pub bytes_downloaded: AtomicU64,
    pub bytes_allocated: AtomicU64,
    pub peak_bytes_allocated: AtomicU64,
    pub bytes_reserved: AtomicU64,
    pub fused_kernels: AtomicU64,
    pub fused_stages: AtomicU64,
    pub stores_elided: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    dispatches: AtomicU64::new(0),
    submits: AtomicU64::new(0),
    pipelines_compiled: AtomicU64::new(0),
    buffers_created: AtomicU64::new(0),
    buffers_reused: AtomicU64::new(0),
    bytes_uploaded: AtomicU64::new(0),
    bytes_downloaded: AtomicU64::new(0),
    bytes_allocated: AtomicU64::new(0),
    peak_bytes_allocated: AtomicU64::new(0),
    bytes_reserved: AtomicU64::new(0),
    fused_kernels: AtomicU64::new(0),
    fused_stages: AtomicU64::new(0),
    stores_elided: AtomicU64::new(0),
};

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

pub(crate) fn sub(counter: &AtomicU64, n: u64) {
    counter.fetch_sub(n, Relaxed);
}

pub(crate) fn allocated(n: u64) {
    let now = COUNTERS.bytes_allocated.fetch_add(n, Relaxed) + n;
    COUNTERS.peak_bytes_allocated.fetch_max(now, Relaxed);
}

/// The current counters. All zero before the engine is first used.
pub fn stats() -> Stats {
    let c = &COUNTERS;
    Stats {
        dispatches: c.dispatches.load(Relaxed),
        submits: c.submits.load(Relaxed),
        pipelines_compiled: c.pipelines_compiled.load(Relaxed),
        buffers_created: c.buffers_created.load(Relaxed),
        buffers_reused: c.buffers_reused.load(Relaxed),
        bytes_uploaded: c.bytes_uploaded.load(Relaxed),
        bytes_downloaded: c.bytes_downloaded.load(Relaxed),
        bytes_allocated: c.bytes_allocated.load(Relaxed),
        peak_bytes_allocated: c.peak_bytes_allocated.load(Relaxed),
        bytes_reserved: c.bytes_reserved.load(Relaxed),
        fused_kernels: c.fused_kernels.load(Relaxed),
        fused_stages: c.fused_stages.load(Relaxed),
        stores_elided: c.stores_elided.load(Relaxed),
    }
}

/// Zero the cumulative counters and set the peak to the current allocation (like
/// `torch.cuda.reset_peak_memory_stats` plus `reset_accumulated_memory_stats`).
pub fn reset_stats() {
    let c = &COUNTERS;
    for a in [
        &c.dispatches,
        &c.submits,
        &c.pipelines_compiled,
        &c.buffers_created,
        &c.buffers_reused,
        &c.bytes_uploaded,
        &c.bytes_downloaded,
        &c.fused_kernels,
        &c.fused_stages,
        &c.stores_elided,
    ] {
        a.store(0, Relaxed);
    }
    c.peak_bytes_allocated
        .store(c.bytes_allocated.load(Relaxed), Relaxed);
}
