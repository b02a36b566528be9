//! The wgpu side of the seam: tensors become `GpuView`s (storage buffer + layout), results come
//! back as fresh contiguous device tensors. Only float32 has compute kernels; bool results are
//! u32 0/1 words on the device.

use super::{not_implemented, ReduceKind};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::{BinaryOp, CmpOp, LogicOp, Scalar, UnaryOp};
use crate::shape::broadcast_shapes;
use crate::storage::Storage;
use crate::tensor::Tensor;
use crate::wgpu::{self as w, kernels as k, GpuBuffer, GpuView};
use std::sync::Arc;

pub(super) mod optim;
pub(super) mod reduce;
pub(super) mod softmax;

const DEV: Device = Device::Wgpu(0);

/// A device tensor as a view for the kernels. A CPU operand (a 0-d scalar, by `device_of`'s rule)
/// is uploaded first.
pub(crate) fn view_of(t: &Tensor) -> Result<GpuView> {
    let t = if t.device().is_cpu() {
        super::transfer::upload(t)?
    } else {
        t.clone()
    };
    let d = t.data();
    let buf = d.storage.gpu_buffer().expect("uploaded above").clone();
    Ok(GpuView::new(
        buf,
        d.storage.dtype(),
        &d.layout.shape,
        &d.layout.strides,
        d.layout.offset,
    ))
}

/// A fresh contiguous device tensor over `buf`.
fn wrap(buf: GpuBuffer, dtype: DType, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_parts(
        Arc::new(Storage::from_gpu(dtype, n, buf)),
        Layout::contiguous(shape),
    )
}

/// `t` as `dtype` for a kernel operand: CPU scalars are cast on the host (before upload); device
/// tensors must already have it (dtype conversion on the device is limited to bool <-> float).
fn operand(op: &str, t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    if t.device().is_cpu() {
        return crate::ops::materialize(t, dtype);
    }
    materialize(t, dtype).map_err(|e| {
        Error::not_implemented(format!(
            "{} ({op} needs its {} operand as {})",
            e.msg,
            t.dtype().name(),
            dtype.name()
        ))
    })
}

fn require_f32(op: &str, dtype: DType) -> Result<()> {
    if dtype == DType::F32 {
        Ok(())
    } else {
        Err(Error::not_implemented(format!(
            "\"{op}\" not implemented for '{}' on the wgpu device (its kernels are float32 only)",
            crate::ops::torch_dtype_name(dtype)
        )))
    }
}

fn scalar(v: f64) -> Result<Tensor> {
    Tensor::scalar(v as f32)
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    use crate::ops::UnaryOp as U;
    use w::UnaryOp as G;
    let dbg = format!("{op:?}");
    let name = &dbg[..dbg.find('(').unwrap_or(dbg.len())].to_lowercase();
    let direct = match op {
        U::Neg => Some(G::Neg),
        U::Abs => Some(G::Abs),
        U::Exp => Some(G::Exp),
        U::Log => Some(G::Log),
        U::Sqrt => Some(G::Sqrt),
        U::Rsqrt => Some(G::Rsqrt),
        U::Relu => Some(G::Relu),
        U::Sigmoid => Some(G::Sigmoid),
        U::Tanh => Some(G::Tanh),
        U::Sin => Some(G::Sin),
        U::Cos => Some(G::Cos),
        U::Square => Some(G::Square),
        U::Reciprocal => Some(G::Reciprocal),
        U::Floor => Some(G::Floor),
        U::Ceil => Some(G::Ceil),
        _ => None,
    };
    if let Some(g) = direct {
        require_f32(name, x.dtype())?;
        let v = view_of(x)?;
        return Ok(wrap(k::unary(g, &v)?, DType::F32, &x.shape()));
    }
    if op == U::Sign {
        // sign(x) from compare + where: 1, -1, or x * 0 (keeps 0 and NaN, as torch.sign does).
        require_f32(name, x.dtype())?;
        let zero = scalar(0.0)?;
        let rest = where_(
            &compare(CmpOp::Lt, x, &zero)?,
            &scalar(-1.0)?,
            &binary(BinaryOp::Mul, x, &zero, DType::F32)?,
        )?;
        return where_(&compare(CmpOp::Gt, x, &zero)?, &scalar(1.0)?, &rest);
    }
    // Ops with a scalar parameter are one binary kernel against the scalar.
    let (bop, s, reverse) = match op {
        U::AddScalar(s) => (BinaryOp::Add, s, false),
        U::MulScalar(s) => (BinaryOp::Mul, s, false),
        U::RsubScalar(s) => (BinaryOp::Sub, s, true),
        U::RdivScalar(s) => (BinaryOp::Div, s, true),
        U::PowScalar(p) => (BinaryOp::Pow, p, false),
        U::Clamp(lo, hi) => {
            require_f32(name, x.dtype())?;
            let mut y = x.clone();
            if lo > f64::NEG_INFINITY {
                y = binary(BinaryOp::Maximum, &y, &scalar(lo)?, DType::F32)?;
            }
            if hi < f64::INFINITY {
                y = binary(BinaryOp::Minimum, &y, &scalar(hi)?, DType::F32)?;
            }
            return Ok(y);
        }
        _ => return Err(not_implemented(name, DEV)),
    };
    require_f32(name, x.dtype())?;
    let st = scalar(s)?;
    if reverse {
        binary(bop, &st, x, DType::F32)
    } else {
        binary(bop, x, &st, DType::F32)
    }
}

pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    let g = match op {
        BinaryOp::Add => w::BinaryOp::Add,
        BinaryOp::Sub => w::BinaryOp::Sub,
        BinaryOp::Mul => w::BinaryOp::Mul,
        BinaryOp::Div => w::BinaryOp::Div,
        BinaryOp::Maximum => w::BinaryOp::Maximum,
        BinaryOp::Minimum => w::BinaryOp::Minimum,
        BinaryOp::Pow => w::BinaryOp::Pow,
        BinaryOp::FloorDiv => return Err(not_implemented("floor_divide", DEV)),
        BinaryOp::Rem => return Err(not_implemented("remainder", DEV)),
    };
    require_f32(g.name(), dtype)?;
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (operand(g.name(), a, dtype)?, operand(g.name(), b, dtype)?);
    let out = k::binary(g, &view_of(&a)?, &view_of(&b)?, &shape)?;
    Ok(wrap(out, dtype, &shape))
}

pub fn compare(op: CmpOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let g = match op {
        CmpOp::Eq => w::CompareOp::Eq,
        CmpOp::Ne => w::CompareOp::Ne,
        CmpOp::Lt => w::CompareOp::Lt,
        CmpOp::Le => w::CompareOp::Le,
        CmpOp::Gt => w::CompareOp::Gt,
        CmpOp::Ge => w::CompareOp::Ge,
    };
    let dtype = crate::ops::result_type2(a, b);
    require_f32(g.name(), dtype)?;
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (operand(g.name(), a, dtype)?, operand(g.name(), b, dtype)?);
    let out = k::compare(g, &view_of(&a)?, &view_of(&b)?, &shape)?;
    Ok(wrap(out, DType::Bool, &shape))
}

/// Logical ops from float arithmetic on 0/1 values: and = a*b != 0, or = a+b != 0, xor = a != b.
pub fn logical(op: LogicOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let as_float = |t: &Tensor| -> Result<Tensor> {
        let bits = if t.dtype() == DType::Bool {
            t.clone()
        } else {
            operand("logical", t, DType::Bool)?
        };
        operand("logical", &bits, DType::F32)
    };
    let (fa, fb) = (as_float(a)?, as_float(b)?);
    let zero = scalar(0.0)?;
    match op {
        LogicOp::And => compare(
            CmpOp::Ne,
            &binary(BinaryOp::Mul, &fa, &fb, DType::F32)?,
            &zero,
        ),
        LogicOp::Or => compare(
            CmpOp::Ne,
            &binary(BinaryOp::Add, &fa, &fb, DType::F32)?,
            &zero,
        ),
        LogicOp::Xor => compare(CmpOp::Ne, &fa, &fb),
    }
}

pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = crate::ops::result_type2(a, b);
    require_f32("where", dtype)?;
    if cond.dtype() != DType::Bool {
        return Err(Error::not_implemented(format!(
            "\"where\" on the wgpu device needs a bool condition (got {})",
            cond.dtype().name()
        )));
    }
    let shape = broadcast_shapes(&broadcast_shapes(&cond.shape(), &a.shape())?, &b.shape())?;
    let (a, b) = (operand("where", a, dtype)?, operand("where", b, dtype)?);
    let out = k::where_(&view_of(cond)?, &view_of(&a)?, &view_of(&b)?, &shape)?;
    Ok(wrap(out, dtype, &shape))
}

