// Fill a (possibly strided) view with one value: dst[view0(i)] = VALUE, built from the scalar
// words. DTYPE is the storage word type: u32 for every 4-byte dtype (VALUE `scalar(0u)`, the
// value's bits) and vec2<u32> for int64 (VALUE `vec2<u32>(scalar(0u), scalar(1u))`).
// Bindings: 0 params, 1 dst (read_write).

//!include strided.wgsl

@group(0) @binding(1) var<storage, read_write> dst: array<{{DTYPE}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    dst[view_offset(VIEW0, i)] = {{VALUE}};
}
