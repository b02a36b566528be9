//! float16 and bfloat16 storage on the device: elements are 2 bytes, packed two per u32 word
//! (element `e` is the low half of word `e / 2` when `e` is even, the high half when odd), and a
//! buffer of `n` halves holds `ceil(n / 2)` words. Only storage kernels know halves: packing a
//! view into contiguous halves (`half_pack.wgsl`, one invocation per output word), widening to
//! f32 (`half_widen.wgsl`) and strided stores into half views (`half_store.wgsl`, atomics on the
//! shared words). Everything else computes in f32 after a widen and rounds once on the way back
//! (`kernels::widen`), as the CPU does.

use super::{whole, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::engine::engine;
use crate::wgpu::view::{check_view, params, GpuView};

/// The shader name of a half dtype ("f16" / "bf16"), `None` for the others.
pub fn half_kind(dtype: DType) -> Option<&'static str> {
    match dtype {
        DType::F16 => Some("f16"),
        DType::BF16 => Some("bf16"),
        _ => None,
    }
}

fn kind_of(op: &str, dtype: DType) -> Result<&'static str> {
    half_kind(dtype).ok_or_else(|| {
        Error::runtime(format!(
            "wgpu: {op}: expected a float16 or bfloat16 view, got {dtype:?}"
        ))
    })
}

/// Bytes of a buffer holding `n` halves (whole words).
pub fn half_bytes(n: usize) -> u64 {
    (n as u64).div_ceil(2) * 4
}

/// The source word type and the body of `load_half(e)` for a source view of dtype `src`
/// converted to the half `kind`: packed halves of that kind as they are, f32 rounded to it.
fn loader(op: &str, src: DType, kind: &str) -> Result<(&'static str, String)> {
    if src == DType::F32 {
        return Ok((
            "f32",
            format!("return f32_to_{kind}_bits(bitcast<u32>(src[e]));"),
        ));
    }
    if half_kind(src) == Some(kind) {
        return Ok(("u32", "return half_at(src[e >> 1u], e);".to_owned()));
    }
    Err(Error::runtime(format!(
        "wgpu: {op}: cannot load {src:?} elements as {kind}"
    )))
}

/// `src` (halves of dtype `to`, or f32) as fresh contiguous halves of dtype `to`.
pub fn pack(src: &GpuView, to: DType) -> Result<GpuBuffer> {
    let op = "to";
    check_view(op, src)?;
    let kind = kind_of(op, to)?;
    let n = src.numel();
    let out = alloc(half_bytes(n))?;
    if n == 0 {
        return Ok(out);
    }
    // A contiguous half view at an even offset is a plain copy of whole words.
    let row_major = crate::shape::contiguous_strides(&src.shape);
    let plain = src
        .shape
        .iter()
        .zip(src.strides.iter().zip(&row_major))
        .all(|(&d, (s, r))| d == 1 || s == r);
    if src.dtype == to && plain && src.offset.is_multiple_of(2) {
        let bytes = half_bytes(n);
        if src.offset as u64 * 2 + bytes <= src.buffer.len() {
            super::copy(&src.buffer, src.offset as u64 * 2, &out, 0, bytes)?;
            return Ok(out);
        }
    }
    let (word, load) = loader(op, src.dtype, kind)?;
    let e = engine()?;
    let vars = [("IN", word), ("LOAD", load.as_str()), ("WG", WG_STR)];
    let k = e.kernel("half_pack.wgsl", &vars)?;
    let p = params(op, &src.shape, &[(src.strides.clone(), src.offset)], &[])?;
    let bind = [
        whole(src),
        crate::wgpu::encoder::Binding {
            buffer: &out,
            bytes: out.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n.div_ceil(2), WG))?;
    Ok(out)
}

