// Average pooling forward (fixed or adaptive windows): one invocation per output (plane, oy, ox),
// row-major over [planes, OH, OW] (numel = all of them), sums its clipped window row by row (the
// CPU kernel's order) and divides by the window's divisor (pool_window.wgsl, avg_window).
// Geometry words: pool_window.wgsl. Bindings: 0 params, 1 src, 2 dst.

//!include strided.wgsl
//!include geometry.wgsl
//!include pool_window.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let h = geom(0u);
    let w = geom(1u);
    let oh = geom(2u);
    let ow = geom(3u);
    let ox = i % ow;
    let oy = (i / ow) % oh;
    let plane = i / (ow * oh);
    let base = geom_i(14u) + i32(plane * h * w);
    let win = avg_window(oy, ox);
    var acc = 0.0;
    for (var iy = win.bounds.x; iy < win.bounds.y; iy = iy + 1) {
        for (var ix = win.bounds.z; ix < win.bounds.w; ix = ix + 1) {
            acc = acc + src[base + iy * i32(w) + ix];
        }
    }
    dst[i] = acc / win.divisor;
}
