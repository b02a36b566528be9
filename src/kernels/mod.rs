//! The device seam: one dispatch point per kernel family, matching on where the storage lives.
//!
//! `ops/<family>.rs` decide what an op means (checks, promotion, output shape, backward) and call
//! one function here per kernel. Each returns `Ok(None)` when the operands live on the CPU (the op
//! then runs its existing CPU kernel, unchanged) and `Ok(Some(out))` when they live on the wgpu
//! device and a wgpu kernel computed the result. Mixed devices raise PyTorch's RuntimeError;
//! families without a device kernel call [`require_cpu`] at their entry, which raises
//! NotImplementedError in the shape of PyTorch's MPS message, so no CPU kernel ever sees device
//! memory (and `Storage::cpu_ptr` panics as a last resort if one would).
//!
//! A 0-d CPU tensor may be combined with device tensors (PyTorch allows CPU scalars with CUDA
//! tensors): it is uploaded at the kernel. That is how `x * 2.0` and the backward rules' scalar
//! constants (`where(mask, g, 0)`) run on the device.

// Without the wgpu feature the device arms vanish and their arguments go unused.
#![cfg_attr(not(feature = "wgpu"), allow(unused_variables))]

#[cfg(feature = "wgpu")]
pub(crate) mod gpu;
pub mod transfer;
pub mod widen;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::{AvgCfg, BinaryOp, BitOp, CmpOp, ConvGeom, LogicOp, PoolGeom, Scalar, UnaryOp};
use crate::tensor::Tensor;

/// The device an op on `ts` runs on. 0-d CPU tensors follow the others; two different devices
/// among the rest are PyTorch's "Expected all tensors to be on the same device" error.
pub fn device_of(ts: &[&Tensor]) -> Result<Device> {
    let mut found: Option<Device> = None;
    let mut cpu_scalar = false;
    for t in ts {
        let d = t.device();
        if d.is_cpu() && t.ndim() == 0 {
            cpu_scalar = true;
            continue;
        }
        match found {
            None => found = Some(d),
            Some(f) if f == d => {}
            Some(f) => return Err(mixed(f, d)),
        }
    }
    Ok(found.unwrap_or(if cpu_scalar {
        Device::Cpu
    } else {
        ts.first().map_or(Device::Cpu, |t| t.device())
    }))
}

/// PyTorch's message, naming the accelerator first ("wgpu:0 and cpu").
pub fn mixed(a: Device, b: Device) -> Error {
    let (x, y) = if a.is_cpu() { (b, a) } else { (a, b) };
    Error::runtime(format!(
        "Expected all tensors to be on the same device, but found at least two devices, {} and {}!",
        x.full_name(),
        y.full_name()
    ))
}

/// The error for an op with no kernel on `device`, in the shape of PyTorch's MPS message.
pub fn not_implemented(op: &str, device: Device) -> Error {
    Error::not_implemented(format!(
        "The operator 'aten::{op}' is not currently implemented for the {} device. As a \
         temporary fix, set the environment variable `RUSTGRAD_WGPU_FALLBACK=1` to use the CPU \
         as a fallback for this op, or move the tensors to the CPU with .cpu().",
        device.kind()
    ))
}

/// Entry check of an op family without a device kernel: `Ok` when every operand is on the CPU,
/// NotImplementedError naming `op` otherwise (RuntimeError for mixed devices).
pub fn require_cpu(op: &str, ts: &[&Tensor]) -> Result<()> {
    if ts.iter().all(|t| t.device().is_cpu()) {
        return Ok(());
    }
    let d = device_of(ts)?;
    let d = if d.is_cpu() {
        ts.iter()
            .map(|t| t.device())
            .find(|d| !d.is_cpu())
            .unwrap_or(d)
    } else {
        d
    };
    Err(not_implemented(op, d))
}

/// Every tensor in `ts` on the CPU (for loops over slices of tensors, e.g. `cat`).
pub fn require_cpu_all(op: &str, ts: &[Tensor]) -> Result<()> {
    let refs: Vec<&Tensor> = ts.iter().collect();
    require_cpu(op, &refs)
}

#[cfg(feature = "wgpu")]
macro_rules! on_device {
    ($dev:expr, $gpu:expr) => {
        match $dev {
            Device::Cpu => Ok(None),
            Device::Wgpu(_) => $gpu.map(Some),
        }
    };
}

