// Max/min with the index of the first extreme (torch.max(x, dim)): NaN wins and its first index
// is returned; among equal values the smaller index wins. The input's logical elements
// (row-major, view 0) are cut into rows of R = scalar 0 elements, each row into K = scalar 2
// segments of C = scalar 1 elements; workgroup w reduces segment w % K of row w / K (scalar 3 is
// the number of rows). Scalar 4 holds flags: bit 0 max (else min); bit 1 the input is a previous
// pass's partials (values in `src`, row indices in `src_idx`, both contiguous); bit 2 write the
// index as int64 words (low, high) instead of one u32.
// Deterministic: each invocation folds its elements in order, then a fixed tree.
// Bindings: 0 params, 1 src (f32), 2 src_idx (u32), 3 dst (f32), 4 dst_idx (u32).

//!include strided.wgsl
//!include math.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> src_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst_idx: array<u32>;

var<workgroup> best_v: array<f32, {{WG}}>;
var<workgroup> best_i: array<u32, {{WG}}>;

// Index of an empty candidate.
const NONE: u32 = 0xffffffffu;

// Whether candidate (v, i) beats the current best (bv, bi).
fn better(v: f32, i: u32, bv: f32, bi: u32, want_max: bool) -> bool {
    if (i == NONE) {
        return false;
    }
    if (bi == NONE) {
        return true;
    }
    if (is_nan_f32(bv)) {
        return is_nan_f32(v) && i < bi;
    }
    if (is_nan_f32(v)) {
        return true;
    }
    if (v == bv) {
        return i < bi;
    }
    return select((v < bv), (v > bv), want_max);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = workgroup_linear(wid, nwg);
    let row_len = scalar(0u);
    let seg = scalar(1u);
    let segs = scalar(2u);
    let rows = scalar(3u);
    let flags = scalar(4u);
    let want_max = (flags & 1u) != 0u;
    let partial_in = (flags & 2u) != 0u;
    let row = w / segs;
    var bv = 0.0;
    var bi = NONE;
    if (row < rows) {
        let start = (w % segs) * seg;
        let end = min(start + seg, row_len);
        var j = start + lid;
        while (j < end) {
            let e = row * row_len + j;
            var v: f32;
            var i: u32;
            if (partial_in) {
                v = src[e];
                i = src_idx[e];
            } else {
                v = src[view_offset(VIEW0, e)];
                i = j;
            }
            if (better(v, i, bv, bi, want_max)) {
                bv = v;
                bi = i;
            }
            j = j + {{WG}}u;
        }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s && better(best_v[lid + s], best_i[lid + s], best_v[lid], best_i[lid], want_max)) {
            best_v[lid] = best_v[lid + s];
            best_i[lid] = best_i[lid + s];
        }
        workgroupBarrier();
        s = s / 2u;
    }
    if (lid == 0u && row < rows) {
        dst[w] = best_v[0];
        if ((flags & 4u) != 0u) {
            dst_idx[2u * w] = best_i[0];
            dst_idx[2u * w + 1u] = 0u;
        } else {
            dst_idx[w] = best_i[0];
        }
    }
}
