//! Lazy fusion of elementwise kernels. Instead of dispatching, each elementwise op (unary,
//! parameterised unary, binary, comparison, where, cast) appends a *stage* to a pending chain
//! held in the open batch. The chain becomes one generated WGSL kernel when anything else needs
//! the encoder (another kernel, a copy, a read, a submit; see `encoder.rs`), so program order is
//! kept and nothing outside this file knows fusion exists.
//!
//! A stage's operands are *leaves* (any view, bound as a buffer and indexed through its own
//! broadcast strides), *constants* (Python scalars, carried in the parameter words instead of
//! being uploaded), or the output of an earlier stage read with the identity layout, which
//! becomes a register value. An earlier output read any other way (transposed, offset,
//! broadcast) ends the chain first, so that read sees memory. Outputs are always fresh buffers,
//! so no stage writes what the chain reads, and every leaf is loaded before any store.
//!
//! An output is stored only while something besides the chain holds its buffer: the chain keeps
//! one handle per output, and a handle count of one means the tensor is gone (a temporary like
//! the `x * 2` in `(x * 2 + 1).relu()`) and no one can ever read it. That handle also keeps the
//! buffer out of the pool until the chain is dispatched, so reuse cannot alias.
//!
//! Kernels are cached by the generated source of the chain's structure (stage bodies, types,
//! wiring, which outputs are stored); shapes, strides, offsets and constants travel in the
//! parameter words, so a training loop compiles each chain once. `RUSTGRAD_WGPU_FUSION=0` turns
//! fusion off (every op dispatched alone through its own shader family).
//!
//! Device types fused: f32, i32, int64 (two u32 words), bool and uint8 (u32 words). Any other
//! word type (a future float16) is dispatched alone.

use super::buffer::GpuBuffer;
use super::encoder::{Batch, Binding};
use super::engine::Engine;
use super::stats::{self, COUNTERS};
use super::view::{params, GpuView, VIEW0, VIEW_WORDS};
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::{contiguous_strides, Shape, Strides};
use std::fmt::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Stages per chain at most: bounds the generated shader's size (and its compile time).
const MAX_STAGES: usize = 32;

/// Workgroup size of the generated kernels (matches the 1-D elementwise families).
const WG: u32 = 256;

/// 0 = not read yet, 1 = on, 2 = off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

/// Whether elementwise fusion is on (`RUSTGRAD_WGPU_FUSION=0` turns it off; default on).
pub fn fusion_enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let on = std::env::var("RUSTGRAD_WGPU_FUSION").map_or(true, |v| v.trim() != "0");
            ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
            on
        }
    }
}

/// Turn fusion on or off for the process (tests compare both in one run). Work already pending
/// is unaffected: it is dispatched at the next sync point either way.
pub fn set_fusion_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// An elementwise kernel input.
#[derive(Clone, Debug)]
pub enum Input {
    /// A device view, broadcast to the output shape.
    View(GpuView),
    /// A scalar (a Python number or a 0-d CPU tensor) as its device words (one, or low and high
    /// for int64), already converted to `dtype`.
    Const { words: [u32; 2], dtype: DType },
}

impl Input {
    /// The input's dtype.
    pub fn dtype(&self) -> DType {
        match self {
            Input::View(v) => v.dtype,
            Input::Const { dtype, .. } => *dtype,
        }
    }
}

/// What a stage computes: a WGSL expression over its arguments (named `arg_names`, of WGSL types
/// `arg_words`), of type `out_word`. `p0()` / `p1()` in the body read `fparams`.
pub(crate) struct StageOp {
    pub body: &'static str,
    pub arg_names: &'static [&'static str],
    pub arg_words: Vec<&'static str>,
    pub out_word: &'static str,
    pub out_dtype: DType,
    pub fparams: Vec<u32>,
}

/// Where a stage argument comes from.
#[derive(Clone, Copy)]
enum Arg {
    Leaf(usize),
    Stage(usize),
    /// Index of its first word in `Chain::extra`.
    Const(usize),
}

struct Stage {
    op: StageOp,
    args: Vec<Arg>,
    /// Index of the stage's `p0()` word in `Chain::extra`.
    fparam0: usize,
    /// The chain's handle on the output; `None` once the chain holds the only handle (dead).
    out: Option<GpuBuffer>,
}