#[cfg(not(feature = "wgpu"))]
macro_rules! on_device {
    ($dev:expr, $gpu:expr) => {
        match $dev {
            Device::Cpu => Ok(None),
            Device::Wgpu(_) => unreachable!("wgpu storage exists only with the wgpu feature"),
        }
    };
}

/// Elementwise `op(x)` (the ops with a WGSL body, plus scalar-parameter ops run as a binary op
/// against an uploaded scalar).
pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Option<Tensor>> {
    on_device!(device_of(&[x])?, widen::on_f32(x, |x| gpu::unary(op, x)))
}

/// Broadcasting `a op b` computed in `dtype`.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[a, b])?,
        widen::in_f32_as(dtype, &[a, b], |t| gpu::binary(
            op,
            &t[0],
            &t[1],
            DType::F32
        ))
        .unwrap_or_else(|| gpu::binary(op, a, b, dtype))
    )
}

/// Bitwise ops on integer/bool tensors, computed in `dtype`.
pub fn bitwise(op: BitOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Option<Tensor>> {
    on_device!(device_of(&[a, b])?, gpu::bitwise(op, a, b, dtype))
}

/// Broadcasting comparison (bool result).
pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[a, b])?,
        widen::in_f32_all(&[a, b], |t| gpu::compare(op, &t[0], &t[1]))
    )
}

/// `logical_and/or/xor` (bool result).
pub fn logical(op: LogicOp, a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    on_device!(device_of(&[a, b])?, gpu::logical(op, a, b))
}

/// `where(cond, a, b)` with broadcasting over all three.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[cond, a, b])?,
        widen::in_f32_as(crate::ops::result_type2(a, b), &[a, b], |t| gpu::where_(
            cond, &t[0], &t[1]
        ))
        .unwrap_or_else(|| gpu::where_(cond, a, b))
    )
}

/// A fresh contiguous copy of `src` in `dtype` (strided copy; dtype conversion where the device
/// has one).
pub fn materialize(src: &Tensor, dtype: DType) -> Result<Option<Tensor>> {
    let dev = device_of(&[src])?;
    if !dev.is_cpu() {
        transfer::device_dtype_supported(dtype, dev)?;
    }
    on_device!(dev, gpu::materialize(src, dtype))
}

/// `dst.copy_(src)` without autograd: `src` broadcast to `dst`'s shape. `Ok(false)` means both
/// are on the CPU and the caller copies.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<bool> {
    let r: Result<Option<()>> = on_device!(device_of(&[dst, src])?, gpu::copy_into(dst, src));
    Ok(r?.is_some())
}

/// Fill every element of `t` with `value`. `Ok(false)` means `t` is on the CPU.
pub fn fill(t: &Tensor, value: Scalar) -> Result<bool> {
    let r: Result<Option<()>> = on_device!(t.device(), gpu::fill(t, value));
    Ok(r?.is_some())
}

/// A zero tensor of `shape` and `dtype` on `device` (the CPU allocates its own).
pub fn zeros_on(shape: &[usize], dtype: DType, device: Device) -> Result<Option<Tensor>> {
    if !device.is_cpu() {
        transfer::device_dtype_supported(dtype, device)?;
    }
    on_device!(device, gpu::zeros(shape, dtype))
}

/// Whether the first (epilogue-free) matmul/conv kernels were forced, for comparison runs: the
/// fused forms then run as their composition.
#[cfg(feature = "wgpu")]
fn legacy_gemm() -> bool {
    crate::wgpu::kernels::gemm::forced().as_deref() == Some("legacy")
}

/// `act(a @ b + bias)` of 2-D float32 device operands in one kernel, and the pre-activation
/// when `act`'s backward needs it. `Ok(None)` on the CPU, or when the epilogue lacks `act`.
pub fn addmm_act(
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: Option<UnaryOp>,
) -> Result<Option<(Tensor, Option<Tensor>)>> {
    let mut ts = vec![a, b];
    ts.extend(bias);
    let dev = device_of(&ts)?;
    #[cfg(feature = "wgpu")]
    if !dev.is_cpu() && a.dtype() == DType::F32 && !legacy_gemm() {
        if let Some(k) = gpu::gemm::act_of(act) {
            return gpu::gemm::addmm_act(a, b, bias, k).map(Some);
        }
    }
    let _ = (dev, act);
    Ok(None)
}

