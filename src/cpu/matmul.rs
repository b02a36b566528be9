//! CPU side of the matmul family: batched products over the operands' own strides. Float
//! products run on the blocked GEMM in `cpu::gemm`, so transposed and broadcast (stride 0)
//! operands are never copied; integer products use a plain loop with wrapping arithmetic.

use super::convert::cast_copy;
use super::threads::{parallel_for, SendPtr};
use super::view::{CpuView, CpuViewMut};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Float element types with a GEMM kernel; shared by the conv and pool kernels.
pub(crate) trait GemmFloat:
    Element
    + super::gemm::Element
    + Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
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
impl_gemm_float!(f32, super::gemm::sgemm);
impl_gemm_float!(f64, super::gemm::dgemm);

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

/// The operands' matrix geometry: (m, k, n) and the row/column strides of a and b.
struct Geometry {
    m: usize,
    k: usize,
    n: usize,
    rsa: isize,
    csa: isize,
    rsb: isize,
    csb: isize,
}

fn geometry(la: &Layout, lb: &Layout) -> Geometry {
    let nd = la.ndim();
    Geometry {
        m: la.shape[nd - 2],
        k: la.shape[nd - 1],
        n: lb.shape[nd - 1],
        rsa: la.strides[nd - 2],
        csa: la.strides[nd - 1],
        rsb: lb.strides[nd - 2],
        csb: lb.strides[nd - 1],
    }
}

/// Batched float product over layouts whose batch dims are equal (broadcast dims have stride 0).
fn bmm_float<T: GemmFloat>(a: &CpuView<T>, b: &CpuView<T>, out: &CpuViewMut<T>) {
    let g = geometry(a.layout(), b.layout());
    let (m, k, n) = (g.m, g.k, g.n);
    let oa = batch_offsets(a.layout());
    let ob = batch_offsets(b.layout());
    let pa = SendPtr(a.base() as *mut T);
    let pb = SendPtr(b.base() as *mut T);
    let pc = SendPtr(out.start());
    let nb = oa.len();
    let run = |i: usize| {
        let (pa, pb, pc) = (&pa, &pb, &pc);
        // SAFETY: the views checked their spans, so batch offsets plus in-matrix strides stay in
        // their storages; out (fresh or an out= destination disjoint from a and b) is contiguous and distinct per batch entry.
        unsafe {
            T::gemm(
                m,
                n,
                k,
                T::ONE,
                (pa.0 as *const T).add(oa[i]),
                g.rsa,
                g.csa,
                (pb.0 as *const T).add(ob[i]),
                g.rsb,
                g.csb,
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
        // Each GEMM enters the pool itself when it is big enough to split.
        (0..nb).for_each(run);
    }
}

/// Batched integer product (wrapping arithmetic, like PyTorch).
fn bmm_int<T: Element>(a: &CpuView<T>, b: &CpuView<T>, out: &CpuViewMut<T>) {
    let g = geometry(a.layout(), b.layout());
    let (m, k, n) = (g.m, g.k, g.n);
    let oa = batch_offsets(a.layout());
    let ob = batch_offsets(b.layout());
    let (pa, pb, pc) = (a.base(), b.base(), out.start());
    for (bi, (&o1, &o2)) in oa.iter().zip(&ob).enumerate() {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for p in 0..k {
                    let ia = o1 as isize + i as isize * g.rsa + p as isize * g.csa;
                    let ib = o2 as isize + p as isize * g.rsb + j as isize * g.csb;
                    // SAFETY: indices lie inside the operands' checked layouts.
                    let (x, y) = unsafe { (*pa.offset(ia), *pb.offset(ib)) };
                    acc = acc.wrapping_add(x.to_i64().wrapping_mul(y.to_i64()));
                }
                // SAFETY: out is a contiguous run of nb*m*n elements.
                unsafe { *pc.add(bi * m * n + i * n + j) = T::from_i64(acc) };
            }
        }
    }
}

fn run_bmm<T: Element>(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    kernel: fn(&CpuView<T>, &CpuView<T>, &CpuViewMut<T>),
    dest: Option<&Tensor>,
) -> Result<Tensor> {
    let (va, vb) = (CpuView::<T>::of(a)?, CpuView::<T>::of(b)?);
    let (out, vo) = super::elementwise::output::<T>(shape, dest)?;
    let nd = va.layout().ndim();
    let ok = nd >= 2
        && vb.layout().ndim() == nd
        && va.layout().shape[..nd - 2] == vb.layout().shape[..nd - 2]
        && va.layout().shape[nd - 1] == vb.layout().shape[nd - 2];
    if !ok {
        return Err(Error::runtime(
            "internal error: bmm operands do not have matching [..., m, k] and [..., k, n] shapes",
        ));
    }
    // The output holds batch * m * n elements; its shape was allocated (so counted) already.
    let mut want: crate::shape::Shape = va.layout().shape.clone();
    want[nd - 1] = vb.layout().shape[nd - 1];
    if vo.layout().shape != want {
        return Err(Error::runtime(
            "internal error: bmm output shape does not match its operands",
        ));
    }
    kernel(&va, &vb, &vo);
    Ok(out)
}

