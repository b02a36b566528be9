// Average pooling backward in gather form: one invocation per input element (plane, iy, ix),
// row-major over [planes, H, W] (numel = all of them), adds grad_out / divisor of every output
// whose clipped window holds it, in ascending output order (the CPU kernel's scatter order).
// Geometry words: pool_window.wgsl (word 14 is grad_out's offset). Bindings: 0 params,
// 1 grad_out, 2 grad_in.

//!include strided.wgsl
//!include geometry.wgsl
//!include pool_window.wgsl

@group(0) @binding(1) var<storage, read> grad_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<f32>;

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
    let gbase = geom_i(14u) + i32(plane * oh * ow);
    // Candidate outputs [oy0, oy1) x [ox0, ox1); each is checked against its clipped window.
    var oy0 = 0u;
    var oy1 = 0u;
    var ox0 = 0u;
    var ox1 = 0u;
    if (adaptive()) {
        oy0 = adaptive_first(iy, h, oh);
        oy1 = adaptive_last(iy, h, oh);
        ox0 = adaptive_first(ix, w, ow);
        ox1 = adaptive_last(ix, w, ow);
    } else {
        // Window oy starts at oy*SH - PH and spans KH rows.
        let sh = geom_i(6u);
        let sw = geom_i(7u);
        let ty = i32(iy) + geom_i(8u);
        let tx = i32(ix) + geom_i(9u);
        let fy = ty - geom_i(4u);
        let fx = tx - geom_i(5u);
        oy0 = select(0u, u32(fy / sh + 1), fy >= 0);
        ox0 = select(0u, u32(fx / sw + 1), fx >= 0);
        oy1 = min(u32(ty / sh + 1), oh);
        ox1 = min(u32(tx / sw + 1), ow);
    }
    let y = i32(iy);
    let x = i32(ix);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy = oy + 1u) {
        for (var ox = ox0; ox < ox1; ox = ox + 1u) {
            let win = avg_window(oy, ox);
            if (y >= win.bounds.x && y < win.bounds.y && x >= win.bounds.z && x < win.bounds.w) {
                acc = acc + grad_out[gbase + i32(oy * ow + ox)] / win.divisor;
            }
        }
    }
    grad_in[i] = acc;
}