/// `act(conv2d(x, w) + bias)` in one device kernel; `Ok(None)` on the CPU or for an `act` the
/// epilogue lacks.
pub fn conv2d_forward_act(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    act: Option<UnaryOp>,
    g: &ConvGeom,
) -> Result<Option<Tensor>> {
    let mut ts = vec![x, w];
    ts.extend(bias);
    let dev = device_of(&ts)?;
    #[cfg(feature = "wgpu")]
    if !dev.is_cpu() && x.dtype() == DType::F32 && !legacy_gemm() {
        if let Some(k) = gpu::gemm::act_of(act) {
            return gpu::gemm::conv_act(x, w, bias, k, g).map(Some);
        }
    }
    let _ = (dev, act, g);
    Ok(None)
}

/// Batched product of `[..., m, k]` and `[..., k, n]` with equal batch dims (stride-0 allowed).
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    on_device!(device_of(&[a, b])?, gpu::half::bmm(a, b))
}

// ---------------------------------------------------------------- reduce family
// Reductions over dims, softmax and the fused optimizer updates. Each function here is the one
// dispatch point of its kernel: the CPU arm calls `cpu::{reduce,softmax,optim}`, the device arm
// the wgpu seam in `gpu/{reduce,softmax,optim}.rs`. Dims arrive wrapped and sorted.

/// The CPU kernel or the device one, by `$dev`.
#[cfg(feature = "wgpu")]
macro_rules! cpu_or_device {
    ($dev:expr, $cpu:expr, $gpu:expr) => {
        match $dev {
            Device::Cpu => $cpu,
            Device::Wgpu(_) => $gpu,
        }
    };
}

#[cfg(not(feature = "wgpu"))]
macro_rules! cpu_or_device {
    ($dev:expr, $cpu:expr, $gpu:expr) => {
        match $dev {
            Device::Cpu => $cpu,
            Device::Wgpu(_) => unreachable!("wgpu storage exists only with the wgpu feature"),
        }
    };
}

/// The reductions of the generic device reduce kernel (`gpu::reduce`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
}

/// Sum over `dims` (integers and bool sum to int64 on the CPU).
pub fn sum(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| crate::cpu::reduce::sum(x, dims, keepdim)),
        widen::on_f32(x, |x| gpu::reduce(x, dims, keepdim, ReduceKind::Sum))
    )
}

/// `amax`/`amin` over `dims` (non-empty runs).
pub fn amax(x: &Tensor, dims: &[usize], keepdim: bool, want_max: bool) -> Result<Tensor> {
    let kind = if want_max {
        ReduceKind::Max
    } else {
        ReduceKind::Min
    };
    cpu_or_device!(
        device_of(&[x])?,
        crate::cpu::reduce::amax(x, dims, keepdim, want_max),
        widen::on_f32(x, |x| gpu::reduce(x, dims, keepdim, kind))
    )
}

/// Product over `dims` (int64 for integer and bool inputs on the CPU).
pub fn prod(x: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| crate::cpu::reduce::prod(x, dims, keepdim)),
        widen::on_f32(x, |x| gpu::reduce::prod(x, dims, keepdim))
    )
}

/// For each element, the product of the others in its run over `dims` (prod's gradient factor).
pub fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| crate::cpu::reduce::prod_others(x, dims)),
        widen::on_f32(x, |x| gpu::reduce::prod_others(x, dims))
    )
}

/// Values and int64 indices of the first max/min along `dims` (one dim, or none for 0-d input).
pub fn max_min_dim(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
    want_max: bool,
) -> Result<(Tensor, Tensor)> {
    cpu_or_device!(
        device_of(&[x])?,
        crate::cpu::reduce::max_min_dim(x, dims, keepdim, want_max),
        widen::on_f32_pair(x, |x| gpu::reduce::max_min_dim(x, dims, keepdim, want_max))
    )
}

/// Zeros with `n` entries along `dim` and `g[..]` placed at `idx[..]` (keepdim-shaped `g` and
/// int64 `idx`): the gradient of max/min along a dim. `None` on the CPU, where the op scatters.
pub fn place_at_index(g: &Tensor, idx: &Tensor, dim: usize, n: usize) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[g, idx])?,
        widen::on_f32(g, |g| gpu::reduce::place_at_index(g, idx, dim, n))
    )
}

