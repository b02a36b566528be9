//! CPU kernels of the index family (`ops/index.rs`): row copies for index_select, accumulation
//! for index_add, element walks for gather and scatter, and raw writes at storage offsets. The op
//! has checked every index against the shapes, so the kernels trust them.

use crate::cpu::num::Num;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ops::Reduce;
use crate::tensor::Tensor;
use crate::{with_dtype, with_num_dtype};

/// `out[o, j, :] = x[o, idx[j], :]` for a dense `[outer, size, inner]` x and a fresh
/// `[outer, idx.len(), inner]` out of x's dtype.
pub fn index_select_rows(
    x: &Tensor,
    idx: &[usize],
    (outer, size, inner): (usize, usize, usize),
    out: &Tensor,
) {
    with_dtype!(x.dtype(), T, {
        let sp = x.storage().cpu_ptr() as *const T;
        let op = out.storage().cpu_ptr() as *mut T;
        for o in 0..outer {
            for (j, &i) in idx.iter().enumerate() {
                // SAFETY: i < size, o < outer; blocks of `inner` lie inside both buffers.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        sp.add((o * size + i) * inner),
                        op.add((o * idx.len() + j) * inner),
                        inner,
                    );
                }
            }
        }
    });
}

/// `out[o, idx[j], k] += alpha * src[o, j, k]` in index order, for a dense `[outer, size, inner]`
/// out and a dense `[outer, idx.len(), inner]` src of out's dtype (bool: logical or).
pub fn index_add_rows(
    out: &Tensor,
    src: &Tensor,
    idx: &[usize],
    (outer, size, inner): (usize, usize, usize),
    alpha: f64,
) {
    with_num_dtype!(
        out.dtype(),
        T,
        {
            let a: T = crate::ops::cast::<f64, T>(alpha);
            let sp = src.storage().cpu_ptr() as *const T;
            let op = out.storage().cpu_ptr() as *mut T;
            for o in 0..outer {
                for (j, &i) in idx.iter().enumerate() {
                    for k in 0..inner {
                        // SAFETY: indices checked against the shapes by the op.
                        unsafe {
                            let dst = op.add((o * size + i) * inner + k);
                            let v = *sp.add((o * idx.len() + j) * inner + k);
                            *dst = T::add(*dst, if alpha == 1.0 { v } else { T::mul(v, a) });
                        }
                    }
                }
            }
        },
        {
            let sp = src.storage().cpu_ptr() as *const bool;
            let op = out.storage().cpu_ptr() as *mut bool;
            for o in 0..outer {
                for (j, &i) in idx.iter().enumerate() {
                    for k in 0..inner {
                        // SAFETY: as above.
                        unsafe {
                            let dst = op.add((o * size + i) * inner + k);
                            *dst = *dst || *sp.add((o * idx.len() + j) * inner + k);
                        }
                    }
                }
            }
        }
    );
}

/// Walk every element of a contiguous `shape`, calling `f(flat, coords)`.
fn for_each_coord(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut c = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &c);
        for k in (0..shape.len()).rev() {
            c[k] += 1;
            if c[k] < shape[k] {
                break;
            }
            c[k] = 0;
        }
    }
}

/// `out[c] = x[c with c[d] = idx[flat(c)]]` over the index shape `ish` (a 0-d x or index counts
/// as one element of a 1-d shape); x is read through its own layout.
pub fn gather(x: &Tensor, d: usize, idx: &[usize], ish: &[usize], out: &Tensor) {
    let xl = x.layout();
    let xstr: Vec<isize> = if x.ndim() == 0 {
        vec![0]
    } else {
        xl.strides.to_vec()
    };
    with_dtype!(x.dtype(), T, {
        let sp = x.storage().cpu_ptr() as *const T;
        let op = out.storage().cpu_ptr() as *mut T;
        for_each_coord(ish, |flat, c| {
            let mut off = xl.offset as isize;
            for k in 0..c.len() {
                let ck = if k == d { idx[flat] } else { c[k] };
                off += ck as isize * xstr[k];
            }
            // SAFETY: every coordinate is inside x's shape (checked by the op).
            unsafe { *op.add(flat) = *sp.offset(off) };
        });
    });
}

