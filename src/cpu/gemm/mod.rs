//! Single- and double-precision matrix multiply (GEMM).
//!
//! Structure follows the GotoBLAS/BLIS scheme:
//! * `driver` walks the matrices in cache-sized blocks (NC columns of B, KC
//!   of the shared dimension, MC rows of A) and splits work over the CPU team;
//! * `pack` copies blocks of A and B into contiguous, kernel-friendly
//!   micro-panels, which makes arbitrary (transposed, broadcast, negative)
//!   strides cost the same as contiguous input;
//! * the `kernel_*` modules hold register-blocked micro-kernels, chosen once
//!   at run time from the CPU's features (`select`).
//!
//! This folder uses only `self::`/`super::` paths so that it can be moved
//! into another crate verbatim.

mod blocking;
mod buffer;
mod driver;
#[cfg(target_arch = "x86_64")]
mod kernel_avx2;
#[cfg(target_arch = "x86_64")]
mod kernel_avx512;
mod kernel_generic;
mod pack;
mod select;

#[cfg(test)]
mod tests;

use std::ops::{Add, Mul};

use self::blocking::Kernel;
use self::driver::MatMut;
pub(crate) use self::driver::MatRef;
pub(crate) use self::pack::{copy_short, pack_rows, Panels};

/// Floating-point types the GEMM driver is generic over.
pub(crate) trait Element:
    Copy + Send + Sync + PartialEq + Add<Output = Self> + Mul<Output = Self> + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// The best micro-kernel (and its blocking sizes) for this CPU.
    fn kernel() -> &'static Kernel<Self>;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn kernel() -> &'static Kernel<Self> {
        select::f32_kernel()
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn kernel() -> &'static Kernel<Self> {
        select::f64_kernel()
    }
}

/// `C = alpha * A·B + beta * C` in single precision.
///
/// A is m×k, B is k×n and C is m×n. Element (i, j) of A lives at
/// `a[i*rsa + j*csa]` (strides in elements, any sign, 0 allowed for
/// broadcast dimensions); likewise for B and C. When `beta == 0`, C is
/// write-only (it may hold NaN or garbage). Any of m, n, k may be 0; with
/// `k == 0` the result is `beta * C`. Work runs on the CPU team (`cpu::threads`).
///
/// # Safety
/// Every element addressed through the given pointers and strides must be
/// valid (A and B for reads, C for reads and writes). Distinct (i, j) of C
/// must map to distinct memory, and C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: the caller upholds the pointer/stride contract documented above,
    // which is exactly what the driver requires.
    unsafe {
        driver::gemm(
            f32::kernel(),
            m,
            n,
            k,
            alpha,
            &MatRef::new(a, rsa, csa),
            &MatRef::new(b, rsb, csb).t(),
            beta,
            MatMut::new(c, rsc, csc),
        )
    }
}

/// `C = alpha * A·B + beta * C` in double precision; see [`sgemm`].
///
/// # Safety
/// Same contract as [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn dgemm(
    m: usize,
    n: usize,
    k: usize,
    alpha: f64,
    a: *const f64,
    rsa: isize,
    csa: isize,
    b: *const f64,
    rsb: isize,
    csb: isize,
    beta: f64,
    c: *mut f64,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: see `sgemm`; the contract is forwarded unchanged.
    unsafe {
        driver::gemm(
            f64::kernel(),
            m,
            n,
            k,
            alpha,
            &MatRef::new(a, rsa, csa),
            &MatRef::new(b, rsb, csb).t(),
            beta,
            MatMut::new(c, rsc, csc),
        )
    }
}

/// `C = alpha * A·B + beta * C` for operands that pack themselves: `a` is A (m×k) and `bt` is B
/// seen transposed (n×k), each asked for one micro-panel at a time, so an operand that exists only
/// implicitly (the convolution's unfolded image) is never stored whole. C as in [`sgemm`].
///
/// # Safety
/// `a` and `bt` must be packable over their whole m×k and n×k ranges; C as in [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_panels<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &impl Panels<T>,
    bt: &impl Panels<T>,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    // SAFETY: forwarded caller contract.
    unsafe {
        driver::gemm(
            T::kernel(),
            m,
            n,
            k,
            alpha,
            a,
            bt,
            beta,
            MatMut::new(c, rsc, csc),
        )
    }
}

/// Runs `f` with this thread's reusable, 64-byte aligned scratch of at least `len` `T`s, for
/// operands that stage a panel before handing it to the packer.
pub(crate) fn with_scratch<T, R>(len: usize, f: impl FnOnce(*mut T) -> R) -> R {
    buffer::with_buf(buffer::Slot::Operand, len, f)
}

/// Name of the micro-kernel in use for f32 (for benchmarks and logs).
pub fn sgemm_kernel_name() -> &'static str {
    select::f32_kernel().name
}

/// Name of the micro-kernel in use for f64 (for benchmarks and logs).
pub fn dgemm_kernel_name() -> &'static str {
    select::f64_kernel().name
}
