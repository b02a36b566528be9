// Fill a (possibly strided) view with one value: dst[view0(i)] = bits of scalar 0.
// DTYPE is the storage word type (u32 for every 4-byte dtype: the value arrives as its bits).
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
    dst[view_offset(VIEW0, i)] = bitcast<{{DTYPE}}>(scalar(0u));
}
