//! Bindings for the CPU random-stream transformations (`src/cpu/random.rs`). Each takes a
//! contiguous 1-D NumPy buffer that `python/rustgrad/_random.py` filled from its mt19937 stream
//! and rewrites it in place (or fills an output), so no copy crosses the boundary.

use super::tensor::maybe_nogil;
use crate::cpu::random as k;
use numpy::{PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn slice_mut<'a, T: numpy::Element>(a: &'a mut PyReadwriteArray1<'_, T>) -> PyResult<&'a mut [T]> {
    a.as_slice_mut()
        .map_err(|_| PyValueError::new_err("expected a contiguous 1-D array"))
}

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err("expected a contiguous 1-D array"))
}

/// Float32 Box-Muller over whole blocks of 16 (PyTorch's AVX2 `normal_fill_16`), in place.
#[pyfunction]
fn _rng_normal_fill_f32(
    py: Python<'_>,
    mut data: PyReadwriteArray1<'_, f32>,
    mean: f32,
    std: f32,
) -> PyResult<()> {
    let d = slice_mut(&mut data)?;
    maybe_nogil(py, d.len(), || k::normal_fill_f32(d, mean, std));
    Ok(())
}

/// Float64 Box-Muller over whole blocks of 16 (PyTorch's scalar `normal_fill_16`), in place.
#[pyfunction]
fn _rng_normal_fill_f64(
    py: Python<'_>,
    mut data: PyReadwriteArray1<'_, f64>,
    mean: f64,
    std: f64,
) -> PyResult<()> {
    let d = slice_mut(&mut data)?;
    maybe_nogil(py, d.len(), || k::normal_fill_f64(d, mean, std));
    Ok(())
}

/// Uniform pairs to `(r cos t, r sin t)` (PyTorch's `normal_distribution<double>`), in place.
#[pyfunction]
fn _rng_box_muller_pairs(mut data: PyReadwriteArray1<'_, f64>) -> PyResult<()> {
    k::box_muller_pairs_f64(slice_mut(&mut data)?);
    Ok(())
}

/// `x = fma(x, scale, shift)` on a float32 or float64 buffer, in place.
#[pyfunction]
fn _rng_fused_affine(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    scale: f64,
    shift: f64,
) -> PyResult<()> {
    if let Ok(mut a) = data.extract::<PyReadwriteArray1<'_, f32>>() {
        let d = slice_mut(&mut a)?;
        maybe_nogil(py, d.len(), || {
            k::fused_affine_f32(d, scale as f32, shift as f32)
        });
    } else {
        let mut a = data.extract::<PyReadwriteArray1<'_, f64>>()?;
        let d = slice_mut(&mut a)?;
        maybe_nogil(py, d.len(), || k::fused_affine_f64(d, scale, shift));
    }
    Ok(())
}

/// Uniforms to exponential samples (PyTorch's `exponential_distribution<double>`), in place.
#[pyfunction]
fn _rng_exponential(
    py: Python<'_>,
    mut data: PyReadwriteArray1<'_, f64>,
    lambd: f64,
) -> PyResult<()> {
    let d = slice_mut(&mut data)?;
    maybe_nogil(py, d.len(), || k::exponential_f64(d, lambd));
    Ok(())
}

/// PyTorch's small-`n` `randperm` from `n - 1` raw 32-bit draws, into `out` (length `n`).
#[pyfunction]
fn _rng_randperm_swaps(
    py: Python<'_>,
    draws: PyReadonlyArray1<'_, u32>,
    mut out: PyReadwriteArray1<'_, i64>,
) -> PyResult<()> {
    let d = slice(&draws)?;
    let o = slice_mut(&mut out)?;
    maybe_nogil(py, o.len(), || k::randperm_swaps(d, o));
    Ok(())
}

/// PyTorch's large-`n` `randperm` (inside-out shuffle) from `n` 64-bit draws, into `out`.
#[pyfunction]
fn _rng_randperm_inside_out(
    py: Python<'_>,
    draws: PyReadonlyArray1<'_, u64>,
    mut out: PyReadwriteArray1<'_, i64>,
) -> PyResult<()> {
    let d = slice(&draws)?;
    let o = slice_mut(&mut out)?;
    maybe_nogil(py, o.len(), || k::randperm_inside_out(d, o));
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_rng_normal_fill_f32, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_normal_fill_f64, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_box_muller_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_fused_affine, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_exponential, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_randperm_swaps, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_randperm_inside_out, m)?)?;
    Ok(())
}