pub fn materialize(src: &Tensor, dtype: DType) -> Result<Tensor> {
    let from = src.dtype();
    let shape = src.shape();
    if from == dtype {
        if matches!(dtype, DType::F32 | DType::I32 | DType::Bool) {
            return Ok(wrap(k::contiguous(&view_of(src)?)?, dtype, &shape));
        }
        // int64/uint8 have no device kernels yet: a strided copy of them goes through the host.
        return Err(not_implemented(
            &format!("contiguous ({})", dtype.name()),
            DEV,
        ));
    }
    match (from, dtype) {
        // Bool -> float: where(mask, 1, 0). Float -> bool: x != 0 (NaN is true, as in PyTorch).
        (DType::Bool, DType::F32) => where_(src, &scalar(1.0)?, &scalar(0.0)?),
        (DType::F32, DType::Bool) => compare(CmpOp::Ne, src, &scalar(0.0)?),
        (_, DType::F64) => Err(Error::type_error(
            "Cannot convert a wgpu Tensor to float64 dtype as the wgpu backend doesn't support \
             float64. Please use float32 instead.",
        )),
        _ => Err(Error::not_implemented(format!(
            "The operator 'aten::_to_copy' ({} -> {}) is not currently implemented for the wgpu \
             device",
            from.name(),
            dtype.name()
        ))),
    }
}

pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    if dst.device().is_cpu() {
        return Err(super::mixed(src.device(), dst.device()));
    }
    let src = operand("copy_", src, dst.dtype())?;
    let sv = view_of(&src)?;
    let dl = dst.layout();
    let sl = Layout {
        shape: sv.shape.clone(),
        strides: sv.strides.clone(),
        offset: sv.offset,
    }
    .expand(&dl.shape)?;
    let sv = GpuView::new(sv.buffer, sv.dtype, &sl.shape, &sl.strides, sl.offset);
    k::copy_strided(&sv, &view_of(dst)?)
}

/// The 32-bit pattern of `value` in the device encoding of `dtype`.
fn fill_bits(value: Scalar, dtype: DType) -> Result<u32> {
    Ok(match dtype {
        DType::F32 => value.cast::<f32>().to_bits(),
        DType::I32 => value.cast::<i32>() as u32,
        DType::Bool => u32::from(value.cast::<bool>()),
        other => {
            return Err(Error::not_implemented(format!(
                "\"fill_\" not implemented for '{}' on the wgpu device",
                crate::ops::torch_dtype_name(other)
            )))
        }
    })
}

pub fn fill(t: &Tensor, value: Scalar) -> Result<()> {
    k::fill(&view_of(t)?, fill_bits(value, t.dtype())?)
}

pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let words = match dtype {
        DType::F64 => return materialize(&Tensor::scalar(0f32)?, DType::F64),
        DType::I64 => 2,
        _ => 1,
    };
    Ok(wrap(w::zeros(n as u64 * 4 * words)?, dtype, shape))
}

pub fn reduce(x: &Tensor, dims: &[usize], keepdim: bool, kind: ReduceKind) -> Result<Tensor> {
    let (op, name) = match kind {
        ReduceKind::Sum => (w::ReduceOp::Sum, "sum"),
        ReduceKind::Max => (w::ReduceOp::Max, "amax"),
        ReduceKind::Min => (w::ReduceOp::Min, "amin"),
    };
    require_f32(name, x.dtype())?;
    let shape = x.shape();
    let nd = shape.len();
    // Reduced dims last (in order), kept dims first: the kernel folds each trailing run.
    let mut perm: Vec<usize> = (0..nd).filter(|d| !dims.contains(d)).collect();
    perm.extend_from_slice(dims);
    let v = view_of(x)?;
    let pv = GpuView::new(
        v.buffer,
        v.dtype,
        &perm.iter().map(|&d| shape[d]).collect::<Vec<_>>(),
        &perm.iter().map(|&d| v.strides[d]).collect::<Vec<_>>(),
        v.offset,
    );
    let buf = k::reduce_trailing(op, &pv, dims.len())?;
    let out_shape = crate::ops::reduced_shape(&shape, dims, keepdim);
    Ok(wrap(buf, DType::F32, &out_shape))
}

pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    require_f32("mm", a.dtype())?;
    require_f32("mm", b.dtype())?;
    let (va, vb) = (view_of(a)?, view_of(b)?);
    let nd = a.ndim();
    let mut shape = a.shape();
    shape[nd - 1] = b.shape()[nd - 1];
    Ok(wrap(k::matmul(&va, &vb)?, DType::F32, &shape))
}