/// Row-major strides of `shape` in elements.
fn dense_strides(shape: &[usize]) -> Vec<usize> {
    let mut st = vec![0usize; shape.len()];
    let mut acc = 1;
    for k in (0..shape.len()).rev() {
        st[k] = acc;
        acc *= shape[k];
    }
    st
}

/// In index order over the index shape `ish`: `out[c with c[d] = idx[flat]] (op)= src[c]`, for a
/// dense out of shape `xs` and a dense src (a 0-d src when `scalar_src`: one value for every
/// position). Both share out's dtype; bool combines with or / and.
#[allow(clippy::too_many_arguments)]
pub fn scatter(
    out: &Tensor,
    src: &Tensor,
    xs: &[usize],
    d: usize,
    idx: &[usize],
    ish: &[usize],
    scalar_src: bool,
    reduce: Reduce,
) {
    let sstr = dense_strides(&if src.ndim() == 0 {
        vec![1usize]
    } else {
        src.shape().to_vec()
    });
    let ostr = dense_strides(xs);
    // Storage offsets in `out` and in `src` of the element that index coordinate `c` writes.
    let offsets_of = |flat: usize, c: &[usize]| -> (usize, usize) {
        let (mut o, mut so) = (0usize, 0usize);
        for k in 0..c.len() {
            o += (if k == d { idx[flat] } else { c[k] }) * ostr[k];
            if !scalar_src {
                so += c[k] * sstr[k];
            }
        }
        (o, so)
    };
    with_num_dtype!(
        out.dtype(),
        T,
        {
            let sp = src.storage().cpu_ptr() as *const T;
            let op = out.storage().cpu_ptr() as *mut T;
            for_each_coord(ish, |flat, c| {
                let (o, so) = offsets_of(flat, c);
                // SAFETY: coordinates checked against x's and src's shapes by the op.
                unsafe {
                    let v = *sp.add(so);
                    let dst = op.add(o);
                    *dst = match reduce {
                        Reduce::None => v,
                        Reduce::Add => T::add(*dst, v),
                        Reduce::Mul => T::mul(*dst, v),
                    };
                }
            });
        },
        {
            let sp = src.storage().cpu_ptr() as *const bool;
            let op = out.storage().cpu_ptr() as *mut bool;
            for_each_coord(ish, |flat, c| {
                let (o, so) = offsets_of(flat, c);
                // SAFETY: as above.
                unsafe {
                    let v = *sp.add(so);
                    let dst = op.add(o);
                    *dst = match reduce {
                        Reduce::None => v,
                        Reduce::Add => *dst || v,
                        Reduce::Mul => *dst && v,
                    };
                }
            });
        }
    );
}

/// Write `v[i]` (contiguous, `t`'s dtype) at storage offset `offs[i]` of `t`, in order (a later
/// duplicate wins). An offset outside the storage is IndexError; earlier writes stay done.
pub fn put_offsets(t: &Tensor, offs: &[i64], v: &Tensor) -> Result<()> {
    debug_assert_eq!(v.dtype(), t.dtype());
    let cap = t.storage().len() as i64;
    let dtype: DType = t.dtype();
    with_dtype!(dtype, T, {
        let sp = v.storage().cpu_ptr() as *const T;
        let op = t.storage().cpu_ptr() as *mut T;
        for (i, &o) in offs.iter().enumerate() {
            if o < 0 || o >= cap {
                return Err(Error::index("index out of range in self"));
            }
            // SAFETY: o checked against the storage length; i < v.numel().
            unsafe { *op.add(o as usize) = *sp.add(i) };
        }
    });
    Ok(())
}