/// The pending chain of the open batch.
#[derive(Default)]
pub(crate) struct Chain {
    shape: Shape,
    /// Distinct leaf buffers, each bound once, with its WGSL element type.
    bindings: Vec<(GpuBuffer, &'static str)>,
    /// Leaf views: binding index, strides broadcast to `shape`, offset.
    leaves: Vec<(usize, Strides, usize)>,
    /// Constant and parameter words, after the leaf views in the parameter buffer.
    extra: Vec<u32>,
    stages: Vec<Stage>,
}

/// The outcome of offering a stage to the chain.
pub(crate) enum Offer {
    Added,
    /// Fits only after the chain is dispatched.
    Conflict,
    /// Can never be fused (dispatch alone).
    Unfusable,
}

fn fusable_word(w: &str) -> bool {
    matches!(w, "f32" | "i32" | "u32" | "vec2<u32>")
}

/// Whether `v` reads a `shape`-shaped contiguous buffer element for element (offset 0).
fn identity_layout(v: &GpuView, shape: &[usize]) -> bool {
    v.offset == 0
        && v.shape.as_slice() == shape
        && v.shape
            .iter()
            .zip(v.strides.iter().zip(contiguous_strides(shape).iter()))
            .all(|(&d, (s, c))| d == 1 || s == c)
}

impl Chain {
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Whether the chain reads or writes `buf`.
    pub fn references(&self, buf: &GpuBuffer) -> bool {
        self.bindings.iter().any(|(b, _)| b.same_buffer(buf))
            || self
                .stages
                .iter()
                .any(|s| s.out.as_ref().is_some_and(|o| o.same_buffer(buf)))
    }

    /// Drop the chain's handles on outputs nobody else holds: they can never be read.
    fn prune(&mut self) {
        for s in &mut self.stages {
            if s.out.as_ref().is_some_and(GpuBuffer::is_unique) {
                s.out = None;
            }
        }
    }

