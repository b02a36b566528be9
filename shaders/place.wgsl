// The gradient of max/min along a dim: out[i] = g[view0(i)] where i's position along the dim
// equals the index idx[view1(i)], else 0. The logical shape is the input's; g and idx are viewed
// broadcast along the dim (stride 0). Scalar 0: elements after the dim (inner), scalar 1: the
// dim's size. idx is int64 (two u32 words, low first): a negative or huge index matches nothing.
// Bindings: 0 params, 1 g (f32), 2 idx (u32 pairs), 3 dst (f32, contiguous).

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let pos = (i / scalar(0u)) % scalar(1u);
    let o = 2u * u32(view_offset(VIEW1, i));
    let hit = idx[o + 1u] == 0u && idx[o] == pos;
    dst[i] = select(0.0, g[view_offset(VIEW0, i)], hit);
}