/// `a @ b` for `[..., m, k]` and `[..., k, n]` with identical batch dims (possibly stride-0
/// views), into a fresh contiguous tensor of `shape` (`[..., m, n]`).
pub fn bmm(a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    bmm_into(a, b, shape, None)
}

/// [`bmm`] writing into `dest` when given: a contiguous CPU tensor of `shape` and the operands'
/// dtype that shares no memory with them (an `out=` destination).
pub fn bmm_into(a: &Tensor, b: &Tensor, shape: &[usize], dest: Option<&Tensor>) -> Result<Tensor> {
    match a.dtype() {
        DType::F32 => run_bmm::<f32>(a, b, shape, bmm_float, dest),
        DType::F64 => run_bmm::<f64>(a, b, shape, bmm_float, dest),
        DType::I64 => run_bmm::<i64>(a, b, shape, bmm_int, dest),
        DType::I32 => run_bmm::<i32>(a, b, shape, bmm_int, dest),
        DType::I16 => run_bmm::<i16>(a, b, shape, bmm_int, dest),
        DType::I8 => run_bmm::<i8>(a, b, shape, bmm_int, dest),
        DType::U8 => run_bmm::<u8>(a, b, shape, bmm_int, dest),
        // Half operands widen to f32 for the f32 GEMM and the product rounds once at the end
        // (PyTorch's CPU half matmul also accumulates in f32); out= never writes them directly.
        DType::F16 | DType::BF16 => {
            if dest.is_some() {
                return Err(Error::runtime(
                    "internal error: a half product cannot be written into its destination directly",
                ));
            }
            let (a32, b32) = (cast_copy(a, DType::F32)?, cast_copy(b, DType::F32)?);
            cast_copy(
                &run_bmm::<f32>(&a32, &b32, shape, bmm_float, None)?,
                a.dtype(),
            )
        }
        DType::Bool => Err(Error::not_implemented(
            "\"addmm_impl_cpu_\" not implemented for 'Bool'",
        )),
    }
}

/// `a @ b + bias` for 2-D float `a: [m, k]`, `b: [k, n]` (any strides) and `bias` of `[n]` or
/// `[1, n]` (contiguous) or none: the bias rows are written first and the GEMM accumulates onto
/// them (beta = 1), one pass over the output instead of a product and a broadcast add. `None`
/// for dtypes or bias shapes this does not cover (the caller composes).
pub fn addmm(a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    fn run<T: GemmFloat>(a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (va, vb) = (CpuView::<T>::of(a)?, CpuView::<T>::of(b)?);
        let g = geometry(va.layout(), vb.layout());
        let (m, k, n) = (g.m, g.k, g.n);
        let (out, vo) = super::elementwise::output::<T>(&[m, n], None)?;
        let c = vo.start();
        let beta = match bias {
            Some(t) => {
                // SAFETY: the caller checked that bias is contiguous with n elements of T; out
                // is fresh with m * n.
                unsafe {
                    let row = std::slice::from_raw_parts(super::rows::base_ptr::<T>(t), n);
                    for i in 0..m {
                        std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(i * n), n);
                    }
                }
                T::ONE
            }
            None => T::ZERO,
        };
        // SAFETY: the views checked their spans (elements from the layout offset on); out is a
        // fresh contiguous [m, n].
        unsafe {
            T::gemm(
                m,
                n,
                k,
                T::ONE,
                va.base().add(va.layout().offset),
                g.rsa,
                g.csa,
                vb.base().add(vb.layout().offset),
                g.rsb,
                g.csb,
                beta,
                c,
                n as isize,
                1,
            )
        };
        Ok(out)
    }
    let n = b.shape().get(1).copied().unwrap_or(0);
    let bias_ok = bias.is_none_or(|t| {
        t.dtype() == a.dtype()
            && t.is_contiguous()
            && t.numel() == n
            && (t.ndim() == 1 || (t.ndim() == 2 && t.shape()[0] == 1))
    });
    if a.ndim() != 2 || b.ndim() != 2 || a.dtype() != b.dtype() || !bias_ok {
        return Ok(None);
    }
    match a.dtype() {
        DType::F32 => run::<f32>(a, b, bias).map(Some),
        DType::F64 => run::<f64>(a, b, bias).map(Some),
        _ => Ok(None),
    }
}
