//! CPU backend: thread pool, strided loops, SIMD kernels and GEMM.

pub mod gemm;
pub mod index;
pub mod loops;
pub mod num;
pub mod rows;
pub mod select;
pub mod simd;
pub mod sort;
pub mod threads;
