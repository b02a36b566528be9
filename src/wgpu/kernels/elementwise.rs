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
use crate::wgpu::fusion::{Input, StageOp};
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

/// One elementwise op: `inputs` read through their views broadcast to `out_shape` (constants
/// everywhere), one `out_dtype` element per logical element into a fresh contiguous buffer.
/// With fusion on the op joins the open batch's chain (`wgpu/fusion.rs`) as `stage`; otherwise
/// (or when it cannot fuse) it is dispatched alone with `shader` rendered with `vars`.
#[allow(clippy::too_many_arguments)]
fn launch(
    name: &'static str,
    shader: &'static str,
    vars: &[(&str, &str)],
    stage: StageOp,
    inputs: &[Input],
    out_shape: &[usize],
    out_dtype: DType,
    scalars: &[u32],
) -> Result<GpuBuffer> {
    for input in inputs {
        if let Input::View(v) = input {
            check_view(name, v)?;
            broadcast_strides(name, v, out_shape)?;
        }
    }
    let n: usize = out_shape.iter().product();
    let bytes = (n as u64)
        .checked_mul(device_elem_size(out_dtype)?)
        .ok_or_else(|| Error::runtime(format!("wgpu: {name}: output size overflows")))?;
    let out = alloc(bytes)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    if e.record_stage(stage, inputs, out_shape, &out)? {
        return Ok(out);
    }
    // Alone: constants become uploaded 0-d tensors.
    let mut owned = Vec::with_capacity(inputs.len());
    for input in inputs {
        owned.push(match input {
            Input::View(v) => v.clone(),
            Input::Const { words, dtype } => {
                let elem = device_elem_size(*dtype)?;
                let buf = alloc(elem)?;
                let w = &words[..(elem / 4) as usize];
                e.write(&buf, 0, bytemuck::cast_slice(w))?;
                GpuView::new(buf, *dtype, &[], &[], 0)
            }
        });
    }
    let mut views = Vec::with_capacity(owned.len());
    for v in &owned {
        views.push((broadcast_strides(name, v, out_shape)?, v.offset));
    }
    let k = e.kernel(shader, vars)?;
    let p = params(name, out_shape, &views, scalars)?;
    let mut bind: Vec<Binding> = owned.iter().map(whole).collect();
    bind.push(Binding {
        buffer: &out,
        bytes,
    });
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// The stage a fused chain records for an op: `body` over `arg_names` of word type `arg`.
fn stage(
    body: &'static str,
    arg_names: &'static [&'static str],
    arg_words: Vec<&'static str>,
    out: &DeviceType,
    out_dtype: DType,
    fparams: Vec<u32>,
) -> StageOp {
    StageOp {
        body,
        arg_names,
        arg_words,
        out_word: out.word,
        out_dtype,
        fparams,
    }
}

