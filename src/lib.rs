//! rustgrad: tensors, a dynamic-tape autograd and CPU kernels, exposed to Python through PyO3.
//!
//! Layers, from the bottom: `dtype`/`shape`/`layout`/`storage` describe memory; `tensor` is the
//! handle users hold; `ops` are the differentiable operations (forward and backward together);
//! `autograd` records and replays them; `cpu` holds the kernels; `py` is the Python binding.

pub mod autograd;
pub mod cpu;
pub mod device;
pub mod dtype;
pub mod error;
pub mod kernels;
pub mod layout;
pub mod ops;
pub mod shape;
pub mod storage;
pub mod tensor;
#[cfg(feature = "wgpu")]
pub mod wgpu;

#[cfg(feature = "python")]
mod py;

pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use tensor::Tensor;
