//! CPU backend: thread pool, strided loops, SIMD kernels, GEMM, convolution and pooling.

pub mod conv;
pub mod gemm;
pub mod loops;
pub mod num;
pub mod pool;
pub mod simd;
pub mod threads;