/// `(var, mean)` over `dims` with `correction` (float inputs).
pub fn var_mean(
    x: &Tensor,
    dims: &[usize],
    correction: f64,
    keepdim: bool,
) -> Result<(Tensor, Tensor)> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32_pair(x, |x| crate::cpu::reduce::var_mean(
            x, dims, correction, keepdim
        )),
        widen::on_f32_pair(x, |x| gpu::reduce::var_mean(x, dims, correction, keepdim))
    )
}

/// `all`/`any` over `dims`: a bool tensor.
pub fn all_any(x: &Tensor, dims: &[usize], keepdim: bool, want_all: bool) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        crate::cpu::reduce::all_any(x, dims, keepdim, want_all),
        widen::on_f32(x, |x| gpu::reduce::all_any(x, dims, keepdim, want_all))
    )
}

/// `softmax`/`log_softmax` of a float tensor (ndim >= 1) along `dim`.
pub fn softmax(x: &Tensor, dim: usize, log: bool) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| crate::cpu::softmax::softmax(x, dim, log)),
        widen::on_f32(x, |x| gpu::softmax::softmax(x, dim, log))
    )
}

/// The fused backward of softmax (`y * (g - sum(g * y))`) or log_softmax
/// (`g - exp(y) * sum(g)`) along `dim`. `None` on the CPU, where the op composes tensor ops.
pub fn softmax_backward(g: &Tensor, y: &Tensor, dim: usize, log: bool) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[g, y])?,
        widen::on_f32_2(g, y, |g, y| gpu::softmax::softmax_backward(g, y, dim, log))
    )
}

/// One fused optimizer step on `param` in place (operands checked by `ops::optim`).
pub fn fused_update(
    param: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
    upd: crate::ops::optim::Update,
) -> Result<()> {
    let mut all = vec![param, grad];
    all.extend(bufs.iter().flatten());
    cpu_or_device!(
        device_of(&all)?,
        widen::update_in_f32(param, grad, bufs, |p, g, b| {
            crate::cpu::optim::fused_update(p, g, b, upd);
            Ok(())
        }),
        widen::update_in_f32(param, grad, bufs, |p, g, b| {
            gpu::optim::fused_update(p, g, b, upd)
        })
    )
}

/// The fused cross entropy forward on the wgpu device: `Some((loss, saved))` (flat loss values,
/// and what [`cross_entropy_backward`] reads), `None` for CPU operands (the caller composes).
pub fn cross_entropy(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    cfg: &crate::ops::cross_entropy::CrossEntropy,
) -> Result<Option<(Tensor, Tensor)>> {
    let mut ts = vec![x, t];
    ts.extend(w);
    match device_of(&ts)? {
        Device::Cpu => Ok(None),
        #[cfg(feature = "wgpu")]
        Device::Wgpu(_) => gpu::cross_entropy::cross_entropy(x, t, w, cfg).map(Some),
        #[cfg(not(feature = "wgpu"))]
        Device::Wgpu(_) => unreachable!("wgpu storage exists only with the wgpu feature"),
    }
}

/// The logits' gradient of the fused cross entropy (flat), from the forward's saved values.
pub fn cross_entropy_backward(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    aux: &Tensor,
    g: &Tensor,
    cfg: &crate::ops::cross_entropy::CrossEntropy,
) -> Result<Tensor> {
    #[cfg(feature = "wgpu")]
    {
        gpu::cross_entropy::cross_entropy_backward(x, t, w, aux, g, cfg)
    }
    #[cfg(not(feature = "wgpu"))]
    {
        Err(Error::runtime(
            "cross_entropy_backward: no device kernels in this build",
        ))
    }
}

/// One parameter of a group update: parameter, gradient, state buffers and its update.
pub type OptimItem = (
    Tensor,
    Tensor,
    Vec<Option<Tensor>>,
    crate::ops::optim::Update,
);

