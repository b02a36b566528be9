//! Per-ISA instantiations of the generic kernels and run-time selection.
//!
//! Each ISA gets a module of thin `#[target_feature]` wrappers; the generic kernel
//! bodies are `#[inline(always)]`, so they are compiled (and auto-vectorised) for
//! that ISA inside the wrapper. We never rely on `-C target-cpu`.

use super::ops::{BinaryOp, UnaryOp};
use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set paths the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// x86_64 AVX-512F/VL (+AVX2, FMA).
    Avx512,
    /// x86_64 AVX2 + FMA.
    Avx2Fma,
    /// Baseline target features only (SSE2 on x86_64, NEON on aarch64).
    Portable,
}

impl Isa {
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2Fma, Isa::Portable];

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
            }
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    fn from_name(s: &str) -> Option<Isa> {
        match s.to_ascii_lowercase().as_str() {
            "avx512" => Some(Isa::Avx512),
            "avx2" | "avx2fma" => Some(Isa::Avx2Fma),
            "portable" | "scalar" | "generic" => Some(Isa::Portable),
            _ => None,
        }
    }
}

/// Function table for one ISA. All entries follow the safety contracts of the
/// same-named public functions in `simd`.
pub(super) struct Kernels {
    pub unary_f32: unsafe fn(UnaryOp, *const f32, *mut f32, usize),
    pub unary_f64: unsafe fn(UnaryOp, *const f64, *mut f64, usize),
    pub binary_f32: unsafe fn(BinaryOp, *const f32, *const f32, *mut f32, usize),
    pub binary_f64: unsafe fn(BinaryOp, *const f64, *const f64, *mut f64, usize),
    pub rhs_f32: unsafe fn(BinaryOp, *const f32, f32, *mut f32, usize),
    pub rhs_f64: unsafe fn(BinaryOp, *const f64, f64, *mut f64, usize),
    pub lhs_f32: unsafe fn(BinaryOp, f32, *const f32, *mut f32, usize),
    pub lhs_f64: unsafe fn(BinaryOp, f64, *const f64, *mut f64, usize),
    pub axpy_f32: unsafe fn(f32, *const f32, *mut f32, usize),
    pub axpy_f64: unsafe fn(f64, *const f64, *mut f64, usize),
    pub sum_f32: unsafe fn(*const f32, usize) -> f32,
    pub sum_f64: unsafe fn(*const f64, usize) -> f64,
    pub dot_f32: unsafe fn(*const f32, *const f32, usize) -> f32,
    pub dot_f64: unsafe fn(*const f64, *const f64, usize) -> f64,
    pub max_f32: unsafe fn(*const f32, usize) -> f32,
    pub max_f64: unsafe fn(*const f64, usize) -> f64,
    pub min_f32: unsafe fn(*const f32, usize) -> f32,
    pub min_f64: unsafe fn(*const f64, usize) -> f64,
    pub exp_shift_sum_f32: unsafe fn(*const f32, f32, *mut f32, usize) -> f32,
}

