//! The wgpu side of the seam: tensors become `GpuView`s (storage buffer + layout), results come
//! back as fresh contiguous device tensors. Only float32 has compute kernels; bool results are
//! u32 0/1 words on the device.

pub(super) mod conv;
pub(super) mod gemm;
pub(super) mod half;
pub(super) mod pool;

use super::{not_implemented, ReduceKind};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ops::{BinaryOp, BitOp, CmpOp, LogicOp, Scalar, UnaryOp};
use crate::shape::broadcast_shapes;
use crate::storage::Storage;
use crate::tensor::Tensor;
use crate::wgpu::{self as w, kernels as k, GpuBuffer, GpuView};
use std::sync::Arc;

pub(super) mod cross_entropy;
pub mod index;
pub(super) mod optim;
pub(super) mod reduce;
pub mod scan;
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

/// A tensor as an elementwise kernel input: a CPU scalar (one element, already in the op's
/// dtype) becomes a constant carried in the kernel's parameters, with no upload; anything else
/// is a view ([`view_of`]).
pub(crate) fn input_of(t: &Tensor) -> Result<w::Input> {
    if t.device().is_cpu() && t.numel() == 1 {
        let dtype = t.dtype();
        let d = t.data();
        let esize = dtype.size();
        if matches!(
            dtype,
            DType::F32 | DType::I32 | DType::I64 | DType::Bool | DType::U8
        ) {
            // SAFETY: a CPU tensor of one element at `offset` of its storage.
            let bytes: &[u8] = unsafe {
                std::slice::from_raw_parts(d.storage.cpu_ptr().add(d.layout.offset * esize), esize)
            };
            let words = match esize {
                1 => [u32::from(bytes[0]), 0],
                4 => [u32::from_le_bytes(bytes.try_into().expect("4 bytes")), 0],
                _ => {
                    let v = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
                    [v as u32, (v >> 32) as u32]
                }
            };
            return Ok(w::Input::Const { words, dtype });
        }
    }
    view_of(t).map(w::Input::View)
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
    if !x.dtype().is_float() {
        return int_unary(op, x);
    }
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
        U::Round => Some(G::Round),
        U::Trunc => Some(G::Trunc),
        U::Log2 => Some(G::Log2),
        U::Log10 => Some(G::Log10),
        U::Log1p => Some(G::Log1p),
        U::Expm1 => Some(G::Expm1),
        U::Tan => Some(G::Tan),
        U::Erf => Some(G::Erf),
        U::Silu => Some(G::Silu),
        U::Gelu => Some(G::Gelu),
        U::GeluTanh => Some(G::GeluTanh),
        U::Acos => Some(G::Acos),
        U::Asin => Some(G::Asin),
        U::Atan => Some(G::Atan),
        U::Acosh => Some(G::Acosh),
        U::Asinh => Some(G::Asinh),
        U::Atanh => Some(G::Atanh),
        U::Sinh => Some(G::Sinh),
        U::Cosh => Some(G::Cosh),
        U::Exp2 => Some(G::Exp2),
        U::Frac => Some(G::Frac),
        _ => None,
    };
    if let Some(g) = direct {
        require_f32(name, x.dtype())?;
        let v = view_of(x)?;
        return Ok(wrap(k::unary(g, &v)?, DType::F32, &x.shape()));
    }
    let param = match op {
        U::LeakyRelu(s) => Some((G::LeakyRelu, vec![s as f32])),
        U::Elu(a) => Some((G::Elu, vec![a as f32])),
        U::Softplus(b, t) => Some((G::Softplus, vec![b as f32, t as f32])),
        _ => None,
    };
    if let Some((g, ps)) = param {
        require_f32(name, x.dtype())?;
        let v = view_of(x)?;
        return Ok(wrap(k::unary_with(g, &v, &ps)?, DType::F32, &x.shape()));
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

/// Unary ops on integer and bool tensors, with the CPU's rules: the ops that map integers to
/// integers keep the dtype (the rounding ones are the identity), the others compute in float32.
fn int_unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    use crate::ops::UnaryOp as U;
    let dt = x.dtype();
    let wide = matches!(dt, DType::I32 | DType::I64);
    let kernel =
        |g: w::UnaryOp| -> Result<Tensor> { Ok(wrap(k::unary(g, &view_of(x)?)?, dt, &x.shape())) };
    let same = |t: &Tensor| materialize(t, dt);
    match op {
        U::Neg if dt == DType::Bool => Err(Error::runtime(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to \
             invert a mask, use the `~` or `logical_not()` operator instead.",
        )),
        // Everything else on bools computes in float32, as on the CPU.
        _ if dt == DType::Bool => unary(op, &materialize(x, DType::F32)?),
        U::Neg => kernel(w::UnaryOp::Neg),
        U::Abs | U::Relu if wide => kernel(if op == U::Abs {
            w::UnaryOp::Abs
        } else {
            w::UnaryOp::Relu
        }),
        U::Square => kernel(w::UnaryOp::Square),
        U::Floor | U::Ceil | U::Round | U::Trunc | U::Abs | U::Relu => same(x),
        U::Sign => {
            let zero = int_scalar(0, dt)?;
            let rest = where_(&compare(CmpOp::Lt, x, &zero)?, &int_scalar(-1, dt)?, &zero)?;
            where_(&compare(CmpOp::Gt, x, &zero)?, &int_scalar(1, dt)?, &rest)
        }
        U::Clamp(lo, hi) => {
            // The CPU clamps in f64 and truncates back, which for integers is max/min against the
            // truncated bounds, saturated to the dtype's range (uint8 has no -5 to compare with).
            let (min, max) = match dt {
                DType::U8 => (0.0, 255.0),
                DType::I32 => (i32::MIN as f64, i32::MAX as f64),
                _ => (i64::MIN as f64, i64::MAX as f64),
            };
            let mut y = x.clone();
            if lo > min {
                let b = int_scalar(lo.min(max) as i64, dt)?;
                y = binary(BinaryOp::Maximum, &y, &b, dt)?;
            }
            if hi < max {
                let b = int_scalar(hi.max(min) as i64, dt)?;
                y = binary(BinaryOp::Minimum, &y, &b, dt)?;
            }
            Ok(y)
        }
        _ => unary(op, &materialize(x, DType::F32)?),
    }
}

