//! CPU backend: thread pool, strided loops, SIMD kernels and GEMM.

pub mod gemm;
pub mod loops;
pub mod num;
pub mod simd;
pub mod threads;
