//! Fill, copies, casts and the elementwise families (`fill.wgsl`, `copy.wgsl`, `cast.wgsl`,
//! `unary.wgsl`, `binary.wgsl`, `where.wgsl`), for every device dtype: the op body comes from
//! `ops.txt` by the dtype's tag (`op_body_for`), so int64 gets its two-word arithmetic.

use super::{device_type, same_elem_size, whole, workgroups, DeviceType, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::ops::{BinaryOp, CompareOp, UnaryOp};
use crate::wgpu::template::op_body_for;
use crate::wgpu::view::{broadcast_strides, check_view, device_elem_size, params, GpuView};

/// The storage word a copy or fill moves for elements of `elem` bytes (bit for bit).
fn word_of(elem: u64) -> &'static str {
    if elem == 8 {
        "vec2<u32>"
    } else {
        "u32"
    }
}

/// Set every element of `dst` (any view) to the element whose device words are `words` (one
/// word for 4-byte dtypes, low then high word for int64).
pub fn fill_words(dst: &GpuView, words: &[u32]) -> Result<()> {
    let op = "fill";
    check_view(op, dst)?;
    let elem = device_elem_size(dst.dtype)?;
    if words.len() as u64 * 4 != elem {
        return Err(Error::runtime(format!(
            "wgpu: fill: {} value words for a {elem}-byte element",
            words.len()
        )));
    }
    let n = dst.numel();
    if n == 0 {
        return Ok(());
    }
    let value = if elem == 8 {
        "vec2<u32>(scalar(0u), scalar(1u))"
    } else {
        "scalar(0u)"
    };
    let e = engine()?;
    let vars = [("DTYPE", word_of(elem)), ("VALUE", value), ("WG", WG_STR)];
    let k = e.kernel("fill.wgsl", &vars)?;
    let p = params(op, &dst.shape, &[(dst.strides.clone(), dst.offset)], words)?;
    e.dispatch(op, &k, &p, &[whole(dst)], workgroups(n, WG))
}

/// Set every element of a 4-byte-dtype view to the 32-bit pattern `bits`.
pub fn fill(dst: &GpuView, bits: u32) -> Result<()> {
    fill_words(dst, &[bits])
}

/// `fill` with an f32 value.
pub fn fill_f32(dst: &GpuView, value: f32) -> Result<()> {
    fill(dst, value.to_bits())
}

/// Copy `bytes` bytes between buffers (offsets and length multiples of 4), in stream order.
pub fn copy(
    src: &GpuBuffer,
    src_offset: u64,
    dst: &GpuBuffer,
    dst_offset: u64,
    bytes: u64,
) -> Result<()> {
    engine()?.copy(src, src_offset, dst, dst_offset, bytes)
}

/// `dst.copy_(src)` for views of one shape and element size (any strides, offsets, overlap with
/// other views). A copy within one buffer goes through a temporary.
pub fn copy_strided(src: &GpuView, dst: &GpuView) -> Result<()> {
    let op = "copy_";
    check_view(op, src)?;
    check_view(op, dst)?;
    let elem = same_elem_size(op, src, dst)?;
    if src.shape != dst.shape {
        return Err(Error::runtime(format!(
            "wgpu: {op}: shapes differ ({} vs {})",
            fmt_shape(&src.shape),
            fmt_shape(&dst.shape)
        )));
    }
    let n = src.numel();
    if n == 0 {
        return Ok(());
    }
    if src.buffer.same_buffer(&dst.buffer) {
        let tmp = contiguous(src)?;
        return copy_strided(&GpuView::contiguous(tmp, src.dtype, &src.shape), dst);
    }
    let e = engine()?;
    let k = e.kernel("copy.wgsl", &[("DTYPE", word_of(elem)), ("WG", WG_STR)])?;
    let p = params(
        op,
        &src.shape,
        &[
            (src.strides.clone(), src.offset),
            (dst.strides.clone(), dst.offset),
        ],
        &[],
    )?;
    e.dispatch(op, &k, &p, &[whole(src), whole(dst)], workgroups(n, WG))
}

/// A fresh row-major buffer with `src`'s elements (`tensor.contiguous()`).
pub fn contiguous(src: &GpuView) -> Result<GpuBuffer> {
    check_view("contiguous", src)?;
    let elem = device_elem_size(src.dtype)?;
    let n = src.numel() as u64;
    let out = alloc(n * elem)?;
    let row_major = crate::shape::contiguous_strides(&src.shape);
    let plain = src
        .shape
        .iter()
        .zip(src.strides.iter().zip(&row_major))
        .all(|(&d, (s, r))| d == 1 || s == r);
    if plain {
        copy(&src.buffer, src.offset as u64 * elem, &out, 0, n * elem)?;
    } else {
        copy_strided(
            src,
            &GpuView::contiguous(out.clone(), src.dtype, &src.shape),
        )?;
    }
    Ok(out)
}

