//! Matrix products (`matmul` and its special cases, `linear`). Float products run on the blocked
//! GEMM in `cpu::gemm` with the operands' own strides, so transposed and broadcast (stride 0)
//! operands are never copied; integer products use a plain loop.

use super::{add, expand, reshape, squeeze, transpose, unsqueeze};
use crate::autograd::{record, SavedTensor};
use crate::cpu::threads::{parallel_for, pool, SendPtr};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, Shape};
use crate::tensor::Tensor;

/// Float element types with a GEMM kernel; shared by the conv and pool kernels.
pub(crate) trait GemmFloat:
    Element
    + Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INF: Self;
    /// `C = alpha*A·B + beta*C` with element strides; see `cpu::gemm::sgemm`.
    ///
    /// # Safety
    /// Same contract as `sgemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
    fn nan(self) -> bool;
}

macro_rules! impl_gemm_float {
    ($t:ty, $f:path) => {
        impl GemmFloat for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INF: Self = <$t>::NEG_INFINITY;
            unsafe fn gemm(
                m: usize,
                n: usize,
                k: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded contract.
                unsafe { $f(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
            fn nan(self) -> bool {
                self.is_nan()
            }
        }
    };
}
impl_gemm_float!(f32, crate::cpu::gemm::sgemm);
impl_gemm_float!(f64, crate::cpu::gemm::dgemm);

/// PyTorch's lower-case dtype names used by matmul errors ("float != double").
fn lower_name(d: DType) -> &'static str {
    match d {
        DType::Bool => "bool",
        DType::U8 => "unsigned char",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// Storage offsets of every matrix in the batch dims (all but the last two) of `l`.
fn batch_offsets(l: &Layout) -> Vec<usize> {
    let nd = l.ndim();
    let bl = Layout {
        shape: l.shape[..nd - 2].into(),
        strides: l.strides[..nd - 2].into(),
        offset: l.offset,
    };
    let mut v = Vec::with_capacity(bl.numel());
    bl.for_each_offset(|o| v.push(o));
    v
}

/// Batched float product over layouts whose batch dims are equal (broadcast dims have stride 0).
fn bmm_float<T: GemmFloat>(a: &Tensor, b: &Tensor, out: &Tensor) {
    let (da, db) = (a.data(), b.data());
    let (la, lb) = (&da.layout, &db.layout);
    let nd = la.ndim();
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    let oa = batch_offsets(la);
    let ob = batch_offsets(lb);
    let (rsa, csa) = (la.strides[nd - 2], la.strides[nd - 1]);
    let (rsb, csb) = (lb.strides[nd - 2], lb.strides[nd - 1]);
    let pa = SendPtr(da.storage.cpu_ptr() as *mut T);
    let pb = SendPtr(db.storage.cpu_ptr() as *mut T);
    let pc = SendPtr(out.storage().cpu_ptr() as *mut T);
    let nb = oa.len();
    let run = |i: usize| {
        let (pa, pb, pc) = (&pa, &pb, &pc);
        // SAFETY: offsets and strides come from valid layouts; out is fresh, contiguous and
        // distinct per batch entry.
        unsafe {
            T::gemm(
                m,
                n,
                k,
                T::ONE,
                (pa.0 as *const T).add(oa[i]),
                rsa,
                csa,
                (pb.0 as *const T).add(ob[i]),
                rsb,
                csb,
                T::ZERO,
                pc.0.add(i * m * n),
                n as isize,
                1,
            )
        }
    };
    if nb > 1 && m * n * k < 64 * 64 * 64 {
        // Many small products: spread the batch over threads instead of inside each GEMM.
        parallel_for(nb, (1 << 16) / (m * n * k + 1) + 1, |s, e| {
            (s..e).for_each(run)
        });
    } else {
        pool().install(|| (0..nb).for_each(run));
    }
}

/// Batched integer product (wrapping arithmetic, like PyTorch).
fn bmm_int<T: Element>(a: &Tensor, b: &Tensor, out: &Tensor) {
    let (da, db) = (a.data(), b.data());
    let (la, lb) = (&da.layout, &db.layout);
    let nd = la.ndim();
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    let oa = batch_offsets(la);
    let ob = batch_offsets(lb);
    let (rsa, csa) = (la.strides[nd - 2], la.strides[nd - 1]);
    let (rsb, csb) = (lb.strides[nd - 2], lb.strides[nd - 1]);
    let pa = da.storage.cpu_ptr() as *const T;
    let pb = db.storage.cpu_ptr() as *const T;
    let pc = out.storage().cpu_ptr() as *mut T;
    for (bi, (&o1, &o2)) in oa.iter().zip(&ob).enumerate() {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for p in 0..k {
                    let ia = o1 as isize + i as isize * rsa + p as isize * csa;
                    let ib = o2 as isize + p as isize * rsb + j as isize * csb;
                    // SAFETY: indices lie inside the operands' layouts.
                    let (x, y) = unsafe { (*pa.offset(ia), *pb.offset(ib)) };
                    acc = acc.wrapping_add(x.to_i64().wrapping_mul(y.to_i64()));
                }
                // SAFETY: out is contiguous with nb*m*n elements.
                unsafe { *pc.add(bi * m * n + i * n + j) = T::from_i64(acc) };
            }
        }
    }
}

/// Product of `[..., m, k]` and `[..., k, n]` with identical batch dims (possibly stride-0
/// views). Records its own backward; broadcasting is undone by the `expand` views around it.
fn bmm_core(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nd = a.ndim();
    let mut shape: Shape = a.shape();
    shape[nd - 1] = b.shape()[nd - 1];
    let out = match crate::kernels::bmm(a, b)? {
        Some(out) => out,
        None => bmm_cpu(a, b, &shape)?,
    };
    let name = if nd == 2 {
        "MmBackward0"
    } else {
        "BmmBackward0"
    };
    let (ka, kb) = (SavedTensor::new(a), SavedTensor::new(b));
    record(name, &[a, b], &[&out], true, move |g, needs| {
        let g = &g[0];
        let nd = g.ndim() as i64;
        let (a, b) = (&ka.get()?, &kb.get()?);
        let ga = if needs[0] {
            Some(bmm_core(g, &transpose(b, nd - 2, nd - 1)?)?)
        } else {
            None
        };
        let gb = if needs[1] {
            Some(bmm_core(&transpose(a, nd - 2, nd - 1)?, g)?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    });
    Ok(out)
}

/// The CPU kernels of `bmm_core`.
fn bmm_cpu(a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let out = Tensor::empty(shape, a.dtype())?;
    match a.dtype() {
        DType::F32 => bmm_float::<f32>(a, b, &out),
        DType::F64 => bmm_float::<f64>(a, b, &out),
        DType::I64 => bmm_int::<i64>(a, b, &out),
        DType::I32 => bmm_int::<i32>(a, b, &out),
        DType::U8 => bmm_int::<u8>(a, b, &out),
        DType::Bool => {
            return Err(Error::not_implemented(
                "\"addmm_impl_cpu_\" not implemented for 'Bool'",
            ))
        }
    }
    Ok(out)
}

fn dims_str(s: &[usize]) -> String {
    s.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// `torch.matmul(a, b)` with all of PyTorch's cases (dot, matrix-vector, batched with
/// broadcasting of the batch dims).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (na, nb) = (a.ndim(), b.ndim());
    if na == 0 || nb == 0 {
        return Err(Error::runtime(format!(
            "both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
        )));
    }
    if a.dtype() != b.dtype() {
        return Err(Error::runtime(format!(
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            lower_name(a.dtype()),
            lower_name(b.dtype())
        )));
    }
    let (sa, sb) = (a.shape(), b.shape());
    if na == 1 && nb == 1 {
        if sa[0] != sb[0] {
            return Err(Error::runtime(format!(
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                sa[0], sb[0], sa[0], sb[0]
            )));
        }
        let r = bmm_core(&unsqueeze(a, 0)?, &unsqueeze(b, 1)?)?;
        return reshape(&r, &[]);
    }
    // Promote vectors to matrices, remembering which dims to drop afterwards.
    let a2 = if na == 1 { unsqueeze(a, 0)? } else { a.clone() };
    let b2 = if nb == 1 { unsqueeze(b, 1)? } else { b.clone() };
    let (s2a, s2b) = (a2.shape(), b2.shape());
    let (m, k) = (s2a[s2a.len() - 2], s2a[s2a.len() - 1]);
    let (k2, n) = (s2b[s2b.len() - 2], s2b[s2b.len() - 1]);
    if k != k2 {
        let msg = if na == 1 || nb == 1 {
            format!(
                "size mismatch, got input ({}), mat ({}x{}), vec ({})",
                if nb == 1 { m } else { n },
                if nb == 1 { m } else { n },
                if nb == 1 { k } else { k2 },
                if nb == 1 { k2 } else { k }
            )
        } else if na == 2 && nb == 2 {
            format!(
                "mat1 and mat2 shapes cannot be multiplied ({} and {})",
                dims_str(&sa),
                dims_str(&sb)
            )
        } else {
            format!(
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                s2a[..s2a.len() - 2].iter().product::<usize>(),
                k,
                s2b[..s2b.len() - 2].iter().product::<usize>().max(1),
                k2
            )
        };
        return Err(Error::runtime(msg));
    }
    let out = if a2.ndim() == 2 && b2.ndim() == 2 {
        bmm_core(&a2, &b2)?
    } else if b2.ndim() == 2 && a2.ndim() > 2 && a2.is_contiguous() {
        // Fold batch dims of a contiguous left operand into rows: one big GEMM.
        let rows = a2.numel() / k.max(1);
        let flat = reshape(&a2, &[rows as i64, k as i64])?;
        let r = bmm_core(&flat, &b2)?;
        let mut shp: Vec<i64> = s2a[..s2a.len() - 1].iter().map(|&v| v as i64).collect();
        shp.push(n as i64);
        reshape(&r, &shp)?
    } else {
        let batch = broadcast_shapes(&s2a[..s2a.len() - 2], &s2b[..s2b.len() - 2])?;
        let mut ea: Vec<usize> = batch.to_vec();
        ea.extend([m, k]);
        let mut eb: Vec<usize> = batch.to_vec();
        eb.extend([k, n]);
        bmm_core(&expand(&a2, &ea)?, &expand(&b2, &eb)?)?
    };
    let mut out = out;
    if na == 1 {
        out = squeeze(&out, Some(&[-2]))?;
    }
    if nb == 1 {
        out = squeeze(&out, Some(&[-1]))?;
    }
    Ok(out)
}

/// `F.linear(x, weight, bias)`: `x @ weight^T + bias`, with the batch dims of `x` folded into
/// the rows of a single GEMM and the transpose taken as a stride swap.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    if w.ndim() != 2 && w.ndim() != 1 {
        return Err(Error::runtime(format!(
            "linear(): weight must be 1-D or 2-D, got {}-D",
            w.ndim()
        )));
    }
    let wt = if w.ndim() == 2 {
        transpose(w, 0, 1)?
    } else {
        w.clone()
    };
    let y = matmul(x, &wt)?;
    match bias {
        Some(b) => add(&y, b),
        None => Ok(y),
    }
}
