//! Batched, strided matmul with a fused epilogue. The product runs on the register-blocked GEMM
//! core (`gemm_matmul.wgsl` over `gemm_core.wgsl`) in the tile shape [`gemm::choose`] picks,
//! with vec4 loads where the operands' unit strides, offsets and sizes allow; `legacy` (the
//! first 64x64 kernel, `matmul.wgsl`) stays selectable for comparison.

use super::gemm::{self, as_refs, Act, Tile};
use super::{float_type, whole, WG_STR};
use crate::error::{Error, Result};
use crate::shape::{fmt_shape, Shape};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{broadcast_strides, check_view, params, GpuView};

const LEGACY_TILE: usize = 64;

/// First word of the bias descriptor (view slot 2): offset, -, row stride, column stride.
const BIAS0: usize = 38;

/// `a @ b` for `a: [batch_a..., M, K]`, `b: [batch_b..., K, N]` (both at least 2-D; batch dims
/// broadcast). Returns a fresh contiguous `[batch..., M, N]` buffer. Transposed or expanded
/// operands are read through their strides, never copied.
pub fn matmul(a: &GpuView, b: &GpuView) -> Result<GpuBuffer> {
    Ok(matmul_fused(a, b, None, Act::None, false)?.0)
}

/// `act(a @ b + bias)` in one kernel: `bias` is a 2-D `[M, N]` view (strides 0 where it
/// broadcasts), added to every batch entry. With `save_pre`, the pre-activation `a @ b + bias`
/// is written too (second result) for backward rules that need it.
pub fn matmul_fused(
    a: &GpuView,
    b: &GpuView,
    bias: Option<&GpuView>,
    act: Act,
    save_pre: bool,
) -> Result<(GpuBuffer, Option<GpuBuffer>)> {
    let op = "matmul";
    check_view(op, a)?;
    check_view(op, b)?;
    let ty = float_type(op, a)?;
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
    if let Some(bv) = bias {
        check_view(op, bv)?;
        if bv.shape.as_slice() != [m, n] || bv.dtype != a.dtype {
            return Err(Error::runtime(format!(
                "wgpu: matmul bias must be a [{m}, {n}] view of the operands' dtype (got {})",
                fmt_shape(&bv.shape)
            )));
        }
    }
    let batch = crate::shape::broadcast_shapes(&a.shape[..ra - 2], &b.shape[..rb - 2])?;
    let batch_view = |v: &GpuView| GpuView {
        shape: v.shape[..v.shape.len() - 2].into(),
        strides: v.strides[..v.strides.len() - 2].into(),
        ..v.clone()
    };
    let sa = broadcast_strides(op, &batch_view(a), &batch)?;
    let sb = broadcast_strides(op, &batch_view(b), &batch)?;
    let batches: usize = batch.iter().product();
    let bytes = (batches * m * n) as u64 * 4;
    let out = alloc(bytes)?;
    let pre = if save_pre && act != Act::None {
        Some(alloc(bytes)?)
    } else {
        None
    };
    if batches * m * n == 0 {
        return Ok((out, pre));
    }
    let tile = gemm::choose(m, n, batches);
    let plain = bias.is_none() && act == Act::None;
    let st = |v: &GpuView, back: usize| v.strides[v.strides.len() - back];
    let scalars = [
        m as u32,
        n as u32,
        k as u32,
        st(a, 2) as i32 as u32,
        st(a, 1) as i32 as u32,
        st(b, 2) as i32 as u32,
        st(b, 1) as i32 as u32,
    ];
    let shape: Shape = batch;
    let mut p = params(
        op,
        &shape,
        &[(sa.clone(), a.offset), (sb.clone(), b.offset)],
        &scalars,
    )?;
    let e = engine()?;
    let Some(tile) = tile else {
        // The legacy kernel has no epilogue: only plain products take it.
        if !plain {
            return Err(Error::runtime(
                "wgpu: the legacy matmul kernel has no fused epilogue",
            ));
        }
        let kern = e.kernel("matmul.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
        let bind = [
            whole(a),
            whole(b),
            Binding {
                buffer: &out,
                bytes,
            },
        ];
        let wgs = (batches * m.div_ceil(LEGACY_TILE) * n.div_ceil(LEGACY_TILE)) as u64;
        e.dispatch(op, &kern, &p, &bind, wgs)?;
        return Ok((out, pre));
    };
    // vec4 loads: A along k (unit column stride), B along k (unit row stride) or along n (unit
    // column stride); every other stride, the offsets and the loaded extent multiples of 4, and
    // each buffer bindable in whole vec4s.
    let m4 = |s: isize| s % 4 == 0;
    let fits = |v: &GpuView| {
        let need = v.buffer.len().div_ceil(16) * 16;
        need <= v.buffer.capacity() && v.offset.is_multiple_of(4)
    };
    let a_vec = st(a, 1) == 1 && m4(st(a, 2)) && k % 4 == 0 && sa.iter().all(|&s| m4(s)) && fits(a);
    let b_k = st(b, 2) == 1 && m4(st(b, 1)) && k % 4 == 0;
    let b_n = st(b, 1) == 1 && m4(st(b, 2)) && n % 4 == 0;
    let b_vec = (b_k || b_n) && sb.iter().all(|&s| m4(s)) && fits(b);
    let vec = a_vec && b_vec && k > 0;
    let a_k_fast = if vec {
        true
    } else {
        st(a, 1).abs() <= st(a, 2).abs()
    };
    let b_k_fast = if vec {
        b_k
    } else {
        st(b, 2).abs() < st(b, 1).abs()
    };
    let mut vars = tile.vars(vec, a_k_fast, b_k_fast);
    let (elem, at, bt, at4, bt4) = if vec {
        (
            "vec4<f32>",
            "return lhs[i / 4][i % 4];",
            "return rhs[i / 4][i % 4];",
            "return lhs[i / 4];",
            "return rhs[i / 4];",
        )
    } else {
        (
            "f32",
            "return lhs[i];",
            "return rhs[i];",
            "return vec4<f32>(lhs[i], lhs[i + 1], lhs[i + 2], lhs[i + 3]);",
            "return vec4<f32>(rhs[i], rhs[i + 1], rhs[i + 2], rhs[i + 3]);",
        )
    };
    let mut next_binding = 4;
    let (bias_decl, bias_expr) = match bias {
        Some(bv) => {
            next_binding += 1;
            p.resize(p.len().max(BIAS0 + 4), 0);
            p[BIAS0] = bv.offset as u32;
            p[BIAS0 + 2] = bv.strides[0] as i32 as u32;
            p[BIAS0 + 3] = bv.strides[1] as i32 as u32;
            (
                "@group(0) @binding(4) var<storage, read> bias_buf: array<f32>;".to_string(),
                "bias_buf[bitcast<i32>(params[38u]) + i32(row) * bitcast<i32>(params[40u]) \
                 + i32(col) * bitcast<i32>(params[41u])]"
                    .to_string(),
            )
        }
        None => (String::new(), "0.0".to_string()),
    };
    let (pre_decl, pre_store) = if pre.is_some() {
        (
            format!("@group(0) @binding({next_binding}) var<storage, read_write> pre: array<f32>;"),
            "pre[i] = v;".to_string(),
        )
    } else {
        (String::new(), String::new())
    };
    vars.extend([
        ("ELEM", elem.to_string()),
        ("AT", at.to_string()),
        ("BT", bt.to_string()),
        ("AT4", at4.to_string()),
        ("BT4", bt4.to_string()),
        ("BIAS_DECL", bias_decl),
        ("BIAS", bias_expr),
        ("PRE_DECL", pre_decl),
        ("PRE_STORE", pre_store),
        ("ACT", act.expr().to_string()),
    ]);
    let kern = e.kernel("gemm_matmul.wgsl", &as_refs(&vars))?;
    let mut bind = vec![
        operand(a, vec),
        operand(b, vec),
        Binding {
            buffer: &out,
            bytes,
        },
    ];
    if let Some(bv) = bias {
        bind.push(whole(bv));
    }
    if let Some(pb) = &pre {
        bind.push(Binding { buffer: pb, bytes });
    }
    e.dispatch(op, &kern, &p, &bind, tile.workgroups(m, n, batches))?;
    Ok((out, pre))
}

/// An operand's whole buffer, in whole vec4s when the kernel loads vec4s.
fn operand(v: &GpuView, vec: bool) -> Binding<'_> {
    let len = v.buffer.len();
    Binding {
        buffer: &v.buffer,
        bytes: if vec { len.div_ceil(16) * 16 } else { len },
    }
}

/// The tile a product of this shape would run with now (`None`: the legacy kernel).
pub fn chosen_tile(m: usize, n: usize, batches: usize) -> Option<Tile> {
    gemm::choose(m, n, batches)
}
