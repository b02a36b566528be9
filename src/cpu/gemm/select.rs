//! Run-time choice of micro-kernel and blocking sizes, made once per type.
//!
//! Blocking targets (Zen 4/5: 32-48 KB L1d, 1 MB L2 per core, shared L3):
//! a KC×NR micro-panel of B stays in L1 while the MR loop sweeps it, an
//! MC×KC block of A fills about a quarter of L2, and the KC×NC block of B
//! lives in L3.

use std::sync::OnceLock;

use super::blocking::Kernel;
use super::kernel_generic;

fn generic<T: super::Element>() -> Kernel<T> {
    Kernel {
        name: "generic-4x8",
        mr: kernel_generic::MR,
        nr: kernel_generic::NR,
        mc: 64,
        kc: 256,
        nc: 1024,
        func: kernel_generic::kernel::<T>,
    }
}

/// Every f32 kernel this CPU can run, best first (the generic one last).
// Without x86_64 the cfg'd block vanishes and clippy sees init-then-push.
#[allow(clippy::vec_init_then_push)]
pub(super) fn f32_candidates() -> Vec<Kernel<f32>> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use super::{kernel_avx2::f32k as avx2, kernel_avx512::f32k as avx512};
        if std::arch::is_x86_feature_detected!("avx512f") {
            // 32 KB B micro-panel, 192 KB A block, 4 MB B block (KC and MC
            // picked by sweeping 1024² on Zen 4; smaller KC lost more to
            // extra C traffic than it gained in L1 hits).
            v.push(Kernel {
                name: "avx512-12x32",
                mr: avx512::MR,
                nr: avx512::NR,
                mc: 16 * avx512::MR,
                kc: 256,
                nc: 4096,
                func: avx512::kernel,
            });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            v.push(Kernel {
                name: "avx2-6x16",
                mr: avx2::MR,
                nr: avx2::NR,
                mc: 24 * avx2::MR,
                kc: 256,
                nc: 4096,
                func: avx2::kernel,
            });
        }
    }
    v.push(generic());
    v
}

/// Every f64 kernel this CPU can run, best first (the generic one last).
// Without x86_64 the cfg'd block vanishes and clippy sees init-then-push.
#[allow(clippy::vec_init_then_push)]
pub(super) fn f64_candidates() -> Vec<Kernel<f64>> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use super::{kernel_avx2::f64k as avx2, kernel_avx512::f64k as avx512};
        if std::arch::is_x86_feature_detected!("avx512f") {
            // Same byte footprints as f32 with half the elements per vector.
            v.push(Kernel {
                name: "avx512-12x16",
                mr: avx512::MR,
                nr: avx512::NR,
                mc: 10 * avx512::MR,
                kc: 256,
                nc: 2048,
                func: avx512::kernel,
            });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            v.push(Kernel {
                name: "avx2-6x8",
                mr: avx2::MR,
                nr: avx2::NR,
                mc: 12 * avx2::MR,
                kc: 256,
                nc: 2048,
                func: avx2::kernel,
            });
        }
    }
    v.push(generic());
    v
}

/// `RUSTGRAD_GEMM_BLOCKING=mc,kc,nc` replaces the chosen kernel's cache blocking (a tuning knob
/// for benchmarking new CPUs; values are rounded to whole micro-tiles, malformed values ignored).
fn with_env_blocking<T>(mut k: Kernel<T>) -> Kernel<T> {
    let Ok(spec) = std::env::var("RUSTGRAD_GEMM_BLOCKING") else {
        return k;
    };
    let v: Vec<usize> = spec
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if let [mc, kc, nc] = v[..] {
        if mc > 0 && kc > 0 && nc > 0 {
            k.mc = mc.div_ceil(k.mr) * k.mr;
            k.kc = kc;
            k.nc = nc.div_ceil(k.nr) * k.nr;
        }
    }
    k
}

pub(super) fn f32_kernel() -> &'static Kernel<f32> {
    static K: OnceLock<Kernel<f32>> = OnceLock::new();
    K.get_or_init(|| with_env_blocking(f32_candidates().swap_remove(0)))
}

pub(super) fn f64_kernel() -> &'static Kernel<f64> {
    static K: OnceLock<Kernel<f64>> = OnceLock::new();
    K.get_or_init(|| with_env_blocking(f64_candidates().swap_remove(0)))
}