/// One fused optimizer step on every parameter of `items` in place (operands checked by
/// `ops::optim`). With fusion on, the float32 wgpu parameters of an algorithm with a group kernel
/// (SGD, Adam/AdamW) are updated by one dispatch per batch of parameters the adapter's binding
/// limits allow; `RUSTGRAD_WGPU_FUSION=0` and every other parameter take the per-tensor path.
pub fn fused_update_group(items: &[OptimItem]) -> Result<()> {
    #[cfg(feature = "wgpu")]
    if crate::wgpu::fusion_enabled() {
        let mut grouped = Vec::new();
        for it in items {
            let (p, g, bufs, upd) = it;
            let on_device = !p.device().is_cpu()
                && gpu::optim::has_group_kernel(upd)
                && std::iter::once(p)
                    .chain([g])
                    .chain(bufs.iter().flatten())
                    .all(|t| t.dtype() == DType::F32 && t.device() == p.device());
            if on_device {
                grouped.push(it.clone());
            } else {
                fused_update(p, g, bufs, *upd)?;
            }
        }
        return gpu::optim::fused_update_group(&grouped);
    }
    for (p, g, bufs, upd) in items {
        fused_update(p, g, bufs, *upd)?;
    }
    Ok(())
}

// ---- index family: index_select / index_add, gather / scatter, offset writes, advanced-index
// folding, cumulative scans (wgpu side in gpu/index.rs and gpu/scan.rs). Out-of-range indices on
// the device cannot raise inside a kernel: they are skipped and reported through the engine's
// device error flag, which raises at the next sync point.

/// `index_select(x, d, index)` into a fresh tensor of `out_shape` (a 0-d `x` is seen as `[1]`).
pub fn index_select(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    out_shape: &[usize],
) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x, index])?,
        widen::on_f32(x, |x| gpu::index::index_select(x, d, index, out_shape))
    )
}

/// Out-of-place `index_add(x, d, index, src, alpha)` (shapes already checked).
pub fn index_add(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    alpha: f64,
) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x, index, src])?,
        widen::on_f32_2(x, src, |x, src| gpu::index::index_add(
            x, d, index, src, alpha
        ))
    )
}

/// `gather(x, d, index)` (shapes already checked).
pub fn gather(x: &Tensor, d: usize, index: &Tensor) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x, index])?,
        widen::on_f32(x, |x| gpu::index::gather(x, d, index))
    )
}

/// Out-of-place scatter of `src` (a 0-d `src` with `scalar_src`: one value) into a copy of `x`.
pub fn scatter(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    src: &Tensor,
    scalar_src: bool,
    reduce: crate::ops::Reduce,
) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x, index, src])?,
        widen::on_f32_2(x, src, |x, src| gpu::index::scatter(
            x, d, index, src, scalar_src, reduce
        ))
    )
}

/// Write `values` (t's dtype, shaped like `offsets`) at raw storage offsets of `t`; a later
/// duplicate offset wins. `Ok(false)` means all are on the CPU and the caller writes.
pub fn put_offsets_(t: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<bool> {
    let r: Result<Option<()>> = on_device!(
        device_of(&[t, offsets, values])?,
        gpu::half::put_offsets_(t, offsets, values)
    );
    Ok(r?.is_some())
}

/// Advanced indexing's linear index: the int64 tensor of shape `bshape` holding
/// `sum_k wrap(indices[k]) * prod(sizes[k+1..])`, each index broadcast to `bshape` and checked
/// against `-sizes[k]..sizes[k]` (`dims[k]` names its dim in the error).
pub fn fold_index(
    indices: &[Tensor],
    sizes: &[usize],
    dims: &[usize],
    bshape: &[usize],
) -> Result<Option<Tensor>> {
    let refs: Vec<&Tensor> = indices.iter().collect();
    on_device!(
        device_of(&refs)?,
        gpu::index::fold_index(indices, sizes, dims, bshape)
    )
}

/// Inclusive sum (or product) scan of `x` along `d`, from the end when `reverse`.
pub fn scan(x: &Tensor, d: usize, prod: bool, reverse: bool) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| gpu::scan::scan(x, d, prod, reverse))
    )
}

/// The gradient of `y = cumprod(x, d)` for the output gradient `g`.
pub fn cumprod_grad(x: &Tensor, y: &Tensor, g: &Tensor, d: usize) -> Result<Option<Tensor>> {
    on_device!(
        device_of(&[x, y, g])?,
        widen::in_f32_as(x.dtype(), &[x, y, g], |t| gpu::scan::cumprod_grad(
            &t[0], &t[1], &t[2], d
        ))
        .unwrap_or_else(|| gpu::scan::cumprod_grad(x, y, g, d))
    )
}

