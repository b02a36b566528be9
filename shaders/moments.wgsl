// var_mean over rows, two passes over each row (the mean, then the sum of squared deviations
// from it: numerically sound, and inf/NaN behave as in the CPU kernel). The input's logical
// elements (row-major, view 0) are cut into rows of L = scalar 0 elements; one workgroup per row
// (scalar 1 is the number of rows). Scalar 2: the divisor max(L - correction, 0) as f32 bits.
// Bindings: 0 params, 1 src, 2 var, 3 mean (both contiguous, one value per row).

//!include strided.wgsl
//!include math.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> var_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;

var<workgroup> part: array<f32, {{WG}}>;

// Sum of every invocation's `v` (a fixed tree); every invocation gets the result.
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    part[lid] = v;
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
    workgroupBarrier();
    return total;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let len = scalar(0u);
    let valid = row < scalar(1u);
    let denom = bitcast<f32>(scalar(2u));
    var acc = 0.0;
    if (valid) {
        var j = lid;
        while (j < len) {
            acc = acc + src[view_offset(VIEW0, row * len + j)];
            j = j + {{WG}}u;
        }
    }
    let total = workgroup_sum(lid, acc);
    let mean = select(nan_f32(), total / f32(len), len > 0u);
    var ss = 0.0;
    if (valid) {
        var j = lid;
        while (j < len) {
            let d = src[view_offset(VIEW0, row * len + j)] - mean;
            ss = ss + d * d;
            j = j + {{WG}}u;
        }
    }
    let sq = workgroup_sum(lid, ss);
    if (lid == 0u && valid) {
        var v = sq / denom;
        if (denom == 0.0) {
            // IEEE division by zero, spelled out: WGSL leaves it to the implementation.
            v = select(inf_f32(), nan_f32(), sq == 0.0 || is_nan_f32(sq));
        }
        var_out[row] = v;
        mean_out[row] = mean;
    }
}