/// A half view as fresh contiguous f32 (exact).
pub fn widen(src: &GpuView) -> Result<GpuBuffer> {
    let op = "to";
    check_view(op, src)?;
    let kind = kind_of(op, src.dtype)?;
    let n = src.numel();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel("half_widen.wgsl", &[("KIND", kind), ("WG", WG_STR)])?;
    let p = params(op, &src.shape, &[(src.strides.clone(), src.offset)], &[])?;
    let bind = [
        whole(src),
        crate::wgpu::encoder::Binding {
            buffer: &out,
            bytes: out.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// `dst.copy_(src)` for a half `dst` view of any strides and offset; `src` has `dst`'s shape
/// and is either halves of `dst`'s dtype or f32 (rounded once).
pub fn store(src: &GpuView, dst: &GpuView) -> Result<()> {
    let op = "copy_";
    check_view(op, src)?;
    check_view(op, dst)?;
    let kind = kind_of(op, dst.dtype)?;
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
        // One buffer cannot be bound for reading and writing at once: go through a copy.
        let tmp = if src.dtype == DType::F32 {
            super::contiguous(src)?
        } else {
            pack(src, src.dtype)?
        };
        return store(&GpuView::contiguous(tmp, src.dtype, &src.shape), dst);
    }
    let (word, load) = loader(op, src.dtype, kind)?;
    let e = engine()?;
    let vars = [("IN", word), ("LOAD", load.as_str()), ("WG", WG_STR)];
    let k = e.kernel("half_store.wgsl", &vars)?;
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

/// `src` converted to `to` into a fresh contiguous buffer, where either dtype is a half: halves
/// go through f32 (exact), other dtypes reach f32 with the ordinary cast kernel first, and the
/// f32 values round once to the target half.
pub fn cast(src: &GpuView, to: DType) -> Result<GpuBuffer> {
    let from_half = half_kind(src.dtype).is_some();
    if from_half && to == src.dtype {
        return pack(src, to);
    }
    if from_half {
        let wide = widen(src)?;
        if to == DType::F32 {
            return Ok(wide);
        }
        let wv = GpuView::contiguous(wide, DType::F32, &src.shape);
        return if half_kind(to).is_some() {
            pack(&wv, to)
        } else {
            super::cast(&wv, to)
        };
    }
    kind_of("to", to)?;
    if src.dtype == DType::F32 {
        return pack(src, to);
    }
    let wide = super::cast(src, DType::F32)?;
    pack(&GpuView::contiguous(wide, DType::F32, &src.shape), to)
}

/// `a @ b` for half views of one dtype (`[batch..., M, K]` and `[batch..., K, N]`, batch dims
/// broadcast, any strides) as a fresh contiguous f32 buffer `[batch..., M, N]`: the operands are
/// widened as they are loaded (`matmul_half.wgsl`) and the products accumulate in f32. The caller
/// rounds the result to the half dtype once.
pub fn matmul_f32_out(a: &GpuView, b: &GpuView) -> Result<GpuBuffer> {
    let op = "matmul";
    check_view(op, a)?;
    check_view(op, b)?;
    let kind = kind_of(op, a.dtype)?;
    if a.dtype != b.dtype || a.shape.len() < 2 || b.shape.len() < 2 {
        return Err(Error::runtime(format!(
            "wgpu: matmul needs two >=2-D operands of one dtype (got {} {:?} and {} {:?})",
            fmt_shape(&a.shape),
            a.dtype,
            fmt_shape(&b.shape),
            b.dtype
        )));
    }
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
    let (k2, n) = (b.shape[rb - 2], b.shape[rb - 1]);
    if k != k2 {
        return Err(Error::runtime(format!(
            "mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})"
        )));
    }
    let batch = crate::shape::broadcast_shapes(&a.shape[..ra - 2], &b.shape[..rb - 2])?;
    let batch_view = |v: &GpuView| GpuView {
        shape: v.shape[..v.shape.len() - 2].into(),
        strides: v.strides[..v.strides.len() - 2].into(),
        ..v.clone()
    };
    let sa = crate::wgpu::view::broadcast_strides(op, &batch_view(a), &batch)?;
    let sb = crate::wgpu::view::broadcast_strides(op, &batch_view(b), &batch)?;
    let batches: usize = batch.iter().product();
    let bytes = (batches * m * n) as u64 * 4;
    let out = alloc(bytes)?;
    if batches * m * n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let kern = e.kernel("matmul_half.wgsl", &[("KIND", kind), ("WG", WG_STR)])?;
    let st = |v: &GpuView, back: usize| v.strides[v.strides.len() - back] as i32 as u32;
    let scalars = [
        m as u32,
        n as u32,
        k as u32,
        st(a, 2),
        st(a, 1),
        st(b, 2),
        st(b, 1),
    ];
    let p = params(op, &batch, &[(sa, a.offset), (sb, b.offset)], &scalars)?;
    let bind = [
        whole(a),
        whole(b),
        crate::wgpu::encoder::Binding {
            buffer: &out,
            bytes,
        },
    ];
    // The 64 x 64 output blocks of matmul_half.wgsl.
    let wgs = (batches * m.div_ceil(64) * n.div_ceil(64)) as u64;
    e.dispatch(op, &kern, &p, &bind, wgs)?;
    Ok(out)
}
