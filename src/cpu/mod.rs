//! CPU backend: thread pool, strided loops, SIMD kernels and GEMM.

pub mod gemm;
pub mod loops;
pub mod num;
pub mod optim;
pub mod reduce;
pub(crate) mod rows;
pub mod simd;
pub mod softmax;
pub mod threads;
