// Row reduction: the input's logical elements (row-major over its shape, read through view 0) are
// cut into rows of scalar 0 (= L) elements; row r covers [r*L, min((r+1)*L, numel)). One workgroup
// per row writes dst[r] = OP-fold of the row. Scalar 1 is the number of rows.
// Deterministic: invocation t folds elements t, t+WG, t+2*WG, ... in order, then a fixed tree.
// Reducing the last dim is L = shape[-1]; reducing everything is repeated passes with a fixed L.
// Bindings: 0 params, 1 src, 2 dst (contiguous, offset 0). WG must be a power of two.

//!include strided.wgsl
//!include math.wgsl
//!include int64.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{DTYPE}}>;

var<workgroup> partial: array<{{DTYPE}}, {{WG}}>;

fn combine(a: {{DTYPE}}, b: {{DTYPE}}) -> {{DTYPE}} {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let row_len = scalar(0u);
    let rows = scalar(1u);
    var acc: {{DTYPE}} = {{INIT}};
    if (row < rows) {
        let start = row * row_len;
        let end = min(start + row_len, numel());
        var i = start + lid;
        while (i < end) {
            acc = combine(acc, src[view_offset(VIEW0, i)]);
            i = i + {{WG}}u;
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    var s = {{WG}}u / 2u;
    while (s > 0u) {
        if (lid < s) {
            partial[lid] = combine(partial[lid], partial[lid + s]);
        }
        workgroupBarrier();
        s = s / 2u;
    }
    if (lid == 0u && row < rows) {
        dst[row] = partial[0];
    }
}
