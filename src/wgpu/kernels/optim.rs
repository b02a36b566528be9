//! The fused optimizer steps (`optim_*.wgsl`): one dispatch updates a parameter and its state
//! buffers in place, one invocation per element ([`fused_step`]), or updates several parameters of
//! a group at once ([`fused_group_step`], SGD and Adam/AdamW).
//!
//! Why the group kernel binds each parameter's own buffers instead of packing: parameters, grads
//! and state are separate pool buffers, and gathering them into one arena (then scattering the
//! results back) would cost two copies of every operand per step, more than the dispatches it
//! saves. WGSL cannot index an array of buffers without a native-only binding-array feature, so the
//! shader declares `SLOTS x NOPS` bindings and a switch picks the buffer; each parameter starts on
//! its own workgroup, so a workgroup takes one branch. The slot count comes from the adapter's
//! `max_storage_buffers_per_shader_stage` and `max_bindings_per_bind_group` (queried, not assumed)
//! and larger groups are split into several dispatches.

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
            // SGD's rule (optim_sgd_rule.wgsl) goes through the shared accessors, whose switch
            // references all three state bindings; only s0 is ever read.
            OptimKernel::Adagrad => 1,
            OptimKernel::Adadelta => 2,
            OptimKernel::Sgd | OptimKernel::Adam | OptimKernel::Rmsprop => 3,
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

/// Parameters one group dispatch updates at most: more slots make a longer switch in every load
/// and store and a bigger bind group, for no gain once a typical model's group fits.
const MAX_GROUP_SLOTS: usize = 16;

/// One parameter of a group step: the views of [`fused_step`] and its own scalar words (the step
/// count and first-step flag may differ between parameters of a group).
pub struct GroupItem {
    pub p: GpuView,
    pub g: GpuView,
    pub state: Vec<Option<GpuView>>,
    pub scalars: [u32; 8],
}

impl OptimKernel {
    /// The group shader, for the algorithms that have one.
    fn group_shader(self) -> Option<&'static str> {
        match self {
            OptimKernel::Sgd => Some("optim_group_sgd.wgsl"),
            OptimKernel::Adam => Some("optim_group_adam.wgsl"),
            _ => None,
        }
    }

    /// Whether [`fused_group_step`] can run this algorithm.
    pub fn has_group_kernel(self) -> bool {
        self.group_shader().is_some()
    }
}

/// Slots per group dispatch for `nops` buffers a parameter, within the adapter's limits (binding 0
/// is the parameters buffer, itself a storage buffer). 0 when not even one parameter fits.
pub fn group_slots(max_storage_buffers: u32, max_bindings: u32, nops: usize) -> usize {
    let buffers = (max_storage_buffers as usize).saturating_sub(1) / nops;
    let bindings = (max_bindings as usize).saturating_sub(1) / nops;
    buffers.min(bindings).min(MAX_GROUP_SLOTS)
}

/// The generated parts of optim_group.wgsl: binding declarations and the load/store switch cases.
fn group_vars(slots: usize, nops: usize) -> (String, String, String) {
    let mut decl = String::new();
    let mut loads = String::new();
    let mut stores = String::new();
    for s in 0..slots {
        for k in 0..nops {
            let b = s * nops + k;
            decl.push_str(&format!(
                "@group(0) @binding({}) var<storage, read_write> b{b}: array<f32>;\n",
                b + 1
            ));
            loads.push_str(&format!("        case {b}u: {{ return b{b}[j]; }}\n"));
            // The gradient (k = 1) is never written.
            if k != 1 {
                stores.push_str(&format!("        case {b}u: {{ b{b}[j] = v; }}\n"));
            }
        }
    }
    (decl, loads, stores)
}

/// Words per parameter in the group kernel's table (optim_group.wgsl).
const ENTRY_WORDS: usize = 16;
const TABLE0: usize = 20;

