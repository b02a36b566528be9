//! The index family's launchers (`gather.wgsl`, `scatter.wgsl`, `put.wgsl`, `index_fold.wgsl`).
//! Every index is read as int64 words and resolved against its dim inside the kernel; a bad one
//! is skipped (never read or written through) and reported to the device error flag
//! (`wgpu/errors.rs`), which raises at the next sync point.

use super::{whole, workgroups, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::fmt_shape;
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::errors::{self, IndexOp};
use crate::wgpu::template::op_body;
use crate::wgpu::view::{check_view, device_elem_size, params, GpuView};

/// What an index kernel checks each index against.
#[derive(Clone, Copy, Debug)]
pub struct IndexCheck {
    /// Size of the indexed dim: valid indices are `0..size` (and `-size..0` with `wrap`).
    pub size: usize,
    pub wrap: bool,
    /// Which op reports a bad index (picks PyTorch's message).
    pub op: IndexOp,
    /// The indexed dim, for the message.
    pub dim: usize,
}

/// `IDX_T` / `IDX_LOAD` for an index view.
fn index_vars(op: &str, idx: &GpuView) -> Result<[(&'static str, &'static str); 2]> {
    let (ty, name) = match idx.dtype {
        DType::I64 => ("vec2<u32>", "i64"),
        DType::I32 => ("i32", "i32"),
        other => {
            return Err(Error::runtime(format!(
                "{op}(): Expected dtype int32/int64 for index (got {other:?})"
            )))
        }
    };
    Ok([("IDX_T", ty), ("IDX_LOAD", op_body("index_load", name)?)])
}

/// The WGSL word type that moves one element of `dtype` bit for bit.
fn word_type(dtype: DType) -> Result<&'static str> {
    Ok(if device_elem_size(dtype)? == 8 {
        "vec2<u32>"
    } else {
        "u32"
    })
}

fn to_u32(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::runtime(format!(
            "wgpu: {op}: {what} of {v} exceeds the kernels' 32-bit indexing"
        ))
    })
}

fn to_i32(op: &str, what: &str, v: isize) -> Result<u32> {
    i32::try_from(v).map(|s| s as u32).map_err(|_| {
        Error::runtime(format!(
            "wgpu: {op}: {what} of {v} exceeds the kernels' 32-bit indexing"
        ))
    })
}

/// Check that `v`, walked also `n` steps of `stride` along one extra dim, stays in its buffer.
fn check_reach(op: &str, v: &GpuView, n: usize, stride: isize) -> Result<()> {
    check_view(op, v)?;
    if n == 0 || v.numel() == 0 {
        return Ok(());
    }
    let mut e = v.clone();
    e.shape.push(n);
    e.strides.push(stride);
    check_view(op, &e)
}

fn same_shape(op: &str, a: &GpuView, b: &GpuView) -> Result<()> {
    if a.shape != b.shape {
        return Err(Error::runtime(format!(
            "wgpu: {op}: views over different shapes ({} vs {})",
            fmt_shape(&a.shape),
            fmt_shape(&b.shape)
        )));
    }
    Ok(())
}

fn err_binding(buf: &GpuBuffer) -> Binding<'_> {
    Binding {
        buffer: buf,
        bytes: errors::BYTES,
    }
}

/// `out[i] = src[view(src, i) + stride * idx[view(idx, i)]]` over the shared shape of `src` and
/// `idx` (src's view has stride 0 along the gathered dim): a fresh contiguous buffer of `src`'s
/// dtype. Bad indices give zeros and a deferred error.
pub fn gather(src: &GpuView, idx: &GpuView, stride: isize, check: IndexCheck) -> Result<GpuBuffer> {
    let op = "gather";
    same_shape(op, src, idx)?;
    check_reach(op, src, check.size, stride)?;
    check_view(op, idx)?;
    let vars = index_vars(op, idx)?;
    let elem = device_elem_size(src.dtype)?;
    let n = src.numel();
    let out = alloc(n as u64 * elem)?;
    if n == 0 {
        return Ok(out);
    }
    let e = engine()?;
    let k = e.kernel(
        "gather.wgsl",
        &[
            ("DTYPE", word_type(src.dtype)?),
            ("WG", WG_STR),
            vars[0],
            vars[1],
        ],
    )?;
    let p = params(
        op,
        &src.shape,
        &[
            (src.strides.clone(), src.offset),
            (idx.strides.clone(), idx.offset),
        ],
        &[
            to_i32(op, "a stride", stride)?,
            to_u32(op, "a dim size", check.size)?,
            u32::from(check.wrap),
            check.op as u32,
            check.dim as u32,
        ],
    )?;
    let flag = errors::buffer()?;
    let bind = [
        whole(src),
        whole(idx),
        Binding {
            buffer: &out,
            bytes: n as u64 * elem,
        },
        err_binding(&flag),
    ];
    e.dispatch(op, &k, &p, &bind, workgroups(n, super::WG))?;
    errors::arm();
    Ok(out)
}

