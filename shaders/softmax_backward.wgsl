// The backward of softmax (dx = y * (g - sum(g * y))) or log_softmax (dx = g - exp(y) * sum(g))
// over rows: one pass for the row sum, one to write. Rows as in softmax.wgsl: L = scalar 0,
// rows = scalar 1, scalar 2 is 1 for log_softmax; g is view 0, y view 1, dst view 2.
// Bindings: 0 params, 1 g, 2 y, 3 dst.

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

var<workgroup> part: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let len = scalar(0u);
    let valid = row < scalar(1u);
    let log_in = scalar(2u) != 0u;
    let base = row * len;
    var acc = 0.0;
    if (valid) {
        for (var j = lid; j < len; j = j + {{WG}}u) {
            let gv = g[view_offset(VIEW0, base + j)];
            if (log_in) {
                acc = acc + gv;
            } else {
                acc = acc + gv * y[view_offset(VIEW1, base + j)];
            }
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s) {
            part[lid] = part[lid] + part[lid + s];
        }
        workgroupBarrier();
        s = s / 2u;
    }
    let total = part[0];
    if (valid) {
        for (var j = lid; j < len; j = j + {{WG}}u) {
            let gv = g[view_offset(VIEW0, base + j)];
            let yv = y[view_offset(VIEW1, base + j)];
            var dx: f32;
            if (log_in) {
                dx = gv - exp(yv) * total;
            } else {
                dx = yv * (gv - total);
            }
            dst[view_offset(VIEW2, base + j)] = dx;
        }
    }
}
