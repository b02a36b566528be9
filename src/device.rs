//! Where a tensor's storage lives. Only the CPU exists today; the wgpu backend adds a variant and
//! every op dispatches on this enum in one place per op family.

use crate::error::{Error, Result};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
}

impl Device {
    /// Parse PyTorch device strings ("cpu", "cpu:0"); others name a device that is not present.
    pub fn parse(s: &str) -> Result<Device> {
        let base = s.split(':').next().unwrap_or("");
        match base {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "mps" | "xpu" | "wgpu" | "gpu" => Err(Error::runtime(format!(
                "Device '{}' is not available: rustgrad was built with the CPU backend only",
                s
            ))),
            _ => Err(Error::runtime(format!(
                "Expected one of cpu, cuda, mps, wgpu device type at start of device string: {}",
                s
            ))),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
        }
    }
}
