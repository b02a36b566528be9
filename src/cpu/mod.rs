//! CPU backend: thread pool, strided loops, SIMD kernels, GEMM, convolution and pooling.

pub mod conv;
pub mod gemm;
pub mod index;
pub mod loops;
pub mod num;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod rows;
pub mod select;
pub mod simd;
pub mod softmax;
pub mod sort;
pub mod threads;
