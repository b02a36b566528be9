//! A layout maps an N-d index to a storage offset: shape + strides + offset. Views (transpose,
//! permute, expand, narrow, slicing) are new layouts over the same storage; nothing is copied.

use crate::error::{Error, Result};
use crate::shape::{contiguous_strides, fmt_shape, numel, Shape, Strides};
use smallvec::SmallVec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Shape,
    pub strides: Strides,
    pub offset: usize,
}

impl Layout {
    /// A fresh row-major layout.
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: SmallVec::from_slice(shape),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Row-major with no gaps (dims of size 1 may have any stride, as in PyTorch).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for i in (0..self.shape.len()).rev() {
            let d = self.shape[i];
            if d == 0 {
                return true;
            }
            if d != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= d as isize;
            }
        }
        true
    }

    /// Smallest and one-past-largest storage offsets this layout touches (for bounds checks).
    ///
    /// Computed in `i128` so no combination of sizes, strides and offset can wrap; a span that
    /// does not fit in `isize` (PyTorch's `int64_t`) is refused with PyTorch's message, because
    /// a wrapped span is how a hostile `as_strided` or checkpoint reads outside its buffer.
    pub fn storage_span(&self) -> Result<(usize, usize)> {
        let overflow = || {
            Error::runtime(format!(
                "Storage size calculation overflowed with sizes={} and strides={:?}",
                fmt_shape(&self.shape),
                self.strides.as_slice()
            ))
        };
        if self.shape.contains(&0) {
            return Ok((self.offset, self.offset));
        }
        let mut lo = self.offset as i128;
        let mut hi = self.offset as i128;
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()) {
            let ext = (d as i128 - 1) * s as i128;
            if ext < 0 {
                lo += ext;
            } else {
                hi += ext;
            }
            // Each term is below 2^127 / 2^7, so a handful of dims cannot overflow i128 before
            // this check trips.
            if hi >= isize::MAX as i128 || lo < 0 && lo < -(isize::MAX as i128) {
                return Err(overflow());
            }
        }
        if lo < 0 {
            return Err(Error::runtime(format!(
                "as_strided: layout with sizes={} strides={:?} storage_offset={} reaches before the start of its storage",
                fmt_shape(&self.shape),
                self.strides.as_slice(),
                self.offset
            )));
        }
        Ok((lo as usize, hi as usize + 1))
    }

    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    pub fn transpose(&self, a: usize, b: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        l
    }

    /// `narrow(dim, start, len)`; the caller has checked bounds.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut l = self.clone();
        l.offset = (self.offset as isize + start as isize * self.strides[dim]) as usize;
        l.shape[dim] = len;
        l
    }

    /// Strided slice along one dim: `start, start+step, ...` `len` times.
    pub fn slice_step(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.narrow(dim, start, len);
        l.strides[dim] *= step as isize;
        l
    }

    /// Select index `i` of `dim`, dropping the dim.
    pub fn select(&self, dim: usize, i: usize) -> Layout {
        let mut l = self.clone();
        l.offset = (self.offset as isize + i as isize * self.strides[dim]) as usize;
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let st = if dim < self.ndim() {
            self.strides[dim] * self.shape[dim] as isize
        } else {
            1
        };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, st);
        l
    }

    pub fn squeeze_dim(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        if l.shape[dim] == 1 {
            l.shape.remove(dim);
            l.strides.remove(dim);
        }
        l
    }

    /// Broadcast to `shape` with zero strides, as `expand` does.
    pub fn expand(&self, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.ndim() {
            return Err(Error::runtime(format!(
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                shape.len(),
                self.ndim()
            )));
        }
        // A broadcast result may not hold more elements than int64 counts (PyTorch refuses too).
        crate::shape::checked_numel(shape)?;
        let lead = shape.len() - self.ndim();
        let mut strides: Strides = SmallVec::from_elem(0, shape.len());
        for i in 0..shape.len() {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            if d == shape[i] {
                strides[i] = s;
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::runtime(format!(
                    "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
                    shape[i],
                    d,
                    i,
                    fmt_shape(shape),
                    fmt_shape(&self.shape)
                )));
            }
        }
        Ok(Layout {
            shape: SmallVec::from_slice(shape),
            strides,
            offset: self.offset,
        })
    }

    /// Strides for viewing this layout as `shape` without a copy, if possible (PyTorch's
    /// `computeStride`): dims are merged into contiguous chunks and re-split.
    pub fn view_strides(&self, shape: &[usize]) -> Option<Strides> {
        let old_numel = self.numel();
        if old_numel == 0 || self.is_contiguous() {
            return Some(contiguous_strides(shape));
        }
        let mut new_strides: Strides = SmallVec::from_elem(0, shape.len());
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last()?;
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            let boundary = tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel as isize * chunk_base_stride);
            if boundary {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel as isize * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(new_strides)
    }

    /// Visit the storage offset of every element in row-major order.
    #[inline]
    pub fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        let n = self.numel();
        if n == 0 {
            return;
        }
        let nd = self.ndim();
        if nd == 0 {
            f(self.offset);
            return;
        }
        let inner = self.shape[nd - 1];
        let inner_stride = self.strides[nd - 1];
        let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd);
        let mut base = self.offset as isize;
        loop {
            let mut o = base;
            for _ in 0..inner {
                f(o as usize);
                o += inner_stride;
            }
            // Advance the outer index (odometer over dims 0..nd-1).
            let mut d = nd - 1;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                idx[d] += 1;
                base += self.strides[d];
                if idx[d] < self.shape[d] {
                    break;
                }
                base -= self.strides[d] * self.shape[d] as isize;
                idx[d] = 0;
            }
        }
    }

    /// Collapse adjacent dims that are contiguous with each other, so strided loops run longer
    /// inner loops. Returns an equivalent layout (same element order).
    pub fn coalesced(&self) -> Layout {
        if self.ndim() <= 1 {
            return self.clone();
        }
        let mut shape: Shape = SmallVec::new();
        let mut strides: Strides = SmallVec::new();
        for (&d, &s) in self.shape.iter().zip(self.strides.iter()) {
            if d == 1 {
                continue;
            }
            if let (Some(ld), Some(ls)) = (shape.last_mut(), strides.last_mut()) {
                if *ls == s * d as isize {
                    *ld *= d;
                    *ls = s;
                    continue;
                }
            }
            shape.push(d);
            strides.push(s);
        }
        Layout {
            shape,
            strides,
            offset: self.offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(l: &Layout) -> Vec<usize> {
        let mut v = vec![];
        l.for_each_offset(|o| v.push(o));
        v
    }

    #[test]
    fn contiguity_and_transpose() {
        let l = Layout::contiguous(&[2, 3]);
        assert!(l.is_contiguous());
        let t = l.transpose(0, 1);
        assert!(!t.is_contiguous());
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn expand_and_narrow() {
        let l = Layout::contiguous(&[3, 1]);
        let e = l.expand(&[2, 3, 4]).unwrap();
        assert_eq!(e.strides.as_slice(), &[0, 1, 0]);
        assert_eq!(offsets(&e)[..8], [0, 0, 0, 0, 1, 1, 1, 1]);
        assert!(l.expand(&[3, 2, 2]).is_err());
        let n = Layout::contiguous(&[4, 5]).narrow(1, 1, 2);
        assert_eq!(offsets(&n), vec![1, 2, 6, 7, 11, 12, 16, 17]);
    }

    #[test]
    fn view_strides_follow_pytorch() {
        let t = Layout::contiguous(&[2, 3, 4]).transpose(0, 1); // [3,2,4]
        assert_eq!(t.view_strides(&[3, 8]), None);
        assert_eq!(
            t.view_strides(&[3, 2, 2, 2]).unwrap().as_slice(),
            &[4, 12, 2, 1]
        );
        let s = Layout::contiguous(&[4, 6]).narrow(1, 0, 3); // non-contiguous rows
        assert_eq!(s.view_strides(&[4, 3, 1]).unwrap().as_slice(), &[6, 1, 1]);
        assert_eq!(s.view_strides(&[12]), None);
    }

    #[test]
    fn coalesce() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.coalesced().shape.as_slice(), &[24]);
        let t = l.narrow(2, 0, 2).coalesced();
        assert_eq!(t.shape.as_slice(), &[6, 2]);
        assert_eq!(offsets(&t), offsets(&l.narrow(2, 0, 2)));
    }

    #[test]
    fn span() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        assert_eq!(l.storage_span().unwrap(), (0, 6));
        let huge = Layout {
            shape: SmallVec::from_slice(&[3]),
            strides: SmallVec::from_slice(&[(1isize << 62) + 1000]),
            offset: 0,
        };
        assert!(huge.storage_span().is_err());
        let wraps = Layout {
            shape: SmallVec::from_slice(&[1 << 40, 1 << 40]),
            strides: SmallVec::from_slice(&[1 << 30, 1 << 30]),
            offset: usize::MAX / 2,
        };
        assert!(wraps.storage_span().is_err());
        let neg = Layout {
            shape: SmallVec::from_slice(&[4]),
            strides: SmallVec::from_slice(&[-1]),
            offset: 2,
        };
        assert!(neg.storage_span().is_err());
        let empty = Layout {
            shape: SmallVec::from_slice(&[0, 5]),
            strides: SmallVec::from_slice(&[isize::MAX, 1]),
            offset: 7,
        };
        assert_eq!(empty.storage_span().unwrap(), (7, 7));
    }
}
