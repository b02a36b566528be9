// Scatter along one dim (scatter, scatter_add, index_add, and their backward rules), in place on
// dst. One invocation per *column*: a position of the index shape with the scattered dim taken
// out (the logical shape has size 1 there). It walks the scattered dim in index order,
//   dst[view0(c) + dst_stride * resolve(idx[view2(c) + j * idx_stride])]
//       = OP(that element, src[view1(c) + j * src_stride])      for j = 0 .. len-1,
// so duplicates combine in the same order as on the CPU, with no atomics: two columns never
// write the same element (they differ outside the scattered dim). Scalars: 0 len, 1 dst stride,
// 2 src stride, 3 idx stride (i32 bits), 4 size of dst's scattered dim, 5 error code, 6 dim.
// A bad index is skipped and reported. OP combines `a` (dst) and `b` (src): ops.txt `scatter`.
// Bindings: 0 params, 1 src, 2 idx, 3 dst (a different buffer from src), 4 err.

//!include strided.wgsl
//!include index.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read> idx: array<{{IDX_T}}>;
@group(0) @binding(3) var<storage, read_write> dst: array<{{DTYPE}}>;
@group(0) @binding(4) var<storage, read_write> err: array<atomic<u32>>;

// int64 addition on (lo, hi) words, wrapping like two's complement.
fn add_i64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn combine(a: {{DTYPE}}, b: {{DTYPE}}) -> {{DTYPE}} {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let c = linear_id(wid, nwg, lid);
    if (c >= numel()) {
        return;
    }
    let len = scalar(0u);
    let dst_stride = bitcast<i32>(scalar(1u));
    let src_stride = bitcast<i32>(scalar(2u));
    let idx_stride = bitcast<i32>(scalar(3u));
    let size = scalar(4u);
    let d0 = view_offset(VIEW0, c);
    let s0 = view_offset(VIEW1, c);
    let i0 = view_offset(VIEW2, c);
    for (var j = 0u; j < len; j = j + 1u) {
        let w = index_words(i0 + i32(j) * idx_stride);
        let r = resolve(w, size, false);
        if (r < 0) {
            report(scalar(5u), w, scalar(6u), size);
            continue;
        }
        let p = d0 + r * dst_stride;
        dst[p] = combine(dst[p], src[s0 + i32(j) * src_stride]);
    }
}
