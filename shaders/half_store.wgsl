// dst[view1(i)] = src[view0(i)] for a half destination with any strides and offset (copy_ into
// a half view, fill_). Neighbouring halves share a word, so each invocation replaces only its
// 16 bits with two atomics (clear, then set); the other half of the word is never disturbed.
// Bindings: 0 params, 1 src (packed halves of KIND, or f32 rounded to KIND), 2 dst (a different
// buffer).

//!include strided.wgsl
//!include half_convert.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{IN}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<atomic<u32>>;

fn load_half(e: u32) -> u32 {
    {{LOAD}}
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let bits = load_half(u32(view_offset(VIEW0, i)));
    let d = u32(view_offset(VIEW1, i));
    let shift = (d & 1u) * 16u;
    atomicAnd(&dst[d >> 1u], ~(0xffffu << shift));
    atomicOr(&dst[d >> 1u], bits << shift);
}
