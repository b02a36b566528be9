// The geometry block of the window kernels (conv_unfold/conv_fold and the pool_* shaders): integer
// words that start after the three view slots of the parameters buffer (README.md, "Geometry
// block"). Each shader's header lists what its words mean. Include after strided.wgsl.

const GEOM0: u32 = 48u;

fn geom(k: u32) -> u32 {
    return params[GEOM0 + k];
}

fn geom_i(k: u32) -> i32 {
    return bitcast<i32>(params[GEOM0 + k]);
}
