//! The fused optimizer steps (`optim_*.wgsl`): one dispatch updates a parameter and its state
//! buffers in place, one invocation per element.

use super::{float_type, workgroups, WG, WG_STR};
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{check_view, params, GpuView};

/// The algorithms with a kernel; each names its shader and how many state buffers it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimKernel {
    Sgd,
    Adam,
    Adagrad,
    Adadelta,
    Rmsprop,
}

impl OptimKernel {
    fn shader(self) -> &'static str {
        match self {
            OptimKernel::Sgd => "optim_sgd.wgsl",
            OptimKernel::Adam => "optim_adam.wgsl",
            OptimKernel::Adagrad => "optim_adagrad.wgsl",
            OptimKernel::Adadelta => "optim_adadelta.wgsl",
            OptimKernel::Rmsprop => "optim_rmsprop.wgsl",
        }
    }

    fn name(self) -> &'static str {
        match self {
            OptimKernel::Sgd => "sgd_step",
            OptimKernel::Adam => "adam_step",
            OptimKernel::Adagrad => "adagrad_step",
            OptimKernel::Adadelta => "adadelta_step",
            OptimKernel::Rmsprop => "rmsprop_step",
        }
    }

    /// State buffers the shader binds (s0, s1, ...), present or not.
    fn slots(self) -> usize {
        match self {
            OptimKernel::Sgd | OptimKernel::Adagrad => 1,
            OptimKernel::Adadelta => 2,
            OptimKernel::Adam | OptimKernel::Rmsprop => 3,
        }
    }
}

/// Whether `v` is a plain run of `n` elements from its offset.
fn is_run(v: &GpuView, n: usize) -> bool {
    v.numel() == n
        && v.shape
            .iter()
            .zip(
                crate::shape::contiguous_strides(&v.shape)
                    .iter()
                    .zip(&v.strides),
            )
            .all(|(&d, (r, s))| d == 1 || r == s)
}

/// One step of `kernel` on the contiguous f32 parameter `p` with gradient `g` and state buffers
/// `state` (contiguous, `p`'s element count, distinct buffers; `None` where the configuration
/// has none), with the shader's 8 scalar words. Updates in place.
pub fn fused_step(
    kernel: OptimKernel,
    p: &GpuView,
    g: &GpuView,
    state: &[Option<GpuView>],
    scalars: &[u32; 8],
) -> Result<()> {
    let op = kernel.name();
    let n = p.numel();
    let slots = kernel.slots();
    if state.len() > slots {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {} state buffers given, the kernel has {slots}",
            state.len()
        )));
    }
    for v in std::iter::once(p).chain([g]).chain(state.iter().flatten()) {
        check_view(op, v)?;
        float_type(op, v)?;
        if !is_run(v, n) {
            return Err(Error::runtime(format!(
                "wgpu: {op}: every operand must be contiguous with {n} elements"
            )));
        }
    }
    if n == 0 {
        return Ok(());
    }
    // Absent buffers are bound to dummies the kernel's flags keep unread (every binding the
    // shader declares must be bound, and a buffer may not be both read-only and writable).
    let mut bufs: Vec<(GpuBuffer, usize)> = Vec::with_capacity(slots);
    for k in 0..slots {
        match state.get(k).and_then(|o| o.as_ref()) {
            Some(v) => bufs.push((v.buffer.clone(), v.offset)),
            None => bufs.push((alloc(4)?, 0)),
        }
    }
    let mut p_words = params(op, &[n], &[], scalars)?;
    p_words.extend([p.offset, g.offset].iter().map(|&o| o as u32));
    p_words.extend(bufs.iter().map(|(_, o)| *o as u32));
    p_words.resize(18 + 5, 0);
    let e = engine()?;
    let k = e.kernel(kernel.shader(), &[("WG", WG_STR)])?;
    let mut bind = vec![
        Binding {
            buffer: &p.buffer,
            bytes: p.buffer.len(),
        },
        Binding {
            buffer: &g.buffer,
            bytes: g.buffer.len(),
        },
    ];
    for (b, _) in &bufs {
        bind.push(Binding {
            buffer: b,
            bytes: b.len(),
        });
    }
    e.dispatch(op, &k, &p_words, &bind, workgroups(n, WG))
}
