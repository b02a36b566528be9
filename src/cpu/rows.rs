//! Row runners: a contiguous `[rows, n]` tensor handed to a per-row closure as slices, rows in
//! parallel. The ops that work along one dim (sort, scans, gather/scatter along a dim, softmax,
//! median/mode, the row reductions and the optimizer loops) move that dim last and call these, so
//! every raw pointer of that pattern lives here.

use crate::cpu::threads::{parallel_for, SendPtr, GRAIN};
use crate::dtype::Element;
use crate::error::Result;
use crate::tensor::Tensor;

/// The first element of a CPU tensor's view as a `T` pointer.
///
/// The caller must pass a CPU tensor whose dtype is `T` (`Storage::cpu_ptr` panics with a
/// NotImplemented error on device storage, the seam's last line of defence) and must only reach
/// elements its layout covers.
pub(crate) fn base_ptr<T>(t: &Tensor) -> *mut T {
    let d = t.data();
    // SAFETY: the layout offset lies inside the storage (a layout invariant), and the storage's
    // element type is `T` by the caller's dtype check.
    unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) }
}

/// Run `f(row_slice) -> O` for each row of a contiguous `[rows, r]` tensor, in parallel, into a
/// fresh tensor of `out_shape` (which has `rows` elements).
pub(crate) fn reduce_rows<T: Element, O: Element>(
    src: &Tensor,
    rows: usize,
    r: usize,
    out_shape: &[usize],
    out_dtype: crate::dtype::DType,
    f: impl Fn(&[T]) -> O + Sync + Send,
) -> Result<Tensor> {
    let out = Tensor::empty(out_shape, out_dtype)?;
    let ip = SendPtr(base_ptr::<T>(src));
    let op = SendPtr(out.storage().cpu_ptr() as *mut O);
    let grain = (GRAIN / r.max(1)).max(1);
    parallel_for(rows, grain, |a, b| {
        let (ip, op) = (ip, op);
        for i in a..b {
            // SAFETY: row i of a contiguous [rows, r] buffer; out has `rows` elements.
            unsafe {
                let row = std::slice::from_raw_parts(ip.0.add(i * r), r);
                *op.0.add(i) = f(row);
            }
        }
    });
    Ok(out)
}

/// Run `f(in_row, out_row_a, out_row_b)` over `rows` rows in parallel. Input rows have `n`
/// elements, output rows `k`. `src` is contiguous from its offset; the outputs are fresh
/// contiguous tensors of `rows * k` elements (`out_b` optional: `f` then sees an empty slice).
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_rows2<T: Element, A: Element, B: Element>(
    src: &Tensor,
    rows: usize,
    n: usize,
    k: usize,
    out_a: &Tensor,
    out_b: Option<&Tensor>,
    f: impl Fn(&[T], &mut [A], &mut [B]) + Sync + Send,
) {
    if rows == 0 {
        return;
    }
    let d = src.data();
    let ip = SendPtr(unsafe { (d.storage.cpu_ptr() as *mut T).add(d.layout.offset) });
    let pa = SendPtr(out_a.storage().cpu_ptr() as *mut A);
    let pb = SendPtr(out_b.map_or(std::ptr::null_mut(), |t| t.storage().cpu_ptr() as *mut B));
    let grain = (GRAIN / (n + k).max(1)).max(1);
    parallel_for(rows, grain, |s, e| {
        let (ip, pa, pb) = (ip, pa, pb);
        let mut dummy: Vec<B> = Vec::new();
        for i in s..e {
            // SAFETY: row i of contiguous [rows, n] / [rows, k] buffers; an empty input row is
            // never dereferenced (a dangling but aligned pointer is fine for length 0).
            unsafe {
                let row: &[T] = if n == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(ip.0.add(i * n), n)
                };
                let a: &mut [A] = if k == 0 {
                    &mut []
                } else {
                    std::slice::from_raw_parts_mut(pa.0.add(i * k), k)
                };
                let b: &mut [B] = if pb.0.is_null() || k == 0 {
                    &mut dummy[..]
                } else {
                    std::slice::from_raw_parts_mut(pb.0.add(i * k), k)
                };
                f(row, a, b);
            }
        }
    });
}

/// Same as [`map_rows2`] with a second input of rows of length `m` and one output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_rows_2in<T: Element, U: Element, A: Element>(
    x: &Tensor,
    y: &Tensor,
    rows: usize,
    n: usize,
    m: usize,
    k: usize,
    out: &Tensor,
    f: impl Fn(&[T], &[U], &mut [A]) + Sync + Send,
) {
    if rows == 0 || k == 0 {
        return;
    }
    let dx = x.data();
    let dy = y.data();
    let px = SendPtr(unsafe { (dx.storage.cpu_ptr() as *mut T).add(dx.layout.offset) });
    let py = SendPtr(unsafe { (dy.storage.cpu_ptr() as *mut U).add(dy.layout.offset) });
    let po = SendPtr(out.storage().cpu_ptr() as *mut A);
    let grain = (GRAIN / (n + m + k).max(1)).max(1);
    parallel_for(rows, grain, |s, e| {
        let (px, py, po) = (px, py, po);
        for i in s..e {
            // SAFETY: row i of contiguous [rows, n], [rows, m] and [rows, k] buffers.
            unsafe {
                let a: &[T] = if n == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(px.0.add(i * n), n)
                };
                let b: &[U] = if m == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(py.0.add(i * m), m)
                };
                let o = std::slice::from_raw_parts_mut(po.0.add(i * k), k);
                f(a, b, o);
            }
        }
    });
}
