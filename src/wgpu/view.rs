//! `GpuView`: a buffer seen through a layout (shape, strides and offset in elements), and the
//! parameter words (`shaders/README.md`, "Parameters buffer") that describe views to a kernel.

use super::buffer::GpuBuffer;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, fmt_shape, Shape, Strides};

/// Dims a kernel sees after merging (more non-mergeable dims are refused).
pub const MAX_DIMS: usize = 8;
const SHAPE0: usize = 2;
const SCALARS: usize = 10;
pub(crate) const VIEW0: usize = 18;
pub(crate) const VIEW_WORDS: usize = 2 + MAX_DIMS;

/// A strided view of a device buffer: what a tensor's storage + layout becomes at the seam.
#[derive(Clone, Debug)]
pub struct GpuView {
    pub buffer: GpuBuffer,
    pub dtype: DType,
    pub shape: Shape,
    /// In elements; 0 broadcasts, negative walks backwards.
    pub strides: Strides,
    /// In elements.
    pub offset: usize,
}

impl GpuView {
    /// A view with explicit strides and offset (in elements).
    pub fn new(
        buffer: GpuBuffer,
        dtype: DType,
        shape: &[usize],
        strides: &[isize],
        offset: usize,
    ) -> GpuView {
        GpuView {
            buffer,
            dtype,
            shape: shape.into(),
            strides: strides.into(),
            offset,
        }
    }

