//! Where a tensor's storage lives: the CPU or the wgpu GPU engine. Every op dispatches on the
//! storage's device in one place per kernel family (`crate::kernels`).

use crate::error::{Error, Result};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// The wgpu engine's adapter (only ordinal 0 exists: one device per process).
    Wgpu(u32),
}

impl Device {
    /// Parse PyTorch device strings ("cpu", "cpu:0", "wgpu", "wgpu:0"); CUDA/MPS/XPU name a
    /// backend rustgrad does not have.
    pub fn parse(s: &str) -> Result<Device> {
        let mut parts = s.splitn(2, ':');
        let base = parts.next().unwrap_or("");
        let index = parts.next();
        match base {
            "cpu" => Ok(Device::Cpu),
            "wgpu" => {
                let i = match index {
                    None => 0,
                    Some(i) => i
                        .parse::<u32>()
                        .map_err(|_| Error::runtime(format!("Invalid device string: '{s}'")))?,
                };
                if i != 0 {
                    return Err(Error::runtime(format!(
                        "Invalid device ordinal {i} for wgpu: rustgrad opens one wgpu adapter \
                         (device_count() == 1)"
                    )));
                }
                Ok(Device::Wgpu(i))
            }
            "cuda" | "mps" | "xpu" | "gpu" => Err(Error::runtime(format!(
                "Device '{}' is not available: rustgrad's accelerator backend is 'wgpu' \
                 (use device='wgpu')",
                s
            ))),
            _ => Err(Error::runtime(format!(
                "Expected one of cpu, cuda, mps, wgpu device type at start of device string: {}",
                s
            ))),
        }
    }

    /// The device type without an index ("cpu", "wgpu"), like `torch.device.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Wgpu(_) => "wgpu",
        }
    }

    /// The index a tensor on this device reports (`None` for the CPU, as in PyTorch).
    pub fn index(&self) -> Option<i64> {
        match self {
            Device::Cpu => None,
            Device::Wgpu(i) => Some(*i as i64),
        }
    }

    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// "cpu" or "wgpu:0": how PyTorch names devices in its messages.
    pub fn full_name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Wgpu(i) => format!("wgpu:{i}"),
        }
    }
}

/// The device type ("cpu", "wgpu"); see [`Device::full_name`] for "wgpu:0".
impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}