/// How [`scatter_into`] combines a destination element with a source value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScatterOp {
    Set,
    Add,
    Mul,
}

/// The walk along the scattered dim: `len` steps, with each view's stride along it.
#[derive(Clone, Copy, Debug)]
pub struct Along {
    pub len: usize,
    pub dst_stride: isize,
    pub src_stride: isize,
    pub idx_stride: isize,
}

/// The `ops.txt` scatter body and word type for `op` on `dtype`.
fn scatter_body(op: ScatterOp, dtype: DType) -> Result<(&'static str, &'static str)> {
    use ScatterOp::*;
    let (ty, name) = match (dtype, op) {
        (d, Set) => (word_type(d)?, "set"),
        (DType::F32, Add) => ("f32", "add"),
        (DType::F32, Mul) => ("f32", "mul"),
        (DType::I32, Add) => ("i32", "add"),
        (DType::I32, Mul) => ("i32", "mul"),
        (DType::Bool, Add) => ("u32", "or"),
        (DType::Bool, Mul) => ("u32", "and"),
        (DType::U8, Add) => ("u32", "add_u8"),
        (DType::U8, Mul) => ("u32", "mul_u8"),
        (DType::I64, Add) => ("vec2<u32>", "add_i64"),
        (d, o) => {
            return Err(Error::not_implemented(format!(
                "The operator 'aten::scatter' (reduce={o:?}) is not currently implemented for \
                 {d:?} on the wgpu device"
            )))
        }
    };
    Ok((ty, op_body("scatter", name)?))
}

/// In place on `dst`: for every column `c` of the shared shape of the three views (the scattered
/// dim has size 1 there) and `j` in `0..len`, in order,
/// `dst[c + dst_stride * idx[c + j * idx_stride]] (op)= src[c + j * src_stride]`.
/// `dst` must not share a buffer with `src`. Bad indices are skipped with a deferred error.
pub fn scatter_into(
    dst: &GpuView,
    src: &GpuView,
    idx: &GpuView,
    along: Along,
    check: IndexCheck,
    op: ScatterOp,
) -> Result<()> {
    let name = "scatter";
    same_shape(name, dst, src)?;
    same_shape(name, dst, idx)?;
    if src.dtype != dst.dtype {
        return Err(Error::runtime(format!(
            "wgpu: scatter: source {:?} and destination {:?} differ",
            src.dtype, dst.dtype
        )));
    }
    if dst.buffer.same_buffer(&src.buffer) {
        return Err(Error::runtime(
            "wgpu: scatter: the destination must not share a buffer with the source",
        ));
    }
    let cols = dst.numel();
    if cols == 0 || along.len == 0 {
        return Ok(()); // nothing is read or written
    }
    check_reach(name, dst, check.size, along.dst_stride)?;
    check_reach(name, src, along.len, along.src_stride)?;
    check_reach(name, idx, along.len, along.idx_stride)?;
    let vars = index_vars(name, idx)?;
    let (ty, body) = scatter_body(op, dst.dtype)?;
    let e = engine()?;
    let k = e.kernel(
        "scatter.wgsl",
        &[
            ("DTYPE", ty),
            ("WG", WG_STR),
            ("OP", body),
            vars[0],
            vars[1],
        ],
    )?;
    let p = params(
        name,
        &dst.shape,
        &[
            (dst.strides.clone(), dst.offset),
            (src.strides.clone(), src.offset),
            (idx.strides.clone(), idx.offset),
        ],
        &[
            to_u32(name, "a length", along.len)?,
            to_i32(name, "a stride", along.dst_stride)?,
            to_i32(name, "a stride", along.src_stride)?,
            to_i32(name, "a stride", along.idx_stride)?,
            to_u32(name, "a dim size", check.size)?,
            check.op as u32,
            check.dim as u32,
        ],
    )?;
    let flag = errors::buffer()?;
    let bind = [whole(src), whole(idx), whole(dst), err_binding(&flag)];
    e.dispatch(name, &k, &p, &bind, workgroups(cols, super::WG))?;
    errors::arm();
    Ok(())
}

