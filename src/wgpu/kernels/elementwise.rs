//! Fill, copies and the elementwise families (`fill.wgsl`, `copy.wgsl`, `unary.wgsl`,
//! `binary.wgsl`, `where.wgsl`).

use super::{float_type, same_elem_size, whole, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::ops::{BinaryOp, CompareOp, UnaryOp};
use crate::wgpu::template::op_body;
use crate::wgpu::view::{broadcast_strides, check_view, device_elem_size, params, GpuView};

/// Set every element of `dst` (any view) to the 32-bit pattern `bits`.
pub fn fill(dst: &GpuView, bits: u32) -> Result<()> {
    let op = "fill";
    check_view(op, dst)?;
    device_elem_size(dst.dtype)?;
    let n = dst.numel();
    if n == 0 {
        return Ok(());
    }
    let e = engine()?;
    let k = e.kernel("fill.wgsl", &[("DTYPE", "u32"), ("WG", WG_STR)])?;
    let p = params(
        op,
        &dst.shape,
        &[(dst.strides.clone(), dst.offset)],
        &[bits],
    )?;
    e.dispatch(op, &k, &p, &[whole(dst)], workgroups(n, WG))
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
    // Strides count elements, so 8-byte elements (int64) move as vec2<u32> words.
    let word = if elem == 8 { "vec2<u32>" } else { "u32" };
    let k = e.kernel("copy.wgsl", &[("DTYPE", word), ("WG", WG_STR)])?;
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

/// `op(a)` into a fresh contiguous buffer of `a`'s shape.
pub fn unary(op: UnaryOp, a: &GpuView) -> Result<GpuBuffer> {
    let name = op.name();
    check_view(name, a)?;
    let ty = float_type(name, a)?;
    let n = a.numel();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let vars = [
        ("DTYPE", ty),
        ("WG", WG_STR),
        ("OP", op_body("unary", name)?),
    ];
    let k = e.kernel("unary.wgsl", &vars)?;
    let p = params(name, &a.shape, &[(a.strides.clone(), a.offset)], &[])?;
    let bind = [
        whole(a),
        Binding {
            buffer: &out,
            bytes: n as u64 * 4,
        },
    ];
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

fn binary_family(
    name: &'static str,
    family: &str,
    out_ty: &str,
    a: &GpuView,
    b: &GpuView,
    out_shape: &[usize],
) -> Result<GpuBuffer> {
    check_view(name, a)?;
    check_view(name, b)?;
    let ty = float_type(name, a)?;
    if b.dtype != a.dtype {
        return Err(Error::runtime(format!(
            "wgpu: {name}: operands must share a dtype ({:?} vs {:?}); promote before the kernel",
            a.dtype, b.dtype
        )));
    }
    let sa = broadcast_strides(name, a, out_shape)?;
    let sb = broadcast_strides(name, b, out_shape)?;
    let n: usize = out_shape.iter().product();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let vars = [
        ("DTYPE", ty),
        ("OUT", out_ty),
        ("WG", WG_STR),
        ("OP", op_body(family, name)?),
    ];
    let k = e.kernel("binary.wgsl", &vars)?;
    let p = params(name, out_shape, &[(sa, a.offset), (sb, b.offset)], &[])?;
    let bind = [
        whole(a),
        whole(b),
        Binding {
            buffer: &out,
            bytes: n as u64 * 4,
        },
    ];
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// `op(a, b)` broadcast to `out_shape`, into a fresh contiguous buffer.
pub fn binary(op: BinaryOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    let ty = float_type(op.name(), a)?;
    binary_family(op.name(), "binary", ty, a, b, out_shape)
}

/// `op(a, b)` broadcast to `out_shape`: a fresh bool tensor (u32 0/1 per element).
pub fn compare(op: CompareOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    binary_family(op.name(), "compare", "u32", a, b, out_shape)
}

/// `torch.where(cond, a, b)` broadcast to `out_shape` (cond: bool, i.e. u32 on the device).
pub fn where_(cond: &GpuView, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = "where";
    for v in [cond, a, b] {
        check_view(name, v)?;
    }
    if cond.dtype != DType::Bool {
        return Err(Error::runtime(format!(
            "wgpu: where expected condition to be a boolean tensor, but got a tensor with dtype {:?}",
            cond.dtype
        )));
    }
    let ty = float_type(name, a)?;
    if b.dtype != a.dtype {
        return Err(Error::runtime(format!(
            "wgpu: where: a and b must share a dtype ({:?} vs {:?})",
            a.dtype, b.dtype
        )));
    }
    let sc = broadcast_strides(name, cond, out_shape)?;
    let sa = broadcast_strides(name, a, out_shape)?;
    let sb = broadcast_strides(name, b, out_shape)?;
    let n: usize = out_shape.iter().product();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel("where.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        name,
        out_shape,
        &[(sc, cond.offset), (sa, a.offset), (sb, b.offset)],
        &[],
    )?;
    let bind = [
        whole(cond),
        whole(a),
        whole(b),
        Binding {
            buffer: &out,
            bytes: n as u64 * 4,
        },
    ];
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}
