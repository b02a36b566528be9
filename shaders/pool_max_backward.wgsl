// Max pooling backward in gather form: one invocation per input element (plane, iy, ix),
// row-major over [planes, H, W] (numel = all of them), adds the gradients of the outputs whose
// windows hold it and whose index names it, in ascending output order (the order in which the
// CPU kernel scatters them), and writes the total once. No atomics.
// Geometry words: pool_window.wgsl. Bindings: 0 params, 1 grad_out, 2 int64 indices, 3 grad_in.

//!include strided.wgsl
//!include geometry.wgsl
//!include pool_window.wgsl

@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> grad_in: array<f32>;

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
    let ix = i % w;
    let iy = (i / w) % h;
    let plane = i / (w * h);
    let me = vec2<u32>(iy * w + ix, 0u);
    let gbase = geom_i(14u) + i32(plane * oh * ow);
    let ibase = geom_i(15u) + i32(plane * oh * ow);
    var acc = 0.0;
    if (adaptive()) {
        let oy1 = adaptive_last(iy, h, oh);
        let ox1 = adaptive_last(ix, w, ow);
        for (var oy = adaptive_first(iy, h, oh); oy < oy1; oy = oy + 1u) {
            for (var ox = adaptive_first(ix, w, ow); ox < ox1; ox = ox + 1u) {
                let o = i32(oy * ow + ox);
                if (all(indices[ibase + o] == me)) {
                    acc = acc + grad_out[gbase + o];
                }
            }
        }
    } else {
        let kh = geom_i(4u);
        let kw = geom_i(5u);
        let sh = geom_i(6u);
        let sw = geom_i(7u);
        // Descending taps visit ascending outputs.
        for (var ki = kh - 1; ki >= 0; ki = ki - 1) {
            let ty = i32(iy) + geom_i(8u) - ki * geom_i(10u);
            if (ty < 0 || ty % sh != 0 || ty / sh >= i32(oh)) {
                continue;
            }
            for (var kj = kw - 1; kj >= 0; kj = kj - 1) {
                let tx = i32(ix) + geom_i(9u) - kj * geom_i(11u);
                if (tx < 0 || tx % sw != 0 || tx / sw >= i32(ow)) {
                    continue;
                }
                let o = (ty / sh) * i32(ow) + tx / sw;
                if (all(indices[ibase + o] == me)) {
                    acc = acc + grad_out[gbase + o];
                }
            }
        }
    }
    grad_in[i] = acc;
}
