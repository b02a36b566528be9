//! Sum/prod/max/min over the last dim or over everything (`reduce.wgsl`), all/any (`any_all.wgsl`)
//! and prod's gradient factor (`prod_others.wgsl`), deterministic: the partition into rows and
//! each workgroup's combining order are fixed, so equal inputs give equal bits.

use super::{device_type, float_type, whole, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::ops::ReduceOp;
use crate::wgpu::template::op_body_for;
use crate::wgpu::view::{check_view, device_elem_size, params, GpuView};

/// Row length of each pass of `reduce_all`: every invocation folds 16 elements, then the
/// workgroup tree; passes repeat on the partials until one value is left.
const ALL_ROW: usize = 16 * WG as usize;

/// One dispatch: `src`'s logical elements cut into rows of `row_len`; one value per row.
fn reduce_rows(op: ReduceOp, src: &GpuView, row_len: usize, rows: usize) -> Result<GpuBuffer> {
    let name = op.name();
    let ty = device_type(name, src.dtype)?;
    let bytes = rows as u64 * device_elem_size(src.dtype)?;
    let out = alloc(bytes)?;
    let e = engine()?;
    let vars = [
        ("DTYPE", ty.word),
        ("WG", WG_STR),
        ("OP", op_body_for("reduce", name, ty.tag)?),
        ("INIT", op_body_for("reduce_init", name, ty.tag)?),
    ];
    let k = e.kernel("reduce.wgsl", &vars)?;
    let p = params(
        name,
        &src.shape,
        &[(src.strides.clone(), src.offset)],
        &[row_len as u32, rows as u32],
    )?;
    let bind = [
        whole(src),
        Binding {
            buffer: &out,
            bytes,
        },
    ];
    e.dispatch(name, &k, &p, &bind, rows as u64)?;
    Ok(out)
}

/// The value of a reduction over no elements, where it has one (max/min of nothing is an error).
fn identity(op: ReduceOp) -> Option<f64> {
    match op {
        ReduceOp::Sum => Some(0.0),
        ReduceOp::Prod => Some(1.0),
        ReduceOp::Max | ReduceOp::Min => None,
    }
}

/// `rows` copies of `value` as elements of `dtype` (a reduction over an empty dim).
fn filled_rows(dtype: DType, rows: usize, value: f64) -> Result<GpuBuffer> {
    let out = alloc(rows as u64 * device_elem_size(dtype)?)?;
    let words = match dtype {
        DType::F32 => vec![(value as f32).to_bits()],
        DType::I64 => vec![value as i64 as u32, ((value as i64) >> 32) as u32],
        _ => vec![value as i32 as u32],
    };
    super::fill_words(&GpuView::contiguous(out.clone(), dtype, &[rows]), &words)?;
    Ok(out)
}

fn empty_error(op: ReduceOp, detail: &str) -> Error {
    Error::runtime(format!("{}(): {detail}", op.name()))
}

/// Reduce the last dim: a fresh contiguous buffer of shape `a.shape[..-1]` (a 0-d input is one
/// row of one element).
pub fn reduce_last(op: ReduceOp, a: &GpuView) -> Result<GpuBuffer> {
    check_view(op.name(), a)?;
    device_type(op.name(), a.dtype)?;
    let row_len = a.shape.last().copied().unwrap_or(1);
    let rows: usize = a.shape[..a.shape.len().saturating_sub(1)].iter().product();
    if rows == 0 {
        return alloc(0);
    }
    if row_len == 0 {
        let Some(init) = identity(op) else {
            return Err(empty_error(
                op,
                &format!(
                    "Expected reduction dim {} to have non-zero size.",
                    a.shape.len() - 1
                ),
            ));
        };
        return filled_rows(a.dtype, rows, init);
    }
    reduce_rows(op, a, row_len, rows)
}

/// Reduce the trailing `ndims` dims of `a` (any strides): a fresh contiguous buffer of shape
/// `a.shape[..len - ndims]`, one value per run of the last `ndims` dims in row-major order. With
/// the reduced dims permuted to the end of a view, this reduces over any set of dims without a
/// copy. (`ndims == 1` is [`reduce_last`]; all dims go through [`reduce_all`]'s multi-pass tree.)
pub fn reduce_trailing(op: ReduceOp, a: &GpuView, ndims: usize) -> Result<GpuBuffer> {
    check_view(op.name(), a)?;
    device_type(op.name(), a.dtype)?;
    let nd = a.shape.len();
    if ndims > nd {
        return Err(Error::runtime(format!(
            "wgpu: {}: cannot reduce {ndims} trailing dims of a {nd}-d view",
            op.name()
        )));
    }
    if ndims == nd {
        return reduce_all(op, a);
    }
    let row_len: usize = a.shape[nd - ndims..].iter().product();
    let rows: usize = a.shape[..nd - ndims].iter().product();
    if rows == 0 {
        return alloc(0);
    }
    if row_len == 0 {
        let Some(init) = identity(op) else {
            return Err(empty_error(
                op,
                &format!(
                    "Expected reduction dim {} to have non-zero size.",
                    nd - ndims
                ),
            ));
        };
        return filled_rows(a.dtype, rows, init);
    }
    reduce_rows(op, a, row_len, rows)
}

/// Reduce every element to one (a fresh 1-element buffer).
pub fn reduce_all(op: ReduceOp, a: &GpuView) -> Result<GpuBuffer> {
    check_view(op.name(), a)?;
    device_type(op.name(), a.dtype)?;
    let mut n = a.numel();
    if n == 0 {
        let Some(init) = identity(op) else {
            return Err(empty_error(
                op,
                "Expected reduction dim to be specified for input.numel() == 0. Specify the \
                 reduction dim with the 'dim' argument.",
            ));
        };
        return filled_rows(a.dtype, 1, init);
    }
    let mut cur = a.clone();
    loop {
        let rows = n.div_ceil(ALL_ROW);
        let out = reduce_rows(op, &cur, ALL_ROW, rows)?;
        if rows == 1 {
            return Ok(out);
        }
        cur = GpuView::contiguous(out, a.dtype, &[rows]);
        n = rows;
    }
}

/// `all` (`want_all`) or `any` over the trailing `ndims` dims of `a` (float32, int32, bool or
/// uint8; any strides): a fresh contiguous bool buffer (u32 0/1) with one value per row. Long
/// rows are cut into segments whose 0/1 partials later passes fold.
pub fn all_any_trailing(a: &GpuView, ndims: usize, want_all: bool) -> Result<GpuBuffer> {
    let op = if want_all { "all" } else { "any" };
    check_view(op, a)?;
    // The nonzero test on the raw 32-bit word: float32 ignores the sign bit (-0.0 is zero).
    let mask = match a.dtype {
        DType::F32 => 0x7fff_ffffu32,
        DType::I32 | DType::Bool | DType::U8 => u32::MAX,
        other => {
            return Err(Error::not_implemented(format!(
                "wgpu: \"{op}\" not implemented for '{}' on the wgpu device",
                crate::ops::torch_dtype_name(other)
            )))
        }
    };
    let (rows, row_len) = super::argreduce::split_trailing(op, a, ndims)?;
    if rows == 0 {
        return alloc(0);
    }
    let too_big = || Error::runtime(format!("wgpu: {op}: {rows} rows of {row_len} elements"));
    let e = engine()?;
    let k = e.kernel("any_all.wgsl", &[("WG", WG_STR)])?;
    let seg = super::argreduce::SEGMENT;
    let mut cur: Option<GpuBuffer> = None;
    let mut len = row_len;
    loop {
        let segs = len.div_ceil(seg).max(1);
        let out_n = rows * segs;
        let dst = alloc(out_n as u64 * 4)?;
        let word = |n: usize| u32::try_from(n).map_err(|_| too_big());
        let scalars = [
            word(len)?,
            seg as u32,
            word(segs)?,
            word(rows)?,
            u32::from(want_all),
            if cur.is_none() { mask } else { u32::MAX },
        ];
        let (p, src) = match &cur {
            None => (
                params(op, &a.shape, &[(a.strides.clone(), a.offset)], &scalars)?,
                a.buffer.clone(),
            ),
            Some(b) => (
                params(
                    op,
                    &[rows * len],
                    &[(crate::shape::contiguous_strides(&[rows * len]), 0)],
                    &scalars,
                )?,
                b.clone(),
            ),
        };
        let bind = [
            Binding {
                buffer: &src,
                bytes: src.len(),
            },
            Binding {
                buffer: &dst,
                bytes: dst.len(),
            },
        ];
        e.dispatch(op, &k, &p, &bind, out_n as u64)?;
        if segs == 1 {
            return Ok(dst);
        }
        cur = Some(dst);
        len = segs;
    }
}

/// For each element of `a`, the product of the other elements of its row (the trailing `ndims`
/// dims), written through `out_strides` (over `a`'s shape, offset 0) into a fresh f32 buffer of
/// `a.numel()` elements: prod's gradient factor, exact with zeros.
pub fn prod_others_trailing(a: &GpuView, ndims: usize, out_strides: &[isize]) -> Result<GpuBuffer> {
    let op = "prod_backward";
    check_view(op, a)?;
    let ty = float_type(op, a)?;
    let (rows, row_len) = super::argreduce::split_trailing(op, a, ndims)?;
    let n = a.numel();
    let out = alloc(n as u64 * 4)?;
    if n == 0 {
        return Ok(out);
    }
    check_view(
        op,
        &GpuView::new(out.clone(), DType::F32, &a.shape, out_strides, 0),
    )?;
    let e = engine()?;
    let k = e.kernel("prod_others.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        op,
        &a.shape,
        &[
            (a.strides.clone(), a.offset),
            (out_strides.iter().copied().collect(), 0),
        ],
        &[row_len as u32, rows as u32],
    )?;
    let bind = [
        whole(a),
        Binding {
            buffer: &out,
            bytes: out.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, rows as u64)?;
    Ok(out)
}