/// A 0-d CPU tensor holding `v` as `dtype` (uploaded when a kernel reads it).
fn int_scalar(v: i64, dtype: DType) -> Result<Tensor> {
    crate::ops::materialize(&Tensor::scalar(v)?, dtype)
}

/// The dtypes the elementwise arithmetic kernels have bodies for.
fn require_arith(op: BinaryOp, name: &str, dtype: DType) -> Result<()> {
    let int_op = matches!(
        op,
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Maximum | BinaryOp::Minimum
    );
    match dtype {
        DType::F32 => Ok(()),
        DType::I32 | DType::I64 | DType::U8 if int_op => Ok(()),
        DType::Bool if int_op && op != BinaryOp::Sub => Ok(()),
        other => Err(Error::not_implemented(format!(
            "\"{name}\" not implemented for '{}' on the wgpu device",
            crate::ops::torch_dtype_name(other)
        ))),
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
        BinaryOp::Atan2 => w::BinaryOp::Atan2,
        BinaryOp::Hypot => w::BinaryOp::Hypot,
        BinaryOp::Copysign => w::BinaryOp::Copysign,
        BinaryOp::Logaddexp => w::BinaryOp::Logaddexp,
        BinaryOp::Logaddexp2 => w::BinaryOp::Logaddexp2,
        BinaryOp::Xlogy => w::BinaryOp::Xlogy,
        BinaryOp::FloorDiv => return Err(not_implemented("floor_divide", DEV)),
        BinaryOp::Rem => return Err(not_implemented("remainder", DEV)),
    };
    require_arith(op, g.name(), dtype)?;
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (operand(g.name(), a, dtype)?, operand(g.name(), b, dtype)?);
    let out = k::binary_inputs(g, &input_of(&a)?, &input_of(&b)?, &shape)?;
    Ok(wrap(out, dtype, &shape))
}

/// Bitwise ops in the integer or bool `dtype` (checked by `ops::bitwise`).
pub fn bitwise(op: BitOp, a: &Tensor, b: &Tensor, dtype: DType) -> Result<Tensor> {
    let g = match op {
        BitOp::And => w::BinaryOp::BitAnd,
        BitOp::Or => w::BinaryOp::BitOr,
        BitOp::Xor => w::BinaryOp::BitXor,
        BitOp::Shl => w::BinaryOp::Shl,
        BitOp::Shr => w::BinaryOp::Shr,
    };
    if !matches!(dtype, DType::I32 | DType::I64 | DType::U8 | DType::Bool) {
        return Err(Error::not_implemented(format!(
            "\"{}\" not implemented for '{}' on the wgpu device",
            g.name(),
            crate::ops::torch_dtype_name(dtype)
        )));
    }
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (operand(g.name(), a, dtype)?, operand(g.name(), b, dtype)?);
    let out = k::binary_inputs(g, &input_of(&a)?, &input_of(&b)?, &shape)?;
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
    let shape = broadcast_shapes(&a.shape(), &b.shape())?;
    let (a, b) = (operand(g.name(), a, dtype)?, operand(g.name(), b, dtype)?);
    let out = k::compare_inputs(g, &input_of(&a)?, &input_of(&b)?, &shape)?;
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
    if cond.dtype() != DType::Bool {
        return Err(Error::not_implemented(format!(
            "\"where\" on the wgpu device needs a bool condition (got {})",
            cond.dtype().name()
        )));
    }
    let shape = broadcast_shapes(&broadcast_shapes(&cond.shape(), &a.shape())?, &b.shape())?;
    let (a, b) = (operand("where", a, dtype)?, operand("where", b, dtype)?);
    let out = k::where_inputs(&input_of(cond)?, &input_of(&a)?, &input_of(&b)?, &shape)?;
    Ok(wrap(out, dtype, &shape))
}

