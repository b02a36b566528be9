//! The process's one wgpu instance/adapter/device/queue, chosen from the environment, and the
//! error plumbing that turns wgpu errors into `crate::Error` instead of panics.
//!
//! `RUSTGRAD_WGPU_BACKEND=vulkan|metal|dx12|gl` restricts the backends tried;
//! `RUSTGRAD_WGPU_ADAPTER=<substring>` picks the first adapter whose name contains it
//! (case-insensitive). Otherwise the best adapter wins: discrete > integrated > virtual > other >
//! CPU, native APIs before GL.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::sync::Arc;

/// What `get_device_name()` and friends report about the adapter in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    pub name: String,
    /// "vulkan", "metal", "dx12" or "gl".
    pub backend: String,
    pub driver: String,
    pub driver_info: String,
    /// "discrete", "integrated", "virtual", "cpu" or "other".
    pub device_type: String,
    pub vendor: u32,
    pub device: u32,
    /// Features granted on the device, among those the engine asks for (`shader-f16`, `subgroup`).
    pub features: Vec<&'static str>,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers one kernel may bind (sizes the optimizer group kernel's batches).
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_bindings_per_bind_group: u32,
}

/// Features the engine uses when present (f16 kernels, subgroup reductions); never required.
const WANTED_FEATURES: &[(wgpu::Features, &str)] = &[
    (wgpu::Features::SHADER_F16, "shader-f16"),
    (wgpu::Features::SUBGROUP, "subgroup"),
];

/// Which adapter to open.
#[derive(Clone, Debug)]
pub struct Options {
    pub backends: wgpu::Backends,
    /// Lower-cased name substring.
    pub adapter: Option<String>,
}

impl Options {
    /// Read `RUSTGRAD_WGPU_BACKEND` and `RUSTGRAD_WGPU_ADAPTER`.
    pub fn from_env() -> Result<Options> {
        let backends = match std::env::var("RUSTGRAD_WGPU_BACKEND") {
            Ok(s) if !s.trim().is_empty() => parse_backends(&s)?,
            _ => default_backends(),
        };
        let adapter = std::env::var("RUSTGRAD_WGPU_ADAPTER")
            .ok()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        Ok(Options { backends, adapter })
    }
}

fn default_backends() -> wgpu::Backends {
    wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12 | wgpu::Backends::GL
}

/// Parse a comma-separated list of `vulkan`, `metal`, `dx12`, `gl`.
pub fn parse_backends(s: &str) -> Result<wgpu::Backends> {
    let mut b = wgpu::Backends::empty();
    for part in s.split(',') {
        b |= match part.trim().to_lowercase().as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            other => {
                return Err(Error::value(format!(
                    "RUSTGRAD_WGPU_BACKEND: unknown backend '{other}' (expected vulkan, metal, dx12 or gl)"
                )))
            }
        };
    }
    Ok(b)
}

fn device_type_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete",
        wgpu::DeviceType::IntegratedGpu => "integrated",
        wgpu::DeviceType::VirtualGpu => "virtual",
        wgpu::DeviceType::Cpu => "cpu",
        wgpu::DeviceType::Other => "other",
    }
}

/// Higher is better.
fn adapter_rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 1,
        wgpu::DeviceType::Cpu => 0,
    };
    let api = u8::from(info.backend != wgpu::Backend::Gl);
    (ty, api)
}

fn open_instance(backends: wgpu::Backends) -> (wgpu::Instance, Vec<wgpu::Adapter>) {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(backends));
    (instance, adapters)
}

fn describe(a: &wgpu::Adapter) -> String {
    let i = a.get_info();
    format!("{} ({})", i.name, i.backend.to_str())
}

