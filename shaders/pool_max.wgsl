// Max pooling forward: one invocation per output (plane, oy, ox), row-major over
// [planes, OH, OW] (numel = all of them), writes the maximum and its flat index iy * W + ix in
// the plane as int64 (two u32 words, low first). Fixed windows follow the CPU kernel (the first
// tap in the input starts the maximum; a larger value or a NaN replaces it, and a NaN ends its
// window row); adaptive windows follow PyTorch's (start at the window's first element, a larger
// value or any NaN replaces it).
// Geometry words: pool_window.wgsl. Bindings: 0 params, 1 src, 2 dst values, 3 dst indices.

//!include strided.wgsl
//!include math.wgsl
//!include geometry.wgsl
//!include pool_window.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<vec2<u32>>;

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
    var best = neg_inf_f32();
    var found = false;
    var at = 0u;
    if (adaptive()) {
        let y0 = adaptive_start(oy, h, oh);
        let y1 = adaptive_end(oy, h, oh);
        let x0 = adaptive_start(ox, w, ow);
        let x1 = adaptive_end(ox, w, ow);
        at = y0 * w + x0;
        for (var iy = y0; iy < y1; iy = iy + 1u) {
            for (var ix = x0; ix < x1; ix = ix + 1u) {
                let j = iy * w + ix;
                let v = src[base + i32(j)];
                if (is_nan_f32(v) || (!is_nan_f32(best) && v > best)) {
                    best = v;
                    at = j;
                }
            }
        }
    } else {
        let kh = geom(4u);
        let kw = geom(5u);
        for (var ki = 0u; ki < kh; ki = ki + 1u) {
            let iy = i32(oy * geom(6u) + ki * geom(10u)) - geom_i(8u);
            if (iy < 0 || iy >= i32(h)) {
                continue;
            }
            for (var kj = 0u; kj < kw; kj = kj + 1u) {
                let ix = i32(ox * geom(7u) + kj * geom(11u)) - geom_i(9u);
                if (ix < 0 || ix >= i32(w)) {
                    continue;
                }
                let j = u32(iy) * w + u32(ix);
                let v = src[base + i32(j)];
                if (!found || is_nan_f32(v) || (!is_nan_f32(best) && v > best)) {
                    best = v;
                    at = j;
                    found = true;
                    if (is_nan_f32(v)) {
                        break;
                    }
                }
            }
        }
    }
    dst[i] = best;
    indices[i] = vec2<u32>(at, 0u);
}