    /// The whole buffer as a row-major tensor of `shape`.
    pub fn contiguous(buffer: GpuBuffer, dtype: DType, shape: &[usize]) -> GpuView {
        GpuView {
            buffer,
            dtype,
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// Elements in the view.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Swap two dims (a transpose view; no copy).
    pub fn transpose(&self, d0: usize, d1: usize) -> GpuView {
        let mut v = self.clone();
        v.shape.swap(d0, d1);
        v.strides.swap(d0, d1);
        v
    }
}

/// Bytes per element on the device. Bool and uint8 are widened to one u32 word (WGSL has no byte
/// type); int64 is two u32 words, low word first (`vec2<u32>` in WGSL, two's complement), so it
/// keeps int64 semantics though WGSL has no 64-bit integers. float16 and bfloat16 are 2 bytes,
/// two to a word.
pub fn device_elem_size(dtype: DType) -> Result<u64> {
    match dtype {
        DType::F32 | DType::I32 | DType::Bool | DType::U8 => Ok(4),
        DType::I64 => Ok(8),
        // Packed two per word (`kernels::half`); buffers round up to whole words.
        DType::F16 | DType::BF16 => Ok(2),
        other => Err(Error::not_implemented(format!(
            "wgpu: dtype {other:?} is not supported on the device yet"
        ))),
    }
}

/// Check a view's strides match its shape and every element it reaches lies inside its buffer
/// and within i32 element offsets (what the kernels compute with).
pub(crate) fn check_view(op: &str, v: &GpuView) -> Result<()> {
    if v.shape.len() != v.strides.len() {
        return Err(Error::runtime(format!(
            "wgpu: {op}: view has {} dims but {} strides",
            v.shape.len(),
            v.strides.len()
        )));
    }
    let elem = device_elem_size(v.dtype)?;
    if v.numel() == 0 {
        return Ok(());
    }
    let (mut lo, mut hi) = (v.offset as i128, v.offset as i128);
    for (&d, &s) in v.shape.iter().zip(&v.strides) {
        let ext = (d as i128 - 1) * s as i128;
        if ext < 0 {
            lo += ext;
        } else {
            hi += ext;
        }
    }
    let cap = (v.buffer.len() / elem) as i128;
    if lo < 0 || hi >= cap || hi > i32::MAX as i128 {
        return Err(Error::runtime(format!(
            "wgpu: {op}: view of shape {} (strides {:?}, offset {}) reaches elements {lo}..={hi}, \
             outside its buffer of {cap} elements",
            fmt_shape(&v.shape),
            v.strides.as_slice(),
            v.offset
        )));
    }
    Ok(())
}

/// Strides that read `v` as if expanded to `shape` (broadcasting: stride 0 where `v` has size 1).
pub(crate) fn broadcast_strides(op: &str, v: &GpuView, shape: &[usize]) -> Result<Strides> {
    let bad = || {
        Error::runtime(format!(
            "wgpu: {op}: shape {} cannot be broadcast to {}",
            fmt_shape(&v.shape),
            fmt_shape(shape)
        ))
    };
    if v.shape.len() > shape.len() {
        return Err(bad());
    }
    let lead = shape.len() - v.shape.len();
    let mut s: Strides = smallvec::smallvec![0; shape.len()];
    for (i, (&d, &st)) in v.shape.iter().zip(&v.strides).enumerate() {
        let o = shape[lead + i];
        if d == o {
            s[lead + i] = if d == 1 { 0 } else { st };
        } else if d == 1 {
            s[lead + i] = 0;
        } else {
            return Err(bad());
        }
    }
    Ok(s)
}

/// Drop size-1 dims and merge neighbours that every view steps through as one dim; element order
/// (row-major over `shape`) is unchanged, so contiguous outputs and row splits are unaffected.
pub(crate) fn collapse(shape: &[usize], views: &mut [Strides]) -> Shape {
    let keep: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
    let mut out: Shape = Shape::new();
    let mut vs: Vec<Strides> = vec![Strides::new(); views.len()];
    for &d in &keep {
        let merge = !out.is_empty()
            && views
                .iter()
                .zip(&vs)
                .all(|(v, acc)| *acc.last().unwrap() == v[d] * shape[d] as isize);
        if merge {
            *out.last_mut().unwrap() *= shape[d];
            for (v, acc) in views.iter().zip(vs.iter_mut()) {
                *acc.last_mut().unwrap() = v[d];
            }
        } else {
            out.push(shape[d]);
            for (v, acc) in views.iter().zip(vs.iter_mut()) {
                acc.push(v[d]);
            }
        }
    }
    for (v, acc) in views.iter_mut().zip(vs) {
        *v = acc;
    }
    out
}

/// Parameter words for one dispatch: logical `shape` (merged with the views' strides), scalars,
/// and views as (strides over `shape`, offset).
pub(crate) fn params(
    op: &str,
    shape: &[usize],
    views: &[(Strides, usize)],
    scalars: &[u32],
) -> Result<Vec<u32>> {
    let numel: usize = shape.iter().product();
    if numel > u32::MAX as usize {
        return Err(Error::runtime(format!(
            "wgpu: {op}: {numel} elements exceed the 2^32 a single dispatch indexes"
        )));
    }
    let mut strides: Vec<Strides> = views.iter().map(|(s, _)| s.clone()).collect();
    let shape = collapse(shape, &mut strides);
    if shape.len() > MAX_DIMS {
        return Err(Error::not_implemented(format!(
            "wgpu: {op}: {} dims that cannot be merged (at most {MAX_DIMS})",
            shape.len()
        )));
    }
    let mut w = vec![0u32; VIEW0 + VIEW_WORDS * views.len()];
    w[0] = numel as u32;
    w[1] = shape.len() as u32;
    for d in 0..MAX_DIMS {
        w[SHAPE0 + d] = shape.get(d).map_or(1, |&s| s as u32);
    }
    w[SCALARS..SCALARS + scalars.len()].copy_from_slice(scalars);
    let row_major = contiguous_strides(&shape);
    for (k, (s, (_, offset))) in strides.iter().zip(views).enumerate() {
        let base = VIEW0 + VIEW_WORDS * k;
        w[base] = *offset as u32;
        w[base + 1] = u32::from(*s == row_major);
        for (d, &st) in s.iter().enumerate() {
            w[base + 2 + d] = st as i32 as u32;
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    #[test]
    fn collapse_merges_what_every_view_allows() {
        let mut v: Vec<Strides> = vec![smallvec![12, 4, 1], smallvec![0, 4, 1]];
        assert_eq!(collapse(&[2, 3, 4], &mut v).as_slice(), &[2, 12]);
        assert_eq!(v[0].as_slice(), &[12, 1]);
        assert_eq!(v[1].as_slice(), &[0, 1]);
        // A transpose does not merge; size-1 dims vanish.
        let mut v: Vec<Strides> = vec![smallvec![1, 5, 3]];
        assert_eq!(collapse(&[5, 1, 3], &mut v).as_slice(), &[5, 3]);
        assert_eq!(v[0].as_slice(), &[1, 3]);
    }

    #[test]
    fn params_layout() {
        let w = params(
            "t",
            &[2, 3],
            &[(smallvec![3, 1], 5), (smallvec![1, 2], 0)],
            &[7],
        )
        .unwrap();
        assert_eq!(&w[..4], &[6, 2, 2, 3]);
        assert_eq!(w[SCALARS], 7);
        assert_eq!(&w[VIEW0..VIEW0 + 4], &[5, 1, 3, 1]);
        assert_eq!(
            &w[VIEW0 + VIEW_WORDS..VIEW0 + VIEW_WORDS + 4],
            &[0, 0, 1, 2]
        );
        // Negative strides travel as i32 bits.
        let w = params("t", &[4], &[(smallvec![-1], 3)], &[]).unwrap();
        assert_eq!(w[VIEW0 + 2] as i32, -1);
    }
}
