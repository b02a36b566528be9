//! Random draws on the device (`random.wgsl`, Philox4x32-10): uniform [0, 1), standard normal
//! and Bernoulli(p) as float32. A draw is a pure function of (seed, offset, element index), so
//! the Python generator only keeps a seed and a draw counter.

use super::{whole, workgroups, WG, WG_STR};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::wgpu::buffer::{alloc, GpuBuffer};
use crate::wgpu::encoder::Binding;
use crate::wgpu::engine::engine;
use crate::wgpu::template::op_body;
use crate::wgpu::view::{broadcast_strides, check_view, params, GpuView};

/// What a draw samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    Uniform,
    Normal,
}

fn key_words(seed: u64, offset: u64) -> [u32; 4] {
    [
        seed as u32,
        (seed >> 32) as u32,
        offset as u32,
        (offset >> 32) as u32,
    ]
}

fn draw(
    name: &'static str,
    sample: &str,
    probs: Option<&GpuView>,
    shape: &[usize],
    seed: u64,
    offset: u64,
) -> Result<GpuBuffer> {
    let n: usize = shape.iter().product();
    let bytes = (n as u64)
        .checked_mul(4)
        .ok_or_else(|| Error::runtime(format!("wgpu: {name}: output size overflows")))?;
    let out = alloc(bytes)?;
    if n == 0 {
        return Ok(out);
    }
    // Without probabilities binding 1 is a one-word placeholder the shader never reads.
    let dummy;
    let (src, view) = match probs {
        Some(p) => {
            check_view(name, p)?;
            if p.dtype != DType::F32 {
                return Err(Error::runtime(format!(
                    "wgpu: {name}: probabilities must be float32, got {:?}",
                    p.dtype
                )));
            }
            (
                whole(p),
                vec![(broadcast_strides(name, p, shape)?, p.offset)],
            )
        }
        None => {
            dummy = alloc(4)?;
            (
                Binding {
                    buffer: &dummy,
                    bytes: 4,
                },
                vec![],
            )
        }
    };
    let e = engine()?;
    let vars = [
        ("SAMPLE", op_body("random", sample)?),
        ("HAS_P", if probs.is_some() { "true" } else { "false" }),
        ("WG", WG_STR),
    ];
    let k = e.kernel("random.wgsl", &vars)?;
    let p = params(name, shape, &view, &key_words(seed, offset))?;
    let bind = [
        src,
        Binding {
            buffer: &out,
            bytes,
        },
    ];
    e.dispatch(name, &k, &p, &bind, workgroups(n, WG))?;
    Ok(out)
}

/// `n` float32 samples of `dist` for the draw (`seed`, `offset`), as a contiguous buffer.
pub fn random(dist: Dist, shape: &[usize], seed: u64, offset: u64) -> Result<GpuBuffer> {
    match dist {
        Dist::Uniform => draw("rand", "uniform", None, shape, seed, offset),
        Dist::Normal => draw("randn", "normal", None, shape, seed, offset),
    }
}

/// 1.0 where a uniform draw falls below `p` (float32 probabilities, any strides), else 0.0.
pub fn bernoulli(p: &GpuView, seed: u64, offset: u64) -> Result<GpuBuffer> {
    draw(
        "bernoulli",
        "bernoulli",
        Some(p),
        &p.shape.clone(),
        seed,
        offset,
    )
}
