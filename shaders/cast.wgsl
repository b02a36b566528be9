// Elementwise dtype conversion over a strided view into a fresh contiguous output:
// dst[i] = CAST(src[view0(i)]). IN/OUT are the device word types of the two dtypes (f32, i32,
// vec2<u32> for int64, u32 for bool and uint8); CAST comes from the `cast` family of ops.txt.
// Bindings: 0 params, 1 src, 2 dst (read_write, contiguous, offset 0).

//!include strided.wgsl
//!include int64.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{IN}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{OUT}}>;

fn convert(x: {{IN}}) -> {{OUT}} {
    return {{CAST}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    dst[i] = convert(src[view_offset(VIEW0, i)]);
}
