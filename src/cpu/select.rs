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
    let cp = cd.storage.cpu_ptr() as *const bool;
    // Fast path: every operand is either laid out like the output or one element (a scalar
    // broadcast, as in relu's backward `where(y > 0, g, 0)`): no per-element offset tables.
    let run = |l: &crate::layout::Layout| {
        if l.is_contiguous() {
            Some(1usize)
        } else if l.strides.iter().all(|&st| st == 0) {
            Some(0)
        } else {
            None
        }
    };
    if let (Some(1), Some(sa), Some(sb)) = (run(&cl), run(&al), run(&bl)) {
        let n = out.numel();
        with_dtype!(dtype, T, {
            let op = out.storage().cpu_ptr() as *mut T;
            // SAFETY: `c` holds n contiguous elements from its offset; a and b hold n (step 1)
            // or one (step 0) element from theirs; `out` is fresh with n elements.
            unsafe {
                let c = std::slice::from_raw_parts(cp.add(cl.offset), n);
                let o = std::slice::from_raw_parts_mut(op, n);
                let (ap, bp) = (
                    (ad.storage.cpu_ptr() as *const T).add(al.offset),
                    (bd.storage.cpu_ptr() as *const T).add(bl.offset),
                );
                match (sa, sb) {
                    (1, 1) => {
                        let (a, b) = (
                            std::slice::from_raw_parts(ap, n),
                            std::slice::from_raw_parts(bp, n),
                        );
                        for (((o, &c), &a), &b) in o.iter_mut().zip(c).zip(a).zip(b) {
                            *o = if c { a } else { b };
                        }
                    }
                    (1, _) => {
                        let (a, b) = (std::slice::from_raw_parts(ap, n), *bp);
                        for ((o, &c), &a) in o.iter_mut().zip(c).zip(a) {
                            *o = if c { a } else { b };
                        }
                    }
                    (_, 1) => {
                        let (a, b) = (*ap, std::slice::from_raw_parts(bp, n));
                        for ((o, &c), &b) in o.iter_mut().zip(c).zip(b) {
                            *o = if c { a } else { b };
                        }
                    }
                    _ => {
                        let (a, b) = (*ap, *bp);
                        for (o, &c) in o.iter_mut().zip(c) {
                            *o = if c { a } else { b };
                        }
                    }
                }
            }
        });
        return Ok(out);
    }
    let (co, ao, bo) = (
        super::loops::offsets(&cl),
        super::loops::offsets(&al),
        super::loops::offsets(&bl),
    );
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