    /// Append `op(inputs)` writing `out` (shape `shape`, inputs checked and broadcastable), if
    /// it fits: same shape as the chain, no hazard, at most `max_buffers` storage buffers.
    pub fn offer(
        &mut self,
        slot: &mut Option<StageOp>,
        inputs: &[Input],
        shape: &[usize],
        out: &GpuBuffer,
        max_buffers: usize,
    ) -> Result<Offer> {
        let Some(op) = slot.as_ref() else {
            return Ok(Offer::Unfusable);
        };
        if !fusable_word(op.out_word) || !op.arg_words.iter().all(|w| fusable_word(w)) {
            return Ok(Offer::Unfusable);
        }
        if shape.iter().product::<usize>() > u32::MAX as usize {
            return Ok(Offer::Unfusable);
        }
        if !self.is_empty() && (self.shape.as_slice() != shape || self.stages.len() >= MAX_STAGES) {
            return Ok(Offer::Conflict);
        }
        self.prune();
        // Plan without changing the chain, so a refusal leaves it intact.
        enum Plan {
            Stage(usize),
            Leaf {
                binding: Option<usize>,
                strides: Strides,
                offset: usize,
            },
            Const([u32; 2], bool),
        }
        let mut plans = Vec::with_capacity(inputs.len());
        let mut new_bufs: Vec<(GpuBuffer, &'static str)> = Vec::new();
        for (input, &word) in inputs.iter().zip(&op.arg_words) {
            match input {
                Input::Const { words, dtype } => {
                    plans.push(Plan::Const(*words, *dtype == DType::I64));
                }
                Input::View(v) => {
                    let produced = self
                        .stages
                        .iter()
                        .position(|s| s.out.as_ref().is_some_and(|o| o.same_buffer(&v.buffer)));
                    if let Some(k) = produced {
                        if identity_layout(v, shape) && v.dtype == self.stages[k].op.out_dtype {
                            plans.push(Plan::Stage(k));
                            continue;
                        }
                        return Ok(Offer::Conflict);
                    }
                    let strides = super::view::broadcast_strides("fusion", v, shape)?;
                    let binding = self
                        .bindings
                        .iter()
                        .position(|(b, _)| b.same_buffer(&v.buffer));
                    match binding {
                        Some(b) if self.bindings[b].1 != word => {
                            return Ok(if self.is_empty() {
                                Offer::Unfusable
                            } else {
                                Offer::Conflict
                            })
                        }
                        Some(_) => {}
                        None => match new_bufs.iter().find(|(b, _)| b.same_buffer(&v.buffer)) {
                            Some((_, w)) if *w != word => return Ok(Offer::Unfusable),
                            Some(_) => {}
                            None => new_bufs.push((v.buffer.clone(), word)),
                        },
                    }
                    plans.push(Plan::Leaf {
                        binding,
                        strides,
                        offset: v.offset,
                    });
                }
            }
        }
        let live = self.stages.iter().filter(|s| s.out.is_some()).count();
        // params + leaf buffers + live outputs + this stage's output.
        let needed = 1 + self.bindings.len() + new_bufs.len() + live + 1;
        if needed > max_buffers {
            return Ok(if self.is_empty() {
                Offer::Unfusable
            } else {
                Offer::Conflict
            });
        }
        if self.is_empty() {
            self.shape = shape.into();
        }
        let mut args = Vec::with_capacity(plans.len());
        for (plan, input) in plans.into_iter().zip(inputs) {
            args.push(match plan {
                Plan::Stage(k) => Arg::Stage(k),
                Plan::Const(words, wide) => {
                    let at = self.extra.len();
                    self.extra.push(words[0]);
                    if wide {
                        self.extra.push(words[1]);
                    }
                    Arg::Const(at)
                }
                Plan::Leaf {
                    binding,
                    strides,
                    offset,
                } => {
                    let binding = binding.unwrap_or_else(|| {
                        let Input::View(v) = input else {
                            unreachable!("leaves are views")
                        };
                        let at = self
                            .bindings
                            .iter()
                            .position(|(b, _)| b.same_buffer(&v.buffer));
                        at.unwrap_or_else(|| {
                            let word = new_bufs
                                .iter()
                                .find(|(b, _)| b.same_buffer(&v.buffer))
                                .map_or("u32", |(_, w)| *w);
                            self.bindings.push((v.buffer.clone(), word));
                            self.bindings.len() - 1
                        })
                    });
                    let leaf = (binding, strides, offset);
                    let at = self.leaves.iter().position(|l| *l == leaf);
                    Arg::Leaf(at.unwrap_or_else(|| {
                        self.leaves.push(leaf);
                        self.leaves.len() - 1
                    }))
                }
            });
        }
        let op = slot.take().expect("checked above");
        let fparam0 = self.extra.len();
        self.extra.extend_from_slice(&op.fparams);
        self.stages.push(Stage {
            op,
            args,
            fparam0,
            out: Some(out.clone()),
        });
        Ok(Offer::Added)
    }
}

/// `strided.wgsl`, `math.wgsl` and `int64.wgsl`, expanded once.
fn prelude() -> Result<&'static str> {
    static PRELUDE: OnceLock<std::result::Result<String, crate::error::Error>> = OnceLock::new();
    PRELUDE
        .get_or_init(|| {
            let head = "//!include strided.wgsl\n//!include math.wgsl\n//!include int64.wgsl\n";
            super::template::render_with("fused prelude", &[("WG", &WG.to_string())], &|name| {
                if name == "fused prelude" {
                    Ok(head.to_owned())
                } else {
                    super::template::shader_source(name).map(str::to_owned)
                }
            })
        })
        .as_ref()
        .map(String::as_str)
        .map_err(Clone::clone)
}

/// A constant of WGSL type `word` read from parameter word `at`.
fn param_value(word: &str, at: usize) -> String {
    match word {
        "f32" => format!("bitcast<f32>(params[{at}u])"),
        "i32" => format!("bitcast<i32>(params[{at}u])"),
        "vec2<u32>" => format!("vec2<u32>(params[{at}u], params[{}u])", at + 1),
        _ => format!("params[{at}u]"),
    }
}

/// The kernel source for `chain` with the outputs of `stored` stages written (binding order:
/// params, leaf buffers, stored outputs), and where its extra parameter words begin.
fn generate(chain: &Chain, stored: &[usize]) -> (String, usize) {
    let extra0 = VIEW0 + VIEW_WORDS * chain.leaves.len();
    let mut s = String::with_capacity(1024 + 256 * chain.stages.len());
    for (b, (_, word)) in chain.bindings.iter().enumerate() {
        let _ = writeln!(
            s,
            "@group(0) @binding({}) var<storage, read> b{b}: array<{word}>;",
            b + 1
        );
    }
    let nb = chain.bindings.len();
    for (j, &k) in stored.iter().enumerate() {
        let _ = writeln!(
            s,
            "@group(0) @binding({}) var<storage, read_write> o{j}: array<{}>;",
            nb + 1 + j,
            chain.stages[k].op.out_word
        );
    }
    for (k, st) in chain.stages.iter().enumerate() {
        let args: Vec<String> = st
            .op
            .arg_names
            .iter()
            .zip(&st.op.arg_words)
            .map(|(n, w)| format!("{n}: {w}"))
            .collect();
        let body = st
            .op
            .body
            .replace("p0()", &param_value("f32", extra0 + st.fparam0))
            .replace("p1()", &param_value("f32", extra0 + st.fparam0 + 1));
        let _ = writeln!(
            s,
            "fn s{k}({}) -> {} {{\n    return {body};\n}}",
            args.join(", "),
            st.op.out_word
        );
    }
    let _ = writeln!(
        s,
        "@compute @workgroup_size({WG})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, \
         @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{\n    \
         let i = linear_id(wid, nwg, lid);\n    if (i >= numel()) {{\n        return;\n    }}"
    );
    // Every load first (no stage writes what the chain reads, but keep it obviously so).
    for (l, (b, _, _)) in chain.leaves.iter().enumerate() {
        let _ = writeln!(
            s,
            "    let l{l} = b{b}[view_offset({}u, i)];",
            VIEW0 + VIEW_WORDS * l
        );
    }
    for (k, st) in chain.stages.iter().enumerate() {
        let args: Vec<String> = st
            .args
            .iter()
            .zip(&st.op.arg_words)
            .map(|(a, w)| match *a {
                Arg::Leaf(l) => format!("l{l}"),
                Arg::Stage(j) => format!("v{j}"),
                Arg::Const(at) => param_value(w, extra0 + at),
            })
            .collect();
        let _ = writeln!(s, "    let v{k} = s{k}({});", args.join(", "));
    }
    for (j, &k) in stored.iter().enumerate() {
        let _ = writeln!(s, "    o{j}[i] = v{k};");
    }
    s.push_str("}\n");
    (s, extra0)
}

impl Engine {
    /// Offer an elementwise stage to the open batch's chain; `Ok(false)` when it must be
    /// dispatched alone (fusion off, or a stage no chain can hold). A stage that conflicts with
    /// the pending chain dispatches the chain and starts a new one.
    pub(crate) fn record_stage(
        &self,
        op: StageOp,
        inputs: &[Input],
        shape: &[usize],
        out: &GpuBuffer,
    ) -> Result<bool> {
        if !fusion_enabled() {
            return Ok(false);
        }
        self.ctx.check("an elementwise op")?;
        let max = self.ctx.limits.max_storage_buffers_per_shader_stage as usize;
        let mut batch = self.batch.lock();
        let mut op = Some(op);
        match batch.chain.offer(&mut op, inputs, shape, out, max)? {
            Offer::Added => return Ok(true),
            Offer::Unfusable => return Ok(false),
            Offer::Conflict => self.materialize(&mut batch)?,
        }
        Ok(matches!(
            batch.chain.offer(&mut op, inputs, shape, out, max)?,
            Offer::Added
        ))
    }

