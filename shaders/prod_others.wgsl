// prod's gradient factor: for each element, the product of the other elements of its row
// (exclusive prefix product times exclusive suffix product, so zeros need no division). The
// input's logical elements (row-major, view 0) are cut into rows of L = scalar 0 elements; one
// workgroup per row (scalar 1 is the number of rows); results go to dst through view 1.
// Rows are walked in tiles of WG elements with a scan per tile; each invocation owns the same
// slot of every tile in both passes, so it reads back only what it wrote itself.
// Bindings: 0 params, 1 src, 2 dst.

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> scan: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let len = scalar(0u);
    let valid = row < scalar(1u);
    let tiles = (len + {{WG}}u - 1u) / {{WG}}u;
    // Forward: dst = product of everything before the element.
    var carry = 1.0;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let j = t * {{WG}}u + lid;
        var v = 1.0;
        if (valid && j < len) {
            v = src[view_offset(VIEW0, row * len + j)];
        }
        scan[lid] = v;
        workgroupBarrier();
        // Inclusive product scan (Hillis-Steele).
        for (var off = 1u; off < {{WG}}u; off = off * 2u) {
            var other = 1.0;
            if (lid >= off) {
                other = scan[lid - off];
            }
            workgroupBarrier();
            scan[lid] = scan[lid] * other;
            workgroupBarrier();
        }
        var before = 1.0;
        if (lid > 0u) {
            before = scan[lid - 1u];
        }
        if (valid && j < len) {
            dst[view_offset(VIEW1, row * len + j)] = carry * before;
        }
        carry = carry * scan[{{WG}}u - 1u];
        workgroupBarrier();
    }
    // Backward: multiply in the product of everything after the element.
    carry = 1.0;
    for (var t = tiles; t > 0u; t = t - 1u) {
        let j = (t - 1u) * {{WG}}u + lid;
        var v = 1.0;
        if (valid && j < len) {
            v = src[view_offset(VIEW0, row * len + j)];
        }
        scan[lid] = v;
        workgroupBarrier();
        // Inclusive product scan from the end of the tile.
        for (var off = 1u; off < {{WG}}u; off = off * 2u) {
            var other = 1.0;
            if (lid + off < {{WG}}u) {
                other = scan[lid + off];
            }
            workgroupBarrier();
            scan[lid] = scan[lid] * other;
            workgroupBarrier();
        }
        var after = 1.0;
        if (lid + 1u < {{WG}}u) {
            after = scan[lid + 1u];
        }
        if (valid && j < len) {
            let o = view_offset(VIEW1, row * len + j);
            dst[o] = dst[o] * (carry * after);
        }
        carry = carry * scan[0];
        workgroupBarrier();
    }
}
