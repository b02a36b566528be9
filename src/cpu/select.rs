//! CPU kernel of `where(cond, a, b)` (`ops/select.rs`).

use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;
use crate::with_dtype;

/// `out[i] = c[i] ? a[i] : b[i]` with all three broadcast to `shape` (c bool, a and b already
/// promoted to `dtype`); a fresh contiguous tensor.
pub fn where_(
    c: &Tensor,
    ac: &Tensor,
    bc: &Tensor,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    let out = Tensor::empty(shape, dtype)?;
    let (cd, ad, bd) = (c.data(), ac.data(), bc.data());
    let cl = cd.layout.expand(shape)?;
    let al = ad.layout.expand(shape)?;
    let bl = bd.layout.expand(shape)?;
    let (co, ao, bo) = (
        super::loops::offsets(&cl),
        super::loops::offsets(&al),
        super::loops::offsets(&bl),
    );
    let cp = cd.storage.cpu_ptr() as *const bool;
    with_dtype!(dtype, T, {
        let (ap, bp) = (
            ad.storage.cpu_ptr() as *const T,
            bd.storage.cpu_ptr() as *const T,
        );
        let op = out.storage().cpu_ptr() as *mut T;
        for i in 0..co.len() {
            // SAFETY: offsets from valid layouts; out has co.len() elements.
            unsafe {
                *op.add(i) = if *cp.add(co[i]) {
                    *ap.add(ao[i])
                } else {
                    *bp.add(bo[i])
                }
            };
        }
    });
    Ok(out)
}
