// Gradient of y = cumprod(x) along rows of scalar 0 (= n) elements (the dim last in the logical
// shape): for position i of a row,
//   dst[i] = sum_{j >= i} g[j] * prod_{k <= j, k != i} x[k],
// by its definition, so zeros in x need no special case (the CPU divides by x where it can).
// One invocation per element, O(n) each. Views: 0 x, 1 g, 2 dst.
// Bindings: 0 params, 1 x, 2 g, 3 dst.

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> gs: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid);
    if (e >= numel()) {
        return;
    }
    let n = scalar(0u);
    let i = e % n;
    let base = e - i;
    var p = 1.0;
    for (var k = 0u; k < i; k = k + 1u) {
        p = p * xs[view_offset(VIEW0, base + k)];
    }
    var total = gs[view_offset(VIEW1, e)] * p;
    for (var j = i + 1u; j < n; j = j + 1u) {
        p = p * xs[view_offset(VIEW0, base + j)];
        total = total + gs[view_offset(VIEW1, base + j)] * p;
    }
    dst[view_offset(VIEW2, e)] = total;
}
