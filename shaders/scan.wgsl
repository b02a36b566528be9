// Inclusive scan (cumsum / cumprod) of rows: the logical elements (row-major over the shape, the
// scanned dim last) are cut into rows of scalar 0 (= n) elements; one workgroup per row, scalar 1
// rows. Invocation t owns the contiguous chunk [t*c, (t+1)*c) of its row (c = ceil(n / WG)): it
// folds its chunk, the workgroup scans the WG chunk totals (Hillis-Steele, fixed order), then
// each invocation rescans its chunk from its prefix and writes. Deterministic: the combining
// order depends only on n. Scalar 2 = 1 scans from the end of each row (the cumsum gradient).
// View 0 reads src, view 1 writes dst (any strides: the output keeps the input's dim order).
// OP / INIT: ops.txt `scan` / `scan_init`. Bindings: 0 params, 1 src, 2 dst.

//!include strided.wgsl

@group(0) @binding(1) var<storage, read> src: array<{{DTYPE}}>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{DTYPE}}>;

var<workgroup> part: array<{{DTYPE}}, {{WG}}>;

fn combine(a: {{DTYPE}}, b: {{DTYPE}}) -> {{DTYPE}} {
    return {{OP}};
}

// Logical element of position p of row `row` (reversed rows read from the end).
fn element(row: u32, p: u32, n: u32) -> u32 {
    if (scalar(2u) != 0u) {
        return row * n + (n - 1u - p);
    }
    return row * n + p;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = workgroup_linear(wid, nwg);
    let n = scalar(0u);
    let live = row < scalar(1u);
    let chunk = (n + {{WG}}u - 1u) / {{WG}}u;
    let start = min(lid * chunk, n);
    let end = min(start + chunk, n);
    var acc: {{DTYPE}} = {{INIT}};
    if (live) {
        for (var p = start; p < end; p = p + 1u) {
            acc = combine(acc, src[view_offset(VIEW0, element(row, p, n))]);
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var off = 1u; off < {{WG}}u; off = off * 2u) {
        var v: {{DTYPE}} = {{INIT}};
        if (lid >= off) {
            v = part[lid - off];
        }
        workgroupBarrier();
        part[lid] = combine(v, part[lid]);
        workgroupBarrier();
    }
    var run: {{DTYPE}} = {{INIT}};
    if (lid > 0u) {
        run = part[lid - 1u];
    }
    if (live) {
        for (var p = start; p < end; p = p + 1u) {
            let e = element(row, p, n);
            run = combine(run, src[view_offset(VIEW0, e)]);
            dst[view_offset(VIEW1, e)] = run;
        }
    }
}
