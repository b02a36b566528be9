//! Row loops for the reduce, softmax and optimizer kernels: a contiguous `[rows, n]` tensor is
//! handed out one row slice at a time across the thread pool. The raw memory access of those
//! families happens here and in their kernel files only; the ops never see a pointer.

use super::threads::{parallel_for, SendPtr, GRAIN};
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
/// elements, output rows `k` (both outputs contiguous `[rows, k]`; `out_b` optional).
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
    let ip = SendPtr(base_ptr::<T>(src));
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