/// Defines `mod $name` with wrappers compiled under `$attr` and its `TABLE`.
/// `$fma`: whether `mul_add` may be used (must be implied by `$attr`).
macro_rules! isa_module {
    ($name:ident, $fma:expr $(, #[$attr:meta])*) => {
        pub(super) mod $name {
            use super::super::ops::{BinaryOp, UnaryOp};
            use super::super::{binary, reduce, unary};
            use super::Kernels;
            const F: bool = $fma;

            // SAFETY (every wrapper): the caller upholds the kernel's pointer
            // contract, and the table for this ISA is only handed out after
            // `Isa::is_supported` confirmed the target features at run time.
            $(#[$attr])*
            unsafe fn unary_f32(op: UnaryOp, x: *const f32, o: *mut f32, n: usize) {
                unsafe { unary::unary_f32::<F>(op, x, o, n) }
            }
            $(#[$attr])*
            unsafe fn unary_f64(op: UnaryOp, x: *const f64, o: *mut f64, n: usize) {
                unsafe { unary::unary_f64::<F>(op, x, o, n) }
            }
            $(#[$attr])*
            unsafe fn binary_f32(op: BinaryOp, a: *const f32, b: *const f32, o: *mut f32, n: usize) {
                unsafe { binary::binary(op, a, b, o, n) }
            }
            $(#[$attr])*
            unsafe fn binary_f64(op: BinaryOp, a: *const f64, b: *const f64, o: *mut f64, n: usize) {
                unsafe { binary::binary(op, a, b, o, n) }
            }
            $(#[$attr])*
            unsafe fn rhs_f32(op: BinaryOp, a: *const f32, s: f32, o: *mut f32, n: usize) {
                unsafe { binary::binary_rhs(op, a, s, o, n) }
            }
            $(#[$attr])*
            unsafe fn rhs_f64(op: BinaryOp, a: *const f64, s: f64, o: *mut f64, n: usize) {
                unsafe { binary::binary_rhs(op, a, s, o, n) }
            }
            $(#[$attr])*
            unsafe fn lhs_f32(op: BinaryOp, s: f32, b: *const f32, o: *mut f32, n: usize) {
                unsafe { binary::binary_lhs(op, s, b, o, n) }
            }
            $(#[$attr])*
            unsafe fn lhs_f64(op: BinaryOp, s: f64, b: *const f64, o: *mut f64, n: usize) {
                unsafe { binary::binary_lhs(op, s, b, o, n) }
            }
            $(#[$attr])*
            unsafe fn axpy_f32(alpha: f32, b: *const f32, a: *mut f32, n: usize) {
                unsafe { binary::axpy::<f32, F>(alpha, b, a, n) }
            }
            $(#[$attr])*
            unsafe fn axpy_f64(alpha: f64, b: *const f64, a: *mut f64, n: usize) {
                unsafe { binary::axpy::<f64, F>(alpha, b, a, n) }
            }
            $(#[$attr])*
            unsafe fn sum_f32(x: *const f32, n: usize) -> f32 {
                unsafe { reduce::sum_or_dot::<f32, false, F>(x, x, n) }
            }
            $(#[$attr])*
            unsafe fn sum_f64(x: *const f64, n: usize) -> f64 {
                unsafe { reduce::sum_or_dot::<f64, false, F>(x, x, n) }
            }
            $(#[$attr])*
            unsafe fn dot_f32(a: *const f32, b: *const f32, n: usize) -> f32 {
                unsafe { reduce::sum_or_dot::<f32, true, F>(a, b, n) }
            }
            $(#[$attr])*
            unsafe fn dot_f64(a: *const f64, b: *const f64, n: usize) -> f64 {
                unsafe { reduce::sum_or_dot::<f64, true, F>(a, b, n) }
            }
            $(#[$attr])*
            unsafe fn max_f32(x: *const f32, n: usize) -> f32 {
                unsafe { reduce::max_min::<f32, true>(x, n) }
            }
            $(#[$attr])*
            unsafe fn max_f64(x: *const f64, n: usize) -> f64 {
                unsafe { reduce::max_min::<f64, true>(x, n) }
            }
            $(#[$attr])*
            unsafe fn min_f32(x: *const f32, n: usize) -> f32 {
                unsafe { reduce::max_min::<f32, false>(x, n) }
            }
            $(#[$attr])*
            unsafe fn min_f64(x: *const f64, n: usize) -> f64 {
                unsafe { reduce::max_min::<f64, false>(x, n) }
            }

            $(#[$attr])*
            unsafe fn exp_shift_sum_f32(x: *const f32, s: f32, o: *mut f32, n: usize) -> f32 {
                unsafe { unary::exp_shift_sum_f32::<F>(x, s, o, n) }
            }

            pub(in super::super) static TABLE: Kernels = Kernels {
                unary_f32,
                unary_f64,
                binary_f32,
                binary_f64,
                rhs_f32,
                rhs_f64,
                lhs_f32,
                lhs_f64,
                axpy_f32,
                axpy_f64,
                sum_f32,
                sum_f64,
                dot_f32,
                dot_f64,
                max_f32,
                max_f64,
                min_f32,
                min_f64,
                exp_shift_sum_f32,
            };
        }
    };
}

#[cfg(target_arch = "x86_64")]
isa_module!(avx512, true, #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]);
#[cfg(target_arch = "x86_64")]
isa_module!(avx2, true, #[target_feature(enable = "avx2,fma")]);
// aarch64 always has NEON and FMA, so the portable build vectorises there too.
isa_module!(portable, cfg!(target_arch = "aarch64"));

/// The table for `isa`, or None when this CPU cannot run it (tests force paths with it).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn table_for(isa: Isa) -> Option<&'static Kernels> {
    isa.is_supported().then(|| table_unchecked(isa))
}

fn table_unchecked(isa: Isa) -> &'static Kernels {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => &avx512::TABLE,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => &avx2::TABLE,
        #[allow(unreachable_patterns)]
        _ => &portable::TABLE,
    }
}

/// 0 = not yet detected, else 1 + index into Isa::ALL.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The path used by the public functions: the best supported one, unless the
/// `RUSTGRAD_SIMD` environment variable (avx512 / avx2 / portable) names another
/// supported path (handy for benchmarking). Detected once, then cached.
pub fn active_isa() -> Isa {
    let v = ACTIVE.load(Ordering::Relaxed);
    if v != 0 {
        return Isa::ALL[v as usize - 1];
    }
    let forced = std::env::var("RUSTGRAD_SIMD")
        .ok()
        .and_then(|s| Isa::from_name(&s))
        .filter(|isa| isa.is_supported());
    let isa = forced.unwrap_or_else(|| {
        *Isa::ALL
            .iter()
            .find(|isa| isa.is_supported())
            .unwrap_or(&Isa::Portable)
    });
    let idx = Isa::ALL.iter().position(|&i| i == isa).unwrap_or(2);
    // Racing initialisers compute the same value, so a plain store is fine.
    ACTIVE.store(idx as u8 + 1, Ordering::Relaxed);
    isa
}

#[inline]
pub(super) fn active() -> &'static Kernels {
    // active_isa() only ever returns a supported ISA.
    table_unchecked(active_isa())
}
