//! CPU backend: thread pool, strided loops, SIMD kernels and GEMM, and the CPU side of each
//! kernel family's dispatch point. Kernels get memory only through [`view`]'s typed views.

pub mod convert;
pub mod elementwise;
pub mod fill;
pub mod gemm;
pub mod loops;
pub mod matmul;
pub mod num;
pub mod simd;
pub mod threads;
pub mod view;
