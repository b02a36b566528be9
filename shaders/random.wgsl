// Counter-based random numbers on the device: Philox4x32-10 (Salmon et al., SC'11). Element i of
// a draw hashes the counter (i, offset lo, offset hi, 0) under the key (seed lo, seed hi), so a
// draw needs no state on the device, any element can be computed by any thread, and (seed,
// offset) reproduces the draw exactly. The generator advances `offset` once per draw.
// Scalars: 0/1 seed lo/hi, 2/3 offset lo/hi. SAMPLE is an expression of `u: vec4<u32>` (the
// element's four random words) and, for bernoulli, `p` (the probability read through view 0).
// Bindings: 0 params, 1 src (probabilities, or a 1-word dummy), 2 dst (f32, contiguous).

//!include strided.wgsl
//!include int64.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
    let p0 = u32_mul_wide(0xD2511F53u, c.x);
    let p1 = u32_mul_wide(0xCD9E8D57u, c.z);
    return vec4<u32>(p1.y ^ c.y ^ k.x, p1.x, p0.y ^ c.w ^ k.y, p0.x);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        c = philox_round(c, k);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

// A uniform f32 in [0, 1) from the top 24 bits of a word (every value exactly representable).
fn unit(w: u32) -> f32 {
    return f32(w >> 8u) * 5.9604644775390625e-8;
}

// A standard normal by Box-Muller; 1 - unit() is in (0, 1], so the log is finite.
fn normal(u: vec4<u32>) -> f32 {
    let r = sqrt(-2.0 * log(1.0 - unit(u.x)));
    return r * cos(6.283185307179586 * unit(u.y));
}

fn sample(u: vec4<u32>, p: f32) -> f32 {
    return {{SAMPLE}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let u = philox(vec4<u32>(i, scalar(2u), scalar(3u), 0u), vec2<u32>(scalar(0u), scalar(1u)));
    var p = 0.0;
    if ({{HAS_P}}) {
        p = src[view_offset(VIEW0, i)];
    }
    dst[i] = sample(u, p);
}
