//! Generic strided loops that every dtype and op shares. Contiguous inputs take a flat fast path
//! (which the compiler vectorises); other layouts walk an odometer over the outer dims with a
//! strided inner loop. Large tensors are split across the thread pool.

use super::threads::{parallel_for, SendPtr, GRAIN};
use super::view::{CpuView, CpuViewMut};
use crate::dtype::Element;
use crate::error::{Error, Result};
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
    // Strided input: walk rows of the (coalesced) innermost dim, so the per-element cost is a
    // strided load rather than an odometer step.
    let (shape, [sx, _]) = joint_coalesce(xl, xl);
    let sx0 = xl.offset as isize;
    rows(
        &shape,
        [&sx, &sx],
        [sx0, sx0],
        |r, [ox, _], len, [ix, _]| {
            let (x, out) = (x, out);
            let xp = x.0.offset(ox);
            let op = out.0.add(r);
            if ix == 1 {
                for j in 0..len {
                    *op.add(j) = f(*xp.add(j));
                }
            } else {
                for j in 0..len {
                    *op.add(j) = f(*xp.offset(j as isize * ix));
                }
            }
        },
    );
}

/// Shape and per-operand strides of two layouts of the same shape after dropping size-1 dims and
/// merging neighbouring dims that are contiguous with each other in both operands. Row-major
/// enumeration order is unchanged, so flat output index i still matches. Never returns 0 dims.
fn joint_coalesce(a: &Layout, b: &Layout) -> (SmallVec<[usize; 6]>, [SmallVec<[isize; 6]>; 2]) {
    let mut shape: SmallVec<[usize; 6]> = SmallVec::new();
    let mut sa: SmallVec<[isize; 6]> = SmallVec::new();
    let mut sb: SmallVec<[isize; 6]> = SmallVec::new();
    for d in 0..a.shape.len() {
        let n = a.shape[d];
        if n == 1 {
            continue;
        }
        let (x, y) = (a.strides[d], b.strides[d]);
        if let Some(last) = shape.len().checked_sub(1) {
            if sa[last] == x * n as isize && sb[last] == y * n as isize {
                shape[last] *= n;
                sa[last] = x;
                sb[last] = y;
                continue;
            }
        }
        shape.push(n);
        sa.push(x);
        sb.push(y);
    }
    if shape.is_empty() {
        shape.push(1);
        sa.push(0);
        sb.push(0);
    }
    (shape, [sa, sb])
}

