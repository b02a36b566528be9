//! Batched execution. Ops record compute passes into one shared `CommandEncoder`; it is submitted
//! at sync points (`synchronize`, every readback) or after `MAX_DISPATCHES_PER_SUBMIT` dispatches,
//! never per op.
//!
//! Host-to-device writes: `queue.write_buffer` does not run where it is called in the stream of
//! recorded work. It is queued and executes at the start of the *next* `queue.submit`, i.e. before
//! every command still sitting in the open encoder. Writing straight into a tensor's buffer would
//! therefore overwrite data that earlier-recorded (not yet submitted) kernels were meant to read,
//! e.g. when the pool hands a just-dropped tensor's buffer to a new upload: silent corruption.
//! So every upload goes to a staging buffer (only ever written by `write_buffer` and only returned
//! to its pool after the batch that used it is submitted) and reaches its destination through
//! `copy_buffer_to_buffer` recorded *into the same encoder*, in program order. Kernel parameters
//! take the same staging route and are bound straight from the staging buffer.

use super::buffer::GpuBuffer;
use super::engine::{engine, Engine, PoolKind};
use super::limits::{check_binding_size, spread_grid};
use super::pipelines::Kernel;
use super::stats::{self, COUNTERS};
use crate::error::{Error, Result};
use std::sync::atomic::Ordering;

/// Dispatches recorded before the encoder is submitted without a sync point. A submit costs about
/// as much as a tiny dispatch on lavapipe (~40 us), so a few dozen per submit amortise it, while
/// the GPU still gets work early in long op sequences and staging memory held by the open batch
/// stays bounded.
pub const MAX_DISPATCHES_PER_SUBMIT: usize = 48;

/// Staged upload bytes after which the open batch is submitted (bounds host-side staging memory).
const MAX_STAGED_BYTES: u64 = 64 << 20;

/// Staging buffers are carved into chunks of this size for small uploads and parameters.
const STAGING_CHUNK: u64 = 64 << 10;

/// Op names kept for error messages about a failed batch.
const MAX_OPS_NAMED: usize = 8;

/// The open batch: encoder, what it has recorded, and the staging buffers it still needs.
#[derive(Default)]
pub(crate) struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    dispatches: usize,
    ops: Vec<&'static str>,
    /// Staging buffers referenced by recorded work; released after submit.
    staging: Vec<GpuBuffer>,
    /// The staging chunk small writes are appended to, and its fill level.
    chunk: Option<(GpuBuffer, u64)>,
    staged_bytes: u64,
    /// Elementwise stages recorded but not yet dispatched (`fusion.rs`); dispatched before
    /// anything else enters the encoder.
    pub(crate) chain: super::fusion::Chain,
}

/// A buffer bound to a kernel, with the byte range the kernel may touch (from offset 0).
pub(crate) struct Binding<'a> {
    pub buffer: &'a GpuBuffer,
    pub bytes: u64,
}

