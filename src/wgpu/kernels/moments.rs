//! `var_mean` over trailing dims (`moments.wgsl`): one workgroup per row, two passes over it (the
//! mean, then the squared deviations from it), so the result is sound for data far from zero.

use super::argreduce::split_trailing;
use super::{fill_f32, float_type, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::view::{check_view, params, GpuView};

/// Variance (sum of squared deviations / `divisor`) and mean over the trailing `ndims` dims of
/// `a`: two fresh contiguous f32 buffers with one value per row of the leading dims. An empty
/// row has a NaN mean and variance; a zero divisor gives inf (or NaN for a zero sum).
pub fn var_mean_trailing(
    a: &GpuView,
    ndims: usize,
    divisor: f32,
) -> Result<(GpuBuffer, GpuBuffer)> {
    let op = "var_mean";
    check_view(op, a)?;
    let ty = float_type(op, a)?;
    let (rows, row_len) = split_trailing(op, a, ndims)?;
    let var = alloc(rows as u64 * 4)?;
    let mean = alloc(rows as u64 * 4)?;
    if rows == 0 {
        return Ok((var, mean));
    }
    if row_len == 0 {
        // 0/0, as the CPU kernel computes it.
        for b in [&var, &mean] {
            fill_f32(
                &GpuView::contiguous(b.clone(), DType::F32, &[rows]),
                f32::NAN,
            )?;
        }
        return Ok((var, mean));
    }
    let (len, nrows) = (u32::try_from(row_len), u32::try_from(rows));
    let (Ok(len), Ok(nrows)) = (len, nrows) else {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {rows} rows of {row_len} elements exceed 2^32"
        )));
    };
    let e = engine()?;
    let k = e.kernel("moments.wgsl", &[("DTYPE", ty), ("WG", WG_STR)])?;
    let p = params(
        op,
        &a.shape,
        &[(a.strides.clone(), a.offset)],
        &[len, nrows, divisor.to_bits()],
    )?;
    let bind = [
        Binding {
            buffer: &a.buffer,
            bytes: a.buffer.len(),
        },
        Binding {
            buffer: &var,
            bytes: var.len(),
        },
        Binding {
            buffer: &mean,
            bytes: mean.len(),
        },
    ];
    e.dispatch(op, &k, &p, &bind, rows as u64)?;
    Ok((var, mean))
}
