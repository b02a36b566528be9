//! The kernels: fill, copies, elementwise unary/binary/compare/where, reductions (with indices,
//! variance, all/any), softmax, matmul and the fused optimizer steps, all f32 (copies and fills
//! move any 4-byte dtype). Each function checks its views,
//! records its dispatch into the open batch and returns at once; results are read with
//! `wgpu::read` (a sync point).

mod argreduce;
mod conv;
pub mod conv_gemm;
mod cross_entropy;
mod elementwise;
pub mod gemm;
pub mod half;
mod index;
mod matmul;
mod moments;
mod optim;
mod pool;
mod random;
mod reduce;
mod scan;
mod softmax;
mod window;

pub use argreduce::{extreme_trailing, place_at_index};
pub use conv::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, conv2d_forward_act,
    set_column_budget_override,
};
pub use cross_entropy::{cross_entropy_backward, cross_entropy_forward, CeConfig, CeReduction};
pub use elementwise::{
    binary, binary_inputs, cast, compare, compare_inputs, contiguous, copy, copy_strided, fill,
    fill_f32, fill_words, unary, unary_with, where_, where_inputs,
};
pub use gemm::Act;
pub use index::{fold_index, gather, put, scatter_into, Along, IndexCheck, ScatterOp};
pub use matmul::{chosen_tile, matmul, matmul_fused};
pub use moments::var_mean_trailing;
pub use optim::{fused_group_step, fused_step, group_slots, GroupItem, OptimKernel};
pub use pool::{avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward};
pub use random::{bernoulli, random, Dist};
pub use reduce::{
    all_any_trailing, prod_others_trailing, reduce_all, reduce_last, reduce_trailing,
};
pub use scan::{cumprod_grad, scan};
pub use softmax::{softmax_backward_rows, softmax_rows};

use super::encoder::Binding;
use super::view::{device_elem_size, GpuView};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// Workgroup size of the 1-D kernels.
pub(crate) const WG: u32 = 256;
const WG_STR: &str = "256";

fn workgroups(n: usize, wg: u32) -> u64 {
    (n as u64).div_ceil(wg as u64)
}

/// Bind a view's whole buffer (its logical length).
fn whole(v: &GpuView) -> Binding<'_> {
    Binding {
        buffer: &v.buffer,
        bytes: v.buffer.len(),
    }
}

/// How a dtype looks to a shader: its WGSL word type and the tag of its `ops.txt` variants.
pub(crate) struct DeviceType {
    pub word: &'static str,
    pub tag: &'static str,
}

/// The device type of `dtype` (see `view::device_elem_size` for the encodings).
pub(crate) fn device_type(op: &str, dtype: DType) -> Result<DeviceType> {
    let (word, tag) = match dtype {
        DType::F32 => ("f32", "f32"),
        DType::I32 => ("i32", "i32"),
        DType::I64 => ("vec2<u32>", "i64"),
        DType::Bool => ("u32", "bool"),
        DType::U8 => ("u32", "u8"),
        other => {
            return Err(Error::not_implemented(format!(
                "wgpu: \"{op}\" not implemented for '{other:?}' on the device"
            )))
        }
    };
    Ok(DeviceType { word, tag })
}

/// The WGSL scalar type of a float kernel's input; other dtypes have no kernel yet.
fn float_type(op: &str, v: &GpuView) -> Result<&'static str> {
    match v.dtype {
        DType::F32 => Ok("f32"),
        other => Err(Error::not_implemented(format!(
            "wgpu: \"{op}\" not implemented for '{other:?}' (the wgpu engine has f32 kernels only so far)"
        ))),
    }
}

fn same_elem_size(op: &str, a: &GpuView, b: &GpuView) -> Result<u64> {
    let (ea, eb) = (device_elem_size(a.dtype)?, device_elem_size(b.dtype)?);
    if ea != eb {
        return Err(Error::runtime(format!(
            "wgpu: {op}: element sizes differ ({:?} vs {:?})",
            a.dtype, b.dtype
        )));
    }
    Ok(ea)
}
