//! Moving tensors between the CPU and the wgpu device (`tensor.to(device)`, `.cpu()`).
//!
//! Device encodings (see `storage::WgpuBuffer`): float32 and int32 as is, bool and uint8 widened
//! to one u32 per element, int64 raw (two u32 words per element), float16 and bfloat16 raw (two
//! elements per u32 word, the buffer padded to a whole word). float64 is refused with a
//! TypeError, as PyTorch's MPS backend refuses it. Downloads are sync points: the open command
//! batch is submitted and waited for.

use crate::autograd::record;
use crate::device::Device;
use crate::error::Result;
use crate::tensor::Tensor;

/// `t.to(device)` with autograd (`ToCopyBackward0` moves the gradient back). Returns `t` itself
/// when it is already there, like PyTorch.
pub fn to_device(t: &Tensor, device: Device) -> Result<Tensor> {
    let from = t.device();
    if from == device {
        return Ok(t.clone());
    }
    let out = move_raw(t, device)?;
    if t.dtype().is_float() {
        record("ToCopyBackward0", &[t], &[&out], false, move |g, _| {
            Ok(vec![Some(to_device(&g[0], from)?)])
        });
    }
    Ok(out)
}

/// `t` on the host without autograd: `t` itself for CPU tensors, else a download (a sync point).
pub fn to_host(t: &Tensor) -> Result<Tensor> {
    if t.device().is_cpu() {
        return Ok(t.clone());
    }
    move_raw(t, Device::Cpu)
}

/// A contiguous copy of `t` on `device` (no autograd).
fn move_raw(t: &Tensor, device: Device) -> Result<Tensor> {
    match (t.device(), device) {
        (a, b) if a == b => Ok(t.clone()),
        #[cfg(feature = "wgpu")]
        (Device::Cpu, Device::Wgpu(_)) => wgpu_io::upload(t),
        #[cfg(feature = "wgpu")]
        (Device::Wgpu(_), Device::Cpu) => wgpu_io::download(t),
        (_, d) => Err(crate::error::Error::runtime(format!(
            "rustgrad was built without the wgpu backend; cannot move a tensor to {}",
            d.full_name()
        ))),
    }
}

/// A 0-d CPU scalar or any CPU tensor, uploaded (used by the kernels for CPU scalar operands).
#[cfg(feature = "wgpu")]
pub(crate) fn upload(t: &Tensor) -> Result<Tensor> {
    wgpu_io::upload(t)
}

/// The dtypes with no device storage yet (int8, int16 run on the CPU only):
/// a TypeError naming the dtype and the device, in the shape of the float64 message.
pub fn device_dtype_supported(
    dtype: crate::dtype::DType,
    device: crate::device::Device,
) -> Result<()> {
    use crate::dtype::DType;
    if matches!(dtype, DType::I8 | DType::I16) {
        return Err(crate::error::Error::type_error(format!(
            "Cannot convert a {} tensor to {} dtype on the wgpu device: the wgpu backend doesn't support \
             {} yet (int8 and int16 run on the CPU). Please use float32 (or int32) instead.",
            device.kind(),
            dtype.name(),
            dtype.name()
        )));
    }
    Ok(())
}

#[cfg(feature = "wgpu")]
mod wgpu_io {
    use crate::dtype::DType;
    use crate::error::{Error, Result};
    use crate::layout::Layout;
    use crate::storage::Storage;
    use crate::tensor::Tensor;
    use std::sync::Arc;

    /// PyTorch MPS's float64 message, for wgpu.
    fn no_f64() -> Error {
        Error::type_error(
            "Cannot convert a wgpu Tensor to float64 dtype as the wgpu backend doesn't support \
             float64. Please use float32 instead.",
        )
    }

