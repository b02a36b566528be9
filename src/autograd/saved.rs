//! Tensors saved for backward, with the version check that catches in-place modification.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub struct SavedTensor {
    t: Tensor,
    version: u64,
}

impl SavedTensor {
    /// Save `t` as it is now. Outputs are saved detached so a node never owns itself through its
    /// own output (a reference cycle); backward rules that need the graph through an output
    /// recompute it from inputs when building a higher-order graph.
    pub fn new(t: &Tensor) -> SavedTensor {
        let v = t.version();
        SavedTensor {
            t: t.clone(),
            version: v,
        }
    }

    pub fn output(t: &Tensor) -> SavedTensor {
        SavedTensor {
            t: t.detach(),
            version: t.version(),
        }
    }

    pub fn get(&self) -> Result<Tensor> {
        let now = self.t.version();
        if now != self.version {
            return Err(Error::runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: [{} {}], which is output 0 of {}, is at version {}; expected version {} instead. Hint: the backtrace further above shows the operation that failed to compute its gradient.",
                self.t.dtype().legacy_name(),
                crate::shape::fmt_shape(&self.t.shape()),
                self.t.grad_fn().map(|(n, _)| n.name()).unwrap_or("a leaf"),
                now,
                self.version
            )));
        }
        Ok(self.t.clone())
    }
}
