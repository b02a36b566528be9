// Gather along one dim (index_select, gather, embedding, advanced indexing after folding):
//   dst[i] = src[view0(i) + stride * resolve(idx[view1(i)])]
// over the output's logical elements. View 0 walks src with the gathered dim's stride set to 0,
// view 1 walks the index (broadcast with stride 0 where the op reuses one index). Scalars:
// 0 stride (i32 bits) of the gathered dim in src, 1 its size, 2 wrap negatives (0/1),
// 3 error code, 4 dim (for the message). A bad index writes zero and is reported.
// DTYPE is the storage word (u32 for 4-byte dtypes, vec2<u32> for int64): a gather copies bits.
// Bindings: 0 params, 1 src, 2 idx, 3 dst (contiguous, offset 0), 4 err.

//!include strided.wgsl
//!include index.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read> idx: array<{{IDX_T}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{DTYPE}}>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= numel()) {
        return;
    }
    let w = index_words(view_offset(VIEW1, i));
    let r = resolve(w, scalar(1u), scalar(2u) != 0u);
    if (r < 0) {
        report(scalar(3u), w, scalar(4u), scalar(1u));
        dst[i] = {{DTYPE}}();
        return;
    }
    dst[i] = src[view_offset(VIEW0, i) + r * bitcast<i32>(scalar(0u))];
}
