// torch.where: dst[i] = cond[view0(i)] != 0 ? a[view1(i)] : b[view2(i)], broadcasting via strides.
// cond is bool stored as u32. Bindings: 0 params, 1 cond, 2 a, 3 b, 4 dst (contiguous, offset 0).

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> cond: array<u32>;
@group(0) @binding(2) var<storage, read> lhs: array<{{DTYPE}}>;
@group(0) @binding(3) var<storage, read> rhs: array<{{DTYPE}}>;
@group(0) @binding(4) var<storage, read_write> dst: array<{{DTYPE}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let c = cond[view_offset(VIEW0, i)];
    dst[i] = select(rhs[view_offset(VIEW2, i)], lhs[view_offset(VIEW1, i)], c != 0u);
}
