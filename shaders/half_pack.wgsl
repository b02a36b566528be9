// A strided view (packed halves of KIND, or f32 rounded to KIND) into fresh contiguous packed
// halves. One invocation per output word, so it writes both halves of its word and no two
// invocations write one word. Bindings: 0 params, 1 src, 2 dst (contiguous, offset 0).

//!include strided.wgsl
//!include half_convert.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{IN}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// The KIND bits of the source element at storage index `e`.
fn load_half(e: u32) -> u32 {
    {{LOAD}}
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = linear_id(wid, nwg, lid);
    let n = numel();
    let i = 2u * j;
    if (i >= n) {
        return;
    }
    var w = load_half(u32(view_offset(VIEW0, i)));
    if (i + 1u < n) {
        w = w | (load_half(u32(view_offset(VIEW0, i + 1u))) << 16u);
    }
    dst[j] = w;
}