/// Inputs of a binary-shaped op must share a dtype (promotion happens before the kernel).
fn shared_type(name: &'static str, a: &Input, b: &Input) -> Result<DeviceType> {
    if b.dtype() != a.dtype() {
        return Err(Error::runtime(format!(
            "wgpu: {name}: operands must share a dtype ({:?} vs {:?}); promote before the kernel",
            a.dtype(),
            b.dtype()
        )));
    }
    device_type(name, a.dtype())
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
    let st = stage(body, &["x"], vec![from.word], &dst, to, Vec::new());
    launch(
        "to",
        "cast.wgsl",
        &vars,
        st,
        &[Input::View(src.clone())],
        &src.shape.clone(),
        to,
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
    let body = op_body_for(family, name, ty.tag)?;
    let vars = [("DTYPE", ty.word), ("WG", WG_STR), ("OP", body)];
    let words: Vec<u32> = params.iter().map(|p| p.to_bits()).collect();
    let st = stage(body, &["x"], vec![ty.word], &ty, a.dtype, words.clone());
    launch(
        name,
        "unary.wgsl",
        &vars,
        st,
        &[Input::View(a.clone())],
        &a.shape.clone(),
        a.dtype,
        &words,
    )
}

/// `op(a, b)` broadcast to `out_shape`, into a fresh contiguous buffer of the operands' dtype.
pub fn binary(op: BinaryOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    binary_inputs(
        op,
        &Input::View(a.clone()),
        &Input::View(b.clone()),
        out_shape,
    )
}

/// [`binary`] over inputs that may be constants (a scalar operand costs no upload).
pub fn binary_inputs(op: BinaryOp, a: &Input, b: &Input, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = op.name();
    let ty = shared_type(name, a, b)?;
    let body = op_body_for("binary", name, ty.tag)?;
    let vars = [
        ("DTYPE", ty.word),
        ("OUT", ty.word),
        ("WG", WG_STR),
        ("OP", body),
    ];
    let dtype = a.dtype();
    let st = stage(body, &["a", "b"], vec![ty.word; 2], &ty, dtype, Vec::new());
    let inputs = [a.clone(), b.clone()];
    launch(
        name,
        "binary.wgsl",
        &vars,
        st,
        &inputs,
        out_shape,
        dtype,
        &[],
    )
}

/// `op(a, b)` broadcast to `out_shape`: a fresh bool tensor (u32 0/1 per element).
pub fn compare(op: CompareOp, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    compare_inputs(
        op,
        &Input::View(a.clone()),
        &Input::View(b.clone()),
        out_shape,
    )
}

/// [`compare`] over inputs that may be constants.
pub fn compare_inputs(
    op: CompareOp,
    a: &Input,
    b: &Input,
    out_shape: &[usize],
) -> Result<GpuBuffer> {
    let name = op.name();
    let ty = shared_type(name, a, b)?;
    let body = op_body_for("compare", name, ty.tag)?;
    let vars = [
        ("DTYPE", ty.word),
        ("OUT", "u32"),
        ("WG", WG_STR),
        ("OP", body),
    ];
    let boolean = DeviceType {
        word: "u32",
        tag: "bool",
    };
    let st = stage(
        body,
        &["a", "b"],
        vec![ty.word; 2],
        &boolean,
        DType::Bool,
        Vec::new(),
    );
    let inputs = [a.clone(), b.clone()];
    launch(
        name,
        "binary.wgsl",
        &vars,
        st,
        &inputs,
        out_shape,
        DType::Bool,
        &[],
    )
}

/// `torch.where(cond, a, b)` broadcast to `out_shape` (cond: bool, i.e. u32 on the device).
pub fn where_(cond: &GpuView, a: &GpuView, b: &GpuView, out_shape: &[usize]) -> Result<GpuBuffer> {
    where_inputs(
        &Input::View(cond.clone()),
        &Input::View(a.clone()),
        &Input::View(b.clone()),
        out_shape,
    )
}

/// [`where_`] over inputs that may be constants.
pub fn where_inputs(cond: &Input, a: &Input, b: &Input, out_shape: &[usize]) -> Result<GpuBuffer> {
    let name = "where";
    if cond.dtype() != DType::Bool {
        return Err(Error::runtime(format!(
            "wgpu: where expected condition to be a boolean tensor, but got a tensor with dtype {:?}",
            cond.dtype()
        )));
    }
    let ty = shared_type(name, a, b)?;
    let vars = [("DTYPE", ty.word), ("WG", WG_STR)];
    let dtype = a.dtype();
    let st = stage(
        "select(b, a, c != 0u)",
        &["c", "a", "b"],
        vec!["u32", ty.word, ty.word],
        &ty,
        dtype,
        Vec::new(),
    );
    let inputs = [cond.clone(), a.clone(), b.clone()];
    launch(
        name,
        "where.wgsl",
        &vars,
        st,
        &inputs,
        out_shape,
        dtype,
        &[],
    )
}