/// The best adapter with compute shaders that matches the name filter.
fn pick(adapters: Vec<wgpu::Adapter>, opts: &Options) -> Option<wgpu::Adapter> {
    adapters
        .into_iter()
        .filter(|a| {
            a.get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .filter(|a| match &opts.adapter {
            Some(sub) => a.get_info().name.to_lowercase().contains(sub),
            None => true,
        })
        .max_by_key(|a| adapter_rank(&a.get_info()))
}

/// Device, queue and what we learned opening them.
pub(crate) struct Context {
    // Kept so the adapter's instance outlives everything made from it.
    _instance: wgpu::Instance,
    _adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: AdapterInfo,
    pub limits: wgpu::Limits,
    /// Errors no scope caught (the default handler would have panicked): reported at the next check.
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Set by the device-lost callback.
    lost: Arc<Mutex<Option<String>>>,
}

impl Context {
    /// Open the adapter `opts` selects. Never panics; no adapter is "no wgpu adapter found".
    pub fn create(opts: &Options) -> Result<Context> {
        // GL is only probed when no native API offers a usable adapter (or when it is the only
        // backend asked for): probing it on a headless machine is slow and makes EGL print
        // complaints to stderr.
        let native = opts.backends - wgpu::Backends::GL;
        let mut seen = Vec::new();
        let mut found = None;
        for backends in [native, opts.backends] {
            if backends.is_empty() || found.is_some() {
                continue;
            }
            let (instance, adapters) = open_instance(backends);
            seen = adapters.iter().map(describe).collect();
            found = pick(adapters, opts).map(|a| (instance, a));
            if backends == opts.backends {
                break;
            }
        }
        let Some((instance, adapter)) = found else {
            let wanted = match &opts.adapter {
                Some(s) => format!(" whose name contains '{s}' (RUSTGRAD_WGPU_ADAPTER)"),
                None => String::new(),
            };
            let seen = if seen.is_empty() {
                "none".to_owned()
            } else {
                seen.join(", ")
            };
            return Err(Error::runtime(format!(
                "no wgpu adapter found{wanted} with compute shaders on backends {:?}; adapters seen: {seen}",
                opts.backends
            )));
        };

        let limits = adapter.limits();
        let have = adapter.features();
        let mut features = wgpu::Features::empty();
        for (f, _) in WANTED_FEATURES {
            if have.contains(*f) {
                features |= *f;
            }
        }
        let open = |features: wgpu::Features| {
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("rustgrad"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            }))
        };
        // A driver that advertises a feature and then refuses it should not cost us the device.
        let (device, queue) = match open(features) {
            Err(_) if !features.is_empty() => {
                features = wgpu::Features::empty();
                open(features)
            }
            r => r,
        }
        .map_err(|e| {
            Error::runtime(format!("wgpu: could not open a device on the adapter: {e}"))
        })?;

        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().push(e.to_string())
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *lost_sink.lock() = Some(format!("{reason:?}: {msg}"));
        });

        let ai = adapter.get_info();
        let granted = device.features();
        let info = AdapterInfo {
            name: ai.name.clone(),
            backend: ai.backend.to_str().to_owned(),
            driver: ai.driver.clone(),
            driver_info: ai.driver_info.clone(),
            device_type: device_type_name(ai.device_type).to_owned(),
            vendor: ai.vendor,
            device: ai.device,
            features: WANTED_FEATURES
                .iter()
                .filter(|(f, _)| granted.contains(*f))
                .map(|(_, n)| *n)
                .collect(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            max_bindings_per_bind_group: limits.max_bindings_per_bind_group,
        };
        Ok(Context {
            _instance: instance,
            _adapter: adapter,
            device,
            queue,
            info,
            limits,
            uncaptured,
            lost,
        })
    }

    /// Run `f` inside validation, out-of-memory and internal error scopes and return what they caught
    /// (the innermost, validation, first). Scopes are per thread, so concurrent callers do not mix.
    pub fn capture<T>(&self, f: impl FnOnce() -> T) -> (T, Option<wgpu::Error>) {
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        let i = pollster::block_on(internal.pop());
        (out, v.or(o).or(i))
    }

    /// [`capture`](Self::capture), with a caught error becoming a RuntimeError (OutOfMemory for
    /// out-of-memory) that names `what`.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check(what)?;
        match self.capture(f) {
            (out, None) => Ok(out),
            (_, Some(e)) => Err(wgpu_error(what, &e)),
        }
    }

    /// Fail if the device was lost or an uncaught wgpu error was reported since the last check.
    pub fn check(&self, what: &str) -> Result<()> {
        if let Some(reason) = self.lost.lock().clone() {
            return Err(Error::runtime(format!(
                "wgpu: the device was lost ({reason}); {what} cannot run"
            )));
        }
        let mut errs = self.uncaptured.lock();
        if !errs.is_empty() {
            let all = std::mem::take(&mut *errs).join("\n");
            return Err(Error::runtime(format!(
                "wgpu: error reported outside an error scope (noticed in {what}): {all}"
            )));
        }
        Ok(())
    }
}

/// A wgpu error as the crate's error, naming the op.
pub(crate) fn wgpu_error(what: &str, e: &wgpu::Error) -> Error {
    match e {
        wgpu::Error::OutOfMemory { .. } => Error::oom(format!("wgpu out of memory in {what}: {e}")),
        _ => Error::runtime(format!("wgpu error in {what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse() {
        assert_eq!(parse_backends("vulkan").unwrap(), wgpu::Backends::VULKAN);
        assert_eq!(
            parse_backends("Metal, dx12").unwrap(),
            wgpu::Backends::METAL | wgpu::Backends::DX12
        );
        assert_eq!(parse_backends("gl").unwrap(), wgpu::Backends::GL);
        let e = parse_backends("cuda").unwrap_err();
        assert!(e.msg.contains("unknown backend 'cuda'"), "{}", e.msg);
    }

    #[test]
    fn a_filter_matching_nothing_is_a_clean_error() {
        let opts = Options {
            backends: default_backends(),
            adapter: Some("no-such-adapter-xyz".into()),
        };
        let e = Context::create(&opts)
            .err()
            .expect("no adapter should match");
        assert!(e.msg.contains("no wgpu adapter found"), "{}", e.msg);
        assert!(e.msg.contains("no-such-adapter-xyz"), "{}", e.msg);
    }
}
