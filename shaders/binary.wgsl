// Elementwise binary op (arithmetic or comparison) with broadcasting through strides (stride 0):
// dst[i] = OP(a[view0(i)], b[view1(i)]). OUT is DTYPE for arithmetic, u32 for comparisons.
// Bindings: 0 params, 1 a, 2 b, 3 dst (read_write, contiguous, offset 0).

//!include strided.wgsl
//!include math.wgsl
//!include int64.wgsl

@group(0) @binding(1) var<storage, read> lhs: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read> rhs: array<{{DTYPE}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{OUT}}>;

fn op(a: {{DTYPE}}, b: {{DTYPE}}) -> {{OUT}} {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    dst[i] = op(lhs[view_offset(VIEW0, i)], rhs[view_offset(VIEW1, i)]);
}