    pub fn upload(t: &Tensor) -> Result<Tensor> {
        let dtype = t.dtype();
        if dtype == DType::F64 {
            return Err(no_f64());
        }
        super::device_dtype_supported(dtype, t.device())?;
        let c = crate::ops::contiguous_raw(t)?;
        let n = c.numel();
        let d = c.data();
        let esize = dtype.size();
        // SAFETY: `c` is a contiguous CPU tensor of n elements from its offset.
        let bytes: &[u8] = unsafe {
            std::slice::from_raw_parts(d.storage.cpu_ptr().add(d.layout.offset * esize), n * esize)
        };
        let buf = match dtype {
            DType::Bool | DType::U8 => {
                let wide: Vec<u32> = bytes.iter().map(|&b| u32::from(b)).collect();
                crate::wgpu::upload(bytemuck::cast_slice(&wide))?
            }
            _ => crate::wgpu::upload(bytes)?,
        };
        Ok(Tensor::from_parts(
            Arc::new(Storage::from_gpu(dtype, n, buf)),
            Layout::contiguous(&c.shape()),
        ))
    }

    /// Halves come back as their words: a contiguous view at an even offset is read as is, any
    /// other view is packed on the device first.
    fn download_half(
        t: &Tensor,
        buf: crate::wgpu::GpuBuffer,
        shape: &[usize],
        n: usize,
    ) -> Result<Tensor> {
        let d = t.data();
        let (src, off) = if d.layout.is_contiguous() && d.layout.offset.is_multiple_of(2) {
            (buf, d.layout.offset)
        } else {
            let v = super::super::gpu::view_of(t)?;
            (crate::wgpu::kernels::half::pack(&v, t.dtype())?, 0)
        };
        let words = crate::wgpu::read_u32(&src, off / 2, n.div_ceil(2))?;
        let bits: Vec<u16> = (0..n)
            .map(|i| (words[i / 2] >> ((i % 2) * 16)) as u16)
            .collect();
        if t.dtype() == DType::F16 {
            Tensor::from_vec(bits.into_iter().map(half::f16::from_bits).collect(), shape)
        } else {
            Tensor::from_vec(bits.into_iter().map(half::bf16::from_bits).collect(), shape)
        }
    }

    pub fn download(t: &Tensor) -> Result<Tensor> {
        let dtype = t.dtype();
        let d = t.data();
        let shape = d.layout.shape.clone();
        let n = d.layout.numel();
        if n == 0 {
            return Tensor::empty(&shape, dtype);
        }
        let buf = d.storage.gpu_buffer().expect("a wgpu tensor").clone();
        if dtype.is_half() {
            return download_half(t, buf, &shape, n);
        }
        // Make the view contiguous on the device, then read just its elements.
        let (src, off) = if d.layout.is_contiguous() {
            (buf, d.layout.offset)
        } else {
            let v = super::super::gpu::view_of(t)?;
            (crate::wgpu::kernels::contiguous(&v)?, 0)
        };
        if dtype == DType::I64 {
            let bytes = crate::wgpu::read(&src, off as u64 * 8, n as u64 * 8)?;
            let v: Vec<i64> = bytemuck::pod_collect_to_vec(&bytes);
            return Tensor::from_vec(v, &shape);
        }
        let words = crate::wgpu::read_u32(&src, off, n)?;
        match dtype {
            DType::F32 => Tensor::from_vec(
                words.into_iter().map(f32::from_bits).collect::<Vec<_>>(),
                &shape,
            ),
            DType::I32 => Tensor::from_vec(
                words.into_iter().map(|w| w as i32).collect::<Vec<_>>(),
                &shape,
            ),
            DType::U8 => Tensor::from_vec(
                words.into_iter().map(|w| w as u8).collect::<Vec<_>>(),
                &shape,
            ),
            DType::Bool => Tensor::from_vec(
                words.into_iter().map(|w| w != 0).collect::<Vec<_>>(),
                &shape,
            ),
            other => Err(Error::runtime(format!(
                "wgpu: no download path for dtype {}",
                other.name()
            ))),
        }
    }
}
