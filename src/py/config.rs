//! Build and run-time facts for `rustgrad.show_config()` / `python -m rustgrad`: the first thing a
//! bug report needs is what was compiled in and what this CPU offered at run time.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// CPU features the kernels care about, as detected on this machine (not as compiled: wheels are
/// built for the baseline ISA and pick their path at run time).
fn cpu_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(
                if std::is_x86_feature_detected!($f) {
                    found.push($f);
                }
            )*};
        }
        probe!(
            "sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512vl", "avx512bw", "avx512dq"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon");
        }
    }
    found
}

#[pyfunction]
fn _build_info(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    d.set_item(
        "profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    d.set_item("arch", std::env::consts::ARCH)?;
    d.set_item("os", std::env::consts::OS)?;
    d.set_item("wgpu_compiled", cfg!(feature = "wgpu"))?;
    d.set_item("simd_path", format!("{:?}", crate::cpu::simd::active_isa()))?;
    d.set_item("cpu_features", cpu_features())?;
    Ok(d.unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_build_info, m)?)
}
