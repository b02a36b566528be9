// Elementwise unary op over a strided view into a fresh contiguous output: dst[i] = OP(src[view0(i)]).
// Bindings: 0 params, 1 src, 2 dst (read_write, contiguous, offset 0).

//!include strided.wgsl
//!include math.wgsl
//!include int64.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{DTYPE}}>;

fn op(x: {{DTYPE}}) -> {{DTYPE}} {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    dst[i] = op(src[view_offset(VIEW0, i)]);
}
