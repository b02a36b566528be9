// Strided copy between views of the same shape: dst[view1(i)] = src[view0(i)].
// DTYPE is the storage word type (u32 copies any 4-byte dtype bit for bit).
// Bindings: 0 params, 1 src, 2 dst (read_write; a different buffer from src).

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{DTYPE}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    dst[view_offset(VIEW1, i)] = src[view_offset(VIEW0, i)];
}
