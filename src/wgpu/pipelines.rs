//! Compute pipelines, compiled once per (shader, variant) and cached for the process.

use super::engine::Engine;
use super::stats::{self, COUNTERS};
use super::template::{render, variant_key};
use crate::error::Result;
use std::sync::Arc;

/// A compiled pipeline and the layout of its bind group 0 (derived from the shader).
pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

impl Engine {
    /// The pipeline for `shader` (a file of `shaders/`) rendered with `vars`, compiling on first use.
    pub(crate) fn kernel(
        &self,
        shader: &'static str,
        vars: &[(&str, &str)],
    ) -> Result<Arc<Kernel>> {
        let key = (shader, variant_key(vars));
        let mut cache = self.pipelines.lock();
        if let Some(k) = cache.get(&key) {
            return Ok(k.clone());
        }
        let source = render(shader, vars)?;
        let kernel = Arc::new(self.compile(&format!("{shader} [{}]", key.1), &source)?);
        cache.insert(key, kernel.clone());
        Ok(kernel)
    }

    /// Compile WGSL `source` (entry point `main`); shader errors become RuntimeErrors naming `what`.
    pub(crate) fn compile(&self, what: &str, source: &str) -> Result<Kernel> {
        let what = format!("compiling shader {what}");
        let kernel = self.ctx.scoped(&what, || {
            let module = self
                .ctx
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&what),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
            let pipeline =
                self.ctx
                    .device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(&what),
                        layout: None,
                        module: &module,
                        entry_point: Some("main"),
                        compilation_options: Default::default(),
                        cache: None,
                    });
            let layout = pipeline.get_bind_group_layout(0);
            Kernel { pipeline, layout }
        })?;
        stats::add(&COUNTERS.pipelines_compiled, 1);
        Ok(kernel)
    }
}