/// `dst[idx[i]] = vals[i]` over the shared shape of `vals` and `idx`, where `dst` is a whole
/// storage seen as 1-d and a later duplicate offset wins. `vals` must not share `dst`'s buffer.
pub fn put(dst: &GpuView, vals: &GpuView, idx: &GpuView) -> Result<()> {
    let name = "index_put_";
    same_shape(name, vals, idx)?;
    check_view(name, dst)?;
    check_view(name, vals)?;
    check_view(name, idx)?;
    if dst.shape.len() != 1 || dst.strides.first() != Some(&1) || dst.offset != 0 {
        return Err(Error::runtime(
            "wgpu: index_put_: dst must be a whole storage as a 1-d view",
        ));
    }
    if vals.dtype != dst.dtype || vals.buffer.same_buffer(&dst.buffer) {
        return Err(Error::runtime(
            "wgpu: index_put_: values need dst's dtype and a buffer of their own",
        ));
    }
    let n = vals.numel();
    if n == 0 {
        return Ok(());
    }
    // Claims are i + 1, so i + 1 must fit.
    to_u32(name, "a count", n + 1)?;
    let size = dst.shape[0];
    let vars = index_vars(name, idx)?;
    let e = engine()?;
    let k = e.kernel(
        "put.wgsl",
        &[
            ("DTYPE", word_type(dst.dtype)?),
            ("WG", WG_STR),
            vars[0],
            vars[1],
        ],
    )?;
    let claim = crate::wgpu::zeros(size as u64 * 4)?;
    let flag = errors::buffer()?;
    for pass in 0..2u32 {
        let p = params(
            name,
            &vals.shape,
            &[
                (vals.strides.clone(), vals.offset),
                (idx.strides.clone(), idx.offset),
            ],
            &[
                pass,
                to_u32(name, "a storage size", size)?,
                IndexOp::Put as u32,
            ],
        )?;
        let bind = [
            whole(vals),
            whole(idx),
            whole(dst),
            Binding {
                buffer: &claim,
                bytes: size as u64 * 4,
            },
            err_binding(&flag),
        ];
        e.dispatch(name, &k, &p, &bind, workgroups(n, super::WG))?;
    }
    errors::arm();
    Ok(())
}

/// One step of advanced indexing's linear index over `idx`'s shape: `lin = lin * size + idx`
/// (`lin = idx` when `first`), negatives wrapped, into the contiguous int64 buffer `lin`.
pub fn fold_index(idx: &GpuView, lin: &GpuBuffer, first: bool, check: IndexCheck) -> Result<()> {
    let name = "index";
    check_view(name, idx)?;
    let n = idx.numel();
    if n == 0 {
        return Ok(());
    }
    if lin.len() < n as u64 * 8 {
        return Err(Error::runtime(
            "wgpu: index: the linear index buffer is too small",
        ));
    }
    let vars = index_vars(name, idx)?;
    let e = engine()?;
    let k = e.kernel("index_fold.wgsl", &[("WG", WG_STR), vars[0], vars[1]])?;
    let p = params(
        name,
        &idx.shape,
        &[(idx.strides.clone(), idx.offset)],
        &[
            to_u32(name, "a dim size", check.size)?,
            u32::from(first),
            check.op as u32,
            check.dim as u32,
        ],
    )?;
    let flag = errors::buffer()?;
    let bind = [
        whole(idx),
        Binding {
            buffer: lin,
            bytes: n as u64 * 8,
        },
        err_binding(&flag),
    ];
    e.dispatch(name, &k, &p, &bind, workgroups(n, super::WG))?;
    errors::arm();
    Ok(())
}