/// One step of `kernel` on every parameter of `items` (each as in [`fused_step`]: contiguous f32
/// operands of the parameter's element count), in as few dispatches as the adapter's binding
/// limits allow. Parameters with no elements are skipped.
pub fn fused_group_step(kernel: OptimKernel, items: &[GroupItem]) -> Result<()> {
    let op = kernel.name();
    let Some(shader) = kernel.group_shader() else {
        return Err(Error::runtime(format!(
            "wgpu: {op}: no group kernel for this algorithm"
        )));
    };
    // Operands per parameter: p, g and the state buffers any parameter of the group has (Adam's
    // max_exp_avg_sq only with amsgrad).
    let used_state = items
        .iter()
        .map(|it| {
            it.state
                .iter()
                .rposition(|s| s.is_some())
                .map_or(0, |k| k + 1)
        })
        .max()
        .unwrap_or(0);
    let min_state = match kernel {
        OptimKernel::Adam => 2,
        _ => 1,
    };
    let nops = 2 + used_state.max(min_state);
    let mut live: Vec<&GroupItem> = Vec::with_capacity(items.len());
    for it in items {
        let n = it.p.numel();
        if it.state.len() > kernel.slots() {
            return Err(Error::runtime(format!(
                "wgpu: {op}: {} state buffers given, the kernel has {}",
                it.state.len(),
                kernel.slots()
            )));
        }
        for v in std::iter::once(&it.p)
            .chain([&it.g])
            .chain(it.state.iter().flatten())
        {
            check_view(op, v)?;
            float_type(op, v)?;
            if !is_run(v, n) {
                return Err(Error::runtime(format!(
                    "wgpu: {op}: every operand must be contiguous with {n} elements"
                )));
            }
        }
        if n > u32::MAX as usize {
            return Err(Error::runtime(format!(
                "wgpu: {op}: {n} elements exceed the 2^32 a single dispatch indexes"
            )));
        }
        if n > 0 {
            live.push(it);
        }
    }
    if live.is_empty() {
        return Ok(());
    }
    let e = engine()?;
    let limits = &e.ctx.limits;
    let slots = group_slots(
        limits.max_storage_buffers_per_shader_stage,
        limits.max_bindings_per_bind_group,
        nops,
    );
    if slots == 0 {
        // Not even one parameter's buffers fit one dispatch of the group kernel.
        for it in live {
            fused_step(kernel, &it.p, &it.g, &it.state, &it.scalars)?;
        }
        return Ok(());
    }
    let (decl, loads, stores) = group_vars(slots, nops);
    let (slots_s, nops_s) = (slots.to_string(), nops.to_string());
    let k = e.kernel(
        shader,
        &[
            ("WG", WG_STR),
            ("SLOTS", &slots_s),
            ("NOPS", &nops_s),
            ("BINDINGS", &decl),
            ("LOADS", &loads),
            ("STORES", &stores),
        ],
    )?;
    // Unused operands (absent state, empty slots) are bound to one small dummy the kernel never
    // reaches (its flags and the slot count keep it unread).
    let dummy = alloc(4)?;
    for chunk in live.chunks(slots) {
        let mut words = vec![0u32; TABLE0 + ENTRY_WORDS * chunk.len()];
        words[18] = chunk.len() as u32;
        let mut bufs: Vec<&GpuBuffer> = Vec::with_capacity(slots * nops);
        let mut first_wg = 0u64;
        for (s, it) in chunk.iter().enumerate() {
            let base = TABLE0 + ENTRY_WORDS * s;
            let n = it.p.numel();
            words[base] = n as u32;
            words[base + 1] = u32::try_from(first_wg).map_err(|_| {
                Error::runtime(format!(
                    "wgpu: {op}: a group step over more than 2^32 workgroups"
                ))
            })?;
            first_wg += workgroups(n, WG);
            words[base + 2] = it.p.offset as u32;
            words[base + 3] = it.g.offset as u32;
            bufs.push(&it.p.buffer);
            bufs.push(&it.g.buffer);
            for j in 0..nops - 2 {
                match it.state.get(j).and_then(|o| o.as_ref()) {
                    Some(v) => {
                        words[base + 4 + j] = v.offset as u32;
                        bufs.push(&v.buffer);
                    }
                    None => bufs.push(&dummy),
                }
            }
            words[base + 8..base + 16].copy_from_slice(&it.scalars);
        }
        bufs.resize(slots * nops, &dummy);
        let bind: Vec<Binding<'_>> = bufs
            .iter()
            .map(|b| Binding {
                buffer: b,
                bytes: b.len(),
            })
            .collect();
        e.dispatch(op, &k, &words, &bind, first_wg)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_slots_follow_the_limits() {
        // WebGPU's default of 8 storage buffers: binding 0 is the parameters buffer.
        assert_eq!(group_slots(8, 1000, 3), 2);
        assert_eq!(group_slots(8, 1000, 5), 1);
        assert_eq!(group_slots(4, 1000, 5), 0);
        // The bind group's binding limit counts too, and the slot count is capped.
        assert_eq!(group_slots(1000, 10, 3), 3);
        assert_eq!(group_slots(1 << 20, 1 << 20, 3), MAX_GROUP_SLOTS);
    }

    #[test]
    fn group_vars_bind_every_operand_and_never_store_the_gradient() {
        let (decl, loads, stores) = group_vars(2, 3);
        assert_eq!(decl.matches("var<storage, read_write>").count(), 6);
        assert!(decl.contains("@binding(6) var<storage, read_write> b5"));
        assert_eq!(loads.matches("case").count(), 6);
        // Operand 1 of each slot (b1, b4) is the gradient.
        assert_eq!(stores.matches("case").count(), 4);
        assert!(!stores.contains("b1[") && !stores.contains("b4["));
    }
}