/// One elementwise launch: `inputs` read through their views broadcast to `out_shape`, one output
/// element of `out_elem` bytes per logical element, written contiguously after the inputs.
fn launch(
    name: &'static str,
    shader: &'static str,
    vars: &[(&str, &str)],
    inputs: &[&GpuView],
    out_shape: &[usize],
    out_elem: u64,
    scalars: &[u32],
) -> Result<GpuBuffer> {
    let mut views = Vec::with_capacity(inputs.len());
    for v in inputs {
        check_view(name, v)?;
        views.push((broadcast_strides(name, v, out_shape)?, v.offset));
    }
    let n: usize = out_shape.iter().product();
    let bytes = (n as u64)
        .checked_mul(out_elem)
        .ok_or_else(|| Error::runtime(format!("wgpu: {name}: output size overflows")))?;
    let out = alloc(bytes)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel(shader, vars)?;
    let p = params(name, out_shape, &views, scalars)?;
    let mut bind: Vec<Binding> = inputs.iter().map(|v| whole(v)).collect();
    bind.push(Binding {
        buffer: &out,
        bytes,
    });
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// Inputs of a binary-shaped op must share a dtype (promotion happens before the kernel).
fn shared_type(name: &'static str, a: &GpuView, b: &GpuView) -> Result<DeviceType> {
    if b.dtype != a.dtype {
        return Err(Error::runtime(format!(
            "wgpu: {name}: operands must share a dtype ({:?} vs {:?}); promote before the kernel",
            a.dtype, b.dtype
        )));
    }
    device_type(name, a.dtype)
}

/// `src` converted to `to`, into a fresh contiguous buffer (`tensor.to(dtype)`).
pub fn cast(src: &GpuView, to: DType) -> Result<GpuBuffer> {
    let from = device_type("to", src.dtype)?;
    let dst = device_type("to", to)?;
    if src.dtype == to {
        return contiguous(src);
    }
    let body = crate::wgpu::template::op_body("cast", &format!("{}_{}", from.tag, dst.tag))?;
    let vars = [
        ("IN", from.word),
        ("OUT", dst.word),
        ("CAST", body),
        ("WG", WG_STR),
    ];
    launch(
        "to",
        "cast.wgsl",
        &vars,
        &[src],
        &src.shape.clone(),
        device_elem_size(to)?,
        &[],
    )
}

/// `op(a)` into a fresh contiguous buffer of `a`'s shape and dtype.
pub fn unary(op: UnaryOp, a: &GpuView) -> Result<GpuBuffer> {
    unary_with(op, a, &[])
}

/// `op(a)` for a parameterised op: `params` are its f32 scalars (`p0()`, `p1()` in ops.txt).
pub fn unary_with(op: UnaryOp, a: &GpuView, params: &[f32]) -> Result<GpuBuffer> {
    let name = op.name();
    let family = if params.is_empty() {
        "unary"
    } else {
        "unary_param"
    };
    let ty = device_type(name, a.dtype)?;
    let vars = [
        ("DTYPE", ty.word),
        ("WG", WG_STR),
        ("OP", op_body_for(family, name, ty.tag)?),
    ];
    let elem = device_elem_size(a.dtype)?;
    let words: Vec<u32> = params.iter().map(|p| p.to_bits()).collect();
    launch(
        name,
        "unary.wgsl",
        &vars,
        &[a],
        &a.shape.clone(),
        elem,
        &words,
    )
}

/// `op(a, b)` broadcast to `out_shape`, into a fresh contiguous buffer of the operands' dtype.
pub fn binary(op: BinaryOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = op.name();
    let ty = shared_type(name, a, b)?;
    let vars = [
        ("DTYPE", ty.word),
        ("OUT", ty.word),
        ("WG", WG_STR),
        ("OP", op_body_for("binary", name, ty.tag)?),
    ];
    let elem = device_elem_size(a.dtype)?;
    launch(name, "binary.wgsl", &vars, &[a, b], out_shape, elem, &[])
}

/// `op(a, b)` broadcast to `out_shape`: a fresh bool tensor (u32 0/1 per element).
pub fn compare(op: CompareOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = op.name();
    let ty = shared_type(name, a, b)?;
    let vars = [
        ("DTYPE", ty.word),
        ("OUT", "u32"),
        ("WG", WG_STR),
        ("OP", op_body_for("compare", name, ty.tag)?),
    ];
    launch(name, "binary.wgsl", &vars, &[a, b], out_shape, 4, &[])
}

/// `torch.where(cond, a, b)` broadcast to `out_shape` (cond: bool, i.e. u32 on the device).
pub fn where_(cond: &GpuView, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = "where";
    if cond.dtype != DType::Bool {
        return Err(Error::runtime(format!(
            "wgpu: where expected condition to be a boolean tensor, but got a tensor with dtype {:?}",
            cond.dtype
        )));
    }
    let ty = shared_type(name, a, b)?;
    let vars = [("DTYPE", ty.word), ("WG", WG_STR)];
    let elem = device_elem_size(a.dtype)?;
    launch(
        name,
        "where.wgsl",
        &vars,
        &[cond, a, b],
        out_shape,
        elem,
        &[],
    )
}
