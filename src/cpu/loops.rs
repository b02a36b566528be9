//! Generic strided loops that every dtype and op shares. Contiguous inputs take a flat fast path
//! (which the compiler vectorises); other layouts walk an odometer over the outer dims with a
//! strided inner loop. Large tensors are split across the thread pool.

use super::threads::{parallel_for, SendPtr, GRAIN};
use crate::layout::Layout;
use smallvec::SmallVec;

/// Storage offsets of element `start` of a row-major walk over `layout`, and the odometer state.
struct Walker<'a> {
    l: &'a Layout,
    idx: SmallVec<[usize; 6]>,
    off: isize,
}

impl<'a> Walker<'a> {
    fn at(l: &'a Layout, start: usize) -> Self {
        let nd = l.ndim();
        let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd);
        let mut rem = start;
        let mut off = l.offset as isize;
        for d in (0..nd).rev() {
            let n = l.shape[d].max(1);
            idx[d] = rem % n;
            rem /= n;
            off += idx[d] as isize * l.strides[d];
        }
        Walker { l, idx, off }
    }

    #[inline(always)]
    fn next(&mut self) -> usize {
        let o = self.off as usize;
        let nd = self.l.ndim();
        let mut d = nd;
        while d > 0 {
            d -= 1;
            self.idx[d] += 1;
            self.off += self.l.strides[d];
            if self.idx[d] < self.l.shape[d] {
                return o;
            }
            self.off -= self.l.strides[d] * self.l.shape[d] as isize;
            self.idx[d] = 0;
        }
        o
    }
}

/// out[i] = f(x[layout(i)]) for a contiguous `out` of layout.numel() elements.
///
/// # Safety
/// `x` must be valid for every offset of `xl`, `out` for `xl.numel()` elements.
pub unsafe fn map1<A: Copy + Send + Sync, O: Copy + Send + Sync>(
    x: *const A,
    xl: &Layout,
    out: *mut O,
    f: impl Fn(A) -> O + Sync + Send,
) {
    let n = xl.numel();
    let (x, out) = (SendPtr(x as *mut A), SendPtr(out));
    if xl.is_contiguous() {
        let base = xl.offset;
        parallel_for(n, GRAIN, |a, b| {
            let (x, out) = (x, out);
            for i in a..b {
                *out.0.add(i) = f(*x.0.add(base + i));
            }
        });
        return;
    }
    let xl = xl.coalesced();
    parallel_for(n, GRAIN, |a, b| {
        let (x, out) = (x, out);
        let mut w = Walker::at(&xl, a);
        for i in a..b {
            *out.0.add(i) = f(*x.0.add(w.next()));
        }
    });
}

/// out[i] = f(a[al(i)], b[bl(i)]) where `al` and `bl` are already expanded to the output shape.
///
/// # Safety
/// Pointers valid for every offset of their layouts; `out` for al.numel() elements.
pub unsafe fn map2<A: Copy + Send + Sync, B: Copy + Send + Sync, O: Copy + Send + Sync>(
    a: *const A,
    al: &Layout,
    b: *const B,
    bl: &Layout,
    out: *mut O,
    f: impl Fn(A, B) -> O + Sync + Send,
) {
    let n = al.numel();
    let (pa, pb, po) = (SendPtr(a as *mut A), SendPtr(b as *mut B), SendPtr(out));
    let a_flat = al.is_contiguous() && !al.strides.contains(&0) || n <= 1;
    let b_flat = bl.is_contiguous() && !bl.strides.contains(&0) || n <= 1;
    let a_scalar = al.strides.iter().all(|&s| s == 0);
    let b_scalar = bl.strides.iter().all(|&s| s == 0);
    let (oa, ob) = (al.offset, bl.offset);
    if a_flat && b_flat {
        parallel_for(n, GRAIN, |s, e| {
            let (pa, pb, po) = (pa, pb, po);
            for i in s..e {
                *po.0.add(i) = f(*pa.0.add(oa + i), *pb.0.add(ob + i));
            }
        });
        return;
    }
    if a_flat && b_scalar {
        let bv = *pb.0.add(ob);
        parallel_for(n, GRAIN, |s, e| {
            let (pa, po) = (pa, po);
            for i in s..e {
                *po.0.add(i) = f(*pa.0.add(oa + i), bv);
            }
        });
        return;
    }
    if a_scalar && b_flat {
        let av = *pa.0.add(oa);
        parallel_for(n, GRAIN, |s, e| {
            let (pb, po) = (pb, po);
            for i in s..e {
                *po.0.add(i) = f(av, *pb.0.add(ob + i));
            }
        });
        return;
    }
    parallel_for(n, GRAIN, |s, e| {
        let (pa, pb, po) = (pa, pb, po);
        let mut wa = Walker::at(al, s);
        let mut wb = Walker::at(bl, s);
        for i in s..e {
            *po.0.add(i) = f(*pa.0.add(wa.next()), *pb.0.add(wb.next()));
        }
    });
}

/// Write `f(i, old)` into every element of a strided destination (in-place ops, fills).
///
/// # Safety
/// `dst` valid for every offset of `dl`.
pub unsafe fn update<T: Copy + Send + Sync>(
    dst: *mut T,
    dl: &Layout,
    f: impl Fn(usize, T) -> T + Sync + Send,
) {
    let n = dl.numel();
    let p = SendPtr(dst);
    if dl.is_contiguous() {
        let base = dl.offset;
        parallel_for(n, GRAIN, |a, b| {
            let p = p;
            for i in a..b {
                let q = p.0.add(base + i);
                *q = f(i, *q);
            }
        });
        return;
    }
    parallel_for(n, GRAIN, |a, b| {
        let p = p;
        let mut w = Walker::at(dl, a);
        for i in a..b {
            let q = p.0.add(w.next());
            *q = f(i, *q);
        }
    });
}

/// Storage offset of every element, row-major (used by gathers that need random access).
pub fn offsets(l: &Layout) -> Vec<usize> {
    let mut v = Vec::with_capacity(l.numel());
    l.for_each_offset(|o| v.push(o));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map2_broadcast_and_strided() {
        let a: Vec<f32> = (0..6).map(|x| x as f32).collect(); // [2,3]
        let b = [10.0f32, 20.0]; // [2,1]
        let al = Layout::contiguous(&[2, 3]);
        let bl = Layout::contiguous(&[2, 1]).expand(&[2, 3]).unwrap();
        let mut out = vec![0.0f32; 6];
        unsafe {
            map2(
                a.as_ptr(),
                &al,
                b.as_ptr(),
                &bl,
                out.as_mut_ptr(),
                |x, y| x + y,
            )
        };
        assert_eq!(out, vec![10., 11., 12., 23., 24., 25.]);
        let at = Layout::contiguous(&[3, 2]).transpose(0, 1); // a viewed as [2,3] transposed of [3,2]
        unsafe { map1(a.as_ptr(), &at, out.as_mut_ptr(), |x| x) };
        assert_eq!(out, vec![0., 2., 4., 1., 3., 5.]);
    }

    #[test]
    fn walker_starts_mid_tensor() {
        let l = Layout::contiguous(&[3, 4]).transpose(0, 1);
        let all = offsets(&l);
        let mut w = Walker::at(&l, 5);
        assert_eq!(w.next(), all[5]);
        assert_eq!(w.next(), all[6]);
    }
}
