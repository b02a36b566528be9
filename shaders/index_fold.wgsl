// One step of advanced indexing's linear index: lin[i] = lin[i] * size + resolve(idx[view0(i)])
// (lin = resolve(...) on the first step), negative indices counting from the end. lin holds int64
// words (lo, hi = 0); the host has checked the product of the sizes fits in 31 bits. Scalars:
// 0 size, 1 first step (0/1), 2 error code, 3 dim (for the message). A bad index counts as 0 and
// is reported. Bindings: 0 params, 1 idx, 2 lin (contiguous), 3 err.

//!include strided.wgsl
//!include index.wgsl

@group(0) @binding(1) var<storage, read> idx: array<{{IDX_T}}>;
@group(0) @binding(2) var<storage, read_write> lin: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let size = scalar(0u);
    let w = index_words(view_offset(VIEW0, i));
    var r = resolve(w, size, true);
    if (r < 0) {
        report(scalar(2u), w, scalar(3u), size);
        r = 0;
    }
    var prev = 0u;
    if (scalar(1u) == 0u) {
        prev = lin[i].x * size;
    }
    lin[i] = vec2<u32>(prev + u32(r), 0u);
}
