//! The wgpu GPU engine: one device per process, WGSL kernels from `shaders/`, a pipeline cache,
//! a size-bucketed buffer pool, batched submits and counters. Self-contained: nothing outside
//! this module depends on it yet; the device seam (`kernels/<family>.rs` matching on storage)
//! will call [`kernels`] with [`GpuView`]s built from a tensor's storage and layout.
//!
//! Execution is asynchronous: kernel functions record into one command encoder and return;
//! [`read`] and [`synchronize`] are the sync points that submit and wait.
//!
//! Op enums: [`ops`] lists the device's kernels by name (the WGSL bodies are in
//! `shaders/ops.txt`); the ops themselves are the device-neutral enums of `crate::ops`
//! (`ops/kinds.rs`), which the seam (`kernels::gpu`) maps onto this list, passing scalar
//! parameters as kernel scalars.

mod buffer;
mod context;
mod encoder;
mod engine;
mod errors;
mod fusion;
pub mod kernels;
mod limits;
pub mod ops;
mod pipelines;
mod pool;
mod stats;
mod template;
mod view;

#[cfg(test)]
mod tests;

pub use buffer::{alloc, GpuBuffer};
pub use context::{parse_backends, AdapterInfo};
pub use encoder::{synchronize, MAX_DISPATCHES_PER_SUBMIT};
pub use errors::IndexOp;
pub use fusion::{fusion_enabled, set_fusion_enabled, Input};
pub use limits::{check_binding_size, spread_grid};
pub use ops::{BinaryOp, CompareOp, ReduceOp, UnaryOp};
pub use pool::bucket_size;
pub use stats::{reset_stats, stats, Stats};
pub use template::{render, substitute, variant_key};
pub use view::{device_elem_size, GpuView, MAX_DIMS};

use crate::error::Result;
use engine::engine;

/// Whether a usable adapter exists (opens the device on first call; never panics).
pub fn is_available() -> bool {
    engine().is_ok()
}

/// The adapter in use, or the reason there is none ("no wgpu adapter found ...").
pub fn adapter_info() -> Result<AdapterInfo> {
    Ok(engine()?.ctx.info.clone())
}

/// A storage buffer holding `data` (length rounded up to 4 bytes with zeros).
pub fn upload(data: &[u8]) -> Result<GpuBuffer> {
    if !data.len().is_multiple_of(4) {
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(4) * 4, 0);
        return upload(&padded);
    }
    let buf = alloc(data.len() as u64)?;
    write(&buf, 0, data)?;
    Ok(buf)
}

/// `upload` of f32 values.
pub fn upload_f32(data: &[f32]) -> Result<GpuBuffer> {
    upload(bytemuck::cast_slice(data))
}

/// A storage buffer of `bytes` zero bytes.
pub fn zeros(bytes: u64) -> Result<GpuBuffer> {
    let buf = alloc(bytes)?;
    engine()?.clear(&buf)?;
    Ok(buf)
}

/// Write `data` at byte `offset` of `dst` (both multiples of 4), ordered after all work already
/// recorded: kernels recorded earlier still see the old contents.
pub fn write(dst: &GpuBuffer, offset: u64, data: &[u8]) -> Result<()> {
    engine()?.write(dst, offset, data)
}

/// Read `len` bytes at byte `offset` of `src` (a sync point: submits and waits).
pub fn read(src: &GpuBuffer, offset: u64, len: u64) -> Result<Vec<u8>> {
    engine()?.read(src, offset, len)
}

/// Read `n` f32 values starting at element `offset`.
pub fn read_f32(src: &GpuBuffer, offset: usize, n: usize) -> Result<Vec<f32>> {
    let bytes = read(src, offset as u64 * 4, n as u64 * 4)?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Read `n` u32 values (bool results) starting at element `offset`.
pub fn read_u32(src: &GpuBuffer, offset: usize, n: usize) -> Result<Vec<u32>> {
    let bytes = read(src, offset as u64 * 4, n as u64 * 4)?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Free the pool's cached buffers (like `torch.cuda.empty_cache()`).
pub fn empty_cache() -> Result<()> {
    engine()?.empty_cache();
    Ok(())
}
