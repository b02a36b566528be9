//! Sum/max/min over the last dim or over everything (`reduce.wgsl`), deterministic: the partition
//! into rows and each workgroup's combining order are fixed, so equal inputs give equal bits.

use super::{device_type, whole, WG, WG_STR};
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

/// `rows` zeros of `dtype` (the sum over an empty dim).
fn zero_rows(dtype: DType, rows: usize) -> Result<GpuBuffer> {
    let out = alloc(rows as u64 * device_elem_size(dtype)?)?;
    let words = if dtype == DType::I64 {
        &[0, 0][..]
    } else {
        &[0][..]
    };
    super::fill_words(&GpuView::contiguous(out.clone(), dtype, &[rows]), words)?;
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
        if op != ReduceOp::Sum {
            return Err(empty_error(
                op,
                &format!(
                    "Expected reduction dim {} to have non-zero size.",
                    a.shape.len() - 1
                ),
            ));
        }
        return zero_rows(a.dtype, rows);
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
        if op != ReduceOp::Sum {
            return Err(empty_error(
                op,
                &format!(
                    "Expected reduction dim {} to have non-zero size.",
                    nd - ndims
                ),
            ));
        }
        return zero_rows(a.dtype, rows);
    }
    reduce_rows(op, a, row_len, rows)
}

/// Reduce every element to one (a fresh 1-element buffer).
pub fn reduce_all(op: ReduceOp, a: &GpuView) -> Result<GpuBuffer> {
    check_view(op.name(), a)?;
    device_type(op.name(), a.dtype)?;
    let mut n = a.numel();
    if n == 0 {
        if op != ReduceOp::Sum {
            return Err(empty_error(
                op,
                "Expected reduction dim to be specified for input.numel() == 0. Specify the \
                 reduction dim with the 'dim' argument.",
            ));
        }
        return zero_rows(a.dtype, 1);
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
