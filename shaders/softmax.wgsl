// softmax / log_softmax over rows, max-subtracted: one pass for the row max, one for the sum of
// exp(x - max), one to write. As the CPU kernel: a row of -inf shifts by 0 (its softmax is NaN),
// a +inf or NaN max makes the row NaN. The input's logical elements (row-major, view 0) are cut
// into rows of L = scalar 0 elements; one workgroup per row (scalar 1 is the number of rows);
// scalar 2 is 1 for log_softmax. Results go to dst through view 1 (so the dim need not be last).
// Bindings: 0 params, 1 src, 2 dst.

//!include strided.wgsl
//!include math.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> part: array<f32, {{WG}}>;

// Max (NaN-propagating) or sum of every invocation's `v`; every invocation gets the result.
fn workgroup_fold(lid: u32, v: f32, is_max: bool) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s) {
            let a = part[lid];
            let b = part[lid + s];
            part[lid] = select(a + b, maximum_f32(a, b), is_max);
        }
        workgroupBarrier();
        s = s / 2u;
    }
    let total = part[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let len = scalar(0u);
    let valid = row < scalar(1u);
    let log_out = scalar(2u) != 0u;
    let base = row * len;
    var m = neg_inf_f32();
    if (valid) {
        for (var j = lid; j < len; j = j + {{WG}}u) {
            m = maximum_f32(m, src[view_offset(VIEW0, base + j)]);
        }
    }
    m = workgroup_fold(lid, m, true);
    if (m == neg_inf_f32()) {
        m = 0.0;
    }
    var s = 0.0;
    if (valid) {
        for (var j = lid; j < len; j = j + {{WG}}u) {
            s = s + exp(src[view_offset(VIEW0, base + j)] - m);
        }
    }
    s = workgroup_fold(lid, s, false);
    let lse = m + log(s);
    if (valid) {
        for (var j = lid; j < len; j = j + {{WG}}u) {
            let x = src[view_offset(VIEW0, base + j)];
            var y: f32;
            if (log_out) {
                y = x - lse;
            } else {
                y = exp(x - m) / s;
            }
            dst[view_offset(VIEW1, base + j)] = y;
        }
    }
}
