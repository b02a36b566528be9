//! Bindings of the wgpu engine's process-level API (`rustgrad.wgpu` wraps them in the shape of
//! `torch.cuda` / `torch.mps`). Without the `wgpu` feature every query reports no device.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Whether a wgpu adapter can be opened (opens it on first call; never raises).
#[pyfunction]
fn _wgpu_is_available() -> bool {
    #[cfg(feature = "wgpu")]
    {
        crate::wgpu::is_available()
    }
    #[cfg(not(feature = "wgpu"))]
    {
        false
    }
}

/// The adapter's description as a dict (name, backend, driver, ...); RuntimeError without one.
#[pyfunction]
fn _wgpu_adapter_info(py: Python<'_>) -> PyResult<Py<PyDict>> {
    crate::py::errors::guard("adapter_info", || {
        let d = PyDict::new(py);
        #[cfg(feature = "wgpu")]
        {
            let i = crate::wgpu::adapter_info()?;
            d.set_item("name", i.name)?;
            d.set_item("backend", i.backend)?;
            d.set_item("driver", i.driver)?;
            d.set_item("driver_info", i.driver_info)?;
            d.set_item("device_type", i.device_type)?;
            d.set_item("vendor", i.vendor)?;
            d.set_item("device", i.device)?;
            d.set_item("features", i.features)?;
            d.set_item(
                "max_storage_buffer_binding_size",
                i.max_storage_buffer_binding_size,
            )?;
            d.set_item("max_buffer_size", i.max_buffer_size)?;
            d.set_item(
                "max_compute_workgroups_per_dimension",
                i.max_compute_workgroups_per_dimension,
            )?;
            d.set_item(
                "max_storage_buffers_per_shader_stage",
                i.max_storage_buffers_per_shader_stage,
            )?;
            d.set_item("max_bindings_per_bind_group", i.max_bindings_per_bind_group)?;
        }
        #[cfg(not(feature = "wgpu"))]
        {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "rustgrad was built without the wgpu backend",
            ));
        }
        #[allow(unreachable_code)]
        Ok(d.unbind())
    })
}

/// Submit the open command batch and wait for the device to finish it.
#[pyfunction]
fn _wgpu_synchronize(py: Python<'_>) -> PyResult<()> {
    crate::py::errors::guard("synchronize", || {
        #[cfg(feature = "wgpu")]
        py.detach(crate::wgpu::synchronize)?;
        let _ = py;
        Ok(())
    })
}

/// Free the pool's cached buffers.
#[pyfunction]
fn _wgpu_empty_cache() -> PyResult<()> {
    crate::py::errors::guard("empty_cache", || {
        #[cfg(feature = "wgpu")]
        if crate::wgpu::is_available() {
            crate::wgpu::empty_cache()?;
        }
        Ok(())
    })
}

/// The engine counters as a dict (all zero before first use).
#[pyfunction]
fn _wgpu_stats(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    #[cfg(feature = "wgpu")]
    for (k, v) in crate::wgpu::stats().to_pairs() {
        d.set_item(k, v)?;
    }
    Ok(d.unbind())
}

/// Zero the cumulative counters (dispatches, submits, compiles, buffers, bytes moved).
#[pyfunction]
fn _wgpu_reset_stats() {
    #[cfg(feature = "wgpu")]
    crate::wgpu::reset_stats();
}

/// float32 uniform [0, 1) (`normal=False`) or standard normal samples of `shape`, drawn on the
/// device for the generator state (`seed`, `offset`).
#[pyfunction]
fn _wgpu_random(
    py: Python<'_>,
    shape: Vec<usize>,
    normal: bool,
    seed: u64,
    offset: u64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("rand", || {
        #[cfg(feature = "wgpu")]
        {
            use crate::wgpu::kernels::Dist;
            let dist = if normal { Dist::Normal } else { Dist::Uniform };
            let t = crate::kernels::gpu::random(&shape, dist, seed, offset)?;
            super::tensor::wrap(py, t)
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = (py, shape, normal, seed, offset);
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// Bernoulli(p) samples in `p`'s dtype and shape, drawn on `p`'s device.
#[pyfunction]
fn _wgpu_bernoulli(
    py: Python<'_>,
    p: PyRef<'_, super::tensor::PyTensor>,
    seed: u64,
    offset: u64,
) -> PyResult<Py<PyAny>> {
    crate::py::errors::guard("bernoulli", || {
        #[cfg(feature = "wgpu")]
        {
            let t = crate::kernels::gpu::bernoulli(&p.t, seed, offset)?;
            super::tensor::wrap(py, t)
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = (py, p, seed, offset);
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// Force one matmul/conv kernel variant ("small", "mid", "big", or "legacy" for the first
/// 64x64 matmul and the im2col convolution) or clear the choice (None). Returns the previous.
#[pyfunction]
#[pyo3(signature = (name=None))]
fn _wgpu_matmul_variant(name: Option<&str>) -> PyResult<Option<String>> {
    crate::py::errors::guard("matmul_variant", || {
        #[cfg(feature = "wgpu")]
        {
            Ok(crate::wgpu::kernels::gemm::force_variant(name)?)
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = name;
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// Force the exact u32-division variant of the implicit-GEMM convolutions (true) or choose by
/// size again (false); returns the previous setting. A test switch.
#[pyfunction]
fn _wgpu_conv_exact_division(force: bool) -> PyResult<bool> {
    crate::py::errors::guard("force_exact_conv_division", || {
        #[cfg(feature = "wgpu")]
        {
            Ok(crate::wgpu::kernels::conv_gemm::force_exact_division(force))
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = force;
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// The tile variant an `m x n` product over `batches` would use now ("legacy" when forced).
#[pyfunction]
fn _wgpu_matmul_tile(m: usize, n: usize, batches: usize) -> PyResult<String> {
    crate::py::errors::guard("matmul_tile", || {
        #[cfg(feature = "wgpu")]
        {
            Ok(crate::wgpu::kernels::chosen_tile(m, n, batches)
                .map_or("legacy".to_string(), |t| t.name.to_string()))
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = (m, n, batches);
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// Time the matmul variants on this adapter, keep and cache the fastest per size class.
/// Returns `(class, winner, {variant: seconds})` rows and the cache path (or None).
#[pyfunction]
#[pyo3(signature = (scale=1))]
fn _wgpu_tune_matmul(py: Python<'_>, scale: usize) -> PyResult<(Py<PyAny>, Option<String>)> {
    crate::py::errors::guard("tune_matmul", || {
        #[cfg(feature = "wgpu")]
        {
            use pyo3::IntoPyObject;
            let rows = py.detach(|| crate::wgpu::kernels::gemm::tune(scale))?;
            let path = crate::wgpu::kernels::gemm::cache_path().map(|p| p.display().to_string());
            Ok((rows.into_pyobject(py)?.into_any().unbind(), path))
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let _ = (py, scale);
            Err(crate::error::Error::runtime("rustgrad was built without the wgpu backend").into())
        }
    })
}

/// Forget the tuned matmul table for this process (the size heuristic applies again).
#[pyfunction]
fn _wgpu_clear_tuning() {
    #[cfg(feature = "wgpu")]
    crate::wgpu::kernels::gemm::clear_tuning();
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_wgpu_random, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_bernoulli, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_adapter_info, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_reset_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_matmul_variant, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_matmul_tile, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_conv_exact_division, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_tune_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(_wgpu_clear_tuning, m)?)?;
    Ok(())
}
