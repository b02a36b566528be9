// torch.all / torch.any over rows: 1 where every (some) element is nonzero. Elements are 32-bit
// words (float32, int32, bool and uint8 on the device); an element is nonzero when
// (word & scalar 5) != 0 (0x7fffffff for float32, so -0.0 is zero and NaN is nonzero).
// Rows and segments as in argreduce.wgsl: rows of R = scalar 0 elements (view 0), K = scalar 2
// segments of C = scalar 1 per row, scalar 3 rows; workgroup w writes segment w % K of row w / K.
// Scalar 4: 1 for all, 0 for any. A later pass reads the 0/1 partials with mask 0xffffffff.
// An empty row gives 1 for all and 0 for any.
// Bindings: 0 params, 1 src (u32 words), 2 dst (u32 0/1, contiguous).

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

var<workgroup> part: array<u32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = workgroup_linear(wid, nwg);
    let row_len = scalar(0u);
    let seg = scalar(1u);
    let segs = scalar(2u);
    let rows = scalar(3u);
    let want_all = scalar(4u) != 0u;
    let mask = scalar(5u);
    let row = w / segs;
    var acc = select(0u, 1u, want_all);
    if (row < rows) {
        let start = (w % segs) * seg;
        let end = min(start + seg, row_len);
        var j = start + lid;
        while (j < end) {
            let nz = select(0u, 1u, (src[view_offset(VIEW0, row * row_len + j)] & mask) != 0u);
            acc = select(acc | nz, acc & nz, want_all);
            j = j + {{WG}}u;
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s) {
            part[lid] = select(part[lid] | part[lid + s], part[lid] & part[lid + s], want_all);
        }
        workgroupBarrier();
        s = s / 2u;
    }
    if (lid == 0u && row < rows) {
        dst[w] = part[0];
    }
}