    /// Dispatch the pending chain as one kernel (nothing when it is empty or nothing it computes
    /// is still wanted).
    pub(crate) fn materialize(&self, batch: &mut Batch) -> Result<()> {
        if batch.chain.is_empty() {
            return Ok(());
        }
        let mut chain = std::mem::take(&mut batch.chain);
        chain.prune();
        let stored: Vec<usize> = (0..chain.stages.len())
            .filter(|&k| chain.stages[k].out.is_some())
            .collect();
        let nstages = chain.stages.len() as u64;
        stats::add(&COUNTERS.fused_stages, nstages);
        stats::add(&COUNTERS.stores_elided, nstages - stored.len() as u64);
        if stored.is_empty() {
            return Ok(());
        }
        stats::add(&COUNTERS.fused_kernels, 1);
        let (body, _) = generate(&chain, &stored);
        let kernel = self.fused_kernel(body)?;
        let views: Vec<(Strides, usize)> = chain
            .leaves
            .iter()
            .map(|(_, s, o)| (s.clone(), *o))
            .collect();
        let mut words = params("fused elementwise", &chain.shape, &views, &[])?;
        words.extend_from_slice(&chain.extra);
        let n: usize = chain.shape.iter().product();
        let mut bind: Vec<Binding> = chain
            .bindings
            .iter()
            .map(|(b, _)| Binding {
                buffer: b,
                bytes: b.len(),
            })
            .collect();
        for &k in &stored {
            let b = chain.stages[k]
                .out
                .as_ref()
                .expect("stored outputs are live");
            bind.push(Binding {
                buffer: b,
                bytes: b.len(),
            });
        }
        let groups = (n as u64).div_ceil(WG as u64);
        self.dispatch_locked(batch, "fused elementwise", &kernel, &words, &bind, groups)
    }

    /// The pipeline for a generated chain body, compiled on first use.
    fn fused_kernel(&self, body: String) -> Result<std::sync::Arc<super::pipelines::Kernel>> {
        let key = ("fused", body);
        if let Some(k) = self.pipelines.lock().get(&key) {
            return Ok(k.clone());
        }
        let source = format!("{}\n{}", prelude()?, key.1);
        let kernel = std::sync::Arc::new(self.compile("fused elementwise chain", &source)?);
        self.pipelines.lock().insert(key, kernel.clone());
        Ok(kernel)
    }
}
