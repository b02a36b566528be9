//! Shapes, dims and broadcasting rules.

use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Dimensions of a tensor; inline for up to 6 dims so small tensors never allocate for metadata.
pub type Shape = SmallVec<[usize; 6]>;
/// Strides in elements (not bytes), one per dim.
pub type Strides = SmallVec<[isize; 6]>;

/// Number of elements in a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements, refusing shapes whose element count overflows `i64` (PyTorch's limit),
/// with PyTorch's message.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::runtime(format!(
                "Storage size calculation overflowed with sizes={}",
                fmt_shape(shape)
            ))
        })
}

/// Bytes for `n` elements of `item` bytes each, refusing overflow (PyTorch's message).
pub fn checked_bytes(shape: &[usize], item: usize) -> Result<usize> {
    checked_numel(shape)?
        .checked_mul(item)
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::runtime(format!(
                "Storage size calculation overflowed with sizes={}",
                fmt_shape(shape)
            ))
        })
}

/// Row-major (C-contiguous) strides.
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut s: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        s[i] = acc;
        // Saturating: only a tensor with a zero-size dim can have a huge extent here (its
        // strides are never used to address memory), and that must not panic.
        acc = acc.saturating_mul(shape[i].max(1) as isize);
    }
    s
}

/// Formats like PyTorch's `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Wraps a possibly negative dim into `0..ndim`, with PyTorch's IndexError text.
pub fn wrap_dim(dim: i64, ndim: usize) -> Result<usize> {
    // A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        return Err(Error::index(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        )));
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

/// Wraps a list of dims and checks for repeats.
pub fn wrap_dims(dims: &[i64], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let w = wrap_dim(d, ndim)?;
        if out.contains(&w) {
            return Err(Error::runtime(format!(
                "dim {} appears multiple times in the list of dims",
                w
            )));
        }
        out.push(w);
    }
    Ok(out)
}

/// The broadcast shape of two shapes, with PyTorch's error message.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = SmallVec::from_elem(1, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::runtime(format!(
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                da, db, i
            )));
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
        assert_eq!(broadcast_shapes(&[0], &[1]).unwrap().as_slice(), &[0]);
        assert!(broadcast_shapes(&[3], &[4]).is_err());
    }

    #[test]
    fn dims() {
        assert_eq!(wrap_dim(-1, 3).unwrap(), 2);
        assert_eq!(wrap_dim(0, 0).unwrap(), 0);
        assert!(wrap_dim(3, 3).is_err());
        assert!(wrap_dims(&[0, -2], 2).is_err());
    }

    #[test]
    fn strides() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert_eq!(contiguous_strides(&[]).as_slice(), &[] as &[isize]);
    }
}