/// Run `body(flat_start, [offset_a, offset_b], len, [inner_stride_a, inner_stride_b])` for every
/// row of the innermost dim of `shape`, rows split across the pool. Offsets start at `base`.
fn rows(
    shape: &[usize],
    strides: [&[isize]; 2],
    base: [isize; 2],
    body: impl Fn(usize, [isize; 2], usize, [isize; 2]) + Sync + Send,
) {
    let nd = shape.len();
    let inner = shape[nd - 1];
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let nrows = n / inner;
    let inner_s = [strides[0][nd - 1], strides[1][nd - 1]];
    parallel_for(nrows, (GRAIN / inner).max(1), |r0, r1| {
        // Odometer over the outer dims, positioned at row r0.
        let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, nd - 1);
        let mut off = base;
        let mut rem = r0;
        for d in (0..nd - 1).rev() {
            idx[d] = rem % shape[d];
            rem /= shape[d];
            for k in 0..2 {
                off[k] += idx[d] as isize * strides[k][d];
            }
        }
        for r in r0..r1 {
            body(r * inner, off, inner, inner_s);
            let mut d = nd - 1;
            while d > 0 {
                d -= 1;
                idx[d] += 1;
                for k in 0..2 {
                    off[k] += strides[k][d];
                }
                if idx[d] < shape[d] {
                    break;
                }
                for k in 0..2 {
                    off[k] -= strides[k][d] * shape[d] as isize;
                }
                idx[d] = 0;
            }
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
    // Broadcast or strided: row loops over the innermost merged dim, with tight specialised loops
    // for the common inner patterns (both unit stride, or one side broadcast along the row).
    let (shape, [sa, sb]) = joint_coalesce(al, bl);
    rows(
        &shape,
        [&sa, &sb],
        [oa as isize, ob as isize],
        |r, [xa, xb], len, [ia, ib]| {
            let (pa, pb, po) = (pa, pb, po);
            let (a0, b0, o0) = (pa.0.offset(xa), pb.0.offset(xb), po.0.add(r));
            match (ia, ib) {
                (1, 1) => {
                    for j in 0..len {
                        *o0.add(j) = f(*a0.add(j), *b0.add(j));
                    }
                }
                (1, 0) => {
                    let bv = *b0;
                    for j in 0..len {
                        *o0.add(j) = f(*a0.add(j), bv);
                    }
                }
                (0, 1) => {
                    let av = *a0;
                    for j in 0..len {
                        *o0.add(j) = f(av, *b0.add(j));
                    }
                }
                _ => {
                    for j in 0..len {
                        let j = j as isize;
                        *o0.offset(j) = f(*a0.offset(j * ia), *b0.offset(j * ib));
                    }
                }
            }
        },
    );
}

/// Write `f(i, old)` into every element of a strided destination (in-place ops, fills).
///
/// # Safety
/// `dst` valid for every offset of `dl`.
// `let p = p;` in the closures captures the whole Send wrapper, not just its raw-pointer field.
#[allow(clippy::redundant_locals)]
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

/// `out[i] = f(x[i])` over row-major `x`, into `out`: a contiguous run of as many elements.
pub fn map1_view<A: Element, O: Element>(
    x: &CpuView<A>,
    out: &CpuViewMut<O>,
    f: impl Fn(A) -> O + Sync + Send,
) -> Result<()> {
    out.expect_run(x.layout().numel())?;
    // SAFETY: both views checked that their layouts stay inside their storages, and `out` is a
    // run of exactly x's element count from its start.
    unsafe { map1(x.base(), x.layout(), out.start(), f) };
    Ok(())
}

/// `out[i] = f(a[i], b[i])` for `a` and `b` already expanded to one shape; `out` a contiguous run
/// of that many elements.
pub fn map2_view<A: Element, B: Element, O: Element>(
    a: &CpuView<A>,
    b: &CpuView<B>,
    out: &CpuViewMut<O>,
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Result<()> {
    if a.layout().shape != b.layout().shape {
        return Err(Error::runtime(
            "internal error: a binary CPU kernel was given operands of different shapes",
        ));
    }
    out.expect_run(a.layout().numel())?;
    // SAFETY: as in map1_view; `a` and `b` enumerate the same shape.
    unsafe { map2(a.base(), a.layout(), b.base(), b.layout(), out.start(), f) };
    Ok(())
}

/// `dst[i] = f(x[i])` for any layout of `dst` with as many elements as `x` (strided copies).
pub fn map1_into_view<A: Element, O: Element>(
    x: &CpuView<A>,
    dst: &CpuViewMut<O>,
    f: impl Fn(A) -> O + Sync + Send,
) -> Result<()> {
    if dst.layout().is_contiguous() {
        return map1_view(x, dst, f);
    }
    if dst.layout().numel() != x.layout().numel() {
        return Err(Error::runtime(
            "internal error: a strided copy was given source and destination of different sizes",
        ));
    }
    let order = offsets(x.layout());
    let src = SendPtr(x.base() as *mut A);
    // SAFETY: `order` holds offsets of x's checked layout; dst's layout is checked too.
    unsafe {
        update(dst.base(), dst.layout(), move |i, _| {
            f(*{ src }.0.add(order[i]))
        })
    };
    Ok(())
}

/// Write `f(i, old)` into every element of `dst`, row-major (fills, in-place updates).
pub fn update_view<T: Element>(dst: &CpuViewMut<T>, f: impl Fn(usize, T) -> T + Sync + Send) {
    // SAFETY: the view checked that its layout stays inside its storage.
    unsafe { update(dst.base(), dst.layout(), f) }
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
    fn map2_row_paths_match_offsets() {
        // [4,3,5] against a [3,1] broadcast and a permuted view: every inner-stride pattern.
        let a: Vec<f64> = (0..60).map(|x| x as f64).collect();
        let b: Vec<f64> = (0..3).map(|x| 100.0 * x as f64).collect();
        let shape = [4usize, 3, 5];
        let al = Layout::contiguous(&[5, 3, 4]).permute(&[2, 1, 0]);
        let bl = Layout::contiguous(&[3, 1]).expand(&shape).unwrap();
        for (xl, yl) in [(&al, &bl), (&bl, &al), (&al, &al)] {
            let (xo, yo) = (offsets(xl), offsets(yl));
            let (xp, yp) = if xl.strides.contains(&0) {
                (b.as_ptr(), a.as_ptr())
            } else if yl.strides.contains(&0) {
                (a.as_ptr(), b.as_ptr())
            } else {
                (a.as_ptr(), a.as_ptr())
            };
            let mut out = vec![0.0f64; 60];
            unsafe { map2(xp, xl, yp, yl, out.as_mut_ptr(), |x, y| x * 1000.0 + y) };
            for i in 0..60 {
                let want = unsafe { *xp.add(xo[i]) * 1000.0 + *yp.add(yo[i]) };
                assert_eq!(out[i], want, "element {i}");
            }
        }
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
