//! The geometry block of the window kernels (convolution unfold/fold, pooling): integer words
//! placed after the three view slots of the parameters buffer, because a window's geometry (up to
//! twenty sizes, strides and offsets) does not fit the eight scalar words (`shaders/README.md`,
//! "Geometry block"; `shaders/geometry.wgsl` reads it).

use crate::error::{Error, Result};
use crate::wgpu::view::params;

/// First word of the geometry block.
pub(crate) const GEOM0: usize = 48;

/// Parameter words of a window kernel with one invocation per element of a `numel`-element
/// dispatch and `geometry` as its block.
pub(super) fn window_params(op: &str, numel: usize, geometry: &[u32]) -> Result<Vec<u32>> {
    let mut p = params(op, &[numel], &[], &[])?;
    p.resize(GEOM0, 0);
    p.extend_from_slice(geometry);
    Ok(p)
}

/// `v` as a geometry word. The shaders index with i32 arithmetic, so every size, stride and
/// offset must stay below 2^31.
pub(super) fn word(op: &str, v: usize) -> Result<u32> {
    i32::try_from(v).map(|v| v as u32).map_err(|_| {
        Error::runtime(format!(
            "wgpu: {op}: a size or offset of {v} exceeds the 2^31 - 1 the window kernels index"
        ))
    })
}

/// Every value of `vs` as a geometry word.
pub(super) fn words(op: &str, vs: &[usize]) -> Result<Vec<u32>> {
    vs.iter().map(|&v| word(op, v)).collect()
}
