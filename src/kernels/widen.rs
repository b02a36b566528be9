//! The half dtypes (float16, bfloat16) at the kernel boundary, on either device: operands widen
//! to f32, the f32 kernel runs, float results round back to the half dtype once.
//!
//! Why here and not in the kernels: the CPU kernels are written for f32/f64 (SIMD, GEMM, conv,
//! pooling, softmax, reductions) and the device kernels for f32, and PyTorch's CPU kernels for
//! half dtypes also load, widen, compute and accumulate in f32 and round on store, so this gives
//! its results with no half variant of any kernel. Sums accumulate in f32/f64, not in the 11- or
//! 8-bit significand. The widen and the rounding run where the tensor lives: `cpu::convert` on
//! the host, the device's half cast kernels (`wgpu::kernels::half`) on wgpu, so one set of
//! helpers serves both devices and a device half tensor never leaves the device.

use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

/// `t` converted to `dt` (a fresh contiguous tensor) on `t`'s device.
fn cast_on_device(t: &Tensor, dt: DType) -> Result<Tensor> {
    #[cfg(feature = "wgpu")]
    if !t.device().is_cpu() {
        return super::gpu::materialize(t, dt);
    }
    crate::cpu::convert::cast_copy(t, dt)
}

/// `dst.copy_(src)` (no autograd) on their device.
fn copy_on_device(dst: &Tensor, src: &Tensor) -> Result<()> {
    #[cfg(feature = "wgpu")]
    if !dst.device().is_cpu() {
        return super::gpu::copy_into(dst, src);
    }
    crate::cpu::convert::copy_into(dst, src)
}

/// `t` as the kernel reads it: an f32 copy for a half dtype, else itself.
pub fn widen(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_half() {
        cast_on_device(t, DType::F32)
    } else {
        Ok(t.clone())
    }
}

/// A kernel result back in the operands' dtype `dt`: f32 results round to `dt` when it is a half
/// dtype; index and bool results pass through.
pub fn narrow(t: Tensor, dt: DType) -> Result<Tensor> {
    if dt.is_half() && t.dtype() == DType::F32 {
        cast_on_device(&t, dt)
    } else {
        Ok(t)
    }
}

/// `f(x)` for a one-operand kernel, through f32 when `x` is a half dtype.
pub fn on_f32(x: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    if !x.dtype().is_half() {
        return f(x);
    }
    narrow(f(&widen(x)?)?, x.dtype())
}

/// `f(x)` for a one-operand kernel with two results (values and indices, or var and mean).
pub fn on_f32_pair(
    x: &Tensor,
    f: impl FnOnce(&Tensor) -> Result<(Tensor, Tensor)>,
) -> Result<(Tensor, Tensor)> {
    if !x.dtype().is_half() {
        return f(x);
    }
    let (a, b) = f(&widen(x)?)?;
    Ok((narrow(a, x.dtype())?, narrow(b, x.dtype())?))
}

/// `f(a, b)` for a two-operand kernel (the result in `a`'s dtype).
pub fn on_f32_2(
    a: &Tensor,
    b: &Tensor,
    f: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if !a.dtype().is_half() && !b.dtype().is_half() {
        return f(a, b);
    }
    narrow(f(&widen(a)?, &widen(b)?)?, a.dtype())
}

/// An in-place update of `param` and its state buffers (an optimizer step): for a half-dtype
/// parameter, on f32 copies that are rounded back into the parameter and buffers afterwards (the
/// state is kept in the parameter's dtype, as PyTorch keeps it).
pub fn update_in_f32(
    param: &Tensor,
    grad: &Tensor,
    bufs: &[Option<Tensor>],
    f: impl FnOnce(&Tensor, &Tensor, &[Option<Tensor>]) -> Result<()>,
) -> Result<()> {
    if !param.dtype().is_half() {
        return f(param, grad, bufs);
    }
    let p32 = widen(param)?;
    let b32 = bufs
        .iter()
        .map(|b| b.as_ref().map(widen).transpose())
        .collect::<Result<Vec<_>>>()?;
    f(&p32, &widen(grad)?, &b32)?;
    copy_on_device(param, &p32)?;
    for (b, w) in bufs.iter().zip(&b32) {
        if let (Some(b), Some(w)) = (b, w) {
            copy_on_device(b, w)?;
        }
    }
    Ok(())
}

/// `f` on f32 copies of the half operands among `ts` with the result rounded to `dt`, when the
/// op computes in the half dtype `dt`; `None` (the caller runs the op as is) otherwise.
pub fn in_f32_as(
    dt: DType,
    ts: &[&Tensor],
    f: impl FnOnce(&[Tensor]) -> Result<Tensor>,
) -> Option<Result<Tensor>> {
    if !dt.is_half() {
        return None;
    }
    Some(in_f32_all(ts, f).and_then(|r| narrow(r, dt)))
}

/// `f` on `ts` with every half operand widened to f32 first (for ops whose result is not in the
/// operands' dtype, such as comparisons).
pub fn in_f32_all(ts: &[&Tensor], f: impl FnOnce(&[Tensor]) -> Result<Tensor>) -> Result<Tensor> {
    let wide = ts.iter().map(|t| widen(t)).collect::<Result<Vec<_>>>()?;
    f(&wide)
}