impl Engine {
    fn encoder<'b>(&self, batch: &'b mut Batch) -> &'b mut wgpu::CommandEncoder {
        batch.encoder.get_or_insert_with(|| {
            self.ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("rustgrad batch"),
                })
        })
    }

    /// Copy `data` into staging memory (offset aligned to `align`) and return where it lies.
    fn stage(&self, batch: &mut Batch, data: &[u8], align: u64) -> Result<(GpuBuffer, u64)> {
        let len = (data.len() as u64).div_ceil(4) * 4;
        let fits = |c: &(GpuBuffer, u64)| c.1.div_ceil(align) * align + len <= c.0.capacity();
        let (buf, off) = if len > STAGING_CHUNK / 4 {
            // Big uploads get a staging buffer of their own.
            let buf = self.acquire(PoolKind::Staging, len)?;
            batch.staging.push(buf.clone());
            (buf, 0)
        } else {
            if !batch.chunk.as_ref().is_some_and(fits) {
                let buf = self.acquire(PoolKind::Staging, STAGING_CHUNK)?;
                batch.staging.push(buf.clone());
                batch.chunk = Some((buf, 0));
            }
            let chunk = batch.chunk.as_mut().expect("chunk set above");
            let off = chunk.1.div_ceil(align) * align;
            chunk.1 = off + len;
            (chunk.0.clone(), off)
        };
        if len == data.len() as u64 {
            self.ctx.queue.write_buffer(buf.raw(), off, data);
        } else {
            let mut padded = data.to_vec();
            padded.resize(len as usize, 0);
            self.ctx.queue.write_buffer(buf.raw(), off, &padded);
        }
        batch.staged_bytes += len;
        Ok((buf, off))
    }

    /// Write `data` into `dst` at byte `offset`, ordered after all work recorded so far.
    pub(crate) fn write(&self, dst: &GpuBuffer, offset: u64, data: &[u8]) -> Result<()> {
        let len = data.len() as u64;
        if !offset.is_multiple_of(4) || !len.is_multiple_of(4) {
            return Err(Error::runtime(format!(
                "wgpu: writes must be 4-byte aligned (offset {offset}, {len} bytes)"
            )));
        }
        if offset + len > dst.len() {
            return Err(Error::runtime(format!(
                "wgpu: write of {len} bytes at offset {offset} overruns a {}-byte buffer",
                dst.len()
            )));
        }
        if len == 0 {
            return Ok(());
        }
        self.ctx.check("a host-to-device write")?;
        let mut batch = self.batch.lock();
        // A write into a fresh buffer (an upload) may go ahead of the pending chain; one into a
        // buffer the chain reads or produces may not.
        if batch.chain.references(dst) {
            self.materialize(&mut batch)?;
        }
        let (src, src_off) = self.stage(&mut batch, data, 4)?;
        self.encoder(&mut batch)
            .copy_buffer_to_buffer(src.raw(), src_off, dst.raw(), offset, len);
        stats::add(&COUNTERS.bytes_uploaded, len);
        if batch.staged_bytes > MAX_STAGED_BYTES {
            self.flush(&mut batch)?;
        }
        Ok(())
    }

    /// Record a buffer-to-buffer copy (offsets and length 4-byte aligned, ranges in bounds).
    pub(crate) fn copy(
        &self,
        src: &GpuBuffer,
        src_off: u64,
        dst: &GpuBuffer,
        dst_off: u64,
        len: u64,
    ) -> Result<()> {
        if !src_off.is_multiple_of(4) || !dst_off.is_multiple_of(4) || !len.is_multiple_of(4) {
            return Err(Error::runtime(format!(
                "wgpu: buffer copies must be 4-byte aligned (src {src_off}, dst {dst_off}, {len} bytes)"
            )));
        }
        if src_off + len > src.len() || dst_off + len > dst.len() {
            return Err(Error::runtime(format!(
                "wgpu: copy of {len} bytes from offset {src_off} of a {}-byte buffer to offset \
                 {dst_off} of a {}-byte buffer is out of bounds",
                src.len(),
                dst.len()
            )));
        }
        if src.same_buffer(dst) && src_off < dst_off + len && dst_off < src_off + len {
            return Err(Error::runtime("wgpu: overlapping copy within one buffer"));
        }
        if len == 0 {
            return Ok(());
        }
        self.ctx.check("a buffer copy")?;
        let mut batch = self.batch.lock();
        self.materialize(&mut batch)?;
        self.encoder(&mut batch)
            .copy_buffer_to_buffer(src.raw(), src_off, dst.raw(), dst_off, len);
        Ok(())
    }

    /// Record a zero fill of `dst` (whole logical length, rounded up to 4 bytes).
    pub(crate) fn clear(&self, dst: &GpuBuffer) -> Result<()> {
        let len = dst.len().div_ceil(4) * 4;
        if len == 0 {
            return Ok(());
        }
        let mut batch = self.batch.lock();
        self.materialize(&mut batch)?;
        self.encoder(&mut batch)
            .clear_buffer(dst.raw(), 0, Some(len));
        Ok(())
    }

    /// Record one dispatch of `kernel` over `workgroups` workgroups (spread over x/y/z), with
    /// `params` bound at binding 0 and `bindings` at 1, 2, ...
    pub(crate) fn dispatch(
        &self,
        op: &'static str,
        kernel: &Kernel,
        params: &[u32],
        bindings: &[Binding<'_>],
        workgroups: u64,
    ) -> Result<()> {
        let mut batch = self.batch.lock();
        self.materialize(&mut batch)?;
        self.dispatch_locked(&mut batch, op, kernel, params, bindings, workgroups)
    }

    /// [`dispatch`](Self::dispatch) with the batch already locked (and the chain dispatched).
    pub(crate) fn dispatch_locked(
        &self,
        batch: &mut Batch,
        op: &'static str,
        kernel: &Kernel,
        params: &[u32],
        bindings: &[Binding<'_>],
        workgroups: u64,
    ) -> Result<()> {
        if workgroups == 0 {
            return Ok(());
        }
        let limit = self.ctx.limits.max_storage_buffer_binding_size;
        let mut sizes = Vec::with_capacity(bindings.len());
        for (i, b) in bindings.iter().enumerate() {
            let bytes = b.bytes.max(4).div_ceil(4) * 4;
            check_binding_size(op, &format!("binding {}", i + 1), bytes, limit)?;
            if bytes > b.buffer.capacity() {
                return Err(Error::runtime(format!(
                    "wgpu: {op}: binding {} needs {bytes} bytes of a {}-byte buffer",
                    i + 1,
                    b.buffer.capacity()
                )));
            }
            sizes.push(bytes);
        }
        let grid = spread_grid(op, workgroups, self.max_workgroups_per_dimension())?;
        self.ctx.check(op)?;

        let align = self.ctx.limits.min_storage_buffer_offset_alignment as u64;
        let (pbuf, poff) = self.stage(batch, bytemuck::cast_slice(params), align)?;
        let pbytes = (params.len() as u64 * 4).max(4);
        let bind_group = self.ctx.scoped(op, || {
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: pbuf.raw(),
                    offset: poff,
                    size: wgpu::BufferSize::new(pbytes),
                }),
            }];
            for (i, (b, &size)) in bindings.iter().zip(&sizes).enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: b.buffer.raw(),
                        offset: 0,
                        size: wgpu::BufferSize::new(size),
                    }),
                });
            }
            self.ctx
                .device
                .create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(op),
                    layout: &kernel.layout,
                    entries: &entries,
                })
        })?;
        {
            let enc = self.encoder(batch);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(op),
                timestamp_writes: None,
            });
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        }
        batch.dispatches += 1;
        if batch.ops.len() < MAX_OPS_NAMED && !batch.ops.contains(&op) {
            batch.ops.push(op);
        }
        stats::add(&COUNTERS.dispatches, 1);
        if batch.dispatches >= MAX_DISPATCHES_PER_SUBMIT || batch.staged_bytes > MAX_STAGED_BYTES {
            self.flush(batch)?;
        }
        Ok(())
    }

    pub(crate) fn max_workgroups_per_dimension(&self) -> u32 {
        match self.max_workgroups_override.load(Ordering::Relaxed) {
            0 => self.ctx.limits.max_compute_workgroups_per_dimension,
            n => n,
        }
    }

    /// Submit the open batch (if any). Errors recorded into it surface here, naming its ops.
    pub(crate) fn flush(&self, batch: &mut Batch) -> Result<()> {
        self.materialize(batch)?;
        let Some(encoder) = batch.encoder.take() else {
            return Ok(());
        };
        let ops = std::mem::take(&mut batch.ops);
        let dispatches = std::mem::replace(&mut batch.dispatches, 0);
        let what = format!(
            "a batch of {dispatches} dispatches ({}{})",
            ops.join(", "),
            if ops.len() == MAX_OPS_NAMED {
                ", ..."
            } else {
                ""
            }
        );
        let result = self.ctx.scoped(&what, || {
            let cmd = encoder.finish();
            self.ctx.queue.submit([cmd]);
        });
        stats::add(&COUNTERS.submits, 1);
        // The submitted work holds its own references; the staging buffers may be reused by the
        // next batch, whose writes the queue orders after this submission.
        batch.staging.clear();
        batch.chunk = None;
        batch.staged_bytes = 0;
        let _ = self.ctx.device.poll(wgpu::PollType::Poll);
        result
    }

    /// Submit recorded work and wait for the device to finish it. Raises a device error that
    /// recorded index kernels reported (`errors.rs`), reading the error words when one may be set.
    pub(crate) fn synchronize(&self) -> Result<()> {
        self.flush(&mut self.batch.lock())?;
        self.wait("synchronize")?;
        if super::errors::armed() {
            let flag = super::errors::buffer()?;
            self.read_inner(&flag, 0, 4, false)?;
        }
        Ok(())
    }

    fn wait(&self, what: &str) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::runtime(format!("wgpu: waiting for the device in {what}: {e}")))?;
        self.ctx.check(what)
    }

    /// Copy `len` bytes from byte `offset` of `src` to the host, after all recorded work. A sync
    /// point: a device error reported by recorded index kernels is raised here.
    pub(crate) fn read(&self, src: &GpuBuffer, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.read_inner(src, offset, len, true)
    }

    /// [`read`](Self::read), counting the bytes in the stats only when `counted` (the engine's
    /// own error-flag reads are not downloads a script asked for).
    fn read_inner(&self, src: &GpuBuffer, offset: u64, len: u64, counted: bool) -> Result<Vec<u8>> {
        if offset + len > src.len() {
            return Err(Error::runtime(format!(
                "wgpu: read of {len} bytes at offset {offset} overruns a {}-byte buffer",
                src.len()
            )));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        self.ctx.check("a device-to-host read")?;
        let start = offset / 4 * 4;
        let end = (offset + len).div_ceil(4) * 4;
        let span = end - start;
        let mut batch = self.batch.lock();
        self.materialize(&mut batch)?;
        // The device error words ride along in the same readback when a kernel may have set them.
        let flag = super::errors::take_armed();
        let total = span + flag.as_ref().map_or(0, |_| super::errors::BYTES);
        let staging = self.acquire(PoolKind::Readback, total)?;
        {
            let enc = self.encoder(&mut batch);
            enc.copy_buffer_to_buffer(src.raw(), start, staging.raw(), 0, span);
            if let Some(f) = &flag {
                enc.copy_buffer_to_buffer(f.raw(), 0, staging.raw(), span, super::errors::BYTES);
            }
            self.flush(&mut batch)?;
        }
        drop(batch);
        let slice = staging.raw().slice(0..total);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait("a device-to-host read")?;
        let mapped = loop {
            match rx.try_recv() {
                Ok(r) => break r,
                Err(std::sync::mpsc::TryRecvError::Empty) => self.wait("a device-to-host read")?,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return Err(Error::runtime("wgpu: readback mapping was dropped"))
                }
            }
        };
        mapped
            .map_err(|e| Error::runtime(format!("wgpu: mapping a readback buffer failed: {e}")))?;
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::runtime(format!("wgpu: reading a mapped buffer: {e}")))?;
            let lo = (offset - start) as usize;
            let err = flag.as_ref().and_then(|_| {
                let words: Vec<u32> = bytemuck::pod_collect_to_vec(&view[span as usize..]);
                super::errors::decode(&words)
            });
            (view[lo..lo + len as usize].to_vec(), err)
        };
        staging.raw().unmap();
        if counted {
            stats::add(&COUNTERS.bytes_downloaded, len);
        }
        let (out, err) = out;
        if let (Some(e), Some(f)) = (err, &flag) {
            // Reset the words (in stream order) so the next op starts clean, then raise.
            self.clear(f)?;
            return Err(e);
        }
        Ok(out)
    }
}

/// Submit all recorded work and wait for it (like `torch.cuda.synchronize()`).
pub fn synchronize() -> Result<()> {
    engine()?.synchronize()
}
