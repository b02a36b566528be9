//! CPU backend: thread pool, strided loops, SIMD kernels, GEMM, and the CPU side of each kernel
//! family's dispatch point (elementwise, convert, fill, matmul, conv, pool, index, reduce,
//! softmax, optim). The elementwise/convert/fill/matmul kernels get memory through [`view`]'s
//! typed views; the others still take raw row pointers from [`rows`].

pub mod conv;
pub mod convert;
pub mod cross_entropy;
pub mod elementwise;
pub mod fill;
pub mod gemm;
pub mod index;
pub mod loops;
pub mod matmul;
pub mod num;
pub mod optim;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod rows;
pub mod select;
pub mod simd;
pub mod softmax;
pub mod sort;
mod team;
pub mod threads;
pub mod view;
