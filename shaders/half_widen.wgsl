// A strided view of packed KIND halves into fresh contiguous f32 (exact).
// Bindings: 0 params, 1 src (packed half words), 2 dst (contiguous f32, offset 0).

//!include strided.wgsl
//!include half_convert.wgsl

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let e = u32(view_offset(VIEW0, i));
    dst[i] = bitcast<f32>({{KIND}}_to_f32_bits(half_at(src[e >> 1u], e)));
}