pub fn materialize(src: &Tensor, dtype: DType) -> Result<Tensor> {
    if dtype == DType::F64 {
        return Err(Error::type_error(
            "Cannot convert a wgpu Tensor to float64 dtype as the wgpu backend doesn't support \
             float64. Please use float32 instead.",
        ));
    }
    let v = view_of(src)?;
    let buf = if src.dtype().is_half() || dtype.is_half() {
        k::half::cast(&v, dtype)?
    } else if src.dtype() == dtype {
        k::contiguous(&v)?
    } else {
        k::cast(&v, dtype)?
    };
    Ok(wrap(buf, dtype, &src.shape()))
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
    if dst.dtype().is_half() {
        return k::half::store(&sv, &view_of(dst)?);
    }
    k::copy_strided(&sv, &view_of(dst)?)
}

/// The device words of `value` as an element of `dtype`.
fn fill_words(value: Scalar, dtype: DType) -> Result<Vec<u32>> {
    Ok(match dtype {
        DType::F32 => vec![value.cast::<f32>().to_bits()],
        DType::I32 => vec![value.cast::<i32>() as u32],
        DType::I64 => {
            let v = value.cast::<i64>() as u64;
            vec![v as u32, (v >> 32) as u32]
        }
        DType::U8 => vec![u32::from(value.cast::<u8>())],
        DType::Bool => vec![u32::from(value.cast::<bool>())],
        other => {
            return Err(Error::not_implemented(format!(
                "\"fill_\" not implemented for '{}' on the wgpu device",
                crate::ops::torch_dtype_name(other)
            )))
        }
    })
}

pub fn fill(t: &Tensor, value: Scalar) -> Result<()> {
    if t.dtype().is_half() {
        // Halves share words: store the value (rounded on the host, as the CPU rounds it).
        let v = if t.dtype() == DType::F16 {
            Tensor::scalar(value.cast::<::half::f16>())?
        } else {
            Tensor::scalar(value.cast::<::half::bf16>())?
        };
        return copy_into(t, &v);
    }
    k::fill_words(&view_of(t)?, &fill_words(value, t.dtype())?)
}

pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let words = match dtype {
        DType::F64 => return materialize(&Tensor::scalar(0f32)?, DType::F64),
        DType::F16 | DType::BF16 => {
            return Ok(wrap(w::zeros(k::half::half_bytes(n))?, dtype, shape))
        }
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
    // Sums of integers and bools are int64, as in PyTorch; max/min keep the dtype.
    let out_dtype = match kind {
        ReduceKind::Sum if !x.dtype().is_float() => DType::I64,
        _ => x.dtype(),
    };
    let x = &operand(name, x, out_dtype)?;
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
    Ok(wrap(buf, out_dtype, &out_shape))
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

/// float32 samples of `dist` of `shape` on the device for the draw (`seed`, `offset`).
/// (Reached from the Python bindings only.)
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub fn random(shape: &[usize], dist: k::Dist, seed: u64, offset: u64) -> Result<Tensor> {
    crate::shape::checked_numel(shape)?;
    Ok(wrap(
        k::random(dist, shape, seed, offset)?,
        DType::F32,
        shape,
    ))
}

/// Bernoulli(p) samples (0/1) in `p`'s dtype and shape, drawn on the device.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub fn bernoulli(p: &Tensor, seed: u64, offset: u64) -> Result<Tensor> {
    let dtype = p.dtype();
    let probs = operand("bernoulli", p, DType::F32)?;
    let out = wrap(
        k::bernoulli(&view_of(&probs)?, seed, offset)?,
        DType::F32,
        &p.shape(),
    );
    if dtype == DType::F32 {
        Ok(out)
    } else {
        materialize(&out, dtype)
    }
}