// ---- convolution and pooling (ops/conv.rs, ops/pool.rs -> cpu/{conv,pool}.rs, gpu/{conv,pool}.rs)
//
// These return the result on either device: operands are contiguous (the ops make them so) and
// the CPU kernels are called from here, so the op files hold no kernel code.

/// The CPU kernel `$cpu` when the operands on `$dev` are host tensors, else the wgpu one.
macro_rules! cpu_or_device {
    ($dev:expr, $cpu:expr, $gpu:expr) => {
        match on_device!($dev, $gpu)? {
            Some(out) => Ok(out),
            None => $cpu,
        }
    };
}

/// Convolution forward `[n, o, oh, ow]` of contiguous `x` and `w` (plus `bias` per channel).
pub fn conv2d_forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &ConvGeom,
) -> Result<Tensor> {
    let mut ts = vec![x, w];
    ts.extend(bias);
    cpu_or_device!(
        device_of(&ts)?,
        {
            let b32 = bias.map(widen::widen).transpose()?;
            widen::on_f32_2(x, w, |x, w| {
                crate::cpu::conv::forward(x, w, b32.as_ref(), g)
            })
        },
        gpu::half::conv2d_forward(x, w, bias, g)
    )
}

/// Input gradient `[n, c, h, w]` of a convolution from contiguous `dy` and `w`.
pub fn conv2d_backward_input(dy: &Tensor, w: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[dy, w])?,
        widen::on_f32_2(dy, w, |dy, w| crate::cpu::conv::backward_input(dy, w, g)),
        widen::on_f32_2(dy, w, |dy, w| gpu::conv::backward_input(dy, w, g))
    )
}

/// Weight gradient `[o, c/groups, kh, kw]` of a convolution from contiguous `dy` and input `x`.
pub fn conv2d_backward_weight(dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[dy, x])?,
        widen::on_f32_2(dy, x, |dy, x| crate::cpu::conv::backward_weight(dy, x, g)),
        widen::on_f32_2(dy, x, |dy, x| gpu::conv::backward_weight(dy, x, g))
    )
}

/// Max pooling (fixed or adaptive windows) of contiguous `x`: values and int64 flat indices.
pub fn max_pool2d(x: &Tensor, g: &PoolGeom) -> Result<(Tensor, Tensor)> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32_pair(x, |x| crate::cpu::pool::max_pool2d(x, g)),
        widen::on_f32_pair(x, |x| gpu::pool::max_pool2d(x, g))
    )
}

/// Input gradient (shape `ishape`) of a max pooling from contiguous `gy` and its indices.
pub fn max_pool2d_backward(
    gy: &Tensor,
    idx: &Tensor,
    g: &PoolGeom,
    ishape: &[usize],
) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[gy, idx])?,
        widen::on_f32(gy, |gy| crate::cpu::pool::max_pool2d_backward(
            gy, idx, g, ishape
        )),
        widen::on_f32(gy, |gy| gpu::pool::max_pool2d_backward(gy, idx, g, ishape))
    )
}

/// Average pooling (fixed or adaptive windows) of contiguous `x`.
pub fn avg_pool2d(x: &Tensor, g: &PoolGeom, c: &AvgCfg) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[x])?,
        widen::on_f32(x, |x| crate::cpu::pool::avg_pool2d(x, g, c)),
        widen::on_f32(x, |x| gpu::pool::avg_pool2d(x, g, c))
    )
}

/// Input gradient (shape `ishape`) of an average pooling from contiguous `gy`.
pub fn avg_pool2d_backward(
    gy: &Tensor,
    g: &PoolGeom,
    c: &AvgCfg,
    ishape: &[usize],
) -> Result<Tensor> {
    cpu_or_device!(
        device_of(&[gy])?,
        widen::on_f32(gy, |gy| crate::cpu::pool::avg_pool2d_backward(
            gy, g, c, ishape
        )),
        widen::on_f32(gy, |gy| gpu::pool::avg_pool2d_backward(gy, g, c, ishape))
    )
}
